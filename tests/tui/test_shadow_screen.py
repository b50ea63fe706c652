"""ShadowScreen sends only changed cells, and the terminal ends up showing the same."""

from __future__ import annotations

from tui.shadow_screen import Look, ShadowScreen, apply_sgr, transition

RED_ON_BLUE = "\x1b[1;38;2;255;0;0;48;2;0;0;255m"


def frame(*lines: str, cursor: str = "\x1b[1;1H") -> str:
    """A frame as Textual writes it: each line after a cursor position, the cursor last."""
    return "".join(f"\x1b[{y};1H{line}" for y, line in enumerate(lines, start=1)) + cursor


def test_a_repeated_frame_sends_nothing() -> None:
    shadow = ShadowScreen(10, 3)
    first = frame(f"{RED_ON_BLUE}hello\x1b[0m", "world")
    assert "hello" in shadow.render(first)
    assert shadow.render(first) == ""


def test_only_the_changed_cells_go_out_in_one_colour_escape() -> None:
    shadow = ShadowScreen(20, 2)
    shadow.render(frame("abcdefghijklmnop", "second line"))
    sent = shadow.render(frame("abcdefghijklmnoX", "second line"))
    assert sent == "\x1b[1;16HX\x1b[1;1H"


def test_spaces_of_the_same_background_need_no_new_colour() -> None:
    shadow = ShadowScreen(12, 1)
    text = "\x1b[38;2;1;1;1;48;2;9;9;9mab\x1b[0m\x1b[38;2;2;2;2;48;2;9;9;9m    \x1b[0m"
    sent = shadow.render(frame(text))
    assert sent == "\x1b[1;1H\x1b[38;2;1;1;1;48;2;9;9;9mab    \x1b[0m\x1b[1;1H"


def test_a_clear_is_passed_on_and_the_next_frame_goes_whole() -> None:
    shadow = ShadowScreen(10, 2)
    shown = frame("hello")
    shadow.render(shown)
    assert shadow.render("\x1b[2J") == "\x1b[2J"
    assert "hello" in shadow.render(shown)


def test_a_half_overwritten_wide_character_is_passed_on_as_written() -> None:
    shadow = ShadowScreen(10, 1)
    shadow.render(frame("日本"))
    cut = "\x1b[1;2Hx\x1b[1;1H"  # the right half of 日
    assert shadow.render(cut) == cut
    assert "日本" in shadow.render(frame("日本"))


def test_a_changed_wide_character_is_sent_whole() -> None:
    shadow = ShadowScreen(10, 1)
    shadow.render(frame("日本"))
    sent = shadow.render(frame("日木"))
    assert sent == "\x1b[1;3H木\x1b[1;1H"


def test_modes_and_titles_pass_unchanged_and_keep_the_shadow() -> None:
    shadow = ShadowScreen(10, 1)
    shadow.render(frame("hello"))
    for neutral in ("\x1b[?25l", "\x1b[?2026h", "\x1b]22;default\x07", "\x1b[>25u"):
        assert shadow.render(neutral) == neutral
    assert shadow.render(frame("hello")) == ""


def test_the_alternate_screen_forgets_what_was_shown() -> None:
    shadow = ShadowScreen(10, 1)
    shadow.render(frame("hello"))
    assert shadow.render("\x1b[?1049h") == "\x1b[?1049h"
    assert "hello" in shadow.render(frame("hello"))


def test_sgr_state_follows_resets_and_partial_changes() -> None:
    bold_red = apply_sgr(Look(), "1;31")
    assert bold_red == Look(frozenset({"1"}), "31")
    assert apply_sgr(bold_red, "22;39") == Look()
    assert transition(bold_red, Look(frozenset({"1"}), "32")) == "\x1b[32m"
    assert transition(bold_red, Look()) == "\x1b[0m"

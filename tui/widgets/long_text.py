"""Long help text (the keyring's remedies) laid out once: hard-wrapped prose is joined into
paragraphs the screen wraps to its width, and command lines are kept whole, as written."""

from __future__ import annotations

from rich.text import Text
from textual.containers import ScrollableContainer

BULLET = "- "


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def reflow(message: str, style: str = "") -> Text:
    """``message`` with its prose lines joined: a line indented like the text of the line
    before continues it; a line indented deeper is a command, kept on a line of its own."""
    out: list[str] = []
    text_indent: int | None = None  # where the prose of the current paragraph starts
    in_command = False
    for index, line in enumerate(message.splitlines()):
        indent = _indent(line)
        body = line.strip()
        if not body:
            out.append("")
            text_indent, in_command = None, False
            continue
        is_bullet = body.startswith(BULLET)
        if text_indent is not None and not is_bullet and indent > text_indent:
            out.append(line)  # a command: whole, with its indentation
            in_command = True
            continue
        same = text_indent is not None and indent == text_indent
        # Line 0 says what went wrong; the help starts on a line of its own below it.
        if same and not is_bullet and not in_command and index > 1:
            out[-1] += " " + body
            continue
        out.append(line)
        text_indent = indent + (len(BULLET) if is_bullet else 0)
        in_command = False
    return Text("\n".join(out), style=style)


def scroll_by(container: ScrollableContainer, how: str) -> None:
    """Scroll ``container`` one step of ``how``: up, down, page_up, page_down, home or end."""
    moves = {
        "up": container.scroll_up,
        "down": container.scroll_down,
        "page_up": container.scroll_page_up,
        "page_down": container.scroll_page_down,
        "home": container.scroll_home,
        "end": container.scroll_end,
    }
    moves[how](animate=False)

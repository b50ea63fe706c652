"""The keyring's help (remedies with dbus-run-session commands) reads from the keyboard, laid
out once: prose joined into paragraphs, commands whole, and not repeated."""

from __future__ import annotations

from keyring.backends import fail
from textual.containers import VerticalScroll
from textual.widgets import Static

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    Rundeck,
    iam_world_fixture,
    rundeck_fixture,
)
from tests.tui.test_rotate_screen import finish, open_rotate, plain, services_for
from tui.app import WizardApp
from tui.core.keystore import KeyStore
from tui.widgets.long_text import reflow


def test_reflow_joins_prose_and_keeps_commands() -> None:
    message = (
        "No usable keyring.\n"
        "Either:\n"
        "  - use GNOME Keyring. A desktop session\n"
        "    has one; start both for one shell:\n"
        "        dbus-run-session -- bash\n"
        "    The first time, this creates\n"
        "    the login keyring.\n"
        "Done."
    )
    assert reflow(message).plain.splitlines() == [
        "No usable keyring.",
        "Either:",
        "  - use GNOME Keyring. A desktop session has one; start both for one shell:",
        "        dbus-run-session -- bash",
        "    The first time, this creates the login keyring.",
        "Done.",
    ]


async def test_the_keyring_help_on_rotate_scrolls_from_the_keyboard_and_shows_once(
    rundeck: Rundeck,
) -> None:
    services = services_for(rundeck)
    app = WizardApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rotate(app, pilot)
        # The keyring goes away (an SSH session without D-Bus): keyring falls back to this.
        services.keystore = lambda: KeyStore(fail.Keyring())
        await pilot.press("enter")
        screen = await finish(app, pilot)
        body = screen.query_one(".body", VerticalScroll)
        assert body.max_scroll_y > 0
        await pilot.press("home")
        await pilot.pause()
        assert body.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert body.scroll_y > 0
        await pilot.press("home", "down")
        await pilot.pause()
        assert body.scroll_y == 1
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y
        shown = plain(screen.query_one("#rotate-steps", Static)) + plain(
            screen.query_one("#rotate-outcome", Static)
        )
        assert shown.count("dbus-run-session") == 1  # the help, once
        assert "A desktop session has one" in shown  # one paragraph, not the source's lines


async def test_a_rotation_stopped_by_the_keyring_claims_nothing_it_did_not_check(
    rundeck: Rundeck,
) -> None:
    services = services_for(rundeck)
    app = WizardApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rotate(app, pilot)
        services.keystore = lambda: KeyStore(fail.Keyring())
        await pilot.press("enter")
        screen = await finish(app, pilot)
        assert all(step.status.finished for step in screen.steps.values()), screen.steps
        steps = plain(screen.query_one("#rotate-steps", Static))
        assert "…" not in steps.replace("AKIA…", "")  # no step left "running"
        assert "not finished" in steps
        outcome = plain(screen.query_one("#rotate-outcome", Static))
        assert "holds the secret of" not in outcome
        assert f"{rundeck.target().key_path} could not be read" in outcome

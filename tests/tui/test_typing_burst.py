"""Keys typed faster than the app handles them still reach the field that had the focus when
they were typed, in order; a secret never shows in a plain field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    Rundeck,
    iam_world_fixture,
    rundeck_fixture,
)
from tests.tui.burst import burst, drain
from tests.tui.test_flows import KEY_ID, SECRET, settle
from tests.tui.test_manual_rotate_screen import open_manual
from tests.tui.test_rotate_screen import services_for
from tui.app import WizardApp
from tui.screens.details import DetailsScreen
from tui.screens.scope import ScopeScreen


async def open_details(app: WizardApp, pilot: Pilot[Any]) -> DetailsScreen:
    """Nothing detected, the access key method, system scope: Details, focus in the key id."""
    await settle(app, pilot)
    await pilot.press("enter")  # Detect → Method, the access key recommended
    await pilot.pause()
    await pilot.press("home", "down", "down", "enter")
    await pilot.pause()
    await pilot.press("ctrl+n")  # Permissions: nothing ticked
    await pilot.pause()
    assert isinstance(app.screen, ScopeScreen)
    await pilot.press("ctrl+n")
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, DetailsScreen)
    screen.query_one("#access-key-id", Input).focus()
    await pilot.pause()
    return screen


def shown(app: WizardApp) -> str:
    return app.export_screenshot()


async def test_details_id_tab_secret_in_one_burst(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        burst(app, *KEY_ID, "tab", *SECRET)
        await drain(app, pilot)
        assert screen.query_one("#access-key-id", Input).value == KEY_ID
        assert screen.query_one("#secret", Input).value == SECRET
        assert app.focused is screen.query_one("#secret", Input)
        assert SECRET not in shown(app) and SECRET[:12] not in shown(app)


async def test_edits_in_a_burst_apply_in_the_order_typed(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    """Backspace and the cursor keys are bindings; they act where and when they were typed."""
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        keys = [*KEY_ID[:-1], "X", "backspace", KEY_ID[-1], "home", "right", "delete", KEY_ID[1]]
        burst(app, *keys, "tab", *SECRET[:-2], "backspace", *SECRET[-3:])
        await drain(app, pilot)
        assert screen.query_one("#access-key-id", Input).value == KEY_ID
        assert screen.query_one("#secret", Input).value == SECRET


async def test_a_secret_in_a_plain_field_is_masked(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    """Pasted into the key id by mistake, the secret is hidden there too (and the key id,
    a plain field, shows again once the secret is gone)."""
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        key_id = screen.query_one("#access-key-id", Input)
        burst(app, *SECRET)
        await drain(app, pilot)
        assert key_id.value == SECRET
        assert SECRET not in shown(app) and SECRET[:12] not in shown(app)
        assert app.radioactive.get("masked:access-key-id") == SECRET  # redacted from crashes
        key_id.value = KEY_ID
        await pilot.pause()
        assert KEY_ID in shown(app)


async def test_a_tab_separated_paste_fills_both_fields(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    from textual import events

    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        paste = events.Paste(f"{KEY_ID}\t{SECRET}")
        paste.set_sender(app)
        app.post_message(paste)
        await drain(app, pilot)
        assert screen.query_one("#access-key-id", Input).value == KEY_ID
        assert screen.query_one("#secret", Input).value == SECRET
        assert SECRET not in shown(app)


async def test_paste_a_new_key_id_tab_secret_in_one_burst(rundeck: Rundeck) -> None:
    new, new_secret = rundeck.world.create_key()
    secret = new_secret.reveal()
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manual(app, pilot)
        burst(app, *new, "tab", *secret)
        await drain(app, pilot)
        assert screen.query_one("#access-key-id", Input).value == new
        assert screen.query_one("#secret", Input).value == secret
        assert secret not in shown(app) and secret[:12] not in shown(app)


async def test_paste_a_new_key_id_enter_secret_in_one_burst(rundeck: Rundeck) -> None:
    """Enter in the key id moves on to the secret; what follows it in the burst goes there."""
    new, new_secret = rundeck.world.create_key()
    secret = new_secret.reveal()
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manual(app, pilot)
        burst(app, *new, "enter", *secret, "enter")
        await drain(app, pilot)
        assert screen.query_one("#access-key-id", Input).value == new
        assert screen.query_one("#secret", Input).value == secret
        assert app.focused is not None and app.focused.id == "old-key"
        assert secret not in shown(app)

"""Paste a new key, driven by keys from Status, against moto's IAM/STS (signatures checked), the
real gnome-keyring and the Java reader; the pasted secret is never on screen unless revealed.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    Rundeck,
    iam_world_fixture,
    rundeck_fixture,
)
from tests.tui.test_rotate_screen import plain, services_for, until
from tui.app import WizardApp
from tui.screens.manual_rotate import ManualRotateScreen
from tui.screens.status import StatusScreen


def manual_screen(app: WizardApp) -> ManualRotateScreen:
    assert isinstance(app.screen, ManualRotateScreen), app.screen
    return app.screen


def assert_hidden(app: WizardApp, secret: str) -> None:
    shown = app.export_screenshot()
    assert secret not in shown and secret[:10] not in shown and secret[-10:] not in shown


async def open_manual(app: WizardApp, pilot: Pilot[Any]) -> ManualRotateScreen:
    await until(pilot, lambda: isinstance(app.screen, StatusScreen), "the Status screen")
    status = app.screen
    assert isinstance(status, StatusScreen)
    await until(pilot, lambda: status.selected_entry() is not None, "Status to read the files")
    await pilot.press("m")
    await until(pilot, lambda: isinstance(app.screen, ManualRotateScreen), "Paste a new key")
    await pilot.pause()
    return manual_screen(app)


@pytest.mark.parametrize(
    ("keys", "old_state"),
    [((), "Inactive"), (("down", "enter"), None)],
    ids=["deactivate-old", "delete-old"],
)
async def test_a_pasted_key_is_verified_then_switched_in(
    rundeck: Rundeck, keys: tuple[str, ...], old_state: str | None
) -> None:
    old = rundeck.configured_key()
    new, new_secret = rundeck.world.create_key()
    secret = new_secret.reveal()
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manual(app, pilot)
        assert app.focused is not None and app.focused.id == "access-key-id"
        await pilot.press(*new, "enter")
        assert app.focused is not None and app.focused.id == "secret"
        await pilot.press(*secret)
        await pilot.pause()
        assert screen.query_one("#secret", Input).value == secret
        assert_hidden(app, secret)
        # Revealed on request only, and hidden again.
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert secret in app.export_screenshot()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert_hidden(app, secret)
        # Verify with STS, in a worker: nothing changes yet.
        await pilot.press("ctrl+t")
        result = screen.query_one("#verify-result", Static)
        await until(pilot, lambda: "Works" in plain(result), "STS's answer")
        assert rundeck.world.user_arn in plain(result)
        assert rundeck.config_works() == old
        # The old key's fate, then the switch.
        await pilot.press("enter", *keys)
        assert app.focused is not None and app.focused.id == "old-key"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: manual_screen(app).finished, "the switch to end")
        await pilot.pause()
        assert screen.result is not None and screen.result.outcome == "rotated", screen.result
        assert screen.query_one("#secret", Input).value == ""  # the form forgot it
        outcome = plain(screen.query_one("#rotate-outcome", Static))
        assert "Rotated" in outcome and f"{new} active and configured" in outcome
        assert_hidden(app, secret)
        assert secret not in str(screen.result.to_json_dict())
    rundeck.secrets.append(new_secret)
    assert rundeck.config_works() == new  # Java reads the file; the keyring's secret signs
    assert rundeck.keystore.get(rundeck.java_settings()[1]) == new_secret
    expected = {new: "Active"} | ({old: old_state} if old_state else {})
    assert rundeck.world.access_keys() == expected
    record = rundeck.record()
    assert record.access_key_id == new and record.previous_access_key_id == old
    assert record.rotation is None
    assert record.previous_key_inactive is (old_state == "Inactive")


async def test_a_pasted_key_aws_rejects_changes_nothing_and_keeps_the_form(
    rundeck: Rundeck,
) -> None:
    old = rundeck.configured_key()
    new, _ = rundeck.world.create_key()
    wrong = "w" * 40
    before = (rundeck.file.read_bytes(), rundeck.record())
    services = services_for(rundeck)
    app = WizardApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manual(app, pilot)
        await pilot.press(*new, "enter", *wrong)
        await pilot.press("ctrl+t")
        result = screen.query_one("#verify-result", Static)
        await until(pilot, lambda: "✗" in plain(result), "STS's refusal")
        assert "SignatureDoesNotMatch" in plain(result) or "InvalidClientTokenId" in plain(result)
        assert_hidden(app, wrong)
    assert (rundeck.file.read_bytes(), rundeck.record()) == before
    assert rundeck.config_works() == old

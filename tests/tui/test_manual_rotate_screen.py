"""Paste a new key, driven by keys from Status, against moto's IAM/STS (signatures checked), the
real gnome-keyring and the Java reader; the pasted secret is never on screen unless revealed.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    Rundeck,
    iam_world_fixture,
    rundeck_fixture,
)
from tests.fixtures.aws import LoopbackPort
from tests.tui.test_rotate_screen import plain, services_for, until
from tui.app import WizardApp
from tui.screens.manual_rotate import SWITCH_WAIT_SECONDS, ManualRotateScreen, WaitClock
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
    await until(pilot, lambda: manual_screen(app).ready, "Paste a new key to read the setup")
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


class NoSleepClock(WaitClock):
    """Time that moves only when the switch waits: a wait of n seconds passes at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wait(self, cancelled: threading.Event, seconds: float) -> bool:
        if not cancelled.is_set():
            self.now += seconds
        return cancelled.is_set()


async def switch_with_sts_at(
    app: WizardApp, pilot: Pilot[Any], rundeck: Rundeck, url: str, monkeypatch: Any
) -> tuple[ManualRotateScreen, NoSleepClock]:
    new, new_secret = rundeck.world.create_key()
    screen = await open_manual(app, pilot)
    clock = NoSleepClock()
    screen.wait_clock = clock
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)  # STS only: IAM was asked already
    await pilot.press(*new, "enter", *new_secret.reveal())
    await pilot.press("ctrl+s")
    return screen, clock


async def test_a_switch_with_aws_unreachable_gives_up_within_its_countdown(
    rundeck: Rundeck, closed_port: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = rundeck.configured_key()
    before = (rundeck.file.read_bytes(), rundeck.record())
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        screen, clock = await switch_with_sts_at(app, pilot, rundeck, closed_port.url, monkeypatch)
        outcome = screen.query_one("#rotate-outcome", Static)
        await until(pilot, lambda: "Not rotated" in plain(outcome), "the switch to give up")
        assert clock.now <= SWITCH_WAIT_SECONDS  # every wait inside the countdown
        assert not screen.running and screen.query_one("#manual-form").display
        told = plain(outcome)
        assert "nothing was changed" in told.lower()
        assert "blocked by a proxy" in told  # the whole reason, not cut off
        assert "holds the secret" not in told
    assert (rundeck.file.read_bytes(), rundeck.record()) == before
    assert rundeck.config_works() == old


async def test_esc_stops_waiting_for_a_silent_aws_at_once_and_changes_nothing(
    rundeck: Rundeck, silent_listener: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = rundeck.configured_key()
    before = (rundeck.file.read_bytes(), rundeck.record())
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        screen, _ = await switch_with_sts_at(app, pilot, rundeck, silent_listener.url, monkeypatch)
        wait = screen.query_one("#switch-wait", Static)
        await until(pilot, lambda: "Esc cancels" in plain(wait), "the countdown")
        assert "10 s left" in plain(wait)
        await pilot.press("escape")
        await pilot.pause()
        # At once: the worker is still blocked in its read, the screen no longer waits for it.
        assert not screen.running
        assert isinstance(app.screen, ManualRotateScreen)
        outcome = plain(screen.query_one("#rotate-outcome", Static))
        assert "Cancelled before anything was changed" in outcome
        assert "unchanged" in outcome
        assert screen.query_one("#manual-form").display
        await app.workers.wait_for_complete()  # the abandoned attempt times out by itself
        await pilot.pause()
        assert "Cancelled before anything was changed" in plain(
            screen.query_one("#rotate-outcome", Static)
        )
    assert (rundeck.file.read_bytes(), rundeck.record()) == before
    assert rundeck.config_works() == old


async def test_verify_with_aws_unreachable_shows_the_whole_reason(
    rundeck: Rundeck, closed_port: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    new, new_secret = rundeck.world.create_key()
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manual(app, pilot)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", closed_port.url)
        await pilot.press(*new, "enter", *new_secret.reveal(), "ctrl+t")
        result = screen.query_one("#verify-result", Static)
        await until(pilot, lambda: "✗" in plain(result), "the refusal")
        screen.query_one(".body").scroll_end(animate=False)
        await pilot.pause()
        assert "Could not reach AWS" in plain(result)
        assert result.size.height >= 2  # wrapped at 80 columns, not cut to one line
        assert "firewall" in plain(result)

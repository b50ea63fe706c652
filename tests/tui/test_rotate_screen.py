"""The Rotate screen, driven by keys from Status, against moto's IAM/STS (signatures checked),
the real gnome-keyring and the Java reader: success, a failure rolled back, the two-key limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    Rundeck,
    iam_world_fixture,
    now,
    rundeck_fixture,
)
from tests.tui.test_wizard_behaviour import immutable  # noqa: F401 - fixture
from tui.app import WizardApp
from tui.core.aws import caller_identity
from tui.core.rundeck import find_install
from tui.screens.confirm import ConfirmScreen
from tui.screens.rotate import RotateScreen
from tui.screens.status import StatusScreen
from tui.services import Services

DEADLINE = 60.0  # seconds; moto answers in well under one


def services_for(rundeck: Rundeck) -> Services:
    """The wizard's services on this Rundeck: real keyring, moto through AWS_ENDPOINT_URL."""
    base = rundeck.install.base

    def no_detection(progress: Any) -> Any:
        raise AssertionError("rotation must not probe the environment")

    return Services(
        detect=no_detection,
        install=lambda: find_install(base, env={}),
        keystore=lambda: rundeck.keystore,
        verify=lambda key_id, secret, region: caller_identity(
            access_key_id=key_id, secret=secret, region=region
        ),
        clock=now,
        rdeck_base=str(base),
    )


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition`` holds; fail with ``what`` after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def rotate_screen(app: WizardApp) -> RotateScreen:
    assert isinstance(app.screen, RotateScreen), app.screen
    return app.screen


def screen_text(app: WizardApp) -> str:
    return app.export_screenshot()


def plain(widget: Static) -> str:
    """What ``widget`` shows, as plain text on lines wide enough not to wrap."""
    console = Console(width=400, color_system=None)
    with console.capture() as captured:
        console.print(widget.content)
    return " ".join(captured.get().split())


async def open_rotate(app: WizardApp, pilot: Pilot[Any]) -> RotateScreen:
    """Status (with IAM's answer), then ``t``: the Rotate screen, ready to start."""
    await until(pilot, lambda: isinstance(app.screen, StatusScreen), "the Status screen")
    status = app.screen
    assert isinstance(status, StatusScreen)
    await until(
        pilot,
        lambda: status.selected_entry() is not None and status.selected_entry().iam is not None,  # type: ignore[union-attr]
        "Status to read IAM",
    )
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, RotateScreen), "the Rotate screen")
    await until(pilot, lambda: rotate_screen(app).ready, "Rotate to read the setup")
    return rotate_screen(app)


async def finish(app: WizardApp, pilot: Pilot[Any]) -> RotateScreen:
    await until(pilot, lambda: rotate_screen(app).finished, "the rotation to end")
    await pilot.pause()
    return rotate_screen(app)


def assert_no_secret_on_screen(app: WizardApp, rundeck: Rundeck) -> None:
    shown = screen_text(app)
    for secret in rundeck.secrets:
        assert secret.reveal() not in shown


async def test_rotation_from_status_deletes_the_old_key(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_rotate(app, pilot)
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "rotate-delete"
        await pilot.press("enter")
        # Deleting asks first, and the safe answer has the focus.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        question = app.screen
        assert isinstance(question, ConfirmScreen)
        assert old in question.question and "cannot bring a deleted key back" in question.question
        assert app.focused is not None and app.focused.id == "no"
        assert rundeck.world.access_keys() == {old: "Active"}  # nothing yet
        await pilot.press("y")
        screen = await finish(app, pilot)
        result = screen.result
        assert result is not None and result.outcome == "rotated", result
        new = rundeck.configured_key()  # Java reads the file; the keyring's secret signs
        assert new == result.new_access_key_id != old
        outcome = plain(screen.query_one("#rotate-outcome", Static))
        assert "Rotated" in outcome and f"{new} active and configured; {old} deleted" in outcome
        shown = {step.name: step.status for step in screen.steps.values()}
        assert shown["switch"] == "done" and shown["delete-old"] == "done"
        assert_no_secret_on_screen(app, rundeck)
        # Back to status: the list now shows the new key.
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, StatusScreen), "Status again")
        status = app.screen
        assert isinstance(status, StatusScreen)
        await until(
            pilot,
            lambda: getattr(status.selected_entry(), "access_key_id", None) == new,
            "Status to show the new key",
        )
    assert rundeck.world.access_keys() == {new: "Active"}
    assert rundeck.keystore.get(rundeck.target().previous_path) is None
    record = rundeck.record()
    assert record.access_key_id == new and record.previous_access_key_id == old
    assert record.rotation is None and not record.previous_key_inactive


async def test_one_enter_rotates_and_keeps_the_old_key_inactive(rundeck: Rundeck) -> None:
    """The choice that has the focus is the safe one: Enter never deletes a key."""
    old = rundeck.configured_key()
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rotate(app, pilot)
        assert app.focused is not None and app.focused.id == "rotate-keep"
        await pilot.press("enter")
        screen = await finish(app, pilot)
        assert screen.result is not None and screen.result.outcome == "rotated", screen.result
    new = rundeck.configured_key()
    assert new != old
    assert rundeck.world.access_keys() == {new: "Active", old: "Inactive"}
    assert rundeck.record().previous_key_inactive


async def test_declining_the_deletion_changes_nothing(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    before = (rundeck.file.read_bytes(), rundeck.record())
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_rotate(app, pilot)
        await pilot.press("tab", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")  # "Keep it" has the focus
        await until(pilot, lambda: app.screen is screen, "the Rotate screen again")
        assert not screen.started and not screen.finished
    assert rundeck.world.access_keys() == {old: "Active"}
    assert (rundeck.file.read_bytes(), rundeck.record()) == before


async def test_a_switch_that_cannot_write_the_file_is_rolled_back(
    rundeck: Rundeck,
    immutable: Callable[[Any], None],  # noqa: F811 - the imported fixture
) -> None:
    old = rundeck.configured_key()
    before = rundeck.file.read_bytes()
    immutable(rundeck.file)
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rotate(app, pilot)
        await pilot.press("enter")
        screen = await finish(app, pilot)
        result = screen.result
        assert result is not None and result.outcome == "rolled_back", result
        assert result.error_kind == "config"
        shown = {step.name: step.status for step in screen.steps.values()}
        assert shown["switch"] == "failed"
        assert shown["keyring"] == "rolled back" and shown["delete-new"] == "rolled back"
        outcome = plain(screen.query_one("#rotate-outcome", Static))
        assert "Rolled back: Rundeck keeps the old key" in outcome
        assert f"{old} active and configured; the new key was deleted" in outcome
        assert f"holds the secret of {old}" in outcome and f"uses {old}" in outcome
        assert_no_secret_on_screen(app, rundeck)
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}
    assert rundeck.file.read_bytes() == before
    assert rundeck.record().rotation is None
    assert rundeck.keystore.get(rundeck.target().previous_path) is None


async def test_an_inactive_spare_is_deleted_after_consent(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    spare, _ = rundeck.world.create_key(status="Inactive")
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rotate(app, pilot)
        assert app.focused is not None and app.focused.id == "rotate-keep"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        question = app.screen
        assert isinstance(question, ConfirmScreen)
        assert spare in question.question and "inactive" in question.question
        assert rundeck.world.access_keys() == {old: "Active", spare: "Inactive"}  # not yet
        await pilot.press("y")
        screen = await finish(app, pilot)
        result = screen.result
        assert result is not None and result.outcome == "rotated", result
        assert f"deleted the inactive key {spare}" in screen.steps["key-limit"].detail
    new = rundeck.configured_key()
    assert new != old
    assert rundeck.world.access_keys() == {new: "Active", old: "Inactive"}
    record = rundeck.record()
    assert record.previous_access_key_id == old and record.previous_key_inactive


async def test_declining_to_delete_the_spare_changes_nothing(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    spare, _ = rundeck.world.create_key(status="Inactive")
    before = (rundeck.file.read_bytes(), rundeck.record())
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rotate(app, pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        screen = await finish(app, pilot)
        assert screen.result is not None and screen.result.outcome == "refused"
        outcome = plain(screen.query_one("#rotate-outcome", Static))
        assert "Not rotated: nothing was changed" in outcome
    assert rundeck.world.access_keys() == {old: "Active", spare: "Inactive"}
    assert (rundeck.file.read_bytes(), rundeck.record()) == before
    assert rundeck.config_works() == old

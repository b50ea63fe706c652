"""Status, Remove and Rotate with a keyring that cannot be used (keyring's ``fail`` backend, as
over SSH without D-Bus): each says so up front, offers nothing that cannot work, changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from keyring.backends import fail
from textual.widgets import Button, Static

from tests.tui.test_flows import settle
from tests.tui.test_rotate_screen import plain
from tests.tui.test_status_screen import KEY_PATH, set_up_ops
from tui.app import WizardApp
from tui.core.keystore import KeyStore
from tui.demo import SandboxKeyring
from tui.screens.remove import RemoveScreen
from tui.screens.rotate import RotateScreen
from tui.screens.status import StatusScreen


def snapshot_files(base: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(base.rglob("*")) if path.is_file()}


def set_up_with_a_keyring(base: Path) -> KeyStore:
    """The ops project set up with an access key whose secret went into a working keyring."""
    working = KeyStore(SandboxKeyring(), assume_security="secure")
    set_up_ops(base, working)
    assert working.get(KEY_PATH) is not None
    return working


async def test_remove_without_a_usable_keyring_says_why_and_changes_nothing(
    rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    set_up_with_a_keyring(rundeck_base)
    before = snapshot_files(rundeck_base)
    app = WizardApp(make_services(keystore=KeyStore(fail.Keyring())))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await settle(app, pilot)
        assert isinstance(app.screen, StatusScreen)
        await pilot.press("x")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RemoveScreen)
        assert screen.query_one("#confirm-remove", Button).disabled
        shown = " ".join(plain(widget) for widget in screen.query(Static))
        assert f"The secret at {KEY_PATH} cannot be deleted" in shown
        assert "Nothing was removed; fix the keyring first" in shown
        # What Remove leaves alone is said before it happens.
        assert "stays Active in AWS" in shown
        await pilot.press("enter")  # the focus may be anywhere: nothing removes
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, StatusScreen)
    assert snapshot_files(rundeck_base) == before


async def test_remove_says_the_iam_key_stays_active(
    rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    working = set_up_with_a_keyring(rundeck_base)
    app = WizardApp(make_services(keystore=working))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RemoveScreen)
        assert not screen.query_one("#confirm-remove", Button).disabled
        shown = " ".join(plain(widget) for widget in screen.query(Static))
        key_id = screen.plan.access_key_id
        assert key_id is not None
        assert f"The IAM access key {key_id} stays Active in AWS" in shown


async def test_rotate_is_not_started_when_status_could_not_read_the_secret(
    rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    set_up_with_a_keyring(rundeck_base)
    before = snapshot_files(rundeck_base)
    app = WizardApp(make_services(keystore=KeyStore(fail.Keyring())))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await settle(app, pilot)
        status = app.screen
        assert isinstance(status, StatusScreen)
        entry = status.selected_entry()
        assert entry is not None and entry.secret_present is None
        await pilot.press("t")
        await settle(app, pilot)
        assert not isinstance(app.screen, RotateScreen)
        told = " ".join(str(n.message) for n in app._notifications)
        assert "Rotate needs the current key's secret" in told
        assert "keyring" in told.lower()
    assert snapshot_files(rundeck_base) == before

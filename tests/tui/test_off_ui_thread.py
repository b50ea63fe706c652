"""Scope, Rotate and Paste a new key read the disk in workers: each screen is drawn, and answers
keys, while the read is still held up; what was read then arrives as a message."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Button, Label, OptionList, Static

import tui.core.rotation as rotation
from tests.core.rotation_world import (  # noqa: F401 - fixtures
    Rundeck,
    iam_world_fixture,
    now,
    rundeck_fixture,
)
from tests.tui.test_flows import settle
from tests.tui.test_manual_rotate_screen import manual_screen
from tests.tui.test_rotate_screen import plain, rotate_screen, services_for, until
from tui.app import WizardApp
from tui.core.model import Scope
from tui.core.rundeck import RundeckInstall
from tui.screens.manual_rotate import ManualRotateScreen
from tui.screens.rotate import RotateScreen
from tui.screens.scope import ScopeScreen
from tui.screens.status import StatusScreen

HELD_FOR = 30.0  # seconds a held read waits for the test to let it go (a hang fails, not blocks)


class HeldRead:
    """Wraps a reading function so that, once armed, each call waits until ``release``."""

    def __init__(self, read: Callable[..., Any]) -> None:
        self.read = read
        self.armed = False
        self.entered = threading.Event()
        self.released = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.armed:
            assert threading.current_thread() is not threading.main_thread(), (
                "read on the UI thread"
            )
            self.entered.set()
            assert self.released.wait(HELD_FOR), "the test never released the read"
        return self.read(*args, **kwargs)

    def __get__(self, instance: object, owner: type | None = None) -> Callable[..., Any]:
        """Stands in for a method too: bound to the instance, as the function it wraps."""
        return self if instance is None else functools.partial(self, instance)


@pytest.fixture
def held_projects(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldRead]:
    held = HeldRead(RundeckInstall.list_projects)
    monkeypatch.setattr(RundeckInstall, "list_projects", held)
    yield held
    held.released.set()


@pytest.fixture
def held_target(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldRead]:
    held = HeldRead(rotation.load_target)
    monkeypatch.setattr(rotation, "load_target", held)
    yield held
    held.released.set()


async def test_scope_answers_keys_while_its_projects_are_read(
    imds_env: Any, make_services: Callable[..., Any], held_projects: HeldRead
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # Detect
        await pilot.press("enter")  # Method: EC2, detected
        await until(pilot, lambda: not isinstance(app.screen, StatusScreen), "Permissions")
        held_projects.armed = True
        await pilot.press("ctrl+n")
        await until(
            pilot,
            lambda: isinstance(app.screen, ScopeScreen) and held_projects.entered.is_set(),
            "Scope to start reading the disk",
        )
        screen = app.screen
        assert isinstance(screen, ScopeScreen)
        assert screen.query_one("#projects", OptionList).option_count == 0
        assert plain(screen.query_one("#target", Static)) == "Reading the Rundeck install…"
        await pilot.press("down", "enter")  # the screen answers while the read is held
        await until(pilot, lambda: screen.state.scope is Scope.PROJECT, "the project choice")
        assert "Looking for projects" in str(screen.query_one("#projects-label", Label).content)

        held_projects.released.set()
        projects = screen.query_one("#projects", OptionList)
        await until(pilot, lambda: projects.option_count == 2, "the projects to arrive")
        assert [str(projects.get_option_at_index(i).prompt) for i in range(2)] == ["ops", "web"]
        assert str(screen.query_one("#projects-label", Label).content) == "Projects found:"
        assert app.focused is projects  # the focus the Down asked for, given once it could be


async def test_enter_typed_ahead_on_scope_is_kept_until_the_disk_is_read(
    imds_env: Any, make_services: Callable[..., Any], held_projects: HeldRead
) -> None:
    from tui.screens.details import DetailsScreen

    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "enter")
        await until(pilot, lambda: not isinstance(app.screen, StatusScreen), "Permissions")
        held_projects.armed = True
        await pilot.press("ctrl+n")
        await until(pilot, held_projects.entered.is_set, "Scope to start reading the disk")
        await pilot.press("enter")  # System: Next, before the install is known
        await pilot.pause()
        assert isinstance(app.screen, ScopeScreen)
        held_projects.released.set()
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), "Details")


async def open_from_status(
    app: WizardApp, pilot: Any, held: HeldRead, key: str, screen_type: type[Screen[Any]]
) -> None:
    """From Status, once it has read the setup, open a rotation screen by ``key`` with the
    setup's read held; return once that screen has started reading."""
    await until(pilot, lambda: isinstance(app.screen, StatusScreen), "the Status screen")
    status = app.screen
    assert isinstance(status, StatusScreen)
    await until(pilot, lambda: status.selected_entry() is not None, "Status to read")
    held.armed = True
    await pilot.press(key)
    await until(
        pilot,
        lambda: isinstance(app.screen, screen_type) and held.entered.is_set(),
        f"{screen_type.__name__} to start reading the setup",
    )


async def test_rotate_is_drawn_before_its_setup_is_read(
    rundeck: Rundeck, held_target: HeldRead
) -> None:
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(100, 40)) as pilot:
        await open_from_status(app, pilot, held_target, "t", RotateScreen)
        screen = rotate_screen(app)
        keep = screen.query_one("#rotate-keep", Button)
        assert keep.disabled and not screen.ready
        assert plain(screen.query_one("#rotate-outcome", Static)) == "Reading the setup…"
        await pilot.press("enter")  # nothing to start yet: refused, not queued
        await pilot.pause()
        assert not screen.running

        held_target.released.set()
        await until(pilot, lambda: screen.ready, "the setup to arrive")
        assert not keep.disabled and app.focused is keep
        assert screen.known is not None and screen.known.access_key_id == rundeck.configured_key()
        assert plain(screen.query_one("#rotate-outcome", Static)) == ""


async def test_paste_a_new_key_is_drawn_before_its_setup_is_read(
    rundeck: Rundeck, held_target: HeldRead
) -> None:
    app = WizardApp(services_for(rundeck))
    async with app.run_test(size=(100, 40)) as pilot:
        await open_from_status(app, pilot, held_target, "m", ManualRotateScreen)
        screen = manual_screen(app)
        assert screen.query_one("#switch", Button).disabled
        await pilot.press(*"AKIA")  # typing goes on while the setup is read
        assert screen.query_one("#access-key-id").value == "AKIA"  # type: ignore[attr-defined]

        held_target.released.set()
        await until(pilot, lambda: screen.ready, "the setup to arrive")
        assert not screen.query_one("#switch", Button).disabled
        label = str(screen.query_one("#old-key-label", Label).content)
        assert label.startswith("Then the old key, AKIA")

"""Going back keeps the answers; a default derived from the scope follows the scope."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Input

from tests.tui.test_flows import KEY_ID, SECRET, settle, type_into
from tests.tui.test_typing_burst import open_details
from tui.app import WizardApp
from tui.screens.details import DetailsScreen
from tui.screens.review import ReviewScreen
from tui.screens.scope import ScopeScreen


def value(app: WizardApp, selector: str) -> str:
    return app.screen.query_one(selector, Input).value


async def to_project(app: WizardApp, pilot: Any, project: str) -> None:
    """From Details, Esc to Scope, then one project typed, then Next: Details again."""
    await pilot.press("escape")
    await pilot.pause()
    assert isinstance(app.screen, ScopeScreen)
    await pilot.press("down", "enter")
    await type_into(pilot, app, "#project-name", project)
    await pilot.press("ctrl+n")
    await settle(app, pilot)
    assert isinstance(app.screen, DetailsScreen)


async def test_esc_from_details_then_next_keeps_the_key(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        await type_into(pilot, app, "#access-key-id", KEY_ID)
        await type_into(pilot, app, "#secret", SECRET)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ScopeScreen)
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailsScreen)
        assert value(app, "#access-key-id") == KEY_ID
        assert value(app, "#secret") == SECRET
        assert SECRET not in app.export_screenshot()  # kept, and still masked
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)


async def test_the_default_key_path_follows_the_scope(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        assert value(app, "#key-path") == "keys/aws/secret-key"
        await type_into(pilot, app, "#access-key-id", KEY_ID)
        await type_into(pilot, app, "#secret", SECRET)
        await pilot.press("ctrl+n")  # the system path is stored with the answers
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape")
        await pilot.pause()
        await to_project(app, pilot, "billing")
        assert value(app, "#key-path") == "keys/project/billing/aws/secret-key"
        assert value(app, "#access-key-id") == KEY_ID
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)


async def test_a_typed_key_path_is_kept_when_the_scope_changes(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(app, pilot)
        await type_into(pilot, app, "#key-path", "keys/shared/aws-key")
        await to_project(app, pilot, "billing")
        assert value(app, "#key-path") == "keys/shared/aws-key"  # the admin's, not replaced

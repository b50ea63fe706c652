"""Where the focus goes and what Enter does: no trap, no invisible stop, Enter moves on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import Input

from tests.tui.test_flows import run_flow, settle
from tui.app import WizardApp
from tui.core.model import Method
from tui.screens.details import DetailsScreen
from tui.screens.done import DoneScreen
from tui.screens.permissions import PermissionsScreen
from tui.screens.scope import ScopeScreen


async def test_enter_on_scope_moves_on_as_on_the_other_steps(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # Detect
        await pilot.pause()
        await pilot.press("enter")  # Method: EC2, detected
        await pilot.pause()
        assert isinstance(app.screen, PermissionsScreen)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, ScopeScreen)
        await pilot.press("enter")  # System, already chosen
        await settle(app, pilot)
        assert isinstance(app.screen, DetailsScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("down", "enter")  # One project: on to the project list
        await pilot.pause()
        assert isinstance(app.screen, ScopeScreen)
        assert app.focused is not None and app.focused.id == "projects"


async def test_tab_on_done_never_lands_where_q_quits(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    """Typing a file name after Tab types it; it does not quit on its q."""
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await run_flow(app, pilot, method=Method.EC2, project=None)
        screen = app.screen
        assert isinstance(screen, DoneScreen)
        await pilot.press("tab")
        field = screen.query_one("#answers-file", Input)
        assert app.focused is field
        await pilot.press(*"req")
        await pilot.pause()
        assert field.value == "req"
        assert app.is_running and app.screen is screen
        for _ in range(3):  # round the whole chain: every stop is a visible widget
            await pilot.press("tab")
            assert app.focused is not None and app.focused.region.area > 0
            assert app.focused is not screen.query_one(".body")

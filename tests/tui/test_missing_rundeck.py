"""No Rundeck where the wizard looked: the first screen says so and takes the base folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Input, Static

from tests.scenes import ec2_detection
from tests.tui.test_flows import settle
from tests.tui.test_rotate_screen import plain
from tui.app import WizardApp
from tui.screens.detect import DetectScreen


async def test_detect_says_rundeck_is_missing_and_takes_its_base_folder(
    tmp_path: Path, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    services = make_services(base=tmp_path / "no-rundeck-here", detect=lambda _: ec2_detection())
    app = WizardApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DetectScreen)
        missing = screen.query_one("#rundeck-missing", Static)
        assert "no-rundeck-here" in plain(missing)  # said on the first screen
        assert app.focused is screen.query_one("#rdeck-base", Input)
        # A wrong folder: said, and nothing is kept.
        await pilot.press(*str(tmp_path / "elsewhere"), "enter")
        await settle(app, pilot)
        assert "✗" in plain(missing) and "elsewhere" in plain(missing)
        assert app.rundeck_install()[0] is None
        field = screen.query_one("#rdeck-base", Input)
        field.value = ""
        await pilot.press(*str(rundeck_base), "enter")
        await settle(app, pilot)
        assert f"Rundeck found at {rundeck_base}" in plain(missing)
        install, problem = app.rundeck_install()
        assert install is not None and install.base == rundeck_base and problem is None
        assert app.services.rdeck_base == str(rundeck_base)
        # The rest of the flow uses it: Method, then Scope lists the install's projects.
        await pilot.press("enter")  # Next has the focus
        await settle(app, pilot)
        assert not isinstance(app.screen, DetectScreen)
        from tui.screens.scope import ScopeScreen

        scope = ScopeScreen()  # step 4, where a missing install used to be said first
        await app.push_screen(scope)
        await settle(app, pilot)
        assert scope.install is not None and scope.install_error is None
        assert scope.install.base == rundeck_base

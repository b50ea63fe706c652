"""Small things an admin tripped on: cut labels, ticks told apart by colour only, problems shown
late and kept after the fix, a key bar that lies about Ctrl+R, a command cut inside a path."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.widgets import Label, Static

from tests.tui.test_flows import KEY_ID, SECRET, run_flow, settle, type_into
from tests.tui.test_permissions_screen import tick, to_permissions
from tests.tui.test_typing_burst import open_details
from tui.app import WizardApp
from tui.core.model import Method
from tui.screens.done import DoneScreen
from tui.screens.scope import ScopeScreen
from tui.widgets.ticks import ChoiceButton, TickList


def lines_of(widget: Static) -> list[str]:
    console = Console(width=widget.content_size.width, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(widget.content)
    return captured.get().rstrip("\n").split("\n")


async def test_details_labels_are_whole_at_60_columns(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(60, 30)) as pilot:
        screen = await open_details(app, pilot)
        for label in screen.query(Label):
            text = str(label.render())
            assert len(text) <= label.content_size.width, text


async def test_choices_and_ticks_differ_by_glyph(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_permissions(app, pilot)
        await tick(pilot, screen, "s3")  # the first of several matches
        listed = screen.query_one("#plugins", TickList)
        assert listed.render_line(0).text.startswith("▐X▌")
        assert listed.render_line(1).text.startswith("▐ ▌")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, ScopeScreen)
        system, project = app.screen.query(ChoiceButton)
        assert system.value and system._button.plain == "▐●▌"
        assert not project.value and project._button.plain == "▐ ▌"


async def test_problems_show_as_typed_and_go_once_fixed(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        errors = screen.query_one("#errors", Static)
        await pilot.press(*"ASIA")
        await pilot.pause()
        assert errors.display and "temporary" in str(errors.render())
        await type_into(pilot, app, "#access-key-id", KEY_ID)
        await pilot.pause()
        assert not errors.display
        await pilot.press("ctrl+n")  # the secret is still empty
        await pilot.pause()
        assert errors.display and "secret access key is empty" in str(errors.render())
        await type_into(pilot, app, "#secret", SECRET)
        await pilot.pause()
        assert not errors.display  # fixed: the line goes without another Next


async def test_the_key_bar_says_hide_while_the_secret_shows(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(app, pilot)
        assert screen.active_bindings["ctrl+r"].binding.description == "Reveal secret"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.active_bindings["ctrl+r"].binding.description == "Hide secret"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.active_bindings["ctrl+r"].binding.description == "Reveal secret"


async def test_the_headless_command_breaks_between_arguments(
    aws_env: Any, keystore: Any, make_services: Callable[..., Any]
) -> None:
    from tui.demo import make_rundeck_layout

    with tempfile.TemporaryDirectory(prefix="rd") as short:  # a path that fits on a line
        rundeck_base = make_rundeck_layout(Path(short))
        await done_command(make_services(keystore=keystore, base=rundeck_base), rundeck_base)


async def done_command(services: Any, rundeck_base: Path) -> None:
    app = WizardApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await run_flow(app, pilot, method=Method.ACCESS_KEY, project="ops")
        screen = app.screen
        assert isinstance(screen, DoneScreen)
        await settle(app, pilot)
        lines = lines_of(screen.query_one("#command", Static))
        assert len(lines) > 1, lines
        assert all(line.endswith(" \\") for line in lines[:-1])
        assert any(str(rundeck_base) in line for line in lines)  # the path whole, on one line
        words = " ".join(line.removesuffix(" \\").strip() for line in lines).split()
        assert words[:2] == ["pa-aws-setup", "apply"]

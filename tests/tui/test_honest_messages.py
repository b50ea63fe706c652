"""Messages say what is true: no "set up" for a role not found, no "nothing was written" after
AWS calls, no "kept in the database" for what may be a typo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import Static

from tests.core.test_iam_provision import Aws
from tests.tui.test_flows import run_flow, settle, type_into
from tests.tui.test_permissions_screen import shown, to_permissions
from tests.tui.test_provision_screen import (
    detected_on,
    open_provision,
    preview,
    run_confirmed,
    tick_instance,
)
from tui.app import WizardApp
from tui.core.model import Method
from tui.screens.confirm import ConfirmScreen
from tui.screens.done import DoneScreen
from tui.screens.scope import ScopeScreen


def flat(widget: Static) -> str:
    return " ".join(shown(widget).split())


async def test_an_undetected_role_is_not_declared_set_up_and_its_todo_is_repeated(
    aws_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await run_flow(app, pilot, method=Method.ECS, project=None, confirm_undetected=True)
        screen = app.screen
        assert isinstance(screen, DoneScreen)
        summary = flat(screen.query_one("#summary", Static))
        assert "Rundeck is set up" not in summary and "no such role was detected" in summary
        assert "ecs-tasks.amazonaws.com" in flat(screen.query_one("#todo", Static))


async def test_done_names_the_detected_role_instead_of_asking_to_attach_it(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await run_flow(app, pilot, method=Method.EC2, project=None)
        screen = app.screen
        assert isinstance(screen, DoneScreen)
        summary = flat(screen.query_one("#summary", Static))
        assert "make sure the role is attached" not in summary
        assert app.state.detection is not None
        role = app.state.detection.ec2.role_name
        assert role and f"the role {role} was found here" in summary
        assert not screen.query("#todo")


async def test_quit_after_set_it_up_for_me_says_aws_was_changed(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    world = Aws(imds_env)
    (here,) = world.instances(1)
    app = WizardApp(make_services(detect=detected_on(here)))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_permissions(app, pilot)
        screen = await open_provision(app, pilot, "node source")
        if here not in screen.query_one("#instances").selected:  # type: ignore[attr-defined]
            await tick_instance(pilot, screen, here)
        await preview(app, pilot, screen)
        await run_confirmed(app, pilot, screen)
        assert world.role_names()  # something was created in AWS
        await pilot.press("ctrl+q")
        await pilot.pause()
        question = app.screen
        assert isinstance(question, ConfirmScreen)
        assert "nothing was written yet" not in question.question
        assert "stays there" in question.question


async def test_a_project_not_on_disk_may_be_a_typo(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, ScopeScreen)
        await pilot.press("down", "enter")
        await type_into(pilot, app, "#project-name", "opz")  # ops, mistyped
        await pilot.pause()
        target = flat(app.screen.query_one("#target", Static))
        assert "kept in" not in target and "keeps its configuration" not in target
        assert "not found on disk" in target and "typo" in target

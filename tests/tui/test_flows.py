"""The six flows (three methods × two scopes), driven by keys, checked on real components."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import WizardApp
from tui.core.model import Method
from tui.core.record import read_record
from tui.core.secret import Secret
from tui.screens.apply import ApplyScreen
from tui.screens.details import DetailsScreen
from tui.screens.detect import DetectScreen
from tui.screens.done import DoneScreen
from tui.screens.method import MethodScreen
from tui.screens.permissions import PermissionsScreen
from tui.screens.review import ReviewScreen
from tui.screens.scope import ScopeScreen

KEY_ID = "AKIAWIZARDTEST000001"
SECRET = "wizardSecret/0123456789+abcdefghijABCDEF"
METHOD_INDEX = {Method.EC2: 0, Method.ECS: 1, Method.ACCESS_KEY: 2}


async def settle(app: WizardApp, pilot: Pilot[Any]) -> None:
    """Until no worker is left: a screen mounted meanwhile may have started one of its own."""
    while True:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if all(worker.is_finished for worker in app.workers):
            return


async def type_into(pilot: Pilot[Any], app: WizardApp, selector: str, text: str) -> None:
    field = app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    await pilot.press("ctrl+a", "ctrl+k")  # select all, delete: the field starts empty
    field.clear()
    await pilot.press(*text)


async def run_flow(
    app: WizardApp,
    pilot: Pilot[Any],
    *,
    method: Method,
    project: str | None,
    region: str = "eu-west-1",
    confirm_undetected: bool = False,
) -> None:
    await settle(app, pilot)
    assert isinstance(app.screen, DetectScreen)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, MethodScreen)
    await pilot.press("home", *["down"] * METHOD_INDEX[method], "enter")
    await pilot.pause()
    if confirm_undetected:
        await pilot.press("y")
        await pilot.pause()
        todo = str(app.screen.query_one("#todo").render())
        trusted = "ec2.amazonaws.com" if method is Method.EC2 else "ecs-tasks.amazonaws.com"
        assert trusted in todo
        await pilot.press("enter")
        await pilot.pause()
    assert isinstance(app.screen, PermissionsScreen)
    await pilot.press("ctrl+n")  # no plugins ticked: the step is optional
    await pilot.pause()
    assert isinstance(app.screen, ScopeScreen)
    if project is not None:
        await pilot.press("down", "enter")  # the radio set: second button, "One project"
        await pilot.pause()
        await type_into(pilot, app, "#project-name", project)
    await pilot.press("ctrl+n")
    await pilot.pause()
    assert isinstance(app.screen, DetailsScreen)
    await settle(app, pilot)
    await type_into(pilot, app, "#region", region)
    if method is Method.ACCESS_KEY:
        await type_into(pilot, app, "#access-key-id", KEY_ID)
        await type_into(pilot, app, "#secret", "  " + SECRET + " ")  # pasted with spaces
    await pilot.press("ctrl+n")
    await pilot.pause()
    assert isinstance(app.screen, ReviewScreen), app.screen.query_one("#errors").render()
    await settle(app, pilot)
    assert app.state.plan is not None
    await pilot.press("ctrl+a")
    await settle(app, pilot)
    assert isinstance(app.screen, ApplyScreen)
    assert app.state.result is not None and app.state.result.ok, app.state.result
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, DoneScreen)


def target_of(base: Path, project: str | None) -> Path:
    if project is None:
        return base / "etc" / "framework.properties"
    return base / "projects" / project / "etc" / "project.properties"


@pytest.mark.parametrize("project", [None, "ops"], ids=["system", "project"])
async def test_ec2_role_flow(
    project: str | None,
    imds_env: Any,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    java_properties: Any,
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await run_flow(app, pilot, method=Method.EC2, project=project)
    prefix = "project.aws." if project else "aws."
    values = java_properties(target_of(rundeck_base, project))
    assert values[prefix + "credentialProvider"] == "instance"
    assert values[prefix + "region"] == "eu-west-1"
    assert prefix + "access_key" not in values
    record = read_record(target_of(rundeck_base, project).with_name("aws-setup.toml"))
    assert record is not None and record.method is Method.EC2
    assert record.region == "eu-west-1"
    if project == "ops":
        assert values["resources.source.1.config.filter"] == "tag:Team=ops"  # kept as it was


@pytest.mark.parametrize("project", [None, "web"], ids=["system", "project"])
async def test_ecs_task_role_flow(
    project: str | None,
    ecs_env: Any,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    java_properties: Any,
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await run_flow(app, pilot, method=Method.ECS, project=project)
        assert app.state.detection is not None
        assert app.state.detection.recommended_method is Method.ECS
    prefix = "project.aws." if project else "aws."
    values = java_properties(target_of(rundeck_base, project))
    assert values[prefix + "credentialProvider"] == "container"
    record = read_record(target_of(rundeck_base, project).with_name("aws-setup.toml"))
    assert record is not None and record.method is Method.ECS


@pytest.mark.parametrize("project", [None, "ops"], ids=["system", "project"])
async def test_access_key_flow(
    project: str | None,
    aws_env: Any,
    keystore: Any,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    java_properties: Any,
) -> None:
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await run_flow(app, pilot, method=Method.ACCESS_KEY, project=project)
        screen_text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert SECRET not in screen_text
    prefix = "project.aws." if project else "aws."
    key_path = f"keys/project/{project}/aws/secret-key" if project else "keys/aws/secret-key"
    values = java_properties(target_of(rundeck_base, project))
    assert values[prefix + "access_key"] == KEY_ID
    assert values[prefix + "secret_key_path"] == key_path
    assert prefix + "credentialProvider" not in values  # the old method's key is gone
    assert keystore.get(key_path) == Secret(SECRET)  # trimmed, and really in gnome-keyring
    record_file = target_of(rundeck_base, project).with_name("aws-setup.toml")
    record = read_record(record_file)
    assert record is not None and record.key_type == "password"
    assert record.access_key_id == KEY_ID and record.key_path == key_path
    for path in rundeck_base.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


async def test_role_not_detected_needs_confirmation_and_shows_the_todo(
    aws_env: Any, rundeck_base: Path, make_services: Callable[..., Any], java_properties: Any
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await run_flow(app, pilot, method=Method.EC2, project=None, confirm_undetected=True)
    values = java_properties(target_of(rundeck_base, None))
    assert values["aws.credentialProvider"] == "instance"

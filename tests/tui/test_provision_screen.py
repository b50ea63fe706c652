"""Set it up for me, driven by keys from Permissions against moto's server: the role given to two
instances, an existing association replaced only once confirmed, a new task definition revision,
and a failure halfway that says what exists.

Every outcome is checked by describing moto afterwards with the test's own clients.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, SelectionList, Static

from tests import scenes
from tests.core.test_iam_provision import CARRIED_OVER, Aws, register_rundeck_task
from tests.fixtures.ecs_metadata import CLUSTER_ARN
from tests.tui.test_flows import settle
from tests.tui.test_permissions_screen import shown, tick, to_permissions
from tui.app import WizardApp
from tui.core.detect import Detection, detect_environment
from tui.core.iam.catalog import find
from tui.core.iam.policy import permissions_policy
from tui.core.model import Method
from tui.screens.confirm import ConfirmScreen
from tui.screens.permissions import PermissionsScreen
from tui.screens.provision import DEFAULT_ROLE_NAME, ProvisionScreen, region_of

ACCOUNT = "123456789012"
ROLE = DEFAULT_ROLE_NAME
POLICY = "rundeck-aws-plugins"
OUR_PROFILE = f"arn:aws:iam::{ACCOUNT}:instance-profile/{ROLE}"
DEADLINE = 60.0  # seconds; moto answers in well under one


def detected_on(instance_id: str) -> Callable[[Any], Detection]:
    """The real detection (moto's metadata), as if run on ``instance_id``."""

    def detect(progress: Any) -> Detection:
        found = detect_environment(on_progress=progress)
        return dataclasses.replace(
            found, ec2=dataclasses.replace(found.ec2, instance_id=instance_id)
        )

    return detect


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition`` holds; fail with ``what`` after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def open_provision(app: WizardApp, pilot: Pilot[Any], plugin: str) -> ProvisionScreen:
    """Permissions with ``plugin`` ticked, then Ctrl+O: the screen with its instances listed."""
    permissions = app.screen
    assert isinstance(permissions, PermissionsScreen)
    await tick(pilot, permissions, plugin)
    await pilot.press("ctrl+o")
    await until(pilot, lambda: isinstance(app.screen, ProvisionScreen), "the provision screen")
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, ProvisionScreen)
    return screen


async def tick_instance(pilot: Pilot[Any], screen: ProvisionScreen, instance_id: str) -> None:
    listing = screen.query_one("#instances", SelectionList)
    listing.focus()
    ids = [listing.get_option_at_index(i).value for i in range(listing.option_count)]
    listing.highlighted = ids.index(instance_id)
    await pilot.press("space")
    await pilot.pause()


async def preview(app: WizardApp, pilot: Pilot[Any], screen: ProvisionScreen) -> None:
    await pilot.press("ctrl+t")
    await until(pilot, lambda: not screen.planning, "the preview")
    await settle(app, pilot)


async def run_confirmed(app: WizardApp, pilot: Pilot[Any], screen: ProvisionScreen) -> None:
    """Ctrl+G, the question, y: then wait until every call has been made."""
    await pilot.press("ctrl+g")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the Run question")
    question = shown(app.screen.query_one("#question", Static))
    assert screen.plan is not None
    count = len(screen.plan.steps)
    assert ("Run this AWS call" if count == 1 else f"Run these {count} AWS calls") in question
    await pilot.press("y")
    await until(pilot, lambda: screen.result is not None and not screen.running, "the run")
    await settle(app, pilot)


def flat(widget: Static) -> str:
    return " ".join(shown(widget).split())


async def test_the_role_is_given_to_this_instance_and_a_picked_one(
    imds_env: Any, make_services: Callable[..., Any], tmp_path: Path
) -> None:
    world = Aws(imds_env)
    here, other, bastion = world.instances(3)
    app = WizardApp(make_services(detect=detected_on(here)))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_permissions(app, pilot)
        screen = await open_provision(app, pilot, "node source")
        listing = screen.query_one("#instances", SelectionList)
        assert listing.selected == [here]  # this instance, preselected
        row = str(listing.get_option(here).prompt)
        assert "this instance" in row
        assert screen.query_one("#provision-region", Input).value == "us-east-1"

        await pilot.press("ctrl+g")  # nothing runs before a preview
        await pilot.pause()
        assert isinstance(app.screen, ProvisionScreen) and screen.result is None

        await tick_instance(pilot, screen, other)
        await preview(app, pilot, screen)
        script = flat(screen.query_one("#plan-script", Static))
        assert f"aws ec2 associate-iam-instance-profile --instance-id {here}" in script
        assert f"--instance-id {other}" in script and bastion not in script
        assert "6 AWS calls to make" in flat(screen.query_one("#plan-summary", Static))
        assert world.role_names() == []  # the preview only read
        saved = tmp_path / "setup.sh"
        screen.query_one("#script-file", Input).focus()
        await pilot.press(*str(saved), "enter")
        assert screen.plan is not None and saved.read_text() == screen.plan.preview()

        # A change after the preview takes Run away until the next preview.
        screen.query_one("#role-name", Input).focus()
        await pilot.press("end", "x")
        await pilot.pause()
        assert screen.query_one("#run-plan", Button).disabled
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("backspace")
        await preview(app, pilot, screen)
        assert not screen.query_one("#run-plan", Button).disabled

        await run_confirmed(app, pilot, screen)
        assert screen.result is not None and screen.result.ok, screen.result
        assert "Done" in flat(screen.query_one("#provision-outcome", Static))
        steps = flat(screen.query_one("#provision-steps", Static))
        assert steps.count("✓") == 6
        assert f"instance {other} now has instance profile {ROLE}" in steps

    role = world.iam.get_role(RoleName=ROLE)["Role"]
    services = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert services == ["ec2.amazonaws.com"]
    policy = world.iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]
    assert policy == permissions_policy(find(["ec2-nodes"]))
    profile = world.iam.get_instance_profile(InstanceProfileName=ROLE)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [ROLE]
    assert world.profile_of(here) == world.profile_of(other) == OUR_PROFILE
    assert world.profile_of(bastion) is None


async def test_an_existing_association_is_replaced_only_once_confirmed(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    legacy = Aws(imds_env)
    legacy_arn = legacy.other_profile("legacy")
    (taken,) = legacy.instances(1)
    legacy.ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": "legacy"}, InstanceId=taken
    )
    app = WizardApp(make_services())  # moto's metadata: instance i-fake, not in EC2
    async with app.run_test(size=(80, 24)) as pilot:
        await to_permissions(app, pilot)
        screen = await open_provision(app, pilot, "node source")
        listing = screen.query_one("#instances", SelectionList)
        assert listing.selected == []
        assert "This instance (i-fake) is not among them" in flat(
            screen.query_one("#instances-note", Static)
        )
        assert "has legacy" in str(listing.get_option(taken).prompt)
        await tick_instance(pilot, screen, taken)

        replace = screen.query_one("#replace", Checkbox)
        replace.focus()
        await pilot.press("space")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        question = flat(app.screen.query_one("#question", Static))
        assert f"{taken} (legacy)" in question
        await pilot.press("n")  # declined
        await pilot.pause()
        assert not replace.value and not screen.replace

        await preview(app, pilot, screen)
        assert f"Left alone: {taken}" in flat(screen.query_one("#plan-summary", Static))
        await run_confirmed(app, pilot, screen)
        assert screen.result is not None and screen.result.ok
        assert legacy.profile_of(taken) == legacy_arn  # left as it was

        replace.focus()
        await pilot.press("space")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")  # accepted
        await pilot.pause()
        assert replace.value and screen.replace
        await preview(app, pilot, screen)
        script = flat(screen.query_one("#plan-script", Static))
        assert "aws ec2 replace-iam-instance-profile-association" in script
        await run_confirmed(app, pilot, screen)
        assert screen.result is not None and screen.result.ok
    assert legacy.profile_of(taken) == OUR_PROFILE


async def test_ecs_registers_a_revision_with_the_role_and_says_how_to_roll_the_service(
    ecs_env: Any, aws_env: Any, make_services: Callable[..., Any], tmp_path: Path
) -> None:
    world = Aws(aws_env)
    before = register_rundeck_task(world)  # family "rundeck", the family of the task served
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await to_permissions(app, pilot)  # ECS detected and preselected
        assert app.state.method is Method.ECS
        screen = await open_provision(app, pilot, "ecs")
        assert screen.query_one("#task-definition", Input).value == "rundeck"
        assert screen.query_one("#cluster", Input).value == CLUSTER_ARN
        screen.query_one("#service", Input).focus()
        await pilot.press(*"rundeck-svc")
        await preview(app, pilot, screen)
        assert "aws ecs register-task-definition" in flat(screen.query_one("#plan-script", Static))
        await run_confirmed(app, pilot, screen)
        result = screen.result
        assert result is not None and result.ok, result
        outcome = flat(screen.query_one("#provision-outcome", Static))
        saved = tmp_path / "after.sh"
        screen.query_one("#script-file", Input).focus()
        await pilot.press(*str(saved), "enter")

    described = world.ecs.describe_task_definition(taskDefinition="rundeck", include=["TAGS"])
    after = described["taskDefinition"]
    assert after["revision"] == before["revision"] + 1
    assert after["taskRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    assert {k: after.get(k) for k in CARRIED_OVER} == {k: before.get(k) for k in CARRIED_OVER}
    assert described["tags"] == [{"key": "team", "value": "ops"}]
    roles = world.iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"]["Service"] for s in roles] == ["ecs-tasks.amazonaws.com"]
    update = (
        f"aws ecs update-service --cluster {CLUSTER_ARN} --service rundeck-svc "
        f"--task-definition rundeck:{after['revision']} --region us-east-1"
    )
    assert update in outcome
    assert update in saved.read_text().splitlines()  # a command to run, not a comment


def test_the_region_is_detections_else_the_one_typed_in_details() -> None:
    ecs_here = dataclasses.replace(scenes.ecs_detection(), ec2=scenes.ec2_detection().ec2)
    assert region_of(Method.ECS, ecs_here, "eu-central-1") == "us-east-2"  # the task's zone
    assert region_of(Method.EC2, ecs_here, "eu-central-1") == "eu-west-1"  # the instance's
    assert region_of(Method.EC2, scenes.nothing_detected(), "eu-central-1") == "eu-central-1"
    assert region_of(Method.EC2, None, None) == ""  # asked for


async def test_an_instance_taken_between_preview_and_run_is_reported_with_what_exists(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    world = Aws(imds_env)
    legacy = world.other_profile("legacy")
    first, second, third = world.instances(3)
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await to_permissions(app, pilot)
        screen = await open_provision(app, pilot, "node source")
        for instance in (first, second, third):
            await tick_instance(pilot, screen, instance)
        await preview(app, pilot, screen)
        # Another administrator gives the second instance a profile meanwhile.
        world.ec2.associate_iam_instance_profile(
            IamInstanceProfile={"Name": "legacy"}, InstanceId=second
        )
        await run_confirmed(app, pilot, screen)
        result = screen.result
        assert result is not None and not result.ok
        steps = flat(screen.query_one("#provision-steps", Static))
        outcome = flat(screen.query_one("#provision-outcome", Static))
        assert not screen.query_one("#provision-back", Button).disabled
        assert screen.query_one("#run-plan", Button).disabled  # a new run needs a new preview

    assert "✗" in steps and "–" in steps  # the failed call, then the one not run
    assert "Stopped" in outcome and "IncorrectState" in steps  # why, on the failed call
    assert f"instance {first}: instance profile {OUR_PROFILE}" in outcome
    assert f"instance {second}: instance profile {legacy}" in outcome
    assert f"instance {third}: no instance profile" in outcome
    assert f"Give instance {third} the instance profile {ROLE}" in outcome  # not done
    assert "aws ec2 disassociate-iam-instance-profile" in outcome  # how to undo
    assert (world.profile_of(first), world.profile_of(second), world.profile_of(third)) == (
        OUR_PROFILE,
        legacy,
        None,
    )


async def test_without_plugins_nothing_opens_and_an_access_key_has_no_role_to_set_up(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        permissions = await to_permissions(app, pilot)
        assert permissions.query("#provision")
        await pilot.press("ctrl+o")  # nothing ticked: the role would have no permissions
        await pilot.pause()
        assert app.screen is permissions
        await pilot.press("escape")  # back to Method: the access key
        await pilot.pause()
        await pilot.press("home", "down", "down", "enter")
        await pilot.pause()
        access_key = app.screen
        assert isinstance(access_key, PermissionsScreen) and access_key is not permissions
        assert not access_key.query("#provision")
        await tick(pilot, access_key, "node source")
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.screen is access_key
        assert "Set it up" not in app.export_screenshot()


async def test_the_resources_typed_on_permissions_narrow_the_roles_policy(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    bucket = "arn:aws:s3:::rundeck-files"
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await to_permissions(app, pilot)
        permissions = app.screen
        assert isinstance(permissions, PermissionsScreen)
        await tick(pilot, permissions, "s3 steps")
        permissions.query_one("#resources", Input).value = f"bucket={bucket}"
        await pilot.pause()
        screen = await open_provision(app, pilot, "node source")
        request = screen.plan_request("us-east-1")
        wanted = permissions_policy(find(["ec2-nodes", "s3"]), {"bucket": [bucket]})
        assert request["permissions_policy"] == wanted

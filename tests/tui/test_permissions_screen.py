"""The plugin checklist: filtering keeps the ticks, the policy follows them, IAM is asked."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.widgets import Input, SelectionList, Static

from tests.tui.burst import burst, drain, typed
from tests.tui.test_flows import settle
from tui.app import WizardApp
from tui.core.iam.catalog import find
from tui.core.iam.policy import permissions_policy, trust_policy
from tui.core.model import Method
from tui.screens.confirm import ConfirmScreen
from tui.screens.permissions import PermissionsScreen
from tui.screens.scope import ScopeScreen


def shown(widget: Static) -> str:
    """The widget's content as plain text, the way a wide terminal would print it."""
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(widget.content)
    return capture.get()


async def to_permissions(app: WizardApp, pilot: Any) -> PermissionsScreen:
    await settle(app, pilot)
    await pilot.press("enter")  # Detect → Method; EC2 is detected and preselected
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, PermissionsScreen)
    return app.screen


async def tick(pilot: Any, screen: PermissionsScreen, typed: str) -> None:
    """Filter by ``typed`` and tick the first match, the way a user does."""
    screen.query_one("#plugin-filter", Input).focus()
    await pilot.press("ctrl+a", "ctrl+k", *typed, "enter")  # Enter: into the list, on row 1
    await pilot.press("space")
    await pilot.pause()


async def test_typing_filters_and_down_moves_on_from_the_highlighted_row(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    """The title says "type to filter": typing reaches the filter at once, and from the list
    too; after Enter the first match is highlighted, and Down moves to the second."""
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_permissions(app, pilot)
        field = screen.query_one("#plugin-filter", Input)
        listed = screen.query_one("#plugins", SelectionList)
        assert app.focused is field
        await pilot.press(*"s3", "enter")
        assert field.value == "s3" and listed.option_count > 1
        assert app.focused is listed and listed.highlighted == 0
        second = listed.get_option_at_index(1).value
        await pilot.press("down", "space")
        await pilot.pause()
        assert app.state.plugins == (second,)  # the second row, the one highlighted
        await pilot.press(*"ab")  # space ticks in the list; letters go to the filter
        await pilot.pause()
        assert app.focused is field and field.value == "s3ab"
        await pilot.press("backspace", "backspace", "down")
        assert app.focused is listed and listed.highlighted == 0


async def test_a_filter_then_space_in_one_burst_ticks_the_first_match(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    """Typed ahead over a laggy link: Enter (or Down) from the filter, then Space, reach the
    list before the app has handled the Enter; the Space still ticks, it does not go into the
    filter."""
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_permissions(app, pilot)
        field = screen.query_one("#plugin-filter", Input)
        burst(app, *typed("node source"), "enter", "space")
        await drain(app, pilot)
        assert app.state.plugins == ("ec2-nodes",) and field.value == "node source"
        field.focus()
        await pilot.pause()
        burst(app, "ctrl+a", "ctrl+k", *typed("s3 steps"), "down", "space")
        await drain(app, pilot)
        assert app.state.plugins == ("ec2-nodes", "s3") and field.value == "s3 steps"


async def test_ticks_survive_filtering_and_the_saved_policy_is_the_cores(
    imds_env: Any, make_services: Callable[..., Any], tmp_path: Path
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_permissions(app, pilot)
        assert "Tick the plugins" in shown(screen.query_one("#policy", Static))
        await tick(pilot, screen, "node source")  # EC2 node source comes first
        await tick(pilot, screen, "s3 steps")
        assert app.state.plugins == ("ec2-nodes", "s3")
        listed = screen.query_one("#plugins", SelectionList)
        assert listed.option_count == 1  # the filter is still "s3 steps"
        await pilot.press("ctrl+a", "ctrl+k")  # back in the list: clear the filter instead
        screen.query_one("#plugin-filter", Input).value = ""
        await pilot.pause()
        assert set(listed.selected) == {"ec2-nodes", "s3"}  # ticks kept across filters

        target = tmp_path / "rundeck-policy.json"
        field = screen.query_one("#policy-file", Input)
        field.focus()
        await pilot.press(*str(target), "enter")
        await pilot.pause()
        saved = json.loads(target.read_text())
        assert saved == permissions_policy(find(["ec2-nodes", "s3"]))
        policy_text = shown(screen.query_one("#policy", Static))
        assert json.dumps(trust_policy(Method.EC2)["Statement"][0]["Principal"]) in " ".join(
            policy_text.split()
        ).replace("{ ", "{").replace(" }", "}")  # the trust policy of the role method

        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, ScopeScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.state.plugins == ("ec2-nodes", "s3")  # Esc back keeps the answers


async def test_check_with_aws_says_unknown_when_iam_cannot_simulate(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    """moto has no SimulatePrincipalPolicy: the screen must say unknown, never guess."""
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_permissions(app, pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.state.policy_check is None  # nothing ticked: nothing asked
        await tick(pilot, screen, "lambda: execute")
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        check = app.state.policy_check
        assert check is not None
        assert [verdict.state for verdict in check.verdicts] == ["unknown"]
        verdicts = shown(screen.query_one("#verdicts", Static))
        assert "Lambda: execute function: unknown" in verdicts
        assert check.verdicts[0].reason in verdicts  # the honest reason, not a guess


async def test_the_access_key_user_policy_lets_the_key_rotate_itself(
    aws_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("home", "down", "down", "enter")  # access key
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PermissionsScreen)
        policy_text = shown(screen.query_one("#policy", Static))
        assert "iam:CreateAccessKey" in policy_text and "${aws:username}" in policy_text
        assert "Trust policy" not in policy_text


async def test_a_bucket_narrows_the_policy_and_a_bad_one_is_said_as_typed(
    imds_env: Any, make_services: Callable[..., Any]
) -> None:
    """S3 steps ticked: a resources field appears; a bucket ARN narrows s3:DeleteBucket and the
    rest to it (as `policy --resource` does); a malformed item is said at once and narrows
    nothing; the headless command carries the resource."""
    bucket = "arn:aws:s3:::rundeck-files"
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_permissions(app, pilot)
        field = screen.query_one("#resources", Input)
        assert field.display is False  # nothing ticked: nothing to narrow
        await tick(pilot, screen, "s3 steps")
        assert field.display is True and "bucket=" in field.placeholder
        field.value = "bucket"
        await pilot.pause()
        note = shown(screen.query_one("#resource-note", Static))
        assert "is not KIND=ARN" in note and app.state.resources == ""
        field.value = f"bucket={bucket}"
        await pilot.pause()
        assert "limited to these resources" in shown(screen.query_one("#resource-note", Static))
        expected = permissions_policy(find(["s3"]), {"bucket": [bucket]})
        assert json.loads(screen.policy_text() or "") == expected
        assert expected != permissions_policy(find(["s3"]))  # it did narrow something
        assert f"--resource bucket={bucket}" in screen.policy_command()


async def test_saving_the_policy_writes_the_trust_policy_beside_it_and_asks_before_replacing(
    imds_env: Any, make_services: Callable[..., Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative name is reported by its absolute path
    (tmp_path / "role-trust.json").write_text("kept\n")
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_permissions(app, pilot)
        await tick(pilot, screen, "s3 steps")
        field = screen.query_one("#policy-file", Input)
        field.focus()
        await pilot.press(*"role.json", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # role-trust.json is there already
        assert str(tmp_path / "role-trust.json") in str(app.screen.question)
        await pilot.press("n")
        await pilot.pause()
        assert not (tmp_path / "role.json").exists()
        assert (tmp_path / "role-trust.json").read_text() == "kept\n"
        await pilot.press("enter")  # the field still has the focus: ask again, and say yes
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert json.loads((tmp_path / "role.json").read_text()) == permissions_policy(find(["s3"]))
        assert json.loads((tmp_path / "role-trust.json").read_text()) == trust_policy(Method.EC2)
        messages = [note.message for note in app._notifications]
        assert any(str(tmp_path / "role.json") in message for message in messages), messages

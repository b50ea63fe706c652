"""Navigation, cancellation, failures during Apply, and secrets in a crash."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tests.tui.test_flows import KEY_ID, SECRET, settle, type_into
from tui.app import WizardApp
from tui.core.secret import Secret
from tui.screens.apply import ApplyScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.details import DetailsScreen
from tui.screens.detect import DetectScreen
from tui.screens.method import MethodScreen
from tui.screens.review import ReviewScreen
from tui.screens.scope import ScopeScreen
from tui.screens.status import StatusScreen
from tui.widgets.key_bar import KeyBar
from tui.widgets.step_list import StepList

REPO = Path(__file__).resolve().parents[2]


def snapshot_files(base: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(base)): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }


async def to_review_with_access_key(app: WizardApp, pilot: Any, project: str) -> None:
    await settle(app, pilot)
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press("home", "down", "down", "enter")
    await pilot.pause()
    await pilot.press("ctrl+n")  # Permissions: nothing ticked
    await pilot.pause()
    assert isinstance(app.screen, ScopeScreen)
    await pilot.press("down", "enter")
    await type_into(pilot, app, "#project-name", project)
    await pilot.press("ctrl+n")
    await settle(app, pilot)
    await type_into(pilot, app, "#access-key-id", KEY_ID)
    await type_into(pilot, app, "#secret", SECRET)
    await pilot.press("ctrl+n")
    await settle(app, pilot)
    assert isinstance(app.screen, ReviewScreen)


async def test_back_keeps_answers_and_a_new_method_removes_the_old_keys(
    imds_env: Any,
    keystore: Any,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    java_properties: Any,
) -> None:
    ops = rundeck_base / "projects/ops/etc/project.properties"
    ops.write_text(ops.read_text() + "# left by hand:\nproject.aws.credentialProvider=instance\n")
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, StatusScreen)  # a setup exists: status first
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("enter")  # EC2 is recommended and preselected
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("ctrl+n")  # Permissions: nothing ticked
        await pilot.pause()
        await pilot.press("down", "enter")
        await type_into(pilot, app, "#project-name", "ops")
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape", "escape", "escape", "escape")
        await pilot.pause()
        assert isinstance(app.screen, MethodScreen)
        await pilot.press("home", "down", "down", "enter")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, ScopeScreen)
        assert app.screen.query_one("#project-name", Input).value == "ops"  # kept
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailsScreen)
        await type_into(pilot, app, "#access-key-id", KEY_ID)
        await type_into(pilot, app, "#secret", SECRET)
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert app.state.plan is not None
        assert "project.aws.credentialProvider" in app.state.plan.removed_keys
        assert any("Removes" in warning for warning in app.state.plan.warnings)
        await pilot.press("ctrl+a")
        await settle(app, pilot)
    values = java_properties(rundeck_base / "projects/ops/etc/project.properties")
    assert "project.aws.credentialProvider" not in values
    assert values["project.aws.access_key"] == KEY_ID


async def test_quitting_at_review_asks_and_writes_nothing(
    aws_env: Any, keystore: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    before = snapshot_files(rundeck_base)
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_review_with_access_key(app, pilot, "ops")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 1
    assert snapshot_files(rundeck_base) == before
    assert keystore.get("keys/project/ops/aws/secret-key") is None


async def test_quitting_before_any_answer_does_not_ask(
    aws_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.state.method = None
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_the_key_bar_lists_the_step_keys_and_a_click_presses_one(
    aws_env: Any, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(make_services())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MethodScreen)
        bar = app.screen.query_one(KeyBar)
        line = str(bar.render())
        assert "Back" in line and "Quit" in line
        assert "Detect again" not in line  # the previous step's keys are gone
        await pilot.click(KeyBar, offset=(line.index("Back"), 0))
        await pilot.pause()
        assert isinstance(app.screen, DetectScreen)


async def test_a_locked_keyring_during_apply_changes_nothing(
    aws_env: Any,
    keystore: Any,
    secret_service_clean: Any,
    rundeck_base: Path,
    make_services: Callable[..., Any],
) -> None:
    before = snapshot_files(rundeck_base)
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_review_with_access_key(app, pilot, "ops")
        secret_service_clean.lock()
        try:
            await pilot.press("ctrl+a")
            await settle(app, pilot)
            assert isinstance(app.screen, ApplyScreen)
            assert app.state.result is not None and not app.state.result.ok
            title = str(app.screen.query_one("#apply-title").render())
            assert "Nothing was changed" in title
        finally:
            secret_service_clean.unlock()
    assert snapshot_files(rundeck_base) == before
    assert keystore.get("keys/project/ops/aws/secret-key") is None


async def test_a_failing_record_write_rolls_back_keyring_and_file(
    aws_env: Any, keystore: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    record = rundeck_base / "projects/ops/etc/aws-setup.toml"
    record.mkdir()  # a folder where the record goes: the last write of Apply fails for real
    before = snapshot_files(rundeck_base)
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_review_with_access_key(app, pilot, "ops")
        await pilot.press("ctrl+a")
        await settle(app, pilot)
        result = app.state.result
        assert result is not None and not result.ok
        rolled_back = {step.name for step in result.steps if step.status == "rolled back"}
        assert rolled_back == {"keyring", "properties"}
        shown = app.screen.query_one("#steps", StepList).steps
        assert "restored as it was" in [step.detail for step in shown]
    assert snapshot_files(rundeck_base) == before  # no backup file left behind either
    assert keystore.get("keys/project/ops/aws/secret-key") is None


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Make a file immutable (chattr +i): unwritable even for root, as the suite runs."""
    if shutil.which("chattr") is None:
        pytest.fail("chattr (e2fsprogs) is needed for the read-only file tests")
    marked: list[Path] = []

    def mark(path: Path) -> None:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"this filesystem has no immutable attribute: {done.stderr.strip()}")
        marked.append(path)

    yield mark
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], check=False)


async def test_a_read_only_properties_file_changes_nothing(
    aws_env: Any,
    keystore: Any,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    immutable: Callable[[Path], None],
) -> None:
    target = rundeck_base / "projects/ops/etc/project.properties"
    immutable(target)
    before = snapshot_files(rundeck_base)
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_review_with_access_key(app, pilot, "ops")
        await pilot.press("ctrl+a")
        await settle(app, pilot)
        result = app.state.result
        assert result is not None and not result.ok
        assert result.error is not None and "read-only" in result.error
    assert snapshot_files(rundeck_base) == before
    assert keystore.get("keys/project/ops/aws/secret-key") is None


CRASH_SCRIPT = """
import sys
from pathlib import Path
from tui.app import WizardApp
from tui.core.secret import Secret
from tui.core.model import Method, Scope
from tui.demo import make_rundeck_layout
from tui.screens.detect import DetectScreen
from textual.screen import Screen
from tui.screens.details import DetailsScreen
from tui.services import Services, now
from tui.state import WizardState

SECRET = sys.stdin.readline().strip()
state = WizardState(method=Method.ACCESS_KEY, scope=Scope.SYSTEM)

def explode():
    held = app.screen.query_one("#secret").value  # a local that holds the secret
    raise RuntimeError("forced crash with a secret in a local variable: " + str(len(held)))

class CrashingApp(WizardApp):
    def get_default_screen(self):
        return Screen()  # the auto-pilot opens the Details step; no detection

async def auto_pilot(pilot):
    await pilot.app.push_screen(DetailsScreen())
    await pilot.pause()
    pilot.app.screen.query_one("#secret").focus()
    await pilot.press(*SECRET)
    await pilot.pause()
    pilot.app.call_later(explode)
    await pilot.pause()

services = Services(detect=None, install=None, keystore=None, verify=None, clock=now)
app = CrashingApp(services, state=state)
app.run(headless=True, size=(80, 24), auto_pilot=auto_pilot)
print("exit code", app.return_code)
"""


def test_a_crash_never_prints_the_secret(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(CRASH_SCRIPT))
    run = subprocess.run(
        [sys.executable, str(script)],
        input=SECRET + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    output = run.stdout + run.stderr
    assert "forced crash with a secret in a local variable: 40" in output  # it did crash
    assert "exit code 1" in run.stdout
    assert SECRET not in output
    assert SECRET[:20] not in output and SECRET[-20:] not in output


async def test_a_database_project_gets_the_lines_to_paste_and_the_secret_goes_to_the_keyring(
    aws_env: Any,
    keystore: Any,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    java_properties: Any,
    tmp_path: Path,
) -> None:
    """A project with no project.properties: the lines come at Review, with the key id typed
    in Details (the Scope step comes before it); Save writes them and stores the secret in
    the keyring, and no file of the install changes."""
    before = snapshot_files(rundeck_base)
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_review_with_access_key(app, pilot, "billing")
        assert "database" in str(app.screen.query_one("#review-status").render())
        assert not app.screen.query_one("#apply").display  # nothing to apply here
        lines_file = tmp_path / "billing-lines.properties"
        field = app.screen.query_one("#paste-file", Input)
        field.focus()
        await pilot.press(*str(lines_file), "enter")
        await settle(app, pilot)
    assert java_properties(lines_file) == {
        "project.aws.access_key": KEY_ID,
        "project.aws.secret_key_path": "keys/project/billing/aws/secret-key",
    }
    assert snapshot_files(rundeck_base) == before
    assert keystore.get("keys/project/billing/aws/secret-key") == Secret(SECRET)
    assert SECRET not in lines_file.read_text()


async def test_a_database_project_whose_lines_cannot_be_saved_stores_no_secret(
    aws_env: Any, keystore: Any, make_services: Callable[..., Any], tmp_path: Path
) -> None:
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_review_with_access_key(app, pilot, "billing")
        field = app.screen.query_one("#paste-file", Input)
        field.focus()
        await pilot.press(*str(tmp_path / "no-such-folder" / "lines"), "enter")
        await settle(app, pilot)
    assert keystore.get("keys/project/billing/aws/secret-key") is None  # taken back out

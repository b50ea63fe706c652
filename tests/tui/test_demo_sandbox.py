"""The demo sandbox can be reopened: its files and its keyring (a file inside it) survive the
exit, the exit says how to reopen it, and the command line refuses what it cannot honour."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from tests.tui.test_flows import KEY_ID, SECRET, settle
from tests.tui.test_rotate_screen import finish, rotate_screen, until
from tests.tui.test_status_screen import KEY_PATH, set_up_ops
from tui.app import WizardApp
from tui.cli import main
from tui.core.keystore import KeyStore
from tui.demo import DemoSandbox
from tui.demo_reopen import KEYRING_FILE, exit_lines, reopen_command
from tui.demo_services import demo_services
from tui.screens.rotate import RotateScreen
from tui.screens.status import StatusScreen


def demo_keystore(sandbox: DemoSandbox) -> KeyStore:
    return KeyStore(sandbox.keyring, assume_security="secure")


def keep_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox points this process's AWS calls at its moto; put them back afterwards."""
    for name in ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, "")


async def test_a_reopened_sandbox_opens_on_status_and_rotates(
    aws_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_environment(monkeypatch)
    for service in ("STS", "IAM"):  # the sandbox's own moto, not the suite's
        monkeypatch.delenv(f"AWS_ENDPOINT_URL_{service}")
    first = DemoSandbox(tmp_path / "demo")
    set_up_ops(first.rdeck_base, demo_keystore(first))
    keyring_file = first.root / KEYRING_FILE
    assert stat.S_IMODE(keyring_file.stat().st_mode) == 0o600
    assert SECRET not in (first.rdeck_base / "projects/ops/etc/project.properties").read_text()

    again = DemoSandbox(first.root, reopen=True)
    assert again.rdeck_base == first.rdeck_base
    stored = demo_keystore(again).get(KEY_PATH)
    assert stored is not None and stored.reveal() == SECRET
    services, _ = demo_services(again)
    app = WizardApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        status = app.screen
        assert isinstance(status, StatusScreen)
        entry = status.selected_entry()
        assert entry is not None and entry.project == "ops"
        assert entry.secret_present is True
        assert entry.access_key_id == KEY_ID
        # The sandbox's AWS knows the key again (moto forgot it at exit): IAM answers.
        await until(pilot, lambda: status.selected_entry().iam is not None, "IAM's answer")  # type: ignore[union-attr]
        iam = status.selected_entry().iam  # type: ignore[union-attr]
        assert iam is not None and iam.error is None and iam.iam_user == "rundeck-demo-ops"
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, RotateScreen), "Rotate")
        await until(pilot, lambda: rotate_screen(app).ready, "Rotate to read the setup")
        await pilot.press("enter")
        screen = await finish(app, pilot)
        assert screen.result is not None and screen.result.outcome == "rotated", screen.result
    again.stop()
    rotated = demo_keystore(DemoSandbox(first.root, reopen=True)).get(KEY_PATH)
    assert rotated is not None and rotated.reveal() != SECRET  # the new secret, kept in the file


def test_the_exit_says_how_to_reopen_the_sandbox(tmp_path: Path) -> None:
    sandbox = DemoSandbox(tmp_path / "demo")
    said = "\n".join(exit_lines(sandbox.root, sandbox.rdeck_base))
    assert f"pa-aws-setup --demo --sandbox {sandbox.root}" in said
    assert reopen_command(Path("/tmp/a b")) == "pa-aws-setup --demo --sandbox '/tmp/a b'"
    assert str(sandbox.root / KEYRING_FILE) in said and "throwaway secrets" in said


def test_demo_with_rdeck_base_is_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "--rdeck-base", "/var/lib/rundeck"]) == 2
    told = capsys.readouterr().err
    assert "--rdeck-base cannot be used with it" in told and "--sandbox DIR" in told


def test_a_folder_that_is_not_a_sandbox_is_refused_and_left_alone(
    tmp_path: Path, rundeck_base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p: p.read_bytes() for p in rundeck_base.rglob("*") if p.is_file()}
    assert main(["--demo", "--sandbox", str(rundeck_base.parent)]) == 2
    assert "is not a pa-aws-setup demo sandbox" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in rundeck_base.rglob("*") if p.is_file()} == before
    assert not (rundeck_base.parent / KEYRING_FILE).exists()


def test_the_demo_identity_is_the_detected_instance_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.core.detect import detect_environment

    keep_environment(monkeypatch)
    sandbox = DemoSandbox(tmp_path / "demo")
    try:
        sandbox.start_aws()
        detection = detect_environment(sandbox.detection_environment(), on_progress=None)
    finally:
        sandbox.stop()
    role = detection.ec2.role_name
    assert detection.ec2.detected and role
    assert detection.identity.source == "iam-role"
    assert f":assumed-role/{role}/{detection.ec2.instance_id}" in detection.identity.arn
    assert "user/moto" not in detection.identity.arn


def test_a_reopened_sandbox_keeps_what_its_rundeck_held(tmp_path: Path) -> None:
    """A project only in the demo Rundeck's database, set up through the API: kept as it is
    written, and after a reopen its config is still there, Key Storage holds its secret
    again (from the sandbox keyring), and moto gets its key back; no secret is kept."""
    from tui.core.rundeck_api import RundeckClient
    from tui.core.secret import Secret
    from tui.demo import DEMO_TOKEN
    from tui.demo_iam import configured_keys
    from tui.demo_rundeck import STATE_FILE

    path = "keys/project/billing/aws/secret-key"
    first = DemoSandbox(tmp_path / "demo")
    url = first.start_rundeck()
    with RundeckClient(url, Secret(DEMO_TOKEN)) as client:
        client.set_config_key("billing", "project.aws.access_key", KEY_ID)
        client.set_config_key("billing", "project.aws.secret_key_path", path)
    demo_keystore(first).put(path, Secret(SECRET))
    kept = (first.root / STATE_FILE).read_text(encoding="utf-8")  # kept at once, not at exit
    assert KEY_ID in kept  # so a demo killed now loses nothing
    assert SECRET not in kept and DEMO_TOKEN not in kept
    first.stop()

    again = DemoSandbox(first.root, reopen=True)
    try:
        again.start_rundeck()
        config = again.rundeck.project_config("billing")
        assert config["project.aws.access_key"] == KEY_ID
        assert config["project.description"] == "Invoices and payments"  # the rest kept too
        assert again.rundeck.read_password(path) == SECRET.encode()  # as a plugin reads it
        assert ("rundeck-demo-billing", KEY_ID, SECRET) in configured_keys(
            again.rdeck_base, again.keyring
        )
    finally:
        again.stop()

"""``pa-aws-setup status`` and ``rotate`` as real processes against moto, gnome-keyring and Java.

Every run's output is searched for every secret the test has seen (old and new keys).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    SYSTEM_KEY_PATH,
    USER,
    FailingClients,
    Rundeck,
    iam_world_fixture,
    make_install,
    now,
    rundeck_fixture,
    set_up_access_key,
)
from tui import __version__
from tui.core.model import Scope
from tui.core.rotation import PREVIOUS_SUFFIX, rotate_key
from tui.core.secret import Secret

REPO = Path(__file__).resolve().parents[2]
ENVELOPE = ["schema_version", "version", "command", "exit_code", "ok"]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self, command: str) -> dict[str, Any]:
        document = json.loads(self.stdout)
        assert list(document)[: len(ENVELOPE)] == ENVELOPE, list(document)
        assert document["schema_version"] == 1 and document["version"] == __version__
        assert document["command"] == command
        assert document["exit_code"] == self.code
        assert document["ok"] is (self.code == 0)
        return dict(document)


def cli(rundeck: Rundeck, *args: str, stdin: Any = subprocess.DEVNULL) -> Run:
    """``python -m tui ARGS --rdeck-base BASE``, checked free of secrets and tracebacks."""
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring")
    completed = subprocess.run(
        [sys.executable, "-m", "tui", *args, "--rdeck-base", str(rundeck.install.base)],
        stdin=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=90,
        check=False,
    )
    run = Run(completed.returncode, completed.stdout, completed.stderr)
    stored = rundeck.keystore.get("keys/aws/secret-key")
    for secret in [*rundeck.secrets, *([stored] if stored else [])]:
        leaked = secret.reveal() in run.stdout + run.stderr
        assert not leaked, "a secret appeared in the output"
    assert "Traceback" not in run.stderr, run.stderr
    return run


def snapshot(rundeck: Rundeck) -> tuple[bytes, bytes, dict[str, str]]:
    return (
        rundeck.file.read_bytes(),
        rundeck.file.with_name("aws-setup.toml").read_bytes(),
        rundeck.world.access_keys(),
    )


# --- rotate ----------------------------------------------------------------------------------


def test_rotate_refuses_without_yes_when_stdin_is_not_a_terminal(rundeck: Rundeck) -> None:
    rundeck.configured_key()
    before = snapshot(rundeck)
    run = cli(rundeck, "rotate", "--system")
    assert run.code == 2
    assert "--yes" in run.stderr
    assert snapshot(rundeck) == before


def test_rotate_with_delete_old_as_json(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    run = cli(rundeck, "rotate", "--system", "--yes", "--delete-old", "--json")
    assert run.code == 0, run.stdout + run.stderr
    document = run.json("rotate")
    assert document["outcome"] == "rotated"
    assert document["old_access_key_id"] == old
    new = rundeck.configured_key()
    assert document["new_access_key_id"] == new != old
    assert document["iam_user"] == "rundeck"
    assert rundeck.world.access_keys() == {new: "Active"}
    assert [step["name"] for step in document["steps"] if step["status"] == "done"][-1] == "finish"
    assert document["scope"] == "system" and document["resumed"] is False


def test_rotate_twice_keeping_the_old_key_prints_each_step(rundeck: Rundeck) -> None:
    first = rundeck.configured_key()
    runs = [cli(rundeck, "rotate", "--yes") for _ in range(2)]  # the only setup: no scope needed
    assert [run.code for run in runs] == [0, 0], runs
    third = rundeck.configured_key()
    assert rundeck.world.access_keys()[third] == "Active"
    assert first not in rundeck.world.access_keys()
    assert len(rundeck.world.access_keys()) == 2
    assert "✓ create: created" in runs[0].stdout
    assert "Rotated: Rundeck uses the new key." in runs[1].stdout
    assert "left inactive by the previous rotation" in runs[1].stdout


def test_rotate_refuses_when_an_active_spare_fills_the_limit(rundeck: Rundeck) -> None:
    rundeck.configured_key()
    spare, _ = rundeck.world.create_key()
    before = snapshot(rundeck)
    run = cli(rundeck, "rotate", "--system", "--yes", "--delete-inactive", "--json")
    assert run.code == 6
    document = run.json("rotate")
    assert document["outcome"] == "refused"
    assert spare in document["error"] and "never deletes an active key" in document["error"]
    assert snapshot(rundeck) == before


def test_inactive_spare_needs_consent(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    spare, _ = rundeck.world.create_key(status="Inactive")
    before = snapshot(rundeck)
    refused = cli(rundeck, "rotate", "--system", "--yes")
    assert refused.code == 2 and spare in refused.stdout
    assert snapshot(rundeck) == before
    done = cli(rundeck, "rotate", "--system", "--yes", "--delete-inactive")
    assert done.code == 0, done.stdout + done.stderr
    new = rundeck.configured_key()
    assert rundeck.world.access_keys() == {new: "Active", old: "Inactive"}


def test_interrupted_rotation_must_be_resumed_explicitly(rundeck: Rundeck) -> None:
    clients = FailingClients()
    clients.refuse("update_access_key")
    partial = rotate_key(
        rundeck.target(), keystore=rundeck.keystore, clock=now, client_factory=clients
    )
    assert partial.outcome == "partial"
    new = rundeck.configured_key()
    before = snapshot(rundeck)

    plain = cli(rundeck, "rotate", "--system", "--yes")
    assert plain.code == 2
    assert "--resume finish or --resume rollback" in plain.stderr
    assert snapshot(rundeck) == before

    finished = cli(rundeck, "rotate", "--yes", "--resume", "finish", "--delete-old", "--json")
    assert finished.code == 0, finished.stdout + finished.stderr
    document = finished.json("rotate")
    assert document["resumed"] is True and document["interrupted"]["configured_key"] == new
    assert rundeck.configured_key() == new
    assert rundeck.world.access_keys() == {new: "Active"}


def test_resume_without_an_interrupted_rotation_is_a_usage_error(rundeck: Rundeck) -> None:
    run = cli(rundeck, "rotate", "--system", "--yes", "--resume", "rollback")
    assert run.code == 2 and "no interrupted rotation" in run.stderr


def test_rotate_needs_a_scope_when_several_setups_use_keys(rundeck: Rundeck) -> None:
    rundeck.world.delete_key(rundeck.config_works())
    key, secret = rundeck.world.create_key()
    set_up_access_key(
        rundeck.install, rundeck.keystore, key, secret, scope=Scope.PROJECT, project="ops"
    )
    run = cli(rundeck, "rotate", "--yes")
    assert run.code == 2
    assert "--system" in run.stderr and "--project ops" in run.stderr


def test_rotate_without_an_access_key_setup(rundeck: Rundeck) -> None:
    run = cli(rundeck, "rotate", "--project", "ops", "--yes")
    assert run.code == 2 and "no key to rotate" in run.stderr


def test_on_a_terminal_rotate_asks_before_and_about_the_old_key(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"y\nn\n")  # rotate: yes; delete the old key: no
        run = cli(rundeck, "rotate", "--system", stdin=terminal)
    finally:
        os.close(controller)
        os.close(terminal)
    assert run.code == 0, run.stdout + run.stderr
    assert f"Rotate the access key {old}" in run.stdout
    assert "Delete the old key at the end" in run.stdout
    new = rundeck.configured_key()
    assert rundeck.world.access_keys() == {new: "Active", old: "Inactive"}


# --- rotate --manual: a key pair created in the console ---------------------------------------

DENY_RETIRING = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": ["iam:UpdateAccessKey", "iam:DeleteAccessKey"],
            "Resource": "*",
        }
    ],
}


def console_key(rundeck: Rundeck) -> tuple[str, Secret]:
    """A second key of the Rundeck user, made by the admin as in the console; its secret is
    added to the ones every run's output is searched for."""
    key, secret = rundeck.world.create_key()
    rundeck.secrets.append(secret)
    return key, secret


def secret_file(tmp_path: Path, secret: Secret) -> Path:
    path = tmp_path / "new-key-secret"
    path.write_text(secret.reveal() + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def manual(rundeck: Rundeck, key: str, *args: str, stdin: Any = subprocess.DEVNULL) -> Run:
    """``rotate --manual --system --access-key-id KEY ARGS``; no secret is ever in argv."""
    argv = ["rotate", "--manual", "--system", "--access-key-id", key, *args]
    for secret in rundeck.secrets:
        assert all(secret.reveal() not in arg for arg in argv)
    return cli(rundeck, *argv, stdin=stdin)


def assert_secrets_only_in_the_keyring(rundeck: Rundeck) -> None:
    """No file of the install (properties, backups, record, lock) holds any known secret."""
    files = [path for path in rundeck.install.base.rglob("*") if path.is_file()]
    assert any(path.name == "aws-setup.toml" for path in files)
    for path in files:
        data = path.read_bytes()
        for secret in rundeck.secrets:
            assert secret.reveal().encode() not in data, f"a secret is in {path}"


def test_manual_rotation_switches_to_the_console_key_and_leaves_the_old_one_active(
    rundeck: Rundeck, tmp_path: Path
) -> None:
    old = rundeck.configured_key()
    new, secret = console_key(rundeck)
    run = manual(
        rundeck, new, "--secret-file", str(secret_file(tmp_path, secret)), "--yes", "--json"
    )
    assert run.code == 0, run.stdout + run.stderr
    document = run.json("rotate")
    assert document["outcome"] == "rotated" and document["manual"] is True
    assert (document["old_access_key_id"], document["new_access_key_id"]) == (old, new)
    done = [step["name"] for step in document["steps"] if step["status"] == "done"]
    assert done == ["verify", "keyring", "properties", "record", "switch"]  # STS first
    assert rundeck.config_works() == new  # Java reads the new id; the keyring holds its secret
    assert rundeck.world.access_keys() == {old: "Active", new: "Active"}
    assert any("AWS console" in step and old in step for step in document["next_steps"])
    record = rundeck.record()
    assert record.rotation is None and record.previous_access_key_id == old
    assert rundeck.keystore.get(SYSTEM_KEY_PATH + PREVIOUS_SUFFIX) is None
    assert_secrets_only_in_the_keyring(rundeck)


def test_manual_rotation_with_keep_old_deactivates_it(rundeck: Rundeck, tmp_path: Path) -> None:
    old = rundeck.configured_key()
    new, secret = console_key(rundeck)
    with secret_file(tmp_path, secret).open("rb") as stdin:
        run = manual(rundeck, new, "--secret-stdin", "--yes", "--keep-old", stdin=stdin)
    assert run.code == 0, run.stdout + run.stderr
    assert "✓ deactivate:" in run.stdout and "Rotated: Rundeck uses the new key." in run.stdout
    assert rundeck.configured_key() == new
    assert rundeck.world.access_keys() == {old: "Inactive", new: "Active"}
    assert rundeck.record().previous_key_inactive  # so the next rotation may delete it
    assert_secrets_only_in_the_keyring(rundeck)


def test_manual_rotation_with_delete_old_takes_the_secret_from_a_named_variable(
    rundeck: Rundeck, monkeypatch: pytest.MonkeyPatch
) -> None:
    rundeck.configured_key()
    new, secret = console_key(rundeck)
    monkeypatch.setenv("NEW_AWS_SECRET", secret.reveal())
    run = manual(rundeck, new, "--secret-env", "NEW_AWS_SECRET", "--yes", "--delete-old")
    assert run.code == 0, run.stdout + run.stderr
    assert rundeck.configured_key() == new
    assert rundeck.world.access_keys() == {new: "Active"}
    assert_secrets_only_in_the_keyring(rundeck)


@pytest.mark.parametrize("wrong", ["secret", "key id"])
def test_manual_rotation_with_a_key_sts_rejects_changes_nothing(
    rundeck: Rundeck, tmp_path: Path, wrong: str
) -> None:
    old = rundeck.configured_key()
    stored = rundeck.keystore.get(SYSTEM_KEY_PATH)
    new, secret = console_key(rundeck)
    if wrong == "secret":
        secret = Secret(secret.reveal()[::-1])
    else:
        new = "AKIA" + "Z" * 16
    rundeck.secrets.append(secret)
    before = snapshot(rundeck)
    path = str(secret_file(tmp_path, secret))
    run = manual(rundeck, new, "--secret-file", path, "--yes", "--wait-seconds", "0", "--json")
    assert run.code == 3, run.stdout + run.stderr
    document = run.json("rotate")
    assert document["outcome"] == "refused" and document["error_kind"] == "verify"
    assert ("SignatureDoesNotMatch" if wrong == "secret" else "InvalidClientTokenId") in (
        document["error"]
    )
    assert snapshot(rundeck) == before
    assert rundeck.keystore.get(SYSTEM_KEY_PATH) == stored and rundeck.config_works() == old


def test_manual_rotation_refuses_a_temporary_key(rundeck: Rundeck, tmp_path: Path) -> None:
    rundeck.configured_key()
    secret = Secret("t" * 40)
    rundeck.secrets.append(secret)
    before = snapshot(rundeck)
    run = manual(
        rundeck, "ASIA" + "Q" * 16, "--secret-file", str(secret_file(tmp_path, secret)), "--yes"
    )
    assert run.code == 2
    assert "temporary" in run.stderr and "Nothing was changed" in run.stderr
    assert snapshot(rundeck) == before


def test_manual_rotation_refuses_the_key_in_use(rundeck: Rundeck, tmp_path: Path) -> None:
    old = rundeck.configured_key()
    stored = rundeck.keystore.get(SYSTEM_KEY_PATH)
    assert stored is not None
    before = snapshot(rundeck)
    run = manual(rundeck, old, "--secret-file", str(secret_file(tmp_path, stored)), "--yes")
    assert run.code == 2 and "already the configured key" in run.stderr
    assert snapshot(rundeck) == before


def test_another_users_key_needs_allow_other_user_and_leaves_the_old_key_alone(
    rundeck: Rundeck, tmp_path: Path
) -> None:
    old = rundeck.configured_key()
    iam = rundeck.world.admin("iam")
    iam.create_user(UserName="someone-else")
    created = iam.create_access_key(UserName="someone-else")["AccessKey"]
    other, secret = created["AccessKeyId"], Secret(created["SecretAccessKey"])
    rundeck.secrets.append(secret)
    path = str(secret_file(tmp_path, secret))
    before = snapshot(rundeck)

    refused = manual(rundeck, other, "--secret-file", path, "--yes", "--json")
    assert refused.code == 3
    assert "someone-else" in refused.stdout and "--allow-other-user" in refused.stdout
    verify = [step for step in refused.json("rotate")["steps"] if step["name"] == "verify"]
    assert [step["status"] for step in verify][-1] == "done"  # verified, then refused
    assert snapshot(rundeck) == before
    retiring = manual(
        rundeck, other, "--secret-file", path, "--yes", "--allow-other-user", "--keep-old"
    )
    assert retiring.code == 2 and "another user's key" in retiring.stdout
    assert snapshot(rundeck) == before

    allowed = manual(rundeck, other, "--secret-file", path, "--yes", "--allow-other-user", "--json")
    assert allowed.code == 0, allowed.stdout + allowed.stderr
    document = allowed.json("rotate")
    assert document["outcome"] == "rotated" and document["iam_user"] == "someone-else"
    assert rundeck.java_settings() == (other, SYSTEM_KEY_PATH)
    assert rundeck.keystore.get(SYSTEM_KEY_PATH) == secret
    assert rundeck.world.access_keys() == {old: "Active"}
    assert any(f"Users → {USER} →" in step for step in document["next_steps"])


def test_when_the_new_key_may_not_retire_the_old_one_the_console_steps_are_given(
    rundeck: Rundeck, tmp_path: Path
) -> None:
    old = rundeck.configured_key()
    new, secret = console_key(rundeck)
    rundeck.world.admin("iam").put_user_policy(
        UserName=USER, PolicyName="no-retiring", PolicyDocument=json.dumps(DENY_RETIRING)
    )
    path = str(secret_file(tmp_path, secret))
    run = manual(rundeck, new, "--secret-file", path, "--yes", "--delete-old", "--json")
    assert run.code == 6, run.stdout + run.stderr
    document = run.json("rotate")
    assert document["outcome"] == "partial" and "AccessDenied" in document["error"]
    assert rundeck.config_works() == new
    assert rundeck.world.access_keys() == {old: "Active", new: "Active"}
    console = f"IAM → Users → {USER} → Security credentials → Access keys → {old}"
    assert any(console in step and "Delete" in step for step in document["next_steps"])
    assert rundeck.record().rotation is None  # switched: nothing is left to resume


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--access-key-id", "AKIAIOSFODNN7EXAMPLE", "--yes"], "goes with --manual"),
        (["--manual", "--yes"], "--access-key-id"),
        (["--manual", "--access-key-id", "AKIAIOSFODNN7EXAMPLE", "--yes"], "secret"),
        (["--manual", "--access-key-id", "AKIAIOSFODNN7EXAMPLE", "--secret-stdin"], "--yes"),
        (["--manual", "--resume", "finish", "--yes"], "does not resume"),
        (
            [
                "--manual",
                "--secret-env",
                "NOT_SET_ANYWHERE",
                "--access-key-id",
                "AKIAIOSFODNN7EXAMPLE",
                "--yes",
            ],
            "NOT_SET_ANYWHERE",
        ),
        (
            ["--manual", "--access-key-id", "AKIAIOSFODNN7EXAMPLE", "--secret=" + "s" * 40],
            "refused",
        ),
    ],
)
def test_manual_rotation_usage_errors_change_nothing(
    rundeck: Rundeck, arguments: list[str], complaint: str
) -> None:
    rundeck.configured_key()
    rundeck.secrets.append(Secret("s" * 40))
    before = snapshot(rundeck)
    run = cli(rundeck, "rotate", "--system", *arguments)
    assert run.code == 2
    assert complaint in run.stderr
    assert snapshot(rundeck) == before


def test_on_a_terminal_manual_rotation_asks_before_and_about_the_old_key(
    rundeck: Rundeck, tmp_path: Path
) -> None:
    old = rundeck.configured_key()
    new, secret = console_key(rundeck)
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"y\ny\n")  # switch: yes; deactivate the old key: yes
        run = manual(
            rundeck, new, "--secret-file", str(secret_file(tmp_path, secret)), stdin=terminal
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert run.code == 0, run.stdout + run.stderr
    assert f"Switch system ({rundeck.file}) from {old} to {new}?" in run.stdout
    assert f"Deactivate the old key {old}" in run.stdout
    assert rundeck.configured_key() == new
    assert rundeck.world.access_keys() == {old: "Inactive", new: "Active"}


# --- status ----------------------------------------------------------------------------------


def test_status_json_has_the_envelope_and_a_masked_key(rundeck: Rundeck) -> None:
    key = rundeck.configured_key()
    run = cli(rundeck, "status", "--json")
    assert run.code == 0, run.stderr
    document = run.json("status")
    assert document["has_setup"] is True and document["problem_count"] == 0
    (entry,) = document["entries"]
    assert entry["access_key_id"] == f"{key[:4]}…{key[-4:]}"
    assert entry["secret_present"] is True
    assert entry["iam"]["iam_user"] == "rundeck" and entry["iam"]["age_days"] == 0
    assert key not in run.stdout


def test_status_text_shows_a_missing_secret(rundeck: Rundeck) -> None:
    rundeck.keystore.delete("keys/aws/secret-key")
    run = cli(rundeck, "status", "--no-aws")
    assert run.code == 0
    assert "keys/aws/secret-key in SecretService Keyring: MISSING" in run.stdout
    assert "✗ secret-missing:" in run.stdout


def test_status_flags_an_old_key(rundeck: Rundeck) -> None:
    run = cli(rundeck, "status", "--json", "--max-age-days", "1")
    assert run.json("status")["problem_count"] == 0  # a key of today is 0 days old
    assert cli(rundeck, "status", "--max-age-days", "0").code == 2


def test_status_of_a_missing_install_is_a_config_error(tmp_path: Path, rundeck: Rundeck) -> None:
    missing = Rundeck(
        make_install(tmp_path / "other"), rundeck.world, rundeck.keystore, rundeck.java
    )
    (missing.install.base / "etc" / "framework.properties").unlink()
    run = cli(missing, "status", "--json")
    assert run.code == 5
    assert run.json("status")["error"]

"""``pa-aws-setup policy`` run as a real process: options, output, files and exit codes.

Like tests/cli/test_apply.py, every run is ``python -m tui`` in a fresh process; the policies
it prints are compared with the core's and linted with parliament.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string

from tui import __version__
from tui.core.iam.catalog import find, plugins, resource_kinds
from tui.core.iam.policy import permissions_policy, to_json, trust_policy
from tui.core.model import Method

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60.0
BUCKET = "arn:aws:s3:::rundeck-files"
LOG_GROUP = "arn:aws:logs:eu-west-1:123456789012:log-group:/rundeck/*"
ENVELOPE = ["schema_version", "version", "command", "exit_code", "ok"]


@dataclass(frozen=True)
class Run:
    """One finished ``python -m tui`` process."""

    args: list[str]
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The --json document, after checking its envelope matches the exit code."""
        document = json.loads(self.stdout)
        assert list(document)[: len(ENVELOPE)] == ENVELOPE, list(document)
        assert document["schema_version"] == 1
        assert document["version"] == __version__
        assert document["command"] == "policy"
        assert document["exit_code"] == self.code
        assert document["ok"] is (self.code == 0)
        return dict(document)


def cli(*args: str, cwd: Path = REPO) -> Run:
    """Run ``python -m tui ARGS`` with stdin at /dev/null; never a traceback."""
    completed = subprocess.run(
        [sys.executable, "-m", "tui", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=cwd,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    run = Run(list(args), completed.returncode, completed.stdout, completed.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    return run


def lint_issues(text: str) -> list[str]:
    """parliament's findings on the text, but for "Resource *" on unnarrowed actions."""
    findings = analyze_policy_string(text).findings
    return [finding.issue for finding in findings if finding.issue != "RESOURCE_STAR"]


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- help and catalog ------------------------------------------------------------------------


def test_help_documents_every_option_plugin_and_kind() -> None:
    run = cli("policy", "--help")
    assert run.code == 0
    for option in (
        "--list",
        "--plugins ID[,ID...]",
        "--resource KIND=ARN",
        "--access-key-user",
        "--trust {ec2,ecs}",
        "--output FILE",
        "--trust-output FILE",
        "--json",
        "exit codes:",
        "file://",
    ):
        assert option in run.stdout, option
    for plugin in plugins():
        assert plugin.id in run.stdout
    for kind in resource_kinds():
        assert f"{kind.id:<10} {kind.example}" in run.stdout
    assert "policy" in cli("--help").stdout


def test_list_shows_every_plugin_with_its_rundeck_name() -> None:
    run = cli("policy", "--list")
    assert run.code == 0 and run.stderr == ""
    lines = run.stdout.splitlines()
    for plugin in plugins():
        row = next(line for line in lines if line.startswith(plugin.id + " "))
        assert plugin.name in row
        assert row.rstrip().endswith(plugin.resource_kind or "-")
    for kind in resource_kinds():
        assert kind.example in run.stdout


def test_list_as_json_carries_the_whole_catalog() -> None:
    document = cli("policy", "--list", "--json").json()
    assert [entry["id"] for entry in document["catalog"]] == [p.id for p in plugins()]
    first = document["catalog"][0]
    plugin = plugins()[0]
    assert first == {
        "id": plugin.id,
        "name": plugin.name,
        "description": plugin.description,
        "actions": sorted(plugin.actions, key=str.lower),
        "resource_kind": plugin.resource_kind,
    }
    assert [kind["id"] for kind in document["resource_kinds"]] == [k.id for k in resource_kinds()]


def test_list_takes_no_generation_options() -> None:
    run = cli("policy", "--list", "--plugins", "s3")
    assert run.code == 2 and run.stdout == ""
    assert "--list shows the catalog; it takes no --plugins" in run.stderr


# --- generating ------------------------------------------------------------------------------


def test_permissions_policy_on_stdout_is_the_cores_and_lints_clean() -> None:
    run = cli("policy", "--plugins", "ec2-nodes,ssm", "--resource", f"bucket={BUCKET}/*")
    assert run.code == 0, run.stderr
    expected = permissions_policy(find(["ec2-nodes", "ssm"]), {"bucket": [BUCKET]})
    assert run.stdout == to_json(expected) + "\n"
    assert run.stderr == ""
    assert lint_issues(run.stdout) == []
    sids = [statement["Sid"] for statement in json.loads(run.stdout)["Statement"]]
    assert "SSMNodeExecutorFileCopierObjects" in sids


def test_plugins_by_name_case_repeats_and_commas_give_the_same_policy() -> None:
    by_id = cli("policy", "--plugins", "lambda,s3")
    other = cli("policy", "--plugins", "S3", "--plugins", "Lambda: execute function, s3", "-o", "-")
    assert by_id.code == other.code == 0
    assert by_id.stdout == other.stdout != ""


def test_access_key_user_policy_lints_clean() -> None:
    run = cli("policy", "--plugins", "s3-log-storage", "--access-key-user")
    assert run.code == 0
    document = json.loads(run.stdout)
    rotation = next(s for s in document["Statement"] if s["Sid"] == "RotateOwnAccessKeys")
    assert rotation["Resource"] == ["arn:aws:iam::*:user/${aws:username}"]
    assert lint_issues(run.stdout) == []


def test_too_big_for_an_inline_user_policy_warns_on_stderr() -> None:
    ids = ",".join(plugin.id for plugin in plugins())
    run = cli("policy", "--plugins", ids, "--access-key-user")
    assert run.code == 0
    json.loads(run.stdout)  # stdout stays one clean document
    assert "pa-aws-setup: warning:" in run.stderr and "managed policy" in run.stderr


@pytest.mark.parametrize(("method", "service"), [("ec2", "ec2"), ("ecs", "ecs-tasks")])
def test_trust_policy_alone_goes_to_stdout(method: str, service: str) -> None:
    run = cli("policy", "--trust", method)
    assert run.code == 0
    assert run.stdout == to_json(trust_policy(Method(method))) + "\n"
    assert f'"Service": "{service}.amazonaws.com"' in run.stdout


def test_both_policies_to_files(tmp_path: Path) -> None:
    permissions, trust = tmp_path / "permissions.json", tmp_path / "trust.json"
    run = cli(
        "policy",
        "--plugins",
        "ecs-nodes,ecs-exec",
        "--trust",
        "ecs",
        "--output",
        str(permissions),
        "--trust-output",
        str(trust),
    )
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    assert f"Wrote the permissions policy to {permissions}." in run.stderr
    assert f"Wrote the trust policy to {trust}." in run.stderr
    expected = permissions_policy(find(["ecs-nodes", "ecs-exec"]))
    assert permissions.read_text() == to_json(expected) + "\n"
    assert trust.read_text() == to_json(trust_policy(Method.ECS)) + "\n"
    assert stat.S_IMODE(permissions.stat().st_mode) == 0o644


def test_one_policy_to_a_file_and_the_other_to_stdout(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    run = cli("policy", "--plugins", "ec2-nodes", "--trust", "ec2", "--trust-output", str(trust))
    assert run.code == 0
    assert json.loads(run.stdout) == permissions_policy(find(["ec2-nodes"]))
    assert json.loads(trust.read_text()) == trust_policy(Method.EC2)


def test_only_trust_goes_to_output(tmp_path: Path) -> None:
    target = tmp_path / "trust.json"
    assert cli("policy", "--trust", "ec2", "--output", str(target)).code == 0
    assert json.loads(target.read_text()) == trust_policy(Method.EC2)


def test_an_existing_output_is_replaced_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "policy.json"
    target.write_text("old")
    target.chmod(0o600)
    assert cli("policy", "--plugins", "vpc", "--output", str(target)).code == 0
    assert json.loads(target.read_text()) == permissions_policy(find(["vpc"]))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.json"], "no temp or backup"


def test_json_carries_both_policies_and_what_was_written(tmp_path: Path) -> None:
    target = tmp_path / "permissions.json"
    run = cli(
        "policy",
        "--plugins",
        "cloudwatch-logs",
        "--resource",
        f"log-group={LOG_GROUP}:*",
        "--trust",
        "ec2",
        "--output",
        str(target),
        "--json",
    )
    document = run.json()
    assert document["plugins"] == ["cloudwatch-logs"]
    assert document["resources"] == {"log-group": [LOG_GROUP]}
    assert document["permissions_policy"] == json.loads(target.read_text())
    assert document["trust_policy"] == trust_policy(Method.EC2)
    assert document["written"] == {"permissions_policy": str(target), "trust_policy": None}
    assert document["warnings"] == []


# --- refusals: a clear message, exit 2, nothing written --------------------------------------


OUT = ["--output", "out.json"]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--plugins", "ec2-node,s3,kubernetes", *OUT], "Unknown plugins 'ec2-node', 'kubernetes'"),
        (["--plugins", "s3", "--resource", "bucket", *OUT], "--resource takes KIND=ARN"),
        (["--plugins", "s3", "--resource", "bucket=rundeck", *OUT], "not a bucket ARN"),
        (["--plugins", "s3", "--resource", "queue=arn:aws:sqs:::q", *OUT], "Unknown resource kind"),
        (["--plugins", "vpc", "--resource", f"bucket={BUCKET}", *OUT], "No chosen plugin acts on"),
        (["--trust", "ec2", "--resource", f"bucket={BUCKET}", *OUT], "add --plugins"),
        (["--access-key-user", "--trust", "ec2", *OUT], "choose one"),
        (["--plugins", "s3", "--trust", "ec2"], "cannot share standard output"),
        (["--plugins", "s3", "--trust-output", "t.json", *OUT], "--trust-output needs --trust"),
        (["--trust", "ec2", *OUT, "--trust-output", "b.json"], "not both"),
        (["--plugins", "s3", "--trust", "ec2", *OUT, "--trust-output", "out.json"], "same file"),
        ([], "Say what to generate"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    run = cli("policy", *args, cwd=tmp_path)
    assert run.code == 2
    assert run.stdout == ""
    assert run.stderr.startswith("pa-aws-setup: error: ") and complaint in run.stderr
    assert listing(tmp_path) == {}


def test_unknown_plugin_lists_the_valid_ids_and_suggests(tmp_path: Path) -> None:
    run = cli("policy", "--plugins", "ec2-node", "--output", str(tmp_path / "p.json"))
    assert run.code == 2
    assert "Did you mean: 'ec2-node' → ec2-nodes?" in run.stderr
    assert all(plugin.id in run.stderr for plugin in plugins())
    assert listing(tmp_path) == {}
    document = cli("policy", "--plugins", "ec2-node,sqs", "--json").json()
    assert document["unknown"] == ["ec2-node", "sqs"]
    assert document["valid"] == [plugin.id for plugin in plugins()]


def test_an_unwritable_output_writes_nothing_at_all(tmp_path: Path) -> None:
    """The trust policy cannot be written, so the permissions policy written first is undone."""
    permissions = tmp_path / "permissions.json"
    permissions.write_text("previous\n")
    before = listing(tmp_path)
    run = cli(
        "policy",
        "--plugins",
        "ec2-nodes",
        "--trust",
        "ec2",
        "--output",
        str(permissions),
        "--trust-output",
        str(tmp_path / "missing-folder" / "trust.json"),
    )
    assert run.code == 5
    assert "Cannot write the trust policy" in run.stderr and "does not exist" in run.stderr
    assert listing(tmp_path) == before


def test_an_output_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    run = cli("policy", "--plugins", "s3", "--output", str(tmp_path), "--json")
    document = run.json()
    assert run.code == 5
    assert "Cannot write the permissions policy" in document["error"]
    assert listing(tmp_path) == {}

"""The headless mode's loose ends: --json for argparse's own errors, ``apply --verify`` for the
role methods, a database project's secret in the keyring, and one CommandError / one set of
secret options.

Runs go through ``python -m tui`` as in test_apply (same helpers, same search of every output
for the secret); AWS is moto's server and loopback stand-ins, the keyring the private
gnome-keyring.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import pty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.cli.test_apply import (
    KEY_ID,
    OTHER_SECRET,
    REGION,
    SECRET,
    Run,
    apply_args,
    cli,
    collect,
    files_holding,
    plaintext_keyring_env,
    popen_cli,
    stored_items,
    sts_env,
    tree,
)
from tests.fixtures.aws import DUMMY_KEY, LoopbackPort, MotoServer
from tests.fixtures.ecs_metadata import (
    ACCOUNT,
    TASK_ROLE_ARN,
    EcsMetadataServer,
    LoopbackHttpServer,
    ServedCredentials,
)
from tests.fixtures.java_oracle import JavaPropertiesOracle
from tests.fixtures.keyring_service import SecretServiceSession
from tui import __version__
from tui.cli import build_parser, json_command
from tui.core.keystore import SERVICE, KeyStore
from tui.core.secret import Secret
from tui.core.verify import AssumedRole, parse_assumed_role
from tui.demo import make_rundeck_layout

REPO = Path(__file__).resolve().parents[2]
BILLING_KEY_PATH = "keys/project/billing/aws/secret-key"
INSTANCE_ID = "i-0123456789abcdef0"
INSTANCE_ROLE = "rundeck-ec2"
VERIFY_FAILED = "Verification failed, nothing was written: "


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A launcher-layout Rundeck with projects ops and web on disk (billing is not)."""
    return make_rundeck_layout(tmp_path / "rundeck")


@pytest.fixture
def keyring_session(secret_service_clean: SecretServiceSession) -> SecretServiceSession:
    """The private gnome-keyring, unlocked and empty; child processes inherit its bus."""
    return secret_service_clean


def error_document(run: Run, command: str) -> dict[str, Any]:
    """The JSON error envelope of a refused command line: all of stdout, and nothing else."""
    document = json.loads(run.stdout)
    assert isinstance(document, dict), run.stdout
    assert list(document) == [
        "schema_version",
        "version",
        "command",
        "exit_code",
        "ok",
        "changed",
        "error",
        "error_kind",
    ]
    assert document["error_kind"] == "usage"
    assert (document["schema_version"], document["version"]) == (1, __version__)
    assert (document["command"], document["exit_code"]) == (command, run.code)
    assert (document["ok"], document["changed"]) == (False, False)
    return document


# --- 1. argparse's errors as JSON ------------------------------------------------------------


APPLY_JSON_USAGE_ERRORS = {
    "unknown-flag": (["--method", "ec2", "--system", "--frobnicate"], "unrecognized arguments"),
    "bad-choice": (["--method", "iam", "--system"], "argument --method: invalid choice: 'iam'"),
    "missing-value": (["--method", "ec2", "--project"], "argument --project: expected one"),
    "both-scopes": (
        ["--method", "ec2", "--system", "--project", "ops"],
        "argument --project: not allowed with argument --system",
    ),
    "two-secret-sources": (
        ["--method", "ec2", "--system", "--secret-stdin", "--secret-file", "x"],
        "argument --secret-file: not allowed with argument --secret-stdin",
    ),
    "stray-secret": (["--method", "ec2", "--system", SECRET], "unrecognized arguments: <hidden>"),
    "secret-in-a-value": (["--method", SECRET, "--system"], "invalid choice: '<hidden>'"),
    "secret-option": (
        ["--method", "access-key", "--system", "--secret", SECRET],
        "--secret is refused: a secret on the command line is visible to every user in `ps`",
    ),
    "secret-option-equals": (
        ["--method", "access-key", "--system", f"--aws-secret-access-key={SECRET}"],
        "--aws-secret-access-key is refused",
    ),
}


@pytest.mark.parametrize("json_flag", ["--json", "--js"])
@pytest.mark.parametrize("case", list(APPLY_JSON_USAGE_ERRORS))
def test_apply_usage_errors_with_json_are_a_json_envelope(
    case: str, json_flag: str, base: Path
) -> None:
    """stdout is the JSON error alone; stderr keeps argparse's text; the secret is nowhere."""
    extra, message = APPLY_JSON_USAGE_ERRORS[case]
    before = tree(base)
    run = cli("apply", *extra, "--rdeck-base", str(base), "--yes", json_flag)
    assert run.code == 2, run.output
    document = error_document(run, "apply")
    assert message in document["error"]
    assert message in run.stderr
    assert tree(base) == before


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    [
        ("detect", ["--timeout", "soon"], "argument --timeout: invalid float value: 'soon'"),
        ("status", ["--max-age-days"], "argument --max-age-days: expected one argument"),
        ("rotate", ["--resume", "later"], "argument --resume: invalid choice: 'later'"),
        (
            "rotate",
            ["--manual", "--secret-stdin", "--secret-env", "X"],
            "argument --secret-env: not allowed with argument --secret-stdin",
        ),
        (
            "rotate",
            ["--keep-old", "--delete-old"],
            "argument --delete-old: not allowed with argument --keep-old",
        ),
        ("policy", ["--trust", "lambda"], "argument --trust: invalid choice: 'lambda'"),
        ("provision", ["--method", "ec2"], "the following arguments are required: --plugins"),
        ("policy-check", ["--principal"], "argument --principal: expected one argument"),
    ],
    ids=lambda value: value if isinstance(value, str) and " " not in value else None,
)
def test_every_command_with_json_reports_usage_errors_as_json(
    command: str, extra: list[str], message: str
) -> None:
    run = cli(command, "--json", *extra)
    assert run.code == 2, run.output
    assert message in error_document(run, command)["error"]
    assert f"pa-aws-setup {command}: error: {message}" in run.stderr


def test_without_json_a_usage_error_is_text_only(base: Path) -> None:
    run = cli("apply", "--method", "iam", "--system", "--rdeck-base", str(base))
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr.startswith("usage: pa-aws-setup apply")
    assert "pa-aws-setup apply: error: argument --method: invalid choice" in run.stderr


@pytest.mark.parametrize(
    ("arguments", "command"),
    [
        (["apply", "--json", "--frobnicate"], "apply"),
        (["apply", "--frobnicate", "--json"], "apply"),
        (["apply", "--js"], "apply"),
        (["apply", "--json=yes"], "apply"),
        (["--rdeck-base", "/srv/rundeck", "status", "--json"], "status"),
        (["--rdeck-base=/srv/rundeck", "--demo", "rotate", "--json"], "rotate"),
        (["--rdeck", "/srv", "detect", "--json"], "detect"),
        (["policy-check", "--plugins", "s3", "--json"], "policy-check"),
        (["apply", "--method", "ec2"], None),
        (["--json", "apply", "--system"], None),  # the top level has no --json
        (["--rdeck-base", "apply", "--json"], None),  # "apply" is the folder here
        (["apply", "--", "--json"], None),  # after "--" nothing is an option
        (["apply", "--j"], "apply"),  # argparse takes any unique prefix
        (["aply", "--json"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_json_command_reads_the_command_line_as_argparse_does(
    arguments: list[str], command: str | None
) -> None:
    assert json_command(build_parser(), arguments) == command


# --- 2. apply --verify for the role methods ---------------------------------------------------


@dataclass(frozen=True)
class IssuedRole:
    """Temporary credentials moto issued for a role, as a metadata endpoint would hand out."""

    role_arn: str
    credentials: ServedCredentials

    @property
    def hidden(self) -> list[str]:
        return [self.credentials.secret_access_key, self.credentials.session_token]


def issue_role_credentials(moto: MotoServer, role_name: str, session: str) -> IssuedRole:
    """Create ``role_name`` in moto's IAM (once) and assume it in ``session``."""
    clients = boto3.session.Session(
        aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name="us-east-1"
    )
    iam = clients.client("iam", endpoint_url=moto.url)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        created = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
        role_arn = created["Role"]["Arn"]
    sts = clients.client("sts", endpoint_url=moto.url)
    issued = sts.assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    return IssuedRole(
        role_arn,
        ServedCredentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"]),
    )


@pytest.fixture
def instance_metadata(
    aws_env: MotoServer,
    loopback_http: Callable[[], LoopbackHttpServer],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[IssuedRole, str], LoopbackHttpServer]:
    """An IMDSv2 stand-in on loopback listing a role and handing out the given credentials.

    moto's own IMDS hands out credentials STS knows nothing about; this one hands out
    credentials moto issued, so STS answers with a real assumed-role ARN.
    """

    def serve(issued: IssuedRole, listed_role: str) -> LoopbackHttpServer:
        imds = loopback_http()
        imds.route("PUT", "/latest/api/token", "imds-token")
        credentials = {
            "Code": "Success",
            "Type": "AWS-HMAC",
            "AccessKeyId": issued.credentials.access_key_id,
            "SecretAccessKey": issued.credentials.secret_access_key,
            "Token": issued.credentials.session_token,
        }
        paths: dict[str, Any] = {
            "meta-data/instance-id": INSTANCE_ID,
            "meta-data/placement/region": REGION,
            "meta-data/placement/availability-zone": f"{REGION}a",
            "meta-data/iam/security-credentials/": listed_role,
            f"meta-data/iam/security-credentials/{listed_role}": credentials,
            "dynamic/instance-identity/document": {"accountId": ACCOUNT, "region": REGION},
        }
        for path, body in paths.items():
            imds.route("GET", f"/latest/{path}", body)
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
        return imds

    return serve


def role_apply(base: Path, method: str, *extra: str) -> list[str]:
    return apply_args(base, method, "--region", REGION, "--verify", "--yes", *extra)


def test_verify_ec2_checks_the_instance_role_then_writes(
    base: Path,
    aws_env: MotoServer,
    instance_metadata: Callable[[IssuedRole, str], LoopbackHttpServer],
    java_properties: JavaPropertiesOracle,
) -> None:
    """The environment's dummy key would answer a default-chain check; the role must answer."""
    issued = issue_role_credentials(aws_env, INSTANCE_ROLE, INSTANCE_ID)
    imds = instance_metadata(issued, INSTANCE_ROLE)
    run = cli(*role_apply(base, "ec2", "--json"), hidden=issued.hidden)
    assert run.code == 0, run.output
    identity = run.json()["identity"]
    assert identity == {
        "account": ACCOUNT,
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{INSTANCE_ROLE}/{INSTANCE_ID}",
        "role": INSTANCE_ROLE,
        "session": INSTANCE_ID,
        "source": "iam-role",
        "expected": f"{INSTANCE_ROLE} on {INSTANCE_ID}",
    }
    assert f"/latest/meta-data/iam/security-credentials/{INSTANCE_ROLE}" in imds.paths_requested()
    loaded = java_properties(base / "etc" / "framework.properties")
    assert loaded["aws.credentialProvider"] == "instance"


def test_verify_ec2_says_who_aws_says_the_role_is(
    base: Path,
    aws_env: MotoServer,
    instance_metadata: Callable[[IssuedRole, str], LoopbackHttpServer],
) -> None:
    issued = issue_role_credentials(aws_env, INSTANCE_ROLE, INSTANCE_ID)
    instance_metadata(issued, INSTANCE_ROLE)
    run = cli(*role_apply(base, "ec2"), hidden=issued.hidden)
    assert run.code == 0, run.output
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{INSTANCE_ROLE}/{INSTANCE_ID}"
    assert f"Verified with AWS STS: {arn} (expected {INSTANCE_ROLE} on {INSTANCE_ID})" in run.stdout
    assert "Done:" in run.stdout


@pytest.mark.parametrize(
    ("assumed_role", "session", "problem"),
    [
        ("someone-else", INSTANCE_ID, "the role someone-else's, not the instance role"),
        (INSTANCE_ROLE, "i-0fedcba9876543210", "for the session i-0fedcba9876543210, not for"),
    ],
    ids=["another-role", "another-session"],
)
def test_verify_ec2_refuses_credentials_of_another_role_or_session(
    assumed_role: str,
    session: str,
    problem: str,
    base: Path,
    aws_env: MotoServer,
    instance_metadata: Callable[[IssuedRole, str], LoopbackHttpServer],
) -> None:
    issued = issue_role_credentials(aws_env, assumed_role, session)
    instance_metadata(issued, INSTANCE_ROLE)
    before = tree(base)
    run = cli(*role_apply(base, "ec2", "--json"), hidden=issued.hidden)
    assert run.code == 3, run.output
    message = run.json()["error"]
    assert message.startswith(VERIFY_FAILED) and problem in message
    assert tree(base) == before


def test_verify_ec2_refuses_credentials_sts_does_not_know_as_a_role(
    base: Path, imds_env: MotoServer
) -> None:
    """moto's IMDS lists default-role but hands out a key moto's STS calls user/moto."""
    before = tree(base)
    run = cli(*role_apply(base, "ec2"))
    assert run.code == 3, run.output
    assert VERIFY_FAILED in run.stderr
    assert f"arn:aws:sts::{ACCOUNT}:user/moto, which is not an assumed role" in run.stderr
    assert tree(base) == before


@pytest.mark.parametrize("dry_run", [False, True])
def test_verify_ec2_without_instance_metadata_exits_3_and_writes_nothing(
    dry_run: bool,
    base: Path,
    aws_env: MotoServer,
    closed_port: LoopbackPort,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed_port.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    before = tree(base)
    extra = ["--dry-run"] if dry_run else []
    run = cli(*role_apply(base, "ec2", "--json", *extra))
    assert run.code == 3, run.output
    assert run.json()["error"] == (
        f"{VERIFY_FAILED}no EC2 instance metadata here (not on AWS: connection refused)."
    )
    assert tree(base) == before
    unverified = cli(*apply_args(base, "ec2", "--region", REGION, "--dry-run"))
    assert unverified.code == 0, unverified.output


def test_verify_ecs_checks_the_task_role_then_writes(
    base: Path, ecs_env: EcsMetadataServer, java_properties: JavaPropertiesOracle
) -> None:
    assert ecs_env.served is not None
    hidden = [ecs_env.served.secret_access_key, ecs_env.served.session_token]
    run = cli(*role_apply(base, "ecs", "--json"), hidden=hidden)
    assert run.code == 0, run.output
    identity = run.json()["identity"]
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/rundeck-task-role/ecs-task"
    assert (identity["source"], identity["expected"]) == ("container-role", TASK_ROLE_ARN)
    loaded = java_properties(base / "etc" / "framework.properties")
    assert loaded["aws.credentialProvider"] == "container"


def test_verify_ecs_refuses_credentials_of_another_role(
    base: Path, aws_env: MotoServer, ecs_env: EcsMetadataServer
) -> None:
    """The endpoint names the task role but hands out another role's credentials."""
    other = issue_role_credentials(aws_env, "not-the-task-role", "ecs-task")
    ecs_env.serve_credentials(other.credentials)
    before = tree(base)
    run = cli(*role_apply(base, "ecs"), hidden=other.hidden)
    assert run.code == 3, run.output
    assert f"{VERIFY_FAILED}STS says the task's credentials are the role not-the-task-role's" in (
        run.stderr
    )
    assert tree(base) == before


def test_verify_ecs_accepts_any_assumed_role_when_the_endpoint_names_none(
    base: Path, ecs_env: EcsMetadataServer
) -> None:
    assert ecs_env.served is not None
    ecs_env.serve_credentials(ecs_env.served, role_arn=None)
    hidden = [ecs_env.served.secret_access_key, ecs_env.served.session_token]
    run = cli(*role_apply(base, "ecs", "--json"), hidden=hidden)
    assert run.code == 0, run.output
    assert run.json()["identity"]["expected"] == "any role (the endpoint named none)"


def test_verify_ecs_outside_a_task_exits_3_and_writes_nothing(
    base: Path, aws_env: MotoServer
) -> None:
    before = tree(base)
    run = cli(*role_apply(base, "ecs", "--json"))
    assert run.code == 3, run.output
    expected = f"{VERIFY_FAILED}no ECS task role here (ECS variables absent in this shell)."
    assert run.json()["error"] == expected
    assert tree(base) == before


@pytest.mark.parametrize(
    ("arn", "parsed"),
    [
        (
            "arn:aws:sts::123456789012:assumed-role/rundeck/i-0abc",
            AssumedRole("123456789012", "rundeck", "i-0abc"),
        ),
        (
            "arn:aws-us-gov:sts::123456789012:assumed-role/r/ecs/task/1",
            AssumedRole("123456789012", "r", "ecs/task/1"),
        ),
        ("arn:aws:sts::123456789012:user/moto", None),
        ("arn:aws:iam::123456789012:role/rundeck", None),
        ("arn:aws:sts::123456789012:assumed-role/rundeck", None),
        ("arn:aws:sts:::assumed-role/rundeck/s", None),
        ("not an arn", None),
    ],
)
def test_parse_assumed_role(arn: str, parsed: AssumedRole | None) -> None:
    assert parse_assumed_role(arn) == parsed


# --- 3. a database project's secret goes to the keyring --------------------------------------


def database_apply(paste_file: Path, *extra: str) -> list[str]:
    return [
        "--region",
        REGION,
        "--secret-stdin",
        "--paste-file",
        str(paste_file),
        *extra,
    ]


def test_database_project_secret_is_stored_in_the_keyring(
    base: Path, tmp_path: Path, keystore: KeyStore, java_properties: JavaPropertiesOracle
) -> None:
    paste_file = tmp_path / "paste.properties"
    before = tree(base)
    args = apply_args(
        base, "access-key", *database_apply(paste_file, "--yes", "--json"), project="billing"
    )
    run = cli(*args, input=SECRET)
    assert run.code == 0, run.output
    document = run.json()
    assert (document["changed"], document["database_project"]) == (True, True)
    keyring = document["keyring"]
    assert keyring["path"] == BILLING_KEY_PATH and keyring["key_type"] == "password"
    assert (keyring["replaces_existing"], keyring["unchanged"]) == (False, False)
    assert f"stored in the keyring ({keyring['backend']})" in document["message"]
    assert keystore.get(BILLING_KEY_PATH) == Secret(SECRET)
    assert java_properties(paste_file)["project.aws.secret_key_path"] == BILLING_KEY_PATH
    assert java_properties(paste_file)["project.aws.access_key"] == KEY_ID
    assert files_holding(tmp_path, SECRET) == []
    assert tree(base) == before

    again = cli(*args, input=SECRET)
    assert again.code == 0, again.output
    document = again.json()
    assert (document["changed"], document["keyring"]["unchanged"]) == (False, True)
    assert "The same secret is already stored in the keyring" in document["message"]

    replaced = cli(
        *apply_args(base, "access-key", *database_apply(paste_file, "--yes"), project="billing"),
        input=OTHER_SECRET,
    )
    assert replaced.code == 0, replaced.output
    assert f"as a Rundeck password at {BILLING_KEY_PATH} (replacing the one stored before)." in (
        replaced.stdout
    )
    assert keystore.get(BILLING_KEY_PATH) == Secret(OTHER_SECRET)


def test_database_project_without_a_secret_says_where_to_store_it(
    base: Path, tmp_path: Path, keyring_session: SecretServiceSession
) -> None:
    paste_file = tmp_path / "paste.properties"
    args = ["--region", REGION, "--paste-file", str(paste_file), "--yes", "--json"]
    run = cli(*apply_args(base, "access-key", *args, project="billing"))
    assert run.code == 0, run.output
    document = run.json()
    assert (document["changed"], document["keyring"]) == (False, None)
    assert (
        f"Store the secret in Rundeck Key Storage as a password at {BILLING_KEY_PATH}"
        in (document["message"])
    )
    assert stored_items(keyring_session) == 0


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ([], 2, "stdin is not a terminal, so pass --yes"),
        (
            ["--dry-run"],
            0,
            f"Dry run: the secret was not stored; it would go to {BILLING_KEY_PATH}",
        ),
    ],
    ids=["no-yes", "dry-run"],
)
def test_database_project_secret_is_not_stored_without_yes_or_in_a_dry_run(
    extra: list[str],
    code: int,
    message: str,
    base: Path,
    tmp_path: Path,
    keyring_session: SecretServiceSession,
) -> None:
    paste_file = tmp_path / "paste.properties"
    args = apply_args(base, "access-key", *database_apply(paste_file, *extra), project="billing")
    run = cli(*args, input=SECRET)
    assert run.code == code, run.output
    assert message in run.output
    assert stored_items(keyring_session) == 0
    if code != 0:
        assert not paste_file.exists()


@pytest.mark.parametrize(("reply", "stored"), [("n\n", False), ("y\n", True)])
def test_database_project_on_a_terminal_asks_before_storing(
    reply: str, stored: bool, base: Path, tmp_path: Path, keystore: KeyStore
) -> None:
    secret_file = tmp_path / "aws-secret"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o600)
    paste_file = tmp_path / "paste.properties"
    extra = ["--secret-file", str(secret_file), "--paste-file", str(paste_file)]
    args = apply_args(base, "access-key", "--region", REGION, *extra, project="billing")
    controller, terminal = pty.openpty()
    try:
        os.write(controller, reply.encode())
        process = popen_cli(*args, stdin=terminal)
        os.close(terminal)
        terminal = -1
        run = collect(process, args)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert run.code == 0, run.output
    assert f"Store the secret in the keyring at {BILLING_KEY_PATH}? [y/N]" in run.stdout
    assert keystore.get(BILLING_KEY_PATH) == (Secret(SECRET) if stored else None)
    assert paste_file.exists() is stored
    if not stored:
        assert run.stdout.endswith("Cancelled: nothing changed.\n")


def test_database_project_without_a_keyring_exits_4_and_writes_nothing(
    base: Path, tmp_path: Path, no_session_bus: object
) -> None:
    paste_file = tmp_path / "paste.properties"
    args = apply_args(
        base, "access-key", *database_apply(paste_file, "--yes", "--json"), project="billing"
    )
    run = cli(*args, input=SECRET)
    assert run.code == 4, run.output
    assert "gnome-keyring-daemon --unlock" in run.json()["error"]
    assert not paste_file.exists()


def test_database_project_with_a_locked_keyring_exits_4_and_writes_nothing(
    base: Path, tmp_path: Path, locked_keyring: SecretServiceSession
) -> None:
    paste_file = tmp_path / "paste.properties"
    args = apply_args(base, "access-key", *database_apply(paste_file, "--yes"), project="billing")
    run = cli(*args, input=SECRET)
    assert run.code == 4, run.output
    assert "is locked" in run.stderr
    assert not paste_file.exists()
    locked_keyring.unlock()
    assert stored_items(locked_keyring) == 0


@pytest.mark.parametrize("allowed", [False, True])
def test_database_project_plaintext_keyring_needs_allow_insecure_keyring(
    allowed: bool, base: Path, tmp_path: Path
) -> None:
    env, store = plaintext_keyring_env(tmp_path)
    paste_file = tmp_path / "paste.properties"
    opt_in = ["--allow-insecure-keyring"] if allowed else []
    args = database_apply(paste_file, "--yes", *opt_in)
    run = cli(*apply_args(base, "access-key", *args, project="billing"), input=SECRET, env=env)
    if allowed:
        assert run.code == 0, run.output
        assert json.loads(store.read_text()) == {f"{SERVICE}/{BILLING_KEY_PATH}": SECRET}
        assert paste_file.exists()
    else:
        assert run.code == 4, run.output
        assert "--allow-insecure-keyring to accept this" in run.stderr
        assert not store.exists() and not paste_file.exists()


@pytest.mark.parametrize("previous", [None, OTHER_SECRET], ids=["new", "replacing"])
def test_database_project_unwritable_paste_file_takes_the_secret_back(
    previous: str | None, base: Path, tmp_path: Path, keystore: KeyStore
) -> None:
    if previous is not None:
        keystore.put(BILLING_KEY_PATH, Secret(previous))
    paste_file = tmp_path / "missing-folder" / "paste.properties"
    args = apply_args(base, "access-key", *database_apply(paste_file, "--yes"), project="billing")
    run = cli(*args, input=SECRET)
    assert run.code == 5, run.output
    assert f"Cannot write {paste_file}: No such file or directory." in run.stderr
    undone = "was taken back out of the keyring" if previous is None else "before was put back"
    assert undone in run.stderr
    assert keystore.get(BILLING_KEY_PATH) == (None if previous is None else Secret(previous))


def test_database_project_verify_failure_stores_nothing(
    base: Path, tmp_path: Path, closed_port: LoopbackPort, keyring_session: SecretServiceSession
) -> None:
    paste_file = tmp_path / "paste.properties"
    args = database_apply(paste_file, "--yes", "--verify", "--json")
    run = cli(
        *apply_args(base, "access-key", *args, project="billing"),
        input=SECRET,
        env=sts_env(closed_port.url),
    )
    assert run.code == 3, run.output
    assert run.json()["error"].startswith(f"{VERIFY_FAILED}Could not reach AWS")
    assert stored_items(keyring_session) == 0
    assert not paste_file.exists()


# --- 4. one CommandError, one set of secret options ------------------------------------------


def test_one_error_root_is_defined_once_and_shared() -> None:
    """Every command fails through the core's one error root: no command defines its own."""
    from tui.commands import apply, output, policy, provision, rotate
    from tui.core.errors import ToolError

    defined = {
        path.name
        for path in sorted((REPO / "tui").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name in ("ToolError", "CommandError")
    }
    assert defined == {"errors.py"}
    for module in (apply, output, policy, provision, rotate):
        assert module.ToolError is ToolError


def test_apply_and_rotate_share_the_secret_options() -> None:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    commands = subparsers.choices

    def secret_help(command: str) -> dict[str, tuple[str | None, str | None]]:
        actions = commands[command]._option_string_actions
        return {
            option: (actions[option].help, actions[option].metavar)
            for option in ("--secret-stdin", "--secret-file")
        }

    assert secret_help("apply") == secret_help("rotate")
    assert secret_help("apply")["--secret-file"][1] == "FILE"

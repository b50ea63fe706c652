"""What fault injection and hostile input found (hardening issue), each pinned by a test that
failed before the fix: items 2, 3, 4, 7, 8, 11 and 12."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.test_apply import KEY_ID, SECRET, apply_args, cli, target_of, tree
from tests.fixtures.keyring_service import SecretServiceSession
from tui.core import record as records
from tui.core.keystore import KeyStore
from tui.core.model import Answers, Method, Scope
from tui.core.rundeck import find_install
from tui.core.secret import Secret
from tui.core.setup import apply_setup, plan_setup
from tui.core.steps import Step, StepStatus
from tui.demo import make_rundeck_layout
from tui.services import now

OTHER_KEY_ID = "AKIA" + "PAAWSSETUPTEST09"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return make_rundeck_layout(tmp_path)


@pytest.fixture
def keyring_session(secret_service_clean: SecretServiceSession) -> SecretServiceSession:
    return secret_service_clean


# --- 2. a rollback that fails says so ---------------------------------------------------------


def test_a_rollback_that_fails_says_exactly_what_stayed_changed(
    base: Path, secret_service_clean: SecretServiceSession, keystore: KeyStore
) -> None:
    """The record cannot be written, and the keyring locks after the store: the file is put
    back, the keyring keeps the new secret, and the result says so (changed, each undo)."""
    target = target_of(base, "ops")
    before = target.read_bytes()
    (target.parent / records.RECORD_NAME).mkdir()
    answers = Answers(
        Method.ACCESS_KEY, Scope.PROJECT, "ops", None, KEY_ID, "keys/project/ops/aws/secret-key"
    )
    install = find_install(base, env={})
    plan = plan_setup(install, answers, keystore=keystore, secret=Secret(SECRET), clock=now)

    def lock_after_store(step: Step) -> None:
        if step.name == "keyring" and step.status is StepStatus.DONE:
            secret_service_clean.lock()

    result = apply_setup(
        plan, keystore=keystore, secret=Secret(SECRET), clock=now, on_step=lock_after_store
    )
    assert not result.ok
    assert result.changed
    assert target.read_bytes() == before
    assert result.still_changed == [
        "the keyring at keys/project/ops/aws/secret-key holds the new secret"
    ]
    statuses = {step.name: step.status for step in result.steps if step.name != "error"}
    assert statuses["keyring"] is StepStatus.FAILED
    assert statuses["properties"] is StepStatus.ROLLED_BACK
    assert "Everything was rolled back" not in result.message
    assert "The rollback failed in part" in result.message
    failure = result.failure()
    assert failure.details["changed"] is True
    assert [step["status"] for step in failure.details["steps"]].count("failed") >= 2
    secret_service_clean.unlock()


def test_a_failure_before_any_change_says_nothing_was_changed(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    """The lock file cannot be created (a folder is in its way): nothing was done to undo."""
    target = target_of(base, "ops")
    (target.parent / ".pa-aws-setup.lock").mkdir()
    before = tree(base)
    run = cli(*apply_args(base, "ec2", "--yes", "--json", project="ops"))
    assert run.code == 5, run.output
    document = run.json()
    assert document["changed"] is False
    assert document["error"].endswith("Nothing was changed.")
    assert "rolled back" not in document["error"]
    assert [step["status"] for step in document["steps"]] == ["failed"]
    assert tree(base) == before


# --- 3. one scope cannot take another scope's key path ------------------------------------


def test_a_key_path_another_scope_uses_for_another_key_is_refused(
    base: Path, keyring_session: SecretServiceSession, keystore: KeyStore
) -> None:
    """Project ops keeps key 09's secret at keys/aws/secret-key (set by hand, as Rundeck
    allows); a system apply of another key to the same path must not overwrite it."""
    with target_of(base, "ops").open("a") as handle:
        handle.write(
            f"project.aws.access_key={OTHER_KEY_ID}\nproject.aws.secret_key_path=keys/aws/secret-key\n"
        )
    keystore.put("keys/aws/secret-key", Secret(SECRET[::-1]))
    before = tree(base)
    run = cli(*apply_args(base, "access-key", "--secret-stdin", "--yes"), input=SECRET)
    assert run.code == 2, run.output
    assert "holds the secret of project ops's access key" in run.stderr
    assert keystore.get("keys/aws/secret-key") == Secret(SECRET[::-1])
    assert tree(base) == before
    status = cli("status", "--no-aws", "--json", "--rdeck-base", str(base))
    assert status.code == 0


def test_status_flags_two_scopes_sharing_a_key_path_with_different_keys(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    for path, prefix, key in (
        (target_of(base, None), "aws", KEY_ID),
        (target_of(base, "ops"), "project.aws", OTHER_KEY_ID),
    ):
        with path.open("a") as handle:
            handle.write(f"{prefix}.access_key={key}\n{prefix}.secret_key_path=keys/aws/shared\n")
    run = cli("status", "--no-aws", "--json", "--rdeck-base", str(base))
    assert run.code == 0, run.output
    flagged = {
        entry["properties_file"]
        for entry in json.loads(run.stdout)["entries"]
        for problem in entry["problems"]
        if problem["code"] == "shared-key-path"
    }
    assert len(flagged) == 2


def test_a_system_key_path_under_keys_project_is_refused(base: Path) -> None:
    run = cli(
        *apply_args(base, "access-key", "--secret-stdin", "--yes"),
        "--key-path",
        "keys/project/ops/aws/secret-key",
        input=SECRET,
    )
    assert run.code == 2, run.output
    assert "belongs to that project" in run.stderr


# --- 4. apply over an interrupted rotation ----------------------------------------------------


def test_apply_over_an_interrupted_rotation_is_refused_with_the_way_forward(
    base: Path, keyring_session: SecretServiceSession
) -> None:
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", project="ops")
    assert cli(*args, input=SECRET).code == 0
    record_file = target_of(base, "ops").with_name(records.RECORD_NAME)
    record = records.read_record(record_file)
    assert record is not None
    marked = record.updated(
        rotation=records.RotationState(phase="created", old_access_key_id=KEY_ID)
    )
    record_file.write_text(records.dumps(marked))
    before = tree(base)
    refused = cli(*apply_args(base, "ec2", "--yes", project="ops"))
    assert refused.code == 2, refused.output
    assert "rotate --project ops --resume finish|rollback" in refused.stderr
    assert tree(base) == before
    forced = cli(*apply_args(base, "ec2", "--yes", "--discard-interrupted-rotation", project="ops"))
    assert forced.code == 0, forced.output


# --- 7. a value given where a secret or file name was expected is not echoed -----------------


@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["text", "json"])
def test_a_secret_given_as_a_file_name_is_never_echoed(
    base: Path, json_flag: tuple[str, ...]
) -> None:
    run = cli(
        *apply_args(
            base, "access-key", "--secret-file", SECRET, "--yes", *json_flag, project="ops"
        ),
        hidden=(SECRET,),
    )
    assert run.code == 2, run.output
    assert "<hidden>" in run.output


def test_a_secret_given_as_an_environment_variable_name_is_never_echoed(base: Path) -> None:
    run = cli(
        "rotate",
        "--manual",
        "--project",
        "ops",
        "--access-key-id",
        OTHER_KEY_ID,
        "--secret-env",
        SECRET,
        "--yes",
        "--json",
        "--rdeck-base",
        str(base),
        hidden=(SECRET,),
    )
    assert run.code == 2, run.output
    assert "<hidden>" in run.output


# --- 8. --allow-insecure-keyring before or after the subcommand -----------------------------


def test_allow_insecure_keyring_means_the_same_before_and_after_the_subcommand(base: Path) -> None:
    from tui.cli import build_parser

    parser = build_parser()
    before = parser.parse_args(["--allow-insecure-keyring", *apply_args(base, "ec2")])
    after = parser.parse_args([*apply_args(base, "ec2"), "--allow-insecure-keyring"])
    assert before.allow_insecure_keyring is after.allow_insecure_keyring is True
    rotate = parser.parse_args(["rotate", "--system", "--allow-insecure-keyring"])
    assert rotate.allow_insecure_keyring is True
    base_before = parser.parse_args(["--rdeck-base", str(base), "status"])
    assert base_before.rdeck_base == str(base)


# --- 11. a dry run reports what the real run would hit -------------------------------------


def test_a_dry_run_on_a_locked_keyring_says_so(
    base: Path, locked_keyring: SecretServiceSession
) -> None:
    run = cli(
        *apply_args(base, "access-key", "--secret-stdin", "--dry-run", project="ops"), input=SECRET
    )
    assert run.code == 4, run.output
    assert "is locked" in run.stderr


# --- 12. detect timeouts and a project named a+b ------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_detect_refuses_a_timeout_that_is_not_a_positive_number(value: str) -> None:
    run = cli("detect", "--timeout", value)
    assert run.code == 2, run.output
    assert "must be a number of seconds above 0" in run.stderr


def test_a_project_named_a_plus_b_takes_an_access_key(
    base: Path, keyring_session: SecretServiceSession, keystore: KeyStore
) -> None:
    project = base / "projects" / "a+b" / "etc"
    project.mkdir(parents=True)
    (project / "project.properties").write_text("project.name=a+b\n")
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", project="a+b")
    run = cli(*args, input=SECRET)
    assert run.code == 0, run.output
    assert keystore.get("keys/project/a+b/aws/secret-key") == Secret(SECRET)
    assert os.path.exists(project / records.RECORD_NAME)


# --- 9. a wrong type in an answers file -----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field", "kind"),
    [("rdeck_base = 3", "rdeck_base", "int"), ("[region]\nname = 'x'", "region", "dict")],
)
def test_a_wrong_type_in_an_answers_file_is_a_usage_error_naming_the_field(
    base: Path, tmp_path: Path, line: str, field: str, kind: str
) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text(f'method = "ec2"\nscope = "system"\n{line}\n')
    before = tree(base)
    run = cli("apply", "--answers", str(answers), "--rdeck-base", str(base), "--yes", "--json")
    assert run.code == 2, run.output
    assert f"{field} must be a string in quotes, not a {kind}" in run.json()["error"]
    assert tree(base) == before


# --- 14. a secret left behind by a move to a role -----------------------------------------


def test_moving_to_a_role_says_the_old_secret_stays_and_can_remove_it(
    base: Path, keyring_session: SecretServiceSession, keystore: KeyStore
) -> None:
    path = "keys/project/ops/aws/secret-key"
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", project="ops")
    assert cli(*args, input=SECRET).code == 0
    moved = cli(*apply_args(base, "ec2", "--yes", "--json", project="ops"))
    assert moved.code == 0, moved.output
    assert any("--remove-old-secret" in warning for warning in moved.json()["warnings"])
    assert keystore.get(path) == Secret(SECRET)
    status = cli("status", "--no-aws", "--json", "--rdeck-base", str(base))
    codes = {
        problem["code"]
        for entry in json.loads(status.stdout)["entries"]
        for problem in entry["problems"]
    }
    assert "leftover-secret" in codes
    removed = cli(*apply_args(base, "ec2", "--yes", "--remove-old-secret", project="ops"))
    assert removed.code == 0, removed.output
    assert keystore.get(path) is None
    again = cli("status", "--no-aws", "--json", "--rdeck-base", str(base))
    assert "leftover-secret" not in again.stdout


# --- 10. the status text of interrupted rotations ------------------------------------------


@pytest.mark.parametrize(
    ("phase", "new_key", "said", "offered"),
    [
        ("creating", None, "IAM may hold a new key", "--resume rollback."),
        ("created", OTHER_KEY_ID, "only a rollback is possible", "--resume rollback."),
        ("switched", OTHER_KEY_ID, "Finish or roll it back", "--resume finish|rollback"),
    ],
)
def test_status_says_what_an_interrupted_rotation_left_by_phase(
    base: Path,
    keyring_session: SecretServiceSession,
    phase: str,
    new_key: str | None,
    said: str,
    offered: str,
) -> None:
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", project="ops")
    assert cli(*args, input=SECRET).code == 0
    record_file = target_of(base, "ops").with_name(records.RECORD_NAME)
    record = records.read_record(record_file)
    assert record is not None
    state = records.RotationState(phase=phase, old_access_key_id=KEY_ID, new_access_key_id=new_key)
    record_file.write_text(records.dumps(record.updated(rotation=state)))
    # As a kill between the switch's file write and its record write leaves it:
    with target_of(base, "ops").open("a") as handle:
        handle.write("# switched\n")
    run = cli("status", "--no-aws", "--json", "--rdeck-base", str(base))
    problems = {
        problem["code"]: problem["message"]
        for entry in json.loads(run.stdout)["entries"]
        for problem in entry["problems"]
    }
    assert said in problems["rotation-interrupted"]
    assert offered in problems["rotation-interrupted"]
    assert "not created yet" not in problems["rotation-interrupted"]
    assert "drift" not in problems


@pytest.mark.parametrize("command", ["status", "apply"])
def test_a_secret_given_as_the_rundeck_base_is_never_echoed(command: str) -> None:
    args = ["status"] if command == "status" else ["apply", "--method", "ec2", "--system"]
    run = cli(*args, "--rdeck-base", SECRET, "--json", hidden=(SECRET,))
    assert run.code == 5, run.output
    assert "<hidden>" in run.output

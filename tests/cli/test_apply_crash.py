"""Kill -9 at every step boundary of ``apply``: the next run finds the journal and finishes or
rolls back, ``status`` says what happened, and the secret of the key the file names is never
lost (hardening issue, item 1).

The kill is deterministic: ``PA_AWS_SETUP_FAILPOINT`` makes the process SIGKILL itself at one
named boundary (``tui.core.failpoints``), so no 1–2 ms window is left to chance.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.cli.test_apply import (
    KEY_ID,
    OTHER_SECRET,
    SECRET,
    apply_args,
    cli,
    target_of,
)
from tests.fixtures.java_oracle import JavaPropertiesOracle
from tests.fixtures.keyring_service import SecretServiceSession
from tui.core.failpoints import VARIABLE
from tui.core.keystore import KeyStore
from tui.core.secret import Secret
from tui.core.setup import JOURNAL_NAME
from tui.demo import make_rundeck_layout

NEW_KEY_ID = "AKIA" + "PAAWSSETUPTEST02"
KEY_PATH = "keys/project/ops/aws/secret-key"
# Every boundary an apply that replaces an access key crosses, in order.
BOUNDARIES = (
    "apply:journal-written",
    "apply:previous-kept",
    "apply:secret-stored",
    "apply:phase-keyring",
    "apply:file-written",
    "apply:phase-file",
    "apply:before-journal-closed",
)
# Before the file is written the interrupted apply is rolled back; from then on, finished.
FINISHED_FROM = BOUNDARIES.index("apply:file-written")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A launcher-layout Rundeck with projects ops and web."""
    return make_rundeck_layout(tmp_path)


@pytest.fixture
def keyring_session(secret_service_clean: SecretServiceSession) -> SecretServiceSession:
    return secret_service_clean


def setup_key_a(base: Path) -> None:
    run = cli(
        *apply_args(base, "access-key", "--secret-stdin", "--yes", project="ops"), input=SECRET
    )
    assert run.code == 0, run.output


def apply_key_b(base: Path, *extra: str, env: dict[str, str] | None = None):
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", *extra, project="ops")
    args[args.index("--access-key-id") + 1] = NEW_KEY_ID
    return cli(*args, input=OTHER_SECRET, env=env)


def configured_key(oracle: JavaPropertiesOracle, base: Path) -> str:
    return oracle(target_of(base, "ops"))["project.aws.access_key"]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_kill_at_each_boundary_is_settled_by_the_next_run(
    boundary: str,
    base: Path,
    keyring_session: SecretServiceSession,
    keystore: KeyStore,
    java_properties: JavaPropertiesOracle,
) -> None:
    setup_key_a(base)
    killed = apply_key_b(base, env={**os.environ, VARIABLE: boundary})
    assert killed.code == -signal.SIGKILL, killed.output
    journal = target_of(base, "ops").with_name(JOURNAL_NAME)
    assert journal.exists()

    # Status reads only, and says an apply was interrupted.
    status = cli("status", "--no-aws", "--json", "--rdeck-base", str(base))
    assert status.code == 0, status.output
    codes = [
        problem["code"]
        for entry in json.loads(status.stdout)["entries"]
        for problem in entry["problems"]
    ]
    assert "interrupted-apply" in codes
    assert journal.exists()

    # Whichever it was, the keyring holds the secret of the key the file names, right now.
    from tui.core.setup import RecoveryAction, inspect_journal

    recovery = inspect_journal(target_of(base, "ops"))
    assert recovery is not None
    finished = BOUNDARIES.index(boundary) >= FINISHED_FROM
    assert recovery.action is (RecoveryAction.FINISH if finished else RecoveryAction.ROLLBACK)
    named = configured_key(java_properties, base)
    assert named == (NEW_KEY_ID if finished else KEY_ID)

    # The next apply settles it first, then applies: everything ends on key B.
    again = apply_key_b(base, "--json")
    assert again.code == 0, again.output
    steps = [step["name"] for step in json.loads(again.stdout)["steps"]]
    assert "journal" in steps
    assert not journal.exists()
    assert configured_key(java_properties, base) == NEW_KEY_ID
    assert keystore.get(KEY_PATH) == Secret(OTHER_SECRET)
    assert keystore.get(KEY_PATH + ".apply-previous") is None


@pytest.mark.parametrize("boundary", BOUNDARIES[:FINISHED_FROM])
def test_a_rolled_back_apply_gives_the_old_secret_back(
    boundary: str,
    base: Path,
    keyring_session: SecretServiceSession,
    keystore: KeyStore,
    java_properties: JavaPropertiesOracle,
) -> None:
    """Settled by a role apply instead: the file still named key A, so secret A comes back."""
    from tui.core.setup import inspect_journal
    from tui.core.setup.journal import recover

    setup_key_a(base)
    killed = apply_key_b(base, env={**os.environ, VARIABLE: boundary})
    assert killed.code == -signal.SIGKILL
    target = target_of(base, "ops")
    recovery = inspect_journal(target)
    assert recovery is not None
    steps = recover(recovery, target, target.with_name("aws-setup.toml"), keystore)
    assert steps[-1].name == "journal"
    assert configured_key(java_properties, base) == KEY_ID
    assert keystore.get(KEY_PATH) == Secret(SECRET)
    assert keystore.get(KEY_PATH + ".apply-previous") is None

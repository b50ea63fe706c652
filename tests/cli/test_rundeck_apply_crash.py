"""Kill -9 at every step boundary of an ``apply`` through Rundeck's API (issue "Rundeck
itself": its journal makes the writes to Rundeck crash-safe): ``status`` says an apply was
interrupted, the next apply settles it first, and Rundeck, Key Storage and the keyring end
on the same key, with nothing left on disk.

The kill is deterministic (``PA_AWS_SETUP_FAILPOINT``, ``tui.core.failpoints``); the
stand-in keeps running in this process, as a Rundeck server outlives a killed client.
"""

# ruff: noqa: F811 - the fixtures imported from test_rundeck_apply are parameters here

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.cli.test_apply import KEY_ID, OTHER_SECRET, SECRET, Run, apply_args, cli
from tests.cli.test_rundeck_apply import (  # noqa: F401 - fixtures
    KEY_PATH,
    OTHER_CONFIG,
    TOKEN,
    base,
    keyring_session,
    rundeck,
)
from tests.fixtures.keyring_service import SecretServiceSession
from tui.core.failpoints import VARIABLE
from tui.core.keystore import KeyStore
from tui.core.rundeck import find_install
from tui.core.rundeck_api import RundeckClient
from tui.core.secret import Secret
from tui.core.setup import Recovery, RecoveryAction
from tui.core.setup.api_journal import api_journal_path, inspect_api_journal, recover_api
from tui.core.setup.rundeck_targets import aws_keys
from tui.standins.rundeck_api import RundeckStandIn

NEW_KEY_ID = "AKIA" + "PAAWSSETUPTEST02"
FIRST_REGION, NEW_REGION = "eu-west-1", "eu-central-1"
# Every boundary an apply crosses that replaces key A (and the region) with key B, in order.
BOUNDARIES = (
    "apply:journal-written",
    "apply:previous-kept",
    "apply:secret-stored",
    "apply:phase-keyring",
    "apply:key-storage-written",
    "apply:phase-key-storage",
    "apply:config-key-set",  # the region is set, the access key not yet
    "apply:phase-config",
    "apply:before-journal-closed",
)
FINISHED_FROM = BOUNDARIES.index("apply:phase-config")


def apply_key(
    base: Path, key_id: str, secret: str, region: str, failpoint: str | None = None
) -> Run:
    args = apply_args(
        base, "access-key", "--secret-stdin", "--yes", "--json", project="billing", key_id=key_id
    )
    args += ["--region", region]
    env = {**os.environ, "RD_TOKEN": TOKEN}
    if failpoint is not None:
        env[VARIABLE] = failpoint
    return cli(*args, input=secret, env=env, hidden=(SECRET, OTHER_SECRET, TOKEN))


def settings(rundeck: RundeckStandIn) -> tuple[str | None, str | None]:
    config = rundeck.project_config("billing")
    return config.get("project.aws.access_key"), config.get("project.aws.region")


def journal_of(base: Path) -> Path:
    return api_journal_path(find_install(base), "billing")


def interrupted_codes(base: Path) -> list[str]:
    status = cli(
        "status", "--no-aws", "--json", "--rdeck-base", str(base),
        env={**os.environ, "RD_TOKEN": TOKEN}, hidden=(SECRET, OTHER_SECRET, TOKEN),
    )  # fmt: skip
    assert status.code == 0, status.output
    return [
        problem["code"]
        for entry in json.loads(status.stdout)["entries"]
        if entry.get("project") == "billing"
        for problem in entry["problems"]
    ]


def key_b_killed_at(base: Path, rundeck: RundeckStandIn, boundary: str) -> Recovery:
    """Key A applied, then an apply of key B killed -9 at ``boundary``: what the next run
    will find in its journal."""
    assert apply_key(base, KEY_ID, SECRET, FIRST_REGION).code == 0
    killed = apply_key(base, NEW_KEY_ID, OTHER_SECRET, NEW_REGION, failpoint=boundary)
    assert killed.code == -signal.SIGKILL, killed.output
    recovery = inspect_api_journal(
        find_install(base), "billing", aws_keys(rundeck.project_config("billing"))
    )
    assert recovery is not None
    return recovery


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_kill_at_each_boundary_is_settled_by_the_next_apply(
    boundary: str,
    base: Path,
    rundeck: RundeckStandIn,
    keyring_session: SecretServiceSession,
    keystore: KeyStore,
) -> None:
    recovery = key_b_killed_at(base, rundeck, boundary)
    assert journal_of(base).exists()
    assert "interrupted-apply" in interrupted_codes(base)  # status reads only
    assert journal_of(base).exists()
    finished = BOUNDARIES.index(boundary) >= FINISHED_FROM
    assert recovery.action is (RecoveryAction.FINISH if finished else RecoveryAction.ROLLBACK)

    again = apply_key(base, NEW_KEY_ID, OTHER_SECRET, NEW_REGION)
    assert again.code == 0, again.output
    assert "journal" in [step["name"] for step in again.json()["steps"]]
    assert settings(rundeck) == (NEW_KEY_ID, NEW_REGION)
    assert rundeck.read_password(KEY_PATH) == OTHER_SECRET.encode()  # as a plugin reads it
    assert keystore.get(KEY_PATH) == Secret(OTHER_SECRET)
    assert keystore.get(KEY_PATH + ".apply-previous") is None
    for key, value in OTHER_CONFIG.items():
        if not key.startswith("project.aws."):
            assert rundeck.project_config("billing")[key] == value
    assert not (base / "projects" / "billing").exists()  # the journal's folder went with it
    assert "interrupted-apply" not in interrupted_codes(base)


@pytest.mark.parametrize("boundary", BOUNDARIES[:FINISHED_FROM])
def test_a_rolled_back_apply_puts_key_a_back_everywhere(
    boundary: str,
    base: Path,
    rundeck: RundeckStandIn,
    keyring_session: SecretServiceSession,
    keystore: KeyStore,
) -> None:
    """Settled on its own: Rundeck names key A in its old region again, and Key Storage and
    the keyring hold secret A (the keyring's copy is what put Key Storage back)."""
    recovery = key_b_killed_at(base, rundeck, boundary)
    assert recovery.action is RecoveryAction.ROLLBACK
    with RundeckClient(rundeck.url, Secret(TOKEN)) as client:
        recover_api(recovery, client, keystore)
    assert settings(rundeck) == (KEY_ID, FIRST_REGION)
    assert rundeck.read_password(KEY_PATH) == SECRET.encode()
    assert keystore.get(KEY_PATH) == Secret(SECRET)
    assert keystore.get(KEY_PATH + ".apply-previous") is None
    assert not journal_of(base).exists()


def test_a_first_apply_killed_after_the_upload_deletes_the_key_it_created(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession, keystore: KeyStore
) -> None:
    killed = apply_key(base, KEY_ID, SECRET, FIRST_REGION, failpoint="apply:phase-key-storage")
    assert killed.code == -signal.SIGKILL, killed.output
    assert rundeck.stored_meta(KEY_PATH) is not None
    recovery = inspect_api_journal(
        find_install(base), "billing", aws_keys(rundeck.project_config("billing"))
    )
    assert recovery is not None and recovery.action is RecoveryAction.ROLLBACK
    with RundeckClient(rundeck.url, Secret(TOKEN)) as client:
        recover_api(recovery, client, keystore)
    assert rundeck.stored_meta(KEY_PATH) is None  # created by that run: deleted
    assert keystore.get(KEY_PATH) is None
    assert settings(rundeck) == (None, None)
    assert rundeck.project_config("billing") == OTHER_CONFIG


def test_a_key_changed_by_someone_else_meanwhile_is_not_guessed(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession
) -> None:
    assert apply_key(base, KEY_ID, SECRET, FIRST_REGION).code == 0
    killed = apply_key(base, NEW_KEY_ID, OTHER_SECRET, NEW_REGION, failpoint="apply:config-key-set")
    assert killed.code == -signal.SIGKILL
    with RundeckClient(rundeck.url, Secret(TOKEN)) as admin:  # an admin in the GUI
        admin.set_config_key("billing", "project.aws.region", "ap-south-1")
    again = apply_key(base, NEW_KEY_ID, OTHER_SECRET, NEW_REGION)
    assert again.code != 0
    assert "changed since by something else" in again.output
    assert rundeck.project_config("billing")["project.aws.region"] == "ap-south-1"  # untouched
    assert journal_of(base).exists()


def test_a_broken_journal_is_said_and_nothing_is_changed(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession
) -> None:
    journal = journal_of(base)
    journal.parent.mkdir(parents=True)
    journal.write_text("phase = [unfinished\n")
    before = rundeck.project_config("billing")
    run = apply_key(base, KEY_ID, SECRET, FIRST_REGION)
    assert run.code != 0
    assert "is an apply journal that cannot be read" in run.output
    assert "project's AWS settings in Rundeck" in run.output
    assert rundeck.project_config("billing") == before
    assert rundeck.stored_meta(KEY_PATH) is None
    assert "interrupted-apply" in interrupted_codes(base)

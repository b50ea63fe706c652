"""``apply`` and ``status`` against Rundeck's API on loopback (the stand-in of §8 of
``rundeck-api.md``), with RD_TOKEN in the environment and the URL found through
``--rdeck-base``'s ``server/config/rundeck-config.properties`` (issue "Rundeck itself")."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_apply import KEY_ID, SECRET, Run, apply_args, cli
from tests.fixtures.aws import LoopbackPort
from tests.fixtures.keyring_service import SecretServiceSession
from tui.core.keystore import KeyStore
from tui.core.rundeck_api import RundeckClient
from tui.core.secret import Secret
from tui.demo import make_rundeck_layout
from tui.standins.rundeck_api import RundeckStandIn
from tui.standins.rundeck_state import StandInToken

TOKEN = "rdTok3nForTheStandIn0123456789ab"
KEY_PATH = "keys/project/billing/aws/secret-key"
OTHER_CONFIG = {
    "project.name": "billing",
    "project.description": "kept in Rundeck's database",
    "resources.source.1.type": "local",
    "project.aws.credentialProvider": "instance",
}


@pytest.fixture
def rundeck() -> Iterator[RundeckStandIn]:
    server = RundeckStandIn(
        projects={"billing": dict(OTHER_CONFIG), "payroll": {"project.name": "payroll"}},
        tokens=[StandInToken.admin(TOKEN)],
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def base(tmp_path: Path, rundeck: RundeckStandIn) -> Path:
    """A launcher install whose rundeck-config.properties names the stand-in."""
    rdeck = make_rundeck_layout(tmp_path)
    config = rdeck / "server" / "config"
    config.mkdir(parents=True)
    (config / "rundeck-config.properties").write_text(f"grails.serverURL={rundeck.url}\n")
    return rdeck


@pytest.fixture
def keyring_session(secret_service_clean: SecretServiceSession) -> SecretServiceSession:
    return secret_service_clean


def with_token(token: str = TOKEN) -> dict[str, str]:
    return {**os.environ, "RD_TOKEN": token}


def apply_billing(base: Path, *extra: str, token: str = TOKEN, secret: str = SECRET) -> Run:
    args = apply_args(base, "access-key", "--secret-stdin", "--yes", "--json", *extra)
    args[args.index("--system")] = "--project"
    args.insert(args.index("--project") + 1, "billing")
    return cli(*args, input=secret, env=with_token(token), hidden=(SECRET, TOKEN))


def test_apply_puts_the_secret_in_key_storage_and_the_config_through_the_api(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession, keystore: KeyStore
) -> None:
    run = apply_billing(base)
    assert run.code == 0, run.output
    document = run.json()
    assert document["configuration_path"] == "api"
    assert document["key_storage"]["path"] == KEY_PATH
    assert document["key_storage"]["action"] == "create"
    assert document["rundeck"]["rundeck_version"]
    # As a plugin reads it: exactly a password.
    assert rundeck.read_password(KEY_PATH) == SECRET.encode()
    config = rundeck.project_config("billing")
    assert config["project.aws.access_key"] == KEY_ID
    assert config["project.aws.secret_key_path"] == KEY_PATH
    assert "project.aws.credentialProvider" not in config  # the other method's key went
    for key, value in OTHER_CONFIG.items():
        if not key.startswith("project.aws."):
            assert config[key] == value
    whole_config_puts = [
        r for r in rundeck.requests if r.method == "PUT" and r.path.endswith("/config")
    ]
    assert whole_config_puts == []
    # The local copy, so status and rotation can prove it with STS; and the token, by URL.
    assert keystore.get(KEY_PATH) == Secret(SECRET)
    assert not (base / "projects" / "billing").exists()


def test_status_flags_a_key_removed_behind_its_back(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession
) -> None:
    assert apply_billing(base).code == 0
    before = cli("status", "--no-aws", "--json", "--rdeck-base", str(base), env=with_token())
    assert "key-storage-missing" not in before.stdout
    with RundeckClient(rundeck.url, Secret(TOKEN)) as admin:  # as an admin in the GUI would
        admin.delete_key(KEY_PATH)
    after = cli("status", "--no-aws", "--json", "--rdeck-base", str(base), env=with_token())
    assert after.code == 0, after.output
    codes = {
        problem["code"]
        for entry in json.loads(after.stdout)["entries"]
        for problem in entry["problems"]
    }
    assert "key-storage-missing" in codes


def test_a_bad_token_is_refused_and_changes_nothing(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession, keystore: KeyStore
) -> None:
    run = apply_billing(base, token="wrongTokenWrongToken0123456789ab")
    assert run.code == 7, run.output
    assert run.json()["error_kind"] == "rundeck"
    assert rundeck.project_config("billing") == OTHER_CONFIG
    assert keystore.get(KEY_PATH) is None


def test_an_explicit_url_that_does_not_answer_is_an_error(
    base: Path, closed_port: LoopbackPort, keyring_session: SecretServiceSession
) -> None:
    run = apply_billing(base, "--url", closed_port.url)
    assert run.code == 7, run.output
    assert run.json()["changed"] is False


def test_a_key_this_tool_did_not_write_is_not_replaced_without_consent(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession
) -> None:
    rundeck.seed_key(KEY_PATH, b"someone-elses-secret", "application/x-rundeck-data-password")
    refused = apply_billing(base)
    assert refused.code == 2, refused.output
    assert "--replace-key" in refused.json()["error"]
    assert rundeck.read_password(KEY_PATH) == b"someone-elses-secret"
    forced = apply_billing(base, "--replace-key")
    assert forced.code == 0, forced.output
    assert rundeck.read_password(KEY_PATH) == SECRET.encode()


def test_offline_keeps_the_files_and_says_so(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession
) -> None:
    run = apply_billing(base, "--offline", "--paste-file", str(base / "lines.properties"))
    assert run.code == 0, run.output
    assert run.json()["configuration_path"] == "paste"
    assert rundeck.project_config("billing") == OTHER_CONFIG


def test_remove_deletes_the_config_keys_and_the_key_only_when_asked(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession, keystore: KeyStore
) -> None:
    assert apply_billing(base).code == 0
    env = with_token()
    kept = cli(
        "remove", "--project", "billing", "--yes", "--json", "--rdeck-base", str(base), env=env
    )
    assert kept.code == 0, kept.output
    assert json.loads(kept.stdout)["configuration_path"] == "api"
    config = rundeck.project_config("billing")
    assert not [key for key in config if key.startswith("project.aws.")]
    assert config["resources.source.1.type"] == "local"
    # Without --delete-key the secret stays, in Key Storage and in the keyring: both or neither.
    assert rundeck.stored_meta(KEY_PATH) is not None
    assert keystore.get(KEY_PATH) == Secret(SECRET)
    assert apply_billing(base).code == 0
    gone = cli(
        "remove",
        "--project",
        "billing",
        "--delete-key",
        "--yes",
        "--json",
        "--rdeck-base",
        str(base),
        env=env,
    )
    assert gone.code == 0, gone.output
    assert rundeck.stored_meta(KEY_PATH) is None
    assert keystore.get(KEY_PATH) is None


def test_remove_of_a_file_setup_offline(base: Path, keyring_session: SecretServiceSession) -> None:
    args = apply_args(base, "ec2", "--yes", "--offline")
    assert cli(*args).code == 0
    run = cli("remove", "--system", "--yes", "--json", "--offline", "--rdeck-base", str(base))
    assert run.code == 0, run.output
    assert "aws.credentialProvider" not in (base / "etc" / "framework.properties").read_text()


def test_status_says_a_role_of_a_database_project_is_not_detected_here(
    base: Path, rundeck: RundeckStandIn, keyring_session: SecretServiceSession
) -> None:
    """The role check covers the projects read through the API as it does the files (the
    detection used to run before Rundeck's projects were read, so they got none)."""
    with RundeckClient(rundeck.url, Secret(TOKEN)) as admin:
        admin.set_config_key("payroll", "project.aws.credentialProvider", "instance")
    env = {**with_token(), "AWS_EC2_METADATA_DISABLED": "true"}  # no instance role here
    run = cli("status", "--json", "--rdeck-base", str(base), env=env, hidden=(SECRET, TOKEN))
    assert run.code == 0, run.output
    payroll = next(e for e in json.loads(run.stdout)["entries"] if e.get("project") == "payroll")
    assert "role-not-detected" in [problem["code"] for problem in payroll["problems"]]

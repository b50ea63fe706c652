"""The status of a set-up install, from files, the real gnome-keyring and moto's IAM."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    FailingClients,
    Rundeck,
    iam_world_fixture,
    now,
    rundeck_fixture,
)
from tests.fixtures.aws import LoopbackPort, MotoServer
from tests.fixtures.keyring_service import SecretServiceSession
from tui.core.aws import mask_access_key_id
from tui.core.detect import detect_environment
from tui.core.keystore import KeyringUnavailableError, KeyStore
from tui.core.model import Answers, Method, Scope
from tui.core.rotation import rotate_key
from tui.core.setup import apply_setup, plan_setup
from tui.core.status import EntryStatus, InstallStatus, collect_status


def status_of(rundeck: Rundeck, **options: Any) -> InstallStatus:
    options.setdefault("keystore_factory", lambda: rundeck.keystore)
    options.setdefault("clock", now)
    options.setdefault("client_factory", FailingClients())
    return collect_status(rundeck.install, **options)


def system(status: InstallStatus) -> EntryStatus:
    entry = status.entry(Scope.SYSTEM)
    assert entry is not None
    return entry


def codes(entry: EntryStatus) -> list[str]:
    return [problem.code for problem in entry.problems]


def test_mask_shows_the_first_and_last_four() -> None:
    assert mask_access_key_id("AKIAIOSFODNN7EXAMPLE") == "AKIA…MPLE"
    assert mask_access_key_id(None) is None
    assert mask_access_key_id("SHORT") == "…"


def test_fresh_key_shows_everything_and_flags_nothing(rundeck: Rundeck) -> None:
    key = rundeck.configured_key()
    status = status_of(rundeck)
    assert status.has_setup
    assert [entry.label for entry in status.entries] == ["system"]  # ops has no AWS settings
    entry = system(status)
    assert entry.problems == []
    assert entry.method is Method.ACCESS_KEY
    assert entry.region == "us-east-1"
    assert entry.access_key_id_masked == f"{key[:4]}…{key[-4:]}"
    assert entry.key_path == "keys/aws/secret-key"
    assert entry.keyring_backend == rundeck.keystore.info().name
    assert entry.keyring_security == "secure"
    assert entry.secret_present is True
    assert entry.record_present and not entry.drift
    iam = entry.iam
    assert iam is not None and iam.error is None
    assert iam.iam_user == "rundeck"
    assert iam.user_arn == rundeck.world.user_arn
    assert iam.key_status == "Active"
    assert iam.age_days == 0 and iam.created_at is not None
    assert iam.last_used_at is not None and iam.last_used_service in ("sts", "iam")

    document = json.dumps(status.to_json_dict(), ensure_ascii=False)
    assert entry.access_key_id_masked in document
    assert key not in document
    for secret in rundeck.secrets:
        assert secret.reveal() not in document + repr(status)


def test_old_key_is_flagged_past_the_configured_age(rundeck: Rundeck) -> None:
    later = lambda: now() + timedelta(days=120)  # noqa: E731
    entry = system(status_of(rundeck, clock=later))
    assert entry.iam is not None and entry.iam.age_days is not None
    assert 119 <= entry.iam.age_days <= 120
    assert codes(entry) == ["key-old"]
    assert "90" in entry.problems[0].message
    assert codes(system(status_of(rundeck, clock=later, max_age_days=200))) == []


def test_secret_missing_from_the_keyring(rundeck: Rundeck) -> None:
    rundeck.keystore.delete("keys/aws/secret-key")
    entry = system(status_of(rundeck))
    assert entry.secret_present is False
    assert codes(entry) == ["secret-missing"]
    assert entry.problems[0].severity == "error"
    assert entry.iam is None


def test_hand_edit_since_the_record_is_drift(rundeck: Rundeck) -> None:
    with rundeck.file.open("a", encoding="latin-1") as handle:
        handle.write("aws.region=eu-west-1\n")
    entry = system(status_of(rundeck, ask_aws=False))
    assert entry.drift and codes(entry) == ["drift"]
    assert entry.region == "eu-west-1"


def test_interrupted_rotation_is_flagged(rundeck: Rundeck) -> None:
    clients = FailingClients()
    clients.refuse("update_access_key")
    result = rotate_key(
        rundeck.target(), keystore=rundeck.keystore, clock=now, client_factory=clients
    )
    assert result.outcome == "partial"
    entry = system(status_of(rundeck))
    assert "rotation-interrupted" in codes(entry)
    assert entry.rotation_phase == "switched"
    assert entry.previous_access_key_id_masked == mask_access_key_id(result.old_access_key_id)
    assert "--resume" in entry.problems[codes(entry).index("rotation-interrupted")].message


def test_key_deleted_in_iam_is_rejected(rundeck: Rundeck) -> None:
    rundeck.world.delete_key(rundeck.configured_key())
    entry = system(status_of(rundeck))
    assert codes(entry) == ["key-rejected"]
    assert entry.iam is not None and "InvalidClientTokenId" in (entry.iam.error or "")


def test_inactive_key_is_flagged(rundeck: Rundeck) -> None:
    rundeck.world.set_status(rundeck.configured_key(), "Inactive")
    entry = system(status_of(rundeck))
    assert codes(entry) == ["key-inactive"]


def test_missing_iam_permissions_only_limit_the_report(rundeck: Rundeck) -> None:
    rundeck.world.admin("iam").delete_user_policy(UserName="rundeck", PolicyName="rotate-own-keys")
    entry = system(status_of(rundeck))
    assert codes(entry) == []
    assert entry.iam is not None
    assert entry.iam.iam_user == "rundeck"
    assert entry.iam.age_days is None
    assert "AccessDenied" in (entry.iam.error or "")


def test_no_aws_call_without_ask_aws(rundeck: Rundeck) -> None:
    clients = FailingClients()
    clients.refuse("get_caller_identity")
    entry = system(status_of(rundeck, ask_aws=False, client_factory=clients))
    assert clients.calls == [] and entry.iam is None and entry.secret_present


def test_keyring_that_cannot_be_opened_is_a_problem_not_a_crash(rundeck: Rundeck) -> None:
    def broken() -> KeyStore:
        raise KeyringUnavailableError("No usable keyring: no D-Bus session bus.")

    entry = system(status_of(rundeck, keystore_factory=broken))
    assert codes(entry) == ["keyring-unavailable"]
    assert entry.secret_present is None

    def crashing() -> KeyStore:
        raise RuntimeError("boom")

    assert codes(system(status_of(rundeck, keystore_factory=crashing))) == ["keyring-unavailable"]


def test_locked_keyring_is_reported(rundeck: Rundeck, locked_keyring: SecretServiceSession) -> None:
    entry = system(status_of(rundeck))
    assert codes(entry) == ["keyring-locked"]
    assert entry.secret_present is None


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("latin-1"))


def test_broken_files_get_an_error_and_do_not_hide_the_others(rundeck: Rundeck) -> None:
    projects = rundeck.install.projects_dir
    _write(projects / "bad" / "etc" / "project.properties", b"project.aws.region=x\x00\n")
    _write(
        projects / "web" / "etc" / "project.properties", "project.aws.credentialProvider=instance\n"
    )
    _write(projects / "web" / "etc" / "aws-setup.toml", "this is = = not toml")
    status = status_of(rundeck, ask_aws=False)
    labels = {entry.label: entry for entry in status.entries}
    assert set(labels) == {"system", "project bad", "project web"}
    assert codes(labels["project bad"]) == ["error"]
    assert "binary" in labels["project bad"].problems[0].message
    assert "record-unreadable" in codes(labels["project web"])
    assert labels["project web"].method is Method.EC2
    assert codes(labels["system"]) == []


def test_two_methods_and_system_project_conflicts(rundeck: Rundeck) -> None:
    projects = rundeck.install.projects_dir
    _write(
        projects / "ops" / "etc" / "project.properties",
        "project.name=ops\nproject.aws.credentialProvider=instance\n"
        "project.aws.access_key=AKIAIOSFODNN7EXAMPLE\nproject.aws.secret_key_path=keys/project/ops/k\n",
    )
    _write(
        projects / "web" / "etc" / "project.properties",
        "project.aws.credentialProvider=container\nproject.aws.region=eu-west-1\n",
    )
    status = status_of(rundeck, ask_aws=False)
    ops, web = status.entry(Scope.PROJECT, "ops"), status.entry(Scope.PROJECT, "web")
    assert ops is not None and web is not None
    assert ops.methods == [Method.EC2, Method.ACCESS_KEY]
    assert "two-methods" in codes(ops)
    assert "secret-missing" in codes(ops)
    assert codes(web) == ["conflict", "conflict"]
    assert "overrides" in web.problems[0].message
    assert "eu-west-1" in web.problems[1].message and web.problems[1].severity == "info"


def _role_setup(rundeck: Rundeck) -> None:
    answers = Answers(method=Method.EC2, scope=Scope.SYSTEM, region="us-east-1")
    plan = plan_setup(rundeck.install, answers, keystore=None, clock=now)
    assert apply_setup(plan, keystore=None, secret=None, clock=now).ok


def test_role_still_detected(rundeck: Rundeck, imds_env: MotoServer) -> None:
    _role_setup(rundeck)
    detection = detect_environment(timeout=2.0)
    assert detection.ec2.detected
    entry = system(status_of(rundeck, detection=detection))
    assert entry.method is Method.EC2
    assert entry.role_detected is True
    assert codes(entry) == []


def test_role_no_longer_detected(
    rundeck: Rundeck, closed_port: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    _role_setup(rundeck)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed_port.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    detection = detect_environment(timeout=0.5)
    assert not detection.ec2.detected
    entry = system(status_of(rundeck, detection=detection))
    assert entry.role_detected is False
    assert codes(entry) == ["role-not-detected"]
    # Without a detection nothing is claimed either way.
    assert system(status_of(rundeck)).role_detected is None


def test_install_without_any_setup(tmp_path: Path) -> None:
    from tests.core.rotation_world import make_install

    install = make_install(tmp_path / "rd", {"ops": "project.name=ops\n"})

    def no_keyring() -> KeyStore:
        raise AssertionError("the keyring is not needed when no access key is configured")

    status = collect_status(install, keystore_factory=no_keyring, clock=now)
    assert not status.has_setup
    assert [entry.configured for entry in status.entries] == [False]
    assert status.to_json_dict()["problem_count"] == 0

"""Key rotation against moto's IAM/STS (signatures checked), a real gnome-keyring and the Java
reader: the success path, the two-key limit, a failure at every step, and kill -9 + resume.

After every failure the stored configuration must authenticate with the old or the new key,
and IAM must hold no key whose secret nobody has (``Rundeck.configured_key`` checks both).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import keyring.backend
import pytest

import tui.core.rotation.run as rotation_module
from tests.core.rotation_world import (  # noqa: F401 - fixtures
    REGION,
    FailingClients,
    FakeTime,
    Rundeck,
    iam_world_fixture,
    now,
    rundeck_fixture,
    set_up_access_key,
)
from tests.fixtures.keyring_service import SecretServiceSession
from tui.core.keystore import KeyStore
from tui.core.model import Scope
from tui.core.record import read_record, record_path
from tui.core.rotation import (
    PREVIOUS_SUFFIX,
    RotationError,
    RotationResult,
    SpareKey,
    inspect_interrupted,
    manual_rotate,
    resume_rotation,
    rotate_key,
)
from tui.core.secret import Secret
from tui.core.steps import Step, StepStatus
from tui.core.writer import WriteError

REPO = Path(__file__).resolve().parents[2]


def rotate(rundeck: Rundeck, **options: Any) -> RotationResult:
    fake = FakeTime()
    options.setdefault("keystore", rundeck.keystore)
    options.setdefault("client_factory", FailingClients())
    return rotate_key(
        rundeck.target(), clock=now, sleep=fake.sleep, monotonic=fake.monotonic, **options
    )


def resume(rundeck: Rundeck, action: Any = None, **options: Any) -> RotationResult:
    fake = FakeTime()
    options.setdefault("client_factory", FailingClients())
    return resume_rotation(
        rundeck.target(),
        action,
        keystore=rundeck.keystore,
        clock=now,
        sleep=fake.sleep,
        monotonic=fake.monotonic,
        **options,
    )


def assert_no_secret_in(result: RotationResult, rundeck: Rundeck) -> None:
    text = repr(result) + str(result.to_json_dict())
    for secret in rundeck.secrets:
        assert secret.reveal() not in text


# --- success ---------------------------------------------------------------------------------


def test_rotation_switches_to_a_new_working_key_and_deletes_the_old(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    other_settings = rundeck.settings_other_than_aws()
    steps: list[Step] = []
    result = rotate(rundeck, delete_old=True, on_step=steps.append)
    assert result.outcome == "rotated", result
    new = rundeck.configured_key()
    assert new != old and new == result.new_access_key_id
    assert rundeck.world.access_keys() == {new: "Active"}
    assert not rundeck.world.authenticates(old, rundeck.secrets[0])
    assert rundeck.settings_other_than_aws() == other_settings
    record = rundeck.record()
    assert record.access_key_id == new
    assert record.previous_access_key_id == old
    assert record.rotation is None and not record.previous_key_inactive
    assert record.rotated_at is not None and record.iam_user == "rundeck"
    assert rundeck.keystore.get(rundeck.target().previous_path) is None
    names = [step.name for step in steps if step.status == "done"]
    assert names == [
        "identify",
        "key-limit",
        "create",
        "wait",
        "keyring",
        "properties",
        "record",
        "switch",
        "deactivate",
        "delete-old",
        "finish",
    ]
    assert "rotated" in result.to_json_dict()["outcome"]
    assert_no_secret_in(result, rundeck)


def test_rotating_twice_keeping_the_old_key_never_hits_the_two_key_limit(
    rundeck: Rundeck,
) -> None:
    first_key = rundeck.configured_key()
    first = rotate(rundeck)
    assert first.outcome == "rotated", first
    second_key = rundeck.configured_key()
    assert rundeck.world.access_keys() == {second_key: "Active", first_key: "Inactive"}
    assert rundeck.record().previous_key_inactive

    steps: list[Step] = []
    second = rotate(rundeck, on_step=steps.append)
    assert second.outcome == "rotated", second
    third_key = rundeck.configured_key()
    # The inactive key left by the first rotation was deleted first, without asking.
    assert rundeck.world.access_keys() == {third_key: "Active", second_key: "Inactive"}
    assert any(
        step.name == "key-limit" and first_key in step.detail and "previous rotation" in step.detail
        for step in steps
    )


def test_rotating_twice_deleting_the_old_key(rundeck: Rundeck) -> None:
    for _ in range(2):
        before = rundeck.configured_key()
        result = rotate(rundeck, delete_old=True)
        assert result.outcome == "rotated", result
        after = rundeck.configured_key()
        assert after != before
        assert rundeck.world.access_keys() == {after: "Active"}


def test_project_scope_rotation_changes_only_the_project_file(rundeck: Rundeck) -> None:
    system_before = rundeck.file.read_bytes()
    # The user may hold two keys at most: the system setup's key goes first.
    rundeck.world.delete_key(rundeck.config_works())
    key, secret = rundeck.world.create_key()
    set_up_access_key(
        rundeck.install, rundeck.keystore, key, secret, scope=Scope.PROJECT, project="ops"
    )
    project = Rundeck(
        rundeck.install, rundeck.world, rundeck.keystore, rundeck.java, Scope.PROJECT, "ops"
    )
    result = rotate(project, delete_old=True)
    assert result.outcome == "rotated", result
    assert project.java(project.file)["project.name"] == "ops"
    assert project.configured_key() == result.new_access_key_id != key
    assert rundeck.file.read_bytes() == system_before


def test_a_key_another_setup_also_uses_is_not_rotated(rundeck: Rundeck) -> None:
    """The system key, typed again for project ops: rotating it for the system would leave
    ops on a key that is deactivated or deleted, so nothing is asked of IAM or written."""
    key = rundeck.configured_key()
    set_up_access_key(
        rundeck.install, rundeck.keystore, key, rundeck.secrets[0], scope=Scope.PROJECT,
        project="ops",
    )  # fmt: skip
    system_before = rundeck.file.read_bytes()
    result = rotate(rundeck, delete_old=True)
    assert result.outcome != "rotated"
    assert result.error is not None and "also the key of project ops" in result.error
    assert rundeck.world.access_keys() == {key: "Active"}
    assert rundeck.file.read_bytes() == system_before


# --- the two-key limit -----------------------------------------------------------------------


def test_inactive_spare_is_deleted_only_with_consent(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    spare, _ = rundeck.world.create_key(status="Inactive")
    before = (rundeck.file.read_bytes(), rundeck.world.access_keys())

    refused = rotate(rundeck, confirm_delete_inactive=lambda key: False)
    assert refused.outcome == "refused"
    assert spare in (refused.error or "") and "inactive" in (refused.error or "")
    assert (rundeck.file.read_bytes(), rundeck.world.access_keys()) == before
    assert rundeck.record().rotation is None

    asked: list[SpareKey] = []
    result = rotate(rundeck, confirm_delete_inactive=lambda key: asked.append(key) or True)
    assert result.outcome == "rotated", result
    assert [key.access_key_id for key in asked] == [spare] and not asked[0].ours
    new = rundeck.configured_key()
    assert rundeck.world.access_keys() == {new: "Active", old: "Inactive"}


def test_active_spare_is_never_deleted_and_nothing_changes(rundeck: Rundeck) -> None:
    rundeck.configured_key()
    spare, _ = rundeck.world.create_key()
    before = (rundeck.file.read_bytes(), rundeck.record(), rundeck.world.access_keys())
    asked: list[SpareKey] = []
    result = rotate(rundeck, confirm_delete_inactive=lambda key: asked.append(key) or True)
    assert result.outcome == "refused"
    assert result.error_kind == "aws"
    assert "never deletes an active key" in (result.error or "") and spare in (result.error or "")
    assert asked == []
    assert (rundeck.file.read_bytes(), rundeck.record(), rundeck.world.access_keys()) == before


# --- failures before the switch --------------------------------------------------------------


@pytest.mark.parametrize("method", ["get_caller_identity", "list_access_keys", "create_access_key"])
def test_aws_refusing_before_creation_changes_nothing(rundeck: Rundeck, method: str) -> None:
    old = rundeck.configured_key()
    before = (rundeck.file.read_bytes(), rundeck.record())
    clients = FailingClients()
    clients.refuse(method)
    result = rotate(rundeck, client_factory=clients)
    assert result.outcome == "refused" and result.error_kind == "aws"
    assert "AccessDenied" in (result.error or "")
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}
    assert (rundeck.file.read_bytes(), rundeck.record()) == before


def test_new_key_that_never_authenticates_is_deleted(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    clients = FailingClients()
    fake = FakeTime()
    # STS refuses every key but the old one: IAM never spreads the new key in time.
    clients.fail["get_caller_identity"] = lambda key: None if key == old else "InvalidClientTokenId"
    result = rotate_key(
        rundeck.target(),
        keystore=rundeck.keystore,
        clock=now,
        client_factory=clients,
        sleep=fake.sleep,
        monotonic=fake.monotonic,
        wait_seconds=30,
    )
    assert result.outcome == "rolled_back", result
    assert "InvalidClientTokenId" in (result.error or "")
    assert 3 <= len(fake.slept) <= 10 and sum(fake.slept) == pytest.approx(30)
    assert fake.slept[:3] == [0.5, 1.0, 2.0]
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}
    assert rundeck.record().rotation is None


def test_new_key_accepted_after_a_few_refusals_is_used(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    clients = FailingClients()
    clients.refuse("get_caller_identity", "InvalidClientTokenId", times=3)
    # The old key's identity call comes first; let it through by refusing only others.
    decide = clients.fail["get_caller_identity"]
    clients.fail["get_caller_identity"] = lambda key: None if key == old else decide(key)
    result = rotate(rundeck, client_factory=clients)
    assert result.outcome == "rotated", result
    assert rundeck.configured_key() == result.new_access_key_id


def test_failing_delete_of_the_unused_new_key_leaves_a_marker_that_resume_clears(
    rundeck: Rundeck,
) -> None:
    old = rundeck.configured_key()
    clients = FailingClients()
    clients.fail["get_caller_identity"] = lambda key: None if key == old else "InvalidClientTokenId"
    clients.refuse("delete_access_key")
    result = rotate(rundeck, client_factory=clients, wait_seconds=1)
    assert result.outcome == "failed"
    new = result.new_access_key_id
    assert new is not None and new in rundeck.world.access_keys()
    assert any(f"--access-key-id {new}" in step for step in result.next_steps)
    # The stored config still works with the old key, and the record names the new key.
    assert rundeck.config_works() == old
    record = rundeck.record()
    assert record.rotation is not None and record.rotation.new_access_key_id == new

    resumed = resume(rundeck)
    assert resumed.outcome == "rolled_back", resumed
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}
    assert rundeck.record().rotation is None


def test_failing_delete_of_an_inactive_spare_changes_nothing_else(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    spare, _ = rundeck.world.create_key(status="Inactive")
    clients = FailingClients()
    clients.refuse("delete_access_key")
    result = rotate(rundeck, client_factory=clients, confirm_delete_inactive=lambda key: True)
    assert result.outcome == "refused" and spare in (result.error or "")
    assert rundeck.world.access_keys() == {old: "Active", spare: "Inactive"}
    assert rundeck.record().rotation is None


@pytest.mark.parametrize(
    ("phase", "outcome"),
    [(b'phase = "creating"', "refused"), (b'phase = "created"', "rolled_back")],
)
def test_marker_write_failure_around_creation_leaves_no_orphan(
    rundeck: Rundeck, monkeypatch: pytest.MonkeyPatch, phase: bytes, outcome: str
) -> None:
    """No marker before CreateAccessKey: no key is created. No marker after it: the new key,
    whose id could not be recorded, is deleted at once."""
    old = rundeck.configured_key()
    failed = _failing_atomic_write(
        monkeypatch, lambda path, data: path.suffix == ".toml" and phase in data
    )
    result = rotate(rundeck)
    assert len(failed) == 1
    assert result.outcome == outcome, result
    assert result.error_kind == "config"
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}


def test_record_that_cannot_be_finished_leaves_a_resumable_rotation(
    rundeck: Rundeck, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = rundeck.configured_key()
    broken = [True]
    failed = _failing_atomic_write(
        monkeypatch,
        lambda path, data: (
            broken[0]
            and path.suffix == ".toml"
            and b"[rotation]" not in data
            and b"rotated_at" in data
        ),
    )
    result = rotate(rundeck, delete_old=True)
    assert failed and result.outcome == "partial", result
    assert "--resume finish" in " ".join(result.warnings)
    new = rundeck.config_works()
    assert new == result.new_access_key_id
    assert rundeck.world.access_keys() == {new: "Active"}
    broken[0] = False
    finished = resume(rundeck)
    assert finished.outcome == "rotated", finished
    assert rundeck.configured_key() == new
    assert rundeck.record().rotation is None and rundeck.record().access_key_id == new
    assert old not in rundeck.world.access_keys()


# --- failures during the switch --------------------------------------------------------------


class FlakyBackend(keyring.backend.KeyringBackend):
    """The real Secret Service backend, except that chosen writes fail like a broken keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, real: keyring.backend.KeyringBackend) -> None:
        super().__init__()
        self.real = real
        self.failing_writes: list[str] = []  # one path per failure, consumed in order
        self.broken = False

    def get_password(self, service: str, username: str) -> str | None:
        return self.real.get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.broken or (self.failing_writes and self.failing_writes[0] == username):
            if not self.broken:
                self.failing_writes.pop(0)
            raise keyring.errors.PasswordSetError("injected: the keyring refused the write")
        self.real.set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self.real.delete_password(service, username)


def flaky_store(session: SecretServiceSession) -> tuple[KeyStore, FlakyBackend]:
    backend = FlakyBackend(session.backend())
    return KeyStore(backend, timeout=30, assume_security="secure"), backend


def test_keyring_write_failure_restores_everything_and_deletes_the_new_key(
    rundeck: Rundeck, secret_service_clean: SecretServiceSession
) -> None:
    old = rundeck.configured_key()
    before = rundeck.file.read_bytes()
    store, backend = flaky_store(secret_service_clean)
    backend.failing_writes.append(rundeck.target().key_path)
    result = rotate(rundeck, keystore=store)
    assert result.outcome == "rolled_back", result
    assert result.error_kind == "keyring"
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}
    assert rundeck.file.read_bytes() == before
    assert rundeck.record().rotation is None
    assert rundeck.keystore.get(rundeck.target().previous_path) is None


def test_locked_keyring_at_the_switch_rolls_back(
    rundeck: Rundeck, secret_service_clean: SecretServiceSession
) -> None:
    old = rundeck.configured_key()

    def lock_at_switch(step: Step) -> None:
        if step.name == "switch" and step.status == "running":
            secret_service_clean.lock()

    result = rotate(rundeck, on_step=lock_at_switch)
    assert result.outcome == "rolled_back", result
    assert result.error_kind == "keyring" and "locked" in (result.error or "")
    secret_service_clean.unlock()
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}


def _failing_atomic_write(monkeypatch: pytest.MonkeyPatch, should_fail: Any) -> list[Path]:
    real = rotation_module.atomic_write
    failed: list[Path] = []

    def write(path: Path, data: bytes, **options: Any) -> Path | None:
        if should_fail(path, data):
            failed.append(path)
            raise WriteError(f"Cannot write {path}: injected; nothing was changed.")
        return real(path, data, **options)

    monkeypatch.setattr(rotation_module, "atomic_write", write)
    return failed


def test_properties_write_failure_restores_the_keyring_and_deletes_the_new_key(
    rundeck: Rundeck, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = rundeck.configured_key()
    before = rundeck.file.read_bytes()
    backups = set(rundeck.file.parent.glob("*.bak-*"))
    failed = _failing_atomic_write(monkeypatch, lambda path, data: path == rundeck.file)
    result = rotate(rundeck)
    assert failed == [rundeck.file]
    assert result.outcome == "rolled_back", result
    assert result.error_kind == "config"
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}
    assert rundeck.file.read_bytes() == before
    assert set(rundeck.file.parent.glob("*.bak-*")) == backups


def test_record_write_failure_at_the_switch_restores_keyring_and_file(
    rundeck: Rundeck, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = rundeck.configured_key()
    before = rundeck.file.read_bytes()
    _failing_atomic_write(
        monkeypatch, lambda path, data: path.suffix == ".toml" and b'"switched"' in data
    )
    result = rotate(rundeck)
    assert result.outcome == "rolled_back", result
    assert rundeck.configured_key() == old
    assert rundeck.file.read_bytes() == before
    assert rundeck.world.access_keys() == {old: "Active"}
    assert rundeck.record().rotation is None


def test_when_neither_the_keyring_nor_the_file_can_go_back_the_new_key_is_kept(
    rundeck: Rundeck,
    secret_service_clean: SecretServiceSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The record write fails, then putting the old secret back fails: the file is kept on
    the new key instead, so keyring and file agree on a working key."""
    old = rundeck.configured_key()
    store, backend = flaky_store(secret_service_clean)
    path = rundeck.target().key_path

    def break_keyring(path_: Path, data: bytes) -> bool:
        if path_.suffix == ".toml" and b'"switched"' in data:
            backend.broken = True  # from now on every keyring write fails
            return True
        return False

    _failing_atomic_write(monkeypatch, break_keyring)
    monkeypatch.setattr(rotation_module, "restore_file", _refuse_restore)
    result = rotate(rundeck, keystore=store)
    backend.broken = False
    assert result.outcome == "partial", result
    new = rundeck.configured_key()
    assert new == result.new_access_key_id != old
    assert rundeck.keystore.get(path) is not None
    assert rundeck.world.access_keys()[old] == "Inactive"


def _refuse_restore(path: Path, data: bytes | None) -> None:
    raise WriteError(f"Cannot write {path}: injected.")


# --- failures after the switch ---------------------------------------------------------------


def test_deactivation_refused_is_success_with_a_warning_and_resume_finishes(
    rundeck: Rundeck,
) -> None:
    old = rundeck.configured_key()
    clients = FailingClients()
    clients.refuse("update_access_key")
    result = rotate(rundeck, client_factory=clients, delete_old=True)
    assert result.outcome == "partial", result
    new = rundeck.configured_key()
    assert new == result.new_access_key_id
    assert rundeck.world.access_keys() == {new: "Active", old: "Active"}
    assert "still active" in result.warnings[0]
    assert any(
        f"update-access-key --user-name rundeck --access-key-id {old}" in s
        for s in result.next_steps
    )
    assert "still active" in result.state.iam
    info = inspect_interrupted(rundeck.target(), keystore=rundeck.keystore)
    assert info is not None and info.actions == ("finish", "rollback")

    finished = resume(rundeck, "finish", delete_old=True)
    assert finished.outcome == "rotated", finished
    assert rundeck.configured_key() == new
    assert rundeck.world.access_keys() == {new: "Active"}
    assert rundeck.record().rotation is None
    assert rundeck.keystore.get(rundeck.target().previous_path) is None


def test_deletion_refused_keeps_the_old_key_inactive_for_the_next_rotation(
    rundeck: Rundeck,
) -> None:
    old = rundeck.configured_key()
    clients = FailingClients()
    clients.refuse("delete_access_key")
    result = rotate(rundeck, client_factory=clients, delete_old=True)
    assert result.outcome == "partial", result
    new = rundeck.configured_key()
    assert rundeck.world.access_keys() == {new: "Active", old: "Inactive"}
    assert rundeck.record().previous_key_inactive
    assert rundeck.record().rotation is None
    assert rotate(rundeck).outcome == "rotated"
    assert old not in rundeck.world.access_keys()


def test_rollback_after_a_partial_rotation_restores_the_old_key(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    clients = FailingClients()
    clients.refuse("update_access_key", times=1)
    partial = rotate(rundeck, client_factory=clients)
    assert partial.outcome == "partial"
    new = partial.new_access_key_id
    rolled = resume(rundeck, "rollback")
    assert rolled.outcome == "rolled_back", rolled
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}
    assert new not in rundeck.world.access_keys()
    assert rundeck.record().rotation is None and rundeck.record().access_key_id == old


def test_rotation_refuses_to_start_over_an_interrupted_one(rundeck: Rundeck) -> None:
    clients = FailingClients()
    clients.refuse("update_access_key")
    assert rotate(rundeck, client_factory=clients).outcome == "partial"
    keys = rundeck.world.access_keys()
    again = rotate(rundeck)
    assert again.outcome == "refused" and "--resume" in (again.error or "")
    assert rundeck.world.access_keys() == keys


def test_resume_without_an_interrupted_rotation_is_refused(rundeck: Rundeck) -> None:
    result = resume(rundeck)
    assert result.outcome == "refused" and result.error_kind == "usage"


def test_missing_secret_refuses_automatic_rotation(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    rundeck.keystore.delete(rundeck.target().key_path)
    result = rotate(rundeck)
    assert result.outcome == "refused" and result.error_kind == "keyring"
    assert "manually" in (result.error or "")
    assert rundeck.world.access_keys() == {old: "Active"}


# --- manual rotation -------------------------------------------------------------------------


def test_manual_rotation_verifies_the_pasted_key_before_using_it(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    new, new_secret = rundeck.world.create_key()
    rundeck.secrets.append(new_secret)
    before = rundeck.file.read_bytes()
    fake = FakeTime()
    from tui.core.secret import Secret

    wrong = Secret(new_secret.reveal()[::-1])
    refused = manual_rotate(
        rundeck.target(),
        new,
        wrong,
        keystore=rundeck.keystore,
        clock=now,
        sleep=fake.sleep,
        monotonic=fake.monotonic,
    )
    assert refused.outcome == "refused" and "SignatureDoesNotMatch" in (refused.error or "")
    assert rundeck.file.read_bytes() == before
    assert rundeck.world.access_keys() == {old: "Active", new: "Active"}

    result = manual_rotate(
        rundeck.target(),
        new,
        new_secret,
        keystore=rundeck.keystore,
        clock=now,
        deactivate_old=True,
        sleep=fake.sleep,
        monotonic=fake.monotonic,
    )
    assert result.outcome == "rotated", result
    assert rundeck.configured_key() == new
    assert rundeck.world.access_keys() == {new: "Active", old: "Inactive"}
    assert_no_secret_in(result, rundeck)


def test_a_pasted_key_does_not_deactivate_a_key_another_setup_uses(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    set_up_access_key(
        rundeck.install, rundeck.keystore, old, rundeck.secrets[0], scope=Scope.PROJECT,
        project="ops",
    )  # fmt: skip
    new, new_secret = rundeck.world.create_key()
    rundeck.secrets.append(new_secret)
    fake = FakeTime()
    refused = manual_rotate(
        rundeck.target(), new, new_secret, keystore=rundeck.keystore, clock=now,
        deactivate_old=True, sleep=fake.sleep, monotonic=fake.monotonic,
    )  # fmt: skip
    assert refused.outcome == "refused" and "also the key of project ops" in (refused.error or "")
    assert rundeck.world.access_keys() == {old: "Active", new: "Active"}
    switched = manual_rotate(
        rundeck.target(), new, new_secret, keystore=rundeck.keystore, clock=now,
        sleep=fake.sleep, monotonic=fake.monotonic,
    )  # fmt: skip
    assert switched.outcome == "rotated", switched  # kept active: ops still works
    assert rundeck.java_settings()[0] == new
    assert rundeck.world.access_keys() == {old: "Active", new: "Active"}
    assert rundeck.world.authenticates(old, rundeck.keystore.get("keys/project/ops/aws/secret-key"))


def test_manual_rotation_when_the_stored_secret_was_lost(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    rundeck.keystore.delete(rundeck.target().key_path)
    rundeck.world.delete_key(old)
    new, new_secret = rundeck.world.create_key()
    result = manual_rotate(rundeck.target(), new, new_secret, keystore=rundeck.keystore, clock=now)
    assert result.outcome == "rotated", result
    assert rundeck.configured_key() == new


# --- killed at a step boundary, then resumed -------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime
    from keyring.backends import SecretService
    from tui.core import aws
    from tui.core.keystore import KeyStore
    from tui.core.model import Scope
    from tui.core.rotation import load_target, rotate_key
    from tui.core.rundeck import find_install

    stop_at, mode, base = sys.argv[1], sys.argv[2], sys.argv[3]

    def pause(tag):
        print("AT " + tag, flush=True)
        sys.stdin.readline()  # blocks until the test kills this process
        print("NOT KILLED", flush=True)

    def on_step(step):
        if f"{step.name}:{step.status}" == stop_at:
            pause(stop_at)

    def factory(service, **credentials):
        client = aws.client(service, **credentials)
        if stop_at == "iam:created" and service == "iam":
            create = client.create_access_key
            def create_then_pause(**arguments):
                answer = create(**arguments)
                pause(stop_at)
                return answer
            client.create_access_key = create_then_pause
        return client

    target = load_target(find_install(base), Scope.SYSTEM)
    result = rotate_key(
        target,
        keystore=KeyStore(SecretService.Keyring(), timeout=30),
        clock=lambda: datetime.now().astimezone().replace(microsecond=0),
        client_factory=factory,
        delete_old=mode == "delete",
        on_step=on_step,
    )
    print("END " + result.outcome, flush=True)
    """
)


def run_until_killed(rundeck: Rundeck, stop_at: str, mode: str) -> None:
    """Run a rotation in a child process, kill -9 it when it reaches ``stop_at``."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, stop_at, mode, str(rundeck.install.base)],
        cwd=REPO,
        env=os.environ.copy(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    deadline = time.monotonic() + 60
    seen: list[str] = []
    try:
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"child never reached {stop_at}: {seen}"
            ready, _, _ = select.select([child.stdout], [], [], remaining)
            if not ready:
                continue
            line = child.stdout.readline()
            errors = child.stderr.read() if child.stderr and not line else ""
            assert line, f"child ended before {stop_at}: {seen} {errors}"
            seen.append(line.strip())
            if line.strip() == f"AT {stop_at}":
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL


# (boundary, what a default resume does, whether the config works before resuming)
KILL_POINTS = [
    ("create:running", "rolled_back", True),
    ("iam:created", "rolled_back", True),
    ("create:done", "rolled_back", True),
    ("wait:done", "rolled_back", True),
    ("keyring:done", "rotated", False),
    ("properties:done", "rotated", True),
    ("switch:done", "rotated", True),
    ("deactivate:done", "rotated", True),
]


@pytest.mark.parametrize(
    ("stop_at", "outcome", "works_when_killed", "mode"),
    # Keeping or deleting the old key matters only once the new key is in use.
    [(*point, "keep") for point in KILL_POINTS]
    + [(*point, "delete") for point in KILL_POINTS if point[1] == "rotated"],
)
def test_killed_rotation_is_resumed_to_a_working_key(
    rundeck: Rundeck, stop_at: str, outcome: str, works_when_killed: bool, mode: str
) -> None:
    old = rundeck.configured_key()
    run_until_killed(rundeck, stop_at, mode)
    record = rundeck.record()
    assert record.rotation is not None, "the marker must be on disk at every boundary"
    assert record.rotation.old_access_key_id == old
    if works_when_killed:
        assert rundeck.config_works() in (old, record.rotation.new_access_key_id)
    info = inspect_interrupted(rundeck.target(), keystore=rundeck.keystore)
    assert info is not None and info.configured_key is not None
    assert info.actions[0] == ("rollback" if outcome == "rolled_back" else "finish")

    result = resume(rundeck, delete_old=mode == "delete")
    assert result.outcome == outcome, result
    key = rundeck.configured_key()
    keys = rundeck.world.access_keys()
    if outcome == "rolled_back":
        assert key == old and keys == {old: "Active"}
    else:
        assert key != old
        assert keys == ({key: "Active"} if mode == "delete" else {key: "Active", old: "Inactive"})
    assert rundeck.record().rotation is None
    assert rundeck.keystore.get(rundeck.target().key_path + PREVIOUS_SUFFIX) is None
    assert read_record(rundeck.file.with_name("aws-setup.toml")) == rundeck.record()


@pytest.mark.parametrize("stop_at", ["keyring:done", "switch:done", "deactivate:done"])
def test_killed_after_the_new_key_is_stored_can_be_rolled_back(
    rundeck: Rundeck, stop_at: str
) -> None:
    old = rundeck.configured_key()
    run_until_killed(rundeck, stop_at, "keep")
    result = resume(rundeck, "rollback")
    assert result.outcome == "rolled_back", result
    assert rundeck.configured_key() == old
    assert rundeck.world.access_keys() == {old: "Active"}
    assert rundeck.record().access_key_id == old


def test_finish_is_refused_when_the_new_secret_was_lost(rundeck: Rundeck) -> None:
    old = rundeck.configured_key()
    run_until_killed(rundeck, "create:done", "keep")
    keys = rundeck.world.access_keys()
    assert len(keys) == 2
    result = resume(rundeck, "finish")
    assert result.outcome == "refused" and "Roll back" in (result.error or "")
    assert rundeck.world.access_keys() == keys
    assert resume(rundeck, "rollback").outcome == "rolled_back"
    assert rundeck.world.access_keys() == {old: "Active"}


def test_region_is_kept(rundeck: Rundeck) -> None:
    rotate(rundeck)
    assert rundeck.java(rundeck.file)["aws.region"] == REGION


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_rotation_gives_the_record_and_the_backup_the_owner_of_the_properties_file(
    rundeck: Rundeck,
) -> None:
    owner = (4242, 4243)
    os.chown(rundeck.file, *owner)
    os.chown(record_path(rundeck.file), 0, 0)  # as an older version left it after a root apply
    result = rotate(rundeck, delete_old=True, keep_backups=1)
    assert result.outcome == "rotated", result
    for path in (rundeck.file, record_path(rundeck.file), result.backup):
        assert path is not None
        assert (path.stat().st_uid, path.stat().st_gid) == owner, path
    assert list(rundeck.file.parent.glob(f"{rundeck.file.name}.bak-*")) == [result.backup]


def test_rotation_refuses_a_record_linked_outside_the_install(
    rundeck: Rundeck, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.toml"
    record = record_path(rundeck.file)
    outside.write_bytes(record.read_bytes())
    record.unlink()
    record.symlink_to(outside)
    with pytest.raises(RotationError, match="outside the Rundeck install"):
        rundeck.target()


class Unreachable(FailingClients):
    """Every client points at a loopback port nothing listens on: AWS cannot be reached."""

    def client(self, service: str, access_key_id: str, secret: Secret, region: str | None) -> Any:
        return self._session.client(
            service,
            endpoint_url=f"http://127.0.0.1:{closed_port()}",
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret.reveal(),
            region_name=region or REGION,
            config=self._config,
        )


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when this returns


def test_an_unreachable_aws_is_said_at_once_and_waited_for_only_as_long_as_allowed(
    rundeck: Rundeck,
) -> None:
    """Headless or not, a wait is never silent: the first unanswered call is a step, and the
    end of the bounded wait closes it; nothing was changed."""
    old = rundeck.configured_key()
    new, new_secret = rundeck.world.create_key()
    rundeck.secrets.append(new_secret)
    before = rundeck.file.read_bytes()
    fake = FakeTime()
    steps: list[Any] = []
    result = manual_rotate(
        rundeck.target(),
        new,
        new_secret,
        keystore=rundeck.keystore,
        clock=now,
        client_factory=Unreachable(),
        on_step=steps.append,
        wait_seconds=12,
        sleep=fake.sleep,
        monotonic=fake.monotonic,
    )
    assert result.outcome == "refused", result
    said = [(step.status, step.detail) for step in steps if step.name == "aws"]
    assert said[0][0] == StepStatus.RUNNING and "trying again for up to 12 s" in said[0][1]
    assert said[-1][0] == StepStatus.FAILED  # closed: no step is left running
    assert sum(fake.slept) <= 12  # bounded: the waits never add up to more than allowed
    assert rundeck.file.read_bytes() == before
    assert rundeck.config_works() == old  # the pasted key is the admin's, left as it is

"""An interrupted rotation (killed, or stopped by an error): what it left, and finishing or
rolling it back from what the record, the keyring and IAM say, without any lost secret."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Unpack

from tui.core.aws import AwsError, CallerIdentity, ClientFactory
from tui.core.errors import ErrorKind
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.record import RecordError, RotationState, read_record
from tui.core.rotation.results import (
    InterruptedRotation,
    ResumeAction,
    RotationResult,
)
from tui.core.rotation.retire import retire_old
from tui.core.rotation.run import (
    MANUAL_PHASES,
    PHASE_CREATING,
    Clock,
    Run,
    RunSettings,
)
from tui.core.rotation.switch import SwitchFailed, switch_key, sync_key_storage
from tui.core.rotation.target import RotationError, RotationTarget
from tui.core.secret import Secret
from tui.core.steps import StepStatus
from tui.core.writer import WriteError

# A key created this long before the marker's start (clock skew) still counts as ours.
ORPHAN_SKEW = timedelta(minutes=10)


def inspect_interrupted(
    target: RotationTarget,
    *,
    keystore: KeyStore,
    client_factory: ClientFactory | None = None,
    clock: Clock = lambda: datetime.now().astimezone(),
) -> InterruptedRotation | None:
    """What an interrupted rotation left, and the safe ways out; changes nothing."""
    rotation = target.interrupted
    if rotation is None:
        return None
    # Only asks, never waits: a key still spreading through IAM counts as not working.
    run = Run(target, keystore=keystore, clock=clock, client_factory=client_factory, wait_seconds=0)
    observed = _observe(run, repair=False)
    previous = run.keyring_get(target.previous_path) is not None
    configured = observed[0] if observed else None
    actions: tuple[ResumeAction, ...]
    if configured is None:
        actions = ()
        why = (
            "Neither key authenticates with the secret in the keyring; nothing can be done "
            "safely until the keyring holds a working secret."
        )
    elif configured == rotation.old_access_key_id:
        actions = ("rollback",)
        why = f"Rundeck still uses the old key {configured}. " + (
            "Rolling back keeps it; the pasted key is left as it is in IAM."
            if rotation.phase in MANUAL_PHASES
            else "The new key's secret was never stored, so the only safe way out is to "
            "delete the new key."
        )
    elif configured != rotation.new_access_key_id:
        actions = ()
        why = (
            f"The file names {configured}, which is neither key of the rotation; it was "
            "changed by hand. Check it, then clear the rotation by reconfiguring."
        )
    else:
        actions = ("finish", "rollback") if previous else ("finish",)
        why = f"Rundeck already uses the new key {configured}; finishing retires the old key." + (
            " Rolling back restores the old key, whose secret is kept in the keyring."
            if previous
            else ""
        )
    return InterruptedRotation(
        phase=rotation.phase,
        old_access_key_id=rotation.old_access_key_id,
        new_access_key_id=rotation.new_access_key_id,
        started_at=rotation.started_at,
        configured_key=configured,
        previous_secret_stored=previous,
        actions=actions,
        explanation=why,
    )


def resume_rotation(
    target: RotationTarget,
    action: ResumeAction | None = None,
    *,
    delete_old: bool = False,
    **settings: Unpack[RunSettings],
) -> RotationResult:
    """Finish or roll back a rotation that was interrupted (killed, or stopped by an error).

    Without ``action`` the safe default is taken: finish when Rundeck already uses the new
    key, roll back when it still uses the old one. A created key whose secret was lost is
    always deleted, using the old key; nothing here needs that secret.
    """
    run = Run(target, **settings)

    def failed(error: RotationError) -> None:
        run.step("resume", StepStatus.FAILED, str(error))
        run.stop("failed", error.kind, str(error))

    def resume_then_sync() -> None:
        try:
            _resume(run, action, delete_old)
        finally:
            if run.changed:
                sync_key_storage(run)

    return run.execute(resume_then_sync, failed)


def _observe(run: Run, *, repair: bool) -> tuple[str, Secret, CallerIdentity] | None:
    """Which key the stored secret belongs to; with ``repair``, make the file name that key.

    Tries the keyring's secret with the file's key id, then with the other key of the
    rotation; failing both, the previous secret kept beside it. Needs no secret from memory.
    """
    rotation = run.record.rotation
    assert rotation is not None
    target = run.target
    file_id = run.file_key()
    stored = run.keyring_get(target.key_path)
    candidates = [
        key_id
        for key_id in dict.fromkeys(
            [file_id, rotation.old_access_key_id, rotation.new_access_key_id]
        )
        if key_id
    ]
    attempts: list[tuple[str, Secret]] = [(key_id, stored) for key_id in candidates if stored]
    previous = run.keyring_get(target.previous_path)
    if previous is not None:
        attempts.append((rotation.old_access_key_id, previous))
    for key_id, secret in attempts:
        # Only a freshly created key may still be spreading through IAM.
        patient = key_id == rotation.new_access_key_id and key_id == file_id
        try:
            identity = run.identify(key_id, secret, patient=patient)
        except AwsError as error:
            if error.offline:
                raise RotationError(str(error), ErrorKind.AWS) from None
            continue
        if repair and secret is not stored:
            try:
                run.keystore.put(target.key_path, secret, allow_insecure=True)
            except KeyStoreError as error:
                raise RotationError(str(error), ErrorKind.KEYRING) from None
            run.step(
                "keyring", StepStatus.DONE, f"put the secret of {key_id} back at {target.key_path}"
            )
        if repair and key_id != file_id:
            try:
                run.write_file_key(key_id)
            except WriteError as error:
                raise RotationError(str(error), ErrorKind.CONFIG) from None
            run.step("properties", StepStatus.DONE, f"{target.where} now names {key_id}")
        return key_id, secret, identity
    return None


def _resume(run: Run, action: ResumeAction | None, delete_old: bool) -> None:
    target, result = run.target, run.result
    try:
        record = read_record(target.record_file)
    except RecordError as error:
        raise RotationError(str(error), ErrorKind.CONFIG) from None
    if record is None or record.rotation is None:
        raise run.refuse("There is no interrupted rotation to resume.", ErrorKind.USAGE)
    run.record = record
    rotation = record.rotation
    old_id, new_id = rotation.old_access_key_id, rotation.new_access_key_id
    result.old_access_key_id, result.new_access_key_id = old_id, new_id
    run.step(
        "inspect", StepStatus.RUNNING, f"phase {rotation.phase}: which key does the keyring hold?"
    )
    observed = _observe(run, repair=True)
    if observed is None:
        raise RotationError(
            "Neither the old nor the new key authenticates with the secret stored at "
            f"{target.key_path}; nothing was changed in IAM. Put a working secret back "
            "(or rotate manually), then resume.",
            ErrorKind.KEYRING,
        )
    configured, secret, identity = observed
    run.iam_user = result.iam_user = identity.iam_user
    run.step("inspect", StepStatus.DONE, f"Rundeck uses {configured} ({identity.arn})")
    if configured not in (old_id, new_id):
        raise run.refuse(
            f"{target.where} names {configured}, which is neither key of the "
            "interrupted rotation: it was changed by hand. Nothing was changed in IAM; check "
            "the file, then reconfigure.",
            ErrorKind.CONFIG,
        )
    if configured == old_id:
        if action == "finish":
            raise run.refuse(
                "Cannot finish: Rundeck still uses the old key and the new key's secret was "
                "never stored. Roll back instead (--resume rollback): it deletes the new key.",
                ErrorKind.USAGE,
            )
        _rollback_on_old(run, secret)
    elif action == "rollback":
        _rollback_from_new(run, configured, secret)
    else:
        _finish(run, configured, secret, delete_old)


def _rollback_on_old(run: Run, old_secret: Secret) -> None:
    """Rundeck uses the old key: delete the new key (or the unrecorded one), clear the marker."""
    target, result = run.target, run.result
    rotation = run.record.rotation
    assert rotation is not None
    old_id = rotation.old_access_key_id
    old_iam = run.client("iam", old_id, old_secret)
    if rotation.phase not in MANUAL_PHASES:
        try:
            keys = run.list_keys(old_iam)
        except AwsError as error:
            raise RotationError(
                f"Cannot list the keys of {run.iam_user}: {error}", ErrorKind.AWS
            ) from None
        for key in _keys_to_discard(rotation, keys):
            try:
                run.delete_key(old_iam, key)
            except AwsError as error:
                raise RotationError(
                    f"Could not delete the new key {key}: {error}", ErrorKind.AWS
                ) from None
            run.step(
                "delete-new", StepStatus.ROLLED_BACK, f"deleted {key}: its secret was never stored"
            )
    changes: dict[str, Any] = {"access_key_id": old_id}
    if run.record.access_key_id != old_id:
        changes.update(previous_access_key_id=None, previous_key_inactive=False)
    run.finalize_record(**changes)
    result.new_access_key_id = None
    run.step("rollback", StepStatus.DONE, f"{target.label} uses {old_id}")
    result.state = run.state_on(
        old_id, f"{old_id} active and configured; the interrupted rotation's key is gone"
    )
    raise run.stop("rolled_back", None, None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.astimezone()


def _keys_to_discard(rotation: RotationState, keys: list[dict[str, Any]]) -> list[str]:
    """The keys an interrupted rotation created whose secrets nobody holds."""
    if rotation.new_access_key_id is not None:
        ids = {str(key.get("AccessKeyId")) for key in keys}
        return [rotation.new_access_key_id] if rotation.new_access_key_id in ids else []
    if rotation.phase != PHASE_CREATING or rotation.started_at is None:
        return []
    # Killed between CreateAccessKey and recording its answer: the only other key created
    # since the marker was written is that one (the key limit step left no spare).
    since = _aware(rotation.started_at) - ORPHAN_SKEW
    return [
        str(key.get("AccessKeyId"))
        for key in keys
        if key.get("AccessKeyId") != rotation.old_access_key_id
        and key.get("Status") == "Active"
        and isinstance(key.get("CreateDate"), datetime)
        and _aware(key["CreateDate"]) >= since
    ]


def _finish(run: Run, new_id: str, new_secret: Secret, delete_old: bool) -> None:
    """Rundeck uses the new key: retire the old one (automatic rotations only)."""
    rotation = run.record.rotation
    assert rotation is not None
    old_id = rotation.old_access_key_id
    run.result.new_access_key_id = new_id
    if run.record.access_key_id != new_id:
        run.record = run.record.updated(
            access_key_id=new_id,
            previous_access_key_id=old_id,
            rotated_at=run.record.rotated_at or run.clock(),
        )
    if rotation.phase in MANUAL_PHASES:
        finished = run.finalize_record(previous_access_key_id=old_id, previous_key_inactive=False)
        run.result.warnings.append(
            f"The old key {old_id} was left as it is in IAM; deactivate it once nothing uses it."
        )
        run.result.state = run.state_on(new_id, f"{new_id} configured; {old_id} unchanged")
        raise run.stop("partial" if not finished else "rotated", None, None)
    new_iam = run.client("iam", new_id, new_secret)
    try:
        keys = run.list_keys(new_iam, patient=True)
    except AwsError as error:
        raise RotationError(
            f"Cannot list the keys of {run.iam_user}: {error}", ErrorKind.AWS
        ) from None
    if not any(key.get("AccessKeyId") == old_id for key in keys):
        run.step("deactivate", StepStatus.SKIPPED, f"{old_id} no longer exists")
        finished = run.finalize_record(previous_access_key_id=None, previous_key_inactive=False)
        run.result.state = run.state_on(new_id, f"{new_id} active and configured; {old_id} deleted")
        raise run.stop("rotated" if finished else "partial", None, None)
    retire_old(run, new_id, new_secret, old_id, delete_old)


def _rollback_from_new(run: Run, new_id: str, new_secret: Secret) -> None:
    """Rundeck uses the new key: go back to the old one, whose secret the keyring kept."""
    target, result = run.target, run.result
    rotation = run.record.rotation
    assert rotation is not None
    old_id = rotation.old_access_key_id
    old_secret = run.keyring_get(target.previous_path)
    if old_secret is None:
        raise run.refuse(
            f"Cannot roll back: the old key's secret is no longer kept at {target.previous_path}. "
            "Finish instead (--resume finish).",
            ErrorKind.USAGE,
        )
    new_iam = run.client("iam", new_id, new_secret)
    try:
        keys = run.list_keys(new_iam, patient=True)
        old = next((key for key in keys if key.get("AccessKeyId") == old_id), None)
        if old is None:
            raise run.refuse(
                f"Cannot roll back: the old key {old_id} was deleted. Finish instead.",
                ErrorKind.USAGE,
            )
        if old.get("Status") != "Active":
            run.set_key_status(new_iam, old_id, "Active")
            run.step("reactivate", StepStatus.DONE, f"{old_id} is active again")
        run.step("wait", StepStatus.RUNNING, f"waiting until AWS accepts {old_id}")
        run.identify(old_id, old_secret, patient=True)
        run.step("wait", StepStatus.DONE, f"{old_id} authenticates")
    except AwsError as error:
        raise RotationError(f"Cannot roll back: {error}", ErrorKind.AWS) from None
    record_after = run.record.updated(
        access_key_id=old_id, previous_access_key_id=None, previous_key_inactive=False
    )
    try:
        switch_key(
            run,
            from_id=new_id,
            from_secret=new_secret,
            to_id=old_id,
            to_secret=old_secret,
            record_after=record_after,
            keep_previous=False,
        )
    except SwitchFailed as error:
        on = error.aligned_on or "neither key"
        result.state = run.state_on(
            on, f"{old_id} and {new_id} both active", "; the rotation marker is kept"
        )
        raise run.stop("failed", error.kind, f"Rolling back failed: {error}") from None
    if rotation.phase not in MANUAL_PHASES:
        old_iam = run.client("iam", old_id, old_secret)
        try:
            run.delete_key(old_iam, new_id, patient=True)
            run.step("delete-new", StepStatus.ROLLED_BACK, f"deleted {new_id}")
        except AwsError as error:
            result.warnings.append(f"The new key {new_id} could not be deleted: {error}")
            result.next_steps.append(
                f"aws iam delete-access-key --user-name {run.iam_user} --access-key-id {new_id}"
            )
            result.state = run.state_on(
                old_id,
                f"{old_id} active and configured; {new_id} still exists",
                "; the rotation marker is kept until the new key is deleted "
                "(pa-aws-setup rotate --resume rollback)",
            )
            raise run.stop("failed", ErrorKind.AWS, str(error)) from None
    run.finalize_record()
    result.new_access_key_id = None
    result.state = run.state_on(old_id, f"{old_id} active and configured; {new_id} deleted")
    raise run.stop("rolled_back", None, None)

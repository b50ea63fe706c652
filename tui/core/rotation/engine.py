"""Automatic rotation: create a new key with the current one, switch to it, retire the old one.

The record holds an in-progress marker (key ids only) from before CreateAccessKey until the
end, so a run killed at any point can be finished or rolled back (see resume.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, Unpack

from tui.core.aws import AwsError
from tui.core.errors import ErrorKind
from tui.core.record import RotationState
from tui.core.rotation.results import FinalState, RotationResult
from tui.core.rotation.retire import retire_old
from tui.core.rotation.run import (
    PHASE_CREATED,
    PHASE_CREATING,
    PHASE_SWITCHED,
    Run,
    RunSettings,
)
from tui.core.rotation.switch import SwitchFailed, switch_to_new
from tui.core.rotation.target import RotationTarget, other_users
from tui.core.secret import Secret
from tui.core.steps import StepStatus
from tui.core.writer import WriteError


@dataclass(frozen=True)
class SpareKey:
    """The IAM user's other access key, which blocks CreateAccessKey (two keys at most)."""

    access_key_id: str
    status: str
    created_at: datetime | None
    ours: bool


ConfirmDelete = Callable[[SpareKey], bool]


def rotate_key(
    target: RotationTarget,
    *,
    delete_old: bool = False,
    confirm_delete_inactive: ConfirmDelete | None = None,
    **settings: Unpack[RunSettings],
) -> RotationResult:
    """Create a new key, switch Rundeck to it, retire the old one; never leave no working key.

    ``confirm_delete_inactive`` is asked before deleting a spare inactive key that is not
    ours; without it such a key is left alone and the rotation stops. Active spares are
    never deleted.
    """
    run = Run(target, **settings)
    return run.execute(lambda: _rotate(run, delete_old, confirm_delete_inactive), run.unexpected)


def _rotate(run: Run, delete_old: bool, confirm: ConfirmDelete | None) -> None:
    target, result = run.target, run.result
    old_id = target.access_key_id
    data, _ = run.read_file()
    if data != target.data:
        raise run.refuse(
            f"{target.where} changed since it was read; look at it again and retry.",
            ErrorKind.CONFIG,
        )
    if run.record.rotation is not None:
        raise run.refuse(
            "An earlier rotation was interrupted; finish or roll it back first "
            "(pa-aws-setup rotate --resume finish|rollback).",
            ErrorKind.USAGE,
        )
    sharing = other_users(target, run.key_storage)
    if sharing:
        raise run.refuse(
            f"{old_id} is also the key of {', '.join(sharing)}: rotating it for "
            f"{target.label} would leave {'them' if len(sharing) > 1 else 'it'} on a key that is "
            "deactivated or deleted. Give each setup its own key first (Paste a new key, or "
            "Reconfigure with a new access key), then rotate.",
            ErrorKind.USAGE,
        )
    run.step("identify", StepStatus.RUNNING, f"asking AWS STS who owns {old_id}")
    old_secret = run.keyring_get(target.key_path)
    if old_secret is None:
        raise run.refuse(
            f"No secret is stored at {target.key_path}, so the current key cannot be used to "
            "create its successor. Rotate manually with a key created in the AWS console.",
            ErrorKind.KEYRING,
        )
    try:
        identity = run.identify(old_id, old_secret, patient=False)
    except AwsError as error:
        raise run.refuse(f"The current key does not work: {error}", ErrorKind.AWS) from None
    if identity.iam_user is None:
        raise run.refuse(
            f"The current key belongs to {identity.arn}, not to an IAM user; only IAM user "
            "keys can be rotated.",
            ErrorKind.USAGE,
        )
    run.iam_user = result.iam_user = identity.iam_user
    run.step("identify", StepStatus.DONE, f"IAM user {identity.iam_user} ({identity.arn})")
    old_iam = run.client("iam", old_id, old_secret)
    _make_room(run, old_iam, old_id, confirm)
    new_id, new_secret = _create(run, old_iam, old_id)
    try:
        run.step("wait", StepStatus.RUNNING, f"waiting until AWS accepts {new_id}")
        new_identity = run.identify(new_id, new_secret, patient=True)
        if new_identity.arn != identity.arn:
            raise AwsError(f"The new key authenticates as {new_identity.arn}, not {identity.arn}.")
        run.step("wait", StepStatus.DONE, f"{new_id} authenticates")
    except AwsError as error:
        run.step("wait", StepStatus.FAILED, str(error))
        _discard_new_key(run, old_iam, new_id, f"The new key never worked: {error}", ErrorKind.AWS)
    try:
        switch_to_new(
            run,
            new_id,
            new_secret,
            old_secret=old_secret,
            iam_user=identity.iam_user,
            phase=PHASE_SWITCHED,
        )
    except SwitchFailed as error:
        if error.aligned_on == old_id:
            _discard_new_key(run, old_iam, new_id, f"The switch failed: {error}", error.kind)
        result.new_access_key_id = new_id
        if error.aligned_on == new_id:
            result.warnings.append(f"The switch failed half-way ({error}); kept the new key.")
            retire_old(run, new_id, new_secret, old_id, delete_old)
        _switch_left_apart(run, old_id, new_id, error)
    result.new_access_key_id = new_id
    retire_old(run, new_id, new_secret, old_id, delete_old)


def _switch_left_apart(run: Run, old_id: str, new_id: str, error: SwitchFailed) -> NoReturn:
    """Keyring and file could not be brought to agree on one key: say so, and how to resume."""
    target = run.target
    run.result.next_steps.append(
        f"Fix the keyring or {target.where}, then run pa-aws-setup rotate "
        "--resume: it finds which key the stored secret belongs to."
    )
    run.result.state = FinalState(
        iam=f"{old_id} and {new_id} both active",
        keyring=f"{target.key_path} may hold either key's secret; the previous secret is kept "
        f"at {target.previous_path}",
        files=f"{target.where} may name the other key; the record keeps the rotation marker",
    )
    raise run.stop("failed", error.kind, str(error))


def _make_room(run: Run, old_iam: Any, old_id: str, confirm: ConfirmDelete | None) -> None:
    """Step 2: the two-key limit. Deletes only an inactive spare: ours, or with consent."""
    run.step("key-limit", StepStatus.RUNNING, f"listing the access keys of {run.iam_user}")
    try:
        keys = run.list_keys(old_iam)
    except AwsError as error:
        raise run.refuse(
            f"Cannot list the keys of {run.iam_user} with the current key: {error}", ErrorKind.AWS
        ) from None
    if not any(key.get("AccessKeyId") == old_id for key in keys):
        raise run.refuse(
            f"IAM does not list {old_id} among the keys of {run.iam_user}.", ErrorKind.AWS
        )
    spares = [key for key in keys if key.get("AccessKeyId") != old_id]
    if not spares:
        run.step("key-limit", StepStatus.DONE, f"{run.iam_user} has one key: room for a second")
        return
    record = run.record
    for key in spares:
        spare = SpareKey(
            access_key_id=str(key.get("AccessKeyId")),
            status=str(key.get("Status")),
            created_at=key.get("CreateDate"),
            ours=record.previous_key_inactive
            and record.previous_access_key_id == key.get("AccessKeyId"),
        )
        if spare.status != "Inactive":
            raise run.refuse(
                f"IAM user {run.iam_user} already has two access keys, and the other one, "
                f"{spare.access_key_id}, is active: it may be in use somewhere else. "
                "pa-aws-setup never deletes an active key. If nothing uses it, deactivate or "
                f"delete it (aws iam delete-access-key --user-name {run.iam_user} "
                f"--access-key-id {spare.access_key_id}), then rotate again.",
                ErrorKind.AWS,
            )
        if not spare.ours and (confirm is None or not confirm(spare)):
            raise run.refuse(
                f"IAM user {run.iam_user} already has two access keys; the other one, "
                f"{spare.access_key_id}, is inactive but was not left by pa-aws-setup. "
                "Allow deleting it to make room, or delete it yourself, then rotate again.",
                ErrorKind.USAGE,
            )
        try:
            run.delete_key(old_iam, spare.access_key_id)
        except AwsError as error:
            raise run.refuse(
                f"Could not delete the inactive key {spare.access_key_id}: {error}", ErrorKind.AWS
            ) from None
        run.removed_spare = spare.access_key_id
        why = "left inactive by the previous rotation" if spare.ours else "with consent"
        run.step(
            "key-limit", StepStatus.DONE, f"deleted the inactive key {spare.access_key_id} ({why})"
        )
        if record.previous_access_key_id == spare.access_key_id:
            with contextlib.suppress(WriteError):
                run.save_record(
                    run.record.updated(previous_access_key_id=None, previous_key_inactive=False)
                )


def _create(run: Run, old_iam: Any, old_id: str) -> tuple[str, Secret]:
    """Step 3: CreateAccessKey between two marker writes, so no new key goes unrecorded."""
    target = run.target
    started = run.clock()
    try:
        run.save_record(
            run.record.updated(rotation=RotationState(PHASE_CREATING, old_id, None, started))
        )
    except WriteError as error:
        raise run.refuse(f"Cannot record the rotation: {error}", ErrorKind.CONFIG) from None
    run.step("create", StepStatus.RUNNING, f"creating a new access key for {run.iam_user}")
    try:
        answer = run.call(
            "CreateAccessKey", lambda: old_iam.create_access_key(UserName=run.iam_user)
        )
    except AwsError as error:
        clear_marker_or_warn(run)
        raise run.refuse(f"AWS did not create a new key: {error}", ErrorKind.AWS) from None
    created = answer.get("AccessKey", {})
    new_id = str(created.get("AccessKeyId", ""))
    new_secret = Secret(str(created.get("SecretAccessKey", "")))
    del answer, created
    try:
        run.save_record(
            run.record.updated(rotation=RotationState(PHASE_CREATED, old_id, new_id, started))
        )
    except WriteError as error:
        run.step("create", StepStatus.FAILED, f"cannot record the new key: {error}")
        _discard_new_key(
            run, old_iam, new_id, f"Cannot record the new key: {error}", ErrorKind.CONFIG
        )
    run.result.new_access_key_id = new_id
    run.step("create", StepStatus.DONE, f"created {new_id}; recorded in {target.record_file.name}")
    return new_id, new_secret


def clear_marker_or_warn(run: Run) -> None:
    """Drop the rotation marker from the record; a warning when the record cannot be written."""
    try:
        run.save_record(run.record.updated(rotation=None))
    except WriteError as error:
        run.result.warnings.append(f"The rotation marker could not be cleared: {error}")


def _discard_new_key(run: Run, old_iam: Any, new_id: str, reason: str, kind: ErrorKind) -> NoReturn:
    """Roll back before the switch: delete the new key with the old credentials; raises Stop."""
    target, result = run.target, run.result
    old_id = target.access_key_id
    try:
        run.delete_key(old_iam, new_id)
    except AwsError as error:
        run.step("delete-new", StepStatus.FAILED, str(error))
        result.new_access_key_id = new_id
        result.next_steps.append(
            f"aws iam delete-access-key --user-name {run.iam_user} --access-key-id {new_id}  "
            "(or pa-aws-setup rotate --resume rollback)"
        )
        result.state = run.state_on(
            old_id,
            f"{old_id} active and configured; {new_id} still exists and must be deleted (its "
            "secret was never stored)",
            "; the record keeps the rotation marker naming the key to delete",
        )
        raise run.stop(
            "failed", kind, f"{reason} Deleting the new key failed too: {error}"
        ) from None
    run.step("delete-new", StepStatus.ROLLED_BACK, f"deleted the new key {new_id}")
    clear_marker_or_warn(run)
    result.new_access_key_id = None
    result.state = run.state_on(old_id, f"{old_id} active and configured; the new key was deleted")
    raise run.stop("rolled_back", kind, reason)

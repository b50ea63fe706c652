"""Manual rotation: switch to a key pair an administrator created in the AWS console, once STS
accepts it. The pasted key is never deleted; the old one is retired only when asked."""

from __future__ import annotations

import contextlib
from typing import Unpack

from tui.core.aws import AwsError, CallerIdentity
from tui.core.errors import ErrorKind
from tui.core.record import RotationState
from tui.core.rotation.results import FinalState, RotationResult
from tui.core.rotation.retire import console_steps, iam_commands, retire_old
from tui.core.rotation.run import (
    PHASE_MANUAL,
    PHASE_MANUAL_SWITCHED,
    Run,
    RunSettings,
)
from tui.core.rotation.switch import SwitchFailed, switch_to_new
from tui.core.rotation.target import RotationError, RotationTarget, other_users
from tui.core.secret import Secret
from tui.core.steps import StepStatus
from tui.core.validate import ValidationError, validate_access_key_id
from tui.core.writer import WriteError


def check_new_key(target: RotationTarget, access_key_id: str) -> str:
    """The pasted access key id, trimmed, when it can replace the target's key.

    RotationError (kind usage) for a malformed or temporary (ASIA) id, or the key in use now.
    """
    try:
        access_key_id = validate_access_key_id(access_key_id)
    except ValidationError as error:
        raise RotationError(str(error), ErrorKind.USAGE) from None
    if access_key_id == target.access_key_id:
        raise RotationError(f"{access_key_id} is already the configured key.", ErrorKind.USAGE)
    return access_key_id


def manual_rotate(
    target: RotationTarget,
    new_access_key_id: str,
    new_secret: Secret,
    *,
    deactivate_old: bool = False,
    delete_old: bool = False,
    allow_other_user: bool = False,
    **settings: Unpack[RunSettings],
) -> RotationResult:
    """Switch to a key pair created in the console, after STS accepts it; never deletes it.

    A key of another IAM user than the old key's is refused (kind verify) unless
    ``allow_other_user``. Deactivating (and deleting) the old key is optional and uses the
    new key's credentials; when they may not, the result says what to do in the console.
    """
    run = Run(target, **settings)
    retire = deactivate_old or delete_old
    return run.execute(
        lambda: _manual(run, new_access_key_id, new_secret, retire, delete_old, allow_other_user),
        run.unexpected,
    )


def _manual(
    run: Run,
    new_id: str,
    new_secret: Secret,
    deactivate_old: bool,
    delete_old: bool,
    allow_other_user: bool,
) -> None:
    target, result = run.target, run.result
    old_id = target.access_key_id
    try:
        new_id = check_new_key(target, new_id)
    except RotationError as error:
        raise run.refuse(str(error), error.kind) from None
    data, _ = run.read_file()
    if data != target.data:
        raise run.refuse(f"{target.where} changed since it was read.", ErrorKind.CONFIG)
    if run.record.rotation is not None:
        raise run.refuse("An earlier rotation was interrupted; resume it first.", ErrorKind.USAGE)
    sharing = other_users(target, run.key_storage) if deactivate_old else []
    if sharing:
        raise run.refuse(
            f"{old_id} is also the key of {', '.join(sharing)}, so it must stay active: switch "
            "without deactivating or deleting it (or give those setups their own key first).",
            ErrorKind.USAGE,
        )
    result.new_access_key_id = new_id
    run.step("verify", StepStatus.RUNNING, f"asking AWS STS whether {new_id} works")
    try:
        identity = run.identify(new_id, new_secret, patient=True)
    except AwsError as error:
        raise run.refuse(
            f"The new key does not work, nothing was changed: {error}",
            ErrorKind.AWS if error.offline else ErrorKind.VERIFY,
        ) from None
    old_secret = run.keyring_get(target.key_path)
    old_owner = _old_key_owner(run, old_id, old_secret)
    other_user = old_owner is not None and not _owned_by(identity, old_owner)
    # Said done before the checks below: the new key was verified, whatever they decide.
    run.step(
        "verify",
        StepStatus.DONE,
        f"{new_id} authenticates as {identity.arn}" + _owner_note(old_owner, other_user),
    )
    if other_user and not allow_other_user:
        raise run.refuse(
            f"The new key belongs to {identity.arn}, but the old key {old_id} to {old_owner}. "
            "Create the new key for the same IAM user, or allow another user explicitly "
            "(--allow-other-user); nothing was changed.",
            ErrorKind.VERIFY,
        )
    if other_user and deactivate_old:
        raise run.refuse(
            f"The old key {old_id} belongs to {old_owner}, not to the new key's user: "
            "pa-aws-setup does not deactivate or delete another user's key. Switch without "
            "retiring it, then retire it in the AWS console; nothing was changed.",
            ErrorKind.USAGE,
        )
    run.iam_user = result.iam_user = identity.iam_user
    run.begin_changes()
    now = run.clock()
    try:
        run.save_record(
            run.record.updated(rotation=RotationState(PHASE_MANUAL, old_id, new_id, now))
        )
    except WriteError as error:
        raise run.refuse(f"Cannot record the rotation: {error}", ErrorKind.CONFIG) from None
    try:
        switch_to_new(
            run,
            new_id,
            new_secret,
            old_secret=old_secret,
            iam_user=identity.iam_user,
            phase=PHASE_MANUAL_SWITCHED,
        )
    except SwitchFailed as error:
        if error.aligned_on == old_id or (error.aligned_on is None and old_secret is None):
            with contextlib.suppress(WriteError):
                run.save_record(run.record.updated(rotation=None))
            result.new_access_key_id = None
            result.state = FinalState(
                iam="unchanged",
                keyring=f"{target.key_path} as before",
                files=f"{target.where} uses {old_id}",
            )
            raise run.stop("rolled_back", error.kind, str(error)) from None
        raise run.stop("failed", error.kind, str(error)) from None
    if deactivate_old:
        retire_old(run, new_id, new_secret, old_id, delete_old, manual=True)
    finished = run.finalize_record(previous_access_key_id=old_id, previous_key_inactive=False)
    # Another user's key is that user's to retire: the console steps name that user.
    owner = _user_name(old_owner) if other_user and old_owner else run.iam_user
    result.warnings.append(
        f"The old key {old_id} is still active in IAM"
        + (f" (it belongs to {old_owner})" if other_user else "")
        + "; deactivate it once nothing uses it."
    )
    result.next_steps.extend(
        [console_steps(owner, old_id, delete=False), iam_commands(owner, old_id)[0]]
    )
    result.state = run.state_on(new_id, f"{new_id} configured; {old_id} still active")
    raise run.stop("rotated" if finished else "partial", None, None)


def _old_key_owner(run: Run, old_id: str, old_secret: Secret | None) -> str | None:
    """Who owns the old key, when that is knowable: its ARN from STS (with the stored secret),
    else the IAM user the record names; None when neither says."""
    if old_secret is not None:
        with contextlib.suppress(AwsError):  # deleted, inactive, or not its secret
            return run.identify(old_id, old_secret, patient=False).arn
    return run.record.iam_user


def _owned_by(identity: CallerIdentity, owner: str) -> bool:
    return identity.arn == owner if owner.startswith("arn:") else identity.iam_user == owner


def _owner_note(owner: str | None, other_user: bool) -> str:
    if owner is None:
        return " (whether the old key has the same owner is not known)"
    return f"; the old key belongs to {owner} (allowed)" if other_user else ""


def _user_name(owner: str) -> str | None:
    """The IAM user name in an owner as _old_key_owner gives it (an ARN or a name)."""
    if not owner.startswith("arn:"):
        return owner
    return CallerIdentity(account="", arn=owner, user_id="").iam_user

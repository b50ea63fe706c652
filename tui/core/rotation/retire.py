"""Retiring the old key once Rundeck uses the new one: deactivate it, then maybe delete it,
with the new key's credentials. A failure here is success with a warning."""

from __future__ import annotations

from typing import Any

from tui.core.aws import AwsError
from tui.core.errors import ErrorKind
from tui.core.rotation.run import Run
from tui.core.secret import Secret
from tui.core.steps import StepStatus


def iam_commands(user: str | None, old_id: str) -> list[str]:
    """The AWS CLI commands that deactivate, then delete, ``old_id``."""
    who = f"--user-name {user} " if user else ""
    return [
        f"aws iam update-access-key {who}--access-key-id {old_id} --status Inactive",
        f"aws iam delete-access-key {who}--access-key-id {old_id}",
    ]


def console_steps(user: str | None, old_id: str, *, delete: bool) -> str:
    """Where an administrator retires ``old_id`` by hand in the AWS console."""
    actions = "Deactivate, then Delete" if delete else "Deactivate"
    return (
        f"In the AWS console: IAM → Users → {user or 'the key owner'} → Security credentials "
        f"→ Access keys → {old_id} → Actions → {actions}"
    )


def retire_old(
    run: Run,
    new_id: str,
    new_secret: Secret,
    old_id: str,
    delete_old: bool,
    *,
    manual: bool = False,
) -> None:
    """Deactivate ``old_id`` (and delete it with ``delete_old``); always ends the run.

    After an automatic rotation a refused deactivation keeps the rotation marker, so
    ``--resume finish`` can retry; after a manual one the switch is complete and the marker
    goes, with the console steps left to an administrator.
    """
    result = run.result
    new_iam = run.client("iam", new_id, new_secret)
    run.step("deactivate", StepStatus.RUNNING, f"deactivating {old_id}")
    try:
        run.set_key_status(new_iam, old_id, "Inactive")
    except AwsError as error:
        run.step("deactivate", StepStatus.FAILED, str(error))
        result.warnings.append(
            f"The new key {new_id} is configured and works, but the old key {old_id} is still "
            f"active: {error}"
        )
        commands = iam_commands(run.iam_user, old_id)[: 2 if delete_old else 1]
        iam = f"{new_id} active and configured; {old_id} still active"
        if manual:
            result.next_steps.extend(
                [console_steps(run.iam_user, old_id, delete=delete_old), *commands]
            )
            run.finalize_record(previous_access_key_id=old_id, previous_key_inactive=False)
            result.state = run.state_on(new_id, iam)
        else:
            result.next_steps.extend([*commands, "or: pa-aws-setup rotate --resume finish"])
            result.state = run.state_on(
                new_id, iam, "; the record keeps the rotation marker until it is finished"
            )
            result.state.keyring += f"; the previous secret is kept at {run.target.previous_path}"
        raise run.stop("partial", ErrorKind.AWS, str(error)) from None
    run.step("deactivate", StepStatus.DONE, f"{old_id} is inactive")
    deleted = delete_old and _delete_old(run, new_iam, old_id, manual=manual)
    if not delete_old:
        run.step(
            "keep-old", StepStatus.DONE, f"kept {old_id}, inactive; the next rotation deletes it"
        )
    changes: dict[str, Any] = {}
    if run.record.access_key_id != new_id:
        # The switch ended on the new key without its record update (see switch._undo).
        changes.update(access_key_id=new_id, rotated_at=run.clock(), iam_user=run.iam_user)
    finished = run.finalize_record(
        previous_access_key_id=old_id, previous_key_inactive=not deleted, **changes
    )
    run.step(
        "finish",
        StepStatus.DONE if finished else StepStatus.FAILED,
        "rotation complete" if finished else "rotated, but the record could not be completed",
    )
    result.state = run.state_on(
        new_id,
        f"{new_id} active and configured; {old_id} " + ("deleted" if deleted else "inactive"),
    )
    partial = (delete_old and not deleted) or not finished or bool(result.warnings)
    raise run.stop(
        "partial" if partial else "rotated",
        ErrorKind.AWS if delete_old and not deleted else None,
        result.warnings[0] if partial and result.warnings else None,
    )


def _delete_old(run: Run, new_iam: Any, old_id: str, *, manual: bool) -> bool:
    """Delete the (now inactive) old key; False, with a warning and what to do, when refused."""
    try:
        run.delete_key(new_iam, old_id, patient=True)
    except AwsError as error:
        run.step("delete-old", StepStatus.FAILED, str(error))
        run.result.warnings.append(
            f"The old key {old_id} is inactive but could not be deleted: {error} "
            "The next rotation deletes it first."
        )
        if manual:
            run.result.next_steps.append(console_steps(run.iam_user, old_id, delete=True))
        run.result.next_steps.append(iam_commands(run.iam_user, old_id)[1])
        return False
    run.step("delete-old", StepStatus.DONE, f"deleted {old_id}")
    return True

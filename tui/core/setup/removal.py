"""Removing one scope's AWS setup as a transaction: settings, record, then the secret.

The plan says up front what cannot be done (a secret to delete and no usable keyring); a
failure puts back what was removed, or says exactly what stayed removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui.core import record as records
from tui.core.errors import ErrorKind, ToolError
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.model import Scope
from tui.core.rundeck import (
    SETTING_NAMES,
    RundeckError,
    RundeckInstall,
    read_aws_settings,
    setting_key,
)
from tui.core.setup.model import ApplyResult, Blocker, Clock, SetupError
from tui.core.setup.planning import decode_properties
from tui.core.steps import Step, StepCallback, StepStatus
from tui.core.writer import (
    DEFAULT_KEEP_BACKUPS,
    WriteError,
    atomic_write,
    check_target,
    install_lock,
    read_existing,
    unified_diff,
)
from tui.core.writer import restore as restore_file


@dataclass(frozen=True)
class RemovalPlan:
    """Removing every AWS setting of one scope, its record, and its secret in the keyring."""

    target: Path
    before: bytes
    after: bytes
    diff: str
    removed_keys: tuple[str, ...]
    record_path: Path
    key_path: str | None
    access_key_id: str | None = None
    blockers: tuple[Blocker, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        """What removal leaves alone, said before it happens."""
        if self.access_key_id is None:
            return ()
        return (
            f"The IAM access key {self.access_key_id} stays Active in AWS: deactivate or delete "
            "it in the IAM console (or with aws iam update-access-key) once nothing uses it.",
        )


def plan_removal(
    install: RundeckInstall,
    scope: Scope,
    project: str | None,
    *,
    keystore: KeyStore | None = None,
) -> RemovalPlan:
    """What ``Remove`` will do to one scope; nothing is changed here."""
    try:
        target = install.target(scope, project)
        check_target(target, install.roots)
        check_target(records.record_path(target), install.roots)
        before = read_existing(target)
    except (RundeckError, WriteError) as error:
        raise SetupError(str(error), kind=error.kind) from None
    if before is None:
        raise SetupError(f"{target} does not exist.")
    document = decode_properties(target, before)
    settings = read_aws_settings(document, scope)
    removed = []
    for name in SETTING_NAMES:
        key = setting_key(scope, name)
        if document.get(key) is not None:
            removed.append(key)
            document.remove(key)
    after = document.to_bytes()
    blockers: list[Blocker] = []
    if settings.secret_key_path:
        problem = (
            "No keyring is available to delete the secret from."
            if keystore is None
            else keystore.usability_problem(allow_insecure=True)
        )
        if problem is not None:
            blockers.append(
                Blocker(
                    f"The secret at {settings.secret_key_path} cannot be deleted: {problem} "
                    "Nothing was removed; fix the keyring first, so the setup and its secret "
                    "go together.",
                    ErrorKind.KEYRING,
                )
            )
    return RemovalPlan(
        target=target,
        before=before,
        after=after,
        diff=unified_diff(target, before.decode("latin-1"), after.decode("latin-1")),
        removed_keys=tuple(removed),
        record_path=records.record_path(target),
        key_path=settings.secret_key_path,
        access_key_id=settings.access_key,
        blockers=tuple(blockers),
    )


def apply_removal(
    plan: RemovalPlan,
    *,
    keystore: KeyStore | None,
    clock: Clock,
    on_step: StepCallback | None = None,
    keep_backups: int = DEFAULT_KEEP_BACKUPS,
) -> ApplyResult:
    """Remove the settings (with a backup), then the record, then the secret; on a failure
    put the settings and the record back. Only the newest ``keep_backups`` backups stay."""
    result = ApplyResult(ok=False)

    def report(name: str, status: StepStatus, detail: str) -> None:
        step = Step(name, status, detail)
        result.steps.append(step)
        if on_step is not None:
            on_step(step)

    if plan.blockers:
        result.error, result.error_kind = plan.blockers[0].message, plan.blockers[0].kind
        report("check", StepStatus.FAILED, result.error)
        return result
    undo: list[tuple[str, str, Path, bytes | None]] = []
    try:
        with install_lock(plan.target.parent, owner_from=plan.target):
            if read_existing(plan.target) != plan.before:
                raise SetupError(f"{plan.target} changed since the review; nothing was removed.")
            if plan.before != plan.after:
                result.backup = atomic_write(
                    plan.target, plan.after, now=clock(), keep_backups=keep_backups
                )
                undo.append(
                    ("properties", "the AWS settings stay removed", plan.target, plan.before)
                )
            report("properties", StepStatus.DONE, f"removed {len(plan.removed_keys)} keys")
            record_before = read_existing(plan.record_path)
            if record_before is not None:
                plan.record_path.unlink()
                undo.append(("record", "the record stays removed", plan.record_path, record_before))
                report("record", StepStatus.DONE, f"removed {plan.record_path}")
            if plan.key_path and keystore is not None:
                deleted = keystore.delete(plan.key_path)
                status = StepStatus.DONE if deleted else StepStatus.SKIPPED
                report("keyring", status, plan.key_path)
    except (ToolError, OSError) as error:
        result.error_kind = error.kind if isinstance(error, ToolError) else ErrorKind.CONFIG
        if isinstance(error, KeyStoreError):
            result.error_kind = ErrorKind.KEYRING
        report("error", StepStatus.FAILED, str(error))
        for name, remains, path, data in reversed(undo):
            try:
                restore_file(path, data)
            except (ToolError, OSError) as undo_error:
                result.still_changed.append(remains)
                report(name, StepStatus.FAILED, f"could not put it back: {undo_error}")
            else:
                report(name, StepStatus.ROLLED_BACK, "put back as it was")
        result.changed = bool(result.still_changed)
        if not undo:
            tail = "Nothing was removed."
        elif result.still_changed:
            tail = "The rollback failed in part: " + "; ".join(result.still_changed) + "."
        else:
            tail = "Everything was put back."
        result.error, result.summary = str(error), tail
        if result.backup is not None and not result.still_changed:
            result.backup.unlink(missing_ok=True)
            result.backup = None
        return result
    result.ok = True
    result.changed = True
    return result

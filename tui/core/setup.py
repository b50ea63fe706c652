"""The setup transaction shared by the wizard and the headless CLI: plan it, show it, apply it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tui.core import record as records
from tui.core.keystore import BackendInfo, KeyStore, KeyStoreError, default_key_path
from tui.core.model import Answers, Method, Scope
from tui.core.properties import PropertiesDocument, PropertiesError
from tui.core.record import SetupRecord
from tui.core.rundeck import (
    RundeckError,
    RundeckInstall,
    desired_settings,
    read_aws_settings,
    setting_key,
)
from tui.core.secret import Secret
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

Clock = Callable[[], datetime]


class SetupError(Exception):
    """A setup that cannot be planned or applied; the message is safe to show as it is."""


@dataclass(frozen=True)
class KeyringAction:
    """What happens in the keyring: the secret stored as a Rundeck password at ``path``."""

    path: str
    backend: BackendInfo
    replaces_existing: bool
    unchanged: bool


@dataclass(frozen=True)
class SetupPlan:
    """Everything a setup will do, computed before anything is done."""

    answers: Answers
    install: RundeckInstall
    target: Path
    before: bytes | None
    after: bytes
    diff: str
    record_path: Path
    record_before: SetupRecord | None
    record: SetupRecord
    record_text: str
    keyring: KeyringAction | None
    removed_keys: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def file_changes(self) -> bool:
        return self.before != self.after

    @property
    def record_changes(self) -> bool:
        return not self.record.same_setup(self.record_before)

    @property
    def changes_anything(self) -> bool:
        keyring_changes = self.keyring is not None and not self.keyring.unchanged
        return self.file_changes or self.record_changes or keyring_changes


@dataclass
class StepResult:
    """One apply step and how it ended: done, skipped, failed or rolled back."""

    name: str
    status: str
    detail: str = ""


@dataclass
class ApplyResult:
    """How an apply ended; on failure, ``steps`` say what was rolled back."""

    ok: bool
    steps: list[StepResult] = field(default_factory=list)
    backup: Path | None = None
    error: str | None = None
    error_kind: str | None = None  # "keyring" or "config": what the failure was about


StepCallback = Callable[[StepResult], None]


def _decode(target: Path, data: bytes | None) -> PropertiesDocument:
    try:
        return PropertiesDocument.parse_bytes(data or b"")
    except PropertiesError as error:
        raise SetupError(f"{target}: {error}") from None


def plan_setup(
    install: RundeckInstall,
    answers: Answers,
    *,
    keystore: KeyStore | None,
    secret: Secret | None = None,
    clock: Clock,
) -> SetupPlan:
    """Compute the file, keyring and record changes for ``answers`` without changing anything."""
    try:
        target = install.target(answers.scope, answers.project)
        check_target(target, install.roots)
        check_target(records.record_path(target), install.roots)
        before = read_existing(target)
    except (RundeckError, WriteError) as error:
        raise SetupError(str(error)) from None
    if before is None and answers.scope is Scope.PROJECT:
        raise SetupError(
            f"Project {answers.project!r} has no {target.name} on disk: Rundeck keeps its "
            "configuration in its database. Use the lines to paste into Project Settings → "
            "Edit Configuration File instead."
        )
    if before is None:
        raise SetupError(f"{target} does not exist; is this a Rundeck install?")
    document = _decode(target, before)
    previous_settings = read_aws_settings(document, answers.scope)
    wanted = desired_settings(
        answers.method,
        region=answers.region,
        access_key_id=answers.access_key_id,
        key_path=answers.key_path,
    )
    removed: list[str] = []
    for name, value in wanted.items():
        key = setting_key(answers.scope, name)
        if value is None:
            if document.get(key) is not None:
                removed.append(key)
            document.remove(key)
        else:
            document.set(key, value)
    after = document.to_bytes()
    record_file = records.record_path(target)
    try:
        record_before = records.read_record(record_file)
    except records.RecordError:
        record_before = None
    now = clock()
    backend = keystore.info() if keystore is not None else None
    record = SetupRecord(
        method=answers.method,
        scope=answers.scope,
        properties_file=str(target),
        project=answers.project if answers.scope is Scope.PROJECT else None,
        region=document.get(setting_key(answers.scope, "region")),
        access_key_id=answers.access_key_id if answers.method is Method.ACCESS_KEY else None,
        key_path=answers.key_path if answers.method is Method.ACCESS_KEY else None,
        key_type=records.PASSWORD_KEY_TYPE if answers.method is Method.ACCESS_KEY else None,
        content_type=(
            records.PASSWORD_CONTENT_TYPE if answers.method is Method.ACCESS_KEY else None
        ),
        keyring_backend=(
            backend.name if backend is not None and answers.method is Method.ACCESS_KEY else None
        ),
        iam_user=record_before.iam_user if record_before else None,
        created_at=record_before.created_at if record_before and record_before.created_at else now,
        updated_at=now,
        properties_sha256=records.fingerprint(after),
    )
    keyring_action = _plan_keyring(answers, keystore, secret, backend)
    warnings = _warnings(install, answers, previous_settings.methods, removed, backend)
    return SetupPlan(
        answers=answers,
        install=install,
        target=target,
        before=before,
        after=after,
        diff=unified_diff(target, before.decode("latin-1"), after.decode("latin-1")),
        record_path=record_file,
        record_before=record_before,
        record=record,
        record_text=records.dumps(record),
        keyring=keyring_action,
        removed_keys=tuple(removed),
        warnings=tuple(warnings),
    )


def _plan_keyring(
    answers: Answers,
    keystore: KeyStore | None,
    secret: Secret | None,
    backend: BackendInfo | None,
) -> KeyringAction | None:
    if answers.method is not Method.ACCESS_KEY:
        return None
    if keystore is None or backend is None or answers.key_path is None:
        raise SetupError("The access key method needs a keyring to store the secret in.")
    try:
        existing = keystore.get(answers.key_path) if backend.security != "none" else None
    except KeyStoreError:
        existing = None
    unchanged = existing is not None and (secret is None or existing == secret)
    return KeyringAction(
        path=answers.key_path,
        backend=backend,
        replaces_existing=existing is not None,
        unchanged=unchanged,
    )


def _warnings(
    install: RundeckInstall,
    answers: Answers,
    previous_methods: list[Method],
    removed: list[str],
    backend: BackendInfo | None,
) -> list[str]:
    warnings: list[str] = []
    if removed:
        old = ", ".join(sorted({m.title for m in previous_methods if m is not answers.method}))
        warnings.append(
            f"Removes {', '.join(removed)}"
            + (f" (settings of the previous method: {old})." if old else ".")
        )
    if answers.method is Method.ACCESS_KEY and backend is not None:
        if backend.security == "insecure":
            warnings.append(
                f"The keyring backend {backend.name} stores secrets in a plain file; "
                "the secret is not protected at rest."
            )
        warnings.append(
            "Access keys are the least secure method: prefer an IAM role where Rundeck runs on AWS."
        )
    warnings.extend(_conflicts(install, answers))
    return warnings


def _conflicts(install: RundeckInstall, answers: Answers) -> list[str]:
    """System and project settings that will disagree once this setup is applied."""
    found: list[str] = []
    if answers.scope is Scope.PROJECT:
        try:
            system = read_aws_settings(
                PropertiesDocument.parse_bytes(read_existing(install.framework_properties) or b""),
                Scope.SYSTEM,
            )
        except (WriteError, PropertiesError):
            return found
        if system.method is not None and system.method is not answers.method:
            found.append(
                f"framework.properties configures {system.method.title} for the whole server; "
                f"project {answers.project} will use {answers.method.title} instead."
            )
        return found
    for project in install.list_projects():
        try:
            settings = read_aws_settings(
                PropertiesDocument.parse_bytes(
                    read_existing(install.project_properties(project)) or b""
                ),
                Scope.PROJECT,
            )
        except (WriteError, PropertiesError, RundeckError):
            continue
        if settings.method is not None and settings.method is not answers.method:
            found.append(
                f"Project {project} configures {settings.method.title}, which overrides the "
                f"system setting for that project."
            )
    return found


ACCESS_KEY_PLACEHOLDER = "<access key id>"


@dataclass(frozen=True)
class StoredSecret:
    """A secret just stored at ``path``, and what was there before: enough to take it back."""

    keystore: KeyStore
    path: str
    previous: Secret | None

    def take_back(self) -> str:
        """Undo the store; the sentence says how it went (never the secret)."""
        try:
            current = self.keystore.get(self.path)
            if current == self.previous:
                return "The keyring was not changed."
            if self.previous is None:
                self.keystore.delete(self.path)
            else:
                self.keystore.put(self.path, self.previous, allow_insecure=True)
        except KeyStoreError as problem:
            return f"The secret stored at {self.path} could not be taken back: {problem}"
        if self.previous is None:
            return f"The secret stored at {self.path} was taken back out of the keyring."
        return f"The secret that was at {self.path} before was put back in the keyring."


def write_paste_lines(target: Path, lines: str, stored: StoredSecret | None = None) -> None:
    """Write the lines to paste (a database project); if that fails, a secret stored for them
    is taken back out, so it is both or neither. Raises SetupError saying how it went."""
    try:
        target.write_text(lines, encoding="latin-1")
    except OSError as problem:
        undone = f" {stored.take_back()}" if stored is not None else ""
        raise SetupError(f"Cannot write {target}: {problem.strerror}.{undone}") from None


def paste_lines(answers: Answers) -> str:
    """The lines to paste into Project Settings → Edit Configuration File (database projects).

    Asked before the key id is known (the Scope step comes first), the access-key lines get a
    placeholder id and the default key-storage path.
    """
    access = answers.method is Method.ACCESS_KEY
    wanted = desired_settings(
        answers.method,
        region=answers.region,
        access_key_id=answers.access_key_id or (ACCESS_KEY_PLACEHOLDER if access else None),
        key_path=answers.key_path or (default_key_path(answers.project) if access else None),
    )
    document = PropertiesDocument.parse("")
    for name, value in wanted.items():
        if value is not None:
            document.set(setting_key(answers.scope, name), value)
    return document.render()


def apply_setup(
    plan: SetupPlan,
    *,
    keystore: KeyStore | None,
    secret: Secret | None,
    clock: Clock,
    allow_insecure: bool = False,
    on_step: StepCallback | None = None,
    keep_backups: int = DEFAULT_KEEP_BACKUPS,
) -> ApplyResult:
    """Apply ``plan``: keyring, then properties file, then record; undo all on any failure.

    The record and the lock file belong to the owner of the properties file; only the newest
    ``keep_backups`` backups of it are kept.
    """
    result = ApplyResult(ok=False)

    def report(step: StepResult) -> StepResult:
        result.steps.append(step)
        if on_step is not None:
            on_step(step)
        return step

    undo: list[tuple[str, Callable[[], None]]] = []
    try:
        with install_lock(plan.target.parent, owner_from=plan.target):
            current = read_existing(plan.target)
            if current != plan.before:
                raise SetupError(
                    f"{plan.target} changed since the review; nothing was written. "
                    "Review the new diff and apply again."
                )
            report(StepResult("check", "done", f"{plan.target.name} is as reviewed"))
            _apply_keyring(plan, keystore, secret, allow_insecure, report, undo)
            if plan.file_changes:
                result.backup = atomic_write(
                    plan.target, plan.after, now=clock(), keep_backups=keep_backups
                )
                before = plan.before
                undo.append(("properties", lambda: restore_file(plan.target, before)))
                report(StepResult("properties", "done", f"wrote {plan.target.name}"))
            else:
                report(StepResult("properties", "skipped", f"{plan.target} already up to date"))
            if plan.record_changes or plan.file_changes:
                record_before = read_existing(plan.record_path)
                atomic_write(
                    plan.record_path,
                    plan.record_text.encode("utf-8"),
                    backup=False,
                    owner_from=plan.target,
                )
                undo.append(("record", lambda: restore_file(plan.record_path, record_before)))
                report(StepResult("record", "done", f"wrote {plan.record_path.name}"))
            else:
                report(StepResult("record", "skipped", "record already up to date"))
    except (SetupError, WriteError, KeyStoreError) as error:
        result.error = str(error)
        result.error_kind = "keyring" if isinstance(error, KeyStoreError) else "config"
        report(StepResult("error", "failed", str(error)))
        for name, action in reversed(undo):
            try:
                action()
                report(StepResult(name, "rolled back", "restored as it was"))
            except (WriteError, KeyStoreError, OSError) as undo_error:
                report(StepResult(name, "failed", f"could not restore: {undo_error}"))
        if result.backup is not None and result.backup.exists():
            result.backup.unlink()
            result.backup = None
        return result
    result.ok = True
    return result


def _apply_keyring(
    plan: SetupPlan,
    keystore: KeyStore | None,
    secret: Secret | None,
    allow_insecure: bool,
    report: Callable[[StepResult], StepResult],
    undo: list[tuple[str, Callable[[], None]]],
) -> None:
    action = plan.keyring
    if action is None:
        return
    if action.unchanged and secret is None:
        report(StepResult("keyring", "skipped", f"secret already stored at {action.path}"))
        return
    if secret is None:
        raise SetupError("No secret was given for the access key; nothing was written.")
    if keystore is None:
        raise SetupError("No keyring is available to store the secret.")
    if action.unchanged:
        report(StepResult("keyring", "skipped", f"the same secret is already at {action.path}"))
        return
    previous = keystore.get(action.path)
    keystore.put(action.path, secret, allow_insecure=allow_insecure)

    def put_back() -> None:
        if previous is None:
            keystore.delete(action.path)
        else:
            keystore.put(action.path, previous, allow_insecure=True)

    undo.append(("keyring", put_back))
    report(StepResult("keyring", "done", f"stored the password at {action.path}"))


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


def plan_removal(install: RundeckInstall, scope: Scope, project: str | None) -> RemovalPlan:
    """What ``Remove`` will do to one scope; nothing is changed here."""
    try:
        target = install.target(scope, project)
        check_target(target, install.roots)
        check_target(records.record_path(target), install.roots)
        before = read_existing(target)
    except (RundeckError, WriteError) as error:
        raise SetupError(str(error)) from None
    if before is None:
        raise SetupError(f"{target} does not exist.")
    document = _decode(target, before)
    settings = read_aws_settings(document, scope)
    removed = []
    for name in ("credentialProvider", "access_key", "secret_key_path", "region"):
        key = setting_key(scope, name)
        if document.get(key) is not None:
            removed.append(key)
            document.remove(key)
    after = document.to_bytes()
    return RemovalPlan(
        target=target,
        before=before,
        after=after,
        diff=unified_diff(target, before.decode("latin-1"), after.decode("latin-1")),
        removed_keys=tuple(removed),
        record_path=records.record_path(target),
        key_path=settings.secret_key_path,
    )


def apply_removal(
    plan: RemovalPlan,
    *,
    keystore: KeyStore | None,
    clock: Clock,
    keep_backups: int = DEFAULT_KEEP_BACKUPS,
) -> ApplyResult:
    """Remove the settings (with a backup), then the record, then the secret."""
    result = ApplyResult(ok=False)
    try:
        with install_lock(plan.target.parent, owner_from=plan.target):
            if read_existing(plan.target) != plan.before:
                raise SetupError(f"{plan.target} changed since the review; nothing was removed.")
            if plan.before != plan.after:
                result.backup = atomic_write(
                    plan.target, plan.after, now=clock(), keep_backups=keep_backups
                )
            result.steps.append(
                StepResult("properties", "done", f"removed {len(plan.removed_keys)} keys")
            )
            if plan.record_path.exists():
                plan.record_path.unlink()
                result.steps.append(StepResult("record", "done", f"removed {plan.record_path}"))
            if plan.key_path and keystore is not None:
                deleted = keystore.delete(plan.key_path)
                result.steps.append(
                    StepResult("keyring", "done" if deleted else "skipped", plan.key_path)
                )
    except (SetupError, WriteError, KeyStoreError, OSError) as error:
        result.error = str(error)
        return result
    result.ok = True
    return result

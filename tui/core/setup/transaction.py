"""Applying a setup plan as one transaction: journal first, then keyring, file and record;
any failure undoes what was done, and the result says exactly what stayed changed."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core import failpoints
from tui.core.errors import ToolError
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.record import fingerprint
from tui.core.redact import shown
from tui.core.rundeck_link import RundeckLink
from tui.core.secret import Secret
from tui.core.setup.api_journal import (
    CONFIG,
    KEY_STORAGE,
    ApiJournalEntry,
    api_journal_path,
    recover_api,
)
from tui.core.setup.journal import (
    FILE,
    KEYRING,
    STARTED,
    Journal,
    JournalEntry,
    journal_path,
    previous_secret_path,
    recover,
    remove_empty,
)
from tui.core.setup.model import (
    ApplyResult,
    Clock,
    FileChange,
    KeyringAction,
    PlanKind,
    SetupError,
    SetupPlan,
)
from tui.core.setup.rundeck_targets import (
    ApiConfigChange,
    read_aws_keys,
    upload_secret,
    write_api_config,
)
from tui.core.steps import Step, StepCallback, StepStatus
from tui.core.writer import (
    DEFAULT_KEEP_BACKUPS,
    atomic_write,
    install_lock,
    make_folder,
    read_existing,
)
from tui.core.writer import restore as restore_file

# Step name, what stays changed if the undo fails, and the undo, which says what it did.
Undo = tuple[str, str, Callable[[], str]]


class _Run:
    """The steps of one apply as they happen, and the undo actions of what was done."""

    def __init__(self, on_step: StepCallback | None) -> None:
        self.result = ApplyResult(ok=False)
        self.undo: list[Undo] = []
        self.on_step = on_step
        self.failure_cause: ToolError | None = None
        self.journal: Journal[Any] | None = None

    def report(self, name: str, status: StepStatus, detail: str) -> None:
        step = Step(name, status, detail)
        self.result.steps.append(step)
        if status is StepStatus.DONE:
            self.result.changed = True
        if self.on_step is not None:
            self.on_step(step)

    def extend(self, steps: list[Step]) -> None:
        for step in steps:
            self.report(step.name, step.status, step.detail)

    def fail(self, error: ToolError) -> ApplyResult:
        """Undo everything done, newest first; record what could not be undone."""
        self.failure_cause = error
        self.result.error = str(error)
        self.result.error_kind = error.kind
        self.report("error", StepStatus.FAILED, str(error))
        undone: list[str] = []
        for name, remains, action in reversed(self.undo):
            try:
                undone.append(action())
            except (ToolError, OSError) as undo_error:
                self.result.still_changed.append(remains)
                self.report(name, StepStatus.FAILED, f"could not undo: {undo_error}")
            else:
                self.report(name, StepStatus.ROLLED_BACK, "restored as it was")
        self.result.changed = bool(self.result.still_changed)
        if self.result.backup is not None and not self.result.still_changed:
            self.result.backup.unlink(missing_ok=True)
            self.result.backup = None
        summary = self.summary(undone)
        if self.journal is not None:
            if self.result.still_changed:
                # Kept: the next run finds it and finishes the rollback.
                summary += (
                    " The journal is kept, so the next apply or remove of this scope finishes "
                    "the rollback; status shows it until then."
                )
            else:
                try:
                    self.journal.close()
                except ToolError as journal_error:
                    self.result.still_changed.append(str(journal_error))
        self.result.error = str(error)
        self.result.summary = summary
        return self.result

    def summary(self, undone: list[str]) -> str:
        """What the rollback left: nothing done, everything undone, or exactly what stayed."""
        if not self.undo:
            return "" if isinstance(self.failure_cause, _Untouched) else "Nothing was changed."
        said = " ".join(sentence for sentence in undone if sentence)
        if self.result.still_changed:
            stayed = "; ".join(self.result.still_changed)
            return f"The rollback failed in part: {stayed}. {said}".rstrip()
        return f"Everything was rolled back. {said}".rstrip()


class _Untouched(SetupError):
    """A failure before the first change, whose message already says nothing was changed."""


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
    """Apply ``plan``; undo all of it on any failure. Blockers refuse it before any change.

    Everything written beside the properties file (record, journal, lock, backups) takes
    that file's owner; only the newest ``keep_backups`` backups of it are kept.
    """
    run = _Run(on_step)
    if plan.blockers:
        blocker = plan.blockers[0]
        run.result.error = blocker.message
        run.result.error_kind = blocker.kind
        run.report("check", StepStatus.FAILED, blocker.message)
        return run.result
    try:
        if plan.kind is PlanKind.PASTE:
            _apply_paste(plan, keystore, secret, allow_insecure, run)
        elif plan.kind is PlanKind.API:
            _apply_api(plan, keystore, secret, clock, allow_insecure, run)
        else:
            _apply_file(plan, keystore, secret, clock, allow_insecure, keep_backups, run)
    except (ToolError, OSError) as error:
        problem = error if isinstance(error, ToolError) else SetupError(str(error))
        return run.fail(problem)
    run.result.ok = True
    return run.result


def _apply_file(
    plan: SetupPlan,
    keystore: KeyStore | None,
    secret: Secret | None,
    clock: Clock,
    allow_insecure: bool,
    keep_backups: int,
    run: _Run,
) -> None:
    change = plan.file
    assert change is not None  # a FILE plan always has its file change
    with install_lock(change.target.parent, owner_from=change.target):
        if read_existing(change.target) != change.before:
            raise _Untouched(
                f"{change.target} changed since the review; nothing was written. "
                "Review the new diff and apply again."
            )
        run.report("check", StepStatus.DONE, f"{change.target.name} is as reviewed")
        if plan.recovery is not None:
            run.extend(recover(plan.recovery, change.target, change.record_path, keystore))
        if not (change.file_changes or change.record_changes or plan.keyring_changes):
            return
        journal = Journal.start(
            journal_path(change.target),
            JournalEntry(
                properties_file=str(change.target),
                before_sha256=fingerprint(change.before),
                after_sha256=fingerprint(change.after),
                record_text=change.record_text,
                key_path=plan.keyring.path if plan.keyring_changes and plan.keyring else None,
                had_previous_secret=bool(plan.keyring and plan.keyring.replaces_existing),
                phase=STARTED,
                started_at=clock(),
                pid=os.getpid(),
            ),
            owner_from=change.target,
        )
        run.journal = journal
        previous = _store_secret(plan.keyring, keystore, secret, allow_insecure, run)
        _upload(plan, secret, previous, run)
        journal.advance(KEYRING)
        _write_file(change, clock, keep_backups, run)
        journal.advance(FILE)
        _write_record(change, run)
        if plan.remove_old_secret is not None and keystore is not None:
            deleted = keystore.delete(plan.remove_old_secret)
            status = StepStatus.DONE if deleted else StepStatus.SKIPPED
            run.report("old-secret", status, f"deleted the old secret at {plan.remove_old_secret}")
        if plan.keyring_changes and plan.keyring is not None and keystore is not None:
            keystore.delete(previous_secret_path(plan.keyring.path))
        failpoints.reached("apply:before-journal-closed")
        journal.close()


def _store_secret(
    action: KeyringAction | None,
    keystore: KeyStore | None,
    secret: Secret | None,
    allow_insecure: bool,
    run: _Run,
) -> Secret | None:
    """The secret at its path; the one it replaces is kept aside until the apply is complete.
    Returns the secret that was there before."""
    if action is None:
        return None
    if action.unchanged:
        run.report("keyring", StepStatus.SKIPPED, f"the same secret is already at {action.path}")
        return keystore.get(action.path) if keystore is not None else None
    if secret is None or keystore is None:
        raise _Untouched("No secret or no keyring to store it in; nothing was written.")
    previous = keystore.get(action.path)
    aside = previous_secret_path(action.path)
    if previous is not None:
        keystore.put(aside, previous, allow_insecure=True)
    failpoints.reached("apply:previous-kept")
    try:
        keystore.put(action.path, secret, allow_insecure=allow_insecure)
    except KeyStoreError:
        if previous is not None:
            keystore.delete(aside)
        raise
    failpoints.reached("apply:secret-stored")

    def put_back() -> str:
        if previous is None:
            keystore.delete(action.path)
            return f"The secret stored at {action.path} was taken back out of the keyring."
        keystore.put(action.path, previous, allow_insecure=True)
        keystore.delete(aside)
        return f"The secret that was at {action.path} before was put back in the keyring."

    remains = f"the keyring at {action.path} holds the new secret"
    run.undo.append(("keyring", remains, put_back))
    run.report("keyring", StepStatus.DONE, f"stored the password at {action.path}")
    return previous


def _upload(plan: SetupPlan, secret: Secret | None, previous: Secret | None, run: _Run) -> None:
    """The secret into Rundeck Key Storage, where Rundeck's plugins read it."""
    link = plan.rundeck
    if plan.key_storage is None or not isinstance(link, RundeckLink):
        return
    if not plan.key_storage_changes:
        detail = f"{plan.key_storage.path} already holds this secret as a password"
        run.report("key-storage", StepStatus.SKIPPED, detail)
        return

    def done(name: str, detail: str) -> None:
        run.report(name, StepStatus.DONE, detail)

    def undo(name: str, remains: str, action: Callable[[], str]) -> None:
        run.undo.append((name, remains, action))

    upload_secret(link.client, plan.key_storage, secret, previous, done, undo)
    failpoints.reached("apply:key-storage-written")


def _apply_api(
    plan: SetupPlan,
    keystore: KeyStore | None,
    secret: Secret | None,
    clock: Clock,
    allow_insecure: bool,
    run: _Run,
) -> None:
    """A project in Rundeck's database: keyring copy, Key Storage, then the config keys, under
    the install lock and a journal in the project's folder (see ``api_journal``)."""
    change, link = plan.api_config, plan.rundeck
    assert change is not None and isinstance(link, RundeckLink)  # an API plan has both
    project = change.project
    journal_file = api_journal_path(plan.install, project)
    owner = plan.install.framework_properties
    made = make_folder(journal_file.parent, owner_from=owner)
    if plan.recovery is not None and plan.recovery.api is not None:
        made += plan.recovery.api.made  # the killed run's folders, unless this one made them
    try:
        with install_lock(journal_file.parent, owner_from=owner):
            if read_aws_keys(link.client, project) != change.as_read:
                raise _Untouched(
                    f"Project {project}'s AWS settings in Rundeck changed since the review; "
                    "nothing was written. Review the new change and apply again."
                )
            if plan.recovery is not None:
                run.extend(recover_api(plan.recovery, link.client, keystore))
            if change.changes or plan.keyring_changes or plan.key_storage_changes:
                _write_through_api(
                    plan, change, link, keystore, secret, clock, allow_insecure, made, run
                )
            else:
                run.report("config", StepStatus.SKIPPED, f"project {project} is already set up")
    finally:
        if not journal_file.exists():  # made for the lock or a journal that is gone
            remove_empty(made)


def _write_through_api(
    plan: SetupPlan,
    change: ApiConfigChange,
    link: RundeckLink,
    keystore: KeyStore | None,
    secret: Secret | None,
    clock: Clock,
    allow_insecure: bool,
    made: tuple[Path, ...],
    run: _Run,
) -> None:
    keyring = plan.keyring if plan.keyring_changes else None
    journal = Journal.start(
        api_journal_path(plan.install, change.project),
        ApiJournalEntry.of(
            change,
            url=link.url.url,
            key_storage=plan.key_storage if plan.key_storage_changes else None,
            key_path=keyring.path if keyring is not None else None,
            had_previous_secret=bool(keyring and keyring.replaces_existing),
            phase=STARTED,
            started_at=clock(),
            made=made,
        ),
        owner_from=plan.install.framework_properties,
        made=made,
    )
    run.journal = journal
    previous = _store_secret(plan.keyring, keystore, secret, allow_insecure, run)
    journal.advance(KEYRING)
    _upload(plan, secret, previous, run)
    journal.advance(KEY_STORAGE)

    def done(name: str, detail: str) -> None:
        run.report(name, StepStatus.DONE, detail)

    def undo(name: str, remains: str, action: Callable[[], str]) -> None:
        run.undo.append((name, remains, action))

    if change.changes:
        write_api_config(link.client, change, done, undo)
    else:
        run.report("config", StepStatus.SKIPPED, f"project {change.project} is already set up")
    journal.advance(CONFIG)
    if keyring is not None and keystore is not None:
        keystore.delete(previous_secret_path(keyring.path))
    failpoints.reached("apply:before-journal-closed")
    journal.close()


def _write_file(change: FileChange, clock: Clock, keep_backups: int, run: _Run) -> None:
    if not change.file_changes:
        run.report("properties", StepStatus.SKIPPED, f"{change.target} already up to date")
        return
    run.result.backup = atomic_write(
        change.target, change.after, now=clock(), keep_backups=keep_backups
    )
    failpoints.reached("apply:file-written")
    before = change.before
    remains = f"{change.target} has the new settings"
    run.undo.append(("properties", remains, lambda: _restore(change.target, before)))
    run.report("properties", StepStatus.DONE, f"wrote {change.target.name}")


def _write_record(change: FileChange, run: _Run) -> None:
    if not (change.record_changes or change.file_changes):
        run.report("record", StepStatus.SKIPPED, "record already up to date")
        return
    record_before = read_existing(change.record_path)
    atomic_write(
        change.record_path,
        change.record_text.encode("utf-8"),
        backup=False,
        owner_from=change.target,
    )
    remains = f"{change.record_path} describes the new setup"
    run.undo.append(("record", remains, lambda: _restore(change.record_path, record_before)))
    run.report("record", StepStatus.DONE, f"wrote {change.record_path.name}")


def _restore(path: Path, data: bytes | None) -> str:
    restore_file(path, data)
    return ""


def _apply_paste(
    plan: SetupPlan,
    keystore: KeyStore | None,
    secret: Secret | None,
    allow_insecure: bool,
    run: _Run,
) -> None:
    """A database project: the secret into the keyring, then the lines file; both or neither."""
    paste = plan.paste
    assert paste is not None  # a PASTE plan always has its lines
    if plan.keyring is not None and keystore is not None:
        _store_secret(plan.keyring, keystore, secret, allow_insecure, run)
        if plan.keyring_changes:
            keystore.delete(previous_secret_path(plan.keyring.path))
    if paste.save_to is not None:
        write_paste_lines(paste.save_to, paste.lines)
        run.report("lines", StepStatus.DONE, f"wrote the lines to paste to {paste.save_to}")


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
        raise SetupError(
            f"Cannot write {shown(str(target))}: {problem.strerror}.{undone}"
        ) from None

"""What a setup plan is made of: one kind of target per place a setting or the secret goes.

Today a plan's configuration goes to a properties file on disk (``FileChange``) or, for a
project kept in Rundeck's database, into lines to paste (``PasteLines``); its secret goes to
the OS keyring (``KeyringAction``). Rundeck's API (project configuration, Key Storage) is
another such target: a new dataclass here, a field of ``SetupPlan``, and a step in
``transaction.apply_setup``, with no branch in either front end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.errors import ErrorKind, ToolError
from tui.core.keystore import BackendInfo
from tui.core.model import Answers
from tui.core.record import SetupRecord
from tui.core.rundeck import RundeckInstall
from tui.core.steps import Step

if TYPE_CHECKING:
    from tui.core.rundeck_link import Offline, RundeckLink
    from tui.core.setup.api_journal import ApiJournalEntry
    from tui.core.setup.rundeck_targets import ApiConfigChange, KeyStorageAction

Clock = Callable[[], datetime]


class SetupError(ToolError):
    """A setup that cannot be planned or applied; the message is safe to show as it is."""


class PlanKind(StrEnum):
    """Where a plan's configuration goes."""

    FILE = "file"  # a properties file on disk: framework.properties or project.properties
    PASTE = "paste"  # a project kept in Rundeck's database, without an API: lines to paste
    API = "api"  # a project's configuration through Rundeck's API (its database)


@dataclass(frozen=True)
class KeyringAction:
    """The secret stored in the OS keyring as a Rundeck password at ``path``.

    ``problem`` is set when the keyring cannot take it (none, locked, plaintext without
    consent): the plan says so up front, and applying it is refused with the same words.
    """

    path: str
    backend: BackendInfo | None
    replaces_existing: bool
    unchanged: bool
    problem: str | None = None
    problem_kind: ErrorKind = ErrorKind.KEYRING


@dataclass(frozen=True)
class FileChange:
    """A properties file edited in place, and the record written beside it."""

    target: Path
    before: bytes
    after: bytes
    diff: str
    record_path: Path
    record_before: SetupRecord | None
    record: SetupRecord
    record_text: str
    removed_keys: tuple[str, ...]

    @property
    def file_changes(self) -> bool:
        return self.before != self.after

    @property
    def record_changes(self) -> bool:
        return not self.record.same_setup(self.record_before)


@dataclass(frozen=True)
class PasteLines:
    """The lines to paste into Project Settings → Edit Configuration File, and where to save
    them (the CLI's --paste-file; the wizard asks at Review)."""

    project: str
    lines: str
    save_to: Path | None = None


@dataclass(frozen=True)
class Blocker:
    """Something the plan already knows will stop the apply, with the kind of the failure."""

    message: str
    kind: ErrorKind

    def error(self) -> SetupError:
        return SetupError(self.message, kind=self.kind)


@dataclass(frozen=True)
class SetupPlan:
    """Everything a setup will do, computed before anything is done."""

    answers: Answers
    install: RundeckInstall
    kind: PlanKind
    file: FileChange | None
    paste: PasteLines | None
    keyring: KeyringAction | None
    warnings: tuple[str, ...]
    blockers: tuple[Blocker, ...] = ()
    recovery: Recovery | None = None
    api_config: ApiConfigChange | None = None
    key_storage: KeyStorageAction | None = None
    rundeck: RundeckLink | Offline | None = None
    notes: tuple[str, ...] = ()  # what to do after applying (a restart, an ACL rule)
    remove_old_secret: str | None = None  # the previous access key's secret, deleted last

    # The file plan's fields, for the front ends that show a diff.
    @property
    def target(self) -> Path:
        if self.file is not None:
            return self.file.target
        return self.install.project_properties(self.answers.project or "")

    @property
    def diff(self) -> str:
        return self.file.diff if self.file is not None else ""

    @property
    def before(self) -> bytes | None:
        return self.file.before if self.file is not None else None

    @property
    def after(self) -> bytes:
        return self.file.after if self.file is not None else b""

    @property
    def record_path(self) -> Path:
        return self.file.record_path if self.file is not None else self.target

    @property
    def record_text(self) -> str:
        return self.file.record_text if self.file is not None else ""

    @property
    def removed_keys(self) -> tuple[str, ...]:
        return self.file.removed_keys if self.file is not None else ()

    @property
    def file_changes(self) -> bool:
        return self.file is not None and self.file.file_changes

    @property
    def record_changes(self) -> bool:
        return self.file is not None and self.file.record_changes

    @property
    def keyring_changes(self) -> bool:
        return self.keyring is not None and not self.keyring.unchanged

    @property
    def key_storage_changes(self) -> bool:
        return self.key_storage is not None and self.key_storage.verb != "keep"

    @property
    def changes_anything(self) -> bool:
        if self.paste is not None:
            return self.paste.save_to is not None or self.keyring_changes
        if self.api_config is not None:
            return (
                self.api_config.changes
                or self.keyring_changes
                or self.key_storage_changes
                or self.recovery is not None
            )
        return (
            self.key_storage_changes
            or self.remove_old_secret is not None
            or self.file_changes
            or self.record_changes
            or self.keyring_changes
            or self.recovery is not None
        )


@dataclass(frozen=True)
class Recovery:
    """What will be done first about an apply that was interrupted (its journal was found)."""

    action: RecoveryAction
    journal_path: Path
    started_at: datetime | None
    reason: str
    key_path: str | None
    had_previous_secret: bool
    record_text: str | None
    api: ApiJournalEntry | None = None  # an apply through Rundeck's API

    def describe(self) -> str:
        verb = "finished" if self.action is RecoveryAction.FINISH else "rolled back"
        when = f" (started {self.started_at:%Y-%m-%d %H:%M})" if self.started_at else ""
        return f"An interrupted apply{when} will be {verb} first: {self.reason}"


class RecoveryAction(StrEnum):
    FINISH = "finish"
    ROLLBACK = "rollback"


@dataclass
class ApplyResult:
    """How an apply (or a removal) ended: every step, undo steps included, and what stayed
    changed when a rollback could not undo everything."""

    ok: bool
    steps: list[Step] = field(default_factory=list)
    backup: Path | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    changed: bool = False
    still_changed: list[str] = field(default_factory=list)
    summary: str = ""  # after a failure: what the rollback did, or what it could not undo

    @property
    def message(self) -> str:
        """The failure and what the rollback left, in one text."""
        return f"{self.error or 'The apply failed.'} {self.summary}".strip()

    def failure(self) -> SetupError:
        """The failure as an error whose details carry every step and what stayed changed."""
        return SetupError(
            self.message,
            kind=self.error_kind or ErrorKind.CONFIG,
            changed=self.changed,
            steps=[step.to_json() for step in self.steps],
            still_changed=list(self.still_changed),
        )

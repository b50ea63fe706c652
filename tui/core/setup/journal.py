"""The apply journal: written before the first change, so a run killed at any point is found
by the next one and finished or rolled back without any secret it held only in memory.

The journal (``aws-setup.journal`` beside the properties file) holds no secret: fingerprints
of the file before and after, the record to write, the key-storage path, and the phase
reached. The secret that was at the path before is kept in the keyring itself, at
``<path>.apply-previous``, until the new state is complete (as rotation keeps its
``.rotation-previous``).

Order of one apply: journal (phase ``started``) → previous secret copied aside → new secret
stored (phase ``keyring``) → file written (phase ``file``) → record written → previous copy
dropped → journal removed. Whatever point a kill hits, the state on disk says what to do:

- the file holds the new content (or the file was not to change and the keyring phase was
  reached): **finish** (write the record, drop the previous copy);
- the file holds the old content: **roll back** (the previous secret back, or the new one
  deleted when there was none);
- anything else: someone edited the file meanwhile; nothing is guessed, the admin is told.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, Self, TypeVar

import tomli_w

from tui.core import failpoints
from tui.core.errors import ErrorKind
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.record import fingerprint
from tui.core.setup.model import Recovery, RecoveryAction, SetupError
from tui.core.steps import Step, StepStatus
from tui.core.writer import WriteError, atomic_write, read_existing

JOURNAL_NAME = "aws-setup.journal"
PREVIOUS_SECRET_SUFFIX = ".apply-previous"
JOURNAL_VERSION = 1

# Phases, in order; each is written (atomically) once the step before it is complete.
STARTED = "started"
KEYRING = "keyring"
FILE = "file"


def journal_path(properties_file: Path) -> Path:
    return properties_file.with_name(JOURNAL_NAME)


def previous_secret_path(key_path: str) -> str:
    return key_path + PREVIOUS_SECRET_SUFFIX


@dataclass(frozen=True)
class JournalEntry:
    """An apply in progress, as written to disk."""

    properties_file: str
    before_sha256: str
    after_sha256: str
    record_text: str
    key_path: str | None
    had_previous_secret: bool
    phase: str
    started_at: datetime
    pid: int

    def to_toml(self) -> str:
        data: dict[str, Any] = {
            "version": JOURNAL_VERSION,
            "operation": "apply",
            "properties_file": self.properties_file,
            "before_sha256": self.before_sha256,
            "after_sha256": self.after_sha256,
            "record_text": self.record_text,
            "had_previous_secret": self.had_previous_secret,
            "phase": self.phase,
            "started_at": self.started_at,
            "pid": self.pid,
        }
        if self.key_path is not None:
            data["key_path"] = self.key_path
        return tomli_w.dumps(data)


T = TypeVar("T")


def read_toml_journal(path: Path, build: Callable[[dict[str, Any]], T], checks: str) -> T | None:
    """The journal at ``path`` built from its TOML, or None when there is none; one that
    cannot be read is an error that says what to check (``checks``) before moving it away."""
    data = read_existing(path)
    if data is None:
        return None
    try:
        return build(tomllib.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError):
        raise SetupError(
            f"{path} is an apply journal that cannot be read; move it away once you have "
            f"checked {checks}."
        ) from None


def read_journal(path: Path) -> JournalEntry | None:
    return read_toml_journal(path, _journal_entry, "the file beside it and the keyring")


def _journal_entry(parsed: dict[str, Any]) -> JournalEntry:
    return JournalEntry(
        properties_file=str(parsed["properties_file"]),
        before_sha256=str(parsed["before_sha256"]),
        after_sha256=str(parsed["after_sha256"]),
        record_text=str(parsed["record_text"]),
        key_path=str(parsed["key_path"]) if "key_path" in parsed else None,
        had_previous_secret=bool(parsed["had_previous_secret"]),
        phase=str(parsed["phase"]),
        started_at=parsed["started_at"],
        pid=int(parsed["pid"]),
    )


class Entry(Protocol):
    """What a journal holds: a dataclass with its phase, written as TOML."""

    @property
    def phase(self) -> str: ...

    def to_toml(self) -> str: ...


E = TypeVar("E", bound=Entry)


class Journal(Generic[E]):
    """The journal of one running apply: started, advanced phase by phase, then closed. Its
    file takes the owner of ``owner_from`` (Rundeck's user); the folders ``made`` for it go
    with it when nothing else lives in them."""

    def __init__(self, path: Path, entry: E, owner_from: Path, made: tuple[Path, ...] = ()) -> None:
        self.path = path
        self.entry = entry
        self.owner_from = owner_from
        self.made = made

    @classmethod
    def start(cls, path: Path, entry: E, owner_from: Path, made: tuple[Path, ...] = ()) -> Self:
        journal = cls(path, entry, owner_from, made)
        journal._write()
        failpoints.reached("apply:journal-written")
        return journal

    def advance(self, phase: str) -> None:
        self.entry = dataclasses.replace(self.entry, phase=phase)  # type: ignore[type-var]
        self._write()
        failpoints.reached(f"apply:phase-{phase}")

    def close(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as error:
            raise WriteError(f"Cannot remove the journal {self.path}: {error.strerror}.") from None
        remove_empty(self.made)

    def _write(self) -> None:
        atomic_write(
            self.path,
            self.entry.to_toml().encode("utf-8"),
            backup=False,
            mode=0o600,
            owner_from=self.owner_from,
        )


def remove_empty(folders: tuple[Path, ...]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty; keep any that is not."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def inspect_journal(properties_file: Path) -> Recovery | None:
    """What the next run must do about an interrupted apply of ``properties_file``, if any."""
    path = journal_path(properties_file)
    entry = read_journal(path)
    if entry is None:
        return None
    current = read_existing(properties_file)
    current_sha = fingerprint(current) if current is not None else ""
    file_was_to_change = entry.before_sha256 != entry.after_sha256
    if file_was_to_change and current_sha == entry.after_sha256:
        action, reason = RecoveryAction.FINISH, "the file was written; the record is completed"
    elif not file_was_to_change and entry.phase in (KEYRING, FILE):
        action, reason = RecoveryAction.FINISH, "the secret was stored; the record is completed"
    elif current_sha == entry.before_sha256:
        action = RecoveryAction.ROLLBACK
        reason = "the file was not written yet; the keyring is put back as it was"
    else:
        raise SetupError(
            f"An apply of {properties_file} was interrupted (journal {path}), and the file has "
            "been changed since by something else. Nothing was guessed or changed: check the "
            f"file and the keyring at {entry.key_path or '(no secret)'}, then remove {path}."
        )
    return Recovery(
        action=action,
        journal_path=path,
        started_at=entry.started_at,
        reason=reason,
        key_path=entry.key_path,
        had_previous_secret=entry.had_previous_secret,
        record_text=entry.record_text,
    )


def recover(
    recovery: Recovery,
    properties_file: Path,
    record_path: Path,
    keystore: KeyStore | None,
) -> list[Step]:
    """Finish or roll back the interrupted apply; each thing done is one step."""
    steps: list[Step] = []
    key_path = recovery.key_path
    require_keystore(key_path, keystore)
    try:
        if recovery.action is RecoveryAction.FINISH:
            if recovery.record_text is not None:
                atomic_write(
                    record_path,
                    recovery.record_text.encode("utf-8"),
                    backup=False,
                    owner_from=properties_file,
                )
                steps.append(Step("recover", StepStatus.DONE, f"completed {record_path.name}"))
            if key_path is not None and keystore is not None:
                keystore.delete(previous_secret_path(key_path))
        elif key_path is not None and keystore is not None:
            steps += roll_back_keyring(keystore, key_path, recovery.had_previous_secret)
    except KeyStoreError as error:
        raise keyring_unsettled(error) from None
    os.unlink(recovery.journal_path)
    steps.append(closing_step(recovery))
    return steps


def require_keystore(key_path: str | None, keystore: KeyStore | None) -> None:
    """An interrupted apply that changed the keyring is settled only with a usable one."""
    if key_path is not None and keystore is None:
        raise SetupError(
            f"An interrupted apply left the keyring at {key_path} to settle, and no keyring is "
            "usable now; nothing was changed.",
            kind=ErrorKind.KEYRING,
        )


def roll_back_keyring(keystore: KeyStore, key_path: str, had_previous: bool) -> list[Step]:
    """The keyring as before the interrupted apply: the copy aside put back, or the secret it
    stored removed when there was none before."""
    aside = previous_secret_path(key_path)
    previous = keystore.get(aside)
    if previous is not None:
        keystore.put(key_path, previous, allow_insecure=True)
        keystore.delete(aside)
        detail = f"put the previous secret back at {key_path}"
        return [Step("recover", StepStatus.ROLLED_BACK, detail)]
    if not had_previous and keystore.delete(key_path):
        detail = f"removed the unfinished secret at {key_path}"
        return [Step("recover", StepStatus.ROLLED_BACK, detail)]
    # The copy aside is made before the new secret is stored: no copy (and nothing to remove)
    # means the keyring was not touched yet.
    return [Step("recover", StepStatus.SKIPPED, f"{key_path} was not changed yet")]


def keyring_unsettled(error: KeyStoreError) -> SetupError:
    return SetupError(
        f"Could not settle the interrupted apply in the keyring: {error}", kind=ErrorKind.KEYRING
    )


def closing_step(recovery: Recovery) -> Step:
    return Step("journal", StepStatus.DONE, f"the interrupted apply was {_verb(recovery)}")


def _verb(recovery: Recovery) -> str:
    return "finished" if recovery.action is RecoveryAction.FINISH else "rolled back"

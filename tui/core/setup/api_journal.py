"""The journal of an apply through Rundeck's API: the next run finds an apply killed at any
point and finishes it or rolls it back, as the file journal (``journal.py``) does for a file.

It lives in ``projects/<p>/etc/aws-setup.api-journal``, where the rotation of such a project
keeps its record (Rundeck itself reads a database project's configuration only through its
storage, ``ProjectManagerService``, so the folder is ours); a folder the apply made for it is
removed again when the journal is. It holds no secret: the AWS settings before and the
change, the Key Storage path and verb, the keyring path, and the phase reached. The secret
the keyring held before stays at ``<path>.apply-previous`` until the apply is complete.

Order: journal (``started``) → keyring copy (``keyring``) → Key Storage upload
(``key-storage``) → config keys one by one (``config``) → previous copy dropped → journal
removed. The next run reads the project's AWS settings: when Key Storage was written and
every key holds its new value it **finishes** (drops the previous copy); otherwise it **rolls
back** (each key as it was, the key it created deleted from Key Storage or the keyring's copy
of what was there put back, the keyring as it was). A key holding a value that is neither
the old nor the new one was changed by someone else: nothing is guessed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.rundeck import RundeckInstall
from tui.core.rundeck_api import RundeckApiError, RundeckClient
from tui.core.setup.journal import (
    KEYRING,
    closing_step,
    keyring_unsettled,
    previous_secret_path,
    read_toml_journal,
    remove_empty,
    require_keystore,
    roll_back_keyring,
)
from tui.core.setup.model import Recovery, RecoveryAction, SetupError
from tui.core.setup.rundeck_targets import (
    ApiConfigChange,
    KeyStorageAction,
    KeyStorageVerb,
    SettledKeyStorage,
)
from tui.core.steps import Step, StepStatus

API_JOURNAL_NAME = "aws-setup.api-journal"
KEY_STORAGE = "key-storage"
CONFIG = "config"
_WRITTEN_TO_KEY_STORAGE = (KEY_STORAGE, CONFIG)


def api_journal_path(install: RundeckInstall, project: str) -> Path:
    return install.project_properties(project).with_name(API_JOURNAL_NAME)


@dataclass(frozen=True)
class ApiJournalEntry:
    """An apply of one database project in progress, as written to disk."""

    project: str
    url: str
    before: dict[str, str]
    sets: tuple[tuple[str, str], ...]
    deletes: tuple[str, ...]
    key_storage_path: str | None
    key_storage_verb: str | None
    key_path: str | None  # the keyring's copy, when the apply changes it
    had_previous_secret: bool
    phase: str
    started_at: datetime
    pid: int
    made: tuple[Path, ...] = ()  # folders made for the journal, removed with it when empty

    @classmethod
    def of(
        cls,
        change: ApiConfigChange,
        url: str,
        key_storage: KeyStorageAction | None,
        key_path: str | None,
        had_previous_secret: bool,
        phase: str,
        started_at: datetime,
        made: tuple[Path, ...],
    ) -> ApiJournalEntry:
        uploads = key_storage is not None and key_storage.verb is not KeyStorageVerb.KEEP
        return cls(
            project=change.project,
            url=url,
            before=dict(change.before),
            sets=change.sets,
            deletes=change.deletes,
            key_storage_path=key_storage.path if uploads and key_storage else None,
            key_storage_verb=str(key_storage.verb) if uploads and key_storage else None,
            key_path=key_path,
            had_previous_secret=had_previous_secret,
            phase=phase,
            started_at=started_at,
            pid=os.getpid(),
            made=made,
        )

    @property
    def after(self) -> dict[str, str]:
        settings = {key: value for key, value in self.before.items() if key not in self.deletes}
        return {**settings, **dict(self.sets)}

    @property
    def touched(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.sets) + self.deletes

    def to_toml(self) -> str:
        data: dict[str, Any] = {
            "version": 1,
            "operation": "apply-api",
            "project": self.project,
            "url": self.url,
            "before": self.before,
            "set": dict(self.sets),
            "delete": list(self.deletes),
            "had_previous_secret": self.had_previous_secret,
            "phase": self.phase,
            "started_at": self.started_at,
            "pid": self.pid,
            "made": [str(folder) for folder in self.made],
        }
        optional = {
            "key_storage_path": self.key_storage_path,
            "key_storage_verb": self.key_storage_verb,
            "key_path": self.key_path,
        }
        data.update({name: value for name, value in optional.items() if value is not None})
        return tomli_w.dumps(data)


def read_api_journal(path: Path) -> ApiJournalEntry | None:
    checks = "the project's AWS settings in Rundeck and the keyring"
    return read_toml_journal(path, _api_journal_entry, checks)


def _api_journal_entry(parsed: dict[str, Any]) -> ApiJournalEntry:
    if parsed["operation"] != "apply-api":
        raise ValueError(parsed["operation"])
    return ApiJournalEntry(
        project=str(parsed["project"]),
        url=str(parsed["url"]),
        before={str(k): str(v) for k, v in parsed["before"].items()},
        sets=tuple((str(k), str(v)) for k, v in parsed["set"].items()),
        deletes=tuple(str(key) for key in parsed["delete"]),
        key_storage_path=_optional(parsed, "key_storage_path"),
        key_storage_verb=_optional(parsed, "key_storage_verb"),
        key_path=_optional(parsed, "key_path"),
        had_previous_secret=bool(parsed["had_previous_secret"]),
        phase=str(parsed["phase"]),
        started_at=parsed["started_at"],
        pid=int(parsed["pid"]),
        made=tuple(Path(str(folder)) for folder in parsed.get("made", ())),
    )


def _optional(parsed: dict[str, Any], name: str) -> str | None:
    return str(parsed[name]) if name in parsed else None


def inspect_api_journal(
    install: RundeckInstall, project: str, current: dict[str, str]
) -> Recovery | None:
    """What the next apply of ``project`` must do first, given its AWS settings now."""
    path = api_journal_path(install, project)
    entry = read_api_journal(path)
    if entry is None:
        return None
    before, after = entry.before, entry.after
    foreign = [
        key for key in entry.touched if current.get(key) not in (before.get(key), after.get(key))
    ]
    if foreign:
        raise SetupError(
            f"An apply of project {project} was interrupted (journal {path}), and "
            f"{', '.join(foreign)} has been changed since by something else. Nothing was "
            "guessed or changed: check the project's AWS settings and Key Storage at "
            f"{entry.key_storage_path or entry.key_path or '(no secret)'}, then remove {path}."
        )
    written = all(current.get(key) == after.get(key) for key in entry.touched)
    if written and (entry.key_storage_path is None or entry.phase in _WRITTEN_TO_KEY_STORAGE):
        action = RecoveryAction.FINISH
        reason = "Rundeck holds the new settings; the keyring's previous copy is dropped"
    else:
        action = RecoveryAction.ROLLBACK
        reason = "the settings are put back as they were, in Rundeck, Key Storage and the keyring"
    return Recovery(
        action=action,
        journal_path=path,
        started_at=entry.started_at,
        reason=reason,
        key_path=entry.key_path,
        had_previous_secret=entry.had_previous_secret,
        record_text=None,
        api=entry,
    )


def settled_key_storage(
    entry: ApiJournalEntry | None, keystore: KeyStore | None
) -> SettledKeyStorage | None:
    """Key Storage at the interrupted apply's path once its rollback is done."""
    if entry is None or entry.key_storage_path is None:
        return None
    path = entry.key_storage_path
    if entry.key_storage_verb == str(KeyStorageVerb.CREATE):
        return SettledKeyStorage(path, deleted=True)
    try:
        previous = keystore.get(previous_secret_path(path)) if keystore is not None else None
    except KeyStoreError:
        previous = None
    if previous is None:
        return None  # not put back: the plan sees Key Storage and the keyring as they are
    return SettledKeyStorage(path, deleted=False, local=previous, local_known=True)


def recover_api(recovery: Recovery, client: RundeckClient, keystore: KeyStore | None) -> list[Step]:
    """Finish or roll back the interrupted apply; each thing done is one step."""
    entry = recovery.api
    assert entry is not None  # an API recovery carries its journal
    require_keystore(entry.key_path, keystore)
    steps: list[Step] = []
    try:
        if recovery.action is RecoveryAction.ROLLBACK:
            steps += _roll_back_config(client, entry)
            steps += _roll_back_key_storage(client, entry, keystore)
            if entry.key_path is not None and keystore is not None:
                steps += roll_back_keyring(keystore, entry.key_path, entry.had_previous_secret)
        elif entry.key_path is not None and keystore is not None:
            keystore.delete(previous_secret_path(entry.key_path))
    except RundeckApiError as error:
        raise SetupError(
            f"Could not settle the interrupted apply of {entry.project}: {error}", kind=error.kind
        ) from None
    except KeyStoreError as error:
        raise keyring_unsettled(error) from None
    recovery.journal_path.unlink(missing_ok=True)
    remove_empty(entry.made)  # kept while a lock file is still there: the apply removes them
    steps.append(closing_step(recovery))
    return steps


def _roll_back_config(client: RundeckClient, entry: ApiJournalEntry) -> list[Step]:
    current = client.get_config(entry.project)
    restored = 0
    for key in entry.touched:
        was = entry.before.get(key)
        if current.get(key) == was:
            continue
        if was is None:
            client.delete_config_key(entry.project, key)
        else:
            client.set_config_key(entry.project, key, was)
        restored += 1
    if not restored:
        return []
    detail = f"put {restored} keys of {entry.project} back as they were"
    return [Step("recover", StepStatus.ROLLED_BACK, detail)]


def _roll_back_key_storage(
    client: RundeckClient, entry: ApiJournalEntry, keystore: KeyStore | None
) -> list[Step]:
    path = entry.key_storage_path
    if path is None or client.key_metadata(path) is None:
        return []
    if entry.key_storage_verb == str(KeyStorageVerb.CREATE):
        client.delete_key(path)
        return [Step("recover", StepStatus.ROLLED_BACK, f"deleted the key it created at {path}")]
    previous = keystore.get(previous_secret_path(path)) if keystore is not None else None
    if previous is not None:
        client.replace_password(path, previous)
        detail = f"put the previous secret back at {path} in Key Storage"
        return [Step("recover", StepStatus.ROLLED_BACK, detail)]
    if entry.phase in (KEYRING, *_WRITTEN_TO_KEY_STORAGE):
        detail = (
            f"Key Storage at {path} may hold the new secret: the one it replaced was not "
            "written by this tool, and a password cannot be read back"
        )
        return [Step("recover", StepStatus.FAILED, detail)]
    return []

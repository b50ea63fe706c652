"""The TOML record of a setup, kept beside the properties file it describes. Never a secret."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from tui.core.errors import ConfigProblem
from tui.core.model import Method, Scope

RECORD_NAME = "aws-setup.toml"
RECORD_VERSION = 1
PASSWORD_KEY_TYPE = "password"
PASSWORD_CONTENT_TYPE = "application/x-rundeck-data-password"

# Fields whose change alone does not make a setup different (for idempotent applies).
BOOKKEEPING_FIELDS = frozenset({"created_at", "updated_at", "properties_sha256"})


class RecordError(ConfigProblem):
    """A record file that cannot be read; the message names the file and the problem."""


def record_path(properties_file: Path) -> Path:
    return properties_file.with_name(RECORD_NAME)


def fingerprint(data: bytes) -> str:
    """The sha256 of a properties file as written, to notice later hand edits (drift)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RotationState:
    """An unfinished rotation: enough to finish or undo it without any secret."""

    phase: str
    old_access_key_id: str
    new_access_key_id: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class SetupRecord:
    """What pa-aws-setup did to one properties file."""

    method: Method
    scope: Scope
    properties_file: str
    project: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    key_path: str | None = None
    key_type: str | None = None
    content_type: str | None = None
    keyring_backend: str | None = None
    iam_user: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    properties_sha256: str | None = None
    previous_access_key_id: str | None = None
    previous_key_inactive: bool = False
    rotated_at: datetime | None = None
    rotation: RotationState | None = None
    version: int = RECORD_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def same_setup(self, other: SetupRecord | None) -> bool:
        """True when ``other`` records the same setup, timestamps aside."""
        if other is None:
            return False
        mine, theirs = asdict(self), asdict(other)
        return all(mine[name] == theirs[name] for name in mine if name not in BOOKKEEPING_FIELDS)

    def updated(self, **changes: Any) -> SetupRecord:
        return replace(self, **changes)


def dumps(record: SetupRecord) -> str:
    """TOML text for ``record``; fields that are None are left out (TOML has no null)."""
    data: dict[str, Any] = {"version": record.version}
    for item in fields(record):
        if item.name in ("version", "rotation", "extra"):
            continue
        value = getattr(record, item.name)
        if value is None or (item.name == "previous_key_inactive" and not value):
            continue
        data[item.name] = str(value) if isinstance(value, Method | Scope) else value
    if record.rotation is not None:
        data["rotation"] = {
            key: value for key, value in asdict(record.rotation).items() if value is not None
        }
    if record.extra:
        data["extra"] = dict(record.extra)
    return tomli_w.dumps(data)


def loads(text: str, *, source: str = "record") -> SetupRecord:
    """Parse a record; raise RecordError naming ``source`` for anything malformed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RecordError(f"{source} is not valid TOML: {error}.") from None
    try:
        rotation = data.pop("rotation", None)
        known = {item.name for item in fields(SetupRecord)}
        unknown = {key: data.pop(key) for key in list(data) if key not in known}
        extra = {**data.pop("extra", {}), **unknown}
        return SetupRecord(
            **{
                **data,
                "method": Method(data["method"]),
                "scope": Scope(data["scope"]),
                "rotation": RotationState(**rotation) if rotation else None,
                "extra": extra,
            }
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RecordError(f"{source} is not a pa-aws-setup record: {error}.") from None


def read_record(path: Path) -> SetupRecord | None:
    """The record at ``path``, or None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise RecordError(f"Cannot read {path}: {error}.") from None
    return loads(text, source=str(path))

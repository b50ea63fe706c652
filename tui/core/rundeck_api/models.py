"""Typed answers of Rundeck's API, and the client-side checks of key paths and config keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tui.core.rundeck_api.errors import RundeckRequestInvalid

PASSWORD_CONTENT_TYPE = "application/x-rundeck-data-password"
"""The exact type plugins demand (RD ``core/src/main/java/com/dtolabs/rundeck/core/storage/
keys/KeyStorageTreeImpl.java`` ``readPassword``); never with a ``; charset`` parameter."""

# One segment of a storage path as RD's StorageParams accepts it: a first character from
# letters, digits and , . + _ -, then the same or a space (RD also takes other whitespace; we do
# not); never ".." (RD rundeckapp/src/main/groovy/com/dtolabs/rundeck/app/support/
# StorageParams.groovy).
_SEGMENT = re.compile(r"[a-zA-Z0-9,.+_-][ a-zA-Z0-9,.+_-]*")
_CONFIG_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:@+-]*")


def key_storage_path(path: str, *, allow_root: bool = False) -> str:
    """``path`` without its leading ``/`` or ``keys/``, checked segment by segment.

    Raises RundeckRequestInvalid, naming the segment, for what Rundeck would refuse with 400.
    """
    text = path.strip("/")
    if text == "keys":
        text = ""
    elif text.startswith("keys/"):
        text = text[len("keys/") :].strip("/")
    if not text:
        if allow_root:
            return ""
        raise RundeckRequestInvalid(
            f"The Key Storage path {path!r} names no key: give e.g. keys/project/<P>/aws-secret."
        )
    for segment in text.split("/"):
        if segment == "":
            raise RundeckRequestInvalid(f"The Key Storage path {path!r} has an empty segment (//).")
        if segment == "..":
            raise RundeckRequestInvalid(f"The Key Storage path {path!r} may not contain '..'.")
        if not _SEGMENT.fullmatch(segment):
            raise RundeckRequestInvalid(
                f"The Key Storage path segment {segment!r} has characters Rundeck refuses: use "
                "letters, digits, , . + _ - and inner spaces (not starting with a space)."
            )
    return text


def quote_path(relative: str) -> str:
    """A storage path with each segment percent-encoded (spaces, commas, plus signs)."""
    return "/".join(quote(segment, safe="") for segment in relative.split("/"))


def check_config_key(key: str) -> str:
    """``key`` when it is a plain property name the per-key endpoint can carry, else raise."""
    if not _CONFIG_KEY.fullmatch(key):
        raise RundeckRequestInvalid(
            f"The project setting name {key!r} is not a plain property name (letters, digits "
            "and . _ - : @ +, not starting with a dot)."
        )
    return key


@dataclass(frozen=True)
class SystemInfo:
    """The ``system.rundeck`` block of ``/system/info`` and the version this client will use.

    Shape: RD ``rundeckapp/grails-app/controllers/rundeck/controllers/ApiController.groovy``
    ``apiSystemInfo`` (``version, build, buildGit, node, base, apiversion, serverUUID``).
    """

    rundeck_version: str
    server_api_version: int
    api_version: int
    build: str | None = None
    node: str | None = None
    base: str | None = None
    server_uuid: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], api_version: int) -> SystemInfo:
        system = data.get("system")
        rundeck = system.get("rundeck") if isinstance(system, Mapping) else None
        if not isinstance(rundeck, Mapping) or not isinstance(rundeck.get("apiversion"), int):
            raise ValueError("no system.rundeck.apiversion")
        return cls(
            rundeck_version=str(rundeck.get("version") or "unknown"),
            server_api_version=int(rundeck["apiversion"]),
            api_version=api_version,
            build=_optional_str(rundeck.get("build")),
            node=_optional_str(rundeck.get("node")),
            base=_optional_str(rundeck.get("base")),
            server_uuid=_optional_str(rundeck.get("serverUUID")),
        )


@dataclass(frozen=True)
class ProjectSummary:
    """One entry of ``GET /projects`` (RD ``ProjectController.groovy`` ``basicProjectDetails``)."""

    name: str
    description: str = ""
    label: str = ""
    url: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectSummary:
        return cls(
            name=str(data["name"]),
            description=str(data.get("description") or ""),
            label=str(data.get("label") or ""),
            url=_optional_str(data.get("url")),
        )


@dataclass(frozen=True)
class KeyMetadata:
    """A Key Storage resource as Rundeck describes it (never its content).

    Shape: RD ``StorageController.groovy`` ``jsonRenderResource``/``getMeta``; ``path`` has
    ``keys/`` and no leading slash; ``name`` is None for a folder.
    """

    path: str
    type: str
    name: str | None
    url: str | None
    meta: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyMetadata:
        raw_meta = data.get("meta")
        meta = (
            {str(k): str(v) for k, v in raw_meta.items()} if isinstance(raw_meta, Mapping) else {}
        )
        return cls(
            path=str(data.get("path") or ""),
            type=str(data.get("type") or ""),
            name=_optional_str(data.get("name")),
            url=_optional_str(data.get("url")),
            meta=meta,
        )

    @property
    def is_directory(self) -> bool:
        return self.type == "directory"

    @property
    def content_type(self) -> str | None:
        return self.meta.get("Rundeck-content-type")

    @property
    def data_type(self) -> str | None:
        return self.meta.get("Rundeck-data-type")

    @property
    def key_type(self) -> str | None:
        return self.meta.get("Rundeck-key-type")

    @property
    def created(self) -> str | None:
        return self.meta.get("Rundeck-content-creation-time")

    @property
    def modified(self) -> str | None:
        return self.meta.get("Rundeck-content-modify-time")

    @property
    def is_password(self) -> bool:
        """True only for a password plugins can read: data type ``password`` and the exact type."""
        return self.data_type == "password" and self.content_type == PASSWORD_CONTENT_TYPE


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)

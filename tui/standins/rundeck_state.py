"""The state behind the Rundeck API stand-in: tokens with ACL rights, Key Storage, projects.

Reproduces, from RD = rundeck/rundeck @ 2f047102: storage authorization with the
``keys/project/<P>/`` dual context (RD ``core/src/main/java/com/dtolabs/rundeck/core/storage/
ProjectKeyStorageContextProvider.java``, ``AuthRundeckStorageTree.java``), the metadata a key
gets (RD ``core/src/main/java/com/dtolabs/rundeck/core/storage/KeyStorageLayer.java``
``validate``) and ``readPassword`` (RD ``core/src/main/java/com/dtolabs/rundeck/core/storage/
TypedStorageTreeImpl.java``). See /work/shared/reference/rundeck-api.md §1, §6, §8.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

PASSWORD_TYPE = "application/x-rundeck-data-password"
PRIVATE_KEY_TYPE = "application/octet-stream"
PUBLIC_KEY_TYPE = "application/pgp-keys"
STORAGE_ACTIONS = frozenset({"read", "create", "update", "delete"})
_PROJECT_KEY = re.compile(r"keys/project/([^/]+)/.+")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # RD StorageUtil: yyyy-MM-dd'T'HH:mm:ss'Z', GMT


@dataclass(frozen=True)
class StorageRule:
    """One ``for: storage`` ACL entry: a regex on the full path (``keys/…``) and its actions.

    ``project`` None is the application context; a name is that project's context.
    """

    path: str
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    project: str | None = None

    def matches(self, path: str) -> bool:
        return re.fullmatch(self.path, path) is not None


@dataclass(frozen=True)
class StandInToken:
    """An API token and what its user may do (no real ACL language, only its outcomes)."""

    value: str
    user: str = "admin"
    storage: tuple[StorageRule, ...] = ()
    configure: frozenset[str] | None = frozenset()  # projects it may configure; None = all
    read_projects: frozenset[str] | None = None  # projects it may list; None = all
    system_read: bool = False

    def __repr__(self) -> str:
        return f"StandInToken(user={self.user!r}, value='****')"

    @classmethod
    def admin(cls, value: str, user: str = "admin") -> StandInToken:
        """Like the stock ``admin.aclpolicy``: storage ``*`` in the application context."""
        return cls(
            value,
            user,
            storage=(StorageRule(".*", allow=STORAGE_ACTIONS),),
            configure=None,
            system_read=True,
        )

    def may_store(self, action: str, path: str) -> bool:
        """Whether ``action`` on ``path`` is allowed: any explicit deny wins, one allow suffices.

        ``keys/project/<P>/…`` is checked in the application context and in project P's.
        """
        contexts: list[str | None] = [None]
        match = _PROJECT_KEY.fullmatch(path)
        if match:
            contexts.append(match.group(1))
        rules = [r for r in self.storage if r.project in contexts and r.matches(path)]
        if any(action in rule.deny for rule in rules):
            return False
        return any(action in rule.allow for rule in rules)

    def may_configure(self, project: str) -> bool:
        return self.configure is None or project in self.configure

    def may_read_project(self, project: str) -> bool:
        return self.read_projects is None or project in self.read_projects


@dataclass
class StoredKey:
    """Content and metadata of one stored key, as the storage tree holds it."""

    content: bytes
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def masked(self) -> bool:
        return "content" in self.meta.get("Rundeck-content-mask", "").split(",")


class PasswordReadError(ValueError):
    """What ``readPassword`` throws when the key is absent or not stored as a password."""


class KeyStore:
    """Files by full path (``keys/a/b``); folders exist only as prefixes of files."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.files: dict[str, StoredKey] = {}
        self._clock = clock or (lambda: datetime.now(UTC))

    def is_file(self, path: str) -> bool:
        return path in self.files

    def is_directory(self, path: str) -> bool:
        return path == "keys" or any(name.startswith(path + "/") for name in self.files)

    def children(self, folder: str) -> list[tuple[str, bool]]:
        """Direct children of ``folder`` as (path, is_directory), sorted."""
        found: dict[str, bool] = {}
        prefix = folder + "/"
        for name in self.files:
            if name.startswith(prefix):
                head, _, rest = name[len(prefix) :].partition("/")
                found[prefix + head] = found.get(prefix + head, False) or bool(rest)
        return sorted(found.items())

    def write(
        self, path: str, content: bytes, content_type: str, size: int, user: str
    ) -> StoredKey:
        """Create or replace a key; metadata as the storage layers would set it."""
        now = self._clock().strftime(_TIME_FORMAT)
        previous = self.files.get(path)
        meta = {
            "Rundeck-content-type": content_type,
            "Rundeck-content-size": str(size),
            "Rundeck-content-creation-time": (
                previous.meta["Rundeck-content-creation-time"] if previous else now
            ),
            "Rundeck-content-modify-time": now,
            "Rundeck-auth-created-username": (
                previous.meta.get("Rundeck-auth-created-username", user) if previous else user
            ),
            "Rundeck-auth-modified-username": user,
        }
        # KeyStorageLayer.validate compares with equals: a "; charset=" suffix matches nothing.
        if content_type == PRIVATE_KEY_TYPE:
            meta.update({"Rundeck-content-mask": "content", "Rundeck-key-type": "private"})
        elif content_type == PUBLIC_KEY_TYPE:
            meta["Rundeck-key-type"] = "public"
        elif content_type == PASSWORD_TYPE:
            meta.update({"Rundeck-content-mask": "content", "Rundeck-data-type": "password"})
        stored = StoredKey(content, meta)
        self.files[path] = stored
        return stored

    def read_password(self, path: str) -> bytes:
        """The password bytes, the way plugins read them; raises unless the type is exact."""
        stored = self.files.get(normalize_key_path(path))
        if stored is None:
            raise PasswordReadError(f"Key Storage has no key at {path}")
        if stored.meta.get("Rundeck-content-type") != PASSWORD_TYPE:
            raise PasswordReadError(f"Key Storage path does not store a password: {path}")
        return stored.content


def normalize_key_path(path: str) -> str:
    """``path`` as the tree names it: ``keys/…``, no leading or trailing slash."""
    text = path.strip("/")
    if text != "keys" and not text.startswith("keys/"):
        text = "keys/" + text if text else "keys"
    return text


def mask_token(token: str) -> str:
    """What Rundeck prints for a refused token: 5 characters then ``****``, or only ``****``.

    RD ``grails-rundeck-data-shared/src/main/groovy/rundeck/data/util/AuthenticationTokenUtils
    .groovy`` ``printable``.
    """
    return (token[:5] if len(token) > 5 else "") + "****"


def token_table(tokens: Iterable[StandInToken]) -> dict[str, StandInToken]:
    """Tokens by value; duplicate values are a seeding mistake."""
    table: dict[str, StandInToken] = {}
    for token in tokens:
        if token.value in table:
            raise ValueError(f"two stand-in tokens share a value (user {token.user!r})")
        table[token.value] = token
    return table

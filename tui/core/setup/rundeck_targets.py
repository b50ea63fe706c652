"""Rundeck's API as targets of a setup: the project's configuration, and the secret in Key
Storage, planned from what the server holds and applied with an undo for each write.

Facts (``rundeck-api.md`` §1, §3): a password is uploaded with the exact content type
``application/x-rundeck-data-password`` and can never be read back, so replacing one is
irreversible; project configuration is changed one key at a time (``PUT /config/KEY``,
``DELETE /config/KEY``), never by a whole-config PUT, which deletes every other key.

Order of the config calls: region first, then ``access_key`` and ``secret_key_path`` as two
consecutive calls (Rundeck can see a mismatched id and secret only between those two), then
the keys of the other methods are deleted. A rollback puts every key back as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tui.core import failpoints
from tui.core.errors import ErrorKind
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.model import Answers, Method, Scope
from tui.core.rundeck import SETTING_NAMES, desired_settings, setting_key
from tui.core.rundeck_api import RundeckApiError, RundeckClient
from tui.core.secret import Secret
from tui.core.setup.model import SetupError

# The order of the PUTs (see the module docstring); deletes come after all of them.
SET_ORDER = ("region", "credentialProvider", "access_key", "secret_key_path")


class KeyStorageVerb(StrEnum):
    CREATE = "create"  # POST: nothing is at the path
    REPLACE = "replace"  # PUT: irreversible when the secret there was not ours
    KEEP = "keep"  # the same secret is there already (our keyring copy says so)


@dataclass(frozen=True)
class KeyStorageAction:
    """The secret uploaded to Rundeck Key Storage as a password at ``path``."""

    path: str
    verb: KeyStorageVerb
    exists: bool
    ours: bool  # our keyring holds the secret stored there, so a rollback can put it back
    stored_as_password: bool | None  # of the entry there now; None when there is none

    @property
    def irreversible(self) -> bool:
        return self.verb is KeyStorageVerb.REPLACE and not self.ours

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "action": str(self.verb),
            "exists": self.exists,
            "written_by_this_tool": self.ours,
            "irreversible": self.irreversible,
        }


@dataclass(frozen=True)
class ApiConfigChange:
    """One project's AWS settings through the API: what is there, what is set, what goes."""

    project: str
    before: dict[str, str]
    sets: tuple[tuple[str, str], ...]
    deletes: tuple[str, ...]
    # As read at planning, when an interrupted apply's rollback will first bring it to before.
    read: dict[str, str] | None = None

    @property
    def changes(self) -> bool:
        return bool(self.sets or self.deletes)

    @property
    def as_read(self) -> dict[str, str]:
        return self.before if self.read is None else self.read

    @property
    def after(self) -> dict[str, str]:
        """The AWS settings once the change is written."""
        settings = {key: value for key, value in self.before.items() if key not in self.deletes}
        return {**settings, **dict(self.sets)}

    @property
    def diff(self) -> str:
        """The change of the AWS keys, as a diff of property lines."""
        lines = [f"--- project {self.project} (Rundeck's database, now)", "+++ (after)"]
        for key in self.deletes:
            lines.append(f"-{key}={self.before[key]}")
        for key, value in self.sets:
            if key in self.before:
                lines.append(f"-{key}={self.before[key]}")
            lines.append(f"+{key}={value}")
        return "\n".join(lines) + "\n" if self.changes else ""

    def to_json(self) -> dict[str, object]:
        return {
            "project": self.project,
            "set": dict(self.sets),
            "delete": list(self.deletes),
            "before": dict(self.before),
        }


def access_rule(project: str | None, key_path: str) -> str:
    """Where a read rule for the key must live: a project ACL, or the application context."""
    if project is not None and key_path.startswith(f"keys/project/{project}/"):
        return (
            f"{key_path} is project-scoped: a project ACL of {project} can grant read "
            "(Rundeck's projectKeyStorage feature, on by default)."
        )
    return (
        f"{key_path} is not under keys/project/<project>/: reading it needs an "
        "application-context rule (an .aclpolicy in /etc/rundeck or the system ACL API)."
    )


def aclpolicy(project: str, key_path: str) -> str:
    """The aclpolicy that lets the project's job runners and node sources read the key."""
    path = key_path.replace(".", "\\\\.")
    return (
        f"description: Jobs and node sources of {project} read the AWS secret\n"
        "context:\n"
        f"  project: '{project}'\n"
        "for:\n"
        "  storage:\n"
        "    - match:\n"
        f"        path: '{path}'\n"
        "      allow: [read]\n"
        "by:\n"
        "  group: [user]\n"
        "---\n"
        f"description: Node sources of {project} (they run as the project) read the AWS secret\n"
        "context:\n"
        f"  project: '{project}'\n"
        "for:\n"
        "  storage:\n"
        "    - match:\n"
        f"        path: '{path}'\n"
        "      allow: [read]\n"
        "by:\n"
        f"  urn: 'project:{project}'\n"
    )


def read_aws_keys(client: RundeckClient, project: str) -> dict[str, str]:
    """The project's AWS settings as Rundeck holds them (``GET /config``)."""
    try:
        config = client.get_config(project)
    except RundeckApiError as error:
        raise SetupError(
            f"Cannot read project {project}'s configuration: {error}", kind=error.kind
        ) from None
    return aws_keys(config)


def aws_keys(config: dict[str, str]) -> dict[str, str]:
    """The AWS settings of a project's configuration, every other key left out."""
    keys = (setting_key(Scope.PROJECT, name) for name in SETTING_NAMES)
    return {key: config[key] for key in keys if key in config}


def plan_api_config(answers: Answers, before: dict[str, str]) -> ApiConfigChange:
    """The per-key change from the AWS settings ``before`` (as read, or as an interrupted
    apply's rollback will leave them) to what ``answers`` want; nothing is written."""
    project = answers.project or ""
    wanted = desired_settings(
        answers.method,
        region=answers.region,
        access_key_id=answers.access_key_id,
        key_path=answers.key_path,
    )
    sets: list[tuple[str, str]] = []
    deletes: list[str] = []
    for name in SET_ORDER:
        key, value = setting_key(Scope.PROJECT, name), wanted.get(name)
        if value is not None and before.get(key) != value:
            sets.append((key, value))
    for name in SETTING_NAMES:
        key = setting_key(Scope.PROJECT, name)
        if name in wanted and wanted[name] is None and key in before:
            deletes.append(key)
    return ApiConfigChange(project, dict(before), tuple(sets), tuple(deletes))


def plan_key_storage(
    client: RundeckClient,
    answers: Answers,
    keystore: KeyStore | None,
    secret: Secret | None,
    settled: SettledKeyStorage | None = None,
) -> KeyStorageAction | None:
    """The Key Storage part of an access-key plan; None for the role methods. ``settled``
    says what an interrupted apply's rollback will leave at a path."""
    if answers.method is not Method.ACCESS_KEY or not answers.key_path:
        return None
    path = answers.key_path
    try:
        metadata = client.key_metadata(path)
    except RundeckApiError as error:
        raise SetupError(f"Cannot check Key Storage at {path}: {error}", kind=error.kind) from None
    local: Secret | None = None
    if keystore is not None:
        try:
            local = keystore.get(path)
        except KeyStoreError:
            local = None
    exists = metadata is not None
    if settled is not None and settled.path == path:
        exists = exists and not settled.deleted
        local = settled.local if settled.local_known else local
    ours = exists and local is not None
    if not exists:
        verb = KeyStorageVerb.CREATE
    elif ours and (secret is None or local == secret) and metadata and metadata.is_password:
        verb = KeyStorageVerb.KEEP
    else:
        verb = KeyStorageVerb.REPLACE
    return KeyStorageAction(
        path=path,
        verb=verb,
        exists=exists,
        ours=ours,
        stored_as_password=metadata.is_password if metadata is not None else None,
    )


@dataclass(frozen=True)
class SettledKeyStorage:
    """Key Storage at ``path`` once an interrupted apply is rolled back: the key it created
    deleted, or the keyring's copy of what was there put back."""

    path: str
    deleted: bool
    local: Secret | None = None
    local_known: bool = False


Report = Callable[[str, str], None]  # step name, detail of a done step
Undo = Callable[[str, str, Callable[[], str]], None]  # name, what stays if it fails, action


def upload_secret(
    client: RundeckClient,
    action: KeyStorageAction,
    secret: Secret | None,
    previous_local: Secret | None,
    report: Report,
    undo: Undo,
) -> None:
    """Upload the password, read its metadata back, and register how to take it back."""
    if action.verb is KeyStorageVerb.KEEP:
        return
    if secret is None:
        raise SetupError("No secret was given for Key Storage; nothing was written.")
    try:
        if action.verb is KeyStorageVerb.CREATE:
            client.create_password(action.path, secret)
        else:
            client.replace_password(action.path, secret)
        stored = client.key_metadata(action.path)
    except RundeckApiError as error:
        raise SetupError(
            f"Key Storage refused the secret at {action.path}: {error}", kind=error.kind
        ) from None

    def take_back() -> str:
        if action.verb is KeyStorageVerb.CREATE:
            client.delete_key(action.path)
            return f"The key this run created at {action.path} was deleted from Key Storage."
        if previous_local is not None:
            client.replace_password(action.path, previous_local)
            return f"The previous secret was put back at {action.path} in Key Storage."
        raise SetupError("the secret it replaced cannot be read back (passwords never can)")

    stays = f"Key Storage at {action.path} holds the new secret"
    undo("key-storage", stays, take_back)
    if stored is None or not stored.is_password:
        raise SetupError(
            f"Key Storage did not keep {action.path} as a password (Rundeck-data-type and "
            "content type); Rundeck's plugins could not read it.",
            kind=ErrorKind.RUNDECK,
        )
    verb = "created" if action.verb is KeyStorageVerb.CREATE else "replaced"
    report("key-storage", f"{verb} the password at {action.path} (read back: a password)")


def write_api_config(
    client: RundeckClient, change: ApiConfigChange, report: Report, undo: Undo
) -> None:
    """PUT each key in order, DELETE the other method's keys, then read the config back."""
    project = change.project
    try:
        for key, value in change.sets:
            previous = change.before.get(key)
            client.set_config_key(project, key, value)
            failpoints.reached("apply:config-key-set")
            undo(
                "config", f"{key} keeps the new value", _restore_key(client, project, key, previous)
            )
        for key in change.deletes:
            client.delete_config_key(project, key)
            undo(
                "config",
                f"{key} stays deleted",
                _restore_key(client, project, key, change.before[key]),
            )
        after = client.get_config(project)
    except RundeckApiError as error:
        raise SetupError(
            f"Rundeck refused the configuration of {project}: {error}", kind=error.kind
        ) from None
    wrong = [key for key, value in change.sets if after.get(key) != value]
    wrong += [key for key in change.deletes if key in after]
    if wrong:
        raise SetupError(
            f"Read back, project {project}'s configuration does not hold what was written "
            f"({', '.join(wrong)}); another writer may have changed it.",
            kind=ErrorKind.RUNDECK,
        )
    report(
        "config",
        f"set {len(change.sets)}, deleted {len(change.deletes)} keys of {project} (read back)",
    )


def _restore_key(
    client: RundeckClient, project: str, key: str, value: str | None
) -> Callable[[], str]:
    def restore() -> str:
        if value is None:
            client.delete_config_key(project, key)
        else:
            client.set_config_key(project, key, value)
        return ""

    return restore

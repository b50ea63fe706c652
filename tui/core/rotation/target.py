"""What a rotation works on: the access key setup of one properties file, or of one project in
Rundeck's database (through its API), read before it starts."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from tui.core.errors import ErrorKind, ToolError
from tui.core.model import Scope
from tui.core.properties import PropertiesDocument, PropertiesError
from tui.core.record import RecordError, RotationState, SetupRecord, read_record, record_path
from tui.core.rotation.api_config import read_aws_lines
from tui.core.rundeck import (
    RundeckError,
    RundeckInstall,
    read_aws_settings,
    read_scope_settings,
    setting_key,
)
from tui.core.rundeck_api import RundeckApiError, RundeckClient
from tui.core.writer import WriteError, check_target, read_existing

PREVIOUS_SUFFIX = ".rotation-previous"


class RotationError(ToolError):
    """A rotation that cannot start or go on; one class for every kind of cause."""

    def __init__(self, message: str, kind: ErrorKind) -> None:
        super().__init__(message, kind=kind)


@dataclass(frozen=True)
class RotationTarget:
    """The access key setup of one scope, as read before rotating it.

    With ``api``, the project's configuration is in Rundeck's database: ``data`` holds its AWS
    settings as properties lines (``api_config``), ``properties_file`` is where Rundeck would
    keep the file (never written), and the record with the rotation marker lives beside it.
    """

    install: RundeckInstall
    scope: Scope
    project: str | None
    properties_file: Path
    data: bytes
    access_key_id: str
    key_path: str
    region: str | None
    record: SetupRecord | None
    api: RundeckClient | None = None

    @property
    def in_database(self) -> tuple[RundeckClient, str] | None:
        """The API and the project, when the configuration is in Rundeck's database."""
        if self.api is not None and self.project is not None:
            return self.api, self.project
        return None

    @property
    def where(self) -> str:
        """Where the configuration is, as the messages name it."""
        if self.api is not None:
            return f"project {self.project}'s configuration in Rundeck"
        return str(self.properties_file)

    @property
    def short_where(self) -> str:
        """As ``where``, with a file named by its name alone (a step's line is narrow; the
        outcome gives the whole path)."""
        return self.where if self.api is not None else self.properties_file.name

    @property
    def owner_file(self) -> Path:
        """What the record, lock and backups take their owner from: the configuration file,
        or for a project in the database, the install's framework.properties."""
        if self.api is not None:
            return self.install.framework_properties
        return self.properties_file

    @property
    def record_file(self) -> Path:
        return record_path(self.properties_file)

    @property
    def previous_path(self) -> str:
        """Where the keyring keeps the previous secret while a rotation is unfinished."""
        return self.key_path + PREVIOUS_SUFFIX

    @property
    def access_key_setting(self) -> str:
        return setting_key(self.scope, "access_key")

    @property
    def label(self) -> str:
        return "system" if self.scope is Scope.SYSTEM else f"project {self.project}"

    @property
    def interrupted(self) -> RotationState | None:
        return self.record.rotation if self.record is not None else None


def load_target(
    install: RundeckInstall, scope: Scope, project: str | None = None
) -> RotationTarget:
    """Read the access key setup of ``scope``; RotationError when there is none to rotate."""
    try:
        path = install.target(scope, project)
        check_target(path, install.roots)
        check_target(record_path(path), install.roots)
        data = read_existing(path)
    except (RundeckError, WriteError) as error:
        raise RotationError(str(error), ErrorKind.CONFIG) from None
    if data is None:
        raise RotationError(f"{path} does not exist.", ErrorKind.CONFIG)
    project = project if scope is Scope.PROJECT else None
    return _target(install, scope, project, path, data, str(path), api=None)


def load_api_target(install: RundeckInstall, client: RundeckClient, project: str) -> RotationTarget:
    """Read the access key setup of a project Rundeck serves, through its API."""
    try:
        path = install.target(Scope.PROJECT, project)
        check_target(record_path(path), install.roots)
        data = read_aws_lines(client, project)
    except (RundeckError, WriteError) as error:
        raise RotationError(str(error), error.kind) from None
    where = f"Project {project}'s configuration in Rundeck"
    return _target(install, Scope.PROJECT, project, path, data, where, api=client)


def _target(
    install: RundeckInstall,
    scope: Scope,
    project: str | None,
    path: Path,
    data: bytes,
    where: str,
    *,
    api: RundeckClient | None,
) -> RotationTarget:
    """The target of the configuration ``data`` (``where``, as messages name it) and the
    record beside ``path``; RotationError when it is not an access-key setup."""
    try:
        settings = read_aws_settings(PropertiesDocument.parse_bytes(data), scope)
    except PropertiesError as error:
        raise RotationError(f"{where}: {error}", ErrorKind.CONFIG) from None
    try:
        record = read_record(record_path(path))
    except RecordError as error:
        raise RotationError(str(error), ErrorKind.CONFIG) from None
    if not settings.access_key or not settings.secret_key_path:
        method = settings.method.title if settings.method else "no AWS access key"
        raise RotationError(
            f"{where} is not set up with an access key ({method}); there is no key to rotate.",
            ErrorKind.USAGE,
        )
    return RotationTarget(
        install=install,
        scope=scope,
        project=project,
        properties_file=path,
        data=data,
        access_key_id=settings.access_key,
        key_path=settings.secret_key_path,
        region=settings.region,
        record=record,
        api=api,
    )


def other_users(target: RotationTarget, client: RundeckClient | None) -> list[str]:
    """The other setups Rundeck reads this access key from (the system file; each project
    through the API when it is connected, else from its file): a rotation here would leave
    them on a key that is deactivated or deleted."""
    install, key_id = target.install, target.access_key_id
    found: list[str] = []
    if target.scope is not Scope.SYSTEM and _uses(install, Scope.SYSTEM, None, key_id):
        found.append("the system scope")
    others = [name for name in _project_names(install, client) if name != target.project]
    for name in others:
        if _project_uses(install, client, name, key_id):
            found.append(f"project {name}")
    return found


def _project_names(install: RundeckInstall, client: RundeckClient | None) -> list[str]:
    if client is not None:
        with contextlib.suppress(RundeckApiError):
            return [project.name for project in client.list_projects()]
    return list(install.list_projects())


def _project_uses(
    install: RundeckInstall, client: RundeckClient | None, project: str, key_id: str
) -> bool:
    if client is None:
        return _uses(install, Scope.PROJECT, project, key_id)
    try:
        config = client.get_config(project)
    except RundeckApiError:
        return False
    return read_aws_settings(config, Scope.PROJECT).access_key == key_id


def _uses(install: RundeckInstall, scope: Scope, project: str | None, key_id: str) -> bool:
    try:
        return read_scope_settings(install, scope, project).access_key == key_id
    except RundeckError:
        return False

"""Where a Rundeck install keeps its configuration, and which AWS keys each method uses."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tui.core.errors import ConfigProblem, ErrorKind
from tui.core.model import Method, Scope
from tui.core.names import PROJECT_NAME_PATTERN, project_name_problem
from tui.core.properties import PropertiesDocument, PropertiesError
from tui.core.record import RECORD_NAME
from tui.core.redact import shown
from tui.core.writer import WriteError, read_existing

PACKAGE_ETC = Path("etc/rundeck")
PACKAGE_PROJECT_DIRS = (Path("var/lib/rundeck/projects"), Path("var/rundeck/projects"))

SETTING_NAMES = ("credentialProvider", "access_key", "secret_key_path", "region")
METHOD_SETTINGS: dict[Method, dict[str, str | None]] = {
    Method.EC2: {"credentialProvider": "instance"},
    Method.ECS: {"credentialProvider": "container"},
    Method.ACCESS_KEY: {"access_key": None, "secret_key_path": None},
}
PROVIDER_METHODS = {"instance": Method.EC2, "container": Method.ECS}


class RundeckError(ConfigProblem):
    """A Rundeck install or project that cannot be used; the message says why and what to do."""


class InstallNotFoundError(RundeckError):
    """No Rundeck configuration was found where Rundeck keeps it."""


class ProjectNameError(RundeckError, ValueError):
    """A project name Rundeck would reject, or one that could escape the projects folder."""

    kind = ErrorKind.USAGE


def validate_project_name(name: str) -> str:
    """Return ``name`` if Rundeck accepts it as a project name, else raise ProjectNameError."""
    problem = project_name_problem(name)
    if problem is not None:
        raise ProjectNameError(problem)
    return name


def setting_key(scope: Scope, name: str) -> str:
    """The property key of one AWS setting: ``project.aws.<name>`` or ``aws.<name>``."""
    return f"project.aws.{name}" if scope is Scope.PROJECT else f"aws.{name}"


def desired_settings(
    method: Method,
    *,
    region: str | None,
    access_key_id: str | None,
    key_path: str | None,
) -> dict[str, str | None]:
    """The AWS settings a method needs: a value to set, or None to remove the setting.

    Every setting of the other methods is removed, so no stale key is left beside the new
    method; a region of None leaves the existing region as it is.
    """
    wanted: dict[str, str | None] = {name: None for name in SETTING_NAMES if name != "region"}
    if method is Method.ACCESS_KEY:
        if not access_key_id or not key_path:
            raise ValueError("the access key method needs an access key id and a key path")
        wanted["access_key"] = access_key_id
        wanted["secret_key_path"] = key_path
    else:
        wanted.update(METHOD_SETTINGS[method])
    if region:
        wanted["region"] = region
    return wanted


@dataclass(frozen=True)
class AwsSettings:
    """The AWS settings found in one properties file, as Rundeck would read them."""

    credential_provider: str | None = None
    access_key: str | None = None
    secret_key_path: str | None = None
    region: str | None = None

    @property
    def configured(self) -> bool:
        return any((self.credential_provider, self.access_key, self.secret_key_path))

    @property
    def methods(self) -> list[Method]:
        """Every method the settings point at; more than one means the file is ambiguous."""
        found: list[Method] = []
        if self.credential_provider in PROVIDER_METHODS:
            found.append(PROVIDER_METHODS[self.credential_provider])
        if self.access_key or self.secret_key_path:
            found.append(Method.ACCESS_KEY)
        return found

    @property
    def method(self) -> Method | None:
        methods = self.methods
        return methods[0] if len(methods) == 1 else None


def read_aws_settings(
    document: PropertiesDocument | Mapping[str, str], scope: Scope
) -> AwsSettings:
    """Pick the AWS settings of ``scope`` out of a parsed properties file, or out of a
    project's configuration as Rundeck's API returns it."""
    values = {name: document.get(setting_key(scope, name)) for name in SETTING_NAMES}
    return AwsSettings(
        credential_provider=values["credentialProvider"],
        access_key=values["access_key"],
        secret_key_path=values["secret_key_path"],
        region=values["region"],
    )


@dataclass(frozen=True)
class RundeckInstall:
    """The configuration files of one Rundeck install."""

    layout: str  # "launcher" (RDECK_BASE) or "package" (deb/rpm)
    base: Path
    etc_dir: Path
    projects_dir: Path

    @property
    def framework_properties(self) -> Path:
        return self.etc_dir / "framework.properties"

    @property
    def roots(self) -> tuple[Path, ...]:
        """Folders a configuration file may resolve into; anything else is refused."""
        return (self.base, self.etc_dir, self.projects_dir)

    def project_dir(self, project: str) -> Path:
        return self.projects_dir / validate_project_name(project)

    def project_properties(self, project: str) -> Path:
        return self.project_dir(project) / "etc" / "project.properties"

    def target(self, scope: Scope, project: str | None) -> Path:
        """The properties file a setup of ``scope`` changes."""
        if scope is Scope.SYSTEM:
            return self.framework_properties
        if not project:
            raise ProjectNameError("A project-scoped setup needs a project name.")
        return self.project_properties(project)

    def list_projects(self) -> list[str]:
        """Projects whose configuration is a file on disk, sorted by name."""
        try:
            entries = sorted(self.projects_dir.iterdir())
        except OSError:
            return []
        return [
            entry.name
            for entry in entries
            if PROJECT_NAME_PATTERN.fullmatch(entry.name)
            and (entry / "etc" / "project.properties").is_file()
        ]

    def project_in_database(self, project: str) -> bool:
        """True when the project has no properties file: Rundeck then keeps it in its database."""
        return not self.project_properties(project).is_file()


def find_install(
    rdeck_base: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    root: Path = Path("/"),
) -> RundeckInstall:
    """Locate Rundeck's configuration: ``--rdeck-base``, then ``RDECK_BASE``, then deb/rpm paths.

    ``framework.projects.dir`` in framework.properties overrides the projects folder.
    """
    env = os.environ if env is None else env
    chosen = rdeck_base or env.get("RDECK_BASE")
    if chosen:
        base = Path(chosen).expanduser()
        if not base.is_dir():
            raise InstallNotFoundError(
                f"The Rundeck base folder {shown(str(base))} does not exist (from "
                f"{'--rdeck-base' if rdeck_base else 'RDECK_BASE'})."
            )
        etc_dir = base / "etc"
        if not (etc_dir / "framework.properties").is_file():
            raise InstallNotFoundError(
                f"{shown(str(etc_dir / 'framework.properties'))} does not exist: is "
                f"{shown(str(base))} a Rundeck base "
                "folder (the launcher layout keeps etc/framework.properties under it)?"
            )
        install = RundeckInstall("launcher", base, etc_dir, base / "projects")
    else:
        etc_dir = root / PACKAGE_ETC
        if not (etc_dir / "framework.properties").is_file():
            raise InstallNotFoundError(
                "No Rundeck install found: /etc/rundeck/framework.properties does not exist "
                "and RDECK_BASE is not set. Pass --rdeck-base DIR for a launcher install."
            )
        projects = next(
            (root / path for path in PACKAGE_PROJECT_DIRS if (root / path).is_dir()),
            root / PACKAGE_PROJECT_DIRS[0],
        )
        install = RundeckInstall("package", root / "var/lib/rundeck", etc_dir, projects)
    configured = _configured_projects_dir(install)
    if configured is not None:
        install = RundeckInstall(install.layout, install.base, install.etc_dir, configured)
    return install


_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def _configured_projects_dir(install: RundeckInstall) -> Path | None:
    try:
        document = PropertiesDocument.parse_bytes(install.framework_properties.read_bytes())
    except (OSError, PropertiesError):
        return None
    value = document.get("framework.projects.dir")
    if not value:
        return None
    known = {"rdeck.base": str(install.base), **document.items()}

    def expand(text: str, depth: int = 0) -> str:
        if depth > 5:
            return text
        return _PLACEHOLDER.sub(
            lambda match: expand(known.get(match.group(1), match.group(0)), depth + 1), text
        )

    return Path(expand(value.strip()))


def has_existing_setup(install: RundeckInstall) -> bool:
    """True when any scope has AWS settings or a record: the wizard then opens on Status."""
    targets = [(Scope.SYSTEM, install.framework_properties)] + [
        (Scope.PROJECT, install.project_properties(project)) for project in install.list_projects()
    ]
    for scope, path in targets:
        if path.with_name(RECORD_NAME).is_file():
            return True
        try:
            document = PropertiesDocument.parse_bytes(path.read_bytes())
        except (OSError, PropertiesError):
            continue
        if read_aws_settings(document, scope).configured:
            return True
    return False


def read_scope_settings(install: RundeckInstall, scope: Scope, project: str | None) -> AwsSettings:
    """The AWS settings of one scope as Rundeck reads them from disk; empty when the file is
    missing. Raises RundeckError (unreadable or malformed file)."""
    path = install.target(scope, project)
    try:
        data = read_existing(path)
        document = PropertiesDocument.parse_bytes(data or b"")
    except (WriteError, PropertiesError) as error:
        raise RundeckError(f"{path}: {error}") from None
    return read_aws_settings(document, scope)

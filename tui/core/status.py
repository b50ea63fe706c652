"""What is configured where, and what needs attention: the Status screen and ``status`` command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from tui.core import aws
from tui.core.aws import (
    REJECTED_KEY_CODES,
    AwsError,
    ClientFactory,
    identity_with,
    mask_access_key_id,
)
from tui.core.detect import Detection
from tui.core.errors import ToolError
from tui.core.keystore import KeyringLockedError, KeyStore, KeyStoreError
from tui.core.model import Method, Scope
from tui.core.properties import PropertiesDocument, PropertiesError
from tui.core.record import (
    RecordError,
    RotationState,
    SetupRecord,
    fingerprint,
    read_record,
    record_path,
)
from tui.core.rundeck import AwsSettings, RundeckInstall, read_aws_settings
from tui.core.secret import Secret
from tui.core.setup.journal import inspect_journal
from tui.core.setup.planning import LEFT_SECRET
from tui.core.writer import WriteError, read_existing

Clock = Callable[[], datetime]
Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Problem:
    """Something an admin should look at; ``code`` is stable for scripts."""

    code: str
    message: str
    severity: Severity = "warning"

    def to_json_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


@dataclass
class IamKeyStatus:
    """What IAM says about the stored key, asked with that key's own credentials."""

    iam_user: str | None = None
    user_arn: str | None = None
    account: str | None = None
    key_status: str | None = None
    created_at: datetime | None = None
    age_days: int | None = None
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None
    error: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "iam_user": self.iam_user,
            "user_arn": self.user_arn,
            "account": self.account,
            "key_status": self.key_status,
            "created_at": _iso(self.created_at),
            "age_days": self.age_days,
            "last_used_at": _iso(self.last_used_at),
            "last_used_service": self.last_used_service,
            "last_used_region": self.last_used_region,
            "error": self.error,
        }


@dataclass
class EntryStatus:
    """The AWS setup of one properties file: the system scope or one project."""

    scope: Scope
    project: str | None
    properties_file: Path
    configured: bool = False
    methods: list[Method] = field(default_factory=list)
    region: str | None = None
    access_key_id_masked: str | None = None
    key_path: str | None = None
    keyring_backend: str | None = None
    keyring_security: str | None = None
    secret_present: bool | None = None
    role_detected: bool | None = None
    record_file: Path | None = None
    record_present: bool = False
    drift: bool = False
    previous_access_key_id_masked: str | None = None
    previous_key_inactive: bool = False
    rotated_at: datetime | None = None
    rotation_phase: str | None = None
    iam: IamKeyStatus | None = None
    problems: list[Problem] = field(default_factory=list)
    source: str = "file"  # "file", or "api": read through Rundeck's API
    key_storage_present: bool | None = None  # None: Rundeck Key Storage was not checked
    # Kept out of every text form: the full id, for rotation and for comparing entries.
    access_key_id: str | None = field(default=None, repr=False)

    @property
    def method(self) -> Method | None:
        return self.methods[0] if len(self.methods) == 1 else None

    @property
    def label(self) -> str:
        return "system" if self.scope is Scope.SYSTEM else f"project {self.project}"

    def flag(self, code: str, message: str, severity: Severity = "warning") -> None:
        self.problems.append(Problem(code, message, severity))

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "scope": str(self.scope),
            "project": self.project,
            "properties_file": str(self.properties_file),
            "source": self.source,
            "key_storage_present": self.key_storage_present,
            "configured": self.configured,
            "method": str(self.method) if self.method else None,
            "methods": [str(method) for method in self.methods],
            "region": self.region,
            "access_key_id": self.access_key_id_masked,
            "key_path": self.key_path,
            "keyring_backend": self.keyring_backend,
            "keyring_security": self.keyring_security,
            "secret_present": self.secret_present,
            "role_detected": self.role_detected,
            "record_file": str(self.record_file) if self.record_file else None,
            "record_present": self.record_present,
            "drift": self.drift,
            "previous_access_key_id": self.previous_access_key_id_masked,
            "previous_key_inactive": self.previous_key_inactive,
            "rotated_at": _iso(self.rotated_at),
            "rotation_in_progress": self.rotation_phase,
            "iam": self.iam.to_json_dict() if self.iam else None,
            "problems": [problem.to_json_dict() for problem in self.problems],
        }


@dataclass
class InstallStatus:
    """Every AWS setup of one Rundeck install, as found at ``checked_at``."""

    install: RundeckInstall
    checked_at: datetime
    max_age_days: int
    entries: list[EntryStatus] = field(default_factory=list)
    rundeck: dict[str, object] | None = None  # the connection used, as JSON
    rundeck_problem: str | None = None

    @property
    def has_setup(self) -> bool:
        """True when something is configured or recorded: the wizard then opens on Status."""
        return any(entry.configured or entry.record_present for entry in self.entries)

    @property
    def problems(self) -> list[tuple[EntryStatus, Problem]]:
        return [(entry, problem) for entry in self.entries for problem in entry.problems]

    def entry(self, scope: Scope, project: str | None = None) -> EntryStatus | None:
        for entry in self.entries:
            if entry.scope is scope and (scope is Scope.SYSTEM or entry.project == project):
                return entry
        return None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "install": {
                "layout": self.install.layout,
                "base": str(self.install.base),
                "framework_properties": str(self.install.framework_properties),
                "projects_dir": str(self.install.projects_dir),
            },
            "checked_at": _iso(self.checked_at),
            "max_age_days": self.max_age_days,
            "has_setup": self.has_setup,
            "problem_count": len(self.problems),
            "entries": [entry.to_json_dict() for entry in self.entries],
            "rundeck": self.rundeck,
            "rundeck_problem": self.rundeck_problem,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class LazyKeyStore:
    """Opens the keystore once, on first need; a failure to open is remembered, not raised."""

    def __init__(self, factory: Callable[[], KeyStore]) -> None:
        self._factory = factory
        self._store: KeyStore | None = None
        self._problem: str | None = None
        self._opened = False

    def get(self) -> tuple[KeyStore | None, str | None]:
        if not self._opened:
            self._opened = True
            try:
                self._store = self._factory()
            except Exception as error:  # a broken keyring is a status, not a crash
                self._problem = (
                    str(error)
                    if isinstance(error, KeyStoreError)
                    else (f"the keyring could not be opened ({type(error).__name__})")
                )
        return self._store, self._problem


def collect_status(
    install: RundeckInstall,
    *,
    keystore_factory: Callable[[], KeyStore],
    clock: Clock,
    max_age_days: int = 90,
    ask_aws: bool = True,
    client_factory: ClientFactory | None = None,
    detection: Detection | None = None,
) -> InstallStatus:
    """Look at framework.properties and every project's properties; never raises for one file.

    ``client_factory`` makes the STS and IAM clients (default :func:`tui.core.aws.client`);
    IAM is asked only with the stored key itself, and only when ``ask_aws``.
    """
    factory = client_factory or aws.client
    status = InstallStatus(install=install, checked_at=clock(), max_age_days=max_age_days)
    keystores = LazyKeyStore(keystore_factory)
    targets: list[tuple[Scope, str | None, Path]] = [
        (Scope.SYSTEM, None, install.framework_properties)
    ]
    targets += [
        (Scope.PROJECT, project, install.project_properties(project))
        for project in install.list_projects()
    ]
    for scope, project, path in targets:
        entry = EntryStatus(scope=scope, project=project, properties_file=path)
        try:
            _inspect_entry(entry, keystores, factory, clock, max_age_days, ask_aws)
        except Exception as error:  # one broken file must not hide the others
            entry.flag(
                "error", f"{path}: could not be inspected ({type(error).__name__}).", "error"
            )
        if scope is Scope.SYSTEM or entry.configured or entry.record_present or entry.problems:
            status.entries.append(entry)
    _flag_conflicts(status)
    if detection is not None:
        add_detection(status, detection)
    return status


def add_detection(status: InstallStatus, detection: Detection) -> None:
    """Say for every role setup whether the role is still found where this runs."""
    for entry in status.entries:
        for method in entry.methods:
            if method is not Method.ACCESS_KEY:
                _inspect_role(entry, method, detection)


def uses_roles(status: InstallStatus) -> bool:
    """True when some setup relies on an EC2 or ECS role: only then is detection worth it."""
    return any(m is not Method.ACCESS_KEY for entry in status.entries for m in entry.methods)


def _inspect_entry(
    entry: EntryStatus,
    keystores: LazyKeyStore,
    factory: ClientFactory,
    clock: Clock,
    max_age_days: int,
    ask_aws: bool,
) -> None:
    path = entry.properties_file
    try:
        data = read_existing(path)
    except WriteError as error:
        entry.flag("error", str(error), "error")
        return
    settings = AwsSettings()
    if data is None:
        if entry.scope is Scope.SYSTEM:
            entry.flag("error", f"{path} does not exist.", "error")
    else:
        try:
            settings = read_aws_settings(PropertiesDocument.parse_bytes(data), entry.scope)
        except PropertiesError as error:
            entry.flag("error", f"{path}: {error}", "error")
    try:
        recovery = inspect_journal(path)
    except ToolError as error:
        entry.flag("interrupted-apply", str(error), "error")
    else:
        if recovery is not None:
            entry.flag(
                "interrupted-apply",
                f"{recovery.describe()} The next apply (or remove) of this scope does it; "
                "until then the settings and the keyring may not match.",
                "error",
            )
    record = read_entry_record(entry)
    entry.configured = settings.configured
    entry.methods = settings.methods
    entry.region = settings.region
    entry.access_key_id = settings.access_key
    entry.access_key_id_masked = mask_access_key_id(settings.access_key)
    entry.key_path = settings.secret_key_path
    if record is not None:
        _apply_record(entry, record, data)
        _flag_left_secret(entry, record, keystores)
    if len(entry.methods) > 1:
        entry.flag(
            "two-methods",
            f"{path} configures {' and '.join(m.title for m in entry.methods)} at once; "
            "Rundeck's choice between them is not obvious. Reconfigure to keep one.",
        )
    if settings.credential_provider and not any(
        m in (Method.EC2, Method.ECS) for m in entry.methods
    ):
        entry.flag(
            "unknown-provider",
            f"credentialProvider={settings.credential_provider} is not one Rundeck knows "
            "(instance or container).",
        )
    if Method.ACCESS_KEY in entry.methods:
        inspect_access_key(entry, settings, keystores, factory, clock, max_age_days, ask_aws)


def _flag_left_secret(entry: EntryStatus, record: SetupRecord, keystores: LazyKeyStore) -> None:
    """A secret that a move to a role left in the keyring, while it is still there."""
    left = record.extra.get(LEFT_SECRET)
    if not left or entry.method is Method.ACCESS_KEY:
        return
    keystore, _ = keystores.get()
    try:
        present = keystore is not None and keystore.exists(str(left))
    except KeyStoreError:
        return
    if present:
        where = "--system" if entry.scope is Scope.SYSTEM else f"--project {entry.project}"
        entry.flag(
            "leftover-secret",
            f"The previous access key's secret is still in the keyring at {left}; this setup "
            f"uses a role now. Delete it: pa-aws-setup apply {where} --method "
            f"{entry.method or 'ec2'} --remove-old-secret",
            "info",
        )


def read_entry_record(entry: EntryStatus) -> SetupRecord | None:
    entry.record_file = record_path(entry.properties_file)
    try:
        record = read_record(entry.record_file)
    except RecordError as error:
        entry.flag("record-unreadable", str(error))
        return None
    entry.record_present = record is not None
    return record


def _apply_record(entry: EntryStatus, record: SetupRecord, data: bytes | None) -> None:
    entry.previous_access_key_id_masked = mask_access_key_id(record.previous_access_key_id)
    entry.previous_key_inactive = record.previous_key_inactive
    entry.rotated_at = record.rotated_at
    entry.keyring_backend = record.keyring_backend
    # While a rotation is unfinished its marker explains a file the record does not match
    # (a kill between the switch's file write and its record write).
    hand_edited = data is None or fingerprint(data) != record.properties_sha256
    if record.rotation is None and record.properties_sha256 and hand_edited:
        entry.drift = True
        entry.flag(
            "drift",
            f"{entry.properties_file} was changed by hand since pa-aws-setup wrote it "
            f"({record_path(entry.properties_file).name} no longer matches); review it, "
            "then Reconfigure to record the current state.",
        )
    if record.rotation is not None:
        rotation = record.rotation
        entry.rotation_phase = rotation.phase
        entry.flag("rotation-interrupted", interrupted_rotation_text(entry, rotation), "error")


def interrupted_rotation_text(entry: EntryStatus, rotation: RotationState) -> str:
    """What an interrupted rotation left, by phase, and the one way out that rotate accepts."""
    where = "--system" if entry.scope is Scope.SYSTEM else f"--project {entry.project}"
    old = mask_access_key_id(rotation.old_access_key_id)
    new = mask_access_key_id(rotation.new_access_key_id)
    if rotation.phase == "creating":
        return (
            f"A key rotation was interrupted while IAM was creating a new key (old key {old}): "
            "IAM may hold a new key whose secret nobody has. Roll it back, which deletes such "
            f"a key: pa-aws-setup rotate {where} --resume rollback."
        )
    if rotation.phase == "created":
        return (
            f"A key rotation was interrupted after IAM created the new key {new} and before "
            f"its secret was stored (old key {old}): only a rollback is possible, which "
            f"deletes the new key: pa-aws-setup rotate {where} --resume rollback."
        )
    return (
        f"A key rotation was interrupted (phase {rotation.phase}, old key {old}, new key "
        f"{new}). Finish or roll it back: pa-aws-setup rotate {where} --resume "
        "finish|rollback (rotate says which of the two is safe)."
    )


def inspect_access_key(
    entry: EntryStatus,
    settings: AwsSettings,
    keystores: LazyKeyStore,
    factory: ClientFactory,
    clock: Clock,
    max_age_days: int,
    ask_aws: bool,
) -> None:
    if not settings.access_key or not settings.secret_key_path:
        entry.flag(
            "incomplete",
            "The access key method needs both access_key and secret_key_path; one is missing.",
            "error",
        )
    store, problem = keystores.get()
    if store is None:
        entry.flag("keyring-unavailable", problem or "No keyring could be opened.", "error")
        return
    info = store.info()
    entry.keyring_backend = info.name
    entry.keyring_security = info.security
    if not settings.secret_key_path:
        return
    try:
        secret = store.get(settings.secret_key_path)
    except KeyringLockedError as error:
        entry.flag("keyring-locked", str(error), "error")
        return
    except KeyStoreError as error:
        entry.flag("keyring-unavailable", str(error), "error")
        return
    entry.secret_present = secret is not None
    if secret is None:
        entry.flag(
            "secret-missing",
            f"No secret is stored at {settings.secret_key_path} in the keyring ({info.name}); "
            "Rundeck cannot authenticate. Reconfigure to store it again.",
            "error",
        )
        return
    if ask_aws and settings.access_key:
        entry.iam = _ask_iam(entry, settings.access_key, secret, settings.region, factory, clock)
        age = entry.iam.age_days
        if age is not None and age > max_age_days:
            entry.flag(
                "key-old",
                f"The access key is {age} days old (more than {max_age_days}); rotate it.",
            )


def _ask_iam(
    entry: EntryStatus,
    access_key_id: str,
    secret: Secret,
    region: str | None,
    factory: ClientFactory,
    clock: Clock,
) -> IamKeyStatus:
    found = IamKeyStatus()
    try:
        identity = identity_with(factory, access_key_id, secret, region)
    except AwsError as error:
        found.error = str(error)
        if error.code in REJECTED_KEY_CODES:
            entry.flag(
                "key-rejected",
                f"AWS rejects the stored key {entry.access_key_id_masked}: {error.code}. "
                "It was deleted or the stored secret is not its secret; rotate manually or "
                "Reconfigure.",
                "error",
            )
        return found
    found.user_arn, found.account, found.iam_user = (
        identity.arn,
        identity.account,
        identity.iam_user,
    )
    if found.iam_user is None:
        found.error = f"The key belongs to {identity.arn}, not an IAM user."
        return found
    try:
        iam = factory("iam", access_key_id=access_key_id, secret=secret, region=region)
        for key in iam.list_access_keys(UserName=found.iam_user).get("AccessKeyMetadata", []):
            if key.get("AccessKeyId") == access_key_id:
                found.key_status = key.get("Status")
                found.created_at = key.get("CreateDate")
        if found.created_at is not None:
            found.age_days = max(0, (clock() - found.created_at).days)
        used = iam.get_access_key_last_used(AccessKeyId=access_key_id).get("AccessKeyLastUsed", {})
        found.last_used_at = used.get("LastUsedDate")
        service = used.get("ServiceName")
        found.last_used_service = service if service and service != "N/A" else None
        region_used = used.get("Region")
        found.last_used_region = region_used if region_used and region_used != "N/A" else None
    except Exception as error:  # missing IAM permissions only limit the report
        found.error = str(aws.translate_error(error, "reading the key's details from IAM"))
    if found.key_status == "Inactive":
        entry.flag(
            "key-inactive",
            f"IAM marks the configured key {entry.access_key_id_masked} as Inactive; "
            "Rundeck cannot use it.",
            "error",
        )
    return found


def _inspect_role(entry: EntryStatus, method: Method, detection: Detection) -> None:
    if method is Method.EC2:
        detected = detection.ec2.detected and bool(detection.ec2.role_name)
        where = "no EC2 instance role was found (instance metadata)"
    else:
        detected = detection.ecs.detected and detection.ecs.has_task_credentials
        where = "no ECS task role was found (container credentials)"
    entry.role_detected = (
        detected if entry.role_detected is None else entry.role_detected and detected
    )
    if not detected:
        entry.flag(
            "role-not-detected",
            f"{entry.label} uses the {method.title}, but {where}; Rundeck will find no "
            "credentials here.",
            "error",
        )


def _flag_shared_key_paths(status: InstallStatus) -> None:
    """Two scopes whose settings keep different access keys' secrets at one key path: one of
    them reads the other's secret, and its AWS calls fail."""
    by_path: dict[str, list[EntryStatus]] = {}
    for entry in status.entries:
        if entry.key_path and entry.access_key_id:
            by_path.setdefault(entry.key_path, []).append(entry)
    for path, entries in by_path.items():
        if len({entry.access_key_id for entry in entries}) < 2:
            continue
        for entry in entries:
            others = ", ".join(other.label for other in entries if other is not entry)
            entry.flag(
                "shared-key-path",
                f"{others} keeps another access key's secret at the same path {path}: only one "
                "of them can hold the right secret. Give each its own key-storage path.",
                "error",
            )


def _flag_conflicts(status: InstallStatus) -> None:
    _flag_shared_key_paths(status)
    system = status.entry(Scope.SYSTEM)
    if system is None or not system.configured:
        return
    for entry in status.entries:
        if entry.scope is not Scope.PROJECT or not entry.configured:
            continue
        if system.method and entry.method and system.method is not entry.method:
            entry.flag(
                "conflict",
                f"framework.properties configures {system.method.title} for the whole server; "
                f"project {entry.project} overrides it with {entry.method.title}.",
            )
        if system.region and entry.region and system.region != entry.region:
            entry.flag(
                "conflict",
                f"framework.properties sets region {system.region}; project {entry.project} "
                f"sets {entry.region}.",
                "info",
            )


__all__ = [
    "EntryStatus",
    "IamKeyStatus",
    "InstallStatus",
    "Problem",
    "add_detection",
    "collect_status",
    "uses_roles",
]

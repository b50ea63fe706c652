"""Access key rotation as a transaction that never leaves Rundeck without a working key.

The record holds an in-progress marker (key ids only) from before CreateAccessKey until the
end, and from the switch on the keyring also keeps the previous secret beside the current one
(at ``<key path>.rotation-previous``), so a run killed at any point can be finished or rolled
back without any secret that lived only in the dead process's memory.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

from tui.core import aws
from tui.core.aws import AwsError, CallerIdentity
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.model import Method, Scope
from tui.core.properties import PropertiesDocument, PropertiesError
from tui.core.record import (
    PASSWORD_CONTENT_TYPE,
    PASSWORD_KEY_TYPE,
    RecordError,
    RotationState,
    SetupRecord,
    dumps,
    fingerprint,
    read_record,
    record_path,
)
from tui.core.rundeck import RundeckError, RundeckInstall, read_aws_settings, setting_key
from tui.core.secret import Secret
from tui.core.status import REJECTED_KEY_CODES, ClientFactory, identity_of, mask_access_key_id
from tui.core.validate import ValidationError, validate_access_key_id
from tui.core.writer import WriteError, atomic_write, install_lock, read_existing
from tui.core.writer import restore as restore_file

T = TypeVar("T")
Clock = Callable[[], datetime]
StepStatus = Literal["running", "done", "skipped", "failed", "rolled back", "warning"]
Outcome = Literal["rotated", "partial", "rolled_back", "refused", "failed"]
ErrorKind = Literal["usage", "config", "keyring", "aws"]
ResumeAction = Literal["finish", "rollback"]

PHASE_CREATING = "creating"  # CreateAccessKey may have run; the new key's id is not recorded
PHASE_CREATED = "created"  # the new key exists; its secret lives only in the running process
PHASE_SWITCHED = "switched"  # keyring and file hold the new key; the old one is not retired
PHASE_MANUAL = "manual"  # a pasted key is being switched in; it is never deleted by us
PHASE_MANUAL_SWITCHED = "manual-switched"
MANUAL_PHASES = frozenset({PHASE_MANUAL, PHASE_MANUAL_SWITCHED})

PREVIOUS_SUFFIX = ".rotation-previous"
DEFAULT_WAIT_SECONDS = 30.0
FIRST_DELAY = 0.5
MAX_DELAY = 8.0
# A key created this long before the marker's start (clock skew) still counts as ours.
ORPHAN_SKEW = timedelta(minutes=10)


class RotationError(Exception):
    """A rotation that cannot start or go on; ``kind`` picks the exit code of the CLI."""

    def __init__(self, message: str, kind: ErrorKind) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class RotationStep:
    """One step of a rotation as it happens, for live display."""

    name: str
    status: StepStatus
    detail: str = ""

    def to_json_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class SpareKey:
    """The IAM user's other access key, which blocks CreateAccessKey (two keys at most)."""

    access_key_id: str
    status: str
    created_at: datetime | None
    ours: bool


StepCallback = Callable[[RotationStep], None]
ConfirmDelete = Callable[[SpareKey], bool]


@dataclass(frozen=True)
class RotationTarget:
    """The access key setup of one properties file, as read before rotating it."""

    install: RundeckInstall
    scope: Scope
    project: str | None
    properties_file: Path
    data: bytes
    access_key_id: str
    key_path: str
    region: str | None
    record: SetupRecord | None

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
        data = read_existing(path)
    except (RundeckError, WriteError) as error:
        raise RotationError(str(error), "config") from None
    if data is None:
        raise RotationError(f"{path} does not exist.", "config")
    try:
        settings = read_aws_settings(PropertiesDocument.parse_bytes(data), scope)
    except PropertiesError as error:
        raise RotationError(f"{path}: {error}", "config") from None
    try:
        record = read_record(record_path(path))
    except RecordError as error:
        raise RotationError(str(error), "config") from None
    if not settings.access_key or not settings.secret_key_path:
        method = settings.method.title if settings.method else "no AWS access key"
        raise RotationError(
            f"{path} is not set up with an access key ({method}); there is no key to rotate.",
            "usage",
        )
    return RotationTarget(
        install=install,
        scope=scope,
        project=project if scope is Scope.PROJECT else None,
        properties_file=path,
        data=data,
        access_key_id=settings.access_key,
        key_path=settings.secret_key_path,
        region=settings.region,
        record=record,
    )


@dataclass
class FinalState:
    """Plain words for where IAM, the keyring and the files ended up."""

    iam: str = ""
    keyring: str = ""
    files: str = ""

    def to_json_dict(self) -> dict[str, str]:
        return {"iam": self.iam, "keyring": self.keyring, "files": self.files}


@dataclass
class RotationResult:
    """How a rotation (or its resumption) ended, and what to do next when it is not done."""

    outcome: Outcome
    properties_file: Path
    old_access_key_id: str
    new_access_key_id: str | None = None
    iam_user: str | None = None
    steps: list[RotationStep] = field(default_factory=list)
    error: str | None = None
    error_kind: ErrorKind | None = None
    warnings: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    state: FinalState = field(default_factory=FinalState)
    backup: Path | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "rotated"

    @property
    def configured_key(self) -> str | None:
        """The access key id the file and keyring use now, when known."""
        if self.outcome in ("rotated", "partial"):
            return self.new_access_key_id
        if self.outcome in ("rolled_back", "refused"):
            return self.old_access_key_id
        return None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "ok": self.ok,
            "properties_file": str(self.properties_file),
            "old_access_key_id": self.old_access_key_id,
            "new_access_key_id": self.new_access_key_id,
            "iam_user": self.iam_user,
            "error": self.error,
            "error_kind": self.error_kind,
            "warnings": list(self.warnings),
            "next_steps": list(self.next_steps),
            "state": self.state.to_json_dict(),
            "backup": str(self.backup) if self.backup else None,
            "steps": [step.to_json_dict() for step in self.steps],
        }


@dataclass(frozen=True)
class InterruptedRotation:
    """What an interrupted rotation left behind, and which ways out are safe."""

    phase: str
    old_access_key_id: str
    new_access_key_id: str | None
    started_at: datetime | None
    configured_key: str | None
    previous_secret_stored: bool
    actions: tuple[ResumeAction, ...]
    explanation: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "old_access_key_id": self.old_access_key_id,
            "new_access_key_id": self.new_access_key_id,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "configured_key": self.configured_key,
            "previous_secret_stored": self.previous_secret_stored,
            "actions": list(self.actions),
            "explanation": self.explanation,
        }


class _Stop(Exception):
    """Internal: ends a run; the result already says how."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.astimezone()


class _Run:
    """One rotation, resumption or manual switch of one target, under the install lock."""

    def __init__(
        self,
        target: RotationTarget,
        *,
        keystore: KeyStore,
        clock: Clock,
        client_factory: ClientFactory | None,
        on_step: StepCallback | None,
        wait_seconds: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        allow_insecure: bool,
    ) -> None:
        self.target = target
        self.keystore = keystore
        self.clock = clock
        self.factory = client_factory or aws.client
        self.on_step = on_step
        self.wait_seconds = wait_seconds
        self.sleep = sleep
        self.monotonic = monotonic
        self.allow_insecure = allow_insecure
        self.result = RotationResult("failed", target.properties_file, target.access_key_id)
        self.record: SetupRecord = target.record or self._fresh_record()
        self.iam_user: str | None = None
        self.changed = False
        self.removed_spare: str | None = None
        self.clients: dict[tuple[str, str, Secret], Any] = {}

    # --- reporting -----------------------------------------------------------------------

    def step(self, name: str, status: StepStatus, detail: str = "") -> None:
        update = RotationStep(name, status, detail)
        self.result.steps.append(update)
        if self.on_step is not None:
            # A broken display must not break the transaction half-way.
            with contextlib.suppress(Exception):
                self.on_step(update)

    def stop(self, outcome: Outcome, kind: ErrorKind | None, message: str | None) -> _Stop:
        self.result.outcome = outcome
        self.result.error_kind = kind
        self.result.error = message
        return _Stop()

    def refuse(self, message: str, kind: ErrorKind) -> _Stop:
        self.step("check", "failed", message)
        iam = "unchanged"
        if self.removed_spare:
            iam = f"the inactive key {self.removed_spare} was deleted; otherwise unchanged"
        self.result.state = FinalState(
            iam=iam,
            keyring=f"unchanged: {self.target.key_path} holds the secret of "
            f"{self.target.access_key_id}",
            files=f"unchanged: {self.target.properties_file}",
        )
        return self.stop("refused", kind, message)

    # --- files ---------------------------------------------------------------------------

    def _fresh_record(self) -> SetupRecord:
        """A record for a setup made by hand, so the rotation has somewhere to put its marker."""
        target = self.target
        now = self.clock()
        return SetupRecord(
            method=Method.ACCESS_KEY,
            scope=target.scope,
            properties_file=str(target.properties_file),
            project=target.project,
            region=target.region,
            access_key_id=target.access_key_id,
            key_path=target.key_path,
            key_type=PASSWORD_KEY_TYPE,
            content_type=PASSWORD_CONTENT_TYPE,
            keyring_backend=self.keystore.info().name,
            created_at=now,
            updated_at=now,
            properties_sha256=fingerprint(self.target.data),
        )

    def save_record(self, record: SetupRecord) -> None:
        atomic_write(self.target.record_file, dumps(record).encode("utf-8"), backup=False)
        self.record = record
        self.changed = True

    def read_file(self) -> tuple[bytes, PropertiesDocument]:
        try:
            data = read_existing(self.target.properties_file)
            if data is None:
                raise WriteError(f"{self.target.properties_file} no longer exists.")
            return data, PropertiesDocument.parse_bytes(data)
        except (WriteError, PropertiesError) as error:
            raise RotationError(str(error), "config") from None

    def file_key(self) -> str | None:
        return self.read_file()[1].get(self.target.access_key_setting)

    def write_file_key(self, access_key_id: str) -> tuple[bytes, Path | None]:
        _, document = self.read_file()
        document.set(self.target.access_key_setting, access_key_id)
        after = document.to_bytes()
        backup = atomic_write(self.target.properties_file, after, now=self.clock())
        return after, backup

    # --- AWS -----------------------------------------------------------------------------

    def client(self, service: str, access_key_id: str, secret: Secret) -> Any:
        """One client per service and credentials for the whole run (making one costs ~0.1 s)."""
        cached = (service, access_key_id, secret)
        if cached not in self.clients:
            self.clients[cached] = self.factory(
                service, access_key_id=access_key_id, secret=secret, region=self.target.region
            )
        return self.clients[cached]

    def call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except AwsError:
            raise
        except Exception as error:  # every botocore failure becomes one AwsError
            raise aws.translate_error(error, what) from None

    def patiently(self, what: str, action: Callable[[], T]) -> T:
        """Retry ``action`` while IAM has not yet spread a new key (bounded exponential backoff)."""
        deadline = self.monotonic() + self.wait_seconds
        delay = FIRST_DELAY
        while True:
            try:
                return self.call(what, action)
            except AwsError as error:
                remaining = deadline - self.monotonic()
                if not (error.offline or error.code in REJECTED_KEY_CODES) or remaining <= 0:
                    raise
                self.sleep(min(delay, remaining))
                delay = min(delay * 2, MAX_DELAY)

    def identify(self, access_key_id: str, secret: Secret, *, patient: bool) -> CallerIdentity:
        def ask() -> CallerIdentity:
            return identity_of(self.client("sts", access_key_id, secret).get_caller_identity())

        if patient:
            return self.patiently("GetCallerIdentity", ask)
        return self.call("GetCallerIdentity", ask)

    def list_keys(self, iam: Any, *, patient: bool = False) -> list[dict[str, Any]]:
        def ask() -> list[dict[str, Any]]:
            answer = iam.list_access_keys(UserName=self.iam_user)
            return list(answer.get("AccessKeyMetadata", []))

        return (
            self.patiently("ListAccessKeys", ask) if patient else self.call("ListAccessKeys", ask)
        )

    def delete_key(self, iam: Any, access_key_id: str, *, patient: bool = False) -> None:
        def ask() -> None:
            iam.delete_access_key(UserName=self.iam_user, AccessKeyId=access_key_id)

        if patient:
            self.patiently("DeleteAccessKey", ask)
        else:
            self.call("DeleteAccessKey", ask)

    def set_key_status(self, iam: Any, access_key_id: str, status: str) -> None:
        self.patiently(
            "UpdateAccessKey",
            lambda: iam.update_access_key(
                UserName=self.iam_user, AccessKeyId=access_key_id, Status=status
            ),
        )

    # --- keyring -------------------------------------------------------------------------

    def keyring_get(self, path: str) -> Secret | None:
        try:
            return self.keystore.get(path)
        except KeyStoreError as error:
            raise RotationError(str(error), "keyring") from None

    def forget_previous(self) -> None:
        try:
            self.keystore.delete(self.target.previous_path)
        except KeyStoreError as error:
            self.result.warnings.append(
                f"The previous secret is still in the keyring at {self.target.previous_path} "
                f"and could not be removed: {error}"
            )

    # --- the switch ----------------------------------------------------------------------

    def switch(
        self,
        *,
        from_id: str,
        from_secret: Secret | None,
        to_id: str,
        to_secret: Secret,
        record_after: SetupRecord,
        keep_previous: bool,
    ) -> str:
        """Point keyring, file and record at ``to_id``; on failure, align them on one key.

        Returns the key id that keyring and file both use afterwards; raises RotationError
        (with that alignment done) when the switch did not complete.
        """
        target = self.target
        self.step("switch", "running", f"switching {target.label} to {to_id}")
        keyring_on, file_on = from_id, from_id
        try:
            before, document = self.read_file()
        except RotationError as error:
            raise RotationError(str(error), error.kind) from _Aligned(from_id)
        if document.get(target.access_key_setting) != from_id:
            raise RotationError(
                f"{target.properties_file} no longer uses {from_id}; someone changed it during "
                "the rotation.",
                "config",
            ) from _Aligned(from_id)
        try:
            if keep_previous and from_secret is not None:
                self.keystore.put(target.previous_path, from_secret, allow_insecure=True)
            self.keystore.put(target.key_path, to_secret, allow_insecure=self.allow_insecure)
            keyring_on = to_id
            self.step("keyring", "done", f"stored the secret of {to_id} at {target.key_path}")
            document.set(target.access_key_setting, to_id)
            after = document.to_bytes()
            backup = atomic_write(target.properties_file, after, now=self.clock())
            file_on = to_id
            self.result.backup = backup
            self.step(
                "properties",
                "done",
                f"{target.access_key_setting}={to_id} in {target.properties_file}",
            )
            self.save_record(record_after.updated(properties_sha256=fingerprint(after)))
            self.step("record", "done", f"recorded the switch in {target.record_file}")
        except (KeyStoreError, WriteError, PropertiesError) as error:
            kind: ErrorKind = "keyring" if isinstance(error, KeyStoreError) else "config"
            self.step("switch", "failed", str(error))
            on = self.realign(from_id, from_secret, to_id, to_secret, keyring_on, file_on, before)
            raise RotationError(str(error), kind) from _Aligned(on)
        self.step("switch", "done", f"{target.label} now uses {to_id}")
        return to_id

    def realign(
        self,
        from_id: str,
        from_secret: Secret | None,
        to_id: str,
        to_secret: Secret,
        keyring_on: str,
        file_on: str,
        before: bytes,
    ) -> str | None:
        """Put keyring and file back on ``from_id``; where one cannot go back, bring the other
        forward instead. Returns the key both use, or None when they could not be aligned.

        Without ``from_secret`` (it was missing before) there is nothing to go back to.
        """
        target = self.target
        if keyring_on == to_id and from_secret is not None:
            try:
                self.keystore.put(target.key_path, from_secret, allow_insecure=True)
                keyring_on = from_id
                self.step("keyring", "rolled back", f"{target.key_path} holds {from_id} again")
            except KeyStoreError as error:
                self.step("keyring", "failed", f"could not put the old secret back: {error}")
        if file_on == to_id and from_secret is not None:
            try:
                restore_file(target.properties_file, before)
                file_on = from_id
                self.step("properties", "rolled back", f"{target.properties_file} restored")
                if self.result.backup is not None:
                    with contextlib.suppress(OSError):
                        self.result.backup.unlink()
                    self.result.backup = None
            except WriteError as error:
                self.step("properties", "failed", f"could not restore the file: {error}")
        if keyring_on != file_on and keyring_on == to_id:
            with contextlib.suppress(WriteError, RotationError, PropertiesError):
                self.write_file_key(to_id)
                file_on = to_id
                self.step("properties", "done", f"kept {to_id}: the keyring holds its secret")
        elif keyring_on != file_on and file_on == to_id:
            with contextlib.suppress(KeyStoreError):
                self.keystore.put(target.key_path, to_secret, allow_insecure=True)
                keyring_on = to_id
                self.step("keyring", "done", f"kept {to_id}: the file names it")
        return keyring_on if keyring_on == file_on else None

    # --- endings -------------------------------------------------------------------------

    def finalize_record(self, **changes: Any) -> bool:
        """Clear the rotation marker; False (with a warning) when the record cannot be written."""
        now = self.clock()
        try:
            data, _ = self.read_file()
            self.save_record(
                self.record.updated(
                    rotation=None, updated_at=now, properties_sha256=fingerprint(data), **changes
                )
            )
        except (WriteError, RotationError) as error:
            self.result.warnings.append(
                f"The rotation marker could not be cleared from {self.target.record_file}: "
                f"{error} Run pa-aws-setup rotate --resume finish later."
            )
            return False
        return True


class _Aligned(Exception):
    """Internal: carried as a RotationError's cause, saying which key a failed switch left."""

    def __init__(self, key: str | None) -> None:
        super().__init__(key or "")
        self.key = key


def _aligned_on(error: RotationError) -> str | None:
    cause = error.__cause__
    return cause.key if isinstance(cause, _Aligned) else None


@contextlib.contextmanager
def _locked(target: RotationTarget) -> Iterator[None]:
    try:
        with install_lock(target.properties_file.parent):
            yield
    except WriteError as error:
        raise RotationError(str(error), "config") from None


def _commands(user: str | None, old_id: str) -> list[str]:
    who = f"--user-name {user} " if user else ""
    return [
        f"aws iam update-access-key {who}--access-key-id {old_id} --status Inactive",
        f"aws iam delete-access-key {who}--access-key-id {old_id}",
    ]


# === automatic rotation ====================================================================


def _switched_record(
    record: SetupRecord,
    old_id: str,
    new_id: str,
    iam_user: str | None,
    now: datetime,
    rotation: RotationState,
) -> SetupRecord:
    """The record once Rundeck uses ``new_id``: the old key kept as the previous one."""
    return record.updated(
        access_key_id=new_id,
        previous_access_key_id=old_id,
        previous_key_inactive=False,
        rotated_at=now,
        updated_at=now,
        iam_user=iam_user,
        rotation=rotation,
    )


def rotate_key(
    target: RotationTarget,
    *,
    keystore: KeyStore,
    clock: Clock,
    client_factory: ClientFactory | None = None,
    delete_old: bool = False,
    confirm_delete_inactive: ConfirmDelete | None = None,
    on_step: StepCallback | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    allow_insecure: bool = False,
) -> RotationResult:
    """Create a new key, switch Rundeck to it, retire the old one; never leave no working key.

    ``confirm_delete_inactive`` is asked before deleting a spare inactive key that is not
    ours; without it such a key is left alone and the rotation stops. Active spares are
    never deleted.
    """
    run = _Run(
        target,
        keystore=keystore,
        clock=clock,
        client_factory=client_factory,
        on_step=on_step,
        wait_seconds=wait_seconds,
        sleep=sleep,
        monotonic=monotonic,
        allow_insecure=allow_insecure,
    )
    try:
        with _locked(target):
            _rotate(run, delete_old, confirm_delete_inactive)
    except _Stop:
        pass
    except RotationError as error:
        _unexpected(run, error)
    return run.result


def _unexpected(run: _Run, error: RotationError) -> None:
    """A failure outside the planned ones: refused if nothing changed yet, else failed."""
    if not run.changed:
        run.refuse(str(error), error.kind)
        return
    run.step("error", "failed", str(error))
    run.result.next_steps.append("pa-aws-setup status, then pa-aws-setup rotate --resume")
    run.stop("failed", error.kind, str(error))


def _rotate(run: _Run, delete_old: bool, confirm: ConfirmDelete | None) -> None:
    target, result = run.target, run.result
    old_id = target.access_key_id
    data, _ = run.read_file()
    if data != target.data:
        raise run.refuse(
            f"{target.properties_file} changed since it was read; look at it again and retry.",
            "config",
        )
    if run.record.rotation is not None:
        raise run.refuse(
            "An earlier rotation was interrupted; finish or roll it back first "
            "(pa-aws-setup rotate --resume finish|rollback).",
            "usage",
        )
    run.step("identify", "running", f"asking AWS STS who owns {old_id}")
    old_secret = run.keyring_get(target.key_path)
    if old_secret is None:
        raise run.refuse(
            f"No secret is stored at {target.key_path}, so the current key cannot be used to "
            "create its successor. Rotate manually with a key created in the AWS console.",
            "keyring",
        )
    try:
        identity = run.identify(old_id, old_secret, patient=False)
    except AwsError as error:
        raise run.refuse(f"The current key does not work: {error}", "aws") from None
    if identity.iam_user is None:
        raise run.refuse(
            f"The current key belongs to {identity.arn}, not to an IAM user; only IAM user "
            "keys can be rotated.",
            "usage",
        )
    run.iam_user = result.iam_user = identity.iam_user
    run.step("identify", "done", f"IAM user {identity.iam_user} ({identity.arn})")
    old_iam = run.client("iam", old_id, old_secret)
    _make_room(run, old_iam, old_id, confirm)
    new_id, new_secret = _create(run, old_iam, old_id)
    try:
        run.step("wait", "running", f"waiting until AWS accepts {new_id}")
        new_identity = run.identify(new_id, new_secret, patient=True)
        if new_identity.arn != identity.arn:
            raise AwsError(f"The new key authenticates as {new_identity.arn}, not {identity.arn}.")
        run.step("wait", "done", f"{new_id} authenticates")
    except AwsError as error:
        run.step("wait", "failed", str(error))
        _discard_new_key(run, old_iam, new_id, f"The new key never worked: {error}", "aws")
    now = run.clock()
    started = run.record.rotation.started_at if run.record.rotation else now
    record_after = _switched_record(
        run.record,
        old_id,
        new_id,
        identity.iam_user,
        now,
        RotationState(PHASE_SWITCHED, old_id, new_id, started),
    ).updated(key_path=target.key_path)
    record_before_switch = run.record
    try:
        run.switch(
            from_id=old_id,
            from_secret=old_secret,
            to_id=new_id,
            to_secret=new_secret,
            record_after=record_after,
            keep_previous=True,
        )
    except RotationError as error:
        aligned = _aligned_on(error)
        if aligned == old_id:
            run.forget_previous()
            with contextlib.suppress(WriteError):
                run.save_record(record_before_switch)
            _discard_new_key(run, old_iam, new_id, f"The switch failed: {error}", error.kind)
        if aligned == new_id:
            result.new_access_key_id = new_id
            result.warnings.append(f"The switch failed half-way ({error}); kept the new key.")
            _retire_old(run, new_id, new_secret, old_id, delete_old)
            return
        result.new_access_key_id = new_id
        result.next_steps.append(
            f"Fix the keyring or {target.properties_file}, then run pa-aws-setup rotate "
            "--resume: it finds which key the stored secret belongs to."
        )
        result.state = FinalState(
            iam=f"{old_id} and {new_id} both active",
            keyring=f"{target.key_path} may hold either key's secret; the previous secret is "
            f"kept at {target.previous_path}",
            files=f"{target.properties_file} may name the other key; the record keeps the "
            "rotation marker",
        )
        raise run.stop("failed", error.kind, str(error)) from None
    result.new_access_key_id = new_id
    _retire_old(run, new_id, new_secret, old_id, delete_old)


def _make_room(run: _Run, old_iam: Any, old_id: str, confirm: ConfirmDelete | None) -> None:
    """Step 2: the two-key limit. Deletes only an inactive spare: ours, or with consent."""
    run.step("key-limit", "running", f"listing the access keys of {run.iam_user}")
    try:
        keys = run.list_keys(old_iam)
    except AwsError as error:
        raise run.refuse(
            f"Cannot list the keys of {run.iam_user} with the current key: {error}", "aws"
        ) from None
    if not any(key.get("AccessKeyId") == old_id for key in keys):
        raise run.refuse(f"IAM does not list {old_id} among the keys of {run.iam_user}.", "aws")
    spares = [key for key in keys if key.get("AccessKeyId") != old_id]
    if not spares:
        run.step("key-limit", "done", f"{run.iam_user} has one key: room for a second")
        return
    record = run.record
    for key in spares:
        spare = SpareKey(
            access_key_id=str(key.get("AccessKeyId")),
            status=str(key.get("Status")),
            created_at=key.get("CreateDate"),
            ours=record.previous_key_inactive
            and record.previous_access_key_id == key.get("AccessKeyId"),
        )
        if spare.status != "Inactive":
            raise run.refuse(
                f"IAM user {run.iam_user} already has two access keys, and the other one, "
                f"{spare.access_key_id}, is active: it may be in use somewhere else. "
                "pa-aws-setup never deletes an active key. If nothing uses it, deactivate or "
                f"delete it (aws iam delete-access-key --user-name {run.iam_user} "
                f"--access-key-id {spare.access_key_id}), then rotate again.",
                "aws",
            )
        if not spare.ours and (confirm is None or not confirm(spare)):
            raise run.refuse(
                f"IAM user {run.iam_user} already has two access keys; the other one, "
                f"{spare.access_key_id}, is inactive but was not left by pa-aws-setup. "
                "Allow deleting it to make room, or delete it yourself, then rotate again.",
                "usage",
            )
        try:
            run.delete_key(old_iam, spare.access_key_id)
        except AwsError as error:
            raise run.refuse(
                f"Could not delete the inactive key {spare.access_key_id}: {error}", "aws"
            ) from None
        run.removed_spare = spare.access_key_id
        why = "left inactive by the previous rotation" if spare.ours else "with consent"
        run.step("key-limit", "done", f"deleted the inactive key {spare.access_key_id} ({why})")
        if record.previous_access_key_id == spare.access_key_id:
            with contextlib.suppress(WriteError):
                run.save_record(
                    run.record.updated(previous_access_key_id=None, previous_key_inactive=False)
                )


def _create(run: _Run, old_iam: Any, old_id: str) -> tuple[str, Secret]:
    """Step 3: CreateAccessKey between two marker writes, so no new key goes unrecorded."""
    target = run.target
    started = run.clock()
    try:
        run.save_record(
            run.record.updated(rotation=RotationState(PHASE_CREATING, old_id, None, started))
        )
    except WriteError as error:
        raise run.refuse(f"Cannot record the rotation: {error}", "config") from None
    run.step("create", "running", f"creating a new access key for {run.iam_user}")
    try:
        answer = run.call(
            "CreateAccessKey", lambda: old_iam.create_access_key(UserName=run.iam_user)
        )
    except AwsError as error:
        _clear_marker_or_warn(run)
        raise run.refuse(f"AWS did not create a new key: {error}", "aws") from None
    created = answer.get("AccessKey", {})
    new_id = str(created.get("AccessKeyId", ""))
    new_secret = Secret(str(created.get("SecretAccessKey", "")))
    del answer, created
    try:
        run.save_record(
            run.record.updated(rotation=RotationState(PHASE_CREATED, old_id, new_id, started))
        )
    except WriteError as error:
        run.step("create", "failed", f"cannot record the new key: {error}")
        _discard_new_key(run, old_iam, new_id, f"Cannot record the new key: {error}", "config")
    run.result.new_access_key_id = new_id
    run.step("create", "done", f"created {new_id}; recorded in {target.record_file.name}")
    return new_id, new_secret


def _clear_marker_or_warn(run: _Run) -> None:
    try:
        run.save_record(run.record.updated(rotation=None))
    except WriteError as error:
        run.result.warnings.append(f"The rotation marker could not be cleared: {error}")


def _discard_new_key(
    run: _Run, old_iam: Any, new_id: str, reason: str, kind: ErrorKind
) -> NoReturn:
    """Roll back before the switch: delete the new key with the old credentials; raises _Stop."""
    target, result = run.target, run.result
    try:
        run.delete_key(old_iam, new_id)
    except AwsError as error:
        run.step("delete-new", "failed", str(error))
        result.new_access_key_id = new_id
        result.next_steps.append(
            f"aws iam delete-access-key --user-name {run.iam_user} --access-key-id {new_id}  "
            "(or pa-aws-setup rotate --resume rollback)"
        )
        result.state = FinalState(
            iam=f"{target.access_key_id} active and configured; {new_id} still exists and must "
            "be deleted (its secret was never stored)",
            keyring=f"{target.key_path} holds the secret of {target.access_key_id}",
            files=f"{target.properties_file} uses {target.access_key_id}; the record keeps the "
            "rotation marker naming the key to delete",
        )
        raise run.stop(
            "failed", kind, f"{reason} Deleting the new key failed too: {error}"
        ) from None
    run.step("delete-new", "rolled back", f"deleted the new key {new_id}")
    _clear_marker_or_warn(run)
    result.new_access_key_id = None
    result.state = FinalState(
        iam=f"{target.access_key_id} active and configured; the new key was deleted",
        keyring=f"{target.key_path} holds the secret of {target.access_key_id}",
        files=f"{target.properties_file} uses {target.access_key_id}",
    )
    raise run.stop("rolled_back", kind, reason)


def _retire_old(run: _Run, new_id: str, new_secret: Secret, old_id: str, delete_old: bool) -> None:
    """Steps 6 and 7 with the new key's credentials; a failure here is success with a warning."""
    target, result = run.target, run.result
    new_iam = run.client("iam", new_id, new_secret)
    configured = FinalState(
        keyring=f"{target.key_path} holds the secret of {new_id}",
        files=f"{target.properties_file} uses {new_id}",
    )
    run.step("deactivate", "running", f"deactivating {old_id}")
    try:
        run.set_key_status(new_iam, old_id, "Inactive")
    except AwsError as error:
        run.step("deactivate", "failed", str(error))
        result.warnings.append(
            f"The new key {new_id} is configured and works, but the old key {old_id} is still "
            f"active: {error}"
        )
        result.next_steps.extend(
            [
                *_commands(run.iam_user, old_id)[: 2 if delete_old else 1],
                "or: pa-aws-setup rotate --resume finish",
            ]
        )
        configured.iam = f"{new_id} active and configured; {old_id} still active"
        configured.keyring += f"; the previous secret is kept at {target.previous_path}"
        configured.files += "; the record keeps the rotation marker until it is finished"
        result.state = configured
        raise run.stop("partial", "aws", str(error)) from None
    run.step("deactivate", "done", f"{old_id} is inactive")
    deleted = False
    if delete_old:
        try:
            run.delete_key(new_iam, old_id, patient=True)
            deleted = True
            run.step("delete-old", "done", f"deleted {old_id}")
        except AwsError as error:
            run.step("delete-old", "failed", str(error))
            result.warnings.append(
                f"The old key {old_id} is inactive but could not be deleted: {error} "
                "The next rotation deletes it first."
            )
            result.next_steps.append(_commands(run.iam_user, old_id)[1])
    else:
        run.step("keep-old", "done", f"kept {old_id}, inactive; the next rotation deletes it")
    changes: dict[str, Any] = {}
    if run.record.access_key_id != new_id:
        # The switch ended on the new key without its record update (see Run.realign).
        changes.update(access_key_id=new_id, rotated_at=run.clock(), iam_user=run.iam_user)
    finished = run.finalize_record(
        previous_access_key_id=old_id, previous_key_inactive=not deleted, **changes
    )
    if finished:
        run.forget_previous()
    run.step("finish", "done" if finished else "warning", "rotation complete")
    configured.iam = f"{new_id} active and configured; {old_id} " + (
        "deleted" if deleted else "inactive"
    )
    result.state = configured
    partial = (delete_old and not deleted) or not finished or bool(result.warnings)
    run.stop(
        "partial" if partial else "rotated",
        "aws" if delete_old and not deleted else None,
        result.warnings[0] if partial and result.warnings else None,
    )


# === resuming an interrupted rotation ======================================================


def _observe(run: _Run, *, repair: bool) -> tuple[str, Secret, CallerIdentity] | None:
    """Which key the stored secret belongs to; with ``repair``, make the file name that key.

    Tries the keyring's secret with the file's key id, then with the other key of the
    rotation; failing both, the previous secret kept beside it. Needs no secret from memory.
    """
    rotation = run.record.rotation
    assert rotation is not None
    target = run.target
    file_id = run.file_key()
    stored = run.keyring_get(target.key_path)
    candidates = [
        key_id
        for key_id in dict.fromkeys(
            [file_id, rotation.old_access_key_id, rotation.new_access_key_id]
        )
        if key_id
    ]
    attempts: list[tuple[str, Secret]] = [(key_id, stored) for key_id in candidates if stored]
    previous = run.keyring_get(target.previous_path)
    if previous is not None:
        attempts.append((rotation.old_access_key_id, previous))
    for key_id, secret in attempts:
        # Only a freshly created key may still be spreading through IAM.
        patient = key_id == rotation.new_access_key_id and key_id == file_id
        try:
            identity = run.identify(key_id, secret, patient=patient)
        except AwsError as error:
            if error.offline:
                raise RotationError(str(error), "aws") from None
            continue
        if repair and secret is not stored:
            try:
                run.keystore.put(target.key_path, secret, allow_insecure=True)
            except KeyStoreError as error:
                raise RotationError(str(error), "keyring") from None
            run.step("keyring", "done", f"put the secret of {key_id} back at {target.key_path}")
        if repair and key_id != file_id:
            try:
                run.write_file_key(key_id)
            except WriteError as error:
                raise RotationError(str(error), "config") from None
            run.step("properties", "done", f"{target.properties_file} now names {key_id}")
        return key_id, secret, identity
    return None


def inspect_interrupted(
    target: RotationTarget,
    *,
    keystore: KeyStore,
    client_factory: ClientFactory | None = None,
    clock: Clock = lambda: datetime.now().astimezone(),
) -> InterruptedRotation | None:
    """What an interrupted rotation left, and the safe ways out; changes nothing."""
    rotation = target.interrupted
    if rotation is None:
        return None
    run = _Run(
        target,
        keystore=keystore,
        clock=clock,
        client_factory=client_factory,
        on_step=None,
        wait_seconds=0.0,
        sleep=lambda _: None,
        monotonic=time.monotonic,
        allow_insecure=False,
    )
    observed = _observe(run, repair=False)
    previous = run.keyring_get(target.previous_path) is not None
    configured = observed[0] if observed else None
    actions: tuple[ResumeAction, ...]
    if configured is None:
        actions = ()
        why = (
            "Neither key authenticates with the secret in the keyring; nothing can be done "
            "safely until the keyring holds a working secret."
        )
    elif configured == rotation.old_access_key_id:
        actions = ("rollback",)
        why = f"Rundeck still uses the old key {configured}. " + (
            "Rolling back keeps it; the pasted key is left as it is in IAM."
            if rotation.phase in MANUAL_PHASES
            else "The new key's secret was never stored, so the only safe way out is to "
            "delete the new key."
        )
    elif configured != rotation.new_access_key_id:
        actions = ()
        why = (
            f"The file names {configured}, which is neither key of the rotation; it was "
            "changed by hand. Check it, then clear the rotation by reconfiguring."
        )
    else:
        actions = ("finish", "rollback") if previous else ("finish",)
        why = f"Rundeck already uses the new key {configured}; finishing retires the old key." + (
            " Rolling back restores the old key, whose secret is kept in the keyring."
            if previous
            else ""
        )
    return InterruptedRotation(
        phase=rotation.phase,
        old_access_key_id=rotation.old_access_key_id,
        new_access_key_id=rotation.new_access_key_id,
        started_at=rotation.started_at,
        configured_key=configured,
        previous_secret_stored=previous,
        actions=actions,
        explanation=why,
    )


def resume_rotation(
    target: RotationTarget,
    action: ResumeAction | None = None,
    *,
    keystore: KeyStore,
    clock: Clock,
    client_factory: ClientFactory | None = None,
    delete_old: bool = False,
    on_step: StepCallback | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    allow_insecure: bool = False,
) -> RotationResult:
    """Finish or roll back a rotation that was interrupted (killed, or stopped by an error).

    Without ``action`` the safe default is taken: finish when Rundeck already uses the new
    key, roll back when it still uses the old one. A created key whose secret was lost is
    always deleted, using the old key; nothing here needs that secret.
    """
    run = _Run(
        target,
        keystore=keystore,
        clock=clock,
        client_factory=client_factory,
        on_step=on_step,
        wait_seconds=wait_seconds,
        sleep=sleep,
        monotonic=monotonic,
        allow_insecure=allow_insecure,
    )
    try:
        with _locked(target):
            _resume(run, action, delete_old)
    except _Stop:
        pass
    except RotationError as error:
        run.step("resume", "failed", str(error))
        run.stop("failed", error.kind, str(error))
    return run.result


def _resume(run: _Run, action: ResumeAction | None, delete_old: bool) -> None:
    target, result = run.target, run.result
    try:
        record = read_record(target.record_file)
    except RecordError as error:
        raise RotationError(str(error), "config") from None
    if record is None or record.rotation is None:
        raise run.refuse("There is no interrupted rotation to resume.", "usage")
    run.record = record
    rotation = record.rotation
    old_id, new_id = rotation.old_access_key_id, rotation.new_access_key_id
    result.old_access_key_id, result.new_access_key_id = old_id, new_id
    run.step("inspect", "running", f"phase {rotation.phase}: which key does the keyring hold?")
    observed = _observe(run, repair=True)
    if observed is None:
        raise RotationError(
            "Neither the old nor the new key authenticates with the secret stored at "
            f"{target.key_path}; nothing was changed in IAM. Put a working secret back "
            "(or rotate manually), then resume.",
            "keyring",
        )
    configured, secret, identity = observed
    run.iam_user = result.iam_user = identity.iam_user
    run.step("inspect", "done", f"Rundeck uses {configured} ({identity.arn})")
    if configured not in (old_id, new_id):
        raise run.refuse(
            f"{target.properties_file} names {configured}, which is neither key of the "
            "interrupted rotation: it was changed by hand. Nothing was changed in IAM; check "
            "the file, then reconfigure.",
            "config",
        )
    if configured == old_id:
        if action == "finish":
            raise run.refuse(
                "Cannot finish: Rundeck still uses the old key and the new key's secret was "
                "never stored. Roll back instead (--resume rollback): it deletes the new key.",
                "usage",
            )
        _rollback_on_old(run, secret)
    elif action == "rollback":
        _rollback_from_new(run, configured, secret)
    else:
        _finish(run, configured, secret, delete_old)


def _rollback_on_old(run: _Run, old_secret: Secret) -> None:
    """Rundeck uses the old key: delete the new key (or the unrecorded one), clear the marker."""
    target, result = run.target, run.result
    rotation = run.record.rotation
    assert rotation is not None
    old_id = rotation.old_access_key_id
    old_iam = run.client("iam", old_id, old_secret)
    if rotation.phase not in MANUAL_PHASES:
        try:
            keys = run.list_keys(old_iam)
        except AwsError as error:
            raise RotationError(f"Cannot list the keys of {run.iam_user}: {error}", "aws") from None
        for key in _keys_to_discard(rotation, keys):
            try:
                run.delete_key(old_iam, key)
            except AwsError as error:
                raise RotationError(f"Could not delete the new key {key}: {error}", "aws") from None
            run.step("delete-new", "rolled back", f"deleted {key}: its secret was never stored")
    changes: dict[str, Any] = {"access_key_id": old_id}
    if run.record.access_key_id != old_id:
        changes.update(previous_access_key_id=None, previous_key_inactive=False)
    finished = run.finalize_record(**changes)
    if finished:
        run.forget_previous()
    result.new_access_key_id = None
    run.step("rollback", "done", f"{target.label} uses {old_id}")
    result.state = FinalState(
        iam=f"{old_id} active and configured; the interrupted rotation's key is gone",
        keyring=f"{target.key_path} holds the secret of {old_id}",
        files=f"{target.properties_file} uses {old_id}",
    )
    raise run.stop("rolled_back", None, None)


def _keys_to_discard(rotation: RotationState, keys: list[dict[str, Any]]) -> list[str]:
    """The keys an interrupted rotation created whose secrets nobody holds."""
    if rotation.new_access_key_id is not None:
        ids = {str(key.get("AccessKeyId")) for key in keys}
        return [rotation.new_access_key_id] if rotation.new_access_key_id in ids else []
    if rotation.phase != PHASE_CREATING or rotation.started_at is None:
        return []
    # Killed between CreateAccessKey and recording its answer: the only other key created
    # since the marker was written is that one (the key limit step left no spare).
    since = _aware(rotation.started_at) - ORPHAN_SKEW
    return [
        str(key.get("AccessKeyId"))
        for key in keys
        if key.get("AccessKeyId") != rotation.old_access_key_id
        and key.get("Status") == "Active"
        and isinstance(key.get("CreateDate"), datetime)
        and _aware(key["CreateDate"]) >= since
    ]


def _finish(run: _Run, new_id: str, new_secret: Secret, delete_old: bool) -> None:
    """Rundeck uses the new key: retire the old one (automatic rotations only)."""
    rotation = run.record.rotation
    assert rotation is not None
    old_id = rotation.old_access_key_id
    run.result.new_access_key_id = new_id
    if run.record.access_key_id != new_id:
        run.record = run.record.updated(
            access_key_id=new_id,
            previous_access_key_id=old_id,
            rotated_at=run.record.rotated_at or run.clock(),
        )
    if rotation.phase in MANUAL_PHASES:
        finished = run.finalize_record(previous_access_key_id=old_id, previous_key_inactive=False)
        if finished:
            run.forget_previous()
        run.result.warnings.append(
            f"The old key {old_id} was left as it is in IAM; deactivate it once nothing uses it."
        )
        run.result.state = FinalState(
            iam=f"{new_id} configured; {old_id} unchanged",
            keyring=f"{run.target.key_path} holds the secret of {new_id}",
            files=f"{run.target.properties_file} uses {new_id}",
        )
        raise run.stop("partial" if not finished else "rotated", None, None)
    new_iam = run.client("iam", new_id, new_secret)
    try:
        keys = run.list_keys(new_iam, patient=True)
    except AwsError as error:
        raise RotationError(f"Cannot list the keys of {run.iam_user}: {error}", "aws") from None
    old = next((key for key in keys if key.get("AccessKeyId") == old_id), None)
    if old is None:
        run.step("deactivate", "skipped", f"{old_id} no longer exists")
        finished = run.finalize_record(previous_access_key_id=None, previous_key_inactive=False)
        if finished:
            run.forget_previous()
        run.result.state = FinalState(
            iam=f"{new_id} active and configured; {old_id} deleted",
            keyring=f"{run.target.key_path} holds the secret of {new_id}",
            files=f"{run.target.properties_file} uses {new_id}",
        )
        raise run.stop("rotated" if finished else "partial", None, None)
    _retire_old(run, new_id, new_secret, old_id, delete_old)


def _rollback_from_new(run: _Run, new_id: str, new_secret: Secret) -> None:
    """Rundeck uses the new key: go back to the old one, whose secret the keyring kept."""
    target, result = run.target, run.result
    rotation = run.record.rotation
    assert rotation is not None
    old_id = rotation.old_access_key_id
    old_secret = run.keyring_get(target.previous_path)
    if old_secret is None:
        raise run.refuse(
            f"Cannot roll back: the old key's secret is no longer kept at {target.previous_path}. "
            "Finish instead (--resume finish).",
            "usage",
        )
    new_iam = run.client("iam", new_id, new_secret)
    try:
        keys = run.list_keys(new_iam, patient=True)
        old = next((key for key in keys if key.get("AccessKeyId") == old_id), None)
        if old is None:
            raise run.refuse(
                f"Cannot roll back: the old key {old_id} was deleted. Finish instead.", "usage"
            )
        if old.get("Status") != "Active":
            run.set_key_status(new_iam, old_id, "Active")
            run.step("reactivate", "done", f"{old_id} is active again")
        run.step("wait", "running", f"waiting until AWS accepts {old_id}")
        run.identify(old_id, old_secret, patient=True)
        run.step("wait", "done", f"{old_id} authenticates")
    except AwsError as error:
        raise RotationError(f"Cannot roll back: {error}", "aws") from None
    record_after = run.record.updated(
        access_key_id=old_id, previous_access_key_id=None, previous_key_inactive=False
    )
    try:
        run.switch(
            from_id=new_id,
            from_secret=new_secret,
            to_id=old_id,
            to_secret=old_secret,
            record_after=record_after,
            keep_previous=False,
        )
    except RotationError as error:
        on = _aligned_on(error) or "neither key"
        result.state = FinalState(
            iam=f"{old_id} and {new_id} both active",
            keyring=f"{target.key_path} holds the secret of {on}",
            files=f"{target.properties_file} uses {on}; the rotation marker is kept",
        )
        raise run.stop("failed", error.kind, f"Rolling back failed: {error}") from None
    if rotation.phase not in MANUAL_PHASES:
        old_iam = run.client("iam", old_id, old_secret)
        try:
            run.delete_key(old_iam, new_id, patient=True)
            run.step("delete-new", "rolled back", f"deleted {new_id}")
        except AwsError as error:
            result.warnings.append(f"The new key {new_id} could not be deleted: {error}")
            result.next_steps.append(
                f"aws iam delete-access-key --user-name {run.iam_user} --access-key-id {new_id}"
            )
            result.state = FinalState(
                iam=f"{old_id} active and configured; {new_id} still exists",
                keyring=f"{target.key_path} holds the secret of {old_id}",
                files=f"{target.properties_file} uses {old_id}; the rotation marker is kept "
                "until the new key is deleted (pa-aws-setup rotate --resume rollback)",
            )
            raise run.stop("failed", "aws", str(error)) from None
    finished = run.finalize_record()
    if finished:
        run.forget_previous()
    result.new_access_key_id = None
    result.state = FinalState(
        iam=f"{old_id} active and configured; {new_id} deleted",
        keyring=f"{target.key_path} holds the secret of {old_id}",
        files=f"{target.properties_file} uses {old_id}",
    )
    raise run.stop("rolled_back", None, None)


# === manual rotation =======================================================================


def manual_rotate(
    target: RotationTarget,
    new_access_key_id: str,
    new_secret: Secret,
    *,
    keystore: KeyStore,
    clock: Clock,
    client_factory: ClientFactory | None = None,
    deactivate_old: bool = False,
    delete_old: bool = False,
    on_step: StepCallback | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    allow_insecure: bool = False,
) -> RotationResult:
    """Switch to a key pair created in the console, after STS accepts it; never deletes it.

    Deactivating (and deleting) the old key is optional and uses the new key's credentials.
    """
    run = _Run(
        target,
        keystore=keystore,
        clock=clock,
        client_factory=client_factory,
        on_step=on_step,
        wait_seconds=wait_seconds,
        sleep=sleep,
        monotonic=monotonic,
        allow_insecure=allow_insecure,
    )
    try:
        with _locked(target):
            _manual(run, new_access_key_id, new_secret, deactivate_old or delete_old, delete_old)
    except _Stop:
        pass
    except RotationError as error:
        run.refuse(str(error), error.kind)
    return run.result


def _manual(
    run: _Run, new_id: str, new_secret: Secret, deactivate_old: bool, delete_old: bool
) -> None:
    target, result = run.target, run.result
    old_id = target.access_key_id
    try:
        new_id = validate_access_key_id(new_id)
    except ValidationError as error:
        raise run.refuse(str(error), "usage") from None
    if new_id == old_id:
        raise run.refuse(f"{new_id} is already the configured key.", "usage")
    data, _ = run.read_file()
    if data != target.data:
        raise run.refuse(f"{target.properties_file} changed since it was read.", "config")
    if run.record.rotation is not None:
        raise run.refuse("An earlier rotation was interrupted; resume it first.", "usage")
    result.new_access_key_id = new_id
    run.step("verify", "running", f"asking AWS STS whether {new_id} works")
    try:
        identity = run.identify(new_id, new_secret, patient=True)
    except AwsError as error:
        raise run.refuse(
            f"The new key does not work, nothing was changed: {error}", "aws"
        ) from None
    run.iam_user = result.iam_user = identity.iam_user
    run.step("verify", "done", f"{new_id} authenticates as {identity.arn}")
    old_secret = run.keyring_get(target.key_path)
    now = run.clock()
    try:
        run.save_record(
            run.record.updated(rotation=RotationState(PHASE_MANUAL, old_id, new_id, now))
        )
    except WriteError as error:
        raise run.refuse(f"Cannot record the rotation: {error}", "config") from None
    record_after = _switched_record(
        run.record,
        old_id,
        new_id,
        identity.iam_user,
        now,
        RotationState(PHASE_MANUAL_SWITCHED, old_id, new_id, now),
    )
    record_before = run.record
    try:
        run.switch(
            from_id=old_id,
            from_secret=old_secret,
            to_id=new_id,
            to_secret=new_secret,
            record_after=record_after,
            keep_previous=old_secret is not None,
        )
    except RotationError as error:
        aligned = _aligned_on(error)
        if aligned == old_id or (aligned is None and old_secret is None):
            run.forget_previous()
            with contextlib.suppress(WriteError):
                run.save_record(record_before.updated(rotation=None))
            result.new_access_key_id = None
            result.state = FinalState(
                iam="unchanged",
                keyring=f"{target.key_path} as before",
                files=f"{target.properties_file} uses {old_id}",
            )
            raise run.stop("rolled_back", error.kind, str(error)) from None
        raise run.stop("failed", error.kind, str(error)) from None
    if deactivate_old:
        _retire_old(run, new_id, new_secret, old_id, delete_old)
        return
    finished = run.finalize_record(previous_access_key_id=old_id, previous_key_inactive=False)
    if finished:
        run.forget_previous()
    result.warnings.append(
        f"The old key {old_id} is still active in IAM; deactivate it once nothing uses it."
    )
    result.next_steps.append(_commands(run.iam_user, old_id)[0])
    result.state = FinalState(
        iam=f"{new_id} configured; {old_id} still active",
        keyring=f"{target.key_path} holds the secret of {new_id}",
        files=f"{target.properties_file} uses {new_id}",
    )
    raise run.stop("rotated" if finished else "partial", None, None)


__all__ = [
    "DEFAULT_WAIT_SECONDS",
    "PREVIOUS_SUFFIX",
    "FinalState",
    "InterruptedRotation",
    "RotationError",
    "RotationResult",
    "RotationStep",
    "RotationTarget",
    "SpareKey",
    "inspect_interrupted",
    "load_target",
    "manual_rotate",
    "mask_access_key_id",
    "resume_rotation",
    "rotate_key",
]

"""One run of a rotation, resumption or manual switch: its report, and every call it makes to
IAM/STS, the keyring and the files, under the install lock.

All file writes of a run go through this module, so a test can make any of them fail.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Required, TypedDict, TypeVar

from tui.core import aws
from tui.core.aws import REJECTED_KEY_CODES, AwsError, CallerIdentity, ClientFactory, identity_of
from tui.core.errors import ErrorKind, ToolError
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.model import Method
from tui.core.properties import PropertiesDocument, PropertiesError
from tui.core.record import (
    PASSWORD_CONTENT_TYPE,
    PASSWORD_KEY_TYPE,
    SetupRecord,
    dumps,
    fingerprint,
)
from tui.core.rotation.api_config import read_aws_lines, write_aws_lines
from tui.core.rotation.results import (
    FinalState,
    Outcome,
    RotationResult,
)
from tui.core.rotation.target import RotationError, RotationTarget
from tui.core.rundeck_api import RundeckClient
from tui.core.secret import Secret
from tui.core.steps import Step, StepCallback, StepStatus
from tui.core.writer import (
    DEFAULT_KEEP_BACKUPS,
    WriteError,
    atomic_write,
    install_lock,
    make_folder,
    read_existing,
)
from tui.core.writer import restore as restore_file

T = TypeVar("T")
Clock = Callable[[], datetime]

PHASE_CREATING = "creating"  # CreateAccessKey may have run; the new key's id is not recorded
PHASE_CREATED = "created"  # the new key exists; its secret lives only in the running process
PHASE_SWITCHED = "switched"  # keyring and file hold the new key; the old one is not retired
PHASE_MANUAL = "manual"  # a pasted key is being switched in; it is never deleted by us
PHASE_MANUAL_SWITCHED = "manual-switched"
MANUAL_PHASES = frozenset({PHASE_MANUAL, PHASE_MANUAL_SWITCHED})

DEFAULT_WAIT_SECONDS = 30.0
FIRST_DELAY = 0.5
MAX_DELAY = 8.0


class RunSettings(TypedDict, total=False):
    """The keyword arguments every rotation, resumption and manual switch takes."""

    keystore: Required[KeyStore]
    clock: Required[Clock]
    client_factory: ClientFactory | None  # makes the STS/IAM clients; default aws.client
    on_step: StepCallback | None  # told of every step as it happens
    wait_seconds: float  # how long a new key may take to work (IAM is eventually consistent)
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    allow_insecure: bool  # store the secret even in a plaintext keyring backend
    keep_backups: int  # how many backups of the properties file to keep (the newest)
    key_storage: RundeckClient | None  # Rundeck's API: the switch also moves Key Storage
    # Asked once, just before the first change; False stops the run with nothing changed
    # (a cancel from the screen, answered atomically so the screen knows which side won).
    before_changes: Callable[[], bool] | None


class Stop(ToolError):
    """Ends a run; the result already says how."""

    def __init__(self) -> None:
        super().__init__("the run stopped; its result says how")


class Run:
    """One rotation, resumption or manual switch of one target."""

    def __init__(
        self,
        target: RotationTarget,
        *,
        keystore: KeyStore,
        clock: Clock,
        client_factory: ClientFactory | None = None,
        on_step: StepCallback | None = None,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        allow_insecure: bool = False,
        keep_backups: int = DEFAULT_KEEP_BACKUPS,
        key_storage: RundeckClient | None = None,
        before_changes: Callable[[], bool] | None = None,
    ) -> None:
        self.target = target
        self.before_changes = before_changes
        self.keystore = keystore
        self.clock = clock
        self.factory = client_factory or aws.client
        self.on_step = on_step
        self.wait_seconds = wait_seconds
        self.sleep = sleep
        self.monotonic = monotonic
        self.allow_insecure = allow_insecure
        self.keep_backups = keep_backups
        self.key_storage = key_storage
        self.result = RotationResult("failed", target.properties_file, target.access_key_id)
        self.record: SetupRecord = target.record or self._fresh_record()
        self.iam_user: str | None = None
        self.changed = False
        self.removed_spare: str | None = None
        self.clients: dict[tuple[str, str, Secret], Any] = {}
        # Each key path this run read: True (a secret), False (none), None (unreadable).
        self.read_paths: dict[str, bool | None] = {}
        self.verified: set[str] = set()  # access key ids STS accepted during this run

    def execute(
        self, body: Callable[[], None], on_error: Callable[[RotationError], None]
    ) -> RotationResult:
        """Run ``body`` under the install lock; a RotationError it raises goes to ``on_error``."""
        try:
            with locked(self.target):
                body()
        except Stop:
            pass
        except RotationError as error:
            on_error(error)
        return self.result

    # --- reporting -----------------------------------------------------------------------

    def step(self, name: str, status: StepStatus, detail: str = "") -> None:
        update = Step(name, status, detail)
        self.result.steps.append(update)
        if self.on_step is not None:
            # A broken display must not break the transaction half-way.
            with contextlib.suppress(Exception):
                self.on_step(update)

    def stop(self, outcome: Outcome, kind: ErrorKind | None, message: str | None) -> Stop:
        self.result.outcome = outcome
        self.result.error_kind = kind
        self.result.error = message
        return Stop()

    def refuse(self, message: str, kind: ErrorKind) -> Stop:
        self.step("check", StepStatus.FAILED, message)
        iam = "unchanged"
        if self.removed_spare:
            iam = f"the inactive key {self.removed_spare} was deleted; otherwise unchanged"
        self.result.state = FinalState(
            iam=iam,
            keyring=f"unchanged: {self.keyring_seen()}",
            files=f"unchanged: {self.target.where}",
        )
        return self.stop("refused", kind, message)

    def keyring_seen(self) -> str:
        """What this run found at the target's key path: only what it actually read."""
        path = self.target.key_path
        if path not in self.read_paths:
            return f"nothing was written to {path} (not read)"
        found = self.read_paths[path]
        if found is None:
            return f"{path} could not be read"
        if not found:
            return f"no secret is stored at {path}"
        if self.target.access_key_id in self.verified:
            return f"{path} holds the secret of {self.target.access_key_id} (STS accepted it)"
        return f"{path} holds a secret, not checked with AWS"

    def begin_changes(self) -> None:
        """Stop here, with nothing changed, when the caller no longer wants the run."""
        if self.before_changes is not None and not self.before_changes():
            raise self.refuse("Cancelled before anything was changed.", ErrorKind.USAGE)

    def unexpected(self, error: RotationError) -> None:
        """A failure outside the planned ones: refused if nothing changed yet, else failed."""
        if not self.changed:
            self.refuse(str(error), error.kind)
            return
        self.step("error", StepStatus.FAILED, str(error))
        self.result.next_steps.append("pa-aws-setup status, then pa-aws-setup rotate --resume")
        self.stop("failed", error.kind, str(error))

    def state_on(self, access_key_id: str, iam: str, files_note: str = "") -> FinalState:
        """The final state when keyring and file both use ``access_key_id``."""
        return FinalState(
            iam=iam,
            keyring=f"{self.target.key_path} holds the secret of {access_key_id}",
            files=f"{self.target.where} uses {access_key_id}{files_note}",
        )

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
        atomic_write(
            self.target.record_file,
            dumps(record).encode("utf-8"),
            backup=False,
            owner_from=self.target.owner_file,
        )
        self.record = record
        self.changed = True

    def read_file(self) -> tuple[bytes, PropertiesDocument]:
        """The configuration as it is now: the file, or a database project's AWS settings."""
        target = self.target
        try:
            if (database := target.in_database) is not None:
                data: bytes | None = read_aws_lines(*database)
            else:
                data = read_existing(target.properties_file)
            if data is None:
                raise WriteError(f"{target.properties_file} no longer exists.")
            return data, PropertiesDocument.parse_bytes(data)
        except WriteError as error:
            raise RotationError(str(error), error.kind) from None
        except PropertiesError as error:
            raise RotationError(str(error), ErrorKind.CONFIG) from None

    def file_key(self) -> str | None:
        return self.read_file()[1].get(self.target.access_key_setting)

    def write_properties(self, data: bytes) -> Path | None:
        """Replace the configuration; returns the backup of the previous file (none for a
        project in Rundeck's database, whose keys are written one by one)."""
        target = self.target
        if (database := target.in_database) is not None:
            write_aws_lines(*database, data)
            return None
        return atomic_write(
            target.properties_file, data, now=self.clock(), keep_backups=self.keep_backups
        )

    def restore_properties(self, data: bytes) -> None:
        target = self.target
        if (database := target.in_database) is not None:
            write_aws_lines(*database, data)
            return
        restore_file(target.properties_file, data)

    def write_file_key(self, access_key_id: str) -> tuple[bytes, Path | None]:
        _, document = self.read_file()
        document.set(self.target.access_key_setting, access_key_id)
        after = document.to_bytes()
        return after, self.write_properties(after)

    def finalize_record(self, **changes: Any) -> bool:
        """Clear the rotation marker, then the kept previous secret; False (with a warning)
        when the record cannot be written, which keeps both for a later --resume."""
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
        self.forget_previous()
        return True

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
        said = False  # an unreachable AWS is said at once, so a wait is never silent
        while True:
            try:
                answer = self.call(what, action)
            except AwsError as error:
                remaining = deadline - self.monotonic()
                if not (error.offline or error.code in REJECTED_KEY_CODES) or remaining <= 0:
                    if said:
                        self.step("aws", StepStatus.FAILED, f"no answer from AWS ({what})")
                    raise
                if error.offline and not said:
                    said = True
                    self.step(
                        "aws",
                        StepStatus.RUNNING,
                        f"AWS did not answer ({what}); trying again for up to {remaining:.0f} s",
                    )
                self.sleep(min(delay, remaining))
                delay = min(delay * 2, MAX_DELAY)
            else:
                if said:
                    self.step("aws", StepStatus.DONE, f"AWS answered ({what})")
                return answer

    def identify(self, access_key_id: str, secret: Secret, *, patient: bool) -> CallerIdentity:
        def ask() -> CallerIdentity:
            return identity_of(self.client("sts", access_key_id, secret).get_caller_identity())

        if patient:
            identity = self.patiently("GetCallerIdentity", ask)
        else:
            identity = self.call("GetCallerIdentity", ask)
        self.verified.add(access_key_id)
        return identity

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
            secret = self.keystore.get(path)
        except KeyStoreError as error:
            self.read_paths[path] = None
            raise RotationError(str(error), ErrorKind.KEYRING) from None
        self.read_paths[path] = secret is not None
        return secret

    def forget_previous(self) -> None:
        try:
            self.keystore.delete(self.target.previous_path)
        except KeyStoreError as error:
            self.result.warnings.append(
                f"The previous secret is still in the keyring at {self.target.previous_path} "
                f"and could not be removed: {error}"
            )


@contextlib.contextmanager
def locked(target: RotationTarget) -> Iterator[None]:
    """The install lock, in the folder of the configuration file; for a project in Rundeck's
    database that folder may not exist yet (it holds the record and its marker)."""
    folder = target.properties_file.parent
    try:
        if target.api is not None and not folder.is_dir():
            make_folder(folder, owner_from=target.owner_file)
        with install_lock(folder, owner_from=target.owner_file):
            yield
    except (WriteError, OSError) as error:
        raise RotationError(str(error), ErrorKind.CONFIG) from None

"""detect_environment: runs the EC2, ECS, credential and identity probes concurrently.

Each probe has its own thread and deadline, so one slow endpoint never holds up the others.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from tui.core.detect.container import _container_credentials_configured, probe_ecs
from tui.core.detect.identity import _botocore_session, _caller_identity, _identity_error
from tui.core.detect.imds import probe_ec2
from tui.core.detect.model import (
    DIAGNOSIS_TEXT,
    CredentialSources,
    Detection,
    Diagnosis,
    Ec2Probe,
    EcsProbe,
    Identity,
    ProbeName,
    ProbeUpdate,
    _RoleCredentials,
    configured_region,
    recommend,
)
from tui.core.detect.sources import inspect_credential_sources
from tui.core.detect.transport import GRACE_S
from tui.core.model import Method


class _Lane:
    """One probe in its own daemon thread, reporting running/done exactly once (if it reports)."""

    def __init__(
        self,
        name: ProbeName,
        work: Callable[[], object],
        report: Callable[[ProbeUpdate], None] | None = None,
        summary: Callable[[Any], str] = str,
    ) -> None:
        self.name: ProbeName = name
        self._report = report
        self._summary = summary
        self._lock = threading.Lock()
        self._finished = False
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(work,), daemon=True, name=f"detect-{name}"
        )

    def start(self, status: str = "") -> _Lane:
        if self._report is not None:
            self._report(ProbeUpdate(self.name, "running", status))
        self._thread.start()
        return self

    def _run(self, work: Callable[[], object]) -> None:
        try:
            self.result = work()
        except BaseException as error:  # kept for the caller; never escapes
            self.error = error
        self.finish()

    def finish(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        if self._report is not None:
            status = self._summary(self.result) if self.result is not None else "did not finish"
            self._report(ProbeUpdate(self.name, "done", status))

    def wait(self, seconds: float) -> bool:
        self._thread.join(max(0.0, seconds))
        return not self._thread.is_alive()


def _safe_reporter(
    on_progress: Callable[[ProbeUpdate], None] | None,
) -> Callable[[ProbeUpdate], None]:
    def report(update: ProbeUpdate) -> None:
        if on_progress is None:
            return
        # A broken progress callback must not stop detection.
        with contextlib.suppress(Exception):
            on_progress(update)

    return report


def detect_environment(
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 1.0,
    on_progress: Callable[[ProbeUpdate], None] | None = None,
) -> Detection:
    """Probe EC2, ECS, credential sources and caller identity concurrently; never raises."""
    started = time.monotonic()
    report = _safe_reporter(on_progress)
    try:
        snapshot = dict(os.environ if env is None else env)
        return _detect(snapshot, max(0.05, timeout), report, started)
    except Exception as error:  # detection degrades to "access key", never crashes
        message = f"detection failed: {type(error).__name__}"
        return Detection(
            ec2=Ec2Probe(error=message),
            ecs=EcsProbe(error=message),
            credentials=CredentialSources(notes=(message,)),
            identity=Identity(error=message),
            recommended_method=Method.ACCESS_KEY,
            recommendation_reason=f"{message}; an access key works anywhere",
            elapsed_s=time.monotonic() - started,
        )


def _detect(
    env: dict[str, str], timeout: float, report: Callable[[ProbeUpdate], None], started: float
) -> Detection:
    botocore_loader = _BotocoreLoader(env, timeout)
    ec2_lane = _Lane(
        "ec2", lambda: probe_ec2(env, timeout, botocore_loader.start), report, _ec2_summary
    ).start("asking the instance metadata service")
    ecs_lane = _Lane("ecs", lambda: probe_ecs(env, timeout), report, _ecs_summary).start(
        "reading the ECS task metadata"
    )
    report(ProbeUpdate("credentials", "running", "looking for configured credentials"))
    report(ProbeUpdate("identity", "running", "waiting for the probes"))
    static = inspect_credential_sources(env)
    if static.sources or _container_credentials_configured(env):
        botocore_loader.start()

    probe_deadline = started + timeout + GRACE_S
    ec2_lane.wait(probe_deadline - time.monotonic())
    ecs_lane.wait(probe_deadline - time.monotonic())
    ec2_lane.finish()
    ecs_lane.finish()
    ec2, ec2_credentials = ec2_lane.result or (_late_ec2(ec2_lane), None)
    ecs, ecs_credentials = ecs_lane.result or (_late_ecs(ecs_lane), None)

    runtime = (("container-role",) if ecs.has_task_credentials else ()) + (
        ("iam-role",) if ec2_credentials is not None else ()
    )
    sources = static.sources + runtime
    credentials = CredentialSources(
        sources=sources,
        first=sources[0] if sources else None,
        profile=static.profile,
        notes=static.notes,
    )
    report(ProbeUpdate("credentials", "done", ", ".join(sources) or "none found"))

    role_credentials = ecs_credentials or ec2_credentials
    if role_credentials is None and not static.sources:
        identity = Identity(error="no credentials found")
    else:
        # The tools' configured region wins for STS, as it would for the AWS CLI.
        region = configured_region(env) or ec2.region or ecs.region or "us-east-1"
        identity = _identity_in_time(botocore_loader, env, region, role_credentials, timeout)
    report(ProbeUpdate("identity", "done", identity.arn or identity.error or "unknown"))

    method, reason = recommend(ec2, ecs)
    return Detection(
        ec2=ec2,
        ecs=ecs,
        credentials=credentials,
        identity=identity,
        recommended_method=method,
        recommendation_reason=reason,
        elapsed_s=time.monotonic() - started,
    )


class _BotocoreLoader:
    """Prepares a botocore session in the background, once credentials may appear.

    Importing botocore and loading the STS model costs a few hundred ms the first time; started
    early, that overlaps the probes, and a host with no credentials at all never pays it.
    """

    def __init__(self, env: Mapping[str, str], timeout: float) -> None:
        self._lane = _Lane("identity", lambda: _botocore_session(env, timeout))
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._lane.start()

    def session(self, wait: float) -> tuple[Any, str | None]:
        """The session, or None and why not."""
        self.start()
        if not self._lane.wait(wait):
            return None, "botocore took too long to load"
        if isinstance(self._lane.error, Exception):
            return None, _identity_error(self._lane.error)
        if self._lane.result is None:
            return None, "could not prepare botocore"
        return self._lane.result, None


def _identity_in_time(
    loader: _BotocoreLoader,
    env: Mapping[str, str],
    region: str,
    credentials: _RoleCredentials | None,
    timeout: float,
) -> Identity:
    """The STS call in its own thread, abandoned if botocore overruns its own timeouts."""
    session, problem = loader.session(max(2.0, 2 * timeout))
    if session is None:
        return Identity(source=credentials.source if credentials else None, error=problem)
    box: list[Identity] = []
    thread = threading.Thread(
        target=lambda: box.append(_caller_identity(session, env, region, credentials, timeout)),
        daemon=True,
        name="detect-sts",
    )
    thread.start()
    # connect + read timeouts, each `timeout`, plus slack for client creation.
    thread.join(2 * timeout + 0.5)
    if box:
        return box[0]
    return Identity(source=credentials.source if credentials else None, error="STS did not answer")


def _late_ec2(lane: _Lane) -> Ec2Probe:
    if lane.error is not None:
        return Ec2Probe(error=f"EC2 probe failed: {type(lane.error).__name__}")
    return Ec2Probe(error=DIAGNOSIS_TEXT[Diagnosis.TIMEOUT], diagnosis=Diagnosis.TIMEOUT)


def _late_ecs(lane: _Lane) -> EcsProbe:
    if lane.error is not None:
        return EcsProbe(error=f"ECS probe failed: {type(lane.error).__name__}")
    return EcsProbe(error="ECS metadata timed out", diagnosis=Diagnosis.TIMEOUT)


def _ec2_summary(result: tuple[Ec2Probe, object]) -> str:
    probe = result[0]
    if not probe.detected:
        return f"not detected: {probe.error}"
    return f"{probe.instance_id}, role {probe.role_name or 'none'} (IMDS{probe.imds_version})"


def _ecs_summary(result: tuple[EcsProbe, object]) -> str:
    probe = result[0]
    if not probe.detected:
        return f"not detected: {probe.error}"
    return f"task {probe.family or probe.task_arn or 'unknown'}, role {probe.role_arn or 'unknown'}"

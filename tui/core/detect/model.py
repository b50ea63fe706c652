"""What detection reports: probe results, their diagnoses, and the recommended method.

Plain frozen dataclasses with no I/O, so the screens, the CLI and the tests share one vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

from tui.core.model import Method
from tui.core.secret import Secret
from tui.core.validate import REGION

ProbeName = Literal["ec2", "ecs", "credentials", "identity"]
ProbeState = Literal["running", "done"]
ImdsVersion = Literal["v2", "v1"]


class Diagnosis(StrEnum):
    """Why a probe found what it found; the text for each is in DIAGNOSIS_TEXT."""

    OK = "ok"
    NO_ROLE = "no-role"
    DISABLED = "disabled"
    REFUSED = "connection-refused"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    CONNECT_TIMEOUT = "connect-timeout"
    V1_DISABLED_TOKEN_REFUSED = "v1-disabled-token-refused"
    HTTP_ERROR = "http-error"
    BAD_RESPONSE = "bad-response"
    ENV_ABSENT = "env-absent"
    ERROR = "error"


DIAGNOSIS_TEXT = {
    Diagnosis.OK: "found",
    Diagnosis.NO_ROLE: "found, but no IAM role is attached",
    Diagnosis.DISABLED: "disabled by AWS_EC2_METADATA_DISABLED",
    Diagnosis.REFUSED: "not on AWS: connection refused",
    Diagnosis.UNREACHABLE: "not on AWS: the metadata address is unreachable",
    Diagnosis.TIMEOUT: (
        "metadata endpoint timed out (IMDSv2 hop limit inside a container, or a proxy)"
    ),
    Diagnosis.CONNECT_TIMEOUT: (
        "not on AWS, or a firewall drops the traffic: the metadata address accepted no connection"
    ),
    Diagnosis.V1_DISABLED_TOKEN_REFUSED: "IMDSv1 disabled and token refused",
    Diagnosis.HTTP_ERROR: "the metadata endpoint answered with an error",
    Diagnosis.BAD_RESPONSE: "the metadata endpoint gave an unreadable answer",
    Diagnosis.ENV_ABSENT: "ECS variables absent in this shell",
    Diagnosis.ERROR: "the probe failed",
}


@dataclass(frozen=True)
class ProbeUpdate:
    """One probe started or finished; sent to ``on_progress`` from a worker thread."""

    probe: ProbeName
    state: ProbeState
    status: str


@dataclass(frozen=True)
class Ec2Probe:
    """What the EC2 instance metadata service told us (or why it told us nothing)."""

    detected: bool = False
    imds_version: ImdsVersion | None = None
    instance_id: str | None = None
    region: str | None = None
    availability_zone: str | None = None
    role_name: str | None = None
    instance_profile_arn: str | None = None
    account: str | None = None
    instance_type: str | None = None
    endpoint: str | None = None
    error: str | None = None
    diagnosis: Diagnosis = Diagnosis.ERROR
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EcsProbe:
    """What the ECS task metadata and container credentials endpoints told us."""

    detected: bool = False
    cluster: str | None = None
    task_arn: str | None = None
    family: str | None = None
    revision: str | None = None
    launch_type: str | None = None
    availability_zone: str | None = None
    role_arn: str | None = None
    has_task_credentials: bool = False
    error: str | None = None
    diagnosis: Diagnosis = Diagnosis.ERROR
    notes: tuple[str, ...] = ()

    @property
    def region(self) -> str | None:
        """The task's region: its availability zone's, else the one in its task ARN."""
        return region_of_zone(self.availability_zone) or region_of_arn(self.task_arn)


@dataclass(frozen=True)
class CredentialSources:
    """Credential methods botocore would find here, by name only, in botocore's order."""

    sources: tuple[str, ...] = ()
    first: str | None = None
    profile: str = "default"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identity:
    """STS GetCallerIdentity for the credentials detection found; ``source`` names them."""

    account: str | None = None
    arn: str | None = None
    user_id: str | None = None
    source: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Detection:
    """Everything detection learnt, and the method it recommends."""

    ec2: Ec2Probe
    ecs: EcsProbe
    credentials: CredentialSources
    identity: Identity
    recommended_method: Method
    recommendation_reason: str
    elapsed_s: float = 0.0

    @property
    def region(self) -> str | None:
        """The region of this machine: the instance's (IMDS placement), else the ECS task's."""
        return self.region_preferring(None)

    def region_preferring(self, method: Method | None) -> str | None:
        """The region of this machine, asking the ECS task first when ``method`` is ECS."""
        probes = [self.ecs.region, self.ec2.region]
        if method is not Method.ECS:
            probes.reverse()
        return next((region for region in probes if region), None)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; there are no credential values in a Detection to leak."""
        return {
            "ec2": _plain(asdict(self.ec2)),
            "ecs": _plain(asdict(self.ecs)),
            "credentials": _plain(asdict(self.credentials)),
            "identity": _plain(asdict(self.identity)),
            "recommended_method": str(self.recommended_method),
            "recommendation_reason": self.recommendation_reason,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def region_of_zone(zone: str | None) -> str | None:
    """``us-east-1a`` → ``us-east-1``; None when what is left is not shaped like a region."""
    candidate = (zone or "").rstrip("abcdefghijklmnopqrstuvwxyz")
    return candidate if REGION.fullmatch(candidate) else None


def region_of_arn(arn: str | None) -> str | None:
    """The region field of an ARN (``arn:aws:ecs:us-east-2:…``), when it is shaped like one."""
    parts = (arn or "").split(":")
    candidate = parts[3] if len(parts) > 5 else ""
    return candidate if REGION.fullmatch(candidate) else None


def configured_region(env: Mapping[str, str]) -> str | None:
    """The region the AWS tools are told to use: AWS_REGION, else AWS_DEFAULT_REGION."""
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Tuples become lists and enums their values, so json.dumps and equality tests agree."""
    plain: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, tuple):
            plain[key] = list(value)
        elif isinstance(value, StrEnum):
            plain[key] = value.value
        else:
            plain[key] = value
    return plain


@dataclass(frozen=True)
class _RoleCredentials:
    """Temporary credentials fetched from a metadata endpoint; only ever handed to STS."""

    source: str
    access_key_id: str
    secret: Secret
    token: Secret | None

    def __repr__(self) -> str:
        return f"_RoleCredentials(source={self.source!r})"


def recommend(ec2: Ec2Probe, ecs: EcsProbe) -> tuple[Method, str]:
    """ECS when a task role answered, EC2 when an instance role exists, else an access key."""
    if ecs.has_task_credentials:
        role = ecs.role_arn or "its role ARN is unknown"
        return Method.ECS, f"this runs in an ECS task with a task role ({role})"
    if ec2.detected and ec2.role_name:
        where = ec2.instance_id or "this instance"
        return Method.EC2, f"this runs on EC2 ({where}) with the instance role {ec2.role_name}"
    if ecs.detected:
        return Method.ACCESS_KEY, "ECS task without a task role; add one, or use an access key"
    if ec2.detected:
        return (
            Method.ACCESS_KEY,
            "EC2 instance without an IAM role; attach one, or use an access key",
        )
    return Method.ACCESS_KEY, f"no instance or task role here (EC2: {ec2.error or 'not found'})"

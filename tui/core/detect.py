"""Where does this run? EC2 / ECS / credential probes, run concurrently with short timeouts.

Metadata endpoints are read with plain ``http.client`` and our own deadlines, so a host off AWS
answers in milliseconds; botocore is imported lazily, and only when there are credentials to test.
"""

from __future__ import annotations

import configparser
import contextlib
import errno
import functools
import http.client
import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from tui.core.model import Method
from tui.core.secret import Secret

ProbeName = Literal["ec2", "ecs", "credentials", "identity"]
ProbeState = Literal["running", "done"]
ImdsVersion = Literal["v2", "v1"]

IMDS_ENDPOINT = "http://169.254.169.254"
IMDS_IPV6_ENDPOINT = "http://[fd00:ec2::254]"
ECS_CREDENTIALS_HOST = "http://169.254.170.2"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_BODY = 64 * 1024
# A probe thread that overran its own timeouts (a slow DNS lookup, say) is abandoned after this.
GRACE_S = 0.15
# Hosts botocore accepts for AWS_CONTAINER_CREDENTIALS_FULL_URI over plain http, besides loopback.
CONTAINER_HOSTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost")


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


@dataclass(frozen=True)
class _Reply:
    status: int
    body: str


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())


class _ConnectTimeout(TimeoutError):
    """Nothing accepted the connection in time (packets dropped), unlike a silent server."""


class _Failure(Exception):
    """A probe step failed; carries the diagnosis and a message free of secrets."""

    def __init__(self, diagnosis: Diagnosis, message: str) -> None:
        super().__init__(message)
        self.diagnosis = diagnosis
        self.message = message


def _http(method: str, url: str, *, headers: Mapping[str, str], timeout: float) -> _Reply:
    """One HTTP request with a socket timeout; errors surface as OSError / HTTPException."""
    if timeout <= 0:
        raise TimeoutError("no time left")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Failure(Diagnosis.ERROR, f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.hostname, parts.port, timeout=timeout)
    try:
        try:
            connection.connect()
        except TimeoutError:
            raise _ConnectTimeout("connect timed out") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, headers=dict(headers))
        response = connection.getresponse()
        return _Reply(response.status, response.read(MAX_BODY).decode("utf-8", "replace"))
    finally:
        connection.close()


def _classify(error: BaseException, what: str) -> _Failure:
    """Turn a network exception into a diagnosis; the message names the cause, not the data."""
    if isinstance(error, _Failure):
        return error
    if isinstance(error, ConnectionRefusedError):
        return _Failure(Diagnosis.REFUSED, f"{what}: connection refused")
    if isinstance(error, _ConnectTimeout):
        return _Failure(Diagnosis.CONNECT_TIMEOUT, f"{what}: connection timed out")
    if isinstance(error, TimeoutError):
        return _Failure(Diagnosis.TIMEOUT, f"{what}: timed out")
    if isinstance(error, OSError) and error.errno in (
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.EADDRNOTAVAIL,
    ):
        return _Failure(Diagnosis.UNREACHABLE, f"{what}: address unreachable")
    if isinstance(error, socket.gaierror):
        return _Failure(Diagnosis.UNREACHABLE, f"{what}: host name does not resolve")
    if isinstance(error, ConnectionError | http.client.HTTPException):
        return _Failure(Diagnosis.BAD_RESPONSE, f"{what}: no valid HTTP answer")
    return _Failure(Diagnosis.ERROR, f"{what}: {type(error).__name__}")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise _Failure(Diagnosis.BAD_RESPONSE, f"{what}: not JSON") from None
    if not isinstance(value, dict):
        raise _Failure(Diagnosis.BAD_RESPONSE, f"{what}: not a JSON object")
    return value


def _text(value: object) -> str | None:
    """A JSON field as text, or None when absent or not a scalar."""
    if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
        return str(value)
    return None


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _gather(jobs: Mapping[str, Callable[[], object]], deadline: _Deadline) -> dict[str, object]:
    """Run callables in daemon threads; a job not done by the deadline yields a timeout."""
    results: dict[str, object] = {}
    lock = threading.Lock()

    def run(name: str, job: Callable[[], object]) -> None:
        try:
            value: object = job()
        except BaseException as error:  # stored and classified by the caller
            value = error
        with lock:
            results[name] = value

    threads = [
        threading.Thread(target=run, args=(name, job), daemon=True, name=f"detect-{name}")
        for name, job in jobs.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline.remaining() + GRACE_S)
    with lock:
        return {name: results.get(name, TimeoutError("did not finish")) for name in jobs}


# --- EC2 ---------------------------------------------------------------------------------------


def _imds_endpoint(env: Mapping[str, str]) -> str:
    endpoint = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "").strip()
    if endpoint:
        return endpoint.rstrip("/")
    if env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "").strip().lower() == "ipv6":
        return IMDS_IPV6_ENDPOINT
    return IMDS_ENDPOINT


def probe_ec2(
    env: Mapping[str, str], timeout: float, on_answer: Callable[[], None] = lambda: None
) -> tuple[Ec2Probe, _RoleCredentials | None]:
    """IMDSv2 first, then IMDSv1; every metadata path may be missing without hiding the rest.

    ``on_answer`` is called as soon as the service has answered, before the remaining paths.
    """
    if _is_true(env.get("AWS_EC2_METADATA_DISABLED")):
        text = DIAGNOSIS_TEXT[Diagnosis.DISABLED]
        return Ec2Probe(error=text, diagnosis=Diagnosis.DISABLED), None
    endpoint = _imds_endpoint(env)
    try:
        return _probe_imds(env, endpoint, timeout, on_answer)
    except Exception as error:  # a probe never raises into detection
        problem = _classify(error, "instance metadata")
        return Ec2Probe(endpoint=endpoint, error=problem.message, diagnosis=problem.diagnosis), None


def _probe_imds(
    env: Mapping[str, str], endpoint: str, timeout: float, on_answer: Callable[[], None]
) -> tuple[Ec2Probe, _RoleCredentials | None]:
    deadline = _Deadline(timeout)
    token: str | None = None
    token_problem: str | None = None
    try:
        # Half the budget at most: a token PUT that times out (hop limit) still leaves v1 a chance.
        reply = _http(
            "PUT",
            f"{endpoint}/latest/api/token",
            headers={TOKEN_TTL_HEADER: "21600"},
            timeout=min(deadline.remaining(), timeout / 2),
        )
        if reply.status == 200 and reply.body.strip():
            token = reply.body.strip()
        else:
            token_problem = f"HTTP {reply.status}"
    except TimeoutError as error:
        if isinstance(error, _ConnectTimeout):
            raise _Failure(
                Diagnosis.CONNECT_TIMEOUT, DIAGNOSIS_TEXT[Diagnosis.CONNECT_TIMEOUT]
            ) from None
        token_problem = "timed out"
    except Exception as error:  # refused / unreachable: nothing more to try at this address
        failure = _classify(error, "instance metadata")
        if failure.diagnosis in (Diagnosis.REFUSED, Diagnosis.UNREACHABLE):
            failure = _Failure(failure.diagnosis, DIAGNOSIS_TEXT[failure.diagnosis])
        raise failure from None

    if token is None and _is_true(env.get("AWS_EC2_METADATA_V1_DISABLED")):
        diagnosis = Diagnosis.TIMEOUT if token_problem == "timed out" else Diagnosis.HTTP_ERROR
        raise _Failure(
            diagnosis,
            f"IMDSv2 token request {_problem_words(token_problem)} and "
            "AWS_EC2_METADATA_V1_DISABLED forbids IMDSv1"
            + (f": {DIAGNOSIS_TEXT[Diagnosis.TIMEOUT]}" if diagnosis is Diagnosis.TIMEOUT else ""),
        )
    headers = {TOKEN_HEADER: token} if token else {}

    def get(path: str) -> _Reply:
        return _http(
            "GET", f"{endpoint}/latest/{path}", headers=headers, timeout=deadline.remaining()
        )

    try:
        first = get("meta-data/instance-id")
    except TimeoutError:
        raise _Failure(Diagnosis.TIMEOUT, DIAGNOSIS_TEXT[Diagnosis.TIMEOUT]) from None
    except Exception as error:
        raise _classify(error, "instance metadata") from None
    if first.status != 200 or not first.body.strip():
        raise _instance_id_failure(first.status, token, token_problem)
    on_answer()

    notes: list[str] = []
    if token is None:
        notes.append(f"IMDSv2 token request {_problem_words(token_problem)}; IMDSv1 answered")
        if token_problem == "timed out":
            notes.append("a timed-out token usually means the IMDSv2 hop limit inside a container")
    paths = (
        "meta-data/placement/region",
        "meta-data/placement/availability-zone",
        "meta-data/iam/security-credentials/",
        "meta-data/iam/info",
        "dynamic/instance-identity/document",
    )
    answers = _gather({path: functools.partial(get, path) for path in paths}, deadline)
    region, zone, roles, info_text, document_text = (
        _answer_text(answers[path], path, notes) for path in paths
    )
    info = _optional_json(info_text, "iam/info", notes)
    document = _optional_json(document_text, "instance identity document", notes)
    role = next(iter((roles or "").split()), None)
    profile_arn = _text(info.get("InstanceProfileArn"))
    region = region or _text(document.get("region")) or _region_of_zone(zone)
    account = _text(document.get("accountId")) or _account_of_arn(profile_arn)
    credentials = _imds_role_credentials(get, role, notes) if role else None
    return (
        Ec2Probe(
            detected=True,
            imds_version="v2" if token else "v1",
            instance_id=first.body.strip(),
            region=region,
            availability_zone=zone,
            role_name=role,
            instance_profile_arn=profile_arn,
            account=account,
            instance_type=_text(document.get("instanceType")),
            endpoint=endpoint,
            diagnosis=Diagnosis.OK if role else Diagnosis.NO_ROLE,
            notes=tuple(notes),
        ),
        credentials,
    )


def _problem_words(problem: str | None) -> str:
    return "timed out" if problem == "timed out" else f"was refused ({problem})"


def _instance_id_failure(status: int, token: str | None, token_problem: str | None) -> _Failure:
    if token is None and status in (401, 403):
        if token_problem == "timed out":
            return _Failure(
                Diagnosis.TIMEOUT,
                f"{DIAGNOSIS_TEXT[Diagnosis.TIMEOUT]}; IMDSv1 is disabled (HTTP {status})",
            )
        return _Failure(
            Diagnosis.V1_DISABLED_TOKEN_REFUSED,
            f"{DIAGNOSIS_TEXT[Diagnosis.V1_DISABLED_TOKEN_REFUSED]} "
            f"(token: {token_problem}, IMDSv1: HTTP {status})",
        )
    return _Failure(
        Diagnosis.HTTP_ERROR, f"instance-id: HTTP {status}; not an EC2 metadata service"
    )


def _answer_text(answer: object, name: str, notes: list[str]) -> str | None:
    """A metadata path's text, or None (with a note saying why) when it is missing or failed."""
    if isinstance(answer, _Reply):
        if answer.status == 200 and answer.body.strip():
            return answer.body.strip()
        if answer.status != 404:
            notes.append(f"{name}: HTTP {answer.status}")
        return None
    if isinstance(answer, BaseException):
        notes.append(_classify(answer, name).message)
    return None


def _optional_json(text: str | None, what: str, notes: list[str]) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        return _json_object(text, what)
    except _Failure as failure:
        notes.append(failure.message)
        return {}


def _imds_role_credentials(
    get: Callable[[str], _Reply], role: str, notes: list[str]
) -> _RoleCredentials | None:
    try:
        reply = get(f"meta-data/iam/security-credentials/{role}")
        if reply.status != 200:
            notes.append(f"role credentials: HTTP {reply.status}")
            return None
        return _credentials_from(_json_object(reply.body, "role credentials"), "iam-role")
    except Exception as error:  # the role name stays known without its credentials
        notes.append(_classify(error, "role credentials").message)
        return None


def _credentials_from(data: Mapping[str, Any], source: str) -> _RoleCredentials:
    access_key_id = _text(data.get("AccessKeyId"))
    secret = _text(data.get("SecretAccessKey"))
    if not access_key_id or not secret:
        raise _Failure(Diagnosis.BAD_RESPONSE, f"{source} credentials: incomplete answer")
    token = _text(data.get("Token"))
    return _RoleCredentials(source, access_key_id, Secret(secret), Secret(token) if token else None)


def _region_of_zone(zone: str | None) -> str | None:
    return zone[:-1] if zone and zone[-1:].isalpha() and zone[-2:-1].isdigit() else None


def _account_of_arn(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


# --- ECS ---------------------------------------------------------------------------------------


def _container_credentials_request(env: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
    """URL and headers botocore's container provider would use, or None when not configured."""
    relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "").strip()
    full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "").strip()
    if relative:
        return f"{ECS_CREDENTIALS_HOST}{relative}", {}
    if not full:
        return None
    parts = urlsplit(full)
    if parts.scheme != "https" and not _container_host_allowed(parts.hostname or ""):
        raise _Failure(
            Diagnosis.ERROR,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, loopback or an ECS/EKS address",
        )
    headers: dict[str, str] = {}
    token_file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "").strip()
    token = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError:
            raise _Failure(
                Diagnosis.ERROR, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
            ) from None
    if token:
        if "\r" in token or "\n" in token:
            raise _Failure(Diagnosis.ERROR, "the container authorization token has a line break")
        headers["Authorization"] = token
    return full, headers


def _container_host_allowed(host: str) -> bool:
    if host in CONTAINER_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe_ecs(env: Mapping[str, str], timeout: float) -> tuple[EcsProbe, _RoleCredentials | None]:
    """Task metadata v4 (falling back to v3) and the task role from the container credentials."""
    metadata_uri = (
        env.get("ECS_CONTAINER_METADATA_URI_V4", "").strip()
        or env.get("ECS_CONTAINER_METADATA_URI", "").strip()
    )
    try:
        credentials_request = _container_credentials_request(env)
    except _Failure as failure:
        credentials_request = None
        early_error: str | None = failure.message
    else:
        early_error = None
    if not metadata_uri and credentials_request is None and early_error is None:
        return EcsProbe(
            error=DIAGNOSIS_TEXT[Diagnosis.ENV_ABSENT], diagnosis=Diagnosis.ENV_ABSENT
        ), None
    deadline = _Deadline(timeout)
    jobs: dict[str, Callable[[], object]] = {}
    if metadata_uri:
        task_url = f"{metadata_uri.rstrip('/')}/task"
        jobs["task"] = lambda: _http("GET", task_url, headers={}, timeout=deadline.remaining())
    if credentials_request is not None:
        url, headers = credentials_request
        jobs["credentials"] = lambda: _http(
            "GET", url, headers=headers, timeout=deadline.remaining()
        )
    answers = _gather(jobs, deadline)

    errors: list[str] = [early_error] if early_error else []
    notes: list[str] = []
    task: dict[str, Any] = {}
    task_failure: _Failure | None = None
    if metadata_uri:
        try:
            task = _json_from_answer(answers["task"], "task metadata")
        except _Failure as failure:
            task_failure = failure
            errors.append(failure.message)
    else:
        notes.append("ECS_CONTAINER_METADATA_URI_V4 absent: task details unknown")
    role_arn: str | None = None
    credentials: _RoleCredentials | None = None
    credentials_failure: _Failure | None = None
    if credentials_request is not None:
        try:
            data = _json_from_answer(answers["credentials"], "container credentials")
            credentials = _credentials_from(data, "container-role")
            role_arn = _text(data.get("RoleArn"))
            if role_arn is None:
                notes.append("the credentials endpoint did not say which role: role ARN unknown")
        except _Failure as failure:
            credentials_failure = failure
            errors.append(failure.message)
    elif early_error is None:
        notes.append("no task role: AWS_CONTAINER_CREDENTIALS_* absent")

    detected = bool(task) or credentials is not None
    first_failure = task_failure or credentials_failure
    if first_failure is not None and not detected:
        diagnosis = first_failure.diagnosis
    elif early_error and not detected:
        diagnosis = Diagnosis.ERROR
    else:
        diagnosis = Diagnosis.OK if credentials is not None else Diagnosis.NO_ROLE
    return (
        EcsProbe(
            detected=detected,
            cluster=_text(task.get("Cluster")),
            task_arn=_text(task.get("TaskARN")),
            family=_text(task.get("Family")),
            revision=_text(task.get("Revision")),
            launch_type=_text(task.get("LaunchType")),
            availability_zone=_text(task.get("AvailabilityZone")),
            role_arn=role_arn,
            has_task_credentials=credentials is not None,
            error="; ".join(errors) or None,
            diagnosis=diagnosis,
            notes=tuple(notes),
        ),
        credentials,
    )


def _json_from_answer(answer: object, what: str) -> dict[str, Any]:
    if isinstance(answer, BaseException):
        raise _classify(answer, what)
    if not isinstance(answer, _Reply):
        raise _Failure(Diagnosis.ERROR, f"{what}: no answer")
    if answer.status != 200:
        raise _Failure(Diagnosis.HTTP_ERROR, f"{what}: HTTP {answer.status}")
    return _json_object(answer.body, what)


# --- credential sources (names only) ----------------------------------------------------------


def inspect_credential_sources(env: Mapping[str, str]) -> CredentialSources:
    """The static methods of botocore's chain that are configured here; no values are kept.

    Runtime methods (container-role, iam-role) are added by detect_environment from its probes.
    """
    profile = env.get("AWS_DEFAULT_PROFILE") or env.get("AWS_PROFILE") or "default"
    notes: list[str] = []
    config = _profile_section(
        env.get("AWS_CONFIG_FILE", "~/.aws/config"), _config_section_names(profile), notes
    )
    shared = _profile_section(
        env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), (profile,), notes
    )
    found: list[str] = []
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        found.append("env")
    elif env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_SECRET_ACCESS_KEY"):
        notes.append("env: only one of AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY is set")
    if "role_arn" in config and ({"source_profile", "credential_source"} & config.keys()):
        found.append("assume-role")
    if (env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN")) or (
        "role_arn" in config and "web_identity_token_file" in config
    ):
        found.append("assume-role-with-web-identity")
    if {"sso_session", "sso_start_url"} & config.keys():
        found.append("sso")
    if "aws_access_key_id" in shared:
        found.append("shared-credentials-file")
    if "login_session" in config:
        found.append("login")
    if "credential_process" in config:
        found.append("custom-process")
    if "aws_access_key_id" in config:
        found.append("config-file")
    if env.get("AWS_CREDENTIAL_FILE") and Path(env["AWS_CREDENTIAL_FILE"]).expanduser().is_file():
        found.append("ec2-credentials-file")
    boto_files = [env["BOTO_CONFIG"]] if "BOTO_CONFIG" in env else ["/etc/boto.cfg", "~/.boto"]
    if any("aws_access_key_id" in _ini_section(name, "Credentials", notes) for name in boto_files):
        found.append("boto-config")
    if profile != "default" and not config and not shared:
        notes.append(f"profile {profile!r} is not in the config or credentials file")
    return CredentialSources(
        sources=tuple(found), first=found[0] if found else None, profile=profile, notes=tuple(notes)
    )


def _config_section_names(profile: str) -> tuple[str, ...]:
    return ("default", "profile default") if profile == "default" else (f"profile {profile}",)


def _profile_section(path: str, sections: tuple[str, ...], notes: list[str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for section in sections:
        merged.update(_ini_section(path, section, notes))
    return merged


def _ini_section(path: str, section: str, notes: list[str]) -> dict[str, str]:
    """Keys (values dropped to empty) of one section of an ini file; missing file → empty."""
    file = Path(os.path.expanduser(path))
    if not file.is_file():
        return {}
    parser = configparser.RawConfigParser()
    try:
        parser.read(file, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        notes.append(f"{file.name}: unreadable or malformed")
        return {}
    if not parser.has_section(section):
        return {}
    return {key: "" for key in parser.options(section)}


# --- identity ----------------------------------------------------------------------------------


def _botocore_session(env: Mapping[str, str], timeout: float) -> Any:
    """A botocore session that reads ``env`` and whose own IMDS lookups are bounded."""
    import botocore.credentials
    import botocore.session
    from botocore.configprovider import ConstantProvider

    session = botocore.session.Session()
    session.register_component("data_loader", _data_loader(env.get("AWS_DATA_PATH")))
    store = session.get_component("config_store")
    settings: dict[str, object] = {
        "profile": env.get("AWS_DEFAULT_PROFILE") or env.get("AWS_PROFILE") or None,
        "config_file": env.get("AWS_CONFIG_FILE", "~/.aws/config"),
        "credentials_file": env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        "metadata_service_timeout": timeout,
        "metadata_service_num_attempts": 1,
        "ec2_metadata_service_endpoint": env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or None,
    }
    for name, value in settings.items():
        store.set_config_provider(name, ConstantProvider(value))
    # We probed the container and IMDS ourselves; botocore must not probe them again, slowly.
    resolver = session.get_component("credential_provider")
    resolver.remove("container-role")
    resolver.remove("iam-role")
    replacements = {
        "env": botocore.credentials.EnvProvider(environ=env),
        "ec2-credentials-file": botocore.credentials.OriginalEC2Provider(environ=env),
        "boto-config": botocore.credentials.BotoProvider(environ=env),
    }
    resolver.providers = [replacements.get(p.METHOD, p) for p in resolver.providers]
    # A throwaway client loads the STS model and endpoint rules while the probes run.
    session.create_client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id="warm-up",
        aws_secret_access_key="warm-up",
    )
    return session


@functools.cache
def _data_loader(data_path: str | None) -> Any:
    """botocore's model loader, shared across detections so a re-run does not re-read models."""
    from botocore.loaders import create_loader

    return create_loader(data_path)


def _caller_identity(
    session: Any,
    env: Mapping[str, str],
    region: str,
    credentials: _RoleCredentials | None,
    timeout: float,
) -> Identity:
    """STS GetCallerIdentity with one attempt and short timeouts; never raises."""
    from botocore.config import Config

    source = credentials.source if credentials else None
    try:
        explicit: dict[str, str | None] = {}
        if credentials is not None:
            explicit = {
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret.reveal(),
                "aws_session_token": credentials.token.reveal() if credentials.token else None,
            }
        else:
            found = session.get_credentials()
            if found is None:
                return Identity(error="no credentials found")
            source = str(getattr(found, "method", "") or "") or None
        endpoint = None
        if not _is_true(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
            endpoint = env.get("AWS_ENDPOINT_URL_STS") or env.get("AWS_ENDPOINT_URL") or None
        client = session.create_client(
            "sts",
            region_name=region,
            endpoint_url=endpoint,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"total_max_attempts": 1, "mode": "standard"},
            ),
            **explicit,
        )
        answer = client.get_caller_identity()
    except Exception as error:  # reported as text; never the credentials
        return Identity(source=source, error=_identity_error(error))
    return Identity(
        account=_text(answer.get("Account")),
        arn=_text(answer.get("Arn")),
        user_id=_text(answer.get("UserId")),
        source=source,
    )


def _identity_error(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        code = _text(details.get("Code")) or "Unknown"
        message = _text(details.get("Message")) or ""
        return f"STS refused: {code}: {message}".rstrip(": ")
    name = type(error).__name__
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return "STS unreachable (offline, or blocked by a proxy/firewall)"
    if name == "ReadTimeoutError":
        return "STS did not answer in time"
    if name == "ProfileNotFound":
        return "the selected AWS profile does not exist (AWS_PROFILE / AWS_DEFAULT_PROFILE)"
    if name in ("PartialCredentialsError", "NoCredentialsError"):
        return "credentials are incomplete"
    return f"GetCallerIdentity failed: {name}"


# --- orchestration -----------------------------------------------------------------------------


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
        region = (
            env.get("AWS_REGION")
            or env.get("AWS_DEFAULT_REGION")
            or ec2.region
            or _region_of_zone(ecs.availability_zone)
            or "us-east-1"
        )
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


def _container_credentials_configured(env: Mapping[str, str]) -> bool:
    return any(
        env.get(name)
        for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
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


# --- text output -------------------------------------------------------------------------------


def format_detection(detection: Detection) -> str:
    """A plain-text summary for ``pa-aws-setup detect``."""
    lines: list[str] = []

    def row(label: str, value: object) -> None:
        lines.append(f"  {label:<18} {value if value else 'unknown'}")

    ec2 = detection.ec2
    if ec2.detected:
        lines.append(f"EC2 instance metadata: found (IMDS{ec2.imds_version}) at {ec2.endpoint}")
        row("instance", ec2.instance_id)
        row("instance type", ec2.instance_type)
        row("region", ec2.region)
        row("availability zone", ec2.availability_zone)
        row("instance role", ec2.role_name or "none attached")
        row("instance profile", ec2.instance_profile_arn)
        row("account", ec2.account)
    else:
        lines.append(f"EC2 instance metadata: not detected: {ec2.error}")
    lines.extend(f"  note: {note}" for note in ec2.notes)

    ecs = detection.ecs
    if ecs.detected:
        lines.append("ECS task metadata: found")
        row("cluster", ecs.cluster)
        row("task", ecs.task_arn)
        row("family:revision", f"{ecs.family}:{ecs.revision}" if ecs.family else None)
        row("launch type", ecs.launch_type)
        row("availability zone", ecs.availability_zone)
        row("task role", ecs.role_arn or ("unknown" if ecs.has_task_credentials else "none"))
    else:
        lines.append(f"ECS task metadata: not detected: {ecs.error}")
    if ecs.detected and ecs.error:
        lines.append(f"  problem: {ecs.error}")
    lines.extend(f"  note: {note}" for note in ecs.notes)

    credentials = detection.credentials
    if credentials.sources:
        lines.append(
            f"Credentials: {', '.join(credentials.sources)} "
            f"(botocore would use {credentials.first} first; profile {credentials.profile})"
        )
    else:
        lines.append(f"Credentials: none found (profile {credentials.profile})")
    lines.extend(f"  note: {note}" for note in credentials.notes)

    identity = detection.identity
    if identity.arn:
        lines.append(f"Identity (STS): {identity.arn}")
        row("account", identity.account)
        row("credentials used", identity.source)
    else:
        lines.append(f"Identity (STS): {identity.error or 'unknown'}")

    method = detection.recommended_method
    lines.append(f"Recommended: {method.title} ({method}): {detection.recommendation_reason}")
    return "\n".join(lines) + "\n"


__all__ = [
    "DIAGNOSIS_TEXT",
    "CredentialSources",
    "Detection",
    "Diagnosis",
    "Ec2Probe",
    "EcsProbe",
    "Identity",
    "ProbeUpdate",
    "detect_environment",
    "format_detection",
    "inspect_credential_sources",
    "probe_ec2",
    "probe_ecs",
    "recommend",
]

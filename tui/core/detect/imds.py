"""The EC2 instance metadata probe: IMDSv2 first, then IMDSv1, and the instance role.

Every metadata path is read concurrently and may be missing without hiding the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from tui.core.detect.model import (
    DIAGNOSIS_TEXT,
    Diagnosis,
    Ec2Probe,
    _RoleCredentials,
    region_of_zone,
)
from tui.core.detect.transport import (
    _classify,
    _ConnectTimeout,
    _credentials_from,
    _Deadline,
    _Failure,
    _gather,
    _http,
    _is_true,
    _json_object,
    _Reply,
    _text,
)

IMDS_ENDPOINT = "http://169.254.169.254"
IMDS_IPV6_ENDPOINT = "http://[fd00:ec2::254]"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"


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
    region = region or _text(document.get("region")) or region_of_zone(zone)
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


def _account_of_arn(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None

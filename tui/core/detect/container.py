"""The ECS probe: task metadata v4 (or v3) and the task role from the container credentials.

It reads the endpoints botocore's container provider would use, with the same host rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui.core.detect.model import DIAGNOSIS_TEXT, Diagnosis, EcsProbe, _RoleCredentials
from tui.core.detect.transport import (
    _classify,
    _credentials_from,
    _Deadline,
    _Failure,
    _gather,
    _http,
    _json_object,
    _Reply,
    _text,
)

ECS_CREDENTIALS_HOST = "http://169.254.170.2"
# Hosts botocore accepts for AWS_CONTAINER_CREDENTIALS_FULL_URI over plain http, besides loopback.
CONTAINER_HOSTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost")


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


def _container_credentials_configured(env: Mapping[str, str]) -> bool:
    return any(
        env.get(name)
        for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    )

"""Plain-``http.client`` requests with our own deadlines, failure diagnosis and answer parsing.

Avoiding botocore here keeps a host off AWS answering in milliseconds instead of seconds.
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tui.core.detect.model import Diagnosis, _RoleCredentials
from tui.core.errors import ErrorKind, ToolError
from tui.core.secret import Secret

MAX_BODY = 64 * 1024
# A probe thread that overran its own timeouts (a slow DNS lookup, say) is abandoned after this.
GRACE_S = 0.15


@dataclass(frozen=True)
class _Reply:
    status: int
    body: str


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())


class _ConnectTimeout(ToolError, TimeoutError):
    """Nothing accepted the connection in time (packets dropped), unlike a silent server."""

    kind = ErrorKind.AWS


class _Failure(ToolError):
    """A probe step failed; carries the diagnosis and a message free of secrets."""

    kind = ErrorKind.AWS

    def __init__(self, diagnosis: Diagnosis, message: str) -> None:
        super().__init__(message)
        self.diagnosis = diagnosis


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


def _credentials_from(data: Mapping[str, Any], source: str) -> _RoleCredentials:
    access_key_id = _text(data.get("AccessKeyId"))
    secret = _text(data.get("SecretAccessKey"))
    if not access_key_id or not secret:
        raise _Failure(Diagnosis.BAD_RESPONSE, f"{source} credentials: incomplete answer")
    token = _text(data.get("Token"))
    return _RoleCredentials(source, access_key_id, Secret(secret), Secret(token) if token else None)

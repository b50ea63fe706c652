"""Failures of Rundeck's HTTP API, one class per thing a user must do differently.

Every message is built here from the status, the ``errorCode`` and the request's method and
path; the token is never part of a request line we show, and the server's own 403 text (which
echoes the first characters of a token, RD ``grails-rundeck-data-shared/src/main/groovy/
rundeck/data/util/AuthenticationTokenUtils.groovy`` ``printable``) is never copied.
Error shapes: the standard ``{"error":true,"apiversion":N,"errorCode":…,"message":…,"args":[…]}``
(RD ``rundeckapp/grails-app/services/rundeck/services/ApiService.groovy`` ``renderErrorJson``)
and Key Storage's short ``{"error":"…"}`` (RD ``rundeckapp/grails-app/controllers/rundeck/
controllers/StorageController.groovy`` ``renderError``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.core.errors import ErrorKind, ToolError

UNSUPPORTED_VERSION_CODE = "api.error.api-version.unsupported"
UNAUTHORIZED_TOKEN_CODE = "unauthorized"
ITEM_UNAUTHORIZED_CODE = "api.error.item.unauthorized"
DOES_NOT_EXIST_CODE = "api.error.item.doesnotexist"

# What Rundeck prints for a token it refused: "(Token:abcde****)"; scrubbed from any text we keep.
_MASKED_TOKEN = re.compile(r"\(Token:[^)]*\)")


class RundeckApiError(ToolError):
    """A Rundeck API call failed; ``status`` and ``error_code`` say how when the server answered."""

    kind = ErrorKind.RUNDECK

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, status=status, error_code=error_code, **details)
        self.status = status
        self.error_code = error_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class RundeckRequestInvalid(RundeckApiError):
    """A request the client refuses before sending it (a bad path, an empty value)."""

    kind = ErrorKind.USAGE


class RundeckUnreachable(RundeckApiError):
    """Nothing answered at the URL: connection refused, unknown host, or the connection broke."""


class RundeckTimeout(RundeckUnreachable):
    """The server accepted the connection or was being dialled but did not answer in time."""


class RundeckTlsError(RundeckApiError):
    """The HTTPS handshake failed, usually because the server's certificate is not trusted."""


class NotRundeck(RundeckApiError):
    """Something answered, but not Rundeck's API: a redirect, a login page or other HTML."""


class RundeckForbidden(RundeckApiError):
    """403: the server refused the action (ACL denial); ``action`` and ``resource`` when it said."""

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        resource: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, action=action, resource=resource, **kwargs)
        self.action = action
        self.resource = resource


class RundeckTokenRejected(RundeckForbidden):
    """403 ``unauthorized``: the token is missing, wrong, expired or revoked."""


class UnsupportedApiVersion(RundeckApiError):
    """The server's newest API version is below the oldest this client (and Rundeck) accept."""

    def __init__(self, message: str, *, server_version: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, server_version=server_version, **kwargs)
        self.server_version = server_version


class RundeckNotFound(RundeckApiError):
    """404: the project, key or property does not exist (or the token may not read it)."""


class RundeckConflict(RundeckApiError):
    """409: a key or folder already exists at the path."""


class RundeckBadRequest(RundeckApiError):
    """400: the server refused the request's content."""


class RundeckServerError(RundeckApiError):
    """5xx, or any other status the client does not expect."""


@dataclass(frozen=True)
class ErrorBody:
    """What a Rundeck error body said, in either of its two shapes."""

    error_code: str | None = None
    message: str | None = None
    api_version: int | None = None
    args: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, data: bytes) -> ErrorBody | None:
        """The error body in ``data``, or None when it is not a JSON object with ``error``."""
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(parsed, dict) or "error" not in parsed:
            return None
        error = parsed.get("error")
        if isinstance(error, str):  # the short Key Storage form
            return cls(message=error)
        message = parsed.get("message")
        if isinstance(message, list):  # project config PUT reports a list of plugin errors
            message = "; ".join(str(item) for item in message)
        version = parsed.get("apiversion")
        raw_args = parsed.get("args")
        args = tuple(str(a) for a in raw_args) if isinstance(raw_args, list) else ()
        code = parsed.get("errorCode")
        return cls(
            error_code=code if isinstance(code, str) else None,
            message=str(message) if message is not None else None,
            api_version=version if isinstance(version, int) else None,
            args=args,
        )


def scrub(text: str, token: str | None = None) -> str:
    """``text`` without any masked or literal token in it."""
    text = _MASKED_TOKEN.sub("(token)", text)
    if token:
        text = text.replace(token, "****")
        if len(token) > 5:
            text = text.replace(token[:5] + "****", "****")
    return text


def error_for_status(
    status: int,
    data: bytes,
    *,
    method: str,
    where: str,
    headers: Mapping[str, str] | None = None,
    token: str | None = None,
) -> RundeckApiError:
    """The error for a ≥400 answer to ``method where`` (``where``: the URL, never with a token)."""
    body = ErrorBody.parse(data)
    said = scrub(body.message, token) if body and body.message else None
    code = body.error_code if body else None
    request = f"{method} {where}"
    common: dict[str, Any] = {"status": status, "error_code": code}
    if status == 403:
        if code == UNAUTHORIZED_TOKEN_CODE:
            return RundeckTokenRejected(
                f"Rundeck refused the API token for {request} (403): a bad or expired token. "
                "Create a new token in Rundeck (User profile → API tokens) and pass it again.",
                **common,
            )
        action, resource = _denied_action(body)
        if action:
            what = f"action {action.lower()!r} on {resource}" if resource else repr(action)
            return RundeckForbidden(
                f"Rundeck's access control denies the token {what} ({request}, 403). "
                "Grant it in an ACL policy, or use a token of a user who has it.",
                action=action,
                resource=resource,
                **common,
            )
        return RundeckForbidden(
            f"Rundeck refused {request} (403){': ' + said if said else ''}.",
            **common,
        )
    if status in (401, 407):
        return NotRundeck(
            f"{request} asked for HTTP authentication ({status}); Rundeck's API never does "
            "(it answers 403), so a proxy or single sign-on is in front: use Rundeck's own URL.",
            **common,
        )
    if status == 404:
        return RundeckNotFound(
            f"Rundeck answered {request} with 404 (not found){': ' + said if said else ''}.",
            **common,
        )
    if status == 409:
        return RundeckConflict(
            f"Rundeck answered {request} with 409 (conflict){': ' + said if said else ''}.",
            **common,
        )
    if status == 400:
        if code == UNSUPPORTED_VERSION_CODE:
            return UnsupportedApiVersion(
                f"Rundeck does not support the API version used for {request}: "
                f"{said or 'unsupported version'}.",
                server_version=body.api_version if body else None,
                **common,
            )
        return RundeckBadRequest(
            f"Rundeck refused {request} as a bad request (400){': ' + said if said else ''}.",
            **common,
        )
    return RundeckServerError(
        f"Rundeck failed on {request} with HTTP {status}{': ' + said if said else ''}.",
        **common,
    )


_DENIAL = re.compile(r'Not authorized for action "(?P<action>[^"]+)" for (?P<resource>.+)')


def _denied_action(body: ErrorBody | None) -> tuple[str | None, str | None]:
    """The action and resource of an ``api.error.item.unauthorized`` body.

    Args are ``[EVENT, "Path", path]`` for storage (RD ``StorageController.groovy``) and
    ``[action, type, name]`` for projects (RD ``rundeckapp/src/main/groovy/org/rundeck/web/
    ExceptionHandler.groovy``); the message template is RD ``messages.properties``
    ``api.error.item.unauthorized=Not authorized for action "{0}" for {1} {2}``.
    """
    if body is None:
        return None, None
    if body.error_code == ITEM_UNAUTHORIZED_CODE and len(body.args) >= 3:
        return body.args[0], f"{body.args[1].lower()} {body.args[2]}"
    if body.message:
        match = _DENIAL.search(body.message)
        if match:
            resource = match.group("resource").rstrip(". ")
            kind, _, name = resource.partition(" ")
            return match.group("action"), f"{kind.lower()} {name}" if name else resource
    return None, None

"""A typed client of Rundeck's HTTP API: version negotiation, Key Storage, per-key project config.

Contract: /work/shared/reference/rundeck-api.md §1–§4 (facts from RD = rundeck/rundeck). The
token goes only in the ``X-Rundeck-Auth-Token`` header, never the query string (RD
``rundeckapp/grails-app/controllers/rundeck/interceptors/SetUserInterceptor.groovy``); redirects
are never followed; there are no retries. There is deliberately no method that PUTs a project's
whole ``/config``: that replaces every key (RD ``ProjectController.groovy``
``apiProjectConfigPut``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

from tui.core.redact import shown
from tui.core.rundeck import ProjectNameError, validate_project_name
from tui.core.rundeck_api.errors import (
    ErrorBody,
    NotRundeck,
    RundeckRequestInvalid,
    RundeckTimeout,
    RundeckTlsError,
    RundeckUnreachable,
    UnsupportedApiVersion,
    error_for_status,
)
from tui.core.rundeck_api.models import (
    PASSWORD_CONTENT_TYPE,
    KeyMetadata,
    ProjectSummary,
    SystemInfo,
    check_config_key,
    key_storage_path,
    quote_path,
)
from tui.core.rundeck_api.url import normalize_base_url
from tui.core.secret import Secret

OUR_API_VERSION = 59
"""The newest version whose contract we read: RD's API_CURRENT_VERSION (``rundeckapp/src/main/
groovy/com/dtolabs/rundeck/app/api/ApiVersions.groovy``); a newer server is spoken to at 59."""
EARLIEST_API_VERSION = 14
"""RD's API_EARLIEST_VERSION: lower versions are refused by every current server."""
PROBE_API_VERSION = 9999
"""A version no server has: the 400 it earns carries the server's max (RD ApiVersionInterceptor)."""
CONNECT_BUDGET_SECONDS = 5.0
"""The whole of a connection check (probe + system/info) fits in this."""
DEFAULT_TIMEOUT_SECONDS = 20.0
TOKEN_HEADER = "X-Rundeck-Auth-Token"
_LOGIN_MARKERS = ("/user/login", "/user/error")


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    data: bytes


def negotiate_version(server_max: int, ours: int = OUR_API_VERSION) -> int:
    """The version to speak: ``min(ours, server_max)``; below 14 raises UnsupportedApiVersion."""
    if server_max < EARLIEST_API_VERSION:
        raise UnsupportedApiVersion(
            f"This Rundeck speaks API versions up to {server_max}; this tool needs at least "
            f"{EARLIEST_API_VERSION} (Key Storage and per-key project settings, and the oldest "
            "version current Rundeck still accepts). Upgrade Rundeck.",
            server_version=server_max,
        )
    return min(ours, server_max)


class RundeckClient:
    """Talks to one Rundeck server's API with one token; every failure is a RundeckApiError."""

    def __init__(
        self,
        base_url: str,
        token: Secret | None,
        *,
        ca_file: Path | str | None = None,
        api_version: int | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = normalize_base_url(base_url, origin="the client")
        self._token = token
        if ca_file is not None and not Path(ca_file).is_file():
            shown_name = shown(str(ca_file))
            raise RundeckRequestInvalid(f"The CA file {shown_name} (--ca-file) does not exist.")
        self.ca_file = None if ca_file is None else str(ca_file)
        self._timeout = timeout
        self._api_version = None if api_version is None else negotiate_version(api_version)
        self._pool = urllib3.PoolManager(
            num_pools=2,
            cert_reqs="CERT_REQUIRED",
            ca_certs=self.ca_file,
            retries=False,
        )

    def __repr__(self) -> str:
        return f"RundeckClient({self.base_url!r}, api_version={self._api_version!r})"

    def __enter__(self) -> RundeckClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._pool.clear()

    # -- versions and identity -------------------------------------------------------------

    @property
    def api_version(self) -> int:
        """The negotiated version; probes the server the first time it is needed."""
        if self._api_version is None:
            self._api_version = negotiate_version(self.probe_version())
        return self._api_version

    def probe_version(self, *, timeout: float = CONNECT_BUDGET_SECONDS) -> int:
        """The server's newest API version, from a token-less ``GET /api/9999/system/info``.

        The version check runs before authentication, so the 400 body's ``apiversion`` is the
        max (RD ``rundeckapp/grails-app/controllers/rundeck/interceptors/
        ApiVersionInterceptor.groovy``).
        """
        answer = self._send(
            "GET", f"/api/{PROBE_API_VERSION}/system/info", send_token=False, timeout=timeout
        )
        body = ErrorBody.parse(answer.data)
        if body is not None and body.api_version is not None:
            return body.api_version
        if answer.status == 200:
            try:
                return SystemInfo.from_json(
                    self._json(answer, "GET /system/info"), 0
                ).server_api_version
            except ValueError:
                pass
        raise NotRundeck(
            f"{self.base_url} answered the API version probe (HTTP {answer.status}) without an "
            "API version: it is not Rundeck's API, or a Rundeck older than 2.x. Check the URL.",
            status=answer.status,
        )

    def connect(self) -> SystemInfo:
        """Negotiate the version and verify the token, within CONNECT_BUDGET_SECONDS in all."""
        deadline = time.monotonic() + CONNECT_BUDGET_SECONDS
        server_max = self.probe_version(timeout=CONNECT_BUDGET_SECONDS)
        self._api_version = negotiate_version(server_max)
        remaining = max(0.1, deadline - time.monotonic())
        return self.system_info(timeout=remaining)

    def system_info(self, *, timeout: float | None = None) -> SystemInfo:
        """``GET /system/info`` with the token: Rundeck's version, and proof the token works."""
        answer = self._call("GET", self._api("system/info"), timeout=timeout)
        try:
            return SystemInfo.from_json(self._json(answer, "GET system/info"), self.api_version)
        except ValueError as exc:
            raise NotRundeck(
                f"{self.base_url}/api/{self.api_version}/system/info did not answer with "
                "Rundeck's system info; check the URL.",
                status=answer.status,
            ) from exc

    # -- projects ----------------------------------------------------------------------------

    def list_projects(self) -> list[ProjectSummary]:
        """Projects the token may read, by name (RD ``ProjectController.groovy`` apiProjectList)."""
        data = self._json(self._call("GET", self._api("projects")), "GET projects")
        if not isinstance(data, list):
            raise self._not_json("GET projects")
        return [ProjectSummary.from_json(item) for item in data if isinstance(item, Mapping)]

    def get_config(self, project: str) -> dict[str, str]:
        """A project's whole configuration, read-only (``GET /project/P/config``)."""
        data = self._json(self._call("GET", self._config_path(project)), "GET config")
        if not isinstance(data, Mapping):
            raise self._not_json("GET config")
        return {str(key): "" if value is None else str(value) for key, value in data.items()}

    def get_config_key(self, project: str, key: str) -> str | None:
        """One project setting, or None when the project has no such key."""
        path = self._config_path(project, key)
        answer = self._send("GET", path)
        if answer.status == 404:
            body = ErrorBody.parse(answer.data)
            if body is not None and body.args[:1] == ("property",):
                return None
        self._raise_for_status("GET", path, answer)
        data = self._json(answer, "GET config key")
        if not isinstance(data, Mapping) or "value" not in data:
            raise self._not_json("GET config key")
        return str(data["value"])

    def set_config_key(self, project: str, key: str, value: str) -> None:
        """Set one project setting (``PUT /config/KEY`` ``{"value":…}``); other keys stay."""
        if not isinstance(value, str) or value == "":
            raise RundeckRequestInvalid(
                f"Refusing to set {key!r} to an empty value (Rundeck answers 400); to clear a "
                "setting, delete it instead (delete_config_key)."
            )
        body = json.dumps({"value": value}).encode("utf-8")
        self._call(
            "PUT", self._config_path(project, key), body=body, content_type="application/json"
        )

    def delete_config_key(self, project: str, key: str) -> None:
        """Remove one project setting; Rundeck answers 204 also when it was absent."""
        self._call("DELETE", self._config_path(project, key))

    # -- key storage -------------------------------------------------------------------------

    def key_metadata(self, path: str) -> KeyMetadata | None:
        """The metadata of a key or folder, or None when there is none the token may read."""
        api_path = self._storage_path(key_storage_path(path))
        answer = self._send("GET", api_path)
        if answer.status == 404:
            return None
        return self._metadata(self._checked("GET", api_path, answer), "GET key")

    def create_password(self, path: str, secret: Secret) -> KeyMetadata:
        """Store a new password key (POST); a key or folder already there raises RundeckConflict."""
        return self._upload("POST", path, secret)

    def replace_password(self, path: str, secret: Secret) -> KeyMetadata:
        """Replace an existing key with a password (PUT); a missing key raises RundeckNotFound."""
        return self._upload("PUT", path, secret)

    def delete_key(self, path: str) -> None:
        """Delete a key (204); a missing one raises RundeckNotFound."""
        self._call("DELETE", self._storage_path(key_storage_path(path)))

    def list_keys(self, folder: str = "") -> list[KeyMetadata]:
        """The direct children of a folder the token may read; [] when there is no such folder."""
        relative = key_storage_path(folder, allow_root=True)
        api_path = self._storage_path(relative) + ("/" if relative else "")
        answer = self._send("GET", api_path)
        if answer.status == 404:
            return []
        listing = self._metadata(self._checked("GET", api_path, answer), "GET folder")
        if not listing.is_directory:
            raise RundeckRequestInvalid(f"keys/{relative} is a key, not a folder.")
        data = self._json(answer, "GET folder")
        resources = data.get("resources") if isinstance(data, Mapping) else None
        if not isinstance(resources, list):
            return []
        return [KeyMetadata.from_json(item) for item in resources if isinstance(item, Mapping)]

    def _upload(self, method: str, path: str, secret: Secret) -> KeyMetadata:
        relative = key_storage_path(path)
        value = secret.reveal()
        if not value:
            raise RundeckRequestInvalid("Refusing to store an empty password in Key Storage.")
        if "\n" in value or "\r" in value:
            raise RundeckRequestInvalid(
                "Refusing to store a password with a line break in it: paste it on one line."
            )
        # Bare MIME type, raw UTF-8, exact length: plugins demand the stored type be exactly
        # this (RD core/src/main/java/com/dtolabs/rundeck/core/storage/TypedStorageTreeImpl.java).
        answer = self._call(
            method,
            self._storage_path(relative),
            body=value.encode("utf-8"),
            content_type=PASSWORD_CONTENT_TYPE,
        )
        return self._metadata(answer, f"{method} key")

    # -- plumbing ----------------------------------------------------------------------------

    def _api(self, tail: str) -> str:
        return f"/api/{self.api_version}/{tail}"

    def _storage_path(self, relative: str) -> str:
        return self._api("storage/keys" + (f"/{quote_path(relative)}" if relative else ""))

    def _config_path(self, project: str, key: str | None = None) -> str:
        try:
            name = validate_project_name(project)
        except ProjectNameError as exc:
            raise RundeckRequestInvalid(str(exc)) from exc
        path = self._api(f"project/{quote(name, safe='')}/config")
        return path if key is None else f"{path}/{quote(check_config_key(key), safe='')}"

    def _metadata(self, answer: _Answer, what: str) -> KeyMetadata:
        data = self._json(answer, what)
        if not isinstance(data, Mapping) or "path" not in data:
            raise self._not_json(what)
        return KeyMetadata.from_json(data)

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> _Answer:
        answer = self._send(method, path, body=body, content_type=content_type, timeout=timeout)
        return self._checked(method, path, answer)

    def _checked(self, method: str, path: str, answer: _Answer) -> _Answer:
        self._raise_for_status(method, path, answer)
        return answer

    def _raise_for_status(self, method: str, path: str, answer: _Answer) -> None:
        if answer.status >= 400:
            raise error_for_status(
                answer.status,
                answer.data,
                method=method,
                where=self.base_url + path,
                headers=answer.headers,
                token=self._token.reveal() if self._token else None,
            )

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        send_token: bool = True,
        timeout: float | None = None,
    ) -> _Answer:
        """One request, no redirects, no retries; transport failures and non-API answers raise."""
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        if send_token and self._token:
            headers[TOKEN_HEADER] = self._token.reveal()
        if body is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"
            headers["Content-Length"] = str(len(body))
        seconds = self._timeout if timeout is None else timeout
        try:
            response = self._pool.request(
                method,
                url,
                body=body,
                headers=headers,
                redirect=False,
                retries=False,
                timeout=urllib3.Timeout(
                    total=seconds, connect=min(seconds, CONNECT_BUDGET_SECONDS), read=seconds
                ),
                preload_content=True,
            )
        except SSLError as exc:
            raise RundeckTlsError(
                f"The TLS handshake with {self.base_url} failed: {_reason(exc)}. If Rundeck's "
                "certificate is signed by a private CA, pass that CA's PEM file with --ca-file."
            ) from None
        except NewConnectionError as exc:
            raise RundeckUnreachable(
                f"Nothing answers at {self.base_url} ({_reason(exc)}): is Rundeck running, and is "
                "the URL right?"
            ) from None
        except (ConnectTimeoutError, ReadTimeoutError):
            raise RundeckTimeout(
                f"Rundeck at {self.base_url} did not answer {method} {path} within {seconds:g} s."
            ) from None
        except HTTPError as exc:
            raise RundeckUnreachable(
                f"The connection to {self.base_url} failed during {method} {path}: {_reason(exc)}."
            ) from None
        answer = _Answer(response.status, dict(response.headers.items()), response.data)
        self._refuse_non_api(method, url, answer)
        return answer

    def _refuse_non_api(self, method: str, url: str, answer: _Answer) -> None:
        """Raise NotRundeck for a redirect or an HTML page: a wrong URL, a proxy or SSO in front."""
        if 300 <= answer.status < 400:
            location = _without_query(_header(answer.headers, "Location"))
            to_login = any(marker in location for marker in _LOGIN_MARKERS)
            raise NotRundeck(
                f"{method} {url} was redirected (HTTP {answer.status})"
                + (f" to {location}" if location else "")
                + (
                    ": that is Rundeck's login page, so this is not the API's URL"
                    if to_login
                    else ""
                )
                + ". Wrong URL, or a proxy or single sign-on in front of Rundeck: use the URL "
                "Rundeck's API answers on directly.",
                status=answer.status,
            )
        kind = _header(answer.headers, "Content-Type").lower()
        if "html" in kind or answer.data.lstrip()[:1] == b"<":
            raise NotRundeck(
                f"{method} {url} answered with a web page (HTTP {answer.status}), not Rundeck's "
                "API JSON: wrong URL, or a proxy or single sign-on in front of Rundeck.",
                status=answer.status,
            )

    def _json(self, answer: _Answer, what: str) -> Any:
        try:
            return json.loads(answer.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise self._not_json(what) from None

    def _not_json(self, what: str) -> NotRundeck:
        return NotRundeck(
            f"{self.base_url} answered {what} with something other than Rundeck's JSON; "
            "check the URL (a proxy in front?)."
        )


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def _without_query(location: str) -> str:
    """A redirect target without its query (SSO targets carry state there)."""
    if not location:
        return ""
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path


def _reason(exc: HTTPError) -> str:
    """A short reason from a urllib3 error, without the pool's object reprs."""
    text = str(exc.args[-1] if exc.args else exc)
    return text.split(": ", 1)[-1][:200] if "object at 0x" in text else text[:200]

"""A loopback stand-in of Rundeck's HTTP API (Key Storage, project config, system info).

It keeps the contract of /work/shared/reference/rundeck-api.md §8, error cases included, the way
moto keeps AWS's: version routing before auth (RD ``rundeckapp/grails-app/controllers/rundeck/
interceptors/ApiVersionInterceptor.groovy``), 403 ``unauthorized`` for a missing or wrong token
(RD ``.../interceptors/AuthorizationInterceptor.groovy``), Key Storage (RD ``rundeckapp/
grails-app/controllers/rundeck/controllers/StorageController.groovy``), project config and the
project list (RD ``.../controllers/ProjectController.groovy``), ``system/info`` (RD
``.../controllers/ApiController.groovy``), errors (RD ``rundeckapp/grails-app/services/rundeck/
services/ApiService.groovy`` ``renderErrorJson``). It never logs or echoes a stored secret.
Not claimed: encryption at rest, cluster caches, plugin validation, ACL reload timing, XML.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tui.core.properties import load_properties
from tui.standins.rundeck_state import (
    PASSWORD_TYPE,
    KeyStore,
    StandInToken,
    StoredKey,
    mask_token,
    normalize_key_path,
    token_table,
)

MAX_API_VERSION = 59
EARLIEST_API_VERSION = 14
PROXY_LOGIN_REDIRECT = "login-redirect"
PROXY_HTML = "html"
# RD StorageParams.resourcePath constraint (rundeckapp/src/main/groovy/com/dtolabs/rundeck/app/
# support/StorageParams.groovy).
_RESOURCE_PATH = re.compile(r"^/?((?!\.\.(/|$))[a-zA-Z0-9,.+_-][\sa-zA-Z0-9,.+_-]*?/?)+$")
_HTML_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>"


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the stand-in saw it: never a body, a token or a query string."""

    method: str
    path: str
    content_type: str | None
    has_body: bool
    token_in_query: bool


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json;charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class RundeckStandIn:
    """A Rundeck API on 127.0.0.1 (port 0), seeded with projects and tokens; a context manager.

    ``proxy`` (None, ``"login-redirect"``, ``"html"``) and ``delay_seconds`` may be changed while
    it runs; the delay waits on an Event that ``stop()`` sets, so stopping is instant.
    """

    def __init__(
        self,
        *,
        projects: Mapping[str, Mapping[str, str]] | None = None,
        tokens: Iterable[StandInToken] = (),
        context_path: str = "",
        api_version: int = MAX_API_VERSION,
        rundeck_version: str = "5.7.0-20241021",
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.max_api_version = api_version
        self.rundeck_version = rundeck_version
        self.context_path = "/" + context_path.strip("/") if context_path.strip("/") else ""
        self.projects: dict[str, dict[str, str]] = {
            name: dict(config) for name, config in (projects or {}).items()
        }
        self._tokens = token_table(tokens)
        self.keys = KeyStore(clock)
        self.requests: list[LoggedRequest] = []
        self.proxy: str | None = None
        self.delay_seconds = 0.0
        self.storage_failure: str | None = None
        self.on_change: Callable[[], None] | None = None  # after each successful write
        self.lock = threading.RLock()
        self._ssl_context = ssl_context
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"RundeckStandIn(url={self.url if self._server else None!r})"

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL (scheme, 127.0.0.1, port, context path), as a client is given it."""
        if self._server is None:
            raise RuntimeError("the Rundeck stand-in is not started")
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}{self.context_path}"

    def start(self) -> RundeckStandIn:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        if self._ssl_context is not None:
            server.socket = self._ssl_context.wrap_socket(server.socket, server_side=True)
        server.stand_in = self  # type: ignore[attr-defined]
        self._stopping.clear()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> RundeckStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inspection (for tests and the demo) ----------------------------------------------

    def stored_meta(self, path: str) -> dict[str, str] | None:
        """The full stored metadata of a key (size included), or None."""
        with self.lock:
            stored = self.keys.files.get(normalize_key_path(path))
            return dict(stored.meta) if stored else None

    def read_password(self, path: str) -> bytes:
        """The secret as a plugin reads it (``readPassword``): fails unless the type is exact."""
        with self.lock:
            return self.keys.read_password(path)

    def project_config(self, project: str) -> dict[str, str]:
        with self.lock:
            return dict(self.projects[project])

    def seed_key(self, path: str, content: bytes, content_type: str = PASSWORD_TYPE) -> None:
        """Put a key in place as if an admin had uploaded it."""
        with self.lock:
            self.keys.write(normalize_key_path(path), content, content_type, len(content), "admin")

    def wait_interrupted(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    # -- the API ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """Answer one request (called by the handler thread)."""
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query)
        content_type = headers.get("content-type")
        with self.lock:
            self.requests.append(
                LoggedRequest(method, path, content_type, bool(body), "authtoken" in query)
            )
        if self.delay_seconds:
            self._stopping.wait(self.delay_seconds)
        if self._stopping.is_set():
            return _Reply(503, b"", None)
        if self.proxy == PROXY_HTML:
            return _Reply(200, _HTML_PAGE, "text/html;charset=utf-8")
        login = f"{self.url}/user/login"
        if self.proxy == PROXY_LOGIN_REDIRECT:
            return _Reply(302, b"", None, (("Location", login),))
        if not path.startswith(self.context_path + "/api/"):
            # application.groovy: every non-API path needs a login (auth.loginFormUrl).
            return _Reply(302, b"", None, (("Location", login),))
        api_path = path[len(self.context_path) :]
        match = re.fullmatch(r"/api/([^/]+)(/.*)?", api_path)
        version = match.group(1) if match else ""
        rest = (match.group(2) if match else None) or "/"
        earliest = EARLIEST_API_VERSION if self.max_api_version >= EARLIEST_API_VERSION else 1
        if not version.isdigit() or not earliest <= int(version) <= self.max_api_version:
            return self._error(
                400,
                "api.error.api-version.unsupported",
                [version, path, f"Current version: {self.max_api_version}"],
                message=f'Unsupported API Version "{version}". API Request: {path}. '
                f"Reason: Current version: {self.max_api_version}",
            )
        # SetUserInterceptor: the authtoken query parameter wins over the header.
        in_query = query.get("authtoken") or [""]
        token_text = in_query[0] or headers.get("x-rundeck-auth-token")
        token = self._tokens.get(token_text) if token_text else None
        if token is None:
            who = f"Token:{mask_token(token_text)}" if token_text else "unauthenticated"
            return _Reply(
                403,
                _json(
                    {
                        "error": True,
                        "apiversion": self.max_api_version,
                        "errorCode": "unauthorized",
                        "message": f"({who}) is not authorized for: {path}",
                    }
                ),
            )
        accept = headers.get("accept") or ""
        with self.lock:
            reply = self._route(method, rest, token, accept, content_type or "", body)
            if method != "GET" and 200 <= reply.status < 300 and self.on_change is not None:
                self.on_change()  # an observer (the demo keeps its state); no effect on the reply
            return reply

    def _route(
        self, method: str, rest: str, token: StandInToken, accept: str, ctype: str, body: bytes
    ) -> _Reply:
        if rest == "/system/info" and method == "GET":
            return self._system_info(token)
        if rest == "/projects" and method == "GET":
            return self._project_list(token)
        storage = re.fullmatch(r"/storage/keys(/.*)?", rest)
        if storage:
            relative = unquote(storage.group(1) or "").lstrip("/")
            return self._storage(method, relative, token, accept, ctype, body)
        config = re.fullmatch(r"/project/([^/]+)/config(?:/(.+))?", rest)
        if config:
            project, key = unquote(config.group(1)), config.group(2)
            return self._config(
                method, project, unquote(key) if key else None, token, accept, ctype, body
            )
        return self._error(
            404, "api.error.invalid.request", [rest], message=f"Invalid API Request: {rest}"
        )

    def _error(
        self, status: int, code: str, args: list[str], *, message: str | None = None
    ) -> _Reply:
        """The standard error shape (RD ApiService.renderErrorJson)."""
        payload: dict[str, Any] = {
            "error": True,
            "apiversion": self.max_api_version,
            "errorCode": code,
            "message": message or code,
        }
        if args:
            payload["args"] = args
        return _Reply(
            status, _json(payload), headers=(("X-Rundeck-API-Version", str(self.max_api_version)),)
        )

    def _short_error(self, status: int, text: str) -> _Reply:
        """Key Storage's short shape ``{"error": "…"}`` (RD StorageController.renderError)."""
        return _Reply(status, _json({"error": text}))

    def _system_info(self, token: StandInToken) -> _Reply:
        system: dict[str, Any] = {
            "rundeck": {
                "version": self.rundeck_version,
                "build": self.rundeck_version,
                "buildGit": f"v{self.rundeck_version}-0-g0000000",
                "node": "standin",
                "base": "/var/lib/rundeck",
                "apiversion": self.max_api_version,
                "serverUUID": "00000000-0000-4000-8000-000000000000",
            }
        }
        if token.system_read:
            system["executions"] = {"active": True, "executionMode": "active"}
        return _Reply(200, _json({"system": system}))

    def _project_list(self, token: StandInToken) -> _Reply:
        listing = []
        for name in sorted(self.projects):
            if not token.may_read_project(name):
                continue
            config = self.projects[name]
            entry = {
                "url": f"{self.url}/api/{self.max_api_version}/project/{name}",
                "name": name,
                "description": config.get("project.description", ""),
                "label": config.get("project.label", ""),
            }
            listing.append(entry)
        return _Reply(200, _json(listing))

    # -- key storage -------------------------------------------------------------------

    def _storage(
        self,
        method: str,
        relative: str,
        token: StandInToken,
        accept: str,
        ctype: str,
        body: bytes,
    ) -> _Reply:
        resource_path = f"/keys/{relative}"
        path = normalize_key_path(resource_path)
        valid = _RESOURCE_PATH.fullmatch(resource_path) is not None
        if method != "GET" and (not valid or len(resource_path) <= len("/keys/")):
            return self._invalid_path(resource_path)
        if not valid:
            return self._invalid_path(resource_path)
        readable = token.may_store("read", path)
        is_file = readable and self.keys.is_file(path)
        has_path = readable and (is_file or self.keys.is_directory(path))
        if method == "GET":
            if not has_path:
                return self._short_error(404, f"resource not found: {resource_path}")
            if not is_file:
                return _Reply(200, _json(self._render_directory(path, token)))
            return self._render_file(200, path, accept)
        if method == "POST":
            if is_file:
                return self._short_error(409, f"resource already exists: {resource_path}")
            if has_path:
                return self._short_error(409, f"directory already exists: {resource_path}")
            return self._write(201, "create", path, token, accept, ctype, body)
        if method == "PUT":
            if not is_file:
                return self._short_error(404, f"resource not found: {resource_path}")
            return self._write(200, "update", path, token, accept, ctype, body)
        if method == "DELETE":
            if not is_file:
                return self._error(
                    404,
                    "api.error.item.doesnotexist",
                    ["Resource", resource_path],
                    message=f"Resource does not exist: {resource_path}",
                )
            if not token.may_store("delete", path):
                return self._denied("DELETE", path)
            if self.storage_failure:
                return self._error(500, "api.error.unknown", [], message=self.storage_failure)
            del self.keys.files[path]
            return _Reply(204, b"", None)
        return _Reply(405, b"", None)

    def _invalid_path(self, resource_path: str) -> _Reply:
        detail = f"Property [resourcePath] with value [{resource_path}] is not valid"
        return self._error(
            400, "api.error.invalid.request", [detail], message=f"Invalid API Request: {detail}"
        )

    def _denied(self, event: str, path: str) -> _Reply:
        return self._error(
            403,
            "api.error.item.unauthorized",
            [event, "Path", path],
            message=f'Not authorized for action "{event}" for Path {path}',
        )

    def _write(
        self,
        status: int,
        action: str,
        path: str,
        token: StandInToken,
        accept: str,
        ctype: str,
        body: bytes,
    ) -> _Reply:
        if not token.may_store(action, path):
            return self._denied(action.upper(), path)
        if self.storage_failure:
            return self._error(500, "api.error.unknown", [], message=self.storage_failure)
        # postResource/putResource store request.contentType as sent and request.contentLength.
        self.keys.write(path, body, ctype, len(body), token.user)
        return self._render_file(status, path, accept)

    def _render_file(self, status: int, path: str, accept: str) -> _Reply:
        """RD renderResourceFile: metadata, or 403 when the masked content is asked for."""
        stored = self.keys.files[path]
        stored_type = stored.meta.get("Rundeck-content-type", "")
        if stored_type and stored_type in accept and stored.masked:
            return self._short_error(403, "unauthorized")
        # feature.publicKeysDownload.enabled defaults to false: content is never streamed.
        return _Reply(status, _json(self._resource_json(path, stored)))

    def _resource_json(self, path: str, stored: StoredKey | None) -> dict[str, Any]:
        meta: dict[str, str] = {}
        if stored is not None:
            for key, value in stored.meta.items():
                if key == "Rundeck-content-size" and stored.masked:
                    continue  # RES_META_MASKED
                if value:
                    meta[key] = value
        return {
            "path": path,
            "type": "file" if stored is not None else "directory",
            "name": path.rsplit("/", 1)[-1] if stored is not None else None,
            "url": f"{self.url}/api/{self.max_api_version}/storage/{path}",
            "meta": meta,
        }

    def _render_directory(self, path: str, token: StandInToken) -> dict[str, Any]:
        listing = self._resource_json(path, None)
        children = [
            self._resource_json(child, None if is_dir else self.keys.files[child])
            for child, is_dir in self.keys.children(path)
            if token.may_store("read", child)
        ]
        if children:  # jsonRenderResource adds resources only when the list is not empty
            listing["resources"] = children
        return listing

    # -- project config ----------------------------------------------------------------

    def _config(
        self,
        method: str,
        project: str,
        key: str | None,
        token: StandInToken,
        accept: str,
        ctype: str,
        body: bytes,
    ) -> _Reply:
        if project not in self.projects:
            return self._error(
                404,
                "api.error.item.doesnotexist",
                ["Project", project],
                message=f"Project does not exist: {project}",
            )
        if not token.may_configure(project):
            return self._error(
                403,
                "api.error.item.unauthorized",
                ["configure", "Project", project],
                message=f'Not authorized for action "configure" for Project {project}',
            )
        config = self.projects[project]
        wants_text = "text/plain" in accept.lower() and "application/json" not in accept.lower()
        if key is None:
            if method == "GET":
                return self._config_reply(config, wants_text)
            if method == "PUT":
                parsed = self._parse_config_body(ctype, body)
                if isinstance(parsed, _Reply):
                    return parsed
                config.clear()  # apiProjectConfigPut → setFrameworkProjectConfig: replace all
                config.update(parsed)
                return self._config_reply(config, wants_text)
            return _Reply(405, b"", None)
        if method == "GET":
            if key not in config:
                return self._error(
                    404,
                    "api.error.item.doesnotexist",
                    ["property", key],
                    message=f"property does not exist: {key}",
                )
            if "application/json" in accept.lower():
                return _Reply(200, _json({"key": key, "value": config[key]}))
            return _Reply(200, config[key].encode("utf-8"), "text/plain;charset=utf-8")
        if method == "PUT":
            value = self._parse_value(ctype, body)
            if isinstance(value, _Reply):
                return value
            if not value:
                return self._error(
                    400,
                    "api.error.invalid.request",
                    ["value was not specified"],
                    message="Invalid API Request: value was not specified",
                )
            config[key] = value
            if wants_text:
                return _Reply(200, value.encode("utf-8"), "text/plain;charset=utf-8")
            return _Reply(200, _json({"key": key, "value": value}))
        if method == "DELETE":
            config.pop(key, None)  # removeFrameworkProjectConfigProperties: 204 even if absent
            return _Reply(204, b"", None)
        return _Reply(405, b"", None)

    def _config_reply(self, config: Mapping[str, str], wants_text: bool) -> _Reply:
        if wants_text:
            text = "".join(f"{k}={v}\n" for k, v in sorted(config.items()))
            return _Reply(200, text.encode("latin-1", "replace"), "text/plain;charset=utf-8")
        return _Reply(200, _json(dict(config)))

    def _parse_config_body(self, ctype: str, body: bytes) -> dict[str, str] | _Reply:
        if ctype.lower().startswith("text/plain"):
            return load_properties(body.decode("latin-1"))
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._bad_json()
        if not isinstance(parsed, dict):
            return self._bad_json()
        return {str(k): "" if v is None else str(v) for k, v in parsed.items()}

    def _parse_value(self, ctype: str, body: bytes) -> str | _Reply:
        if ctype.lower().startswith("text/plain"):
            return body.decode("utf-8", "replace")
        try:
            parsed = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError):
            return self._bad_json()
        value = parsed.get("value") if isinstance(parsed, dict) else None
        return "" if value is None else str(value)

    def _bad_json(self) -> _Reply:
        return self._error(
            400,
            "api.error.invalid.request",
            ["invalid JSON"],
            message="Invalid API Request: invalid JSON",
        )


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, asks the stand-in, writes the reply; logs nothing to stderr."""

    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        stand_in: RundeckStandIn = self.server.stand_in  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            reply = stand_in.handle(self.command, self.path, headers, body)
        except Exception as exc:  # an honest 500 rather than a dropped connection
            reply = _Reply(500, _json({"error": True, "message": type(exc).__name__}))
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.body and self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: a request line may carry ``?authtoken=``."""


def _json(payload: object) -> bytes:
    return json.dumps(payload).encode("utf-8")

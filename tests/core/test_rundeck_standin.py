"""The Rundeck API stand-in keeps the contract of rundeck-api.md §8, pinned against RD's source.

RD = rundeck/rundeck @ 2f047102; each test names the section and the file it reproduces. These
tests talk raw HTTP (http.client), never through our client, so they pin the server alone.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from tui.standins.rundeck_api import PROXY_HTML, PROXY_LOGIN_REDIRECT, RundeckStandIn
from tui.standins.rundeck_state import (
    PASSWORD_TYPE,
    STORAGE_ACTIONS,
    PasswordReadError,
    StandInToken,
    StorageRule,
)

ADMIN = "adminTOKEN0123456789abcdefghijkl"
READER = "readerTOKEN0123456789abcdefghijk"
PROJECT_ONLY = "projectTOKEN0123456789abcdefghi"
NO_READ = "noreadTOKEN0123456789abcdefghijk"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def standin() -> Iterator[RundeckStandIn]:
    tokens = [
        StandInToken.admin(ADMIN),
        StandInToken(
            READER, "reader", storage=(StorageRule("keys/.*", allow=frozenset({"read"})),)
        ),
        StandInToken(
            PROJECT_ONLY,
            "runner",
            storage=(
                StorageRule("keys/project/db1/.*", allow=STORAGE_ACTIONS, project="db1"),
                StorageRule("keys/aws/.*", allow=STORAGE_ACTIONS, project="db1"),
            ),
            configure=frozenset({"db1"}),
            read_projects=frozenset({"db1"}),
        ),
        StandInToken(
            NO_READ,
            "writer",
            storage=(StorageRule("keys/.*", allow=frozenset({"create", "update", "delete"})),),
        ),
    ]
    projects = {"db1": {"project.name": "db1", "project.description": "first"}, "db2": {}}
    with RundeckStandIn(projects=projects, tokens=tokens) as server:
        yield server


def call(
    server: RundeckStandIn,
    method: str,
    path: str,
    *,
    token: str | None = ADMIN,
    body: bytes | None = None,
    content_type: str | None = None,
    accept: str | None = "application/json",
) -> Answer:
    """One raw request; ``path`` is relative to the stand-in's base URL."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    headers = {}
    if token is not None:
        headers["X-Rundeck-Auth-Token"] = token
    if accept is not None:
        headers["Accept"] = accept
    if content_type is not None:
        headers["Content-Type"] = content_type
    try:
        connection.request(method, parts.path + path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def post_password(server: RundeckStandIn, path: str, value: bytes = b"s3cret", **kw: Any) -> Answer:
    kw.setdefault("content_type", PASSWORD_TYPE)
    return call(server, "POST", f"/api/59/storage/keys/{path}", body=value, **kw)


def test_version_is_checked_before_auth(standin: RundeckStandIn) -> None:
    """§4/§8.1: /api/9999 without a token → 400 unsupported with apiversion MAX (RD
    interceptors/ApiVersionInterceptor.groovy, order +25, before auth; messages.properties)."""
    answer = call(standin, "GET", "/api/9999/system/info", token=None)
    assert answer.status == 400
    body = answer.json()
    assert body["errorCode"] == "api.error.api-version.unsupported"
    assert body["apiversion"] == 59
    assert body["message"].endswith("Reason: Current version: 59")
    assert call(standin, "GET", "/api/13/system/info", token=None).status == 400
    assert call(standin, "GET", "/api/14/system/info", token=None).status == 403


def test_lower_max_version_server(standin: RundeckStandIn) -> None:
    """§0: an older server's max is lower (DOCS 5.7 → 48); versions above it are refused."""
    with RundeckStandIn(tokens=[StandInToken.admin(ADMIN)], api_version=48) as old:
        assert call(old, "GET", "/api/49/system/info").status == 400
        info = call(old, "GET", "/api/48/system/info").json()
        assert info["system"]["rundeck"]["apiversion"] == 48


def test_missing_or_wrong_token_is_403_unauthorized(standin: RundeckStandIn) -> None:
    """§2/§8.2: 403 errorCode unauthorized, never 401, never a redirect; the token is masked
    (RD interceptors/AuthorizationInterceptor.groovy, AuthenticationTokenUtils.printable)."""
    none = call(standin, "GET", "/api/59/system/info", token=None)
    assert none.status == 403
    assert none.json()["errorCode"] == "unauthorized"
    assert none.json()["message"] == "(unauthenticated) is not authorized for: /api/59/system/info"
    wrong = call(standin, "GET", "/api/59/system/info", token="wrongtokenvalue42")
    assert wrong.status == 403
    assert "(Token:wrong****)" in wrong.json()["message"]
    assert b"wrongtokenvalue42" not in wrong.body
    short = call(standin, "GET", "/api/59/system/info", token="abcde")
    assert "(Token:****)" in short.json()["message"]


def test_authtoken_query_wins_over_header(standin: RundeckStandIn) -> None:
    """§2: the query parameter takes precedence (RD interceptors/SetUserInterceptor.groovy)."""
    answer = call(standin, "GET", f"/api/59/system/info?authtoken=bogus{ADMIN}", token=ADMIN)
    assert answer.status == 403
    assert standin.requests[-1].token_in_query
    assert all("authtoken" not in r.path for r in standin.requests)


def test_non_api_paths_redirect_to_login_and_proxy_modes(standin: RundeckStandIn) -> None:
    """§2/§8.2: non-API paths need a login (RD conf/application.groovy auth.loginFormUrl);
    proxy mode answers everything with a 302 to the login page or an HTML 200."""
    answer = call(standin, "GET", "/menu/home")
    assert answer.status == 302
    assert answer.headers["Location"].endswith("/user/login")
    standin.proxy = PROXY_LOGIN_REDIRECT
    assert call(standin, "GET", "/api/59/system/info").status == 302
    standin.proxy = PROXY_HTML
    html = call(standin, "GET", "/api/59/system/info")
    assert html.status == 200
    assert "text/html" in html.headers["Content-Type"]


def test_context_path(standin: RundeckStandIn) -> None:
    """§5: the API root is <context>/api/<V>; outside the context is not the API."""
    with RundeckStandIn(tokens=[StandInToken.admin(ADMIN)], context_path="/rundeck/") as server:
        assert server.url.endswith("/rundeck")
        assert call(server, "GET", "/api/59/system/info").status == 200
        parts = urlsplit(server.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        connection.request("GET", "/api/59/system/info", headers={"X-Rundeck-Auth-Token": ADMIN})
        assert connection.getresponse().status == 302
        connection.close()


def test_system_info_shape(standin: RundeckStandIn) -> None:
    """§4/§8.3: system.rundeck.{version,build,buildGit,node,base,apiversion,serverUUID}
    (RD controllers/ApiController.groovy apiSystemInfo); extras only with system read."""
    rundeck = call(standin, "GET", "/api/59/system/info").json()["system"]["rundeck"]
    assert set(rundeck) == {
        "version",
        "build",
        "buildGit",
        "node",
        "base",
        "apiversion",
        "serverUUID",
    }
    reader = call(standin, "GET", "/api/59/system/info", token=READER).json()["system"]
    assert set(reader) == {"rundeck"}


def test_project_list(standin: RundeckStandIn) -> None:
    """GET /projects: a JSON array of {url,name,description,label} for readable projects, by name
    (RD controllers/ProjectController.groovy apiProjectList/basicProjectDetails)."""
    listing = call(standin, "GET", "/api/59/projects").json()
    assert [p["name"] for p in listing] == ["db1", "db2"]
    assert listing[0]["description"] == "first"
    assert listing[0]["url"] == f"{standin.url}/api/59/project/db1"
    assert [
        p["name"] for p in call(standin, "GET", "/api/59/projects", token=PROJECT_ONLY).json()
    ] == ["db1"]


def test_password_post_metadata(standin: RundeckStandIn) -> None:
    """§1/§8.4/§8.8: 201 + metadata; password → data-type + mask, no key-type, no size shown;
    path without a slash; url with MAX version even when asked at 40 (RD StorageController
    jsonRenderResource/getMeta/pathUrl, core/.../storage/KeyStorageLayer.java validate)."""
    answer = call(
        standin,
        "POST",
        "/api/40/storage/keys/project/db1/aws-secret",
        body=b"s3cret",
        content_type=PASSWORD_TYPE,
    )
    assert answer.status == 201
    body = answer.json()
    assert body["path"] == "keys/project/db1/aws-secret"
    assert body["type"] == "file" and body["name"] == "aws-secret"
    assert body["url"] == f"{standin.url}/api/59/storage/keys/project/db1/aws-secret"
    meta = body["meta"]
    assert meta["Rundeck-content-type"] == PASSWORD_TYPE
    assert meta["Rundeck-data-type"] == "password"
    assert meta["Rundeck-content-mask"] == "content"
    assert "Rundeck-key-type" not in meta
    assert "Rundeck-content-size" not in meta
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["Rundeck-content-creation-time"])
    assert standin.stored_meta("keys/project/db1/aws-secret")["Rundeck-content-size"] == "6"
    assert b"s3cret" not in answer.body
    assert standin.read_password("keys/project/db1/aws-secret") == b"s3cret"


def test_content_type_is_stored_as_sent(standin: RundeckStandIn) -> None:
    """§1/§8.9: a '; charset=' suffix is stored verbatim, matches no key type, and readPassword
    then fails (RD StorageController.postResource, core/.../storage/TypedStorageTreeImpl.java)."""
    post_password(standin, "bad", content_type=PASSWORD_TYPE + "; charset=utf-8")
    meta = standin.stored_meta("bad")
    assert meta is not None
    assert meta["Rundeck-content-type"] == PASSWORD_TYPE + "; charset=utf-8"
    assert "Rundeck-data-type" not in meta
    with pytest.raises(PasswordReadError, match="does not store a password"):
        standin.read_password("keys/bad")


def test_post_conflicts_are_short_form_409(standin: RundeckStandIn) -> None:
    """§1/§8.4: 409 {"error":"resource already exists: /keys/…"} or "directory already exists"
    (RD StorageController.postResource renderError); parents are implied."""
    assert post_password(standin, "a/b/c").status == 201
    again = post_password(standin, "a/b/c")
    assert again.status == 409
    assert again.json() == {"error": "resource already exists: /keys/a/b/c"}
    folder = post_password(standin, "a/b")
    assert folder.status == 409
    assert folder.json() == {"error": "directory already exists: /keys/a/b"}


def test_put_replaces_but_never_creates(standin: RundeckStandIn) -> None:
    """§1/§8.5: PUT on a missing key → 404 short form; on an existing one → 200 metadata
    (RD StorageController.putResource)."""
    missing = call(
        standin, "PUT", "/api/59/storage/keys/nope", body=b"x", content_type=PASSWORD_TYPE
    )
    assert missing.status == 404
    assert missing.json() == {"error": "resource not found: /keys/nope"}
    assert standin.stored_meta("nope") is None
    post_password(standin, "k")
    replaced = call(
        standin, "PUT", "/api/59/storage/keys/k", body=b"new", content_type=PASSWORD_TYPE
    )
    assert replaced.status == 200
    assert standin.read_password("k") == b"new"


def test_get_file_directory_and_masked_content(standin: RundeckStandIn) -> None:
    """§1/§8.6: Accept naming the stored type → 403 {"error":"unauthorized"}; */* → metadata;
    a folder lists resources; missing → 404 short (RD StorageController.renderResourceFile,
    renderDirectory, getResource)."""
    post_password(standin, "dir/one")
    post_password(standin, "dir/sub/two")
    asked = call(standin, "GET", "/api/59/storage/keys/dir/one", accept=PASSWORD_TYPE)
    assert asked.status == 403 and asked.json() == {"error": "unauthorized"}
    star = call(standin, "GET", "/api/59/storage/keys/dir/one", accept="*/*")
    assert star.status == 200 and star.json()["path"] == "keys/dir/one"
    listing = call(standin, "GET", "/api/59/storage/keys/dir/").json()
    assert listing["type"] == "directory" and listing["name"] is None
    assert [(r["path"], r["type"]) for r in listing["resources"]] == [
        ("keys/dir/one", "file"),
        ("keys/dir/sub", "directory"),
    ]
    root = call(standin, "GET", "/api/59/storage/keys").json()
    assert root["path"] == "keys" and root["resources"][0]["path"] == "keys/dir"
    missing = call(standin, "GET", "/api/59/storage/keys/dir/none")
    assert missing.status == 404 and missing.json() == {
        "error": "resource not found: /keys/dir/none"
    }


def test_delete(standin: RundeckStandIn) -> None:
    """§1/§8.7: 204; missing → 404 standard form api.error.item.doesnotexist
    (RD StorageController.deleteResource)."""
    post_password(standin, "gone")
    deleted = call(standin, "DELETE", "/api/59/storage/keys/gone")
    assert deleted.status == 204 and deleted.body == b""
    again = call(standin, "DELETE", "/api/59/storage/keys/gone")
    assert again.status == 404
    body = again.json()
    assert body["error"] is True and body["errorCode"] == "api.error.item.doesnotexist"
    assert body["message"] == "Resource does not exist: /keys/gone"


def test_bad_paths_are_400(standin: RundeckStandIn) -> None:
    """§1: only keys/ or a path failing StorageParams → 400 api.error.invalid.request
    (RD app/support/StorageParams.groovy, StorageController.requireRoot)."""
    for path in ("", "a/../b", "a/%24x", "a/%20lead"):
        answer = post_password(standin, path)
        assert answer.status == 400, path
        assert answer.json()["errorCode"] == "api.error.invalid.request"
    assert post_password(standin, "ok/inner%20space,.+_-").status == 201


def test_acl_read_gates_existence(standin: RundeckStandIn) -> None:
    """§1/§8.10: without read, GET/PUT/DELETE say 404 and POST skips the 409 check and meets
    the create check (RD core/.../storage/AuthRundeckStorageTree.java hasResource/hasPath)."""
    post_password(standin, "hidden")
    assert call(standin, "GET", "/api/59/storage/keys/hidden", token=NO_READ).status == 404
    put = call(
        standin,
        "PUT",
        "/api/59/storage/keys/hidden",
        token=NO_READ,
        body=b"x",
        content_type=PASSWORD_TYPE,
    )
    assert put.status == 404
    assert call(standin, "DELETE", "/api/59/storage/keys/hidden", token=NO_READ).status == 404
    assert post_password(standin, "hidden", token=NO_READ).status == 201  # no 409: it can't see it


def test_acl_denial_is_403_with_action_and_path(standin: RundeckStandIn) -> None:
    """§1/§8.10: no create/update/delete → 403 api.error.item.unauthorized, args
    [EVENT, "Path", path] (RD StorageController StorageAuthorizationException handlers)."""
    denied = post_password(standin, "project/db1/x", token=READER)
    assert denied.status == 403
    body = denied.json()
    assert body["errorCode"] == "api.error.item.unauthorized"
    assert body["args"] == ["CREATE", "Path", "keys/project/db1/x"]
    assert body["message"] == 'Not authorized for action "CREATE" for Path keys/project/db1/x'


def test_project_context_rule_only_covers_its_project_keys(standin: RundeckStandIn) -> None:
    """§6/§8.10: keys/project/<P>/ is checked in the app and in P's context, one allow suffices;
    other paths only in the app context (RD core/.../storage/
    ProjectKeyStorageContextProvider.java)."""
    assert post_password(standin, "project/db1/aws", token=PROJECT_ONLY).status == 201
    assert post_password(standin, "project/db2/aws", token=PROJECT_ONLY).status == 403
    assert post_password(standin, "aws/secret", token=PROJECT_ONLY).status == 403
    denied = StandInToken(
        "denyTOKEN0123456789abcdefghijklm",
        storage=(
            StorageRule(".*", allow=STORAGE_ACTIONS),
            StorageRule("keys/project/db1/.*", deny=frozenset({"create"}), project="db1"),
        ),
    )
    assert not denied.may_store("create", "keys/project/db1/aws")
    assert denied.may_store("create", "keys/other")


def test_project_config_auth_and_missing(standin: RundeckStandIn) -> None:
    """§3/§8.11: unknown project → 404 api.error.item.doesnotexist; no configure → 403
    api.error.item.unauthorized (RD ProjectController @RdAuthorizeProject,
    org/rundeck/web/ExceptionHandler.groovy)."""
    missing = call(standin, "GET", "/api/59/project/nope/config")
    assert missing.status == 404 and missing.json()["errorCode"] == "api.error.item.doesnotexist"
    denied = call(standin, "GET", "/api/59/project/db2/config", token=PROJECT_ONLY)
    assert denied.status == 403 and denied.json()["errorCode"] == "api.error.item.unauthorized"


def test_whole_config_put_replaces_every_key(standin: RundeckStandIn) -> None:
    """§3/§8.11: PUT /config replaces the whole config (RD ProjectController.apiProjectConfigPut
    → setFrameworkProjectConfig), so a client using it by accident loses keys."""
    answer = call(
        standin,
        "PUT",
        "/api/59/project/db1/config",
        body=b'{"only": "this"}',
        content_type="application/json",
    )
    assert answer.status == 200 and answer.json() == {"only": "this"}
    assert standin.project_config("db1") == {"only": "this"}
    bad = call(
        standin, "PUT", "/api/59/project/db1/config", body=b"{", content_type="application/json"
    )
    assert bad.status == 400


def test_config_key_endpoints(standin: RundeckStandIn) -> None:
    """§3/§8.11: PUT /config/KEY {"value"} merges, empty → 400; GET defaults to text/plain, JSON
    {"key","value"}; missing → 404; DELETE 204 even if absent (RD ProjectController
    apiProjectConfigKey*, services/FrameworkService.groovy
    removeFrameworkProjectConfigProperties)."""
    key = "/api/59/project/db1/config/project.aws.region"
    put = call(standin, "PUT", key, body=b'{"value": "eu-west-1"}', content_type="application/json")
    assert put.status == 200 and put.json() == {"key": "project.aws.region", "value": "eu-west-1"}
    assert standin.project_config("db1")["project.name"] == "db1"
    text = call(standin, "GET", key, accept=None)
    assert text.status == 200 and text.body == b"eu-west-1"
    assert text.headers["Content-Type"].startswith("text/plain")
    assert call(standin, "GET", key).json() == {"key": "project.aws.region", "value": "eu-west-1"}
    plain = call(standin, "PUT", key, body=b"us-east-1", content_type="text/plain")
    assert (
        plain.status == 200 and standin.project_config("db1")["project.aws.region"] == "us-east-1"
    )
    empty = call(standin, "PUT", key, body=b'{"value": ""}', content_type="application/json")
    assert empty.status == 400 and empty.json()["args"] == ["value was not specified"]
    assert call(standin, "DELETE", key).status == 204
    assert call(standin, "DELETE", key).status == 204
    missing = call(standin, "GET", key)
    assert missing.status == 404 and missing.json()["args"] == ["property", "project.aws.region"]


def test_request_log_never_holds_a_body_or_token(standin: RundeckStandIn) -> None:
    """§8 (stand-in duty): the log keeps method, path, content type, whether a body was sent."""
    post_password(standin, "logged", value=b"TOPSECRETVALUE")
    entry = standin.requests[-1]
    assert (entry.method, entry.path, entry.content_type, entry.has_body) == (
        "POST",
        "/api/59/storage/keys/logged",
        PASSWORD_TYPE,
        True,
    )
    dumped = repr(standin.requests) + repr(standin) + repr(vars(standin).get("tokens"))
    assert "TOPSECRETVALUE" not in dumped and ADMIN not in dumped


def test_delay_is_interrupted_by_stop() -> None:
    """A slow server (delay on a threading.Event) stops at once; the held request then ends."""
    server = RundeckStandIn(tokens=[StandInToken.admin(ADMIN)]).start()
    server.delay_seconds = 60
    outcome: list[object] = []

    def slow_call() -> None:
        try:
            outcome.append(call(server, "GET", "/api/59/system/info").status)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=slow_call)
    worker.start()
    while not server.requests:  # wait for the request to arrive, not for time to pass
        threading.Event().wait(0.01)
    server.stop()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert outcome

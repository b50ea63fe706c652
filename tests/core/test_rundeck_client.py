"""RundeckClient against the loopback Rundeck stand-in: negotiation, errors, Key Storage, config.

Contract: /work/shared/reference/rundeck-api.md §1–§5. Also URL discovery from files.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tui.core.errors import ErrorKind
from tui.core.rundeck_api import (
    CONNECT_BUDGET_SECONDS,
    OUR_API_VERSION,
    PASSWORD_CONTENT_TYPE,
    KeyMetadata,
    NotRundeck,
    RundeckApiError,
    RundeckBadRequest,
    RundeckClient,
    RundeckConflict,
    RundeckForbidden,
    RundeckNotFound,
    RundeckRequestInvalid,
    RundeckServerError,
    RundeckTimeout,
    RundeckTlsError,
    RundeckTokenRejected,
    RundeckUnreachable,
    UnsupportedApiVersion,
    UrlSource,
    discover_base_url,
    negotiate_version,
)
from tui.core.rundeck_api.errors import error_for_status
from tui.core.secret import Secret
from tui.standins.rundeck_api import PROXY_HTML, PROXY_LOGIN_REDIRECT, RundeckStandIn
from tui.standins.rundeck_state import StandInToken, StorageRule

ADMIN = "adminTOKEN0123456789abcdefghijkl"
READER = "readerTOKEN0123456789abcdefghijk"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def standin() -> Iterator[RundeckStandIn]:
    tokens = [
        StandInToken.admin(ADMIN),
        StandInToken(
            READER, "reader", storage=(StorageRule("keys/.*", allow=frozenset({"read"})),)
        ),
    ]
    projects = {"db1": {"project.name": "db1", "keep.me": "yes"}, "db2": {}}
    with RundeckStandIn(projects=projects, tokens=tokens) as server:
        yield server


def client_for(server: RundeckStandIn, token: str = ADMIN, **kw: object) -> RundeckClient:
    return RundeckClient(server.url, Secret(token), **kw)  # type: ignore[arg-type]


# -- versions and identity ----------------------------------------------------------------


def test_connect_negotiates_and_verifies_token(standin: RundeckStandIn) -> None:
    """§4: the probe needs no token; connect() then speaks min(ours, server max) = 59."""
    client = client_for(standin)
    assert client.probe_version() == 59
    info = client.connect()
    assert (info.server_api_version, info.api_version) == (59, 59)
    assert info.rundeck_version.startswith("5.7.0")
    probe, verify = standin.requests[-2:]
    assert probe.path == "/api/9999/system/info"
    assert verify.path == "/api/59/system/info"
    assert not any(r.token_in_query for r in standin.requests)


def test_older_server_gets_its_own_max() -> None:
    """§0: never hard-code 59; a 5.7 server (max 48) is spoken to at 48."""
    with RundeckStandIn(tokens=[StandInToken.admin(ADMIN)], api_version=48) as old:
        client = client_for(old)
        assert client.connect().api_version == 48
        assert client.list_keys() == []
        assert old.requests[-1].path == "/api/48/storage/keys"


def test_server_below_14_is_refused() -> None:
    """§0: API_EARLIEST_VERSION is 14; a server whose max is lower cannot be used."""
    with (
        RundeckStandIn(tokens=[StandInToken.admin(ADMIN)], api_version=12) as ancient,
        pytest.raises(UnsupportedApiVersion, match=r"up to 12.*at least 14") as caught,
    ):
        client_for(ancient).connect()
    assert caught.value.server_version == 12
    assert negotiate_version(70) == OUR_API_VERSION
    assert negotiate_version(14) == 14


def test_bad_token_is_rejected_without_echoing_it(standin: RundeckStandIn) -> None:
    """§2: 403 errorCode unauthorized → 'bad or expired token'; the server's '(Token:abcde****)'
    is not copied into our message."""
    wrong = "wrongTOKEN0123456789abcdefghijkl"
    with pytest.raises(RundeckTokenRejected, match="bad or expired token") as caught:
        client_for(standin, wrong).connect()
    text = str(caught.value) + repr(caught.value) + repr(caught.value.details)
    assert wrong not in text and wrong[:5] not in text
    assert caught.value.kind is ErrorKind.RUNDECK


def test_acl_denial_names_action_and_path(standin: RundeckStandIn) -> None:
    """§1: 403 api.error.item.unauthorized args [CREATE, Path, keys/…] → action and path."""
    with pytest.raises(RundeckForbidden, match="'create' on path keys/project/db1/aws") as caught:
        client_for(standin, READER).create_password("keys/project/db1/aws", Secret(SECRET))
    assert not isinstance(caught.value, RundeckTokenRejected)
    assert caught.value.action == "CREATE"


# -- key storage ---------------------------------------------------------------------------


def test_password_upload_is_exactly_what_plugins_read(standin: RundeckStandIn) -> None:
    """§1: bare Content-Type, raw UTF-8, no newline, real length → is_password; readPassword
    works (RD core/.../storage/TypedStorageTreeImpl.java)."""
    client = client_for(standin)
    meta = client.create_password("keys/project/db1/aws-secret", Secret(SECRET))
    upload = standin.requests[-1]
    assert (upload.method, upload.content_type) == ("POST", PASSWORD_CONTENT_TYPE)
    assert upload.path.endswith("/storage/keys/project/db1/aws-secret")
    assert meta.is_password and meta.path == "keys/project/db1/aws-secret"
    assert standin.read_password("keys/project/db1/aws-secret") == SECRET.encode()
    assert standin.stored_meta("keys/project/db1/aws-secret")["Rundeck-content-size"] == "40"
    fetched = client.key_metadata("project/db1/aws-secret")
    assert fetched is not None and fetched.is_password and fetched.modified
    replaced = client.replace_password("/keys/project/db1/aws-secret", Secret("other"))
    assert replaced.is_password and standin.read_password("project/db1/aws-secret") == b"other"


def test_is_password_needs_the_exact_type(standin: RundeckStandIn) -> None:
    """§1: a key stored as 'password; charset=utf-8' is not a password to plugins."""
    standin.seed_key("keys/wrong", b"x", PASSWORD_CONTENT_TYPE + "; charset=utf-8")
    meta = client_for(standin).key_metadata("wrong")
    assert meta is not None and not meta.is_password
    odd = KeyMetadata.from_json(
        {
            "path": "keys/x",
            "type": "file",
            "meta": {
                "Rundeck-data-type": "password",
                "Rundeck-content-type": PASSWORD_CONTENT_TYPE + ";charset=UTF-8",
            },
        }
    )
    assert not odd.is_password


def test_conflict_not_found_and_delete(standin: RundeckStandIn) -> None:
    """§1: 409 on a second POST, 404 on PUT/DELETE of a missing key, None/[] when absent."""
    client = client_for(standin)
    client.create_password("a/b", Secret("one"))
    with pytest.raises(RundeckConflict, match=r"409.*already exists"):
        client.create_password("a/b", Secret("two"))
    with pytest.raises(RundeckNotFound, match="404"):
        client.replace_password("a/missing", Secret("x"))
    assert standin.stored_meta("a/missing") is None
    assert [k.path for k in client.list_keys("keys/a")] == ["keys/a/b"]
    assert client.list_keys("nothing/here") == []
    client.delete_key("a/b")
    assert client.key_metadata("a/b") is None
    with pytest.raises(RundeckNotFound, match="does not exist"):
        client.delete_key("a/b")


def test_bad_paths_are_refused_before_sending(standin: RundeckStandIn) -> None:
    """§1 StorageParams: bad segments get a clear message and nothing is sent."""
    client = client_for(standin, api_version=59)
    before = len(standin.requests)
    for path in ("keys/", "", "a/../b", "a/$x", "a//b", " lead"):
        with pytest.raises(RundeckRequestInvalid):
            client.create_password(path, Secret("x"))
    with pytest.raises(RundeckRequestInvalid, match="empty"):
        client.create_password("ok", Secret(""))
    with pytest.raises(RundeckRequestInvalid, match="line break"):
        client.create_password("ok", Secret("x\n"))
    assert len(standin.requests) == before
    assert client.create_password("with space/and,comma+plus", Secret("x")).name == "and,comma+plus"


def test_server_error_and_bad_request_mapping(standin: RundeckStandIn) -> None:
    """§1/§2: a backend failure is 500 (standard shape); a 400 body maps to RundeckBadRequest."""
    standin.storage_failure = "disk full"
    with pytest.raises(RundeckServerError, match="500: disk full"):
        client_for(standin).create_password("x", Secret("y"))
    short = error_for_status(
        404, b'{"error":"resource not found: /keys/x"}', method="GET", where="u"
    )
    assert isinstance(short, RundeckNotFound) and "resource not found: /keys/x" in str(short)
    bad = error_for_status(
        400,
        b'{"error":true,"apiversion":59,"errorCode":"api.error.invalid.request","message":"m"}',
        method="PUT",
        where="u",
    )
    assert isinstance(bad, RundeckBadRequest) and bad.error_code == "api.error.invalid.request"
    assert isinstance(error_for_status(401, b"", method="GET", where="u"), NotRundeck)
    echoed = error_for_status(
        403, b'{"error":true,"message":"(Token:abcde****) is not allowed"}', method="GET", where="u"
    )
    assert isinstance(echoed, RundeckForbidden) and "abcde" not in str(echoed)


# -- project config ------------------------------------------------------------------------


def test_config_keys_one_at_a_time_never_whole_config(standin: RundeckStandIn) -> None:
    """§3: PUT /config/KEY merges; DELETE 204 also when absent; no whole-config PUT is sent."""
    client = client_for(standin)
    assert [p.name for p in client.list_projects()] == ["db1", "db2"]
    client.set_config_key("db1", "project.aws.secret_key_path", "keys/project/db1/aws-secret")
    assert client.get_config_key("db1", "project.aws.secret_key_path") == (
        "keys/project/db1/aws-secret"
    )
    assert client.get_config("db1")["keep.me"] == "yes"
    client.delete_config_key("db1", "project.aws.secret_key_path")
    client.delete_config_key("db1", "project.aws.secret_key_path")
    assert client.get_config_key("db1", "project.aws.secret_key_path") is None
    assert standin.project_config("db1") == {"project.name": "db1", "keep.me": "yes"}
    assert not any(r.method == "PUT" and r.path.endswith("/config") for r in standin.requests)
    assert not hasattr(client, "set_config") and not hasattr(client, "put_config")


def test_config_refusals(standin: RundeckStandIn) -> None:
    """§3: an empty value is refused client-side (use delete); unknown project → 404; bad names."""
    client = client_for(standin)
    with pytest.raises(RundeckRequestInvalid, match="delete"):
        client.set_config_key("db1", "project.aws.region", "")
    with pytest.raises(RundeckNotFound, match="Project does not exist: nope"):
        client.get_config_key("nope", "project.aws.region")
    with pytest.raises(RundeckRequestInvalid):
        client.set_config_key("../etc", "k", "v")
    with pytest.raises(RundeckRequestInvalid):
        client.set_config_key("db1", "bad key", "v")


# -- not Rundeck, slow, down, TLS ---------------------------------------------------------


def test_login_redirect_and_html_are_not_rundeck(standin: RundeckStandIn) -> None:
    """§2: a 3xx to /user/login or an HTML 200 means wrong URL / proxy / SSO, never success."""
    standin.proxy = PROXY_LOGIN_REDIRECT
    with pytest.raises(NotRundeck, match=r"redirected.*user/login.*proxy or single sign-on"):
        client_for(standin).connect()
    standin.proxy = PROXY_HTML
    with pytest.raises(NotRundeck, match="web page"):
        client_for(standin).connect()


def test_missing_context_path_is_not_rundeck() -> None:
    """§5: with a context path, <host>/api/… is a non-API path → 302 to the login page."""
    with RundeckStandIn(tokens=[StandInToken.admin(ADMIN)], context_path="rundeck") as server:
        assert client_for(server).connect().api_version == 59
        bare = server.url.removesuffix("/rundeck")
        with pytest.raises(NotRundeck, match="login page"):
            RundeckClient(bare, Secret(ADMIN)).connect()


def test_slow_server_fails_within_the_bound(standin: RundeckStandIn) -> None:
    """Connection checks are bounded (≤ 5 s in all); the upper bound below is generous."""
    standin.delay_seconds = 60
    started = time.monotonic()
    with pytest.raises(RundeckTimeout, match="did not answer"):
        client_for(standin).connect()
    assert time.monotonic() - started < CONNECT_BUDGET_SECONDS + 3


def test_server_down_is_unreachable() -> None:
    """Connection refused → RundeckUnreachable (nothing listens on a port we just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RundeckUnreachable, match="Nothing answers") as caught:
        RundeckClient(f"http://127.0.0.1:{port}", Secret(ADMIN)).connect()
    assert not isinstance(caught.value, RundeckTimeout)


def _make_ca_and_server_cert(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Private CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file = tmp_path / "server.pem"
    cert_file.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file)
    return ca_file, context


def test_tls_private_ca(tmp_path: Path) -> None:
    """HTTPS with a private CA: untrusted without --ca-file (checks never off), fine with it."""
    ca_file, context = _make_ca_and_server_cert(tmp_path)
    with RundeckStandIn(tokens=[StandInToken.admin(ADMIN)], ssl_context=context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with pytest.raises(RundeckTlsError, match="--ca-file"):
            RundeckClient(server.url, Secret(ADMIN)).connect()
        assert RundeckClient(server.url, Secret(ADMIN), ca_file=ca_file).connect().api_version == 59
    with pytest.raises(RundeckRequestInvalid, match="does not exist"):
        RundeckClient("https://127.0.0.1:1", Secret(ADMIN), ca_file=tmp_path / "none.pem")


def test_token_never_in_messages_or_reprs(standin: RundeckStandIn) -> None:
    """Secrets are radioactive: no failure text, detail or repr holds the token or its prefix."""
    failures: list[RundeckApiError] = []
    attempts = [
        lambda c: c.connect(),
        lambda c: c.create_password("k", Secret(SECRET)),
        lambda c: c.delete_key("missing"),
        lambda c: c.get_config("db2"),
    ]
    for token in (ADMIN, "bogusTOKEN0123456789abcdefghijkl", READER):
        client = client_for(standin, token)
        for attempt in attempts:
            try:
                attempt(client)
            except RundeckApiError as exc:
                failures.append(exc)
        assert token not in repr(client)
    standin.proxy = PROXY_HTML
    try:
        client_for(standin).connect()
    except RundeckApiError as exc:
        failures.append(exc)
    assert len(failures) >= 4
    for exc in failures:
        text = f"{exc} {exc!r} {exc.details!r}"
        for token in (ADMIN, READER, "bogusTOKEN0123456789abcdefghijkl", SECRET):
            assert token not in text and token[:5] + "****" not in text


# -- URL discovery -------------------------------------------------------------------------


def test_url_explicit_wins(tmp_path: Path) -> None:
    """--url, then RD_URL; a trailing /api/N and / are removed; bad URLs are refused."""
    found = discover_base_url("http://rd.example:4440/api/41/", env={"RD_URL": "http://x"})
    assert (found.url, found.source, found.origin, found.explicit) == (
        "http://rd.example:4440",
        UrlSource.EXPLICIT,
        "--url",
        True,
    )
    from_env = discover_base_url(env={"RD_URL": "https://rd/ctx"}, root=tmp_path)
    assert (from_env.url, from_env.origin) == ("https://rd/ctx", "RD_URL")
    with pytest.raises(RundeckRequestInvalid, match="http:// or https://"):
        discover_base_url("rd.example:4440", env={})
    with pytest.raises(RundeckRequestInvalid, match="query"):
        discover_base_url("http://rd?authtoken=x", env={})


def test_url_from_package_files(tmp_path: Path) -> None:
    """§5 deb/rpm: grails.serverURL in /etc/rundeck/rundeck-config.properties, then
    framework.server.url in framework.properties."""
    etc = tmp_path / "etc" / "rundeck"
    etc.mkdir(parents=True)
    (etc / "framework.properties").write_text("framework.server.url = http\\://fw.local:4440\n")
    found = discover_base_url(env={}, root=tmp_path)
    assert (found.url, found.source) == ("http://fw.local:4440", UrlSource.FRAMEWORK)
    assert not found.explicit and found.origin == str(etc / "framework.properties")
    (etc / "rundeck-config.properties").write_text("grails.serverURL=https://rd.local/rundeck/\n")
    found = discover_base_url(env={}, root=tmp_path)
    assert (found.url, found.source) == ("https://rd.local/rundeck", UrlSource.RUNDECK_CONFIG)


def test_url_launcher_default_port_and_context(tmp_path: Path) -> None:
    """§5 launcher: <base>/server/config/rundeck-config.properties; no URL there →
    http://localhost:<server.port><context-path>."""
    config = tmp_path / "server" / "config"
    config.mkdir(parents=True)
    (config / "rundeck-config.properties").write_text(
        "server.port=4441\nserver.servlet.context-path=/rd\ngrails.serverURL=${placeholder}\n"
    )
    found = discover_base_url(env={"RDECK_BASE": str(tmp_path)})
    assert (found.url, found.source) == ("http://localhost:4441/rd", UrlSource.DEFAULT)
    nothing = discover_base_url(env={}, root=tmp_path / "empty")
    assert nothing.url == "http://localhost:4440" and "default" in nothing.describe()


def test_core_package_imports_no_ui_or_aws_sdk() -> None:
    """tui.core.rundeck_api loads neither textual, rich nor boto3 (urllib3 is the transport)."""
    code = (
        "import sys, tui.core.rundeck_api\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'rich', 'boto3', 'botocore', 'requests')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd()
    )
    assert result.stdout.strip() == "[]"


def test_folder_metadata_and_listing_a_key(standin: RundeckStandIn) -> None:
    """§1: a folder's metadata has type directory and no name; listing a key is refused."""
    client = client_for(standin)
    client.create_password("project/db1/aws-secret", Secret("x"))
    folder = client.key_metadata("keys/project/db1")
    assert folder is not None and folder.is_directory and folder.name is None
    with pytest.raises(RundeckRequestInvalid, match="is a key, not a folder"):
        client.list_keys("project/db1/aws-secret")

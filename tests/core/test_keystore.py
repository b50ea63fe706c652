"""The key store against a real gnome-keyring: round trips, classification, refusals, errors.

The plaintext below never sits in a local variable of a test function, because the
tracebacks checked for it are formatted with every frame's locals.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import keyring.backend
import keyring.errors
import pytest
from keyring.backends import SecretService, chainer, fail, null

from tests.fixtures.keyring_service import SecretServiceSession
from tui.core.keystore import (
    CONTENT_TYPE,
    SERVICE,
    InsecureKeyringError,
    KeyPathError,
    KeyringLockedError,
    KeyringTimeoutError,
    KeyringUnavailableError,
    KeyStore,
    KeyStoreError,
    classify_backend,
    default_key_path,
    describe_remedies,
    describe_unlock,
    validate_key_path,
)
from tui.core.secret import Secret

SECRET_TEXT = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OTHER_SECRET_TEXT = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
PATH = "keys/project/ops/aws/secret-key"
WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def fixed_clock(*moments: datetime) -> Callable[[], datetime]:
    remaining = list(moments)
    return lambda: remaining.pop(0) if len(remaining) > 1 else remaining[0]


class PlaintextFileKeyring(keyring.backend.KeyringBackend):
    """Writes secrets as they are to a JSON file, like keyrings.alt.file.PlaintextKeyring.

    The constructor needs a file, so keyring's own backend discovery can never pick it.
    """

    priority = 0.5

    def __init__(self, file: Path) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.file = file

    def _items(self) -> dict[str, str]:
        return json.loads(self.file.read_text()) if self.file.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._items().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        items = self._items()
        items[f"{service}/{username}"] = password
        self.file.write_text(json.dumps(items))

    def delete_password(self, service: str, username: str) -> None:
        items = self._items()
        if items.pop(f"{service}/{username}", None) is None:
            raise keyring.errors.PasswordDeleteError("not found")
        self.file.write_text(json.dumps(items))


class AltPlaintextKeyring(PlaintextFileKeyring):
    """The same, under the identity of the real keyrings.alt class (not installed here)."""


AltPlaintextKeyring.__module__ = "keyrings.alt.file"
AltPlaintextKeyring.__qualname__ = AltPlaintextKeyring.__name__ = "PlaintextKeyring"


class VaultOfUnknownMake(PlaintextFileKeyring):
    """A third-party backend pa-aws-setup has never heard of, with a confident priority."""

    priority = 3


class LeakyKeyring(PlaintextFileKeyring):
    """A backend whose errors quote the password, the worst a third-party backend could do."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"cannot store {password!r} for {username}")

    def get_password(self, service: str, username: str) -> str | None:
        raise UnicodeDecodeError("utf-8", SECRET_TEXT.encode(), 3, 4, "invalid start byte")


def texts_of(error: BaseException, *, with_locals: bool = True) -> list[str]:
    """Every text form of an error: str, repr, traceback with causes, traceback with locals."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    if with_locals:
        report = traceback.TracebackException.from_exception(error, capture_locals=True)
        texts.append("".join(report.format()))
    return texts


def assert_secret_absent(error: BaseException, *, with_locals: bool = True) -> None:
    """No text form of ``error`` holds the secret or a piece of it, and nothing is chained."""
    assert error.__cause__ is None and error.__context__ is None
    for text in texts_of(error, with_locals=with_locals):
        for plaintext in (SECRET_TEXT, OTHER_SECRET_TEXT):
            assert plaintext not in text
            assert plaintext[:12] not in text and plaintext[-12:] not in text


# --- the real keyring -------------------------------------------------------------------------


def test_put_get_delete_round_trip_is_visible_to_another_client(
    secret_service_clean: SecretServiceSession,
) -> None:
    store = KeyStore(secret_service_clean.backend(), clock=fixed_clock(WHEN))
    metadata = store.put(PATH, Secret(SECRET_TEXT))
    assert metadata.path == PATH
    assert (metadata.key_type, metadata.content_type) == ("password", CONTENT_TYPE)
    assert metadata.content_type == "application/x-rundeck-data-password"
    assert (metadata.created, metadata.modified) == (WHEN, WHEN)
    assert metadata.backend == "SecretService Keyring"
    assert SECRET_TEXT not in repr(metadata)
    assert store.get(PATH) == Secret(SECRET_TEXT)
    assert store.exists(PATH)
    lookup = secret_service_clean.secret_tool("lookup", "service", SERVICE, "username", PATH)
    assert lookup.returncode == 0 and lookup.stdout == SECRET_TEXT

    assert store.delete(PATH) is True
    assert store.get(PATH) is None
    assert not store.exists(PATH)
    assert store.delete(PATH) is False
    gone = secret_service_clean.secret_tool("lookup", "service", SERVICE, "username", PATH)
    assert gone.returncode != 0 and gone.stdout == ""


def test_put_replaces_the_item_and_keeps_a_given_creation_time(
    secret_service_clean: SecretServiceSession,
) -> None:
    store = KeyStore(secret_service_clean.backend(), clock=fixed_clock(WHEN, LATER))
    store.put(PATH, Secret(SECRET_TEXT))
    metadata = store.put(PATH, Secret(OTHER_SECRET_TEXT), created=WHEN)
    assert (metadata.created, metadata.modified) == (WHEN, LATER)
    assert store.get(PATH) == Secret(OTHER_SECRET_TEXT)
    assert secret_service_clean.delete_items() == 1


def test_a_secret_stored_by_another_client_is_read(
    keystore: KeyStore, secret_service_clean: SecretServiceSession
) -> None:
    stored = secret_service_clean.secret_tool(
        "store",
        "--label=by secret-tool",
        "service",
        SERVICE,
        "username",
        PATH,
        input=OTHER_SECRET_TEXT,
    )
    assert stored.returncode == 0, stored.stderr
    assert keystore.get(PATH) == Secret(OTHER_SECRET_TEXT)
    assert keystore.get("keys/project/ops/aws/other-key") is None


def test_bad_paths_and_empty_secrets_change_nothing(
    keystore: KeyStore, secret_service_clean: SecretServiceSession
) -> None:
    for path in ("keys/../x", "/keys/aws/secret-key", "aws/secret-key", "keys/a b"):
        with pytest.raises(KeyPathError) as caught:
            keystore.put(path, Secret(SECRET_TEXT))
        assert_secret_absent(caught.value)
    with pytest.raises(KeyStoreError, match="empty secret"):
        keystore.put(PATH, Secret(""))
    with pytest.raises(TypeError, match="takes a Secret") as plain:
        keystore.put(PATH, OTHER_SECRET_TEXT)  # type: ignore[arg-type]
    assert OTHER_SECRET_TEXT not in str(plain.value)
    assert secret_service_clean.delete_items() == 0


def test_secret_service_is_secure_and_a_chainer_is_unwrapped(keystore: KeyStore) -> None:
    info = keystore.info()
    assert (info.name, info.module) == (
        "SecretService Keyring",
        "keyring.backends.SecretService.Keyring",
    )
    assert info.security == "secure" and info.recognised
    assert keystore.usability_problem() is None
    chained = KeyStore(chainer.ChainerBackend())  # type: ignore[no-untyped-call]
    first = chainer.ChainerBackend.backends[0]
    assert type(chained.backend) is type(first)
    assert chained.info().security == "secure"


def test_locked_collection_gives_how_to_unlock(locked_keyring: SecretServiceSession) -> None:
    store = KeyStore(locked_keyring.backend(), timeout=30)
    with pytest.raises(KeyringLockedError) as caught:
        store.put(PATH, Secret(SECRET_TEXT))
    message = str(caught.value)
    assert "is locked" in message and PATH in message
    assert describe_unlock() in message
    assert "gnome-keyring-daemon --replace --unlock --components=secrets" in message
    assert_secret_absent(caught.value)
    with pytest.raises(KeyringLockedError) as read:
        store.get(PATH)
    assert_secret_absent(read.value)
    assert locked_keyring.is_locked()
    locked_keyring.unlock()
    assert store.get(PATH) is None


def test_a_wedged_daemon_gives_a_timeout_not_a_hang(
    secret_service_clean: SecretServiceSession,
) -> None:
    store = KeyStore(secret_service_clean.backend(), timeout=1)
    secret_service_clean.daemon.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(KeyringTimeoutError) as caught:
            store.get(PATH)
    finally:
        secret_service_clean.daemon.send_signal(signal.SIGCONT)
    assert "did not answer within 1 s" in str(caught.value)
    assert isinstance(caught.value, KeyringUnavailableError)
    assert_secret_absent(caught.value)
    assert store.get(PATH) is None


# --- no keyring at all ------------------------------------------------------------------------


def test_without_a_session_bus_there_is_no_backend_and_the_error_says_why(
    no_session_bus: keyring.backend.KeyringBackend,
) -> None:
    assert isinstance(no_session_bus, fail.Keyring)
    store = KeyStore()
    assert store.info().security == "none"
    with pytest.raises(KeyringUnavailableError) as caught:
        store.put(PATH, Secret(SECRET_TEXT))
    message = str(caught.value)
    assert "DBUS_SESSION_BUS_ADDRESS" in message
    assert "dbus-run-session -- bash" in message
    assert "printf '%s' \"$PASS\" | gnome-keyring-daemon --unlock --components=secrets" in message
    assert "PYTHON_KEYRING_BACKEND=" in message
    assert_secret_absent(caught.value)
    for operation in (store.get, store.exists, store.delete):
        with pytest.raises(KeyringUnavailableError):
            operation(PATH)
    assert store.usability_problem() == message
    empty_chain = chainer.ChainerBackend()  # type: ignore[no-untyped-call]
    assert KeyStore(empty_chain).info().security == "none"


def test_a_bus_without_a_secret_service_is_unavailable(bus_without_keyring: str) -> None:
    detected = KeyStore()
    assert detected.info().security == "none"
    problem = detected.usability_problem()
    assert problem is not None and "neither running nor activatable" in problem
    forced = KeyStore(SecretService.Keyring(), timeout=30)  # type: ignore[no-untyped-call]
    assert forced.info().security == "secure"
    with pytest.raises(KeyringUnavailableError) as stored:
        forced.put(PATH, Secret(SECRET_TEXT))
    assert "could not be reached" in str(stored.value)
    assert "dbus-run-session -- bash" in str(stored.value)
    assert_secret_absent(stored.value)
    with pytest.raises(KeyringUnavailableError):
        forced.get(PATH)


def test_a_backend_setting_that_cannot_load_is_named(tmp_path: Path) -> None:
    """In a fresh process, as the CLI starts: keyring's first choice fails on the setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "PYTHON_KEYRING"))}
    env.update(
        PYTHON_KEYRING_BACKEND="tests.no_such_module.Keyring",
        XDG_CONFIG_HOME=str(tmp_path),
        PYTHONPATH=str(REPO),
    )
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_PROBLEM],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(
        "none: No usable keyring: PYTHON_KEYRING_BACKEND=tests.no_such_module.Keyring could "
        "not be loaded (ModuleNotFoundError)"
    )


SHOW_PROBLEM = """\
from tui.core.keystore import KeyStore
store = KeyStore()
print(f"{store.info().security}: {store.usability_problem()}")
"""


def test_the_remedy_commands_give_a_working_keyring(tmp_path: Path) -> None:
    """Runs the documented SSH recipe verbatim in a fresh bus, then stores, locks, unlocks."""
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    remedy = describe_remedies().splitlines()
    start = next(i for i, line in enumerate(remedy) if "dbus-run-session -- bash" in line)
    setup = [line.strip() for line in remedy[start + 1 : start + 4]]
    assert setup[0].startswith("read -rs") and setup[2] == "unset PASS"
    unlock = [line.strip() for line in describe_unlock().splitlines()[1:]]
    check = tmp_path / "check.py"
    check.write_text(REMEDY_CHECK)
    # bash reads its commands from the pipe, and `read` takes the line after it: the password.
    lines = [setup[0], "remedy-test-password", *setup[1:], f"{sys.executable} {check} store"]
    lines += [unlock[0], "remedy-test-password", *unlock[1:], f"{sys.executable} {check} read"]
    script = "\n".join([*lines, ""])
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DBUS_", "PYTHON_KEYRING", "XDG_", "DISPLAY", "WAYLAND"))
    }
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime), PYTHONPATH=str(REPO))
    result = subprocess.run(
        ["dbus-run-session", "--", "bash"],
        input=script,
        text=True,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stored; locked: KeyringLockedError" in result.stdout
    assert "read back after unlock" in result.stdout
    assert "remedy-test-password" not in result.stdout + result.stderr


REMEDY_CHECK = """\
import sys
import secretstorage
from tui.core.keystore import KeyStore, KeyringLockedError
from tui.core.secret import Secret

store = KeyStore(timeout=30)
assert store.info().security == "secure", store.info()
if sys.argv[1] == "store":
    store.put("keys/aws/secret-key", Secret("remedy-secret"))
    connection = secretstorage.dbus_init()
    secretstorage.get_default_collection(connection).lock()
    try:
        store.get("keys/aws/secret-key")
    except KeyringLockedError:
        print("stored; locked: KeyringLockedError")
else:
    assert store.get("keys/aws/secret-key") == Secret("remedy-secret")
    print("read back after unlock")
"""


# --- classification and opt-in ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "security", "recognised"),
    [
        (lambda tmp: fail.Keyring(), "none", True),  # type: ignore[no-untyped-call]
        (lambda tmp: null.Keyring(), "none", True),  # type: ignore[no-untyped-call]
        (lambda tmp: AltPlaintextKeyring(tmp / "k.json"), "insecure", True),
        (lambda tmp: PlaintextFileKeyring(tmp / "k.json"), "insecure", True),
        (lambda tmp: VaultOfUnknownMake(tmp / "k.json"), "insecure", False),
    ],
    ids=["fail", "null", "keyrings.alt-plaintext", "named-plaintext", "unknown"],
)
def test_backends_are_classified(
    make: Callable[[Path], keyring.backend.KeyringBackend],
    security: str,
    recognised: bool,
    tmp_path: Path,
) -> None:
    info = classify_backend(make(tmp_path))
    assert (info.security, info.recognised) == (security, recognised)
    assert info.reason


def test_the_real_keyrings_alt_identity_is_insecure(tmp_path: Path) -> None:
    info = classify_backend(AltPlaintextKeyring(tmp_path / "k.json"))
    assert info.module == "keyrings.alt.file.PlaintextKeyring"
    assert info.name == "file PlaintextKeyring"


@pytest.fixture
def plaintext_file(tmp_path: Path) -> Path:
    return tmp_path / "plaintext-keyring.json"


@pytest.mark.parametrize("backend_class", [AltPlaintextKeyring, VaultOfUnknownMake])
def test_insecure_backends_need_an_opt_in(
    backend_class: type[PlaintextFileKeyring], plaintext_file: Path
) -> None:
    store = KeyStore(backend_class(plaintext_file))
    problem = store.usability_problem()
    assert problem is not None and "--allow-insecure-keyring" in problem
    assert store.usability_problem(allow_insecure=True) is None
    with pytest.raises(InsecureKeyringError) as caught:
        store.put(PATH, Secret(SECRET_TEXT))
    assert "--allow-insecure-keyring" in str(caught.value)
    assert_secret_absent(caught.value)
    assert not plaintext_file.exists()

    store.put(PATH, Secret(SECRET_TEXT), allow_insecure=True)
    assert SECRET_TEXT in plaintext_file.read_text()  # what "insecure" means, shown
    assert store.get(PATH) == Secret(SECRET_TEXT)
    assert store.delete(PATH) and store.get(PATH) is None


def test_a_caller_may_declare_a_backend_secure(plaintext_file: Path) -> None:
    store = KeyStore(VaultOfUnknownMake(plaintext_file), assume_security="secure")
    assert store.info().security == "secure"
    store.put(PATH, Secret(SECRET_TEXT))
    assert store.exists(PATH)


def test_backend_errors_quoting_the_secret_are_not_repeated(plaintext_file: Path) -> None:
    store = KeyStore(LeakyKeyring(plaintext_file))
    with pytest.raises(KeyStoreError) as stored:
        store.put(PATH, Secret(SECRET_TEXT), allow_insecure=True)
    assert type(stored.value) is KeyStoreError
    assert "could not store the secret at" in str(stored.value) and "RuntimeError" in str(
        stored.value
    )
    assert_secret_absent(stored.value)
    with pytest.raises(KeyStoreError) as read:
        store.get(PATH)
    assert "UnicodeDecodeError" in str(read.value)
    assert_secret_absent(read.value)


# --- key paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "project", "expected"),
    [
        ("keys/aws/secret-key", None, "keys/aws/secret-key"),
        ("  keys/aws/secret-key\n", None, "keys/aws/secret-key"),
        ("keys/project/ops/aws/secret-key", None, "keys/project/ops/aws/secret-key"),
        ("keys/project/ops/aws/secret-key", "ops", "keys/project/ops/aws/secret-key"),
        ("keys/project/ops/prod.aws_key-2", "ops", "keys/project/ops/prod.aws_key-2"),
        ("keys/x", None, "keys/x"),
    ],
)
def test_good_key_paths(path: str, project: str | None, expected: str) -> None:
    assert validate_key_path(path, project=project) == expected


@pytest.mark.parametrize(
    ("path", "project", "message"),
    [
        ("", None, "empty"),
        ("   ", None, "empty"),
        ("aws/secret-key", None, "starts with keys/"),
        ("key/aws/secret-key", None, "starts with keys/"),
        ("/keys/aws/secret-key", None, "leading '/'"),
        ("keys", None, "starts with keys/"),
        ("keys/", None, "empty folder"),
        ("keys//aws", None, "empty folder"),
        ("keys/aws/", None, "empty folder"),
        ("keys/../x", None, "'..'"),
        ("keys/aws/..", None, "'..'"),
        ("keys/./aws", None, "'.'"),
        ("keys/project/ops/../web/aws", "ops", "'..'"),
        ("keys\\aws\\secret-key", None, "not '\\'"),
        ("keys/aws/secret key", None, "blanks"),
        ("keys/aws/secret\tkey", None, "blanks"),
        # '+' is a character Rundeck allows (StorageParams), as in a project named a+b.
        ("keys/aws/secret*key", None, "'*'"),
        ("keys/aws/clé", None, "'é'"),
        ("keys/aws/secret-key", "ops", "under keys/project/ops/"),
        ("keys/project/web/aws/secret-key", "ops", "under keys/project/ops/"),
        ("keys/project/ops", "ops", "under keys/project/ops/"),
        ("keys/project/opsx/aws", "ops", "under keys/project/ops/"),
    ],
)
def test_bad_key_paths_say_which_rule(path: str, project: str | None, message: str) -> None:
    with pytest.raises(KeyPathError, match=re.escape(message)):
        validate_key_path(path, project=project)


def test_key_path_errors_do_not_repeat_the_input() -> None:
    with pytest.raises(KeyPathError) as caught:
        validate_key_path(SECRET_TEXT, project=None)
    # The path is plain text, not a Secret, so it is in the validator's locals; only the
    # message and the traceback must not repeat it.
    assert_secret_absent(caught.value, with_locals=False)
    assert isinstance(caught.value, ValueError)


def test_default_key_paths_are_valid() -> None:
    assert default_key_path(None) == "keys/aws/secret-key"
    assert default_key_path("ops") == "keys/project/ops/aws/secret-key"
    assert validate_key_path(default_key_path("ops"), project="ops") == default_key_path("ops")
    assert validate_key_path(default_key_path(None), project=None) == default_key_path(None)


def test_a_project_with_a_plus_in_its_name_gets_its_default_key_path() -> None:
    """One project-name rule: a+b is a Rundeck project name, so its default path is valid."""
    from tui.core.rundeck import validate_project_name

    assert validate_project_name("a+b") == "a+b"
    path = default_key_path("a+b")
    assert validate_key_path(path, project="a+b") == "keys/project/a+b/aws/secret-key"


def test_a_system_key_path_under_a_project_folder_is_refused() -> None:
    """keys/project/<p>/ belongs to project p: a system key there would overwrite its secret."""
    with pytest.raises(KeyPathError, match="belongs to that project"):
        validate_key_path("keys/project/ops/aws/secret-key", project=None, system_scope=True)
    assert validate_key_path("keys/project/ops/aws/secret-key", project="ops") is not None

"""The OS keyring as a store of Rundeck "password" keys: paths, backend classification, errors.

The secret is stored under service ``pa-aws-setup`` with the Rundeck key-storage path as the
user name. It is revealed only inside the backend's ``set_password`` call, and no error this
module raises carries it: backend exceptions are translated, never chained.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import chainer, fail, null

from tui.core.errors import ErrorKind, ToolError
from tui.core.names import KEY_PATH_CHARACTER, is_project_name
from tui.core.secret import Secret

SERVICE = "pa-aws-setup"
KEY_TYPE = "password"
CONTENT_TYPE = "application/x-rundeck-data-password"
# Long enough for a person to answer a desktop unlock prompt; short enough that a wedged
# D-Bus daemon gives an error instead of a frozen wizard.
DEFAULT_TIMEOUT = 120.0

Security = Literal["secure", "insecure", "none"]
T = TypeVar("T")


# Backends that keep secrets encrypted at rest (an OS keychain, or a password-encrypted file),
# matched by exact class: a subclass may change how it stores, so it counts as unknown.
SECURE_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
        "keyrings.alt.file.EncryptedKeyring",
        "keyrings.alt.fernet.FernetKeyring",
        "keyrings.alt.pyfs.EncryptedKeyring",
        "keyrings.alt.pyfs.KeyczarKeyring",
        "keyrings.alt.Windows.EncryptedKeyring",
        "keyrings.alt.Windows.RegistryKeyring",
        "keyrings.alt.Gnome.Keyring",
        "keyrings.alt.kwallet.QtKeyring",
        "keyrings.cryptfile.cryptfile.CryptFileKeyring",
        "keyrings.cryptfile.chachafile.ChaChaFileKeyring",
        "keyrings.cryptfile.file.EncryptedKeyring",
    }
)
# Backends that write secrets to a file as they are, matched anywhere in the class's MRO.
PLAINTEXT_BACKENDS = frozenset(
    {
        "keyrings.alt.file.PlaintextKeyring",
        "keyrings.alt.pyfs.PlaintextKeyring",
        "keyrings.cryptfile.file.PlaintextKeyring",
    }
)
_PLAINTEXT_WORDS = ("plaintext", "unencrypted", "plain_text", "cleartext")


class KeyStoreError(ToolError):
    """A keyring operation that failed; the message is safe to show and never holds a secret."""

    kind = ErrorKind.KEYRING


class KeyringUnavailableError(KeyStoreError):
    """No usable keyring backend: the message names the cause and how to get one."""


class KeyringTimeoutError(KeyringUnavailableError):
    """The keyring did not answer in time, as when its D-Bus daemon is wedged."""


class KeyringLockedError(KeyStoreError):
    """The keyring is locked and could not be unlocked (no prompt, or the prompt dismissed)."""


class InsecureKeyringError(KeyStoreError):
    """The backend would keep the secret unencrypted, and nobody opted in to that."""


class KeyPathError(KeyStoreError, ValueError):
    """A key-storage path Rundeck would not accept, or one outside the project's folder."""

    kind = ErrorKind.USAGE


@dataclass(frozen=True)
class BackendInfo:
    """What a keyring backend is and how safely it keeps secrets, with the reason why."""

    name: str
    module: str
    security: Security
    reason: str
    recognised: bool


@dataclass(frozen=True)
class KeyMetadata:
    """What Rundeck records beside a stored key, for the key this store just wrote."""

    path: str
    key_type: str
    content_type: str
    created: datetime
    modified: datetime
    backend: str


def default_key_path(project: str | None) -> str:
    """The key-storage path offered when the user gives none."""
    if project is None:
        return "keys/aws/secret-key"
    return f"keys/project/{project}/aws/secret-key"


def validate_key_path(path: str, *, project: str | None, system_scope: bool = False) -> str:
    """The path with surrounding blanks removed, or a KeyPathError saying which rule it breaks.

    A project's key lives under ``keys/project/<project>/``; a system-scope key never does
    (that folder belongs to the project, whose secret it would overwrite).

    Messages describe the rule rather than repeat the input, in case a secret was pasted there.
    """
    candidate = path.strip()
    example = default_key_path(project)
    if not candidate:
        raise KeyPathError(f"The key-storage path is empty; for example {example}.")
    if "\\" in candidate:
        raise KeyPathError("A key-storage path separates folders with '/', not '\\'.")
    if any(character.isspace() for character in candidate):
        raise KeyPathError("A key-storage path cannot contain spaces or other blanks.")
    refused = sorted({c for c in candidate if not KEY_PATH_CHARACTER.fullmatch(c)})
    if refused:
        shown = " ".join(repr(c) for c in refused[:5])
        raise KeyPathError(
            f"A key-storage path has only letters, digits, '.', ',', '+', '_', '-' and '/'; "
            f"this one also has {shown}."
        )
    if candidate.startswith("/keys/"):
        raise KeyPathError(f"Write the key-storage path without the leading '/': {example}.")
    if not candidate.startswith("keys/"):
        raise KeyPathError(f"A key-storage path starts with keys/, as in {example}.")
    segments = candidate.split("/")
    if "" in segments:
        raise KeyPathError(
            "A key-storage path has no empty folder names: no '//' and no '/' at the end."
        )
    if any(segment in (".", "..") for segment in segments):
        raise KeyPathError("A key-storage path cannot contain '.' or '..' folders.")
    if system_scope and candidate.startswith("keys/project/"):
        raise KeyPathError(
            "keys/project/<name>/ belongs to that project: a system-wide key goes elsewhere, "
            f"as in {example}."
        )
    if project is not None:
        if not is_project_name(project):
            raise KeyPathError("The project name is not one Rundeck accepts.")
        folder = f"keys/project/{project}/"
        if not candidate.startswith(folder) or len(segments) < 4:
            raise KeyPathError(
                f"A key for project {project} must be stored under {folder}, as in {example}."
            )
    return candidate


def describe_remedies() -> str:
    """How to get a usable keyring, for the CLI and the wizard to show when there is none."""
    return (
        "pa-aws-setup stores the secret through the Python keyring library. Either:\n"
        "  - use GNOME Keyring (the Secret Service) on a D-Bus session bus. A desktop session\n"
        "    has one; an SSH session usually does not. Start both for one shell, then run\n"
        "    pa-aws-setup from that shell (packages: gnome-keyring and dbus):\n"
        "        dbus-run-session -- bash\n"
        "        read -rs -p 'Keyring password: ' PASS; echo\n"
        "        printf '%s' \"$PASS\" | gnome-keyring-daemon --unlock --components=secrets\n"
        "        unset PASS\n"
        "    The first time, this creates the login keyring with that password; later it\n"
        "    unlocks it. (printf is a shell builtin, so the password is in no command line.)\n"
        "  - or choose a backend that encrypts, for example after pip install keyrings.cryptfile:\n"
        "        export PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring\n"
        "python3 -m keyring --list-backends shows the backends this machine offers."
    )


def describe_unlock() -> str:
    """How to unlock a locked keyring, on a desktop and over SSH."""
    return (
        "On a desktop, answer the unlock prompt, or unlock the Login keyring in Passwords and "
        "Keys (seahorse). Over SSH no prompt can be shown; in the shell that runs the keyring, "
        "restart its daemon with the login keyring unlocked:\n"
        "    read -rs -p 'Keyring password: ' PASS; echo\n"
        "    printf '%s' \"$PASS\" | gnome-keyring-daemon --replace --unlock --components=secrets\n"
        "    unset PASS"
    )


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _priority(backend: keyring.backend.KeyringBackend) -> float | None:
    try:
        return float(type(backend).priority)
    except Exception:
        return None


def _has_backends(backend: keyring.backend.KeyringBackend) -> bool:
    try:
        return bool(getattr(backend, "backends", ()))
    except Exception:
        return False


def classify_backend(backend: keyring.backend.KeyringBackend) -> BackendInfo:
    """Say how safely ``backend`` keeps secrets: secure, insecure or none.

    Backends not known to encrypt count as insecure, so a third-party or home-made backend is
    used only with the same opt-in as a plaintext file: being wrong the other way would put
    an AWS secret in an unprotected file without anyone having agreed to it.
    """
    cls = type(backend)
    module = _qualified_name(cls)
    name = str(cls.name)

    def info(security: Security, reason: str, recognised: bool = True) -> BackendInfo:
        return BackendInfo(name, module, security, reason, recognised)

    if isinstance(backend, fail.Keyring):
        return info("none", "keyring found no usable backend")
    if isinstance(backend, null.Keyring):
        return info("none", "the null backend discards every secret")
    if isinstance(backend, chainer.ChainerBackend) and not _has_backends(backend):
        return info("none", "keyring's chainer has no backends to chain")
    lineage = {_qualified_name(base) for base in cls.__mro__}
    if lineage & PLAINTEXT_BACKENDS or any(word in module.lower() for word in _PLAINTEXT_WORDS):
        return info("insecure", "it writes secrets to a file unencrypted")
    if module in SECURE_BACKENDS:
        return info("secure", "it keeps secrets encrypted at rest")
    priority = _priority(backend)
    if priority is not None and priority < 1:
        reason = "it is not known to encrypt, and keyring marks it as not recommended"
    else:
        reason = "it is not a backend pa-aws-setup knows to encrypt secrets"
    return info("insecure", reason, recognised=False)


def _secret_service_problem() -> str | None:
    """Why the Secret Service backend is not usable here, in keyring's own words."""
    try:
        from keyring.backends import SecretService

        SecretService.Keyring.priority  # noqa: B018  (raises with the reason when not viable)
    except Exception as error:
        return str(error)[:300].rstrip(".") or type(error).__name__
    return None


def _load_problem(error: Exception) -> str:
    """Why keyring could not load a backend, naming the setting that chose it."""
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    if chosen:
        return f"PYTHON_KEYRING_BACKEND={chosen} could not be loaded ({type(error).__name__})"
    return f"keyring could not load its configured backend ({type(error).__name__})"


def _default_clock() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


class _Timeout(ToolError):
    """Internal: a backend call that did not return in time."""

    kind = ErrorKind.KEYRING

    def __init__(self) -> None:
        super().__init__("the keyring did not answer in time")


class KeyStore:
    """Rundeck password keys in one keyring backend, with errors that are safe to show.

    Keyring's chainer is unwrapped to the backend it would write to, so reads, writes and
    deletes reach one store and the classification describes the store holding the secret.
    Every backend call runs with a bounded wait (``timeout`` seconds, None for no bound).
    """

    def __init__(
        self,
        backend: keyring.backend.KeyringBackend | None = None,
        clock: Callable[[], datetime] = _default_clock,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        assume_security: Security | None = None,
    ) -> None:
        self._load_problem: str | None = None
        if backend is None:
            try:
                backend = keyring.get_keyring()
            except Exception as error:
                self._load_problem = _load_problem(error)
                backend = fail.Keyring()  # type: ignore[no-untyped-call]
        if isinstance(backend, chainer.ChainerBackend) and _has_backends(backend):
            backend = next(iter(backend.backends))
        self._backend = backend
        self._clock = clock
        self._timeout = timeout
        self._info = classify_backend(backend)
        if assume_security is not None:
            self._info = BackendInfo(
                self._info.name,
                self._info.module,
                assume_security,
                "its security was declared by the caller",
                True,
            )

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        return self._backend

    def info(self) -> BackendInfo:
        return self._info

    def usability_problem(self, *, allow_insecure: bool = False) -> str | None:
        """Why a secret cannot be stored here, or None; checked before planning a setup."""
        if self._info.security == "none":
            return str(self._unavailable())
        if self._info.security == "insecure" and not allow_insecure:
            return str(self._insecure())
        return None

    def put(
        self,
        path: str,
        secret: Secret,
        *,
        allow_insecure: bool = False,
        created: datetime | None = None,
    ) -> KeyMetadata:
        """Store ``secret`` as a Rundeck password at ``path``, replacing any secret there."""
        path = validate_key_path(path, project=None)
        if not isinstance(secret, Secret):
            raise TypeError("KeyStore.put takes a Secret, never a plain string")
        if not secret:
            raise KeyStoreError(f"Refusing to store an empty secret at {path}.")
        self._require_backend()
        if self._info.security == "insecure" and not allow_insecure:
            raise self._insecure()
        backend = self._backend
        self._call(
            "store the secret at",
            path,
            lambda: backend.set_password(SERVICE, path, secret.reveal()),
        )
        now = self._clock()
        return KeyMetadata(
            path=path,
            key_type=KEY_TYPE,
            content_type=CONTENT_TYPE,
            created=created or now,
            modified=now,
            backend=self._info.name,
        )

    def get(self, path: str) -> Secret | None:
        """The secret stored at ``path``, or None when there is none."""
        path = validate_key_path(path, project=None)
        self._require_backend()
        backend = self._backend
        value = self._call("read", path, lambda: backend.get_password(SERVICE, path))
        if value is None:
            return None
        if not isinstance(value, str):
            raise KeyStoreError(
                f"The keyring ({self._info.name}) returned something other than text for {path}."
            )
        return Secret(value)

    def exists(self, path: str) -> bool:
        return self.get(path) is not None

    def delete(self, path: str) -> bool:
        """Remove the secret at ``path``; False when there was none."""
        if self.get(path) is None:
            return False
        backend = self._backend
        self._call("delete", path, lambda: backend.delete_password(SERVICE, path))
        return True

    def _require_backend(self) -> None:
        if self._info.security == "none":
            raise self._unavailable()

    def _unavailable(self, cause: str | None = None) -> KeyringUnavailableError:
        if cause is None:
            cause = self._load_problem or f"{self._info.reason} ({self._info.module})"
            service_problem = _secret_service_problem()
            if service_problem:
                cause += f"; the Secret Service is not usable: {service_problem}"
                if "DBUS_SESSION_BUS_ADDRESS" in service_problem:
                    cause += " (there is no D-Bus session bus, as usual in an SSH session)"
        return KeyringUnavailableError(f"No usable keyring: {cause}.\n{describe_remedies()}")

    def _insecure(self) -> InsecureKeyringError:
        return InsecureKeyringError(
            f"The keyring backend {self._info.name} ({self._info.module}) would keep the "
            f"secret unprotected: {self._info.reason}. Use a keyring that encrypts, or pass "
            "--allow-insecure-keyring to accept this.\n" + describe_remedies()
        )

    def _call(self, operation: str, path: str, action: Callable[[], T]) -> T:
        """Run one backend call with a bounded wait, translating any failure.

        The translated error is raised outside the ``except`` block so that it has no
        ``__context__``: the backend's exception, whose frames may hold the secret, is dropped.
        """
        try:
            return self._bounded(action)
        except Exception as error:
            problem = self._translate(error, operation, path)
        raise problem

    def _bounded(self, action: Callable[[], T]) -> T:
        if self._timeout is None:
            return action()
        outcome: list[T] = []
        failure: list[Exception] = []
        finished = threading.Event()

        def run() -> None:
            try:
                outcome.append(action())
            except Exception as error:
                failure.append(error)
            finally:
                finished.set()

        threading.Thread(target=run, name="pa-aws-setup-keyring", daemon=True).start()
        if not finished.wait(self._timeout):
            raise _Timeout
        if failure:
            raise failure[0]
        if not outcome:
            raise RuntimeError("the keyring call ended abnormally")
        return outcome[0]

    def _translate(self, error: Exception, operation: str, path: str) -> KeyStoreError:
        name = self._info.name
        if isinstance(error, _Timeout):
            timeout = self._timeout or 0
            maybe = " The secret may or may not have been stored." if "store" in operation else ""
            return KeyringTimeoutError(
                f"The keyring ({name}) did not answer within {timeout:g} s when asked to "
                f"{operation} {path}; its daemon may be stuck. Restart it and try again (for "
                "GNOME Keyring over SSH: printf '%s' \"$PASS\" | gnome-keyring-daemon --replace "
                f"--unlock --components=secrets).{maybe}"
            )
        if _is_locked(error):
            return KeyringLockedError(
                f"The keyring ({name}) is locked and was not unlocked, so pa-aws-setup could "
                f"not {operation} {path}.\n{describe_unlock()}"
            )
        if _is_unavailable(error):
            detail = self._detail(error)
            return self._unavailable(
                f"the keyring ({name}) could not be reached" + (f": {detail}" if detail else "")
            )
        detail = self._detail(error) or type(error).__name__
        return KeyStoreError(f"The keyring ({name}) could not {operation} {path}: {detail}.")

    def _detail(self, error: Exception) -> str:
        """The backend's own message, only where it cannot hold the secret; else nothing.

        Known backends raise these types with fixed texts or D-Bus error names; a decoding
        error or an unknown backend's message could quote the secret, so those are dropped.
        """
        if not self._info.recognised:
            return ""
        module = type(error).__module__
        if isinstance(error, OSError):
            return error.strerror or type(error).__name__
        if isinstance(error, keyring.errors.KeyringError) or module.startswith(
            ("secretstorage", "jeepney")
        ):
            return " ".join(str(error).split())[:300].rstrip(".")
        return ""


def _is_locked(error: Exception) -> bool:
    if isinstance(error, keyring.errors.KeyringLocked):
        return True
    if type(error).__module__.startswith("secretstorage") and type(error).__name__ in (
        "LockedException",
        "PromptDismissedException",
    ):
        return True
    return getattr(error, "name", None) == "org.freedesktop.Secret.Error.IsLocked"


def _is_unavailable(error: Exception) -> bool:
    if isinstance(error, keyring.errors.NoKeyringError | keyring.errors.InitError):
        return True
    if isinstance(error, ConnectionError | EOFError):
        return True
    return type(error).__name__ == "SecretServiceNotAvailableException"

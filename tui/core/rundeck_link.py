"""The connection to the Rundeck that serves this host: its URL, the API token, and whether
its API answers (a plan then writes project configuration and Key Storage through it).

- The URL: ``--url`` / ``RD_URL`` (explicit: not answering is an error), else discovered from
  the install (not answering within the bound: the run goes on offline, and says so).
- The token: ``RD_TOKEN``, ``--token-file`` (private), the wizard, or the OS keyring, where a
  run that verified a token keeps it under the URL it belongs to. Never in argv, a file of
  ours, JSON or a message: it is a ``Secret`` from the moment it is read.
- ``--offline`` (or the wizard's choice) skips the API: files and lines to paste, as before.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tui.core.errors import UsageProblem
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.rundeck_api import (
    CONNECT_BUDGET_SECONDS,
    NotRundeck,
    RundeckApiError,
    RundeckClient,
    RundeckTimeout,
    RundeckUnreachable,
    RundeckUrl,
    SystemInfo,
    discover_base_url,
    negotiate_version,
)
from tui.core.secret import Secret

TOKEN_ENV = "RD_TOKEN"  # the variable of Rundeck's own rd CLI
TOKEN_KEY_FOLDER = "keys/pa-aws-setup/rundeck-tokens"


@dataclass(frozen=True)
class ConnectionRequest:
    """How to reach Rundeck, as the admin asked (flags, environment, the wizard)."""

    url: str | None = None
    token: Secret | None = None
    ca_file: str | None = None
    offline: bool = False
    rdeck_base: str | None = None


@dataclass(frozen=True)
class RundeckLink:
    """A verified connection: the client, the server's versions, and where the URL came from."""

    client: RundeckClient
    url: RundeckUrl
    info: SystemInfo
    token_source: str

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url.url,
            "url_source": self.url.describe(),
            "rundeck_version": self.info.rundeck_version,
            "api_version": self.info.api_version,
            "token_source": self.token_source,
        }


@dataclass(frozen=True)
class Offline:
    """No API for this run, and why (asked for, or nothing answered at a discovered URL)."""

    reason: str

    def to_json(self) -> dict[str, object]:
        return {"offline": True, "reason": self.reason}


Connection = RundeckLink | Offline


def token_key_path(base_url: str) -> str:
    """The keyring entry of the token verified for ``base_url`` (a hash: a URL is no path)."""
    digest = hashlib.sha256(base_url.rstrip("/").encode("utf-8")).hexdigest()[:24]
    return f"{TOKEN_KEY_FOLDER}/{digest}"


def token_from_environment(env: Mapping[str, str] | None = None) -> Secret | None:
    """RD_TOKEN, taken out of the environment so no child process inherits it."""
    value = os.environ.pop(TOKEN_ENV, "") if env is None else env.get(TOKEN_ENV, "")
    value = value.strip()
    return Secret(value) if value else None


def read_token_file(path: Path) -> Secret:
    """A token file must be private, as a secret file is; its first line is the token."""
    import stat

    from tui.core.redact import shown

    name = shown(str(path))
    try:
        info = path.stat()
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
            raise UsageProblem(
                f"{name} is readable by group or others (mode {stat.S_IMODE(info.st_mode):o}); "
                f"a token file must be private: chmod 600 {name}"
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        reason = problem.strerror if isinstance(problem, OSError) else "not UTF-8 text"
        raise UsageProblem(f"Cannot read the token file {name}: {reason}.") from None
    lines = text.splitlines()
    token = lines[0].strip() if lines else ""
    if not token:
        raise UsageProblem(f"The token file {name} is empty.")
    return Secret(token)


def connect(
    request: ConnectionRequest,
    *,
    keystore: KeyStore | None = None,
    keystore_factory: Callable[[], KeyStore | None] | None = None,
    env: Mapping[str, str] | None = None,
    root: Path = Path("/"),
) -> Connection:
    """Reach Rundeck's API as ``request`` says, or say why this run is offline.

    The token-less version probe comes first, so a host where nothing answers never touches
    the keyring; only then is a token looked up there (``keystore``, or one made by
    ``keystore_factory``) when none was given.

    Raises RundeckApiError for an explicit URL that does not answer, a token that is
    refused, an unsupported version or a TLS failure; UsageProblem for a Rundeck that
    answers while no token was given.
    """
    if request.offline:
        return Offline("--offline was given: Rundeck's API is not used.")
    url = discover_base_url(request.url, env=env, rdeck_base=request.rdeck_base, root=root)
    deadline = time.monotonic() + CONNECT_BUDGET_SECONDS  # the checks, in all
    probe = RundeckClient(url.url, None, ca_file=request.ca_file)
    try:
        server_max = probe.probe_version()
    except (RundeckUnreachable, RundeckTimeout, NotRundeck) as problem:
        if url.explicit:
            raise
        return Offline(f"Nothing answered as Rundeck at {url.url} ({url.describe()}): {problem}")
    finally:
        probe.close()
    token, source = request.token, "given"
    if token is None:
        store = keystore if keystore is not None else (keystore_factory or _none)()
        token, source = _stored_token(store, url.url), "keyring"
    if token is None:
        raise UsageProblem(
            f"Rundeck answers at {url.url} ({url.describe()}), and no API token was given: "
            f"set {TOKEN_ENV}, pass --token-file FILE, or --offline to write files only."
        )
    client = RundeckClient(
        url.url, token, ca_file=request.ca_file, api_version=negotiate_version(server_max)
    )
    try:
        info = client.system_info(timeout=max(0.1, deadline - time.monotonic()))
    except RundeckApiError:
        client.close()
        raise
    return RundeckLink(client, url, info, source)


def _none() -> KeyStore | None:
    return None


def _stored_token(keystore: KeyStore | None, base_url: str) -> Secret | None:
    if keystore is None:
        return None
    try:
        return keystore.get(token_key_path(base_url))
    except KeyStoreError:
        return None


def remember_token(link: RundeckLink, token: Secret, keystore: KeyStore | None) -> bool:
    """Keep a verified token in the keyring under its URL; False when no keyring can."""
    if keystore is None or keystore.usability_problem() is not None:
        return False
    try:
        keystore.put(token_key_path(link.url.url), token)
    except KeyStoreError:
        return False
    return True

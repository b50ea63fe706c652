"""The outside world the wizard talks to, injected so tests and --demo can pass their own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.core.aws import CallerIdentity, ClientFactory
    from tui.core.detect import Detection, ProbeUpdate
    from tui.core.keystore import KeyStore
    from tui.core.rundeck import RundeckInstall
    from tui.core.rundeck_api import RundeckUrl
    from tui.core.rundeck_link import Connection, ConnectionRequest
    from tui.core.secret import Secret

ProgressCallback = Callable[["ProbeUpdate"], None]


@dataclass
class Services:
    """Everything with side effects; each is called from a worker thread, never the UI thread."""

    detect: Callable[[ProgressCallback], Detection]
    install: Callable[[], RundeckInstall]
    keystore: Callable[[], KeyStore]
    verify: Callable[[str, Secret, str | None], CallerIdentity]
    clock: Callable[[], datetime]
    rdeck_base: str | None = None
    allow_insecure_keyring: bool = False
    demo_root: Path | None = None
    # Makes the STS and IAM clients of Status and rotation; None: tui.core.aws.client.
    aws_client: ClientFactory | None = None
    # Finds the install at another base folder (an answers file may name one).
    locate_install: Callable[[str | None], RundeckInstall] | None = None
    # Rundeck's API: the URL the install at a base folder is served at (given the base, so
    # a folder typed on Detect is the one asked), and the connection to it (a token found
    # in the keyring for that URL is used; a verified typed one is kept there).
    # None: the wizard works on the files only, as offline.
    rundeck_url: Callable[[str | None], RundeckUrl] | None = None
    rundeck: Callable[[ConnectionRequest], Connection] | None = None

    def with_rdeck_base(self, rdeck_base: str) -> Services:
        """The same services, with the Rundeck install looked up at ``rdeck_base``."""
        locate = self.locate_install
        if locate is None:
            return self
        return replace(self, rdeck_base=rdeck_base, install=lambda: locate(rdeck_base))


def now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


def connect_with_keyring(
    request: ConnectionRequest,
    keystore: Callable[[], KeyStore],
    env: Mapping[str, str] | None = None,
) -> Connection:
    """``tui.core.rundeck_link.connect`` with the keyring, which keeps a verified token;
    ``env`` (default: this process's) may name RD_URL."""
    from tui.core.errors import ToolError
    from tui.core.rundeck_link import RundeckLink, connect, remember_token

    try:
        store: KeyStore | None = keystore()
    except ToolError:
        store = None
    connection = connect(request, keystore=store, env=env)
    if isinstance(connection, RundeckLink) and request.token is not None:
        remember_token(connection, request.token, store)
    return connection


def real_services(*, rdeck_base: str | None, allow_insecure_keyring: bool) -> Services:
    """Services bound to this machine: its metadata endpoints, keyring and Rundeck files."""

    def detect(progress: ProgressCallback) -> Detection:
        from tui.core.detect import detect_environment

        return detect_environment(on_progress=progress)

    def locate_install(base: str | None) -> RundeckInstall:
        from tui.core.rundeck import find_install

        return find_install(base)

    def keystore() -> KeyStore:
        from tui.core.keystore import KeyStore

        return KeyStore()

    def verify(access_key_id: str, secret: Secret, region: str | None) -> CallerIdentity:
        from tui.core.aws import caller_identity

        return caller_identity(access_key_id=access_key_id, secret=secret, region=region)

    def rundeck_url(base: str | None) -> RundeckUrl:
        from tui.core.rundeck_api import discover_base_url

        return discover_base_url(rdeck_base=base)

    return Services(
        detect=detect,
        install=lambda: locate_install(rdeck_base),
        keystore=keystore,
        verify=verify,
        clock=now,
        rdeck_base=rdeck_base,
        allow_insecure_keyring=allow_insecure_keyring,
        locate_install=locate_install,
        rundeck_url=rundeck_url,
        rundeck=lambda request: connect_with_keyring(request, keystore),
    )

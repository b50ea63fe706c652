"""The Rundeck connection options of apply, status and rotate, and opening the connection."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.errors import ToolError
from tui.services import Services

if TYPE_CHECKING:
    from tui.core.keystore import KeyStore
    from tui.core.rundeck_link import Connection


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Rundeck API (project configuration and Key Storage live in Rundeck's database)"
    )
    group.add_argument(
        "--url", metavar="URL", help="Rundeck's base URL (default: $RD_URL, then the install's)"
    )
    group.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the API token from FILE (mode 600); or set RD_TOKEN; never on the command line",
    )
    group.add_argument("--ca-file", metavar="FILE", help="trust this CA bundle for https")
    group.add_argument(
        "--offline", action="store_true", help="do not use Rundeck's API: files and lines only"
    )


def open_connection(options: argparse.Namespace, services: Services) -> Connection:
    """The connection the options ask for; a verified token is kept in the keyring."""
    from tui.core.rundeck_link import (
        ConnectionRequest,
        RundeckLink,
        connect,
        read_token_file,
        remember_token,
        token_from_environment,
    )

    token = token_from_environment()
    if getattr(options, "token_file", None):
        token = read_token_file(Path(options.token_file))
    request = ConnectionRequest(
        url=getattr(options, "url", None),
        token=token,
        ca_file=getattr(options, "ca_file", None),
        offline=getattr(options, "offline", False),
        rdeck_base=services.rdeck_base,
    )
    connection = connect(request, keystore_factory=lambda: _keystore(services))
    if isinstance(connection, RundeckLink) and token is not None:
        remember_token(connection, token, _keystore(services))
    return connection


def _keystore(services: Services) -> KeyStore | None:
    """The keyring, where a verified token is kept; None when there is none to use."""
    try:
        return services.keystore()
    except ToolError:
        return None

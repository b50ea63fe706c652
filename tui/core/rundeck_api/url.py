"""Where Rundeck's API is: an explicit URL, else what the local install's files say.

Order: ``--url``/``RD_URL`` → ``grails.serverURL`` in ``rundeck-config.properties`` →
``framework.server.url`` in ``framework.properties`` → ``http://localhost:<port><context>``.
Files: deb/rpm ``/etc/rundeck/`` (RD ``packaging/lib/common/etc/rundeck/rundeck-config.properties``,
``framework.properties``); launcher ``<RDECK_BASE>/server/config/rundeck-config.properties`` and
``<RDECK_BASE>/etc/framework.properties`` (RD ``rundeckapp/templates/config/
rundeck-config.properties.template``). ``framework.server.url`` is derived from
``grails.serverURL`` on first run and never re-synced (RD ``rundeckapp/grails-app/init/rundeckapp/
BootStrap.groovy``), hence second. The context path is ``server.servlet.context-path`` (≥3.3).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from tui.core.properties import PropertiesDocument, PropertiesError
from tui.core.rundeck_api.errors import RundeckRequestInvalid

DEFAULT_PORT = 4440
URL_ENV = "RD_URL"
_API_SUFFIX = re.compile(r"/api/\d+/?$")


class UrlSource(StrEnum):
    """Where a base URL came from."""

    EXPLICIT = "explicit"
    RUNDECK_CONFIG = "rundeck-config"
    FRAMEWORK = "framework"
    DEFAULT = "default"


@dataclass(frozen=True)
class RundeckUrl:
    """A base URL (no ``/api/N``, no trailing slash) and where it came from.

    A caller treats an explicit URL that does not answer as an error, a discovered one as a
    reason to fall back to working offline.
    """

    url: str
    source: UrlSource
    origin: str  # "--url", "RD_URL", a file path, or "default"

    @property
    def explicit(self) -> bool:
        return self.source is UrlSource.EXPLICIT

    def describe(self) -> str:
        """A phrase for messages: the URL and where it was found."""
        if self.found_in is None:
            return f"{self.url} ({self.origin_phrase})"
        return f"{self.url} ({self.origin_phrase} in {self.found_in})"

    @property
    def found_in(self) -> str | None:
        """The file the URL was read from, if it was read from one."""
        if self.source in (UrlSource.RUNDECK_CONFIG, UrlSource.FRAMEWORK):
            return self.origin
        return None

    @property
    def origin_phrase(self) -> str:
        """How the URL was found, without the file: the setting's name, or the flag."""
        if self.source is UrlSource.DEFAULT:
            return "Rundeck's default, nothing configured"
        if self.source is UrlSource.EXPLICIT:
            return f"from {self.origin}"
        if self.source is UrlSource.RUNDECK_CONFIG:
            return "grails.serverURL"
        return "framework.server.url"


def normalize_base_url(text: str, *, origin: str) -> str:
    """``text`` as a base URL: http(s), a host, no query; a trailing ``/api/N`` or ``/`` removed."""
    candidate = text.strip()
    parts = urlsplit(candidate)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RundeckRequestInvalid(
            f"The Rundeck URL from {origin} is not an http:// or https:// URL with a host: "
            f"{candidate!r}. Example: http://rundeck.example.com:4440"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise RundeckRequestInvalid(
            f"The Rundeck URL from {origin} may not carry a query, fragment or user info; "
            "pass the token separately."
        )
    path = _API_SUFFIX.sub("", parts.path).rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def config_files(
    rdeck_base: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    root: Path = Path("/"),
) -> tuple[Path, Path]:
    """The ``rundeck-config.properties`` and ``framework.properties`` of the local install."""
    env = os.environ if env is None else env
    chosen = rdeck_base or env.get("RDECK_BASE")
    if chosen:
        base = Path(chosen).expanduser()
        return base / "server" / "config" / "rundeck-config.properties", (
            base / "etc" / "framework.properties"
        )
    etc = root / "etc" / "rundeck"
    return etc / "rundeck-config.properties", etc / "framework.properties"


def discover_base_url(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    rdeck_base: Path | str | None = None,
    root: Path = Path("/"),
) -> RundeckUrl:
    """The base URL to try, and where it came from (see the module docstring for the order)."""
    env = os.environ if env is None else env
    if explicit:
        return RundeckUrl(normalize_base_url(explicit, origin="--url"), UrlSource.EXPLICIT, "--url")
    if env.get(URL_ENV):
        return RundeckUrl(
            normalize_base_url(env[URL_ENV], origin=URL_ENV), UrlSource.EXPLICIT, URL_ENV
        )
    rundeck_config, framework = config_files(rdeck_base, env=env, root=root)
    server_settings = _read(rundeck_config)
    found = _usable_url(server_settings.get("grails.serverURL"), origin=str(rundeck_config))
    if found:
        return RundeckUrl(found, UrlSource.RUNDECK_CONFIG, str(rundeck_config))
    found = _usable_url(_read(framework).get("framework.server.url"), origin=str(framework))
    if found:
        return RundeckUrl(found, UrlSource.FRAMEWORK, str(framework))
    port = (
        server_settings.get("server.port") or server_settings.get("server.http.port") or ""
    ).strip()
    if not port.isdigit():
        port = str(DEFAULT_PORT)
    context = (server_settings.get("server.servlet.context-path") or "").strip().strip("/")
    url = f"http://localhost:{port}" + (f"/{context}" if context else "")
    return RundeckUrl(url, UrlSource.DEFAULT, "default")


def _read(path: Path) -> dict[str, str]:
    """The properties of ``path``; an absent or unreadable file has none."""
    try:
        return PropertiesDocument.parse_bytes(path.read_bytes()).items()
    except (OSError, PropertiesError):
        return {}


def _usable_url(value: str | None, *, origin: str) -> str | None:
    """``value`` normalized, or None when it is empty, a placeholder or not a URL."""
    if not value or "${" in value:
        return None
    try:
        return normalize_base_url(value, origin=origin)
    except RundeckRequestInvalid:
        return None

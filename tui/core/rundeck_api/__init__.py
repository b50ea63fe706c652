"""Rundeck's HTTP API from the host side: URL discovery, a typed client, its errors."""

from __future__ import annotations

from tui.core.rundeck_api.client import (
    CONNECT_BUDGET_SECONDS,
    EARLIEST_API_VERSION,
    OUR_API_VERSION,
    RundeckClient,
    negotiate_version,
)
from tui.core.rundeck_api.errors import (
    NotRundeck,
    RundeckApiError,
    RundeckBadRequest,
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
)
from tui.core.rundeck_api.models import (
    PASSWORD_CONTENT_TYPE,
    KeyMetadata,
    ProjectSummary,
    SystemInfo,
)
from tui.core.rundeck_api.url import RundeckUrl, UrlSource, discover_base_url

__all__ = [
    "CONNECT_BUDGET_SECONDS",
    "EARLIEST_API_VERSION",
    "OUR_API_VERSION",
    "PASSWORD_CONTENT_TYPE",
    "KeyMetadata",
    "NotRundeck",
    "ProjectSummary",
    "RundeckApiError",
    "RundeckBadRequest",
    "RundeckClient",
    "RundeckConflict",
    "RundeckForbidden",
    "RundeckNotFound",
    "RundeckRequestInvalid",
    "RundeckServerError",
    "RundeckTimeout",
    "RundeckTlsError",
    "RundeckTokenRejected",
    "RundeckUnreachable",
    "RundeckUrl",
    "SystemInfo",
    "UnsupportedApiVersion",
    "UrlSource",
    "discover_base_url",
    "negotiate_version",
]

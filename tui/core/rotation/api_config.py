"""A project's AWS settings in Rundeck's database, seen by a rotation as the lines of a
properties file: read with ``GET /config``, written back key by key (``PUT /config/KEY``,
``DELETE /config/KEY``), never by a whole-config PUT, which deletes every other key
(``rundeck-api.md`` §3).

The rotation engine compares, writes and restores "the file" as bytes; for a project in the
database those bytes are the AWS keys alone, in a fixed order, so "unchanged since it was
read" means exactly "Rundeck holds the same AWS settings".
"""

from __future__ import annotations

from collections.abc import Mapping

from tui.core.model import Scope
from tui.core.properties import PropertiesDocument
from tui.core.rundeck import SETTING_NAMES, setting_key
from tui.core.rundeck_api import RundeckApiError, RundeckClient
from tui.core.writer import WriteError

# In a rotation only ``access_key`` changes (the secret is replaced at the same Key Storage
# path first), so Rundeck sees a mismatched id and secret only between the upload and this
# one PUT. A rollback writes the keys in the same order.
WRITE_ORDER = ("region", "credentialProvider", "secret_key_path", "access_key")
AWS_KEYS = tuple(setting_key(Scope.PROJECT, name) for name in SETTING_NAMES)


def aws_lines(config: Mapping[str, str]) -> bytes:
    """The project's AWS settings as properties lines, in a fixed order; nothing else."""
    document = PropertiesDocument.parse_bytes(b"")
    for key in AWS_KEYS:
        value = config.get(key)
        if value is not None:
            document.set(key, value)
    return document.to_bytes()


def read_aws_lines(client: RundeckClient, project: str) -> bytes:
    """WriteError (of the API failure's kind) when Rundeck does not answer with the config."""
    try:
        return aws_lines(client.get_config(project))
    except RundeckApiError as error:
        raise WriteError(
            f"Cannot read project {project}'s configuration from Rundeck: {error}", kind=error.kind
        ) from None


def write_aws_lines(client: RundeckClient, project: str, data: bytes) -> None:
    """Make the project's AWS settings those of ``data``: each differing key set or deleted,
    in ``WRITE_ORDER``, every other key of the project left alone; then read back."""
    try:
        _write(client, project, PropertiesDocument.parse_bytes(data))
    except RundeckApiError as error:
        raise WriteError(
            f"Rundeck refused the configuration of project {project}: {error}", kind=error.kind
        ) from None


def _write(client: RundeckClient, project: str, wanted: PropertiesDocument) -> None:
    current = client.get_config(project)
    for name in WRITE_ORDER:
        key = setting_key(Scope.PROJECT, name)
        value = wanted.get(key)
        if value == current.get(key):
            continue
        if value is None:
            client.delete_config_key(project, key)
        else:
            client.set_config_key(project, key, value)
    after = client.get_config(project)
    wrong = [key for key in AWS_KEYS if after.get(key) != wanted.get(key)]
    if wrong:
        raise WriteError(
            f"Read back, project {project}'s configuration in Rundeck does not hold what was "
            f"written ({', '.join(wrong)}); another writer may have changed it."
        )

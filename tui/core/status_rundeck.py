"""Status through Rundeck's API: each project's AWS settings as Rundeck holds them, and the
secret each setting names, checked in Key Storage (where the plugins read it)."""

from __future__ import annotations

from tui.core.aws import mask_access_key_id
from tui.core.model import Method, Scope
from tui.core.rundeck import read_aws_settings
from tui.core.rundeck_api import RundeckApiError
from tui.core.rundeck_link import RundeckLink
from tui.core.status import EntryStatus, InstallStatus


def add_rundeck_status(status: InstallStatus, link: RundeckLink) -> None:
    """Replace the on-disk view of each project Rundeck serves with what its API says, and
    check every configured key path in Key Storage (the failure admins hit most)."""
    try:
        projects = [project.name for project in link.client.list_projects()]
    except RundeckApiError as error:
        flag_unreachable(status, f"Rundeck's API at {link.url.url} stopped working: {error}")
        return
    for name in projects:
        try:
            config = link.client.get_config(name)
        except RundeckApiError as error:
            entry = _entry_for(status, name)
            entry.flag(
                "rundeck-api", f"Cannot read project {name}'s configuration: {error}", "error"
            )
            continue
        settings = read_aws_settings(config, Scope.PROJECT)
        entry = _entry_for(status, name)
        entry.problems = [p for p in entry.problems if p.code not in ("error",)]
        entry.source = "api"
        entry.configured = settings.configured
        entry.methods = settings.methods
        entry.region = settings.region
        entry.access_key_id = settings.access_key
        entry.access_key_id_masked = mask_access_key_id(settings.access_key)
        entry.key_path = settings.secret_key_path
    for entry in status.entries:
        if Method.ACCESS_KEY in entry.methods and entry.key_path:
            _check_key_storage(entry, link)


def flag_unreachable(status: InstallStatus, message: str) -> None:
    """The token or URL no longer works: an error on every setup that depends on Rundeck."""
    status.rundeck_problem = message
    for entry in status.entries:
        if entry.configured:
            entry.flag("rundeck-api", message, "error")


def _entry_for(status: InstallStatus, project: str) -> EntryStatus:
    entry = status.entry(Scope.PROJECT, project)
    if entry is None:
        entry = EntryStatus(Scope.PROJECT, project, status.install.project_properties(project))
        status.entries.append(entry)
    return entry


def _check_key_storage(entry: EntryStatus, link: RundeckLink) -> None:
    path = entry.key_path or ""
    try:
        metadata = link.client.key_metadata(path)
    except RundeckApiError as error:
        entry.flag("key-storage", f"Cannot check {path} in Rundeck Key Storage: {error}", "error")
        return
    if metadata is None:
        entry.key_storage_present = False
        entry.flag(
            "key-storage-missing",
            f"The configured path {path} has no key in Rundeck Key Storage: Rundeck's AWS "
            "plugins will find no secret there. Run pa-aws-setup apply again to upload it.",
            "error",
        )
    elif not metadata.is_password:
        entry.key_storage_present = True
        entry.flag(
            "key-storage-not-password",
            f"The key at {path} is not stored as a password (Rundeck-data-type: "
            f"{metadata.data_type or 'none'}, content type {metadata.content_type or 'none'}): "
            "the plugins cannot read it. Upload it again as a password.",
            "error",
        )
    else:
        entry.key_storage_present = True

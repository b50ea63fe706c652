"""Status through Rundeck's API: each project's AWS settings as Rundeck holds them, and the
secret each setting names, checked in Key Storage (where the plugins read it)."""

from __future__ import annotations

from collections.abc import Callable

from tui.core import aws
from tui.core.aws import ClientFactory, mask_access_key_id
from tui.core.errors import ToolError
from tui.core.keystore import KeyStore
from tui.core.model import Method, Scope
from tui.core.rundeck import AwsSettings, read_aws_settings
from tui.core.rundeck_api import RundeckApiError
from tui.core.rundeck_link import RundeckLink
from tui.core.setup.api_journal import inspect_api_journal
from tui.core.setup.rundeck_targets import aws_keys
from tui.core.status import (
    Clock,
    EntryStatus,
    InstallStatus,
    LazyKeyStore,
    inspect_access_key,
    interrupted_rotation_text,
    read_entry_record,
)


def add_rundeck_status(
    status: InstallStatus,
    link: RundeckLink,
    *,
    keystore_factory: Callable[[], KeyStore] | None = None,
    clock: Clock | None = None,
    ask_aws: bool = False,
    client_factory: ClientFactory | None = None,
) -> None:
    """Replace the on-disk view of each project Rundeck serves with what its API says, and
    check every configured key path in Key Storage (the failure admins hit most).

    With ``keystore_factory`` (and ``clock``) each such project's key is also checked as a
    file setup's is: its local copy in the keyring and, with ``ask_aws``, IAM; and the
    record beside where project.properties would be says whether a rotation is unfinished.
    """
    keystores = LazyKeyStore(keystore_factory) if keystore_factory is not None else None
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
        # What the disk said of this project is not what Rundeck uses: start again.
        entry.problems, entry.secret_present, entry.iam = [], None, None
        entry.source = "api"
        entry.configured = settings.configured
        entry.methods = settings.methods
        entry.region = settings.region
        entry.access_key_id = settings.access_key
        entry.access_key_id_masked = mask_access_key_id(settings.access_key)
        entry.key_path = settings.secret_key_path
        _flag_interrupted_apply(status, entry, name, config)
        if keystores is not None and clock is not None:
            _inspect_locally(status, entry, settings, keystores, clock, ask_aws, client_factory)
    for entry in status.entries:
        if Method.ACCESS_KEY in entry.methods and entry.key_path:
            _check_key_storage(entry, link)


def _inspect_locally(
    status: InstallStatus,
    entry: EntryStatus,
    settings: AwsSettings,
    keystores: LazyKeyStore,
    clock: Clock,
    ask_aws: bool,
    client_factory: ClientFactory | None,
) -> None:
    record = read_entry_record(entry)
    if record is not None and record.access_key_id == settings.access_key:
        entry.previous_access_key_id_masked = mask_access_key_id(record.previous_access_key_id)
        entry.previous_key_inactive = record.previous_key_inactive
        entry.rotated_at = record.rotated_at
    if record is not None and record.rotation is not None:
        entry.rotation_phase = record.rotation.phase
        entry.flag(
            "rotation-interrupted", interrupted_rotation_text(entry, record.rotation), "error"
        )
    if Method.ACCESS_KEY in entry.methods:
        factory = client_factory or aws.client
        max_age = status.max_age_days
        inspect_access_key(entry, settings, keystores, factory, clock, max_age, ask_aws)


def _flag_interrupted_apply(
    status: InstallStatus, entry: EntryStatus, project: str, config: dict[str, str]
) -> None:
    try:
        recovery = inspect_api_journal(status.install, project, aws_keys(config))
    except ToolError as error:
        entry.flag("interrupted-apply", str(error), "error")
        return
    if recovery is not None:
        entry.flag(
            "interrupted-apply",
            f"{recovery.describe()} The next apply of this project does it; until then "
            "Rundeck, Key Storage and the keyring may not match.",
            "error",
        )


def rundeck_has_setup(link: RundeckLink) -> bool:
    """True when a project Rundeck serves has AWS settings (the wizard then opens on Status);
    False also when the API stops answering while asked."""
    try:
        return any(
            read_aws_settings(link.client.get_config(project.name), Scope.PROJECT).configured
            for project in link.client.list_projects()
        )
    except RundeckApiError:
        return False


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

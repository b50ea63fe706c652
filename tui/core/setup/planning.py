"""Planning a setup: everything that will happen, as data, before anything is touched."""

from __future__ import annotations

from dataclasses import replace

from tui.core import record as records
from tui.core.errors import ErrorKind
from tui.core.keystore import BackendInfo, KeyStore, KeyStoreError, default_key_path
from tui.core.model import Answers, Method, Scope
from tui.core.properties import PropertiesDocument, PropertiesError
from tui.core.record import RecordError, SetupRecord
from tui.core.rundeck import (
    AwsSettings,
    RundeckError,
    RundeckInstall,
    desired_settings,
    read_aws_settings,
    read_scope_settings,
    setting_key,
)
from tui.core.rundeck_link import Offline, RundeckLink
from tui.core.secret import Secret
from tui.core.setup.api_journal import inspect_api_journal, settled_key_storage
from tui.core.setup.journal import inspect_journal, previous_secret_path
from tui.core.setup.model import (
    Blocker,
    Clock,
    FileChange,
    KeyringAction,
    PasteLines,
    PlanKind,
    Recovery,
    RecoveryAction,
    SetupError,
    SetupPlan,
)
from tui.core.setup.rundeck_targets import (
    KeyStorageAction,
    access_rule,
    plan_api_config,
    plan_key_storage,
    read_aws_keys,
)
from tui.core.writer import WriteError, check_target, read_existing, unified_diff

ACCESS_KEY_PLACEHOLDER = "<access key id>"


def plan_setup(
    install: RundeckInstall,
    answers: Answers,
    *,
    keystore: KeyStore | None,
    secret: Secret | None = None,
    clock: Clock,
    allow_insecure: bool = False,
    paste_to: str | None = None,
    discard_interrupted_rotation: bool = False,
    rundeck: RundeckLink | Offline | None = None,
    replace_key: bool = False,
    remove_old_secret: bool = False,
) -> SetupPlan:
    """Compute the configuration, keyring and record changes for ``answers``; change nothing.

    A project kept in Rundeck's database (no properties file on disk) gets a PASTE plan.
    What will stop the apply (an unusable keyring, an interrupted rotation, a key path that
    another scope uses for another key) is in ``blockers``, said the same way to both front
    ends. Raises SetupError for what cannot be planned at all.
    """
    try:
        target = install.target(answers.scope, answers.project)
        check_target(target, install.roots)
        check_target(records.record_path(target), install.roots)
        before = read_existing(target)
    except (RundeckError, WriteError) as error:
        raise SetupError(str(error), kind=error.kind) from None
    link = rundeck if isinstance(rundeck, RundeckLink) else None
    if link is not None and answers.scope is Scope.PROJECT:
        return _plan_api(install, answers, link, keystore, secret, allow_insecure, replace_key)
    in_database = answers.project is not None and install.project_in_database(answers.project)
    if before is None and answers.scope is Scope.PROJECT and in_database:
        plan = _plan_paste(install, answers, keystore, secret, allow_insecure, paste_to)
        return replace(plan, rundeck=rundeck)
    if before is None:
        raise SetupError(f"{target} does not exist; is this a Rundeck install?")
    recovery = inspect_journal(target)
    document = decode_properties(target, before)
    previous_settings = read_aws_settings(document, answers.scope)
    removed = _set_wanted(document, answers)
    after = document.to_bytes()
    record_file = records.record_path(target)
    try:
        record_before = records.read_record(record_file)
    except RecordError:
        record_before = None
    if recovery is not None and recovery.action is RecoveryAction.FINISH and recovery.record_text:
        record_before = records.loads(recovery.record_text, source=str(record_file))
    backend = keystore.info() if keystore is not None else None
    record = _record(answers, target, document, record_before, backend, after, clock)
    old_secret = _old_secret(answers, previous_settings.secret_key_path, record_before)
    warnings = _warnings(install, answers, previous_settings.methods, removed, backend)
    if old_secret is not None and not remove_old_secret:
        record = record.updated(extra={**record.extra, LEFT_SECRET: old_secret})
        warnings.append(
            f"The previous access key's secret stays in the keyring at {old_secret}: pass "
            "--remove-old-secret to delete it (status lists it until then)."
        )
    keyring = _plan_keyring(answers, keystore, secret, backend, allow_insecure, recovery)
    blockers = _blockers(install, answers, keyring, record_before, discard_interrupted_rotation)
    key_storage = None
    notes: list[str] = []
    if link is not None:
        key_storage = plan_key_storage(link.client, answers, keystore, secret)
        blockers.extend(_key_storage_blockers(key_storage, replace_key))
    if answers.scope is Scope.SYSTEM and after != before:
        notes.append(RESTART_NOTE)
    return SetupPlan(
        answers=answers,
        install=install,
        kind=PlanKind.FILE,
        file=FileChange(
            target=target,
            before=before,
            after=after,
            diff=unified_diff(target, before.decode("latin-1"), after.decode("latin-1")),
            record_path=record_file,
            record_before=record_before,
            record=record,
            record_text=records.dumps(record),
            removed_keys=tuple(removed),
        ),
        paste=None,
        keyring=keyring,
        warnings=tuple(warnings),
        blockers=tuple(blockers),
        recovery=recovery,
        key_storage=key_storage,
        rundeck=rundeck,
        notes=tuple(notes),
        remove_old_secret=old_secret if remove_old_secret else None,
    )


# A record's note of a secret a move to a role left in the keyring (read by status).
LEFT_SECRET = "left_secret_at"


def _old_secret(
    answers: Answers, previous_path: str | None, record_before: SetupRecord | None
) -> str | None:
    """The key path of the access key a move to a role leaves behind, if any."""
    if answers.method is Method.ACCESS_KEY:
        return None
    if previous_path:
        return previous_path
    left = record_before.extra.get(LEFT_SECRET) if record_before is not None else None
    return str(left) if left else None


# Rundeck reads framework.properties once, at start-up: FrameworkPropertyLookupFactory builds
# one deferred PropertyLookup that is never reloaded (rundeck/rundeck, rundeckapp/src/main/
# groovy/com/dtolabs/rundeck/app/internal/framework/FrameworkPropertyLookupFactory.groovy;
# core/src/main/java/com/dtolabs/rundeck/core/utils/PropertyLookup.java).
RESTART_NOTE = (
    "Restart rundeckd (systemctl restart rundeckd) so Rundeck reads the new "
    "framework.properties: it reads the file only at start-up."
)


def _key_storage_blockers(action: KeyStorageAction | None, replace_key: bool) -> list[Blocker]:
    if action is None or not action.irreversible or replace_key:
        return []
    return [
        Blocker(
            f"Rundeck Key Storage already holds a key at {action.path} that this tool did not "
            "write. A password cannot be read back, so replacing it cannot be undone: pass "
            "--replace-key to replace it anyway, or choose another --key-path.",
            ErrorKind.USAGE,
        )
    ]


def _plan_api(
    install: RundeckInstall,
    answers: Answers,
    link: RundeckLink,
    keystore: KeyStore | None,
    secret: Secret | None,
    allow_insecure: bool,
    replace_key: bool,
) -> SetupPlan:
    """A project whose configuration Rundeck keeps in its database, changed through its API.
    An apply of it that was interrupted is settled first; the plan starts from what that
    leaves."""
    project = answers.project or ""
    read = read_aws_keys(link.client, project)
    recovery = inspect_api_journal(install, project, read)
    interrupted = recovery.api if recovery is not None else None
    rolls_back = recovery is not None and recovery.action is RecoveryAction.ROLLBACK
    settled = interrupted.before if rolls_back and interrupted is not None else read
    change = replace(plan_api_config(answers, settled), read=read)
    backend = keystore.info() if keystore is not None else None
    keyring = _plan_keyring(answers, keystore, secret, backend, allow_insecure, recovery)
    key_storage = plan_key_storage(
        link.client,
        answers,
        keystore,
        secret,
        settled_key_storage(interrupted, keystore) if rolls_back else None,
    )
    blockers: list[Blocker] = []
    if keyring is not None and keyring.problem is not None:
        blockers.append(Blocker(keyring.problem, keyring.problem_kind))
    blockers.extend(_key_storage_blockers(key_storage, replace_key))
    warnings: list[str] = []
    on_disk = install.project_properties(answers.project or "")
    if on_disk.is_file():
        warnings.append(
            f"The file {on_disk} is stale: Rundeck serves project {answers.project} from its "
            "database (since 3.4), so that file is neither read nor written."
        )
    if answers.method is Method.ACCESS_KEY:
        warnings.append(
            "Access keys are the least secure method: prefer an IAM role where Rundeck runs on AWS."
        )
    notes = []
    if key_storage is not None:
        notes.append(access_rule(answers.project, key_storage.path))
    return SetupPlan(
        answers=answers,
        install=install,
        kind=PlanKind.API,
        file=None,
        paste=None,
        keyring=keyring,
        warnings=tuple(warnings),
        blockers=tuple(blockers),
        api_config=change,
        key_storage=key_storage,
        rundeck=link,
        notes=tuple(notes),
        recovery=recovery,
    )


def decode_properties(target: object, data: bytes | None) -> PropertiesDocument:
    try:
        return PropertiesDocument.parse_bytes(data or b"")
    except PropertiesError as error:
        raise SetupError(f"{target}: {error}") from None


def _set_wanted(document: PropertiesDocument, answers: Answers) -> list[str]:
    """Set the method's settings in ``document``; the keys of other methods that were removed."""
    wanted = desired_settings(
        answers.method,
        region=answers.region,
        access_key_id=answers.access_key_id,
        key_path=answers.key_path,
    )
    removed: list[str] = []
    for name, value in wanted.items():
        key = setting_key(answers.scope, name)
        if value is None:
            if document.get(key) is not None:
                removed.append(key)
            document.remove(key)
        else:
            document.set(key, value)
    return removed


def _record(
    answers: Answers,
    target: object,
    document: PropertiesDocument,
    record_before: SetupRecord | None,
    backend: BackendInfo | None,
    after: bytes,
    clock: Clock,
) -> SetupRecord:
    now = clock()
    access = answers.method is Method.ACCESS_KEY
    return SetupRecord(
        method=answers.method,
        scope=answers.scope,
        properties_file=str(target),
        project=answers.project if answers.scope is Scope.PROJECT else None,
        region=document.get(setting_key(answers.scope, "region")),
        access_key_id=answers.access_key_id if access else None,
        key_path=answers.key_path if access else None,
        key_type=records.PASSWORD_KEY_TYPE if access else None,
        content_type=records.PASSWORD_CONTENT_TYPE if access else None,
        keyring_backend=backend.name if backend is not None and access else None,
        iam_user=record_before.iam_user if record_before else None,
        created_at=record_before.created_at if record_before and record_before.created_at else now,
        updated_at=now,
        properties_sha256=records.fingerprint(after),
    )


def _plan_keyring(
    answers: Answers,
    keystore: KeyStore | None,
    secret: Secret | None,
    backend: BackendInfo | None,
    allow_insecure: bool,
    recovery: Recovery | None = None,
) -> KeyringAction | None:
    """The keyring part of the plan, as the keyring will be once an interrupted apply is
    settled (a rollback puts the previous secret back first)."""
    if answers.method is not Method.ACCESS_KEY:
        return None
    if answers.key_path is None:
        raise SetupError("The access key method needs a key-storage path.")
    if keystore is None or backend is None:
        return KeyringAction(
            answers.key_path,
            None,
            False,
            False,
            problem="No keyring is available to store the secret in.",
        )
    problem = keystore.usability_problem(allow_insecure=allow_insecure)
    existing: Secret | None = None
    if problem is None:
        try:
            existing = keystore.get(answers.key_path)
            if recovery is not None and recovery.action is RecoveryAction.ROLLBACK:
                previous = keystore.get(previous_secret_path(answers.key_path))
                if previous is not None or not recovery.had_previous_secret:
                    existing = previous
        except KeyStoreError as error:
            problem = str(error)
    if problem is None and secret is None and existing is None:
        return KeyringAction(
            answers.key_path,
            backend,
            False,
            False,
            problem=f"No secret given and none stored at {answers.key_path}: pass it with "
            "--secret-stdin, --secret-file FILE or PA_AWS_SECRET_ACCESS_KEY.",
            problem_kind=ErrorKind.USAGE,
        )
    unchanged = existing is not None and (secret is None or existing == secret)
    return KeyringAction(
        path=answers.key_path,
        backend=backend,
        replaces_existing=existing is not None,
        unchanged=unchanged,
        problem=problem,
    )


def _blockers(
    install: RundeckInstall,
    answers: Answers,
    keyring: KeyringAction | None,
    record_before: SetupRecord | None,
    discard_interrupted_rotation: bool,
) -> list[Blocker]:
    found: list[Blocker] = []
    if keyring is not None and keyring.problem is not None:
        kind = (
            ErrorKind.USAGE if keyring.problem.startswith("No secret given") else ErrorKind.KEYRING
        )
        found.append(Blocker(keyring.problem, kind))
    if (
        record_before is not None
        and record_before.rotation is not None
        and not discard_interrupted_rotation
    ):
        where = "--system" if answers.scope is Scope.SYSTEM else f"--project {answers.project}"
        found.append(
            Blocker(
                f"A rotation of this setup was interrupted (phase {record_before.rotation.phase}); "
                "applying now would drop its marker and leave IAM holding a key whose secret "
                f"nobody has. Settle it first: pa-aws-setup rotate {where} --resume "
                "finish|rollback (or pass --discard-interrupted-rotation to apply anyway).",
                ErrorKind.USAGE,
            )
        )
    if answers.method is Method.ACCESS_KEY and answers.key_path:
        found.extend(_key_path_owners(install, answers))
    return found


def _key_path_owners(install: RundeckInstall, answers: Answers) -> list[Blocker]:
    """Another scope that keeps a different access key's secret at the same key path."""
    found: list[Blocker] = []
    for scope, project in _other_scopes(install, answers):
        try:
            settings = read_scope_settings(install, scope, project)
        except RundeckError:
            continue
        if settings.secret_key_path != answers.key_path:
            continue
        if settings.access_key and settings.access_key != answers.access_key_id:
            owner = "the system scope" if scope is Scope.SYSTEM else f"project {project}"
            found.append(
                Blocker(
                    f"{answers.key_path} holds the secret of {owner}'s access key "
                    f"{settings.access_key}; storing another key's secret there would break "
                    f"{owner}. Choose another key-storage path.",
                    ErrorKind.USAGE,
                )
            )
    return found


def _other_scopes(install: RundeckInstall, answers: Answers) -> list[tuple[Scope, str | None]]:
    scopes: list[tuple[Scope, str | None]] = []
    if answers.scope is not Scope.SYSTEM:
        scopes.append((Scope.SYSTEM, None))
    scopes.extend(
        (Scope.PROJECT, project)
        for project in install.list_projects()
        if not (answers.scope is Scope.PROJECT and project == answers.project)
    )
    return scopes


def _warnings(
    install: RundeckInstall,
    answers: Answers,
    previous_methods: list[Method],
    removed: list[str],
    backend: BackendInfo | None,
) -> list[str]:
    warnings: list[str] = []
    if removed:
        old = ", ".join(sorted({m.title for m in previous_methods if m is not answers.method}))
        warnings.append(
            f"Removes {', '.join(removed)}"
            + (f" (settings of the previous method: {old})." if old else ".")
        )
    if answers.method is Method.ACCESS_KEY and backend is not None:
        if backend.security == "insecure":
            warnings.append(
                f"The keyring backend {backend.name} stores secrets in a plain file; "
                "the secret is not protected at rest."
            )
        warnings.append(
            "Access keys are the least secure method: prefer an IAM role where Rundeck runs on AWS."
        )
    warnings.extend(_conflicts(install, answers))
    return warnings


def _conflicts(install: RundeckInstall, answers: Answers) -> list[str]:
    """System and project settings that will disagree once this setup is applied."""
    found: list[str] = []
    for scope, project in _other_scopes(install, answers):
        try:
            settings: AwsSettings = read_scope_settings(install, scope, project)
        except RundeckError:
            continue
        if settings.method is None or settings.method is answers.method:
            continue
        if scope is Scope.SYSTEM:
            found.append(
                f"framework.properties configures {settings.method.title} for the whole server; "
                f"project {answers.project} will use {answers.method.title} instead."
            )
        elif answers.scope is Scope.SYSTEM:
            found.append(
                f"Project {project} configures {settings.method.title}, which overrides the "
                f"system setting for that project."
            )
    return found


def _plan_paste(
    install: RundeckInstall,
    answers: Answers,
    keystore: KeyStore | None,
    secret: Secret | None,
    allow_insecure: bool,
    paste_to: str | None,
) -> SetupPlan:
    """A project kept in Rundeck's database: lines to paste, and a given secret still stored."""
    from pathlib import Path

    keyring = None
    blockers: list[Blocker] = []
    if answers.method is Method.ACCESS_KEY and secret is not None and answers.key_path:
        backend = keystore.info() if keystore is not None else None
        keyring = _plan_keyring(answers, keystore, secret, backend, allow_insecure)
        if keyring is not None and keyring.problem is not None:
            blockers.append(Blocker(keyring.problem, keyring.problem_kind))
    return SetupPlan(
        answers=answers,
        install=install,
        kind=PlanKind.PASTE,
        file=None,
        paste=PasteLines(
            project=answers.project or "",
            lines=paste_lines(answers),
            save_to=Path(paste_to) if paste_to else None,
        ),
        keyring=keyring,
        warnings=(),
        blockers=tuple(blockers),
    )


def paste_lines(answers: Answers) -> str:
    """The lines to paste into Project Settings → Edit Configuration File (database projects).

    Asked before the key id is known, the access-key lines get a placeholder id and the
    default key-storage path.
    """
    access = answers.method is Method.ACCESS_KEY
    wanted = desired_settings(
        answers.method,
        region=answers.region,
        access_key_id=answers.access_key_id or (ACCESS_KEY_PLACEHOLDER if access else None),
        key_path=answers.key_path or (default_key_path(answers.project) if access else None),
    )
    document = PropertiesDocument.parse("")
    for name, value in wanted.items():
        if value is not None:
            document.set(setting_key(answers.scope, name), value)
    return document.render()

"""``pa-aws-setup apply``: the whole setup from flags or an answers file.

The core plans and applies; this module only collects the answers, shows the plan, asks,
and renders the result.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.commands.connection import open_connection
from tui.commands.output import CommandResult, colour_diff, print_steps, run_command
from tui.core.answers import build_answers, load_answers_file
from tui.core.errors import ToolError, UsageProblem
from tui.core.model import Answers, Method
from tui.core.redact import shown
from tui.core.secret import Secret
from tui.core.validate import ValidationError, clean_secret
from tui.services import Services

if TYPE_CHECKING:
    from tui.core.setup import SetupPlan

SECRET_ENV = "PA_AWS_SECRET_ACCESS_KEY"


def read_secret(options: argparse.Namespace) -> Secret | None:
    """The secret from stdin, a private file or the environment; None when none was given."""
    try:
        if getattr(options, "secret_stdin", False):
            return clean_secret(sys.stdin.read())
        if getattr(options, "secret_file", None):
            return clean_secret(read_private_file(Path(options.secret_file)))
        if os.environ.get(SECRET_ENV):
            # Taken out of the environment so no child process inherits it.
            return clean_secret(os.environ.pop(SECRET_ENV))
    except ValidationError as problem:
        raise UsageProblem(str(problem)) from None
    return None


def read_private_file(path: Path) -> str:
    """Read a secret file, refusing one that group or others can read.

    The file name is quoted only when it cannot be the secret itself, typed by mistake.
    """
    name = shown(str(path))
    try:
        info = path.stat()
    except OSError as problem:
        raise UsageProblem(f"Cannot read {name}: {problem.strerror}.") from None
    if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
        raise UsageProblem(
            f"{name} is readable by group or others (mode {stat.S_IMODE(info.st_mode):o}); "
            f"a secret file must be private: chmod 600 {name}"
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        reason = problem.strerror if isinstance(problem, OSError) else "not UTF-8 text"
        raise UsageProblem(f"Cannot read {name}: {reason}.") from None


def gather_answers(options: argparse.Namespace) -> tuple[Answers, str | None]:
    """Answers from the answers file, overridden by flags; plus the Rundeck base folder."""
    values: dict[str, Any] = {}
    if options.answers:
        values.update(load_answers_file(Path(options.answers)))
    flags = {
        "method": options.method,
        "region": options.region,
        "access_key_id": options.access_key_id,
        "key_path": options.key_path,
        "rdeck_base": options.rdeck_base,
    }
    values.update({name: value for name, value in flags.items() if value})
    if options.system:
        values.update(scope="system", project=None)
    elif options.project:
        values.update(scope="project", project=options.project)
    return build_answers(values), values.get("rdeck_base")


def run_apply(options: argparse.Namespace, services: Services) -> int:
    return run_command("apply", options, lambda: _apply(options, services))


def _apply(options: argparse.Namespace, services: Services) -> CommandResult:
    from tui.core.setup import PlanKind, apply_setup, plan_setup
    from tui.core.verify import verify_setup

    answers, rdeck_base = gather_answers(options)
    if rdeck_base and rdeck_base != services.rdeck_base:
        services = services.with_rdeck_base(rdeck_base)
    access = answers.method is Method.ACCESS_KEY
    secret = read_secret(options) if access else None
    install = services.install()
    keystore = services.keystore() if access or options.remove_old_secret else None
    connection = open_connection(options, services)
    plan = plan_setup(
        install,
        answers,
        keystore=keystore,
        secret=secret,
        clock=services.clock,
        allow_insecure=services.allow_insecure_keyring,
        paste_to=options.paste_file,
        discard_interrupted_rotation=options.discard_interrupted_rotation,
        rundeck=connection,
        replace_key=options.replace_key,
        remove_old_secret=options.remove_old_secret,
    )
    if plan.kind is PlanKind.PASTE:
        return _database_project(options, services, plan, secret)
    summary = plan_json(plan)
    if not options.json:
        print_plan(plan)
    if plan.blockers:
        # A dry run reports what the real run would hit, with the same exit code.
        raise plan.blockers[0].error().with_suffix("Nothing was changed.", **summary)
    if not plan.changes_anything:
        return _finish(options, summary, changed=False, message="No changes: already set up.")
    if options.dry_run:
        if options.verify:
            _verify(options, answers, secret, summary, verify_setup)
        return _finish(
            options, summary, changed=False, message="Dry run: nothing was changed.", dry_run=True
        )
    if not _confirm(options, "Apply these changes?"):
        return _finish(options, summary, changed=False, message="Cancelled: nothing changed.")
    if options.verify:
        _verify(options, answers, secret, summary, verify_setup)
    result = apply_setup(
        plan,
        keystore=keystore,
        secret=secret,
        clock=services.clock,
        allow_insecure=services.allow_insecure_keyring,
        keep_backups=options.keep_backups,
    )
    summary["steps"] = [step.to_json() for step in result.steps]
    summary["backup"] = str(result.backup) if result.backup else None
    if not result.ok:
        if not options.json:
            print_steps(result.steps, sys.stderr)
        failure = result.failure()
        failure.details.update(summary, changed=result.changed)
        raise failure
    return _finish(options, summary, changed=True, message=_done_message(plan, result.backup))


def plan_json(plan: SetupPlan) -> dict[str, Any]:
    """The plan as the JSON of apply says it (no secret, ever)."""
    keyring = plan.keyring
    return {
        "method": str(plan.answers.method),
        "scope": str(plan.answers.scope),
        "project": plan.answers.project,
        "configuration_path": str(plan.kind),
        "target": str(plan.target),
        "diff": plan.diff,
        "removed_keys": list(plan.removed_keys),
        "keyring": None
        if keyring is None or keyring.backend is None
        else {
            "path": keyring.path,
            "key_type": "password",
            "backend": keyring.backend.name,
            "security": keyring.backend.security,
            "replaces_existing": keyring.replaces_existing,
            "unchanged": keyring.unchanged,
        },
        "record_path": str(plan.record_path) if plan.file is not None else None,
        "recovery": None if plan.recovery is None else plan.recovery.describe(),
        "rundeck": None if plan.rundeck is None else plan.rundeck.to_json(),
        "api_config": None if plan.api_config is None else plan.api_config.to_json(),
        "key_storage": None if plan.key_storage is None else plan.key_storage.to_json(),
        "warnings": list(plan.warnings),
        "notes": list(plan.notes),
    }


def _verify(
    options: argparse.Namespace,
    answers: Answers,
    secret: Secret | None,
    summary: dict[str, Any],
    verify: Any,
) -> None:
    verified = verify(answers, secret)
    if verified is None:
        return
    summary["identity"] = verified.identity
    if not options.json:
        print(verified.line)


def _database_project(
    options: argparse.Namespace, services: Services, plan: SetupPlan, secret: Secret | None
) -> CommandResult:
    """Lines to paste for a project kept in Rundeck's database; a given secret goes to the
    keyring at the key-storage path, as a normal apply stores it."""
    from tui.core.setup import apply_setup, write_paste_lines
    from tui.core.verify import verify_setup

    answers, paste = plan.answers, plan.paste
    assert paste is not None  # a PASTE plan always has its lines
    if paste.save_to is None:
        raise ToolError(
            "This project has no project.properties on disk: Rundeck keeps its configuration "
            "in its database (or the name has a typo). Pass --paste-file FILE to get the lines "
            "to paste into Project Settings → Edit Configuration File."
        )
    if plan.blockers:
        raise plan.blockers[0].error().with_suffix("Nothing was changed.")
    summary: dict[str, Any] = {
        "database_project": True,
        "configuration_path": str(plan.kind),
        "paste_lines": paste.lines,
        "paste_file": options.paste_file,
        "keyring": plan_json(plan)["keyring"],
    }
    if options.verify:
        _verify(options, answers, secret, summary, verify_setup)
    message = (
        f"Project {answers.project} has no project.properties on disk: Rundeck keeps its "
        "configuration in its database. Paste these lines into Project Settings → "
        "Edit Configuration File (or PUT them to /api/<v>/project/<name>/config)."
    )
    keyring, key_path, changed = plan.keyring, answers.key_path, False
    if keyring is None:
        if answers.method is Method.ACCESS_KEY:
            message += f" Store the secret in Rundeck Key Storage as a password at {key_path}"
        write_paste_lines(paste.save_to, paste.lines)
    elif options.dry_run:
        message += f" Dry run: the secret was not stored; it would go to {key_path}."
        write_paste_lines(paste.save_to, paste.lines)
    elif keyring.unchanged:
        message += f" The same secret is already stored in the keyring at {key_path}."
        write_paste_lines(paste.save_to, paste.lines)
    elif not _confirm(options, f"Store the secret in the keyring at {key_path}?"):
        return _finish(options, summary, changed=False, message="Cancelled: nothing changed.")
    else:
        result = apply_setup(
            plan,
            keystore=services.keystore(),
            secret=secret,
            clock=services.clock,
            allow_insecure=services.allow_insecure_keyring,
        )
        if not result.ok:
            raise result.failure()
        changed = True
        backend = keyring.backend.name if keyring.backend else "keyring"
        replaced = " (replacing the one stored before)" if keyring.replaces_existing else ""
        message += (
            f" The secret is stored in the keyring ({backend}) as a Rundeck password at "
            f"{key_path}{replaced}."
        )
    if options.json:
        return _finish(options, summary, changed=changed, message=message, dry_run=options.dry_run)
    print(message)
    print(paste.lines, end="")
    return CommandResult(summary, changed=changed)


def _confirm(options: argparse.Namespace, question: str) -> bool:
    """True with --yes or when the person at the terminal says yes; without a terminal to
    ask, the run stops with a usage error."""
    if options.yes:
        return True
    if not sys.stdin.isatty() or options.secret_stdin:
        raise UsageProblem(
            "Not writing without confirmation: stdin is not a terminal, so pass --yes."
        )
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def print_plan(plan: SetupPlan) -> None:
    from tui.core.rundeck_link import Offline, RundeckLink

    if plan.recovery is not None:
        print(plan.recovery.describe())
    if plan.diff:
        print(colour_diff(plan.diff), end="")
    if plan.api_config is not None and plan.api_config.diff:
        print(colour_diff(plan.api_config.diff), end="")
    if plan.key_storage is not None and plan.key_storage_changes:
        warning = (
            " (irreversible: the key there cannot be read back)"
            if plan.key_storage.irreversible
            else ""
        )
        print(
            f"key storage: {plan.key_storage.verb} the password at {plan.key_storage.path}{warning}"
        )
    if plan.keyring is not None and not plan.keyring.unchanged and plan.keyring.backend:
        verb = "replace" if plan.keyring.replaces_existing else "store"
        print(
            f"keyring: {verb} the secret as a Rundeck password at {plan.keyring.path} "
            f"({plan.keyring.backend.name})"
        )
    for warning in plan.warnings:
        print(f"warning: {warning}")
    for note in plan.notes:
        print(f"note: {note}")
    if isinstance(plan.rundeck, RundeckLink):
        info = plan.rundeck.info
        print(
            f"Rundeck {info.rundeck_version} at {plan.rundeck.url.url} (API {info.api_version}): "
            f"configuration through {'its API' if plan.api_config else 'the files'}"
        )
    elif isinstance(plan.rundeck, Offline):
        print(f"note: offline ({plan.rundeck.reason})")


def _finish(
    options: argparse.Namespace,
    summary: dict[str, Any],
    *,
    changed: bool,
    message: str,
    dry_run: bool = False,
) -> CommandResult:
    if not options.json:
        print(message)
    return CommandResult({"dry_run": dry_run, "message": message, **summary}, changed=changed)


def _done_message(plan: SetupPlan, backup: Path | None) -> str:
    where = f" Backup of the previous file: {backup}." if backup else ""
    return f"Done: {plan.target} is configured for {plan.answers.method.title}.{where}"

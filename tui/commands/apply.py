"""``pa-aws-setup apply``: the whole setup from flags or an answers file."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.cli import EXIT_CONFIG, EXIT_KEYRING, EXIT_OK, EXIT_USAGE, EXIT_VERIFY
from tui.commands.output import CommandError, colour_diff, emit_json, error
from tui.core.answers import AnswersError, build_answers, load_answers_file
from tui.core.model import Answers, Method
from tui.core.rundeck import RundeckError, find_install
from tui.core.secret import Secret
from tui.core.validate import ValidationError, clean_secret

if TYPE_CHECKING:
    from tui.core.keystore import KeyStore
    from tui.core.setup import StoredSecret

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
        raise CommandError(str(problem), EXIT_USAGE) from None
    return None


def read_private_file(path: Path) -> str:
    """Read a secret file, refusing one that group or others can read."""
    try:
        info = path.stat()
    except OSError as problem:
        raise CommandError(f"Cannot read {path}: {problem.strerror}.", EXIT_USAGE) from None
    if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
        raise CommandError(
            f"{path} is readable by group or others (mode {stat.S_IMODE(info.st_mode):o}); "
            f"a secret file must be private: chmod 600 {path}",
            EXIT_USAGE,
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        raise CommandError(f"Cannot read {path}: {problem}.", EXIT_USAGE) from None


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


def run_apply(options: argparse.Namespace) -> int:
    try:
        return _apply(options)
    except CommandError as problem:
        if options.json:
            emit_json(
                "apply", {"ok": False, "changed": False, "error": str(problem)}, problem.exit_code
            )
        else:
            error(str(problem))
        return problem.exit_code


def _apply(options: argparse.Namespace) -> int:
    from tui.core.keystore import KeyStoreError
    from tui.core.setup import SetupError, apply_setup, paste_lines, plan_setup

    try:
        answers, rdeck_base = gather_answers(options)
    except (AnswersError, RundeckError) as problem:
        raise CommandError(str(problem), EXIT_USAGE) from None
    secret = read_secret(options) if answers.method is Method.ACCESS_KEY else None
    try:
        install = find_install(rdeck_base)
    except RundeckError as problem:
        raise CommandError(str(problem), EXIT_CONFIG) from None
    if answers.project and install.project_in_database(answers.project):
        return _database_project(options, answers, paste_lines(answers), secret)
    keystore = _usable_keystore(options) if answers.method is Method.ACCESS_KEY else None
    try:
        plan = plan_setup(install, answers, keystore=keystore, secret=secret, clock=_now)
    except SetupError as problem:
        raise CommandError(str(problem), EXIT_CONFIG) from None
    if plan.keyring is not None and secret is None and not plan.keyring.replaces_existing:
        raise CommandError(
            f"No secret given and none stored at {answers.key_path}: pass it with "
            "--secret-stdin, --secret-file FILE or PA_AWS_SECRET_ACCESS_KEY.",
            EXIT_USAGE,
        )
    summary: dict[str, Any] = {
        "method": str(answers.method),
        "scope": str(answers.scope),
        "project": answers.project,
        "target": str(plan.target),
        "diff": plan.diff,
        "removed_keys": list(plan.removed_keys),
        "keyring": None
        if plan.keyring is None
        else {
            "path": plan.keyring.path,
            "key_type": "password",
            "backend": plan.keyring.backend.name,
            "security": plan.keyring.backend.security,
            "replaces_existing": plan.keyring.replaces_existing,
            "unchanged": plan.keyring.unchanged,
        },
        "record_path": str(plan.record_path),
        "warnings": list(plan.warnings),
    }
    if not options.json:
        _print_plan(plan)
    if not plan.changes_anything:
        return _finish(options, summary, changed=False, message="No changes: already set up.")
    if options.dry_run:
        # Verification is off in a dry run unless asked for; asked for, it must happen.
        if options.verify:
            _verify(options, answers, secret, summary)
        return _finish(
            options, summary, changed=False, message="Dry run: nothing was changed.", dry_run=True
        )
    if not _confirm(options, "Apply these changes?"):
        return _finish(options, summary, changed=False, message="Cancelled: nothing changed.")
    if options.verify:
        _verify(options, answers, secret, summary)
    try:
        result = apply_setup(
            plan,
            keystore=keystore,
            secret=secret,
            clock=_now,
            allow_insecure=options.allow_insecure_keyring,
        )
    except KeyStoreError as problem:
        raise CommandError(str(problem), EXIT_KEYRING) from None
    summary["steps"] = [
        {"name": step.name, "status": step.status, "detail": step.detail} for step in result.steps
    ]
    summary["backup"] = str(result.backup) if result.backup else None
    if not result.ok:
        code = EXIT_KEYRING if result.error_kind == "keyring" else EXIT_CONFIG
        raise CommandError(f"{result.error} Everything was rolled back.", code)
    return _finish(options, summary, changed=True, message=_done_message(plan, result.backup))


def _verify(
    options: argparse.Namespace, answers: Answers, secret: Secret | None, summary: dict[str, Any]
) -> None:
    """Check the credentials with STS GetCallerIdentity; a failure ends the run with exit 3.

    The access key is checked when a secret was given; a role method checks the role's own
    credentials, as Rundeck would get them, against the role detection names.
    """
    if answers.method is not Method.ACCESS_KEY:
        _verify_role(options, answers, summary)
        return
    if secret is None:
        return
    from tui.core.aws import AwsError, caller_identity

    try:
        identity = caller_identity(
            access_key_id=answers.access_key_id, secret=secret, region=answers.region
        )
    except AwsError as problem:
        raise CommandError(
            f"Verification failed, nothing was written: {problem}", EXIT_VERIFY
        ) from None
    summary["identity"] = {"account": identity.account, "arn": identity.arn}
    if not options.json:
        print(f"Verified with AWS STS: {identity.arn}")


def _verify_role(options: argparse.Namespace, answers: Answers, summary: dict[str, Any]) -> None:
    from tui.commands.verify import RoleCheckFailed, verify_role

    try:
        identity = verify_role(answers.method)
    except RoleCheckFailed as problem:
        raise CommandError(
            f"Verification failed, nothing was written: {problem}", EXIT_VERIFY
        ) from None
    summary["identity"] = identity.to_json_dict()
    if not options.json:
        print(f"Verified with AWS STS: {identity.arn} (expected {identity.expected})")


def _database_project(
    options: argparse.Namespace, answers: Answers, lines: str, secret: Secret | None
) -> int:
    """Lines to paste for a project kept in Rundeck's database; a given secret goes to the
    keyring at the key-storage path, as a normal apply stores it."""
    if not options.paste_file:
        raise CommandError(
            "This project has no project.properties on disk: Rundeck keeps its configuration "
            "in its database (or the name has a typo). Pass --paste-file FILE to get the lines "
            "to paste into Project Settings → Edit Configuration File.",
            EXIT_CONFIG,
        )
    summary: dict[str, Any] = {
        "database_project": True,
        "paste_lines": lines,
        "paste_file": options.paste_file,
        "keyring": None,
    }
    keystore = _usable_keystore(options) if secret is not None else None
    if options.verify:
        _verify(options, answers, secret, summary)
    message = (
        f"Project {answers.project} has no project.properties on disk: Rundeck keeps its "
        "configuration in its database. Paste these lines into Project Settings → "
        "Edit Configuration File (or PUT them to /api/<v>/project/<name>/config)."
    )
    key_path = answers.key_path
    undo: StoredSecret | None = None
    if keystore is None or secret is None or key_path is None:
        if answers.method is Method.ACCESS_KEY:
            message += f" Store the secret in Rundeck Key Storage as a password at {key_path}"
    else:
        summary["keyring"], previous = _plan_database_secret(keystore, key_path, secret)
        if options.dry_run:
            message += f" Dry run: the secret was not stored; it would go to {key_path}."
        elif summary["keyring"]["unchanged"]:
            message += f" The same secret is already stored in the keyring at {key_path}."
        elif not _confirm(options, f"Store the secret in the keyring at {key_path}?"):
            return _finish(options, summary, changed=False, message="Cancelled: nothing changed.")
        else:
            _store_database_secret(options, keystore, key_path, secret)
            from tui.core.setup import StoredSecret

            undo = StoredSecret(keystore, key_path, previous)
            replaced = " (replacing the one stored before)" if previous is not None else ""
            message += (
                f" The secret is stored in the keyring ({summary['keyring']['backend']}) as a "
                f"Rundeck password at {key_path}{replaced}."
            )
    _write_paste_file(Path(options.paste_file), lines, undo)
    if options.json:
        changed = undo is not None
        return _finish(options, summary, changed=changed, message=message, dry_run=options.dry_run)
    print(message)
    print(lines, end="")
    return EXIT_OK


def _usable_keystore(options: argparse.Namespace) -> KeyStore:
    """A KeyStore that can hold the secret; exit 4 before anything is done when none can."""
    from tui.core.keystore import KeyStore

    keystore = KeyStore()
    unusable = keystore.usability_problem(allow_insecure=options.allow_insecure_keyring)
    if unusable is not None:
        raise CommandError(unusable, EXIT_KEYRING)
    return keystore


def _plan_database_secret(
    keystore: KeyStore, key_path: str, secret: Secret
) -> tuple[dict[str, Any], Secret | None]:
    """The keyring part of the JSON, and the secret stored at ``key_path`` before (to undo)."""
    from tui.core.keystore import KeyStoreError

    try:
        previous = keystore.get(key_path)
    except KeyStoreError as problem:
        raise CommandError(str(problem), EXIT_KEYRING) from None
    backend = keystore.info()
    return {
        "path": key_path,
        "key_type": "password",
        "backend": backend.name,
        "security": backend.security,
        "replaces_existing": previous is not None,
        "unchanged": previous == secret,
    }, previous


def _store_database_secret(
    options: argparse.Namespace, keystore: KeyStore, key_path: str, secret: Secret
) -> None:
    from tui.core.keystore import KeyStoreError

    try:
        keystore.put(key_path, secret, allow_insecure=options.allow_insecure_keyring)
    except KeyStoreError as problem:
        raise CommandError(str(problem), EXIT_KEYRING) from None


def _write_paste_file(target: Path, lines: str, undo: StoredSecret | None) -> None:
    from tui.core.setup import SetupError, write_paste_lines

    try:
        write_paste_lines(target, lines, undo)
    except SetupError as problem:
        raise CommandError(str(problem), EXIT_CONFIG) from None


def _confirm(options: argparse.Namespace, question: str) -> bool:
    """True with --yes or when the person at the terminal says yes; without a terminal to
    ask, the run stops with a usage error."""
    if options.yes:
        return True
    if not sys.stdin.isatty() or options.secret_stdin:
        raise CommandError(
            "Not writing without confirmation: stdin is not a terminal, so pass --yes.",
            EXIT_USAGE,
        )
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _print_plan(plan: Any) -> None:
    if plan.diff:
        print(colour_diff(plan.diff), end="")
    if plan.keyring is not None and not plan.keyring.unchanged:
        verb = "replace" if plan.keyring.replaces_existing else "store"
        print(
            f"keyring: {verb} the secret as a Rundeck password at {plan.keyring.path} "
            f"({plan.keyring.backend.name})"
        )
    for warning in plan.warnings:
        print(f"warning: {warning}")


def _finish(
    options: argparse.Namespace,
    summary: dict[str, Any],
    *,
    changed: bool,
    message: str,
    dry_run: bool = False,
) -> int:
    if options.json:
        emit_json(
            "apply",
            {"ok": True, "changed": changed, "dry_run": dry_run, "message": message, **summary},
            EXIT_OK,
        )
    else:
        print(message)
    return EXIT_OK


def _done_message(plan: Any, backup: Path | None) -> str:
    where = f" Backup of the previous file: {backup}." if backup else ""
    return f"Done: {plan.target} is configured for {plan.answers.method.title}.{where}"


def _now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)

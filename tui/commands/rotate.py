"""``pa-aws-setup rotate``: rotate one setup's access key, switch it to a key pair created in
the AWS console (``--manual``), or resume an interrupted rotation."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tui.commands.apply import read_secret
from tui.commands.connection import open_connection
from tui.commands.output import CommandResult, run_command
from tui.core.errors import ErrorKind, ToolError, UsageProblem
from tui.core.exit_codes import EXIT_OK, exit_code
from tui.core.redact import shown
from tui.core.rundeck_link import RundeckLink
from tui.core.secret import Secret
from tui.core.steps import Step
from tui.core.validate import ValidationError, clean_secret
from tui.services import Services
from tui.step_marks import STEP_MARKS

OUTCOME_TEXT = {
    "rotated": "Rotated: Rundeck uses the new key.",
    "partial": "Rotated with a warning: Rundeck uses the new key, but not everything finished.",
    "rolled_back": "Rolled back: Rundeck still uses the old key, and the new key was removed.",
    "refused": "Nothing was changed.",
    "failed": "The rotation could not finish cleanly; read the state below.",
}
# A pasted key is never deleted, whatever happens.
MANUAL_OUTCOME_TEXT = OUTCOME_TEXT | {
    "rolled_back": "Rolled back: Rundeck still uses the old key; the pasted key is left as it "
    "is in IAM.",
}
# Options that only mean something with --manual (argparse destinations).
MANUAL_OPTIONS = ("access_key_id", "secret_stdin", "secret_file", "secret_env", "allow_other_user")


def run_rotate(options: argparse.Namespace, services: Services) -> int:
    return run_command("rotate", options, lambda: _rotate(options, services))


def _rotate(options: argparse.Namespace, services: Services) -> CommandResult:
    from tui.core.rotation import check_new_key, inspect_interrupted

    pasted = _pasted_key(options)
    # Before the target: a project Rundeck serves is read (and rotated) through its API.
    connection = open_connection(options, services)
    link = connection if isinstance(connection, RundeckLink) else None
    target = choose_target(services, options, link)
    keystore = services.keystore()
    problem = keystore.usability_problem(allow_insecure=services.allow_insecure_keyring)
    if problem is not None:
        raise ToolError(problem, kind=ErrorKind.KEYRING)
    interrupted = None
    if target.interrupted is not None:
        interrupted = inspect_interrupted(target, keystore=keystore)
    elif options.resume:
        raise ToolError(
            f"There is no interrupted rotation for {target.label} to resume.",
            kind=ErrorKind.USAGE,
        )
    if interrupted is not None:
        if not options.resume or options.resume not in interrupted.actions:
            choices = " or ".join(f"--resume {action}" for action in interrupted.actions)
            raise ToolError(
                f"A rotation of {target.label} was interrupted (phase {interrupted.phase}). "
                f"{interrupted.explanation}" + (f" Rerun with {choices}." if choices else ""),
                kind=ErrorKind.USAGE,
            )
        question = f"{options.resume.capitalize()} the interrupted rotation of {target.label}?"
    elif pasted is not None:
        try:
            pasted = (check_new_key(target, pasted[0]), pasted[1])
        except ToolError as failure:
            raise UsageProblem(f"{failure} Nothing was changed.") from None
        question = (
            f"Switch {target.label} ({target.where}) from {target.access_key_id} to {pasted[0]}?"
        )
    else:
        question = (
            f"Rotate the access key {target.access_key_id} of {target.label} ({target.where})?"
        )
    interactive = sys.stdin.isatty() and not options.yes
    if not options.yes:
        if not sys.stdin.isatty():
            raise ToolError(
                "Not rotating without confirmation: stdin is not a terminal, so pass --yes.",
                kind=ErrorKind.USAGE,
            )
        if not _ask(question):
            print("Cancelled: nothing was changed.")
            return CommandResult({"message": "Cancelled: nothing was changed."})
    retire_old = options.keep_old or options.delete_old
    delete_old = options.delete_old
    if not retire_old and interactive:
        if pasted is not None:
            retire_old = _ask(
                f"Deactivate the old key {target.access_key_id} in IAM once Rundeck uses the new "
                "one (otherwise it stays active)?"
            )
        else:
            delete_old = _ask("Delete the old key at the end (otherwise it is kept, inactive)?")
    result = _run(
        options,
        services,
        target,
        keystore,
        interrupted is not None,
        pasted,
        retire_old,
        delete_old,
        link.client if link else None,
    )
    failed = result.outcome != "rotated" and result.error_kind is not None
    code = exit_code(result.error_kind) if failed and result.error_kind else EXIT_OK
    # "ok" is the envelope's (exit code 0): a rollback asked for with --resume rollback is a
    # success, though the rotation's own "ok" (rotated) is false.
    payload: dict[str, Any] = {
        **{key: value for key, value in result.to_json_dict().items() if key != "ok"},
        "scope": str(target.scope),
        "project": target.project,
        "configuration_path": "api" if target.api is not None else "file",
        "manual": pasted is not None,
        "resumed": interrupted is not None,
        "interrupted": interrupted.to_json_dict() if interrupted else None,
    }
    if failed:
        payload["error_kind"] = str(result.error_kind)
    if not options.json:
        _print_result(result, MANUAL_OUTCOME_TEXT if pasted is not None else OUTCOME_TEXT)
    changed = result.outcome in ("rotated", "partial", "failed")
    return CommandResult(payload, changed=changed, exit_code=code)


def _pasted_key(options: argparse.Namespace) -> tuple[str, Secret] | None:
    """With --manual, the new key's id and secret; None without. Wrong combinations are refused
    before the secret is read."""
    given = [f"--{name.replace('_', '-')}" for name in MANUAL_OPTIONS if getattr(options, name)]
    if not options.manual:
        if given:
            raise ToolError(f"{given[0]} goes with --manual.", kind=ErrorKind.USAGE)
        return None
    if options.resume:
        raise ToolError(
            "--manual does not resume a rotation; finish or roll back the interrupted one "
            "first (--resume without --manual).",
            kind=ErrorKind.USAGE,
        )
    if options.delete_inactive:
        raise ToolError(
            "--delete-inactive makes room for a key that rotate creates; with --manual the new "
            "key exists already.",
            kind=ErrorKind.USAGE,
        )
    if not options.access_key_id:
        raise ToolError(
            "--manual needs --access-key-id: the new key's id (AKIA…).", kind=ErrorKind.USAGE
        )
    if options.secret_stdin and not options.yes:
        raise ToolError(
            "With --secret-stdin, stdin holds the secret and cannot answer a question: pass --yes.",
            kind=ErrorKind.USAGE,
        )
    return options.access_key_id, _new_secret(options)


def _new_secret(options: argparse.Namespace) -> Secret:
    """The pasted key's secret, from --secret-env VAR or wherever ``apply`` takes it from."""
    if options.secret_env:
        # Taken out of the environment, as apply does, so no child process inherits it.
        value = os.environ.pop(options.secret_env, "")
        if not value:
            raise UsageProblem(
                f"The environment variable {shown(options.secret_env)} is not set or empty."
            )
        try:
            return clean_secret(value)
        except ValidationError as problem:
            raise ToolError(str(problem), kind=ErrorKind.USAGE) from None
    secret = read_secret(options)
    if secret is None:
        raise ToolError(
            "--manual needs the new key's secret: pass it with --secret-stdin, --secret-file "
            "FILE, --secret-env VAR or PA_AWS_SECRET_ACCESS_KEY, never on the command line.",
            kind=ErrorKind.USAGE,
        )
    return secret


def choose_target(
    services: Services, options: argparse.Namespace, link: RundeckLink | None = None
) -> Any:
    """The one access-key setup to rotate: the scope given, or the only one there is. With
    Rundeck's API a project's setup is the one Rundeck holds (its database), as for apply."""
    from tui.core.model import Scope
    from tui.core.rotation import RotationError, load_api_target, load_target
    from tui.core.rundeck_api import RundeckApiError

    install = services.install()

    def load(scope: Scope, project: str | None) -> Any:
        if link is not None and scope is Scope.PROJECT and project is not None:
            return load_api_target(install, link.client, project)
        return load_target(install, scope, project)

    if options.system or options.project:
        return load(Scope.SYSTEM if options.system else Scope.PROJECT, options.project)
    try:
        projects = (
            [item.name for item in link.client.list_projects()]
            if link is not None
            else install.list_projects()
        )
    except RundeckApiError as error:
        raise ToolError(f"Cannot list Rundeck's projects: {error}", kind=error.kind) from None
    found = []
    for scope, project in [(Scope.SYSTEM, None)] + [(Scope.PROJECT, p) for p in projects]:
        try:
            found.append(load(scope, project))
        except RotationError:
            continue
    if len(found) == 1:
        return found[0]
    if not found:
        raise ToolError(
            "No setup of this install uses an access key: nothing to rotate.",
            kind=ErrorKind.USAGE,
        )
    names = ", ".join("--system" if t.project is None else f"--project {t.project}" for t in found)
    raise ToolError(f"Several setups use an access key; choose one: {names}.", kind=ErrorKind.USAGE)


def _run(
    options: argparse.Namespace,
    services: Services,
    target: Any,
    keystore: Any,
    resuming: bool,
    pasted: tuple[str, Secret] | None,
    retire_old: bool,
    delete_old: bool,
    key_storage: Any,
) -> Any:
    from tui.core.rotation import (
        SpareKey,
        manual_rotate,
        resume_rotation,
        rotate_key,
    )

    interactive = sys.stdin.isatty() and not options.yes

    def show(step: Step) -> None:
        if not options.json:
            print(f"  {STEP_MARKS[step.status].glyph} {step.name}: {step.detail}", flush=True)

    def consent(spare: SpareKey) -> bool:
        if options.delete_inactive:
            return True
        if not interactive:
            return False
        return _ask(
            f"The IAM user already has a second key, {spare.access_key_id}, which is inactive "
            "and was not left by pa-aws-setup. Delete it to make room?"
        )

    common: dict[str, Any] = {
        "keystore": keystore,
        "clock": services.clock,
        "on_step": show,
        "wait_seconds": options.wait_seconds,
        "allow_insecure": services.allow_insecure_keyring,
        "keep_backups": options.keep_backups,
        "key_storage": key_storage,
        "delete_old": delete_old,
    }
    if resuming:
        return resume_rotation(target, options.resume, **common)
    if pasted is not None:
        return manual_rotate(
            target,
            *pasted,
            deactivate_old=retire_old,
            allow_other_user=options.allow_other_user,
            **common,
        )
    return rotate_key(target, confirm_delete_inactive=consent, **common)


def _print_result(result: Any, outcome_text: dict[str, str]) -> None:
    print(outcome_text.get(result.outcome, result.outcome))
    if result.error:
        print(f"reason: {result.error}")
    state = result.state
    for label, text in (("IAM", state.iam), ("keyring", state.keyring), ("files", state.files)):
        if text:
            print(f"  {label:8}{text}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    for step in result.next_steps:
        print(f"to finish: {step}")


def _ask(question: str) -> bool:
    try:
        reply = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return reply.strip().lower() in ("y", "yes")

"""``pa-aws-setup rotate``: rotate one setup's access key, or resume an interrupted rotation."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from tui.cli import EXIT_AWS, EXIT_CONFIG, EXIT_KEYRING, EXIT_OK, EXIT_USAGE
from tui.commands.output import emit_json, error

EXIT_BY_KIND = {
    "usage": EXIT_USAGE,
    "config": EXIT_CONFIG,
    "keyring": EXIT_KEYRING,
    "aws": EXIT_AWS,
}
STEP_MARKS = {
    "running": "…",
    "done": "✓",
    "skipped": "-",
    "failed": "✗",
    "rolled back": "↺",
    "warning": "!",
}
OUTCOME_TEXT = {
    "rotated": "Rotated: Rundeck uses the new key.",
    "partial": "Rotated with a warning: Rundeck uses the new key, but not everything finished.",
    "rolled_back": "Rolled back: Rundeck still uses the old key, and the new key was removed.",
    "refused": "Nothing was changed.",
    "failed": "The rotation could not finish cleanly; read the state below.",
}


class CommandError(Exception):
    """Ends the command with ``exit_code``; the message is safe to print."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_rotate(options: argparse.Namespace) -> int:
    try:
        return _rotate(options)
    except CommandError as problem:
        if options.json:
            emit_json("rotate", {"ok": False, "error": str(problem)}, problem.exit_code)
        else:
            error(str(problem))
        return problem.exit_code


def _rotate(options: argparse.Namespace) -> int:
    from tui.core.keystore import KeyStore
    from tui.core.rotation import RotationError, inspect_interrupted

    target = _choose_target(options)
    keystore = KeyStore()
    problem = keystore.usability_problem(
        allow_insecure=getattr(options, "allow_insecure_keyring", False)
    )
    if problem is not None:
        raise CommandError(problem, EXIT_KEYRING)
    interrupted = None
    if target.interrupted is not None:
        try:
            interrupted = inspect_interrupted(target, keystore=keystore)
        except RotationError as failure:
            raise CommandError(str(failure), EXIT_BY_KIND[failure.kind]) from None
    elif options.resume:
        raise CommandError(
            f"There is no interrupted rotation for {target.label} to resume.", EXIT_USAGE
        )
    if interrupted is not None:
        if not options.resume or options.resume not in interrupted.actions:
            choices = " or ".join(f"--resume {action}" for action in interrupted.actions)
            raise CommandError(
                f"A rotation of {target.label} was interrupted (phase {interrupted.phase}). "
                f"{interrupted.explanation}" + (f" Rerun with {choices}." if choices else ""),
                EXIT_USAGE,
            )
        question = f"{options.resume.capitalize()} the interrupted rotation of {target.label}?"
    else:
        question = (
            f"Rotate the access key {target.access_key_id} of {target.label} "
            f"({target.properties_file})?"
        )
    interactive = sys.stdin.isatty() and not options.yes
    if not options.yes:
        if not sys.stdin.isatty():
            raise CommandError(
                "Not rotating without confirmation: stdin is not a terminal, so pass --yes.",
                EXIT_USAGE,
            )
        if not _ask(question):
            print("Cancelled: nothing was changed.")
            return EXIT_OK
    delete_old = options.delete_old
    if not options.delete_old and not options.keep_old and interactive:
        delete_old = _ask("Delete the old key at the end (otherwise it is kept, inactive)?")
    result = _run(options, target, keystore, interrupted is not None, delete_old, interactive)
    code = EXIT_OK if result.outcome == "rotated" else EXIT_BY_KIND.get(result.error_kind, EXIT_OK)
    if options.json:
        payload: dict[str, Any] = {
            "ok": code == EXIT_OK,
            **result.to_json_dict(),
            "scope": str(target.scope),
            "project": target.project,
            "resumed": interrupted is not None,
            "interrupted": interrupted.to_json_dict() if interrupted else None,
        }
        # "ok" follows the exit code, as in every command's envelope.
        payload["ok"] = code == EXIT_OK
        emit_json("rotate", payload, code)
    else:
        _print_result(result)
    return code


def _choose_target(options: argparse.Namespace) -> Any:
    from tui.core.model import Scope
    from tui.core.rotation import RotationError, load_target
    from tui.core.rundeck import RundeckError, find_install

    try:
        install = find_install(options.rdeck_base)
    except RundeckError as problem:
        raise CommandError(str(problem), EXIT_CONFIG) from None
    if options.system or options.project:
        scope = Scope.SYSTEM if options.system else Scope.PROJECT
        try:
            return load_target(install, scope, options.project)
        except RotationError as problem:
            raise CommandError(str(problem), EXIT_BY_KIND[problem.kind]) from None
    found = []
    for scope, project in [(Scope.SYSTEM, None)] + [
        (Scope.PROJECT, name) for name in install.list_projects()
    ]:
        try:
            found.append(load_target(install, scope, project))
        except RotationError:
            continue
    if len(found) == 1:
        return found[0]
    if not found:
        raise CommandError(
            "No setup of this install uses an access key: nothing to rotate.", EXIT_USAGE
        )
    names = ", ".join("--system" if t.project is None else f"--project {t.project}" for t in found)
    raise CommandError(f"Several setups use an access key; choose one: {names}.", EXIT_USAGE)


def _run(
    options: argparse.Namespace,
    target: Any,
    keystore: Any,
    resuming: bool,
    delete_old: bool,
    interactive: bool,
) -> Any:
    from tui.core.rotation import RotationStep, SpareKey, resume_rotation, rotate_key

    def show(step: RotationStep) -> None:
        if not options.json:
            mark = STEP_MARKS.get(step.status, "•")
            print(f"  {mark} {step.name}: {step.detail}", flush=True)

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
        "clock": _now,
        "on_step": show,
        "wait_seconds": options.wait_seconds,
        "allow_insecure": getattr(options, "allow_insecure_keyring", False),
        "delete_old": delete_old,
    }
    if resuming:
        return resume_rotation(target, options.resume, **common)
    return rotate_key(target, confirm_delete_inactive=consent, **common)


def _print_result(result: Any) -> None:
    print(OUTCOME_TEXT.get(result.outcome, result.outcome))
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


def _now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)

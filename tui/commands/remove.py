"""``pa-aws-setup remove``: one scope's AWS setup removed, as the wizard's Remove does.

Through Rundeck's API for a project it serves (its config keys; the Key Storage entry only
with ``--delete-key``), else the properties file, its record and the keyring copy.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.commands.connection import open_connection
from tui.commands.output import CommandResult, colour_diff, print_steps, run_command
from tui.core.errors import UsageProblem
from tui.services import Services


def run_remove(options: argparse.Namespace, services: Services) -> int:
    return run_command("remove", options, lambda: _remove(options, services))


def _remove(options: argparse.Namespace, services: Services) -> CommandResult:
    from tui.core.model import Scope
    from tui.core.rundeck_link import RundeckLink
    from tui.core.setup import apply_removal, plan_removal
    from tui.core.setup.api_removal import apply_api_removal, plan_api_removal

    if not (options.system or options.project):
        raise UsageProblem("Which setup? Pass --system or --project NAME.")
    scope = Scope.SYSTEM if options.system else Scope.PROJECT
    keystore = services.keystore()
    connection = open_connection(options, services)
    summary: dict[str, Any] = {"rundeck": connection.to_json()}
    if isinstance(connection, RundeckLink) and scope is Scope.PROJECT:
        api_plan = plan_api_removal(
            connection.client, options.project, delete_key=options.delete_key
        )
        summary.update(
            configuration_path="api", plan=api_plan.to_json(), notes=list(api_plan.notes)
        )
        if not options.json:
            print(colour_diff(api_plan.diff), end="")
            for note in api_plan.notes:
                print(f"note: {note}")
        if not api_plan.before:
            return _done(options, summary, False, "Nothing to remove: no AWS settings there.")
        _confirm(options)
        result = apply_api_removal(api_plan, connection.client, keystore)
    else:
        plan = plan_removal(services.install(), scope, options.project, keystore=keystore)
        summary.update(configuration_path="file", target=str(plan.target), notes=list(plan.notes))
        if plan.blockers:
            raise plan.blockers[0].error()
        if not options.json:
            print(colour_diff(plan.diff), end="")
            for note in plan.notes:
                print(f"note: {note}")
        if not plan.removed_keys:
            return _done(options, summary, False, "Nothing to remove: no AWS settings there.")
        _confirm(options)
        result = apply_removal(plan, keystore=keystore, clock=services.clock)
    summary["steps"] = [step.to_json() for step in result.steps]
    if not result.ok:
        if not options.json:
            print_steps(result.steps, sys.stderr)
        failure = result.failure()
        failure.details.update(summary, changed=result.changed)
        raise failure
    return _done(options, summary, True, "Removed.")


def _confirm(options: argparse.Namespace) -> None:
    if options.yes:
        return
    if not sys.stdin.isatty():
        raise UsageProblem(
            "Not removing without confirmation: stdin is not a terminal, so pass --yes."
        )
    if input("Remove these settings? [y/N] ").strip().lower() not in ("y", "yes"):
        raise UsageProblem("Cancelled: nothing was removed.")


def _done(
    options: argparse.Namespace, summary: dict[str, Any], changed: bool, message: str
) -> CommandResult:
    if not options.json:
        print(message)
    return CommandResult({"message": message, **summary}, changed=changed)

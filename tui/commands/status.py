"""``pa-aws-setup status``: every AWS setup of the install, key age and what needs attention."""

from __future__ import annotations

import argparse
from typing import Any

from tui.commands.output import CommandResult, run_command
from tui.core.errors import UsageProblem
from tui.services import Services

SEVERITY_MARKS = {"error": "✗", "warning": "!", "info": "·"}


def run_status(options: argparse.Namespace, services: Services) -> int:
    return run_command("status", options, lambda: _status(options, services))


def _status(options: argparse.Namespace, services: Services) -> CommandResult:
    from tui.core.status import add_detection, collect_status, uses_roles

    if options.max_age_days < 1:
        raise UsageProblem("--max-age-days must be at least 1.")
    status = collect_status(
        services.install(),
        keystore_factory=services.keystore,
        clock=services.clock,
        max_age_days=options.max_age_days,
        ask_aws=not options.no_aws,
    )
    _add_rundeck(options, services, status)
    if not options.no_aws and uses_roles(status):  # after the API: its projects count too
        add_detection(status, services.detect(lambda update: None))
    if not options.json:
        print(format_status(status))
    return CommandResult(status.to_json_dict())


def _add_rundeck(options: argparse.Namespace, services: Services, status: Any) -> None:
    """What Rundeck's API holds, when it answers: config per project, keys in Key Storage."""
    from tui.commands.connection import open_connection
    from tui.core.errors import ToolError
    from tui.core.rundeck_link import RundeckLink
    from tui.core.status_rundeck import add_rundeck_status, flag_unreachable

    try:
        connection = open_connection(options, services)
    except ToolError as problem:
        flag_unreachable(status, str(problem))
        return
    status.rundeck = connection.to_json()
    if isinstance(connection, RundeckLink):
        add_rundeck_status(
            status,
            connection,
            keystore_factory=services.keystore,
            clock=services.clock,
            ask_aws=not options.no_aws,
            client_factory=services.aws_client,
        )


def format_status(status: Any) -> str:
    """Plain text for a terminal or a log: one block per setup, problems last in each."""
    install = status.install
    lines = [f"Rundeck ({install.layout}): {install.framework_properties}"]
    if status.rundeck and "rundeck_version" in status.rundeck:
        rundeck = status.rundeck
        version, api = rundeck["rundeck_version"], rundeck["api_version"]
        lines.append(f"Rundeck {version} at {rundeck['url']} (API {api})")
    if status.rundeck_problem:
        lines.append(f"✗ Rundeck's API: {status.rundeck_problem}")
    if not status.has_setup:
        lines.append("No AWS setup found: run pa-aws-setup to create one.")
    for entry in status.entries:
        if not (entry.configured or entry.record_present or entry.problems):
            continue
        lines.append("")
        lines.append(f"{entry.label}: {entry.properties_file}")
        methods = " + ".join(method.title for method in entry.methods) or "not configured"
        lines.append(f"  method      {methods}")
        lines.append(f"  region      {entry.region or '(default)'}")
        if entry.access_key_id_masked:
            lines.append(f"  access key  {entry.access_key_id_masked}{_iam_summary(entry.iam)}")
        if entry.key_path:
            present = {True: "present", False: "MISSING", None: "not checked"}[entry.secret_present]
            backend = entry.keyring_backend or "keyring"
            lines.append(f"  secret      {entry.key_path} in {backend}: {present}")
        if entry.role_detected is not None:
            found = "detected here" if entry.role_detected else "NOT detected here"
            lines.append(f"  role        {found}")
        if entry.rotated_at is not None:
            lines.append(f"  rotated     {entry.rotated_at:%Y-%m-%d %H:%M}")
        for problem in entry.problems:
            mark = SEVERITY_MARKS.get(problem.severity, "!")
            lines.append(f"  {mark} {problem.code}: {problem.message}")
    return "\n".join(lines)


def _iam_summary(iam: Any) -> str:
    if iam is None:
        return ""
    if iam.iam_user is None:
        return f"  ({iam.error})" if iam.error else ""
    parts = [f"IAM user {iam.iam_user}"]
    if iam.age_days is not None:
        parts.append(f"{iam.age_days} days old")
    if iam.last_used_at is not None:
        service = f" ({iam.last_used_service})" if iam.last_used_service else ""
        parts.append(f"last used {iam.last_used_at:%Y-%m-%d %H:%M}{service}")
    elif iam.error is None:
        parts.append("never used")
    if iam.error is not None and iam.age_days is None:
        parts.append("age unknown: the key may not read its own IAM details")
    return "  (" + ", ".join(parts) + ")"

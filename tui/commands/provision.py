"""``pa-aws-setup provision`` (set the role up with an administrator's credentials) and
``pa-aws-setup policy-check`` (what may the current credentials do, per plugin)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from tui.commands.output import CommandResult, error, print_steps, run_command
from tui.core.errors import ErrorKind, ToolError
from tui.core.exit_codes import EXIT_AWS, EXIT_OK, EXIT_VERIFY, exit_code
from tui.core.iam.provision.model import DEFAULT_ROLE_NAME

VERDICT_MARKS = {"allowed": "✓", "denied": "✗", "unknown": "?"}
EXIT_BY_STATE = {"allowed": EXIT_OK, "denied": EXIT_VERIFY, "unknown": EXIT_AWS}
METADATA_TIMEOUT = 2.0

EPILOG_PROVISION = """\
needs credentials allowed to manage IAM roles (and EC2 or ECS); nothing is done before the
plan is shown as the equivalent AWS CLI commands, which can be copied and run instead.

examples:
  pa-aws-setup provision --method ec2 --plugins ec2-nodes,ssm --current-instance --dry-run
  pa-aws-setup provision --method ec2 --plugins ec2-nodes --instance i-0abc... \\
      --instance i-0def... --replace-existing --yes
  pa-aws-setup provision --method ecs --plugins ecs-nodes --task-definition rundeck:7 \\
      --cluster ops --service rundeck --yes --json
"""

EPILOG_POLICY_CHECK = """\
asks IAM's policy simulator (iam:SimulatePrincipalPolicy); without that right, or where the
simulator does not exist, every plugin is reported as unknown, never guessed.
exit codes: 0 all allowed, 3 some denied, 6 could not be checked

examples:
  pa-aws-setup policy-check --plugins ec2-nodes,ssm
  pa-aws-setup policy-check --plugins s3 --principal arn:aws:iam::123456789012:role/rundeck
"""


# --- parsers ---------------------------------------------------------------------------------


def add_provision_parsers(commands: Any) -> None:
    """Add ``provision`` and ``policy-check`` to the top-level subparsers."""
    provision = commands.add_parser(
        "provision",
        help="create the role for Rundeck with admin credentials (preview first)",
        description="Create the IAM role, its policy, and attach it to EC2 instances or an "
        "ECS task definition.",
        epilog=EPILOG_PROVISION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    provision.add_argument("--method", choices=["ec2", "ecs"], required=True)
    add_plugin_options(provision)
    provision.add_argument(
        "--role-name", default=DEFAULT_ROLE_NAME, help=f"(default {DEFAULT_ROLE_NAME})"
    )
    provision.add_argument("--policy-name", help="inline policy name (default rundeck-aws-plugins)")
    provision.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="KIND=ARN",
        help="narrow a plugin's actions to a resource, e.g. bucket=arn:aws:s3:::my-bucket",
    )
    ec2 = provision.add_argument_group("ec2")
    ec2.add_argument(
        "--instance",
        action="append",
        default=[],
        metavar="ID",
        help="an instance to give the role to (repeat for every node of a cluster)",
    )
    ec2.add_argument(
        "--current-instance", action="store_true", help="also this instance (from its metadata)"
    )
    ec2.add_argument("--instance-profile-name", help="(default: the role name)")
    ecs = provision.add_argument_group("ecs")
    ecs.add_argument(
        "--task-definition", metavar="FAMILY[:REV]", help="register a new revision of it"
    )
    ecs.add_argument(
        "--current-task",
        action="store_true",
        help="the task definition of this task (from its metadata)",
    )
    ecs.add_argument("--cluster", help="for the update-service command shown afterwards")
    ecs.add_argument("--service", help="for the update-service command shown afterwards")
    provision.add_argument(
        "--replace-existing",
        action="store_true",
        help="replace an instance's other instance profile / a task definition's other task role",
    )
    provision.add_argument("--region", metavar="R", help="AWS region of the instances or tasks")
    provision.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    provision.add_argument("--yes", "-y", action="store_true", help="do it without asking")
    provision.add_argument("--json", action="store_true", help="machine-readable output")

    check = commands.add_parser(
        "policy-check",
        help="check what the current credentials may do, per plugin",
        description="Simulate the chosen plugins' IAM actions for the current credentials "
        "(or another principal).",
        epilog=EPILOG_POLICY_CHECK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_plugin_options(check)
    check.add_argument("--principal", metavar="ARN", help="simulate this user or role instead")
    check.add_argument("--region", metavar="R", help="AWS region for the STS/IAM calls")
    check.add_argument("--json", action="store_true", help="machine-readable output")


def add_plugin_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plugins",
        action="append",
        required=True,
        metavar="ID[,ID...]",
        help="plugin ids or Rundeck names (see `pa-aws-setup policy --list`); repeatable",
    )


def plugin_names(values: Sequence[str]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def chosen_plugins(values: Sequence[str]) -> tuple[Any, ...]:
    from tui.core.iam.catalog import UnknownPlugin, find

    try:
        return find(plugin_names(values))
    except UnknownPlugin as problem:
        raise ToolError(str(problem), kind=ErrorKind.USAGE) from None


# --- policy-check ----------------------------------------------------------------------------


def run_policy_check(options: argparse.Namespace) -> int:
    return run_command("policy-check", options, lambda: _policy_check(options))


def _policy_check(options: argparse.Namespace) -> CommandResult:
    from tui.core.iam.catalog import actions_by_plugin
    from tui.core.iam.simulate import simulate

    plugins = chosen_plugins(options.plugins)
    check = simulate(
        actions_by_plugin(plugins), principal_arn=options.principal, region=options.region
    )
    code = EXIT_BY_STATE[check.state]
    result = CommandResult(check.to_json_dict(), exit_code=code)
    if options.json:
        return result
    principal = check.principal_arn or "the current credentials"
    if check.simulated_arn and check.simulated_arn != check.principal_arn:
        principal += f" (simulated as {check.simulated_arn})"
    print(f"Permissions of {principal}:")
    width = max(len(verdict.plugin_id) for verdict in check.verdicts)
    for verdict in check.verdicts:
        mark = VERDICT_MARKS[verdict.state]
        print(f"  {mark} {verdict.plugin_id:<{width}}  {verdict.state}: {verdict.reason}")
    if check.note:
        print(check.note)
    return result


# --- provision -------------------------------------------------------------------------------


def run_provision(options: argparse.Namespace) -> int:
    return run_command("provision", options, lambda: _provision(options))


def _policies(options: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trust and permissions policies for the chosen method, plugins and resources."""
    from tui.core.iam.policy import BadResource, permissions_policy, trust_policy
    from tui.core.model import Method

    plugins = chosen_plugins(options.plugins)
    resources: dict[str, list[str]] = {}
    for item in options.resource:
        kind, separator, arn = item.partition("=")
        if not separator or not kind.strip() or not arn.strip():
            raise ToolError(f"--resource takes KIND=ARN, not {item!r}.", kind=ErrorKind.USAGE)
        resources.setdefault(kind.strip(), []).append(arn.strip())
    try:
        permissions = permissions_policy(plugins, resources or None)
    except (BadResource, ValueError) as problem:
        raise ToolError(str(problem), kind=ErrorKind.USAGE) from None
    return dict(trust_policy(Method(options.method))), dict(permissions)


def _targets(options: argparse.Namespace) -> tuple[list[str], str | None, str | None, str | None]:
    """Instances, task definition, cluster and region, with this machine's when asked."""
    instances = list(options.instance)
    task_definition, cluster, region = options.task_definition, options.cluster, options.region
    if options.method == "ec2" and (options.task_definition or options.current_task):
        raise ToolError(
            "--task-definition and --current-task go with --method ecs.", kind=ErrorKind.USAGE
        )
    if options.method == "ecs" and (options.instance or options.current_instance):
        raise ToolError(
            "--instance and --current-instance go with --method ec2.", kind=ErrorKind.USAGE
        )
    if options.current_instance:
        from tui.core.detect import probe_ec2

        probe, _ = probe_ec2(os.environ, METADATA_TIMEOUT)
        if not probe.detected or not probe.instance_id:
            raise ToolError(
                f"--current-instance: this does not look like an EC2 instance ({probe.error}).",
                kind=ErrorKind.USAGE,
            )
        instances.insert(0, probe.instance_id)
        region = region or probe.region
    if options.current_task:
        from tui.core.detect import probe_ecs

        task, _ = probe_ecs(os.environ, METADATA_TIMEOUT)
        if not task.detected or not task.family:
            raise ToolError(
                f"--current-task: this does not look like an ECS task ({task.error}).",
                kind=ErrorKind.USAGE,
            )
        if task_definition is None:
            revision = f":{task.revision}" if task.revision else ""
            task_definition = f"{task.family}{revision}"
        cluster = cluster or task.cluster
        region = region or task.region
    from tui.core.detect.model import configured_region

    region = region or configured_region(os.environ)
    return instances, task_definition, cluster, region


def _provision(options: argparse.Namespace) -> CommandResult:
    from tui.core.iam.provision import DEFAULT_POLICY_NAME, PlanError, plan_role_setup

    trust, permissions = _policies(options)
    instances, task_definition, cluster, region = _targets(options)
    if not region:
        raise ToolError(
            "Which region? Pass --region (or set AWS_REGION): instances and task definitions "
            "live in one region.",
            kind=ErrorKind.USAGE,
        )

    def plan(replace_existing: bool) -> Any:
        try:
            return plan_role_setup(
                options.method,
                options.role_name,
                trust_policy=trust,
                permissions_policy=permissions,
                region=region,
                policy_name=options.policy_name or DEFAULT_POLICY_NAME,
                instance_profile_name=options.instance_profile_name,
                instance_ids=instances,
                task_definition=task_definition,
                replace_existing=replace_existing,
                cluster=cluster,
                service=options.service,
                client_factory=None,
            )
        except PlanError as problem:
            raise ToolError(str(problem), kind=problem.kind) from None

    setup = plan(options.replace_existing)
    if not options.json:
        print(setup.preview())
    interactive = sys.stdin.isatty() and not options.yes and not options.json
    if interactive and setup.skipped and not options.replace_existing:
        targets = ", ".join(item.target for item in setup.skipped)
        if _ask(f"Replace the existing role of {targets} too?"):
            setup = plan(True)
            print(setup.preview())
    summary: dict[str, Any] = {"plan": setup.to_json_dict()}
    if not setup.changes_anything:
        return _finish(options, summary, changed=False, message="Nothing to do: all in place.")
    if options.dry_run:
        return _finish(
            options,
            summary,
            changed=False,
            message="Dry run: nothing was changed. The commands above do the same by hand.",
        )
    if not options.yes:
        if not sys.stdin.isatty():
            raise ToolError(
                "Not changing AWS without confirmation: stdin is not a terminal, so pass --yes "
                "(or --dry-run to only see the plan).",
                kind=ErrorKind.USAGE,
            )
        if not _ask(f"Run these {len(setup.steps)} AWS calls?"):
            return _finish(options, summary, changed=False, message="Cancelled: nothing changed.")
    return _run(options, setup, summary)


def _run(options: argparse.Namespace, setup: Any, summary: dict[str, Any]) -> CommandResult:
    from tui.core.iam.provision import execute
    from tui.core.steps import Step

    def show(step: Step) -> None:
        if not options.json and step.status.finished:
            print_steps([step])

    result = execute(setup, on_step=show)
    summary["result"] = result.to_json_dict()
    if result.ok:
        if not options.json:
            for line in result.follow_up:
                print(line)
        return _finish(options, summary, changed=True, message="Done.")
    changed = result.changed_anything
    failure = ToolError(str(result.error), kind=ErrorKind.AWS, changed=changed, **summary)
    if options.json:
        raise failure
    error(f"Stopped: {result.error}")
    _section("What exists in AWS now:", result.exists_now or ())
    if result.survey_error:
        print(result.survey_error)
    _section("Not done:", result.not_done)
    _section(
        "To undo what was done (not needed to retry; a rerun reuses it):", result.undo_commands
    )
    return CommandResult(summary, changed=changed, exit_code=exit_code(failure.kind), ok=False)


def _section(title: str, lines: Sequence[str]) -> None:
    if lines:
        print(title)
        for line in lines:
            print(f"  {line}")


def _finish(
    options: argparse.Namespace, summary: dict[str, Any], *, changed: bool, message: str
) -> CommandResult:
    if not options.json:
        print(message)
    return CommandResult(
        {"dry_run": options.dry_run, "message": message, **summary}, changed=changed
    )


def _ask(question: str) -> bool:
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False

"""``pa-aws-setup policy``: least-privilege IAM policies for the Rundeck plugins in use."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui.commands.output import CommandResult, error, run_command
from tui.core.errors import ErrorKind, ToolError

# The core is imported inside the functions: tui.cli builds this parser on every run,
# the wizard's included, and only `policy` itself needs the catalog.
STDOUT = "-"
OUTPUT_MODE = 0o644  # a policy is no secret; other tools and admins read it
TRUST_METHODS = ("ec2", "ecs")

EPILOG_POLICY = """\
examples:
  pa-aws-setup policy --list
  pa-aws-setup policy --plugins ec2-nodes,ssm \\
      --resource bucket=arn:aws:s3:::rundeck-files > permissions.json
  pa-aws-setup policy --trust ec2 > trust.json
  pa-aws-setup policy --plugins ecs-nodes,ecs-exec --trust ecs \\
      --output permissions.json --trust-output trust.json
  pa-aws-setup policy --plugins s3-log-storage --access-key-user --output user-policy.json

then, for a role (EC2 or ECS method):
  aws iam create-role --role-name rundeck --assume-role-policy-document file://trust.json
  aws iam put-role-policy --role-name rundeck --policy-name rundeck-aws \\
      --policy-document file://permissions.json
or, for the access key method's IAM user:
  aws iam put-user-policy --user-name rundeck --policy-name rundeck-aws \\
      --policy-document file://user-policy.json

Without --output, a policy goes to standard output as bare JSON, ready for file://.
Messages and warnings go to standard error.

exit codes: 0 done, 2 usage (unknown plugin, bad resource, ...; nothing written),
            5 an output file could not be written (nothing written)
"""


def add_policy_parser(commands: Any) -> None:
    """Register ``policy`` on the subparsers object of the main parser."""
    parser = commands.add_parser(
        "policy",
        help="print least-privilege IAM policies for the Rundeck AWS plugins you use",
        description="Generate the least-privilege IAM permissions policy that the chosen Rundeck\n"
        "AWS plugins need (one statement per plugin, narrowed to the resources you name),\n"
        "the trust policy of the EC2 or ECS method's role, or the policy of the access key\n"
        "method's IAM user, which can also rotate its own keys.",
        epilog=EPILOG_POLICY,
        formatter_class=PolicyHelpFormatter,
    )
    parser.add_argument(
        "--list", action="store_true", help="show the plugin catalog and the resource kinds"
    )
    parser.add_argument(
        "--plugins",
        action="append",
        metavar="ID[,ID...]",
        help="plugins to grant, by id or Rundeck name; comma-separated or repeated",
    )
    parser.add_argument(
        "--resource",
        action="append",
        metavar="KIND=ARN",
        help="narrow the actions on a KIND of resource to this ARN (wildcards allowed); "
        "repeat for more. Applies to every chosen plugin that acts on that kind",
    )
    parser.add_argument(
        "--access-key-user",
        action="store_true",
        help="policy for the access key method's IAM user: adds reading and rotating its "
        "own access keys (user/${aws:username})",
    )
    parser.add_argument(
        "--trust",
        choices=TRUST_METHODS,
        help="also generate the role's trust policy: ec2 (ec2.amazonaws.com) or ecs "
        "(ecs-tasks.amazonaws.com)",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the permissions policy to FILE (the trust policy when only --trust is "
        "given); '-' is standard output",
    )
    parser.add_argument("--trust-output", metavar="FILE", help="write the trust policy to FILE")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


class PolicyHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends the catalog's ids and resource kinds to the epilog, reading the catalog only
    when help is shown: every command line builds this parser, few print its help."""

    def add_text(self, text: str | None) -> None:
        if text == EPILOG_POLICY:
            text += epilog_catalog()
        super().add_text(text)


def epilog_catalog() -> str:
    """Plugin ids and resource kinds with an example ARN, for the end of --help."""
    import textwrap

    from tui.core.iam import catalog

    ids = ", ".join(plugin.id for plugin in catalog.plugins())
    lines = ["", "plugin ids (details: --list):"]
    lines += textwrap.wrap(ids, width=88, initial_indent="  ", subsequent_indent="  ")
    lines += ["", "resource kinds for --resource KIND=ARN:"]
    for kind in catalog.resource_kinds():
        lines.append(f"  {kind.id:<10} {kind.example}")
    return "\n".join(lines) + "\n"


def run_policy(options: argparse.Namespace) -> int:
    return run_command(
        "policy", options, lambda: _list(options) if options.list else _generate(options)
    )


def _list(options: argparse.Namespace) -> CommandResult:
    others = [
        name
        for name, given in (
            ("--plugins", options.plugins),
            ("--resource", options.resource),
            ("--access-key-user", options.access_key_user),
            ("--trust", options.trust),
            ("--output", options.output),
            ("--trust-output", options.trust_output),
        )
        if given
    ]
    if others:
        raise ToolError(
            f"--list shows the catalog; it takes no {', '.join(others)}.",
            kind=ErrorKind.USAGE,
        )
    if options.json:
        return CommandResult(catalog_json())
    print(format_catalog())
    return CommandResult()


def catalog_json() -> dict[str, Any]:
    """The catalog as JSON-ready lists: plugins with their actions, and resource kinds."""
    from tui.core.iam import catalog

    return {
        "catalog": [
            {
                "id": plugin.id,
                "name": plugin.name,
                "description": plugin.description,
                "actions": list(catalog.sort_actions(plugin.actions)),
                "resource_kind": plugin.resource_kind,
            }
            for plugin in catalog.plugins()
        ],
        "resource_kinds": [
            {"id": kind.id, "label": kind.label, "example": kind.example, "hint": kind.hint}
            for kind in catalog.resource_kinds()
        ],
    }


def format_catalog() -> str:
    """Plain text: one line per plugin, then the resource kinds with an example ARN each."""
    from tui.core.iam import catalog

    plugins = catalog.plugins()
    id_width = max(len(plugin.id) for plugin in plugins)
    name_width = max(len(plugin.name) for plugin in plugins)
    lines = [f"{'ID':<{id_width}}  {'RUNDECK PLUGIN':<{name_width}}  NARROWED BY"]
    for plugin in plugins:
        kind = plugin.resource_kind or "-"
        lines.append(f"{plugin.id:<{id_width}}  {plugin.name:<{name_width}}  {kind}")
    lines += ["", "Resource kinds for --resource KIND=ARN:"]
    for resource in catalog.resource_kinds():
        lines.append(f"  {resource.id:<10} {resource.label}, e.g. {resource.example}")
        if resource.hint:
            lines.append(f"  {'':<10} {resource.hint}")
    return "\n".join(lines)


def _generate(options: argparse.Namespace) -> CommandResult:
    from tui.core.iam import catalog
    from tui.core.iam.policy import (
        parse_resources,
        permissions_policy,
        size_warnings,
        to_json,
        trust_policy,
    )
    from tui.core.model import Method

    ids = _plugin_ids(options.plugins or [])
    wants_permissions = bool(ids) or options.access_key_user
    if not wants_permissions and not options.trust:
        raise ToolError(
            "Say what to generate: --plugins ID[,ID...] (see --list), --access-key-user, "
            "or --trust ec2|ecs.",
            kind=ErrorKind.USAGE,
        )
    if options.access_key_user and options.trust:
        raise ToolError(
            "--access-key-user is for the access key method's IAM user, and --trust for the "
            "role of the EC2 or ECS method: choose one.",
            kind=ErrorKind.USAGE,
        )
    if options.resource and not wants_permissions:
        raise ToolError(
            "--resource narrows a permissions policy: add --plugins.", kind=ErrorKind.USAGE
        )
    if options.trust_output and not options.trust:
        raise ToolError("--trust-output needs --trust ec2|ecs.", kind=ErrorKind.USAGE)
    permissions_to, trust_to = _destinations(options, wants_permissions)
    try:
        chosen = catalog.find(ids)
    except catalog.UnknownPlugin as problem:
        raise ToolError(
            str(problem),
            kind=ErrorKind.USAGE,
            unknown=list(problem.unknown),
            valid=list(problem.valid_ids),
        ) from None
    resources = _resources(options.resource or [])
    permissions: dict[str, object] | None = None
    warnings: list[str] = []
    try:
        if wants_permissions:
            permissions = permissions_policy(
                chosen, resources, for_access_key_user=options.access_key_user
            )
            warnings = size_warnings(permissions, for_access_key_user=options.access_key_user)
        narrowed = parse_resources(chosen, resources)
    except ValueError as problem:  # BadResource, or nothing to grant
        raise ToolError(str(problem), kind=ErrorKind.USAGE) from None
    trust = trust_policy(Method(options.trust)) if options.trust else None

    documents = [
        (permissions, permissions_to, "permissions policy"),
        (trust, trust_to, "trust policy"),
    ]
    written = _write_files([(doc, path, what) for doc, path, what in documents if doc and path])
    for message in warnings:
        print(f"pa-aws-setup: warning: {message}", file=sys.stderr)
    if options.json:
        payload = {
            "plugins": [plugin.id for plugin in chosen],
            "access_key_user": options.access_key_user,
            "resources": {kind: [arn.arn for arn in arns] for kind, arns in narrowed.items()},
            "permissions_policy": permissions,
            "trust_policy": trust,
            "written": {"permissions_policy": None, "trust_policy": None, **written},
            "warnings": warnings,
        }
        return CommandResult(payload, changed=bool(written))
    for document, path, _ in documents:
        if document is not None and path is None:
            print(to_json(document))
    for key, written_to in written.items():
        print(f"Wrote the {key.replace('_', ' ')} to {written_to}.", file=sys.stderr)
    return CommandResult(changed=bool(written))


def _plugin_ids(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _resources(values: Sequence[str]) -> dict[str, list[str]]:
    """``KIND=ARN`` options gathered by kind; CommandError for one without ``=``."""
    from tui.core.iam import catalog

    gathered: dict[str, list[str]] = {}
    for value in values:
        kind, separator, arn = value.partition("=")
        if not separator or not kind.strip() or not arn.strip():
            kinds = ", ".join(kind.id for kind in catalog.resource_kinds())
            raise ToolError(
                f"--resource takes KIND=ARN, e.g. bucket=arn:aws:s3:::rundeck-files "
                f"(kinds: {kinds}); got {value!r}.",
                kind=ErrorKind.USAGE,
            )
        gathered.setdefault(kind.strip(), []).append(arn.strip())
    return gathered


def _destinations(
    options: argparse.Namespace, wants_permissions: bool
) -> tuple[Path | None, Path | None]:
    """Where each document goes: a file, or None for standard output (in text mode)."""

    def path(value: str | None) -> Path | None:
        return None if value in (None, STDOUT) else Path(value)

    if wants_permissions:
        permissions_to, trust_to = path(options.output), path(options.trust_output)
    else:
        if options.output and options.trust_output:
            raise ToolError(
                "Only the trust policy is generated: give --output or --trust-output, not both.",
                kind=ErrorKind.USAGE,
            )
        permissions_to, trust_to = None, path(options.output or options.trust_output)
    both = wants_permissions and options.trust
    if both and permissions_to is None and trust_to is None and not options.json:
        raise ToolError(
            "Two policies cannot share standard output: write one or both to a file with "
            "--output FILE (permissions) and --trust-output FILE (trust), or use --json.",
            kind=ErrorKind.USAGE,
        )
    if both and permissions_to is not None and permissions_to == trust_to:
        raise ToolError("--output and --trust-output name the same file.", kind=ErrorKind.USAGE)
    return permissions_to, trust_to


def _write_files(
    documents: Sequence[tuple[dict[str, object], Path, str]],
) -> dict[str, str]:
    """Write every document or none: a failed write puts back the files already written."""
    from tui.core.iam.policy import to_json
    from tui.core.writer import WriteError, atomic_write

    written: dict[str, str] = {}
    previous: list[tuple[Path, bytes | None]] = []
    for document, path, what in documents:
        try:
            before = path.read_bytes() if path.is_file() else None
            atomic_write(path, (to_json(document) + "\n").encode(), backup=False, mode=OUTPUT_MODE)
        except (OSError, WriteError) as problem:
            _put_back(previous)
            message = problem.strerror if isinstance(problem, OSError) else str(problem)
            raise ToolError(
                f"Cannot write the {what} to {path}: {message}",
                kind=ErrorKind.CONFIG,
            ) from None
        previous.append((path, before))
        written[what.replace(" ", "_")] = str(path)
    return written


def _put_back(previous: Sequence[tuple[Path, bytes | None]]) -> None:
    from tui.core.writer import WriteError, atomic_write

    for path, data in previous:
        try:
            if data is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, data, backup=False)
        except (OSError, WriteError) as problem:
            error(f"could not restore {path}: {problem}")

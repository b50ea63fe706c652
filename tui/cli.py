"""Command line: no arguments runs the wizard; subcommands run the core headless.

Nothing heavy is imported here (no Textual, no boto3), so ``--help`` and the wizard's first
frame stay fast.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from tui import __version__

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_VERIFY = 3
EXIT_KEYRING = 4
EXIT_CONFIG = 5
EXIT_AWS = 6

# Options people try for the secret; each is refused without echoing what followed it.
SECRET_OPTIONS = ("--secret", "--secret-key", "--secret-access-key", "--aws-secret-access-key")
SECRET_SHAPED = re.compile(r"[A-Za-z0-9/+]{40}")

EPILOG_MAIN = """\
examples:
  pa-aws-setup                      run the wizard
  pa-aws-setup --demo               run the wizard in a sandbox (no AWS, no Rundeck needed)
  pa-aws-setup detect --json        where am I running, and which method is recommended?
  pa-aws-setup apply --method ec2 --system --region us-east-1 --yes
  pa-aws-setup status --json
  pa-aws-setup rotate --project ops --yes --delete-old

exit codes: 0 done or nothing to do, 2 usage, 3 verification failed,
            4 keyring unavailable or locked, 5 config not writable or invalid, 6 AWS refused
"""

EPILOG_APPLY = """\
the secret never goes on the command line; give it by one of:
  --secret-stdin                    read it from standard input
  PA_AWS_SECRET_ACCESS_KEY=...      the environment of the process
  --secret-file FILE                a file (mode 600) or /dev/fd/N

examples:
  pa-aws-setup apply --method ec2 --system --region eu-west-1 --yes
  pa-aws-setup apply --method ecs --project ops --dry-run
  printf '%s' "$SECRET" | pa-aws-setup apply --method access-key --project ops \\
      --access-key-id AKIA... --secret-stdin --verify --yes
  pa-aws-setup apply --answers answers.toml --secret-file /run/secrets/aws --yes --json
"""


class SafeArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose error messages never echo a secret-shaped argument."""

    def error(self, message: str) -> None:  # type: ignore[override]
        message = SECRET_SHAPED.sub("<hidden>", message)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def refuse_secret_options(argv: Sequence[str]) -> str | None:
    """The refusal message when argv tries to pass the secret as an option, else None."""
    for token in argv:
        name = token.split("=", 1)[0]
        if name in SECRET_OPTIONS:
            return (
                f"{name} is refused: a secret on the command line is visible to every user "
                "in `ps` and stays in shell history. Use --secret-stdin, --secret-file FILE or "
                "the PA_AWS_SECRET_ACCESS_KEY environment variable instead."
            )
    return None


def add_install_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rdeck-base",
        metavar="DIR",
        help="Rundeck base folder of a launcher install (default: $RDECK_BASE, then /etc/rundeck)",
    )


def add_scope_options(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--system", action="store_true", help="framework.properties (all projects)")
    scope.add_argument("--project", metavar="NAME", help="one project's project.properties")


def build_parser() -> argparse.ArgumentParser:
    parser = SafeArgumentParser(
        prog="pa-aws-setup",
        description="Set up AWS authentication for Rundeck / PagerDuty Process Automation.",
        epilog=EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pa-aws-setup {__version__}")
    parser.add_argument(
        "--demo", action="store_true", help="run the wizard in a sandbox: no AWS, no Rundeck"
    )
    parser.add_argument(
        "--allow-insecure-keyring",
        action="store_true",
        help="allow storing the secret in a plaintext keyring backend (not recommended)",
    )
    add_install_option(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    detect = commands.add_parser(
        "detect",
        help="show where this runs (EC2, ECS, credentials) and the recommended method",
        description="Detect the AWS environment: EC2 instance role, ECS task role, credentials.",
        epilog="examples:\n  pa-aws-setup detect\n  pa-aws-setup detect --json | jq .ec2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    detect.add_argument("--json", action="store_true", help="machine-readable output")
    detect.add_argument(
        "--timeout", type=float, default=1.0, help="seconds per metadata probe (default 1.0)"
    )

    apply = commands.add_parser(
        "apply",
        help="write the configuration from flags or an answers file",
        description="Configure Rundeck's AWS authentication without the wizard.",
        epilog=EPILOG_APPLY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    apply.add_argument("--method", choices=["ec2", "ecs", "access-key"])
    add_scope_options(apply)
    apply.add_argument("--region", metavar="R", help="default AWS region, e.g. us-east-1")
    apply.add_argument("--access-key-id", metavar="ID", help="AKIA… (access-key method)")
    apply.add_argument("--key-path", metavar="keys/...", help="Rundeck key-storage path")
    add_install_option(apply)
    apply.add_argument("--answers", metavar="FILE.toml", help="read the answers from a TOML file")
    secret_source = apply.add_mutually_exclusive_group()
    secret_source.add_argument(
        "--secret-stdin", action="store_true", help="read the secret access key from stdin"
    )
    secret_source.add_argument(
        "--secret-file", metavar="FILE", help="read the secret from FILE (mode 600) or /dev/fd/N"
    )
    apply.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    apply.add_argument("--verify", action="store_true", help="check the key with AWS STS first")
    apply.add_argument("--yes", "-y", action="store_true", help="write without asking")
    apply.add_argument("--json", action="store_true", help="machine-readable output")
    apply.add_argument(
        "--allow-insecure-keyring", action="store_true", help="allow a plaintext keyring backend"
    )
    apply.add_argument(
        "--paste-file",
        metavar="FILE",
        help="for a project kept in Rundeck's database: write the lines to paste into "
        "Project Settings → Edit Configuration File to FILE",
    )

    status = commands.add_parser(
        "status",
        help="show the current setup, key age and problems",
        description="Show every AWS setup of this Rundeck install and what needs attention.",
        epilog="examples:\n  pa-aws-setup status\n  pa-aws-setup status --json --max-age-days 60",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_install_option(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--max-age-days", type=int, default=90, help="flag older keys (90)")
    status.add_argument("--no-aws", action="store_true", help="do not ask IAM for key age/use")

    rotate = commands.add_parser(
        "rotate",
        help="rotate the access key safely",
        description="Create a new access key, switch Rundeck to it, retire the old one.\n"
        "With --manual, switch instead to a key pair created in the AWS console.",
        epilog="""\
examples:
  pa-aws-setup rotate --system --yes --delete-old
  pa-aws-setup rotate --project ops --yes --keep-old --json
  pa-aws-setup rotate --manual --project ops --access-key-id AKIA... \\
      --secret-file /run/secrets/new-key --yes --keep-old

--manual switches to a key pair created in the AWS console, once AWS STS accepts it and
it belongs to the old key's IAM user (when that is knowable). The old key is left active
unless --keep-old (deactivate it) or --delete-old (deactivate, then delete it); where the
new key may not do that, the output says what to do in the console. The secret never goes
on the command line: --secret-stdin, --secret-file FILE, --secret-env VAR or
PA_AWS_SECRET_ACCESS_KEY.

exit codes: 0 rotated, or cancelled; 2 usage, or refused before any change (ASIA or same
            key, interrupted rotation, an inactive spare key without consent);
            3 --manual: the new key does not authenticate, or is another user's;
            4 keyring; 5 config files; 6 AWS refused or unreachable, or rotated but the
            old key could not be retired
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scope_options(rotate)
    add_install_option(rotate)
    old = rotate.add_mutually_exclusive_group()
    old.add_argument("--delete-old", action="store_true", help="delete the old key at the end")
    old.add_argument("--keep-old", action="store_true", help="keep the old key, inactive")
    rotate.add_argument(
        "--delete-inactive",
        action="store_true",
        help="if the IAM user already has a second, inactive key, delete it to make room",
    )
    rotate.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    rotate.add_argument("--json", action="store_true", help="machine-readable output")
    rotate.add_argument(
        "--wait-seconds", type=float, default=30.0, help="how long to wait for a new key (30)"
    )
    rotate.add_argument(
        "--resume", choices=["finish", "rollback"], help="what to do with an interrupted rotation"
    )
    manual = rotate.add_argument_group("manual rotation (a key pair created in the AWS console)")
    manual.add_argument("--manual", action="store_true", help="switch to the key pair given below")
    manual.add_argument("--access-key-id", metavar="ID", help="the new key's id (AKIA…)")
    new_secret = manual.add_mutually_exclusive_group()
    new_secret.add_argument(
        "--secret-stdin", action="store_true", help="read the new secret access key from stdin"
    )
    new_secret.add_argument(
        "--secret-file", metavar="FILE", help="read it from FILE (mode 600) or /dev/fd/N"
    )
    new_secret.add_argument(
        "--secret-env", metavar="VAR", help="take it from the environment variable VAR"
    )
    manual.add_argument(
        "--allow-other-user",
        action="store_true",
        help="accept a key of another IAM user than the old key's (the old key is left alone)",
    )
    from tui.commands.policy import add_policy_parser  # the command owns its options

    add_policy_parser(commands)
    from tui.commands.provision import add_provision_parsers

    add_provision_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    refusal = refuse_secret_options(arguments)
    if refusal is not None:
        print(f"pa-aws-setup: error: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    options = build_parser().parse_args(arguments)
    if options.command == "detect":
        from tui.commands.detect import run_detect

        return run_detect(options)
    if options.command == "apply":
        from tui.commands.apply import run_apply

        return run_apply(options)
    if options.command == "status":
        from tui.commands.status import run_status

        return run_status(options)
    if options.command == "rotate":
        from tui.commands.rotate import run_rotate

        return run_rotate(options)
    if options.command == "policy":
        from tui.commands.policy import run_policy

        return run_policy(options)
    if options.command == "provision":
        from tui.commands.provision import run_provision

        return run_provision(options)
    if options.command == "policy-check":
        from tui.commands.provision import run_policy_check

        return run_policy_check(options)
    from tui.launch import run_wizard

    return run_wizard(options)

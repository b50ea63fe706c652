"""Command line: no arguments runs the wizard; subcommands run the core headless.

Nothing heavy is imported here (no Textual, no boto3), so ``--help`` and the wizard's first
frame stay fast.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from tui import __version__
from tui.core.errors import UsageProblem
from tui.core.exit_codes import (  # re-exported: the codes' one home is tui.core.exit_codes
    EXIT_AWS,
    EXIT_CONFIG,
    EXIT_KEYRING,
    EXIT_OK,
    EXIT_RUNDECK,
    EXIT_USAGE,
    EXIT_VERIFY,
)
from tui.core.redact import HIDDEN, redact_text
from tui.core.validate import SECRET_ACCESS_KEY

__all__ = [
    "EXIT_AWS",
    "EXIT_CONFIG",
    "EXIT_KEYRING",
    "EXIT_OK",
    "EXIT_RUNDECK",
    "EXIT_USAGE",
    "EXIT_VERIFY",
    "SafeArgumentParser",
    "build_parser",
    "json_command",
    "main",
]

# Options people try for the secret; each is refused without echoing what followed it.
SECRET_OPTIONS = ("--secret", "--secret-key", "--secret-access-key", "--aws-secret-access-key")

EPILOG_MAIN = """\
examples:
  pa-aws-setup                      run the wizard
  pa-aws-setup --demo               run the wizard in a sandbox (no AWS, no Rundeck needed)
  pa-aws-setup --demo --sandbox DIR reopen that sandbox (the command is printed at exit)
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


class UsageError(UsageProblem):
    """A command line argparse refused; the message is already free of secret-shaped words."""

    def __init__(self, message: str, *, prog: str = "pa-aws-setup", usage: str = "") -> None:
        super().__init__(message)
        self.prog = prog
        self.usage = usage


class SafeArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose error messages never echo a secret-shaped argument.

    Errors raise UsageError instead of exiting, so ``main`` can report them as text, or as
    JSON when the command line asked for --json.
    """

    def error(self, message: str) -> NoReturn:
        message = redact_text(SECRET_ACCESS_KEY.sub(HIDDEN, message))
        raise UsageError(message, prog=self.prog, usage=self.format_usage())


def report_usage_error(
    parser: argparse.ArgumentParser, arguments: Sequence[str], problem: UsageError
) -> int:
    """argparse's usage and message on stderr, as always; with --json, the JSON error
    envelope on stdout as well, so a script reading stdout gets JSON whatever went wrong."""
    sys.stderr.write(problem.usage + f"{problem.prog}: error: {problem.message}\n")
    command = json_command(parser, arguments)
    if command is not None:
        from tui.commands.output import emit_json, envelope_for_error

        emit_json(envelope_for_error(command, problem))
    return EXIT_USAGE


def json_command(parser: argparse.ArgumentParser, arguments: Sequence[str]) -> str | None:
    """The subcommand, when ``arguments`` name one that has --json and pass it --json.

    Read as argparse reads them: top-level options (and their values) before the subcommand,
    unambiguous abbreviations (``--js``), nothing after ``--``. Works on command lines argparse
    refuses, which is when it is needed.
    """
    tokens = list(arguments)
    if "--" in tokens:
        tokens = tokens[: tokens.index("--")]
    index = 0
    while index < len(tokens) and tokens[index].startswith("-"):
        action = _option_action(parser, tokens[index])
        takes_value = action is not None and action.nargs != 0 and "=" not in tokens[index]
        index += 2 if takes_value else 1
    commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if index >= len(tokens) or not commands:
        return None
    command = tokens[index]
    subparser = commands[0].choices.get(command)
    if subparser is None:
        return None
    wanted = _option_action(subparser, "--json")
    if wanted is None:
        return None
    for token in tokens[index + 1 :]:
        if token.startswith("--") and _option_action(subparser, token) is wanted:
            return str(command)
    return None


def _option_action(parser: argparse.ArgumentParser, token: str) -> argparse.Action | None:
    """The option ``token`` names in ``parser``, exactly or as a unique ``--`` abbreviation."""
    name = token.split("=", 1)[0]
    options = parser._option_string_actions
    if name in options:
        return options[name]
    if not name.startswith("--") or len(name) < 3:
        return None
    matches = {options[option] for option in options if option.startswith(name)}
    return matches.pop() if len(matches) == 1 else None


def waiting_seconds(text: str) -> float:
    """A number of seconds to wait, zero included (``-1``, ``nan`` and ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, not {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """A number of seconds above zero (``-1``, ``0``, ``nan`` and ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}")
    return value


def backup_count(text: str) -> int:
    """How many backups to keep: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


def add_backup_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep-backups",
        metavar="N",
        type=backup_count,
        default=10,
        help="keep the newest N backups of each properties file (default 10)",
    )


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


def add_install_option(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """--rdeck-base, accepted before or after the subcommand with the same meaning.

    A subcommand's option must not have a default of its own: argparse would let it
    overwrite the value given before the subcommand.
    """
    parser.add_argument(
        "--rdeck-base",
        metavar="DIR",
        default=None if top_level else argparse.SUPPRESS,
        help="Rundeck base folder of a launcher install (default: $RDECK_BASE, then /etc/rundeck)",
    )


def add_keyring_option(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """--allow-insecure-keyring, one option meaning the same before or after the subcommand."""
    parser.add_argument(
        "--allow-insecure-keyring",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help="allow storing the secret in a plaintext keyring backend (not recommended)",
    )


def add_secret_options(
    parser_or_group: argparse.ArgumentParser | argparse._ArgumentGroup,
) -> argparse._MutuallyExclusiveGroup:
    """--secret-stdin and --secret-file, one or the other; the group is returned for more.

    Only these ways in: a secret on the command line is refused (see SECRET_OPTIONS).
    """
    sources = parser_or_group.add_mutually_exclusive_group()
    sources.add_argument(
        "--secret-stdin", action="store_true", help="read the secret access key from stdin"
    )
    sources.add_argument(
        "--secret-file", metavar="FILE", help="read it from FILE (mode 600) or /dev/fd/N"
    )
    return sources


def add_scope_options(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--system", action="store_true", help="framework.properties (all projects)")
    scope.add_argument("--project", metavar="NAME", help="one project's project.properties")


def build_parser() -> argparse.ArgumentParser:
    from tui.commands.connection import add_connection_options

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
        "--sandbox",
        metavar="DIR",
        help="with --demo: reopen the sandbox an earlier --demo printed at exit (opens on Status)",
    )
    add_keyring_option(parser, top_level=True)
    add_install_option(parser, top_level=True)
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
        "--timeout",
        type=positive_seconds,
        default=1.0,
        help="seconds per metadata probe (default 1.0)",
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
    add_secret_options(apply)
    apply.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    apply.add_argument(
        "--verify",
        action="store_true",
        help="check with AWS STS first: the access key, or that the role's credentials are "
        "the detected instance or task role's",
    )
    apply.add_argument("--yes", "-y", action="store_true", help="write without asking")
    apply.add_argument("--json", action="store_true", help="machine-readable output")
    add_keyring_option(apply)
    add_backup_option(apply)
    apply.add_argument(
        "--replace-key",
        action="store_true",
        help="replace a key in Rundeck Key Storage that this tool did not write (irreversible: "
        "a password cannot be read back)",
    )
    apply.add_argument(
        "--remove-old-secret",
        action="store_true",
        help="moving to a role: delete the previous access key's secret from the keyring",
    )
    add_connection_options(apply)
    apply.add_argument(
        "--discard-interrupted-rotation",
        action="store_true",
        help="apply although a rotation of this setup was interrupted (its marker is dropped; "
        "prefer `rotate --resume finish|rollback`)",
    )
    apply.add_argument(
        "--paste-file",
        metavar="FILE",
        help="for a project kept in Rundeck's database: write the lines to paste into "
        "Project Settings → Edit Configuration File to FILE (a secret given is still stored "
        "in the keyring)",
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
    add_connection_options(status)

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
    add_keyring_option(rotate)
    add_backup_option(rotate)
    add_connection_options(rotate)
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
        "--wait-seconds",
        type=waiting_seconds,
        default=30.0,
        help="how long to wait for a new key (30)",
    )
    rotate.add_argument(
        "--resume", choices=["finish", "rollback"], help="what to do with an interrupted rotation"
    )
    manual = rotate.add_argument_group("manual rotation (a key pair created in the AWS console)")
    manual.add_argument("--manual", action="store_true", help="switch to the key pair given below")
    manual.add_argument("--access-key-id", metavar="ID", help="the new key's id (AKIA…)")
    new_secret = add_secret_options(manual)
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
    remove = commands.add_parser(
        "remove",
        help="remove one scope's AWS setup (settings, record, secret)",
        description="Remove the AWS settings of one scope, with a diff first: through Rundeck's "
        "API for a project it serves, else the properties file, its record and the keyring copy.",
        epilog="examples:\n  pa-aws-setup remove --project ops --yes\n"
        "  pa-aws-setup remove --project billing --delete-key --yes --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scope_options(remove)
    add_install_option(remove)
    remove.add_argument(
        "--delete-key",
        action="store_true",
        help="also delete the secret from Rundeck Key Storage (cannot be undone)",
    )
    remove.add_argument("--yes", "-y", action="store_true", help="remove without asking")
    remove.add_argument("--json", action="store_true", help="machine-readable output")
    add_connection_options(remove)
    return parser


WIZARD_FLAGS = {"--demo": "demo", "--allow-insecure-keyring": "allow_insecure_keyring"}
WIZARD_VALUES = {"--rdeck-base": "rdeck_base", "--sandbox": "sandbox"}


def wizard_options(arguments: Sequence[str]) -> argparse.Namespace | None:
    """What build_parser() makes of ``arguments`` when they start the wizard with its own
    options, spelled in full; None for anything else, which the full parser decides.

    Building every subcommand's parser, and importing the commands that own theirs, took
    15-20 ms that the wizard's first frame waited for.
    """
    options = argparse.Namespace(
        demo=False, sandbox=None, allow_insecure_keyring=False, rdeck_base=None, command=None
    )
    tokens = iter(arguments)
    for token in tokens:
        name, equals, inline = token.partition("=")
        if token in WIZARD_FLAGS:
            setattr(options, WIZARD_FLAGS[token], True)
        elif name in WIZARD_VALUES and equals:
            setattr(options, WIZARD_VALUES[name], inline)
        elif token in WIZARD_VALUES:
            value = next(tokens, None)
            if value is None or value.startswith("-"):
                return None  # argparse's error message, not ours
            setattr(options, WIZARD_VALUES[token], value)
        else:
            return None
    return options


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    wizard = wizard_options(arguments)
    if wizard is not None:
        from tui.launch import run_wizard

        return run_wizard(wizard)
    parser = build_parser()
    refusal = refuse_secret_options(arguments)
    if refusal is not None:
        return report_usage_error(parser, arguments, UsageError(refusal))
    try:
        options = parser.parse_args(arguments)
    except UsageError as problem:
        return report_usage_error(parser, arguments, problem)
    if options.command in ("status", "apply", "rotate", "remove"):
        from tui.services import real_services

        services = real_services(
            rdeck_base=options.rdeck_base, allow_insecure_keyring=options.allow_insecure_keyring
        )
    if options.command == "detect":
        from tui.commands.detect import run_detect

        return run_detect(options)
    if options.command == "apply":
        from tui.commands.apply import run_apply

        return run_apply(options, services)
    if options.command == "status":
        from tui.commands.status import run_status

        return run_status(options, services)
    if options.command == "rotate":
        from tui.commands.rotate import run_rotate

        return run_rotate(options, services)
    if options.command == "remove":
        from tui.commands.remove import run_remove

        return run_remove(options, services)
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

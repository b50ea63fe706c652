"""The wizard's fast path through the command line agrees with the full parser."""

from __future__ import annotations

import pytest

from tui.cli import build_parser, wizard_options

WIZARD_COMMAND_LINES = [
    [],
    ["--demo"],
    ["--allow-insecure-keyring"],
    ["--rdeck-base", "/var/lib/rundeck"],
    ["--rdeck-base=/var/lib/rundeck", "--demo"],
    ["--rdeck-base="],
    ["--demo", "--rdeck-base", "a", "--rdeck-base", "b", "--allow-insecure-keyring"],
    ["--demo", "--sandbox", "/tmp/pa-aws-setup-demo-x"],
    ["--sandbox=/tmp/a b", "--demo"],
]


@pytest.mark.parametrize("arguments", WIZARD_COMMAND_LINES)
def test_wizard_command_lines_parse_as_the_full_parser_does(arguments: list[str]) -> None:
    assert wizard_options(arguments) == build_parser().parse_args(arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        ["status"],
        ["--demo", "detect"],
        ["--help"],
        ["--version"],
        ["--dem"],  # an abbreviation: argparse decides
        ["--rdeck-base"],  # a missing value: argparse's error
        ["--rdeck-base", "--demo"],
        ["--demo", "--sandbox"],  # a missing value: argparse's error
        ["--secret", "x"],  # refused by the full path, without echoing it
    ],
)
def test_anything_else_goes_to_the_full_parser(arguments: list[str]) -> None:
    assert wizard_options(arguments) is None

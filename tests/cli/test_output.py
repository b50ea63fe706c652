"""The one step printer of the headless commands: a mark, the name and the detail per line,
coloured only on a terminal without NO_COLOR."""

from __future__ import annotations

import io

import pytest

from tui.commands.output import print_steps
from tui.core.steps import Step, StepStatus

STEPS = [
    Step("Create role rundeck-aws", StepStatus.DONE, "created role arn:aws:iam::1:role/x"),
    Step("Put the policy", StepStatus.FAILED, "MalformedPolicyDocument"),
    Step("Create instance profile", StepStatus.PENDING),
]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    print_steps(STEPS, stream=stream)
    assert stream.getvalue().splitlines() == [
        "✓ Create role rundeck-aws: created role arn:aws:iam::1:role/x",
        "✗ Put the policy: MalformedPolicyDocument",
        "– Create instance profile",
    ]


def test_the_marks_are_coloured_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = Terminal()
    print_steps(STEPS[:2], stream=stream)
    assert stream.getvalue().splitlines() == [
        "\x1b[32m✓\x1b[0m Create role rundeck-aws: created role arn:aws:iam::1:role/x",
        "\x1b[1;31m✗\x1b[0m Put the policy: MalformedPolicyDocument",
    ]


def test_no_colour_on_a_terminal_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stream = Terminal()
    print_steps(STEPS, stream=stream)
    assert "\x1b[" not in stream.getvalue()
    assert stream.getvalue().startswith("✓ Create role rundeck-aws")

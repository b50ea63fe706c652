"""Output helpers shared by the headless commands: JSON envelopes and plain, colourless text."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tui import __version__
from tui.core.steps import Step
from tui.step_marks import STEP_MARKS

JSON_SCHEMA_VERSION = 1
# The ANSI colours of the step marks' Rich styles (tui/step_marks.py).
ANSI_STYLE = {"dim": "2", "yellow": "33", "green": "32", "bold red": "1;31"}


class CommandError(Exception):
    """Ends a command with ``exit_code`` and a message safe to print.

    ``details`` go into the command's JSON error envelope beside the message.
    """

    def __init__(self, message: str, exit_code: int, **details: Any) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.details = details


def emit_json(command: str, payload: dict[str, Any], exit_code: int) -> None:
    """One JSON object on stdout with a stable envelope: schema version, tool version, exit."""
    document = {
        "schema_version": JSON_SCHEMA_VERSION,
        "version": __version__,
        "command": command,
        "exit_code": exit_code,
        **payload,
    }
    json.dump(document, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def use_colour(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def colour_diff(diff: str) -> str:
    if not use_colour():
        return diff
    lines = []
    for line in diff.splitlines(keepends=True):
        if line.startswith("+") and not line.startswith("+++"):
            lines.append(f"\x1b[32m{line.rstrip()}\x1b[0m\n")
        elif line.startswith("-") and not line.startswith("---"):
            lines.append(f"\x1b[31m{line.rstrip()}\x1b[0m\n")
        else:
            lines.append(line)
    return "".join(lines)


def print_steps(steps: Iterable[Step], stream: TextIO | None = None) -> None:
    """One line per step: its mark, its name and its detail; the mark coloured on a terminal."""
    stream = stream or sys.stdout
    colour = use_colour(stream)
    for step in steps:
        glyph, style = STEP_MARKS[step.status]
        if colour and style in ANSI_STYLE:
            glyph = f"\x1b[{ANSI_STYLE[style]}m{glyph}\x1b[0m"
        detail = f": {step.detail}" if step.detail else ""
        print(f"{glyph} {step.name}{detail}", file=stream, flush=True)


def error(message: str) -> None:
    print(f"pa-aws-setup: error: {message}", file=sys.stderr)

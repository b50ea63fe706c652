"""How every headless command ends: one JSON envelope, one text renderer, one exit-code rule.

A command body returns its payload (or raises a ``ToolError``); ``run_command`` turns either
into the same envelope (``ok``, ``changed``, ``exit_code``, ``command``, and on failure
``error`` and ``error_kind``), or into plain text on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from tui import __version__
from tui.core.errors import ToolError
from tui.core.exit_codes import EXIT_OK, exit_code
from tui.core.steps import Step
from tui.step_marks import STEP_MARKS

JSON_SCHEMA_VERSION = 1


@dataclass
class CommandResult:
    """What a command body returns: its payload for JSON, and whether it changed anything.

    ``exit_code`` is non-zero only for an outcome that is not an error but still must not
    read as success to a script (a partial rotation, a denied policy check).
    """

    payload: dict[str, Any] = field(default_factory=dict)
    changed: bool = False
    exit_code: int = EXIT_OK
    ok: bool | None = None  # None: ok exactly when exit_code is 0


def json_envelope(
    command: str,
    *,
    changed: bool,
    exit_code_: int,
    ok: bool,
    payload: Mapping[str, Any] | None = None,
    error: ToolError | None = None,
) -> dict[str, Any]:
    """The one envelope of every subcommand's JSON, from a result or from an error."""
    document: dict[str, Any] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "version": __version__,
        "command": command,
        "exit_code": exit_code_,
        "ok": ok,
        "changed": changed,
    }
    if error is not None:
        document["error"] = error.message
        document["error_kind"] = str(error.kind)
        document.update(error.details)
    document.update(payload or {})
    return document


def envelope_for_result(command: str, result: CommandResult) -> dict[str, Any]:
    ok = result.exit_code == EXIT_OK if result.ok is None else result.ok
    return json_envelope(
        command,
        changed=result.changed,
        exit_code_=result.exit_code,
        ok=ok,
        payload=result.payload,
    )


def envelope_for_error(command: str, error: ToolError) -> dict[str, Any]:
    changed = bool(error.details.get("changed", False))
    return json_envelope(
        command, changed=changed, exit_code_=exit_code(error.kind), ok=False, error=error
    )


def emit_json(document: Mapping[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    json.dump(document, stream, indent=2, sort_keys=False, default=str)
    stream.write("\n")


def run_command(
    command: str, options: argparse.Namespace, body: Callable[[], CommandResult]
) -> int:
    """Run one command body; JSON or text out, and its exit code, for a result or an error."""
    try:
        result = body()
    except ToolError as problem:
        if getattr(options, "json", False):
            emit_json(envelope_for_error(command, problem))
        else:
            error(problem.message)
        return exit_code(problem.kind)
    if getattr(options, "json", False):
        emit_json(envelope_for_result(command, result))
    return result.exit_code


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


# The ANSI colours of the step marks' Rich styles (tui/step_marks.py).
ANSI_STYLE = {"dim": "2", "yellow": "33", "green": "32", "bold red": "1;31"}


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

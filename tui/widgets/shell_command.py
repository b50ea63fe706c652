"""A shell command laid out to the width it is shown at: lines break between arguments, with
a backslash, never inside a path."""

from __future__ import annotations

import shlex

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

INDENT = "    "


def command_lines(command: str, width: int) -> list[str]:
    """``command`` as lines of at most ``width`` columns where the arguments allow, each
    option kept with its value; every line but the last ends with a backslash."""
    words = [shlex.quote(word) for word in shlex.split(command)]
    units: list[str] = []
    for word in words:
        if (
            units
            and units[-1].startswith("-")
            and " " not in units[-1]
            and not word.startswith("-")
        ):
            units[-1] += " " + word  # --region eu-west-1 stays on one line
        else:
            units.append(word)
    if any(len(INDENT + unit) > width - 2 for unit in units):
        # An option and its value too long for one line: the value gets a line of its own.
        units = [part for unit in units for part in _split_pair(unit, width)]
    lines: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current} {unit}" if current else unit
        if current and len(candidate) + 2 > width:  # room for " \"
            lines.append(current + " \\")
            current = INDENT + unit
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _split_pair(unit: str, width: int) -> list[str]:
    if " " in unit and len(INDENT + unit) > width - 2:
        return unit.split(" ", 1)
    return [unit]


class ShellCommand:
    """A Rich renderable of ``command``, broken between arguments at the width available."""

    def __init__(self, command: str, style: str = "cyan") -> None:
        self.command = command
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in command_lines(self.command, options.max_width):
            text = Text(no_wrap=True, overflow="fold")
            if line.startswith(INDENT):
                # A style of its own, so the blanks are not merged into the text run: SVG
                # renderers drop the blanks that start a run.
                text.append(INDENT, style="dim")
                line = line[len(INDENT) :]
            text.append(line, style=self.style)
            yield text

    @property
    def plain(self) -> str:
        return self.command

"""How each step status looks, in the wizard and on the command line: one glyph and one colour.

The glyphs differ from one another, so the status reads without colour too (NO_COLOR, a
monochrome terminal, a log file). The colours are Rich style names; the CLI maps them to ANSI.
No Textual or Rich import here: the headless commands use this table as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from tui.core.steps import StepStatus


class StepMark(NamedTuple):
    """A status's glyph (one terminal cell) and its colour (a Rich style)."""

    glyph: str
    style: str


STEP_MARKS: Mapping[StepStatus, StepMark] = MappingProxyType(
    {
        StepStatus.PENDING: StepMark("–", "dim"),
        StepStatus.RUNNING: StepMark("…", "yellow"),
        StepStatus.DONE: StepMark("✓", "green"),
        StepStatus.SKIPPED: StepMark("»", "dim"),
        StepStatus.FAILED: StepMark("✗", "bold red"),
        StepStatus.ROLLED_BACK: StepMark("↺", "yellow"),
    }
)

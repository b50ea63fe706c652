"""A flow's steps, one row each: the status mark, the step's name, and its detail.

The one place the wizard draws a ``tui.core.steps.Step``; the marks come from
``tui.step_marks``, which the command line prints too.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.core.steps import Step, StepStatus
from tui.step_marks import STEP_MARKS
from tui.widgets.grid import aligned_grid


def step_mark(status: StepStatus) -> Text:
    """The status's glyph in its colour."""
    glyph, style = STEP_MARKS[status]
    return Text(glyph, style=style)


def steps_table(steps: Iterable[Step], *, name_column: bool = False) -> Table:
    """The steps as rows: the mark, then "name: detail" wrapping under itself, or, with
    ``name_column``, the name in a bold column of its own and the detail after it.

    A failed step's detail is red: it says why.
    """
    table = aligned_grid(labels=2 if name_column else 1)
    for step in steps:
        detail_style = "red" if step.status is StepStatus.FAILED else ""
        if name_column:
            table.add_row(
                step_mark(step.status), "", step.name, "", Text(step.detail, style=detail_style)
            )
            continue
        text = Text(step.name)
        if step.detail:
            text.append(f": {step.detail}", style=detail_style)
        table.add_row(step_mark(step.status), "", text)
    return table


class StepList(Static):
    """Draws a list of steps and follows their progress; a step's name identifies it."""

    DEFAULT_CSS = """
    StepList {
        height: auto;
    }
    """

    def __init__(
        self,
        steps: Iterable[Step] = (),
        *,
        name_column: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        self._steps: list[Step] = list(steps)
        self.name_column = name_column
        super().__init__(self._render_steps(), id=id, classes=classes)

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._steps)

    def show(self, steps: Iterable[Step]) -> None:
        """Draw these steps instead of the ones shown."""
        self._steps = list(steps)
        self.update(self._render_steps())

    def report(self, step: Step) -> None:
        """The step of the same name turns into this one in place; a new name is added last."""
        for index, shown in enumerate(self._steps):
            if shown.name == step.name:
                self._steps[index] = step
                break
        else:
            self._steps.append(step)
        self.update(self._render_steps())

    def _render_steps(self) -> RenderableType:
        return steps_table(self._steps, name_column=self.name_column) if self._steps else ""

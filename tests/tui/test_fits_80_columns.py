"""What must fit 80 columns without a ragged wrap: the step line keeps one form beside DEMO
from the first step to the last (it used to drop to "Step 4/7  Scope" from step 4 on, when
the ticks made it too long), and the AWS to-do list fits the box Review shows it in."""

from __future__ import annotations

import pytest

from tui.screens.method import ROLE_TODO
from tui.state import STEPS
from tui.widgets.step_indicator import StepIndicator

ROOM_AT_80_COLUMNS = 80 - 2  # the line's padding


@pytest.mark.parametrize("step", range(1, len(STEPS) + 1))
def test_every_step_name_fits_beside_demo_at_80_columns(step: int) -> None:
    line = StepIndicator.describe(step, demo=True)
    assert line.cell_len <= ROOM_AT_80_COLUMNS
    for index, name in enumerate(STEPS, start=1):
        shown = f"✓{name}" if index < step else name
        assert shown in line.plain  # every step named, the done ones ticked


# Review's box at 80 columns: 80, less the screen's padding, the box's border and padding,
# and the scrollbar beside it (Review scrolls): its lines broke at "Task role;" there.
REVIEW_BOX_TEXT_WIDTH = 70


@pytest.mark.parametrize("method", list(ROLE_TODO))
def test_the_role_to_do_lines_fit_reviews_box(method: object) -> None:
    for line in ROLE_TODO[method].splitlines():  # type: ignore[index]
        assert len(line) <= REVIEW_BOX_TEXT_WIDTH, line

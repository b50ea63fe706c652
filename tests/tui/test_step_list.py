"""The one step list of the wizard: a mark per status that reads without colour, and progress
shown in place (pending, running, then the result on the same line)."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import App, ComposeResult

from tests.tui.test_permissions_screen import shown
from tui.core.steps import Step, StepStatus
from tui.step_marks import STEP_MARKS
from tui.widgets.step_list import StepList


def lines(widget: StepList) -> list[str]:
    """The widget's rows as plain text, as a terminal without colour prints them."""
    return [line.rstrip() for line in shown(widget).splitlines()]


class StepListApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StepList(id="steps")


def test_every_status_has_a_glyph_of_its_own_one_cell_wide() -> None:
    assert set(STEP_MARKS) == set(StepStatus)
    glyphs = [mark.glyph for mark in STEP_MARKS.values()]
    assert len(set(glyphs)) == len(glyphs)  # NO_COLOR: the glyph alone tells them apart
    assert all(cell_len(glyph) == 1 for glyph in glyphs)


async def test_a_step_turns_from_pending_to_running_to_its_result_in_place() -> None:
    app = StepListApp()
    async with app.run_test(size=(80, 10)) as pilot:
        steps = app.query_one(StepList)
        assert shown(steps).strip() == ""
        steps.show(
            [Step("Create role r", StepStatus.PENDING), Step("Put policy", StepStatus.PENDING)]
        )
        steps.report(Step("Create role r", StepStatus.RUNNING))
        await pilot.pause()
        assert lines(steps) == ["… Create role r", "– Put policy"]
        steps.report(Step("Create role r", StepStatus.DONE, "created role arn:aws:iam::1:role/r"))
        steps.report(Step("Put policy", StepStatus.FAILED, "MalformedPolicyDocument"))
        await pilot.pause()
        assert lines(steps) == [
            "✓ Create role r: created role arn:aws:iam::1:role/r",
            "✗ Put policy: MalformedPolicyDocument",
        ]
        assert [step.status for step in steps.steps] == [StepStatus.DONE, StepStatus.FAILED]


async def test_every_status_reads_differently_without_colour() -> None:
    app = StepListApp()
    async with app.run_test(size=(80, 10)):
        steps = app.query_one(StepList)
        steps.show(Step(f"step {status}", status) for status in StepStatus)
        marks = [line.split(" ", 1)[0] for line in lines(steps)]
    assert len(marks) == len(StepStatus) and len(set(marks)) == len(marks)


async def test_the_name_column_layout_puts_the_detail_after_the_name() -> None:
    class ColumnsApp(App[None]):
        def compose(self) -> ComposeResult:
            yield StepList(
                [Step("keyring", StepStatus.ROLLED_BACK, "the old key is back")], name_column=True
            )

    app = ColumnsApp()
    async with app.run_test(size=(80, 10)):
        assert lines(app.query_one(StepList)) == ["↺ keyring the old key is back"]

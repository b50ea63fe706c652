"""The "Step 3/7  ✓Detect  ✓Method  Permissions  …" line at the top of every step."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.state import STEPS


class StepIndicator(Static):
    """Shows where the user is in the flow; done steps dim, the current one bold."""

    DEFAULT_CSS = """
    StepIndicator { height: 1; padding: 0 1; background: $boost; }
    """

    def __init__(self, step: int, *, demo: bool = False) -> None:
        super().__init__(self.describe(step, demo=demo))
        self.step = step
        self.demo = demo

    def render(self) -> Text:
        """Every step's name when they fit; only the current one's on a narrow terminal."""
        full = self.describe(self.step, demo=self.demo)
        room = self.content_region.width
        if not room or full.cell_len <= room or self.step < 1:
            return full
        return self.describe(self.step, demo=self.demo, compact=True)

    @staticmethod
    def describe(step: int, *, demo: bool = False, compact: bool = False) -> Text:
        text = Text()
        if demo:
            text.append(" DEMO ", style="bold reverse magenta")
            text.append(" ")
        if step < 1:
            text.append("pa-aws-setup · AWS authentication for Rundeck", style="bold")
            return text
        text.append(f"Step {step}/{len(STEPS)} ", style="bold")
        if compact:
            text.append(f" {STEPS[step - 1]} ", style="bold reverse")
            return text
        # One space between names (the current one padded in reverse): at 80 columns, beside
        # DEMO, every step keeps the same form, ticks included (77 cells at step 7).
        for index, name in enumerate(STEPS, start=1):
            if index == step:
                text.append(f" {name} ", style="bold reverse")
            else:
                text.append(f"✓{name}" if index < step else name, style="dim")
            if index < len(STEPS):
                text.append(" ")
        return text

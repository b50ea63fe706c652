"""Ticks and radio choices that differ by glyph, not only by colour (NO_COLOR, monochrome)."""

from __future__ import annotations

from rich.segment import Segment
from textual import events
from textual.content import Content
from textual.strip import Strip
from textual.style import Style
from textual.widgets import RadioButton, SelectionList
from textual.widgets._toggle_button import ToggleButton

EMPTY = " "  # an unticked box or an unchosen radio shows nothing inside


class ChoiceButton(RadioButton):
    """A RadioButton whose dot is there only when it is chosen."""

    @property
    def _button(self) -> Content:
        button_style = self.get_visual_style("toggle--button")
        side_style = Style(foreground=button_style.background, background=self.background_colors[1])
        return Content.assemble(
            (self.BUTTON_LEFT, side_style),
            (self.BUTTON_INNER if self.value else EMPTY, button_style),
            (self.BUTTON_RIGHT, side_style),
        )


class TickList(SelectionList[str]):
    """A SelectionList whose box holds an X only when the row is ticked, and whose first row is
    highlighted when it takes the focus with none: a Space that follows at once ticks it."""

    def _on_focus(self, event: events.Focus) -> None:
        # Handled before any key sent after the focus moved (they queue behind this event),
        # so Enter or Down from a filter, then Space in one burst, ticks the first match.
        super()._on_focus(event)
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        if len(segments) < 3 or segments[1].text != ToggleButton.BUTTON_INNER:
            return strip
        index = self.scroll_offset.y + y
        if index >= self.option_count:
            return strip
        if self.get_option_at_index(index).value in self.selected:
            return strip
        segments[1] = Segment(EMPTY, segments[1].style)
        return Strip(segments, strip.cell_length)

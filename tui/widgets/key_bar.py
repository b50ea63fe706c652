"""The keys of the current step on one line at the bottom of the screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import Static

if TYPE_CHECKING:
    from textual.screen import Screen

MAX_LINES = 2  # a third line would take too much from an 80×24 step
SEPARATOR = "  "


class KeyBar(Static):
    """What Textual's Footer shows, drawn as one line of text.

    Footer builds a widget per key and rebuilds them whenever the bindings change; on the
    first screen that cost more than everything else the wizard adds to Textual's own
    start-up. One line of text, redrawn on the same signal, costs next to nothing. A click
    on a key presses it, as with Footer.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    """

    def __init__(self) -> None:
        super().__init__("")
        self._key_spans: list[tuple[int, int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.show_keys)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.show_keys()

    def show_keys(self) -> None:
        """Redraw from the screen's active bindings; one entry per action, disabled ones dim.

        Entries that do not fit the width start a second line rather than being cut off, so
        every key stays visible at 60 columns.
        """
        width = self.size.width or self.app.size.width
        key_look = self.get_component_rich_style("key-bar--key")
        lines: list[Text] = [Text(no_wrap=True, overflow="ellipsis")]
        spans: list[tuple[int, int, int, str]] = []
        seen_actions: set[str] = set()
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen_actions:
                continue
            seen_actions.add(binding.action)
            entry = Text()
            entry.append(
                f" {self.app.get_key_display(binding)} ",
                style=key_look if enabled else Style(dim=True),
            )
            entry.append(binding.description, style="" if enabled else "dim")
            line = lines[-1]
            gap = len(SEPARATOR) if len(line) else 0
            if gap and len(line) + gap + len(entry) > width and len(lines) < MAX_LINES:
                line = Text(no_wrap=True, overflow="ellipsis")
                lines.append(line)
            elif gap:
                line.append(SEPARATOR)
            spans.append((len(lines) - 1, len(line), len(line) + len(entry), binding.key))
            line.append_text(entry)
        self._key_spans = spans
        self.styles.height = len(lines)
        self.update(Text("\n").join(lines))

    def on_resize(self) -> None:
        self.show_keys()

    def on_click(self, event: events.Click) -> None:
        for line, start, end, key in self._key_spans:
            if line == event.y and start <= event.x < end:
                self.app.simulate_key(key)
                return

"""A coloured unified diff."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def diff_text(diff: str) -> Text:
    """Rich text for a unified diff: additions green, removals red, hunks cyan."""
    text = Text()
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = "dim"
        text.append(line + "\n", style=style)
    return text


class DiffView(Static):
    """Shows one file's diff, or says there is nothing to change."""

    DEFAULT_CSS = """
    DiffView { border: round $secondary; padding: 0 1; height: auto; }
    """

    def show_diff(self, diff: str) -> None:
        self.update(diff_text(diff) if diff else Text("No change to this file.", style="dim"))

"""The grid the wizard lines up marks, labels and wrapping text in."""

from __future__ import annotations

from rich.table import Table


def aligned_grid(labels: int) -> Table:
    """``labels`` short columns (the last one bold), then the text, which wraps under itself.

    Each gap is a column with a style of its own, so a wrapped line starts with blanks that
    are never merged into the text: SVG renderers drop the blanks that start a text run.
    """
    table = Table.grid()
    for index in range(labels):
        table.add_column(no_wrap=True, style="bold" if index == labels - 1 else "")
        table.add_column(width=1, style="dim")
    table.add_column(ratio=1, overflow="fold")
    return table

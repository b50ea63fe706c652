"""One screen per file; ``next_screen`` follows the wizard's order, stored in tui.state."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from tui.state import FINAL_SCREEN, WIZARD_STEPS

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.state import WizardState


def screen_path(kind: type[object]) -> str:
    """``module.Class``: how WIZARD_STEPS names a screen class."""
    return f"{kind.__module__}.{kind.__qualname__}"


def load_screen(path: str) -> type[Screen[object]]:
    """The screen class a ``module.Class`` path names, imported on first use."""
    module, _, name = path.rpartition(".")
    kind: type[Screen[object]] = getattr(importlib.import_module(module), name)
    return kind


def next_screen(current: Screen[object], state: WizardState) -> Screen[object] | None:
    """The screen that follows ``current``; the flow is linear but for the role confirmation."""
    order = [path for _, path in WIZARD_STEPS] + [FINAL_SCREEN]
    here = screen_path(type(current))
    if here not in order[:-1]:
        return None
    return load_screen(order[order.index(here) + 1])()

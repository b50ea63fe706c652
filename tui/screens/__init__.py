"""One screen per file; ``next_screen`` is the wizard's order of steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.state import WizardState


def next_screen(current: Screen[object], state: WizardState) -> Screen[object] | None:
    """The screen that follows ``current``; the flow is linear but for the role confirmation."""
    from tui.screens.apply import ApplyScreen
    from tui.screens.details import DetailsScreen
    from tui.screens.detect import DetectScreen
    from tui.screens.done import DoneScreen
    from tui.screens.method import MethodScreen
    from tui.screens.permissions import PermissionsScreen
    from tui.screens.review import ReviewScreen
    from tui.screens.scope import ScopeScreen

    order: list[type[Screen[object]]] = [
        DetectScreen,
        MethodScreen,
        PermissionsScreen,
        ScopeScreen,
        DetailsScreen,
        ReviewScreen,
        ApplyScreen,
        DoneScreen,
    ]
    for index, kind in enumerate(order[:-1]):
        if type(current) is kind:
            return order[index + 1]()
    return None

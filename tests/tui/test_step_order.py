"""The wizard's order is stored once (tui.state.WIZARD_STEPS); numbers and next_screen follow."""

from __future__ import annotations

from tui.screens import load_screen, next_screen, screen_path
from tui.screens.base import WizardStep
from tui.state import FINAL_SCREEN, STEPS, WIZARD_STEPS, WizardState, step_number


def test_each_numbered_screen_shows_its_place_in_the_order() -> None:
    numbers = {title: load_screen(path).STEP for title, path in WIZARD_STEPS}
    assert numbers == {
        "Detect": 1,
        "Method": 2,
        "Permissions": 3,
        "Scope": 4,
        "Details": 5,
        "Review": 6,
        "Apply": 7,
    }
    assert tuple(numbers) == STEPS


def test_screens_outside_the_flow_have_no_number() -> None:
    from tui.screens.provision import ProvisionScreen
    from tui.screens.rotate import RotateScreen
    from tui.screens.status import StatusScreen

    assert load_screen(FINAL_SCREEN).STEP == 0
    assert [ProvisionScreen.STEP, RotateScreen.STEP, StatusScreen.STEP] == [0, 0, 0]
    assert step_number("tui.screens.status.StatusScreen") == 0


def test_a_subclass_of_a_numbered_screen_keeps_its_number() -> None:
    details = load_screen("tui.screens.details.DetailsScreen")

    class Tweaked(details):  # type: ignore[valid-type,misc]
        pass

    assert Tweaked.STEP == 5


def test_next_screen_walks_the_stored_order_and_stops_after_done() -> None:
    state = WizardState()
    screen = load_screen(WIZARD_STEPS[0][1])()
    walked = [screen_path(type(screen))]
    while (following := next_screen(screen, state)) is not None:
        screen = following
        walked.append(screen_path(type(screen)))
    assert walked == [path for _, path in WIZARD_STEPS] + [FINAL_SCREEN]
    assert all(issubclass(load_screen(path), WizardStep) for path in walked)

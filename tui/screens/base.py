"""What every wizard step shares: the step indicator, the key bar and Esc to go back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen

from tui.screens import screen_path
from tui.state import step_number
from tui.widgets.key_bar import KeyBar
from tui.widgets.step_indicator import StepIndicator

if TYPE_CHECKING:
    from tui.core.rundeck import RundeckInstall
    from tui.core.rundeck_link import RundeckLink
    from tui.services import Services
    from tui.state import WizardState


@runtime_checkable
class Wizard(Protocol):
    """What the screens need of the app they run in; tui.app.WizardApp is it.

    A protocol rather than WizardApp itself: the app opens the screens, so the screens
    importing the app would make a circle of imports.
    """

    services: Services
    state: WizardState
    # The secret being typed, by field: redacted from any crash report.
    radioactive: dict[str, str]

    def rundeck_install(self) -> tuple[RundeckInstall | None, str | None]: ...

    def use_rundeck_install(self, install: RundeckInstall) -> None: ...

    def connect_quietly(self) -> tuple[RundeckLink | None, str | None]: ...

    def advance(self, current: Screen[object]) -> None: ...


def wizard_of(screen: Screen[Any]) -> Wizard:
    """The wizard a screen runs in; every screen of tui.screens runs in one."""
    app = screen.app
    assert isinstance(app, Wizard), f"{type(screen).__name__} runs outside the wizard"
    return app


class WizardStep(Screen[object]):
    """A numbered step of the wizard; subclasses compose ``body`` and call ``advance``."""

    STEP: ClassVar[int] = 0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        # The focus is usually on a button; these keep a long body readable from there
        # (a focused list or field uses its own up, down, home and end first).
        Binding("pagedown", "scroll_body('page_down')", "Scroll", show=False),
        Binding("pageup", "scroll_body('page_up')", "Scroll", show=False),
        Binding("down", "scroll_body('down')", "Scroll", show=False),
        Binding("up", "scroll_body('up')", "Scroll", show=False),
        Binding("end", "scroll_body('end')", "Scroll", show=False),
        Binding("home", "scroll_body('home')", "Scroll", show=False),
    ]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A screen of the numbered flow takes its number from tui.state; others inherit theirs.
        number = step_number(screen_path(cls))
        if number:
            cls.STEP = number

    @property
    def wizard(self) -> Wizard:
        return wizard_of(self)

    @property
    def state(self) -> WizardState:
        return self.wizard.state

    @property
    def services(self) -> Services:
        return self.wizard.services

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP, demo=self.wizard.services.demo_root is not None)
        with VerticalScroll(classes="body"):
            yield from self.body()
        with Horizontal(classes="actions"):
            yield from self.actions()
        yield KeyBar()

    def body(self) -> ComposeResult:
        yield from ()

    def actions(self) -> ComposeResult:
        """Buttons kept visible below the scrolling body, whatever its length."""
        yield from ()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc is offered only where there is a step to go back to."""
        if action == "back":
            return len(self.app.screen_stack) > 1
        return True

    def action_scroll_body(self, how: str) -> None:
        from tui.widgets.long_text import scroll_by

        scroll_by(self.query_one(".body", VerticalScroll), how)

    def advance(self) -> None:
        self.wizard.advance(self)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.workers.cancel_all()
            self.app.pop_screen()

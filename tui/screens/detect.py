"""The Detect step: where the wizard runs, found live, then the context and a recommendation."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, Input, Label, Static
from textual.worker import get_current_worker

from tui.messages import DetectionFinished, ProbeProgress
from tui.screens.base import WizardStep
from tui.widgets.context_card import ContextCard

if TYPE_CHECKING:
    from tui.core.detect import ProbeUpdate
    from tui.core.rundeck import RundeckInstall

PROBES = (
    ("ec2", "EC2 instance metadata"),
    ("ecs", "ECS task metadata"),
    ("credentials", "Other credentials"),
    ("identity", "Caller identity (STS)"),
)


class ProbeTable(Static):
    """Every probe's live state on a line of its own: waiting, running, or its result.

    One widget for the four lines rather than one each: this is the first screen, and every
    widget less is start-up time saved.
    """

    MARKS: ClassVar[dict[str, tuple[str, str]]] = {
        "waiting": ("·", "dim"),
        "running": ("…", "yellow"),
        "done": ("✓", "green"),
    }

    def __init__(self) -> None:
        super().__init__(id="probes")
        self.reset()

    def reset(self) -> None:
        self.states = {name: ("waiting", "") for name, _ in PROBES}
        self.update(self.render_states())

    def show(self, probe: str, state: str, detail: str) -> None:
        if probe in self.states:
            self.states[probe] = (state, detail)
            self.update(self.render_states())

    def render_states(self) -> Text:
        text = Text()
        for name, label in PROBES:
            state, detail = self.states[name]
            mark, style = self.MARKS.get(state, ("•", ""))
            text.append(f" {mark} ", style=style)
            text.append(f"{label:<24}", style="bold")
            text.append(detail or state, style="dim" if state != "done" else "")
            text.append("\n")
        text.rstrip()
        return text


class InstallLookedUp(Message):
    """The answer for a Rundeck base folder the admin typed: the install, or why not."""

    def __init__(self, install: RundeckInstall | None, error: str | None) -> None:
        super().__init__()
        self.install = install
        self.error = error


class DetectScreen(WizardStep):
    """Probes EC2, ECS, credentials and identity in a worker; the screen never freezes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "next", "Next", show=True),
        Binding("r", "rerun", "Detect again"),
    ]

    base_wanted = False  # no Rundeck found here, and no base folder typed yet that holds one

    def body(self) -> ComposeResult:
        yield Static("Finding out where this runs…", id="detect-title", classes="title")
        yield ProbeTable()
        yield Static("", id="recommendation")

    def actions(self) -> ComposeResult:
        # The buttons come with the first result: while probing there is nothing to press,
        # and the first frame of the first screen is lighter without them.
        yield from ()

    def next_button(self) -> Button:
        """The Next button, with Detect again beside it; mounted on the first result."""
        found = self.query("#next")
        if found:
            return found.first(Button)
        next_button = Button("Next", id="next", variant="primary")
        self.query_one(".actions").mount(next_button, Button("Detect again", id="rerun"))
        return next_button

    def on_mount(self) -> None:
        # After the first frame: the user sees the screen before any probe competes for the CPU.
        self.call_after_refresh(self.run_detection)

    def ask_for_rundeck_base(self, problem: str) -> None:
        """No Rundeck here (the app's worker found none): say so now, not at step 4, and take
        its base folder."""
        if self.query("#rdeck-base"):
            return
        self.base_wanted = True
        self.query_one(".body").mount(
            Static(
                Text(
                    f"✗ {problem}\n"
                    "Type Rundeck's base folder (RDECK_BASE, where etc/framework.properties "
                    "is), then Enter.",
                    style="bold red",
                ),
                id="rundeck-missing",
            ),
            Label("Rundeck base folder"),
            Input(placeholder="/var/lib/rundeck", id="rdeck-base"),
            after=self.query_one("#detect-title"),
        )
        if self.query("#next"):  # the probes finished first: the folder is what is wanted now
            self.call_after_refresh(self.query_one("#rdeck-base", Input).focus)

    @on(Input.Submitted, "#rdeck-base")
    def rundeck_base_typed(self, event: Input.Submitted) -> None:
        event.stop()
        path = event.value.strip()
        if not path:
            return
        self.query_one("#rundeck-missing", Static).update(
            Text(f"Looking for Rundeck in {path}…", style="yellow")
        )
        self.look_up_install(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rundeck-base")
    def look_up_install(self, path: str) -> None:
        from tui.core.rundeck import RundeckError, find_install

        services = self.services
        try:
            if services.locate_install is not None:
                install = services.with_rdeck_base(path).install()
            else:
                install = find_install(path, env={})
        except (RundeckError, OSError) as error:
            answer = InstallLookedUp(None, str(error))
        else:
            answer = InstallLookedUp(install, None)
        if not get_current_worker().is_cancelled:
            self.post_message(answer)

    @on(InstallLookedUp)
    def install_looked_up(self, message: InstallLookedUp) -> None:
        note = self.query_one("#rundeck-missing", Static)
        if message.install is None:
            note.update(
                Text(f"✗ {message.error}\nType another folder, then Enter.", style="bold red")
            )
            self.query_one("#rdeck-base", Input).focus()
            return
        self.wizard.use_rundeck_install(message.install)
        self.base_wanted = False
        note.update(Text(f"✓ Rundeck found at {message.install.base}", style="green"))
        for button in self.query("#next").results(Button):
            button.focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detect")
    def run_detection(self) -> None:
        worker = get_current_worker()

        def progress(update: ProbeUpdate) -> None:
            if not worker.is_cancelled:
                self.post_message(ProbeProgress(update))

        detection = self.services.detect(progress)
        if not worker.is_cancelled:
            self.post_message(DetectionFinished(detection))

    @on(ProbeProgress)
    def show_progress(self, message: ProbeProgress) -> None:
        update = message.update
        self.query_one(ProbeTable).show(update.probe, update.state, update.status)

    @on(DetectionFinished)
    def show_detection(self, message: DetectionFinished) -> None:
        detection = message.detection
        self.state.detection = detection
        # Under Status (a setup exists) a recommendation is no answer of the admin's.
        if self.state.method is None and self.app.screen is self:
            self.state.method = detection.recommended_method
        self.query_one("#detect-title", Static).update(Text("Where this runs", style="bold"))
        cards = self.query(ContextCard)
        # Built on the first result, not at start-up: it is not needed before.
        card = cards.first() if cards else ContextCard(id="context")
        if not cards:
            self.query_one(".body").mount(card, after=self.query_one(ProbeTable))
        card.show_detection(detection)
        card.display = True
        self.query_one(ProbeTable).display = False
        recommendation = Text()
        recommendation.append("Recommended: ", style="bold")
        recommendation.append(detection.recommended_method.title, style="bold green")
        recommendation.append(f": {detection.recommendation_reason}")
        self.query_one("#recommendation", Static).update(recommendation)
        next_button = self.next_button()
        next_button.disabled = False
        if self.base_wanted:
            self.call_after_refresh(self.query_one("#rdeck-base", Input).focus)
        else:
            self.call_after_refresh(next_button.focus)

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        if self.state.detection is not None:
            self.advance()

    @on(Button.Pressed, "#rerun")
    def action_rerun(self) -> None:
        for button in self.query("#next").results(Button):
            button.disabled = True
        for card in self.query(ContextCard):
            card.display = False
        table = self.query_one(ProbeTable)
        table.reset()
        table.display = True
        self.run_detection()

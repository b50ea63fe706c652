"""Step 1: find out where the wizard runs, live, then show the context and a recommendation."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static
from textual.worker import get_current_worker

from tui.messages import DetectionFinished, ProbeProgress
from tui.screens.base import WizardStep
from tui.widgets.context_card import ContextCard

if TYPE_CHECKING:
    from tui.core.detect import ProbeUpdate

PROBES = (
    ("ec2", "EC2 instance metadata"),
    ("ecs", "ECS task metadata"),
    ("credentials", "Other credentials"),
    ("identity", "Caller identity (STS)"),
)


class ProbeRow(Static):
    """One probe's live state: waiting, running, or its result."""

    def __init__(self, name: str, label: str) -> None:
        super().__init__(id=f"probe-{name}", classes="probe")
        self.label = label
        self.show("waiting", "")

    def show(self, state: str, detail: str) -> None:
        marks = {"waiting": ("·", "dim"), "running": ("…", "yellow"), "done": ("✓", "green")}
        mark, style = marks.get(state, ("•", ""))
        text = Text()
        text.append(f" {mark} ", style=style)
        text.append(f"{self.label:<24}", style="bold")
        text.append(detail or state, style="dim" if state != "done" else "")
        self.update(text)


class DetectScreen(WizardStep):
    """Probes EC2, ECS, credentials and identity in a worker; the screen never freezes."""

    STEP = 1
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "next", "Next", show=True),
        Binding("r", "rerun", "Detect again"),
    ]

    def body(self) -> ComposeResult:
        yield Static("Finding out where this runs…", id="detect-title", classes="title")
        for name, label in PROBES:
            yield ProbeRow(name, label)
        yield ContextCard(id="context")
        yield Static("", id="recommendation")

    def actions(self) -> ComposeResult:
        yield Button("Next", id="next", variant="primary", disabled=True)
        yield Button("Detect again", id="rerun")

    def on_mount(self) -> None:
        self.query_one("#context", ContextCard).display = False
        # After the first frame: the user sees the screen before any probe competes for the CPU.
        self.call_after_refresh(self.run_detection)

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
        row = self.query(f"#probe-{update.probe}")
        if row:
            row.first(ProbeRow).show(update.state, update.status)

    @on(DetectionFinished)
    def show_detection(self, message: DetectionFinished) -> None:
        detection = message.detection
        self.state.detection = detection
        if self.state.method is None:
            self.state.method = detection.recommended_method
        self.query_one("#detect-title", Static).update(Text("Where this runs", style="bold"))
        card = self.query_one("#context", ContextCard)
        card.show_detection(detection)
        card.display = True
        for name, _ in PROBES:
            self.query_one(f"#probe-{name}", ProbeRow).display = False
        recommendation = Text()
        recommendation.append("Recommended: ", style="bold")
        recommendation.append(detection.recommended_method.title, style="bold green")
        recommendation.append(f": {detection.recommendation_reason}")
        self.query_one("#recommendation", Static).update(recommendation)
        next_button = self.query_one("#next", Button)
        next_button.disabled = False
        next_button.focus()

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        if self.state.detection is not None:
            self.advance()

    @on(Button.Pressed, "#rerun")
    def action_rerun(self) -> None:
        self.query_one("#next", Button).disabled = True
        self.query_one("#context", ContextCard).display = False
        for name, _ in PROBES:
            row = self.query_one(f"#probe-{name}", ProbeRow)
            row.display = True
            row.show("waiting", "")
        self.run_detection()

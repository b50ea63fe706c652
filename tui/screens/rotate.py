"""Rotate the access key: each step live; an interrupted rotation can be finished or undone."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static

from tui.core.model import Scope
from tui.messages import QuestionAsked, RotationFinished, RotationProgress
from tui.screens.base import WizardStep
from tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from tui.core.rotation import RotationResult, RotationStep, RotationTarget, SpareKey

STEP_STYLE = {
    "running": ("…", "yellow"),
    "done": ("✓", "green"),
    "skipped": ("–", "dim"),
    "failed": ("✗", "bold red"),
    "rolled back": ("↺", "yellow"),
    "warning": ("⚠", "yellow"),
}


class Reply:
    """A yes/no answer handed from the UI thread to a waiting worker."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.answer = False

    def give(self, answer: bool) -> None:
        self.answer = answer
        self._event.set()

    def wait(self) -> bool:
        self._event.wait()
        return self.answer


class RotateScreen(WizardStep):
    """Runs rotate_key (or resume_rotation) in a worker and shows every step as it happens."""

    STEP = 0
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "start", "Start", show=True)]

    def __init__(self, scope: Scope, project: str | None) -> None:
        super().__init__()
        self.scope = scope
        self.project = project
        self.running = False
        self.finished = False
        self.lines = Text()

    def body(self) -> ComposeResult:
        where = "the system setup" if self.scope is Scope.SYSTEM else f"project {self.project}"
        yield Static(f"Rotate the access key of {where}", classes="title")
        yield Static(
            "A new key is created and checked with AWS STS before Rundeck switches to it; "
            "the old key is then deactivated. If any step fails, Rundeck keeps a working key.",
            id="rotate-intro",
        )
        yield Static("", id="rotate-steps")
        yield Static("", id="rotate-outcome")

    def actions(self) -> ComposeResult:
        yield Button("Rotate, delete old key", id="rotate-delete", variant="primary")
        yield Button("Rotate, keep old inactive", id="rotate-keep")
        yield Button("Back", id="rotate-back")

    def on_mount(self) -> None:
        self.check_interrupted()

    def target(self) -> RotationTarget:
        from tui.core.rotation import load_target

        install, problem = self.wizard.rundeck_install()
        if install is None:
            raise RuntimeError(problem or "no Rundeck install")
        return load_target(install, self.scope, self.project)

    def check_interrupted(self) -> None:
        from tui.core.rotation import RotationError

        try:
            target = self.target()
        except (RotationError, RuntimeError) as error:
            self.query_one("#rotate-outcome", Static).update(Text(str(error), style="red"))
            self.query_one("#rotate-delete", Button).disabled = True
            self.query_one("#rotate-keep", Button).disabled = True
            return
        if target.interrupted is not None:
            self.query_one("#rotate-intro", Static).update(
                Text(
                    f"A rotation was interrupted (phase {target.interrupted.phase}). "
                    "Finish it, or roll it back to the old key.",
                    style="yellow",
                )
            )
            self.query_one("#rotate-delete", Button).label = "Finish it"
            self.query_one("#rotate-keep", Button).label = "Roll back"

    @on(Button.Pressed, "#rotate-back")
    def go_back(self) -> None:
        self.action_back()

    def action_back(self) -> None:
        if not self.running:
            self.app.pop_screen()

    @on(Button.Pressed, "#rotate-delete")
    def action_start(self) -> None:
        self.start(delete_old=True, resume="finish")

    @on(Button.Pressed, "#rotate-keep")
    def keep_old(self) -> None:
        self.start(delete_old=False, resume="rollback")

    def start(self, *, delete_old: bool, resume: str) -> None:
        if self.running or self.finished:
            if self.finished:
                self.app.pop_screen()
            return
        self.running = True
        for button in self.query(Button):
            button.disabled = True
        self.run_rotation(delete_old, resume)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotate")
    def run_rotation(self, delete_old: bool, resume: str) -> None:
        from tui.core.rotation import resume_rotation, rotate_key

        target = self.target()
        keystore = self.services.keystore()

        def step(update: RotationStep) -> None:
            self.post_message(RotationProgress(update))

        def confirm(spare: SpareKey) -> bool:
            reply = Reply()
            self.post_message(
                QuestionAsked(
                    f"The IAM user already has two keys. The other one, "
                    f"{spare.access_key_id[:4]}…{spare.access_key_id[-4:]}, is inactive. "
                    "Delete it to make room for the new key?",
                    reply,
                )
            )
            return reply.wait()

        if target.interrupted is not None:
            result = resume_rotation(
                target,
                "finish" if resume == "finish" else "rollback",
                keystore=keystore,
                clock=self.services.clock,
                delete_old=delete_old,
                on_step=step,
                allow_insecure=self.services.allow_insecure_keyring,
            )
        else:
            result = rotate_key(
                target,
                keystore=keystore,
                clock=self.services.clock,
                delete_old=delete_old,
                confirm_delete_inactive=confirm,
                on_step=step,
                allow_insecure=self.services.allow_insecure_keyring,
            )
        self.post_message(RotationFinished(result))

    @on(QuestionAsked)
    def ask(self, message: QuestionAsked) -> None:
        reply = message.reply
        assert isinstance(reply, Reply)
        self.app.push_screen(
            ConfirmScreen(message.question, yes="Delete it", no="Stop"),
            lambda answer: reply.give(bool(answer)),
        )

    @on(RotationProgress)
    def show_step(self, message: RotationProgress) -> None:
        step = message.step
        mark, style = STEP_STYLE.get(step.status, ("•", ""))  # type: ignore[attr-defined]
        self.lines.append(f" {mark} ", style=style)
        self.lines.append(f"{step.name}: ", style="bold")  # type: ignore[attr-defined]
        self.lines.append(f"{step.detail}\n")  # type: ignore[attr-defined]
        self.query_one("#rotate-steps", Static).update(self.lines)

    @on(RotationFinished)
    def done(self, message: RotationFinished) -> None:
        result: RotationResult = message.result  # type: ignore[assignment]
        self.running = False
        self.finished = True
        outcome = Text()
        styles = {"rotated": "bold green", "partial": "bold yellow"}
        outcome.append(
            f"{result.outcome.replace('_', ' ')}\n", style=styles.get(result.outcome, "bold red")
        )
        if result.error:
            outcome.append(f"{result.error}\n", style="red")
        for warning in result.warnings:
            outcome.append(f"⚠ {warning}\n", style="yellow")
        outcome.append(f"IAM: {result.state.iam}\n")
        outcome.append(f"Keyring: {result.state.keyring}\n")
        outcome.append(f"Files: {result.state.files}\n")
        for line in result.next_steps:
            outcome.append(f"→ {line}\n", style="cyan")
        self.query_one("#rotate-outcome", Static).update(outcome)
        back = self.query_one("#rotate-back", Button)
        back.disabled = False
        back.label = "Back to status"
        back.focus()

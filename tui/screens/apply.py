"""The Apply step: apply the reviewed plan, each step with its live status; failures roll back."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static

from tui.core.steps import Step
from tui.messages import ApplyFinished, ApplyProgress
from tui.screens.base import WizardStep
from tui.widgets.step_list import StepList


class ApplyScreen(WizardStep):
    """Runs apply_setup in a worker; Esc is disabled while it writes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "finish", "Continue", show=True)]
    running = True  # from the start: the bindings are checked before on_mount

    def body(self) -> ComposeResult:
        yield Static("Applying…", id="apply-title", classes="title")
        yield StepList(id="steps", name_column=True)
        yield Static("", id="outcome")

    def actions(self) -> ComposeResult:
        yield Button("Continue", id="finish", variant="primary", disabled=True)

    def on_mount(self) -> None:
        self.running = True
        self.run_apply()

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply")
    def run_apply(self) -> None:
        from tui.core.setup import apply_setup

        plan = self.state.plan
        if plan is None:
            return
        keystore = self.services.keystore() if plan.keyring is not None else None
        result = apply_setup(
            plan,
            keystore=keystore,
            secret=self.state.secret,
            clock=self.services.clock,
            allow_insecure=self.services.allow_insecure_keyring,
            on_step=self.report_step,
        )
        self.post_message(ApplyFinished(result))

    def report_step(self, step: Step) -> None:
        self.post_message(ApplyProgress(step))

    @on(ApplyProgress)
    def show_step(self, message: ApplyProgress) -> None:
        # Appended, not replaced: an undo step shows under the step it undid.
        steps = self.query_one("#steps", StepList)
        steps.show([*steps.steps, message.step])

    @on(ApplyFinished)
    def finished(self, message: ApplyFinished) -> None:
        self.running = False
        result = message.result
        self.state.result = result
        title = self.query_one("#apply-title", Static)
        outcome = self.query_one("#outcome", Static)
        button = self.query_one("#finish", Button)
        if result.ok:
            title.update(Text("Applied", style="bold green"))
            button.label = "Continue"
        elif result.still_changed:
            title.update(Text("Not everything could be rolled back", style="bold red"))
            outcome.update(Text(f"{result.error}\n{result.summary}", style="red"))
        else:
            title.update(Text("Nothing was changed", style="bold red"))
            outcome.update(
                Text(
                    # The failed step above says why; it is not said twice.
                    "Everything written so far was rolled back (above). "
                    "Fix the problem, then press Esc to go back and try again.",
                    style="red",
                )
            )
            button.label = "Back"
        button.disabled = False
        button.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc goes back only after a failure: not while writing, nor over a finished setup."""
        if action == "back":
            return not self.running and (self.state.result is None or not self.state.result.ok)
        return True

    def action_back(self) -> None:
        if not self.running and (self.state.result is None or not self.state.result.ok):
            self.state.result = None
            super().action_back()

    @on(Button.Pressed, "#finish")
    def action_finish(self) -> None:
        if self.running or self.state.result is None:
            return
        if self.state.result.ok:
            self.advance()
        else:
            self.action_back()

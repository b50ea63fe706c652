"""Step 5: everything that will happen, before anything happens."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static
from textual.worker import get_current_worker

from tui.messages import PlanReady
from tui.screens.base import WizardStep
from tui.widgets.diff_view import DiffView


class ReviewScreen(WizardStep):
    """Plans the setup in a worker and shows the diff, keyring action, record and warnings."""

    STEP = 6
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+a", "apply", "Apply", show=True)]

    def body(self) -> ComposeResult:
        yield Static("Review: nothing has been written yet", classes="title")
        yield Static("Planning…", id="review-status")
        yield Static("", id="warnings")
        yield DiffView(id="diff")
        yield Static("", id="keyring")
        yield Static("", id="record", classes="record")

    def actions(self) -> ComposeResult:
        yield Button("Apply", id="apply", variant="success", disabled=True)
        yield Button("Back", id="back")

    def on_mount(self) -> None:
        self.state.plan = None
        self.make_plan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan")
    def make_plan(self) -> None:
        from tui.core.keystore import KeyStoreError
        from tui.core.model import Method
        from tui.core.setup import SetupError, plan_setup

        install, problem = self.wizard.rundeck_install()
        plan = None
        if install is not None:
            try:
                keystore = (
                    self.services.keystore() if self.state.method is Method.ACCESS_KEY else None
                )
                plan = plan_setup(
                    install,
                    self.state.answers(),
                    keystore=keystore,
                    secret=self.state.secret,
                    clock=self.services.clock,
                )
            except (SetupError, KeyStoreError, ValueError) as error:
                problem = str(error)
        if not get_current_worker().is_cancelled:
            self.post_message(PlanReady(plan, problem))

    @on(PlanReady)
    def show_plan(self, message: PlanReady) -> None:
        status = self.query_one("#review-status", Static)
        if message.plan is None:
            status.update(Text(f"✗ {message.error}", style="bold red"))
            return
        plan = message.plan
        self.state.plan = plan
        status.update(Text.assemble(("File: ", "bold"), str(plan.target)))
        self.query_one("#diff", DiffView).show_diff(plan.diff)
        keyring = Text()
        if plan.keyring is not None:
            backend = plan.keyring.backend
            secret = self.state.secret.masked() if self.state.secret else "(already stored)"
            verb = "Replace" if plan.keyring.replaces_existing else "Store"
            if plan.keyring.unchanged:
                verb = "Keep (unchanged)"
            keyring.append("Keyring: ", style="bold")
            keyring.append(f"{verb} {secret} at {plan.keyring.path}\n")
            keyring.append(f"  type password · backend {backend.name} ({backend.security})")
        else:
            keyring.append("Keyring: ", style="bold")
            keyring.append("nothing to store (a role gives the credentials)", style="dim")
        self.query_one("#keyring", Static).update(keyring)
        record = Text()
        record.append(f"Record: {plan.record_path}\n", style="bold")
        record.append(plan.record_text, style="dim")
        self.query_one("#record", Static).update(record)
        warnings = self.query_one("#warnings", Static)
        if plan.warnings:
            warnings.update(Text("\n".join(f"⚠ {w}" for w in plan.warnings), style="yellow"))
        else:
            warnings.display = False
        apply_button = self.query_one("#apply", Button)
        apply_button.disabled = not plan.changes_anything
        if not plan.changes_anything:
            status.update(Text("Nothing to change: this setup is already in place.", style="green"))
        apply_button.focus()

    @on(Button.Pressed, "#back")
    def go_back(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        if self.state.plan is not None and self.state.plan.changes_anything:
            self.advance()

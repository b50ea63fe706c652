"""The end: what changed, where the backups are, what to do next, the headless equivalent."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Label, Static

from tui.core.answers import command_line, dump_answers
from tui.core.model import Method
from tui.screens.base import WizardStep
from tui.screens.method import ROLE_TODO
from tui.widgets.save_row import SaveRow
from tui.widgets.shell_command import ShellCommand

if TYPE_CHECKING:
    from tui.core.model import Answers
    from tui.state import WizardState


class DoneScreen(WizardStep):
    """Summary of the applied setup; can save the answers file for ``apply --answers``."""

    STEP = 0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "quit_done", "Quit"),
        Binding("q", "quit_done", "Quit", show=True),
    ]

    def body(self) -> ComposeResult:
        state = self.state
        plan, result = state.plan, state.result
        answers = state.answers()
        summary = Text()
        detected = state.role_detected
        if detected:
            summary.append("Done. ", style="bold green")
            summary.append(f"Rundeck is set up for {answers.method.title}.\n\n")
        else:
            summary.append("Rundeck is configured ", style="bold yellow")
            summary.append(
                f"for {answers.method.title}, but no such role was detected here: it works "
                "once the AWS to-do below is done.\n\n"
            )
        if plan is not None and plan.api_config is not None:
            summary.append("Changed  ", style="bold")
            summary.append(f"project {plan.api_config.project} through Rundeck's API\n")
        elif plan is not None:
            summary.append("Changed  ", style="bold")
            summary.append(f"{plan.target}\n")
            summary.append("Record   ", style="bold")
            summary.append(f"{plan.record_path}\n")
        if plan is not None and plan.key_storage is not None:
            summary.append("Rundeck  ", style="bold")
            summary.append(f"{plan.key_storage.path} (Key Storage, password)\n")
        if plan is not None and plan.keyring is not None:
            summary.append("Keyring  ", style="bold")
            backend = plan.keyring.backend.name if plan.keyring.backend else "keyring"
            summary.append(f"{plan.keyring.path} (password, {backend})\n")
        if result is not None and result.backup is not None:
            summary.append("Backup   ", style="bold")
            summary.append(f"{result.backup.name} (beside it)\n")
        summary.append("\nNext: ", style="bold")
        if answers.method is Method.ACCESS_KEY:
            summary.append(
                "run a job with an AWS step (or the AWS plugin's Validate Credentials step) "
                "to confirm Rundeck can use the key.\n"
            )
        elif detected:
            role = f"the role {name}" if (name := role_name(state)) else "the role"
            summary.append(f"{role} was found here; run a job with an AWS step to confirm.\n")
        else:
            summary.append("do the AWS to-do below, then run a job with an AWS step.\n")
        yield Static(summary, id="summary")
        if plan is not None and plan.notes:
            yield Static(Text("\n".join(f"ℹ {n}" for n in plan.notes), style="cyan"), id="notes")
        if (policy := self.aclpolicy_text()) is not None:
            yield Label("Let the project's jobs and node sources read the key (an .aclpolicy):")
            yield Static(Text(policy, style="dim"), id="aclpolicy")
            yield SaveRow(
                self.aclpolicy_text,
                what="the ACL policy",
                placeholder="save the policy to… e.g. aws-key.aclpolicy",
                field_id="aclpolicy-file",
                id="aclpolicy-row",
            )
        if not detected and answers.method in ROLE_TODO:
            yield Static(Text(ROLE_TODO[answers.method], style="yellow"), id="todo")
        secret_note = (
            " (the secret comes from stdin)" if answers.method is Method.ACCESS_KEY else ""
        )
        yield Label(f"The same setup, headless{secret_note}:")
        yield Static(
            ShellCommand(self.headless_command(answers)),
            id="command",
        )
        yield SaveRow(
            self.answers_text,
            what="the answers (use them with pa-aws-setup apply --answers FILE)",
            placeholder="save answers to… e.g. answers.toml",
            field_id="answers-file",
            copy=False,
            id="answers-row",
        )
        if self.services.demo_root is not None:
            yield Static(
                Text(
                    f"DEMO sandbox: look at the result in {self.services.demo_root}",
                    style="bold magenta",
                ),
                id="demo-note",
            )

    def actions(self) -> ComposeResult:
        yield Button("Quit", id="quit", variant="primary")

    def headless_command(self, answers: Answers) -> str:
        from tui.core.rundeck_link import Offline
        from tui.widgets.rundeck_panel import OFFLINE_CHOSEN

        link, connection = self.state.rundeck_link, self.state.rundeck
        chosen_offline = isinstance(connection, Offline) and connection.reason == OFFLINE_CHOSEN
        return command_line(
            answers,
            rdeck_base=self.services.rdeck_base,
            rundeck_url=link.url.url if link is not None else None,
            offline=chosen_offline,
        )

    def on_mount(self) -> None:
        # The body is no focus stop of its own: Tab goes from Quit to the answers file, never
        # to an invisible place where q quits. Page Up/Down scroll it from anywhere.
        self.query_one(".body").can_focus = False
        self.query_one("#quit", Button).focus()

    def aclpolicy_text(self) -> str | None:
        """The aclpolicy for the key uploaded to Key Storage for a project, if any."""
        from tui.core.setup.rundeck_targets import aclpolicy

        plan = self.state.plan
        project = self.state.answers().project
        if plan is None or plan.key_storage is None or project is None:
            return None
        return aclpolicy(project, plan.key_storage.path)

    def answers_text(self) -> str:
        return dump_answers(self.state.answers(), rdeck_base=self.services.rdeck_base)

    @on(Button.Pressed, "#quit")
    def action_quit_done(self) -> None:
        self.app.exit(0)


def role_name(state: WizardState) -> str | None:
    """The detected role's name, for the method chosen."""
    detection = state.detection
    if detection is None:
        return None
    if state.method is Method.EC2:
        return detection.ec2.role_name
    arn = detection.ecs.role_arn
    return arn.rsplit("/", 1)[-1] if arn else None

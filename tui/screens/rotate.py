"""Rotate the access key: each step live; an interrupted rotation can be finished or undone."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static
from textual.worker import Worker, WorkerState

from tui.core.keystore import KeyStoreError
from tui.core.model import Scope
from tui.messages import QuestionAsked, RotationFinished, RotationProgress, RotationTargetRead
from tui.screens.base import WizardStep
from tui.screens.confirm import ConfirmScreen
from tui.widgets.grid import aligned_grid
from tui.widgets.long_text import reflow
from tui.widgets.step_list import step_mark

if TYPE_CHECKING:
    from tui.core.rotation import RotationResult, RotationTarget, SpareKey
    from tui.core.rundeck_api import RundeckClient
    from tui.core.steps import Step

OUTCOME_HEADLINE = {
    "rotated": ("✓ Rotated", "bold green"),
    "partial": ("⚠ Rotated, with something left to do", "bold yellow"),
    "rolled_back": ("↺ Rolled back: Rundeck keeps the old key", "bold yellow"),
    "refused": ("✗ Not rotated: nothing was changed", "bold red"),
    "failed": ("✗ Failed part-way", "bold red"),
}


def steps_table(steps: Iterable[Step], told_below: str | None = None) -> Table:
    """One row per step: its mark, its name, and its detail. A detail that the outcome below
    tells in full (``told_below``) keeps its first line only: the help is shown once."""
    table = aligned_grid(labels=2)
    for step in steps:
        detail = step.detail
        if told_below and "\n" in detail and detail.strip() in told_below:
            detail = detail.splitlines()[0] + " (see below)"
        table.add_row(step_mark(step.status), "", step.name, "", detail)
    return table


def describe_outcome(result: RotationResult) -> RenderableType:
    """How it ended, where IAM, the keyring and the files are now, and what to do next."""
    headline, style = OUTCOME_HEADLINE.get(result.outcome, (result.outcome, "bold"))
    parts: list[RenderableType] = [Text(), Text(headline, style=style)]  # a line apart
    if result.error:
        parts.append(reflow(result.error, style="red"))
    parts.extend(
        reflow(f"⚠ {warning}", style="yellow")
        for warning in result.warnings
        if warning != result.error  # the same help, once
    )
    state = aligned_grid(labels=1)
    for label, where in (
        ("IAM", result.state.iam),
        ("Keyring", result.state.keyring),
        ("Files", result.state.files),
    ):
        if where:
            state.add_row(label, "", where)
    for line in result.next_steps:
        state.add_row(Text("→", style="cyan"), "", Text(line, style="cyan"))
    parts.append(state)
    return Group(*parts)


class Reply:
    """A yes/no answer handed from the UI thread to a waiting worker."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.answer = False

    def give(self, answer: bool) -> None:
        if not self._event.is_set():
            self.answer = answer
            self._event.set()

    def wait(self) -> bool:
        self._event.wait()
        return self.answer


class RotationView(WizardStep):
    """What the rotation screens share: the steps as they happen, then the outcome."""

    STEP = 0
    START_ACTIONS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, scope: Scope, project: str | None) -> None:
        super().__init__()
        self.scope = scope
        self.project = project
        self.running = False
        self.started = False  # once something may have changed, Status reads the setup again
        self.result: RotationResult | None = None
        self.steps: dict[str, Step] = {}
        # A question a worker waits on; answered "no" if the screen goes away first.
        self.pending: Reply | None = None
        self.closed = False
        self.ready = False  # the setup has been read (``RotationTargetRead``)

    @property
    def where(self) -> str:
        return "the system setup" if self.scope is Scope.SYSTEM else f"project {self.project}"

    @property
    def finished(self) -> bool:
        return self.result is not None

    @property
    def key_storage(self) -> RundeckClient | None:
        """Rundeck's API when the flow is connected: the switch then moves Key Storage too."""
        link = self.state.rundeck_link
        return link.client if link is not None else None

    def target(self) -> RotationTarget:
        """The setup as Rundeck holds it: a project through the API when connected (as
        apply and the CLI's rotate do), else the file."""
        from tui.core.errors import ErrorKind
        from tui.core.rotation import RotationError, load_api_target, load_target

        install, problem = self.wizard.rundeck_install()
        if install is None:
            raise RotationError(problem or "No Rundeck install was found.", ErrorKind.CONFIG)
        client = self.key_storage
        if client is not None and self.scope is Scope.PROJECT and self.project is not None:
            return load_api_target(install, client, self.project)
        return load_target(install, self.scope, self.project)

    @work(thread=True, exclusive=True, exit_on_error=False, group="target")
    def read_target(self) -> None:
        """The setup is read off the UI thread; the screen's ``RotationTargetRead`` shows it."""
        from tui.core.rotation import RotationError

        try:
            self.post_message(RotationTargetRead(self.target(), None))
        except RotationError as error:
            self.post_message(RotationTargetRead(None, str(error)))

    def read_again(self, known: RotationTarget) -> RotationTarget | None:
        """From the run's worker: the setup as it is now (the file may have changed since the
        screen read it). When it can no longer be read, the run ends here, nothing changed."""
        from tui.core.rotation import RotationError, RotationResult

        try:
            return self.target()
        except RotationError as error:
            self.post_message(
                RotationFinished(
                    RotationResult.nothing_changed(
                        known.properties_file,
                        known.access_key_id,
                        known.key_path,
                        str(error),
                        error.kind,
                    )
                )
            )
            return None

    def begin(self) -> None:
        """Lock the screen while a worker rotates: buttons off, Esc refused."""
        self.running = self.started = True
        self.steps.clear()
        for button in self.query(Button):
            button.disabled = True
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a rotation runs there is no way out, and nothing to start once it ended."""
        if action == "back":
            return not self.running
        if action in self.START_ACTIONS:
            return not self.running and not self.finished
        return True

    def report(self, step: Step) -> None:
        """Called from the worker thread for every step."""
        self.post_message(RotationProgress(step))

    def ask(self, question: str) -> bool:
        """Called from the worker thread: a yes/no from the user, waiting for it."""
        reply = Reply()
        self.pending = reply  # before looking at ``closed``: see on_unmount
        if self.closed:
            return False
        self.post_message(QuestionAsked(question, reply))
        return reply.wait()

    @on(QuestionAsked)
    def show_question(self, message: QuestionAsked) -> None:
        reply = message.reply

        def answered(answer: bool | None) -> None:
            self.pending = None
            reply.give(bool(answer))

        self.app.push_screen(ConfirmScreen(message.question, yes="Delete it", no="Stop"), answered)

    def accepts_progress(self) -> bool:
        """Whether the worker's steps and result are still shown (a screen may stop waiting)."""
        return True

    def run_ended(self) -> None:
        """Called when the worker's result arrives, before it is shown."""

    @on(RotationProgress)
    def show_step(self, message: RotationProgress) -> None:
        if not self.accepts_progress():
            return
        step = message.step
        # One line per step name: "running" turns into its result in place.
        self.steps[step.name] = step
        self.query_one("#rotate-steps", Static).update(steps_table(self.steps.values()))

    @on(RotationFinished)
    def rotation_finished(self, message: RotationFinished) -> None:
        if not self.accepts_progress():
            return
        self.running = False
        self.run_ended()
        self.show_outcome(message.result)

    def show_outcome(self, result: RotationResult) -> None:
        from tui.core.steps import StepStatus

        self.result = result
        for name, step in self.steps.items():
            if not step.status.finished:  # the run ended before this step did
                self.steps[name] = step.to(StepStatus.SKIPPED, f"not finished ({step.detail})")
        told = "\n".join([result.error or "", *result.warnings])
        steps = self.query_one("#rotate-steps", Static)
        steps.update(steps_table(self.steps.values(), told_below=told))
        self.query_one("#rotate-outcome", Static).update(describe_outcome(result))
        self.finished_layout()
        body = self.query_one(".body")
        self.call_after_refresh(body.scroll_end, animate=False)

    def finished_layout(self) -> None:
        """After the outcome: only the way back is left."""
        for button in self.query(Button):
            button.display = button.id == "rotate-back"
        back = self.query_one("#rotate-back", Button)
        back.disabled = False
        back.label = "Back to status"
        back.focus()
        self.refresh_bindings()

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """A crash in the worker (a keyring that cannot open…) must not leave the screen locked."""
        if event.state is not WorkerState.ERROR or not self.running:
            return
        self.running = False
        error = event.worker.error
        what = str(error) if isinstance(error, KeyStoreError) else type(error).__name__
        self.query_one("#rotate-outcome", Static).update(
            reflow(
                f"✗ Stopped by an unexpected error; run pa-aws-setup status to see where IAM, "
                f"the keyring and the files are.\n{what}",
                style="bold red",
            )
        )
        self.finished_layout()

    @on(Button.Pressed, "#rotate-back")
    def go_back(self) -> None:
        self.action_back()

    def action_back(self) -> None:
        if self.running:
            self.notify("Wait until the rotation has finished.", severity="warning")
            return
        self.dismiss(self.started)

    def on_unmount(self) -> None:
        """A question nobody can answer any more is answered "no", so the worker ends."""
        self.closed = True
        if self.pending is not None:
            self.pending.give(False)


class RotateScreen(RotationView):
    """Runs rotate_key (or resume_rotation) in a worker and shows every step as it happens."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "start", "Start", show=True)]
    # Until the setup is read nothing has the focus, so an Enter typed ahead reaches the
    # screen's "start", which refuses; on Back it would leave the screen unasked.
    AUTO_FOCUS = ""
    START_ACTIONS: ClassVar[frozenset[str]] = frozenset({"start"})

    def body(self) -> ComposeResult:
        yield Static(f"Rotate the access key of {self.where}", classes="title")
        yield Static(
            "A new key is created with the current one and checked with AWS STS before "
            "Rundeck switches to it; the old key is then deactivated or deleted. If a step "
            "fails, Rundeck keeps a working key.",
            id="rotate-intro",
        )
        yield Static("", id="rotate-steps")
        yield Static("", id="rotate-outcome")

    def actions(self) -> ComposeResult:
        # The safe choice comes first and has the focus: Enter never deletes a key.
        yield Button("Rotate, keep old inactive", id="rotate-keep", variant="primary")
        yield Button("Rotate, delete old key…", id="rotate-delete", variant="warning")
        yield Button("Back", id="rotate-back")

    def __init__(self, scope: Scope, project: str | None) -> None:
        super().__init__(scope, project)
        self.known: RotationTarget | None = None  # as read when the screen opened

    def on_mount(self) -> None:
        for button in ("#rotate-keep", "#rotate-delete"):
            self.query_one(button, Button).disabled = True
        self.query_one("#rotate-outcome", Static).update(Text("Reading the setup…", style="dim"))
        self.read_target()

    @on(RotationTargetRead)
    def target_read(self, message: RotationTargetRead) -> None:
        self.ready = True
        outcome = self.query_one("#rotate-outcome", Static)
        if message.target is None:
            outcome.update(Text(message.problem or "The setup cannot be rotated.", style="red"))
            return
        outcome.update("")
        target = self.known = message.target
        keep = self.query_one("#rotate-keep", Button)
        delete = self.query_one("#rotate-delete", Button)
        keep.disabled = delete.disabled = False
        if target.interrupted is not None:
            self.query_one("#rotate-intro", Static).update(
                Text(
                    f"A rotation was interrupted (phase {target.interrupted.phase}). "
                    "Finish it, or roll it back to the old key.",
                    style="yellow",
                )
            )
            delete.label = "Finish it…"
            keep.label = "Roll back"
        keep.focus()

    @on(Button.Pressed, "#rotate-keep")
    def action_start(self) -> None:
        """Enter's choice: rotate and keep the old key, inactive (or roll back a half rotation)."""
        self.start(delete_old=False, resume="rollback")

    @on(Button.Pressed, "#rotate-delete")
    def delete_old(self) -> None:
        """Deleting the old key cannot be undone: it asks first, and "no" has the focus."""
        if self.running or self.finished or self.known is None:
            return
        key = self.known.access_key_id
        question = (
            f"Delete the old key {key} once Rundeck uses the new one? AWS cannot bring a "
            "deleted key back; kept inactive, it can be re-activated if something still uses it."
        )

        def decided(delete: bool | None) -> None:
            if delete:
                self.start(delete_old=True, resume="finish")

        self.app.push_screen(ConfirmScreen(question, yes="Delete it", no="Keep it"), decided)

    def start(self, *, delete_old: bool, resume: str) -> None:
        if self.finished:
            self.action_back()
            return
        if self.running or self.known is None:
            return
        self.begin()
        self.query_one("#rotate-intro", Static).display = False
        self.run_rotation(self.known, delete_old, resume)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotate")
    def run_rotation(self, known: RotationTarget, delete_old: bool, resume: str) -> None:
        from tui.core.rotation import resume_rotation, rotate_key

        target = self.read_again(known)
        if target is None:
            return
        keystore = self.services.keystore()

        def confirm(spare: SpareKey) -> bool:
            return self.ask(
                f"The IAM user already has two keys. The other one, {spare.access_key_id}, "
                "is inactive. Delete it to make room for the new key?"
            )

        if target.interrupted is not None:
            result = resume_rotation(
                target,
                "finish" if resume == "finish" else "rollback",
                keystore=keystore,
                clock=self.services.clock,
                client_factory=self.services.aws_client,
                delete_old=delete_old,
                on_step=self.report,
                allow_insecure=self.services.allow_insecure_keyring,
                key_storage=self.key_storage,
            )
        else:
            result = rotate_key(
                target,
                keystore=keystore,
                clock=self.services.clock,
                client_factory=self.services.aws_client,
                delete_old=delete_old,
                confirm_delete_inactive=confirm,
                on_step=self.report,
                allow_insecure=self.services.allow_insecure_keyring,
                key_storage=self.key_storage,
            )
        self.post_message(RotationFinished(result))

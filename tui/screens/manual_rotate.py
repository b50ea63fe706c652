"""Switch to a key created in the AWS console: pasted, checked with STS, then switched live."""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static
from textual.worker import get_current_worker

from tui.core.model import Scope
from tui.core.secret import Secret
from tui.messages import RotationFinished, RotationTargetRead, VerifyFinished
from tui.screens.rotate import RotationView
from tui.widgets.form_input import FormInput
from tui.widgets.long_text import reflow
from tui.widgets.secret_field import SecretField
from tui.widgets.ticks import ChoiceButton
from tui.widgets.validators import AccessKeyIdValidator

if TYPE_CHECKING:
    from textual.timer import Timer

    from tui.core.rotation import RotationResult, RotationTarget
    from tui.core.steps import Step

# What happens to the old key once Rundeck uses the new one: (deactivate_old, delete_old).
OLD_KEY_CHOICES = {
    "old-keep": (False, False),
    "old-deactivate": (True, False),
    "old-delete": (True, True),
}


# The longest the screen waits for AWS STS to accept a pasted key before it gives up (the
# worker's retries end by then too; one attempt is bounded by tui.core.aws's timeouts).
SWITCH_WAIT_SECONDS = 10.0
CANCELLED = "Cancelled before anything was changed."


class WaitClock:
    """The time the switch's waits are measured in; a test hands in one that never sleeps."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, cancelled: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` or until ``cancelled`` is set; True when it was."""
        return cancelled.wait(seconds)


class SwitchGate:
    """Between the screen and the switch worker: a cancel wins only before the first change,
    and both sides learn which side won."""

    def __init__(self, clock: WaitClock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self.begun = False

    def cancel(self) -> bool:
        """Stop the switch; True when nothing had been changed (and now nothing will be)."""
        with self._lock:
            if not self.begun:
                self._cancelled.set()
            return not self.begun

    def begin(self) -> bool:
        """Asked by the worker before its first change: False once cancelled."""
        with self._lock:
            if self._cancelled.is_set():
                return False
            self.begun = True
            return True

    def sleep(self, seconds: float) -> None:
        """The worker's pause between two attempts; a cancel ends it at once."""
        from tui.core.errors import ErrorKind
        from tui.core.rotation import RotationError

        if self.clock.wait(self._cancelled, seconds):
            raise RotationError(CANCELLED, ErrorKind.USAGE)


class ManualRotateScreen(RotationView):
    """The new key's id and secret (masked unless revealed), then ``manual_rotate`` in a worker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "switch", "Switch", show=True),
        Binding("ctrl+t", "verify", "Verify with AWS", show=True),
        Binding("ctrl+r", "reveal", "Reveal secret", show=True),
        Binding("ctrl+r", "hide", "Hide secret", show=True),
    ]
    START_ACTIONS: ClassVar[frozenset[str]] = frozenset({"switch", "verify", "reveal", "hide"})
    DEFAULT_CSS = """
    ManualRotateScreen #manual-form { height: auto; }
    ManualRotateScreen #verify-result { height: auto; }
    ManualRotateScreen #switch-wait { height: auto; color: $warning; }
    """

    def __init__(
        self, scope: Scope, project: str | None, *, wait_clock: WaitClock | None = None
    ) -> None:
        super().__init__(scope, project)
        self.loaded: RotationTarget | None = None
        self.blocked = False  # no switch possible (no target, or an interrupted rotation)
        self.wait_clock = wait_clock or WaitClock()
        self.gate: SwitchGate | None = None  # the running switch's; None once it ended
        self.deadline = 0.0
        self.countdown: Timer | None = None
        self.switch_target: RotationTarget | None = None
        self.verifying = False

    def body(self) -> ComposeResult:
        yield Static(f"Paste a new access key for {self.where}", classes="title")
        with Vertical(id="manual-form"):
            yield Static(
                "Create a key for the same IAM user in the AWS console and paste it here. "
                "AWS STS checks it before Rundeck switches to it; it is never deleted.",
                id="manual-intro",
            )
            yield Static("", id="errors")
            yield Label("New access key id")
            yield FormInput(
                placeholder="AKIA… (20 characters)",
                validators=[AccessKeyIdValidator()],
                id="access-key-id",
                enter_focus="#secret",
            )
            yield Label("Its secret access key")
            yield SecretField(enter_focus="#old-key")
            yield Label("Then the old key", id="old-key-label")
            with RadioSet(id="old-key"):
                yield ChoiceButton("Leave it active", id="old-keep")
                yield ChoiceButton("Deactivate it (it can be re-activated)", id="old-deactivate")
                yield ChoiceButton("Delete it", id="old-delete")
            yield Static("", id="verify-result")
        yield Static("", id="rotate-steps")
        yield Static("", id="switch-wait")
        yield Static("", id="rotate-outcome")

    def actions(self) -> ComposeResult:
        yield Button("Switch to this key", id="switch", variant="primary")
        yield Button("Verify with AWS", id="verify")
        yield Button("Back", id="rotate-back")

    def on_mount(self) -> None:
        self.query_one("#old-deactivate", RadioButton).value = True
        self.query_one("#verify-result").display = False
        self.query_one("#access-key-id", Input).focus()
        for button in ("#switch", "#verify"):
            self.query_one(button, Button).disabled = True  # until the setup has been read
        self.read_target()

    @on(RotationTargetRead)
    def target_read(self, message: RotationTargetRead) -> None:
        from tui.core.aws import mask_access_key_id

        self.ready = True
        if message.target is None:
            self.refuse(message.problem or "The setup cannot be rotated.")
            return
        self.loaded = message.target
        current = mask_access_key_id(self.loaded.access_key_id)
        self.query_one("#old-key-label", Label).update(f"Then the old key, {current}")
        if self.loaded.interrupted is not None:
            self.refuse(
                "A rotation of this setup was interrupted; finish or roll it back first "
                "(Rotate key on the Status screen)."
            )
            return
        for button in ("#switch", "#verify"):
            self.query_one(button, Button).disabled = False

    def refuse(self, message: str) -> None:
        self.blocked = True
        self.query_one("#errors", Static).update(Text(f"✗ {message}", style="bold red"))
        self.query_one("#switch", Button).disabled = True
        self.query_one("#verify", Button).disabled = True

    @on(Input.Changed, "#secret")
    def secret_typed(self, event: Input.Changed) -> None:
        if event.value.strip():  # emptied at the switch, while the worker still holds it
            self.wizard.radioactive["manual-secret"] = event.value.strip()

    def check_reveal(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The key bar says what Ctrl+R does now: Reveal while masked, Hide while shown."""
        if action in ("reveal", "hide"):
            shown = self.query(SecretField)
            if (action == "hide") is not (bool(shown) and shown.first().revealed):
                return False
        return super().check_action(action, parameters)

    def action_reveal(self) -> None:
        self.query_one(SecretField).toggle()

    def action_hide(self) -> None:
        self.query_one(SecretField).toggle()

    @on(SecretField.Toggled)
    def secret_toggled(self) -> None:
        self.refresh_bindings()

    def collect(self) -> tuple[str, Secret] | None:
        """The key id and secret when both are valid; otherwise show why and return None."""
        problems: list[str] = []
        for selector in ("#access-key-id", "#secret"):
            field = self.query_one(selector, Input)
            outcome = field.validate(field.value)
            if outcome is not None and not outcome.is_valid:
                problems.extend(outcome.failure_descriptions)
        errors = self.query_one("#errors", Static)
        errors.update(Text("\n".join(f"✗ {p}" for p in problems), style="bold red"))
        if problems:
            return None
        key_id = self.query_one("#access-key-id", Input).value.strip()
        return key_id, Secret(self.query_one("#secret", Input).value.strip())

    @on(Button.Pressed, "#verify")
    def action_verify(self) -> None:
        if self.blocked or self.running or self.finished or self.loaded is None:
            return
        pasted = self.collect()
        if pasted is None:
            return
        result = self.query_one("#verify-result", Static)
        result.display = True
        result.update(Text("Asking AWS STS who this key belongs to… (Esc cancels)", style="yellow"))
        self.verifying = True
        self.verify(*pasted, self.loaded.region)

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify")
    def verify(self, access_key_id: str, secret: Secret, region: str | None) -> None:
        answer = VerifyFinished.asking(self.services.verify, access_key_id, secret, region)
        if not get_current_worker().is_cancelled:
            self.post_message(answer)

    @on(VerifyFinished)
    def verified(self, message: VerifyFinished) -> None:
        if not self.verifying:
            return  # cancelled meanwhile
        self.verifying = False
        result = self.query_one("#verify-result", Static)
        if message.identity is not None:
            result.update(Text(f"✓ Works: {message.identity.arn}", style="green"))
        elif message.error is not None:
            result.update(reflow(f"✗ {message.error}", style="bold red"))  # whole, wrapped

    @on(Button.Pressed, "#switch")
    def action_switch(self) -> None:
        if self.finished:
            self.action_back()
            return
        if self.running or self.blocked or self.loaded is None:
            return
        pasted = self.collect()
        if pasted is None:
            return
        target = self.loaded
        pressed = self.query_one("#old-key", RadioSet).pressed_button
        deactivate, delete = OLD_KEY_CHOICES[pressed.id if pressed and pressed.id else "old-keep"]
        self.begin()
        # The secret now lives only in the worker; the form forgets it.
        self.query_one("#secret", Input).value = ""
        self.query_one("#manual-form").display = False
        self.workers.cancel_group(self, "verify")
        self.verifying = False
        self.query_one("#verify-result").display = False  # an earlier answer; the switch asks again
        gate = self.gate = SwitchGate(self.wait_clock)
        self.switch_target = target
        self.deadline = self.wait_clock.monotonic() + SWITCH_WAIT_SECONDS
        self.countdown = self.set_interval(0.25, self.tick)
        self.tick()
        self.run_switch(gate, target, *pasted, deactivate, delete)

    def tick(self) -> None:
        """The countdown while AWS STS is asked; at zero the screen stops waiting."""
        gate = self.gate
        wait = self.query_one("#switch-wait", Static)
        if gate is None or gate.begun:
            wait.update("")
            return
        left = self.deadline - self.wait_clock.monotonic()
        if left <= 0:
            self.stop_waiting(
                f"AWS STS did not accept the new key within {SWITCH_WAIT_SECONDS:.0f} s "
                "(offline, or blocked by a proxy or firewall?). Nothing was changed."
            )
            return
        wait.update(
            f"Waiting for AWS STS to accept the new key: {math.ceil(left)} s left · Esc cancels"
        )

    def stop_waiting(self, message: str) -> None:
        """Give up on the switch when it has not begun changing anything; the form returns."""
        from tui.core.errors import ErrorKind
        from tui.core.rotation import RotationResult

        gate, target = self.gate, self.switch_target
        if gate is None or target is None or not gate.cancel():
            return  # already ended, or the switch is writing: it finishes on its own
        self.workers.cancel_group(self, "rotate")
        self.end_switch()
        self.show_outcome(
            RotationResult.nothing_changed(
                target.properties_file,
                target.access_key_id,
                target.key_path,
                message,
                ErrorKind.USAGE,
            )
        )

    def end_switch(self) -> None:
        self.running = False
        self.gate = None
        if self.countdown is not None:
            self.countdown.stop()
            self.countdown = None
        self.query_one("#switch-wait", Static).update("")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back" and self.running:
            return True  # Esc cancels the wait; action_back says when it is too late
        return self.check_reveal(action, parameters)

    def action_back(self) -> None:
        if self.running:
            if self.gate is not None and not self.gate.begun:
                self.stop_waiting(CANCELLED)
            else:
                self.notify("The switch has begun: wait until it has finished.")
            return
        if self.verifying:
            self.verifying = False
            self.workers.cancel_group(self, "verify")
            self.query_one("#verify-result", Static).update(
                Text("Verify cancelled.", style="yellow")
            )
            return
        super().action_back()

    def accepts_progress(self) -> bool:
        return self.running  # not a switch the screen stopped waiting for

    def run_ended(self) -> None:
        self.end_switch()

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotate")
    def run_switch(
        self,
        gate: SwitchGate,
        target: RotationTarget,
        access_key_id: str,
        secret: Secret,
        deactivate_old: bool,
        delete_old: bool,
    ) -> None:
        from tui.core.rotation import manual_rotate

        target_now = self.read_again(target)
        if target_now is None:
            return
        target = target_now

        def report(step: Step) -> None:
            if gate is self.gate:
                self.report(step)

        result = manual_rotate(
            target,
            access_key_id,
            secret,
            keystore=self.services.keystore(),
            clock=self.services.clock,
            client_factory=self.services.aws_client,
            deactivate_old=deactivate_old,
            delete_old=delete_old,
            on_step=report,
            allow_insecure=self.services.allow_insecure_keyring,
            key_storage=self.key_storage,
            wait_seconds=SWITCH_WAIT_SECONDS,
            sleep=gate.sleep,
            monotonic=self.wait_clock.monotonic,
            before_changes=gate.begin,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(RotationFinished(result))

    def show_outcome(self, result: RotationResult) -> None:
        super().show_outcome(result)
        if result.outcome == "refused":
            # Nothing changed: the form comes back for another try (the secret pasted again).
            self.result = None
            self.query_one("#manual-form").display = True
            for button in self.query(Button):
                button.disabled = False
                button.display = True
            self.query_one("#rotate-back", Button).label = "Back"
            self.query_one("#secret", Input).focus()
            self.refresh_bindings()

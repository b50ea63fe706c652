"""Remove one scope's AWS setup: the diff first, then the file, record and secret; or, for a
project Rundeck serves, its config keys through the API, and the Key Storage entry only
after its own confirmation (a password cannot be read back)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.messages import RemovalFinished
from tui.screens.base import wizard_of
from tui.screens.confirm import ConfirmScreen
from tui.widgets.diff_view import DiffView
from tui.widgets.long_text import reflow, scroll_by

if TYPE_CHECKING:
    from tui.core.setup import RemovalPlan
    from tui.core.setup.api_removal import ApiRemovalPlan
    from tui.core.setup.model import Blocker


class RemoveScreen(ModalScreen[bool]):
    """Shows what Remove does; dismisses True once removed."""

    CSS_PATH = "remove.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(False)", "Cancel"),
        # The focus is on a button: these keys read the long text above it.
        Binding("pagedown", "scroll_removal('page_down')", "Scroll", show=False),
        Binding("pageup", "scroll_removal('page_up')", "Scroll", show=False),
        Binding("down", "scroll_removal('down')", "Scroll", show=False),
        Binding("up", "scroll_removal('up')", "Scroll", show=False),
        Binding("end", "scroll_removal('end')", "Scroll", show=False),
        Binding("home", "scroll_removal('home')", "Scroll", show=False),
    ]

    def __init__(self, plan: RemovalPlan | ApiRemovalPlan) -> None:
        from tui.core.setup.api_removal import ApiRemovalPlan

        super().__init__()
        self.plan = plan
        self.api_plan = plan if isinstance(plan, ApiRemovalPlan) else None
        self.file_plan = None if isinstance(plan, ApiRemovalPlan) else plan

    def compose(self) -> ComposeResult:
        plan, api, file_plan = self.plan, self.api_plan, self.file_plan
        if api is not None:
            where = f"project {api.project}'s configuration in Rundeck"
            blockers: tuple[Blocker, ...] = ()
            notes = api.aws_notes
            if api.key_path:
                notes = (
                    f"The secret at {api.key_path} stays in Rundeck Key Storage and in the "
                    "keyring unless you say so after Remove (that cannot be undone).",
                    *notes,
                )
            kept = "Each key is put back if a later call fails."
        else:
            assert file_plan is not None
            where, blockers, notes = str(file_plan.target), file_plan.blockers, file_plan.notes
            kept = "A backup of the file is kept."
        with Vertical(id="dialog"):
            # The diff scrolls; the question's buttons stay in view below it.
            with VerticalScroll(id="removal"):
                yield Static(Text(f"Remove the AWS setup from {where}?", style="bold"))
                diff = DiffView()
                diff.show_diff(plan.diff)
                yield diff
                if api is None and plan.key_path:
                    yield Static(f"and delete the secret at {plan.key_path} from the keyring")
                for note in notes:
                    yield Static(Text(f"⚠ {note}", style="yellow"))
                for blocker in blockers:
                    yield Static(Text(f"✗ {blocker.message}", style="bold red"))
                yield Static("" if blockers else kept, id="remove-result")
            with Horizontal(classes="buttons"):
                yield Button(
                    "Remove", id="confirm-remove", variant="error", disabled=bool(blockers)
                )
                yield Button("Cancel", id="cancel", variant="primary")

    def on_mount(self) -> None:
        # Cancel has the focus: Enter never removes; Tab reaches Remove.
        self.query_one("#cancel", Button).focus()

    def action_scroll_removal(self, how: str) -> None:
        scroll_by(self.query_one("#removal", VerticalScroll), how)

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#confirm-remove")
    def confirm_removal(self) -> None:
        api = self.api_plan
        if api is None or not api.key_path:
            self.start_removal(delete_key=False)
            return
        question = (
            f"Also delete the secret at {api.key_path} from Rundeck Key Storage, and its copy "
            "from this host's keyring? A password cannot be read back from Rundeck, so this "
            "cannot be undone; kept, the key stays where an admin can still use it."
        )

        def decided(delete: bool | None) -> None:
            self.start_removal(delete_key=bool(delete))

        self.app.push_screen(ConfirmScreen(question, yes="Delete it too", no="Keep it"), decided)

    def start_removal(self, *, delete_key: bool) -> None:
        for button in self.query(Button):
            button.disabled = True
        self.query_one("#remove-result", Static).update("Removing…")
        self.remove_setup(delete_key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="remove")
    def remove_setup(self, delete_key: bool) -> None:
        from dataclasses import replace

        from tui.core.setup import apply_removal
        from tui.core.setup.api_removal import apply_api_removal

        app = wizard_of(self)
        link = app.state.rundeck_link
        if self.api_plan is not None and link is not None:
            plan = replace(self.api_plan, delete_key=delete_key)
            keystore = app.services.keystore() if delete_key else None
            result = apply_api_removal(plan, link.client, keystore)
        elif self.file_plan is not None:
            file_plan = self.file_plan
            keystore = app.services.keystore() if file_plan.key_path else None
            result = apply_removal(file_plan, keystore=keystore, clock=app.services.clock)
        else:  # an API plan, and the connection it was planned through is gone
            from tui.core.setup import ApplyResult

            result = ApplyResult(ok=False, error="Rundeck's API is no longer connected.")
            result.summary = "Nothing was removed."
        self.post_message(RemovalFinished(result))

    @on(RemovalFinished)
    def removal_finished(self, message: RemovalFinished) -> None:
        result = message.result
        if result.ok:
            self.notify(f"Removed. Backup: {result.backup}" if result.backup else "Removed.")
            self.dismiss(True)
            return
        self.query_one("#remove-result", Static).update(
            reflow(f"✗ {result.message}", style="bold red")
        )
        self.query_one("#cancel", Button).disabled = False

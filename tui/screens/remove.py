"""Remove one scope's AWS setup: the diff first, then the file, record and secret."""

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
from tui.widgets.diff_view import DiffView
from tui.widgets.long_text import reflow, scroll_by

if TYPE_CHECKING:
    from tui.core.setup import RemovalPlan


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

    def __init__(self, plan: RemovalPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            # The diff scrolls; the question's buttons stay in view below it.
            with VerticalScroll(id="removal"):
                yield Static(Text(f"Remove the AWS setup from {self.plan.target}?", style="bold"))
                diff = DiffView()
                diff.show_diff(self.plan.diff)
                yield diff
                if self.plan.key_path:
                    yield Static(f"and delete the secret at {self.plan.key_path} from the keyring")
                for note in self.plan.notes:
                    yield Static(Text(f"⚠ {note}", style="yellow"))
                for blocker in self.plan.blockers:
                    yield Static(Text(f"✗ {blocker.message}", style="bold red"))
                yield Static(
                    "" if self.plan.blockers else "A backup of the file is kept.",
                    id="remove-result",
                )
            with Horizontal(classes="buttons"):
                yield Button(
                    "Remove",
                    id="confirm-remove",
                    variant="error",
                    disabled=bool(self.plan.blockers),
                )
                yield Button("Cancel", id="cancel", variant="primary")

    def action_scroll_removal(self, how: str) -> None:
        scroll_by(self.query_one("#removal", VerticalScroll), how)

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#confirm-remove")
    def confirm_removal(self) -> None:
        for button in self.query(Button):
            button.disabled = True
        self.query_one("#remove-result", Static).update("Removing…")
        self.remove_setup()

    @work(thread=True, exclusive=True, exit_on_error=False, group="remove")
    def remove_setup(self) -> None:
        from tui.core.setup import apply_removal

        app = wizard_of(self)
        keystore = app.services.keystore() if self.plan.key_path else None
        result = apply_removal(self.plan, keystore=keystore, clock=app.services.clock)
        self.post_message(RemovalFinished(result))

    @on(RemovalFinished)
    def removal_finished(self, message: RemovalFinished) -> None:
        result = message.result
        if result.ok:
            self.notify(f"Removed. Backup: {result.backup}")
            self.dismiss(True)
            return
        self.query_one("#remove-result", Static).update(
            reflow(f"✗ {result.message}", style="bold red")
        )
        self.query_one("#cancel", Button).disabled = False

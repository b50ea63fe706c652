"""The secret access key field: masked, with a Reveal/Hide button beside it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Input

from tui.widgets.form_input import FormInput
from tui.widgets.validators import SecretValidator


class SecretField(Horizontal):
    """A masked Input (``#secret``) for a secret access key; pasting works, and the value is
    shown only while revealed. Screens bind their own key to ``toggle``."""

    DEFAULT_CSS = """
    SecretField { height: auto; }
    SecretField > Input { width: 1fr; }
    """

    def __init__(self, *, value: str = "", enter_focus: str | None = None) -> None:
        super().__init__()
        self.initial = value
        self.enter_focus = enter_focus

    def compose(self) -> ComposeResult:
        yield FormInput(
            self.initial,
            secret=True,
            placeholder="40 characters; pasting works",
            validators=[SecretValidator()],
            id="secret",
            enter_focus=self.enter_focus,
        )
        yield Button("Reveal", id="reveal")

    class Toggled(Message):
        """The secret was revealed or masked again."""

    @property
    def revealed(self) -> bool:
        """True while the secret shows in clear (False before the field is built)."""
        fields = self.query(Input)
        return bool(fields) and not fields.first().password

    def toggle(self) -> None:
        """Show the secret in clear, or mask it again."""
        field = self.query_one(Input)
        field.password = not field.password
        self.query_one(Button).label = "Reveal" if field.password else "Hide"
        self.post_message(self.Toggled())

    @on(Button.Pressed, "#reveal")
    def reveal_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.toggle()

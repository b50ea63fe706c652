"""A file name field with Save (and Copy) for a text the screen shows: a policy, commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input

from tui.messages import ReplaceAsked
from tui.widgets.form_input import FormInput

COPY_NOTE = "Sent to the clipboard (through the terminal, if it allows: OSC 52)."


class SaveRow(Horizontal):
    """Writes ``text()`` to the file typed in the field; Copy sends it to the clipboard.

    ``text`` returns None while there is nothing to save. ``what`` names the text in the
    messages ("the policy"). ``copy_hint`` follows the clipboard note, for terminals that
    do not pass OSC 52 on (a command that prints the same text, for example).
    ``companions`` gives the files saved beside the one typed (a role's trust policy).
    A file that exists is replaced only after a yes; the message names every file by its
    absolute path.
    """

    DEFAULT_CSS = """
    SaveRow { height: auto; }
    SaveRow > Input { width: 1fr; }
    """

    def __init__(
        self,
        text: Callable[[], str | None],
        *,
        what: str,
        placeholder: str,
        field_id: str,
        copy: bool = True,
        copy_hint: Callable[[], str] | None = None,
        companions: Callable[[Path], list[tuple[Path, str]]] | None = None,
        encoding: str = "utf-8",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.text = text
        self.what = what
        self.placeholder = placeholder
        self.field_id = field_id
        self.copy = copy
        self.copy_hint = copy_hint
        self.companions = companions
        self.encoding = encoding

    def compose(self) -> ComposeResult:
        yield FormInput(placeholder=self.placeholder, id=self.field_id)
        yield Button("Save", classes="save")
        if self.copy:
            yield Button("Copy", classes="copy")

    @on(Button.Pressed, ".save")
    @on(Input.Submitted)
    def save(self, event: Button.Pressed | Input.Submitted) -> None:
        event.stop()
        text = self.text()
        if text is None:
            return
        name = self.query_one(Input).value.strip()
        if not name:
            self.notify("Type a file name first.", severity="warning")
            return
        path = Path(name).expanduser().absolute()
        files = [(path, text), *(self.companions(path) if self.companions else [])]
        existing = [target for target, _ in files if target.exists()]
        if not existing:
            self.write(files)
            return
        names = ", ".join(str(target) for target in existing)
        question = f"{names} already {'exists' if len(existing) == 1 else 'exist'}. Replace?"
        self.post_message(ReplaceAsked(question, lambda: self.write(files)))

    def write(self, files: list[tuple[Path, str]]) -> None:
        for target, content in files:
            try:
                target.write_text(content, encoding=self.encoding)
            except OSError as error:
                self.notify(f"Cannot write {target}: {error.strerror}", severity="error")
                return
        saved = " and ".join(str(target) for target, _ in files)
        self.notify(f"Saved {self.what} to {saved}.")

    @on(Button.Pressed, ".copy")
    def copy_text(self, event: Button.Pressed) -> None:
        event.stop()
        text = self.text()
        if text is not None:
            self.app.copy_to_clipboard(text)
            hint = self.copy_hint() if self.copy_hint is not None else ""
            self.notify(f"{COPY_NOTE} {hint}".strip())

"""The Review step: everything that will happen, before anything happens."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, Input, Static
from textual.worker import get_current_worker

from tui.core.model import Method
from tui.messages import PasteReady, PasteSaved, PlanReady
from tui.screens.base import WizardStep
from tui.screens.method import ROLE_TODO
from tui.screens.review_api import (
    REPLACE_KEY_REASON,
    connection_line,
    key_storage_text,
    needs_replace_consent,
    notes_text,
    shown_blockers,
)
from tui.widgets.diff_view import DiffView, diff_text
from tui.widgets.form_input import FormInput

if TYPE_CHECKING:
    from tui.core.setup import SetupPlan


class ReviewScreen(WizardStep):
    """Plans the setup in a worker and shows the diff, keyring action, record and warnings."""

    CSS_PATH = "review.tcss"

    paste_text = ""
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+a", "apply", "Apply", show=True)]

    def body(self) -> ComposeResult:
        yield Static("Review: nothing has been written yet", classes="title")
        yield Static("Planning…", id="review-status")
        yield Static("", id="warnings")
        if not self.state.role_detected and self.state.method in ROLE_TODO:
            yield Static(Text(ROLE_TODO[self.state.method], style="yellow"), id="todo")
        yield Static("", id="rundeck-line")
        yield DiffView(id="diff")
        yield Static("", id="key-storage")
        with Horizontal(id="replace-row"):
            yield Static("", id="replace-reason")
            yield Button("Yes, replace it", id="replace-key", variant="warning")
        yield Static("", id="keyring")
        yield Static("", id="notes")
        yield Static("", id="record", classes="record")
        with Horizontal(id="paste-row"):
            yield FormInput(placeholder="save the lines to… (a file name)", id="paste-file")
            yield Button("Save lines", id="save-paste", variant="primary")

    def actions(self) -> ComposeResult:
        yield Button("Apply", id="apply", variant="success", disabled=True)
        yield Button("Back", id="back")

    def on_mount(self) -> None:
        self.state.plan = None
        self.state.replace_key = False  # a yes holds for the plan it was given to only
        self.query_one("#paste-row").display = False
        for selector in ("#rundeck-line", "#key-storage", "#replace-row", "#notes"):
            self.query_one(selector).display = False
        self.make_plan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan")
    def make_plan(self) -> None:
        from tui.core.errors import ToolError
        from tui.core.setup import plan_setup

        install, problem = self.wizard.rundeck_install()
        plan = None
        answers = self.state.answers()
        linked = self.state.rundeck_link is not None
        if (
            install is not None
            and answers.project
            and not linked
            and install.project_in_database(answers.project)
        ):
            from tui.core.setup import paste_lines

            if not get_current_worker().is_cancelled:
                self.post_message(PasteReady(paste_lines(answers)))
            return
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
                    allow_insecure=self.services.allow_insecure_keyring,
                    rundeck=self.state.rundeck,
                    replace_key=self.state.replace_key,
                )
            except (ToolError, ValueError) as error:
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
        if plan.api_config is not None:
            status.update(connection_line(plan))
        else:
            status.update(Text.assemble(("File: ", "bold"), str(plan.target)))
        self.query_one("#diff", DiffView).show_diff(plan.diff)
        self.show_api(plan)
        keyring = Text()
        if plan.keyring is not None:
            backend = plan.keyring.backend
            secret = self.state.secret.masked() if self.state.secret else "(already stored)"
            verb = "Replace" if plan.keyring.replaces_existing else "Store"
            if plan.keyring.unchanged:
                verb = "Keep (unchanged)"
            keyring.append("Keyring: ", style="bold")
            keyring.append(f"{verb} {secret} at {plan.keyring.path}\n")
            if backend is not None:
                keyring.append(f"  type password · backend {backend.name} ({backend.security})")
        else:
            keyring.append("Keyring: ", style="bold")
            keyring.append("nothing to store (a role gives the credentials)", style="dim")
        self.query_one("#keyring", Static).update(keyring)
        record = Text()
        if plan.file is not None:
            record.append(f"Record: {plan.record_path}\n", style="bold")
            record.append(plan.record_text, style="dim")
        self.query_one("#record", Static).update(record)
        self.query_one("#record").display = plan.file is not None
        warnings = self.query_one("#warnings", Static)
        warnings.update(Text("\n".join(f"⚠ {w}" for w in plan.warnings), style="yellow"))
        warnings.display = bool(plan.warnings)
        apply_button = self.query_one("#apply", Button)
        apply_button.disabled = not plan.changes_anything or bool(plan.blockers)
        blockers = shown_blockers(plan)
        if blockers:
            blocked = "\n".join(f"✗ {blocker.message}" for blocker in blockers)
            status.update(
                Text(f"{blocked}\nNothing can be applied until this is fixed.", style="bold red")
            )
        elif not plan.changes_anything:
            status.update(Text("Nothing to change: this setup is already in place.", style="green"))
        elif plan.recovery is not None:
            warnings.display = True
            warnings.update(Text(f"⚠ {plan.recovery.describe()}", style="yellow"))
        if needs_replace_consent(plan, replace_key=self.state.replace_key):
            self.query_one("#replace-key", Button).focus()
        else:
            apply_button.focus()

    def show_api(self, plan: SetupPlan) -> None:
        """The API's part of the plan: the connection, config diff, Key Storage and notes."""
        line = self.query_one("#rundeck-line", Static)
        line.display = plan.rundeck is not None and plan.api_config is None
        line.update(connection_line(plan))
        if plan.api_config is not None:
            self.query_one("#diff", DiffView).update(
                diff_text(plan.api_config.diff)
                if plan.api_config.diff
                else Text("No change to the project's AWS keys.", style="dim")
            )
        key_storage = self.query_one("#key-storage", Static)
        key_storage.display = plan.key_storage is not None
        key_storage.update(key_storage_text(plan, replace_key=self.state.replace_key))
        consent = needs_replace_consent(plan, replace_key=self.state.replace_key)
        self.query_one("#replace-row").display = consent
        if consent and plan.key_storage is not None:
            reason = REPLACE_KEY_REASON.format(path=plan.key_storage.path)
            self.query_one("#replace-reason", Static).update(Text(reason, style="yellow"))
        notes = self.query_one("#notes", Static)
        notes.display = bool(plan.notes)
        notes.update(notes_text(plan))

    @on(Button.Pressed, "#replace-key")
    def replace_key(self) -> None:
        """The admin says yes to replacing a key that cannot be read back: plan again."""
        self.state.replace_key = True
        self.query_one("#review-status", Static).update("Planning…")
        self.make_plan()

    @on(PasteReady)
    def show_paste(self, message: PasteReady) -> None:
        """No file to change: the lines go into Rundeck's GUI, saved to a file of one's choice."""
        self.paste_text = message.lines
        project = self.state.project
        self.query_one("#review-status", Static).update(
            Text(
                f"Project {project} was not found on disk: nothing is written here. If it is "
                "no typo, Rundeck keeps it in its database: paste these lines into Project "
                "Settings → Edit Configuration File, or save them to a file first.",
                style="yellow",
            )
        )
        for selector in ("#warnings", "#diff", "#apply"):
            self.query_one(selector).display = False
        keyring = Text()
        if self.state.method is Method.ACCESS_KEY and self.state.secret is not None:
            keyring.append("Keyring: ", style="bold")
            keyring.append(
                f"Save also stores {self.state.secret.masked()} at {self.state.key_path} "
                "(type password), as for a project on disk."
            )
        self.query_one("#keyring", Static).update(keyring)
        lines = Text("Lines to paste\n", style="bold")
        lines.append(message.lines)
        self.query_one("#record", Static).update(lines)
        self.query_one("#paste-row").display = True
        self.query_one("#paste-file", Input).focus()

    @on(Button.Pressed, "#save-paste")
    @on(Input.Submitted, "#paste-file")
    def save_paste(self) -> None:
        name = self.query_one("#paste-file", Input).value.strip()
        if not name:
            self.notify("Type a file name first.", severity="warning")
            return
        access = self.state.method is Method.ACCESS_KEY and self.state.secret is not None
        self.store_and_save(Path(name).expanduser(), self.state.key_path if access else None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="paste")
    def store_and_save(self, path: Path, key_path: str | None) -> None:
        """The secret into the keyring (as apply --paste-file does), then the lines file."""
        from tui.core.keystore import KeyStoreError
        from tui.core.setup import SetupError, StoredSecret, write_paste_lines

        secret, stored = self.state.secret, None
        try:
            if key_path is not None and secret is not None:
                keystore = self.services.keystore()
                stored = StoredSecret(keystore, key_path, keystore.get(key_path))
                keystore.put(key_path, secret, allow_insecure=self.services.allow_insecure_keyring)
            write_paste_lines(path, self.paste_text, stored)
        except (KeyStoreError, SetupError) as error:
            self.post_message(PasteSaved(str(path), None, str(error)))
            return
        self.post_message(PasteSaved(str(path), key_path, None))

    @on(PasteSaved)
    def paste_saved(self, message: PasteSaved) -> None:
        if message.error is not None:
            self.notify(f"Nothing was saved: {message.error}", severity="error")
            return
        self.state.paste_file = message.path
        stored = (
            f" The secret is in the keyring at {message.stored_at}." if message.stored_at else ""
        )
        self.notify(f"Saved the lines to {message.path}.{stored}")

    @on(Button.Pressed, "#back")
    def go_back(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        if self.query_one("#apply", Button).disabled:
            return  # blocked, or nothing to change: Ctrl+A no more than the button
        if self.state.plan is not None and self.state.plan.changes_anything:
            self.advance()

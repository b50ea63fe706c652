"""The Details step: region, and for an access key the key id, the secret and its key path."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.worker import get_current_worker

from tui.core.model import Method, Scope
from tui.core.secret import Secret
from tui.core.validate import REFUSED_PREFIXES
from tui.messages import RegionsLoaded, VerifyFinished
from tui.screens.base import WizardStep
from tui.widgets.form_input import FormInput
from tui.widgets.secret_field import SecretField
from tui.widgets.validators import (
    AccessKeyIdValidator,
    KeyPathValidator,
    RegionValidator,
)


class DetailsScreen(WizardStep):
    """Collects the details; Verify with AWS runs STS in a worker and never blocks the UI."""

    CSS_PATH = "details.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "next", "Next", show=True),
        # One key, two names: the key bar says what Ctrl+R does now (see check_action).
        Binding("ctrl+r", "reveal", "Reveal secret", show=True),
        Binding("ctrl+r", "hide", "Hide secret", show=True),
        Binding("ctrl+t", "verify", "Verify with AWS", show=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.regions: tuple[str, ...] = ()
        self.tried = False  # Next or Verify was pressed: every field is checked as it changes
        self.shown_for: set[str] = set()  # fields whose problem is certain while typing

    @property
    def access_key(self) -> bool:
        return self.state.method is Method.ACCESS_KEY

    def default_region(self) -> str:
        detection = self.state.detection
        if self.state.region:
            return self.state.region
        if detection is not None:
            return detection.region or ""
        return ""

    def scope_key_path(self) -> str:
        """The key-storage path the scope suggests (it changes with the scope)."""
        from tui.core.keystore import default_key_path

        return default_key_path(self._project())

    def default_key_path(self) -> str:
        """The path the admin typed, kept; otherwise the scope's own, whatever it was before."""
        if self.state.key_path and self.state.key_path_typed:
            return self.state.key_path
        return self.scope_key_path()

    def body(self) -> ComposeResult:
        method = self.state.method or Method.ACCESS_KEY
        yield Static(f"Details for {method.title}", classes="title")
        yield Static("", id="errors")
        yield Label("Default region (type to filter)")
        yield FormInput(
            value=self.default_region(),
            placeholder="e.g. us-east-1 (optional)",
            validators=[RegionValidator()],
            id="region",
        )
        yield OptionList(id="region-list")
        if self.access_key:
            yield Label("Access key id")
            yield FormInput(
                value=self.state.access_key_id or "",
                placeholder="AKIA… (20 characters)",
                validators=[AccessKeyIdValidator()],
                id="access-key-id",
            )
            yield Label("Secret access key")
            yield SecretField(value=self.state.secret.reveal() if self.state.secret else "")
            # Where the secret goes: Rundeck Key Storage when the API is used (a copy in the
            # keyring), else the keyring only, for the admin to upload.
            where = "Key Storage + keyring" if self.state.rundeck_link is not None else "keyring"
            yield Label(f"Key-storage path (a password; {where})")
            yield FormInput(
                value=self.default_key_path(),
                validators=[KeyPathValidator(self._project)],
                id="key-path",
            )
            with Horizontal(classes="buttons"):
                yield Button("Verify with AWS", id="verify")
            yield Static("", id="verify-result")

    def actions(self) -> ComposeResult:
        yield Button("Next", id="next", variant="primary")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Reveal and Verify belong to the access key fields; a role method has neither."""
        if action in ("reveal", "hide", "verify") and not self.access_key:
            return False
        if action in ("reveal", "hide"):
            shown = self.query(SecretField)
            return (action == "hide") is (bool(shown) and shown.first().revealed)
        return super().check_action(action, parameters)

    def _project(self) -> str | None:
        return self.state.project if self.state.scope is Scope.PROJECT else None

    def on_mount(self) -> None:
        self.query_one("#region-list").display = False
        self.query_one("#errors").display = False
        if self.access_key:
            self.query_one("#verify-result").display = False
        self.load_regions()
        self.query_one("#region", Input).focus()

    @work(thread=True, exclusive=True, group="regions")
    def load_regions(self) -> None:
        from tui.core.validate import known_regions

        regions = known_regions()
        if not get_current_worker().is_cancelled:
            self.post_message(RegionsLoaded(regions))

    @on(RegionsLoaded)
    def regions_loaded(self, message: RegionsLoaded) -> None:
        self.regions = message.regions

    @on(Input.Changed, "#region")
    def filter_regions(self, event: Input.Changed) -> None:
        typed = event.value.strip().lower()
        options = self.query_one("#region-list", OptionList)
        matches = [region for region in self.regions if typed and typed in region]
        exact = typed in self.regions
        options.clear_options()
        options.add_options(matches[:50])
        options.display = bool(matches) and not exact and event.input.has_focus

    def on_key(self, event: events.Key) -> None:
        """Down from the region field goes into its suggestions, as in a combo box."""
        suggestions = self.query_one("#region-list", OptionList)
        in_region_field = self.focused is self.query_one("#region")
        if event.key == "down" and in_region_field and suggestions.display:
            suggestions.highlighted = 0
            suggestions.focus()
            event.stop()

    def pick_first_suggestion(self) -> bool:
        """Enter in the region field takes the first suggestion, if the list is showing."""
        suggestions = self.query_one("#region-list", OptionList)
        if not suggestions.display or suggestions.option_count == 0:
            return False
        self.query_one("#region", Input).value = str(suggestions.get_option_at_index(0).prompt)
        suggestions.display = False
        return True

    @on(OptionList.OptionSelected, "#region-list")
    def region_picked(self, event: OptionList.OptionSelected) -> None:
        region_input = self.query_one("#region", Input)
        region_input.value = str(event.option.prompt)
        event.option_list.display = False
        region_input.focus()

    @on(Input.Changed, "#secret")
    def secret_typed(self, event: Input.Changed) -> None:
        self.wizard.radioactive["secret"] = event.value.strip()

    def action_reveal(self) -> None:
        if self.access_key:
            self.query_one(SecretField).toggle()
            self.refresh_bindings()

    def action_hide(self) -> None:
        self.action_reveal()

    @on(SecretField.Toggled)
    def secret_toggled(self) -> None:
        self.refresh_bindings()

    @on(Input.Changed, "#region, #access-key-id, #secret, #key-path")
    def check_as_typed(self, event: Input.Changed) -> None:
        """Problems show as soon as they are certain, and go once fixed."""
        if event.input.id == "access-key-id" and event.value.strip()[:4].upper() in (
            REFUSED_PREFIXES
        ):
            self.shown_for.add("access-key-id")
        if self.shown_for or self.tried:
            self.show_problems(self.problems())

    def fields(self) -> list[Input]:
        selectors = ["#region"]
        if self.access_key:
            selectors += ["#access-key-id", "#secret", "#key-path"]
        return [self.query_one(selector, Input) for selector in selectors]

    def problems(self) -> list[str]:
        """What is wrong now: every field after a Next, else the fields already flagged."""
        problems: list[str] = []
        for field in self.fields():
            if not self.tried and field.id not in self.shown_for:
                continue
            outcome = field.validate(field.value)
            if outcome is not None and not outcome.is_valid:
                problems.extend(outcome.failure_descriptions)
        return problems

    def collect(self) -> list[str]:
        """Copy the fields into the state when all are valid; return the problems."""
        self.tried = True
        problems = self.problems()
        if not problems:
            self.remember()
        return problems

    def remember(self) -> None:
        """Keep what is typed, valid or not: going back and forth keeps the answers."""
        region = self.query_one("#region", Input).value.strip().lower()
        self.state.region = region or None
        if not self.access_key:
            return
        self.state.access_key_id = self.query_one("#access-key-id", Input).value.strip() or None
        secret = self.query_one("#secret", Input).value.strip()
        self.state.secret = Secret(secret) if secret else None
        key_path = self.query_one("#key-path", Input).value.strip()
        self.state.key_path = key_path or None
        self.state.key_path_typed = bool(key_path) and key_path != self.scope_key_path()

    def action_back(self) -> None:
        self.remember()
        super().action_back()

    def show_problems(self, problems: list[str]) -> None:
        errors = self.query_one("#errors", Static)
        errors.update(Text("\n".join(f"✗ {p}" for p in problems), style="bold red"))
        errors.display = bool(problems)

    @on(Button.Pressed, "#verify")
    def action_verify(self) -> None:
        if not self.access_key:
            return
        problems = self.collect()
        self.show_problems(problems)
        if problems or self.state.secret is None or self.state.access_key_id is None:
            return
        result = self.query_one("#verify-result", Static)
        result.display = True
        result.update(Text("Asking AWS STS who this key belongs to…", style="yellow"))
        self.verify(self.state.access_key_id, self.state.secret, self.state.region)

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify")
    def verify(self, access_key_id: str, secret: Secret, region: str | None) -> None:
        answer = VerifyFinished.asking(self.services.verify, access_key_id, secret, region)
        if not get_current_worker().is_cancelled:
            self.post_message(answer)

    @on(VerifyFinished)
    def verified(self, message: VerifyFinished) -> None:
        result = self.query_one("#verify-result", Static)
        if message.identity is not None:
            self.state.identity = message.identity
            result.update(
                Text(
                    f"✓ Works: account {message.identity.account}, {message.identity.arn}",
                    style="green",
                )
            )
        elif message.error is not None and message.error.offline:
            result.update(
                Text(
                    f"AWS could not be reached ({message.error}). You can still continue: "
                    "the key is checked again when Rundeck uses it.",
                    style="yellow",
                )
            )
        elif message.error is not None:
            result.update(Text(f"✗ {message.error}", style="bold red"))

    @on(Input.Submitted, "#region")
    def region_submitted(self) -> None:
        if not self.pick_first_suggestion():
            self.action_next()

    @on(Input.Submitted, "#access-key-id, #secret, #key-path")
    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        problems = self.collect()
        self.show_problems(problems)
        if not problems:
            self.advance()

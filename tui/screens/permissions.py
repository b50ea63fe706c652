"""The Permissions step: which Rundeck AWS plugins will be used, the least-privilege policy they
need, and whether the credentials found here already allow it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.json import JSON
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Input, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import get_current_worker

from tui.core.iam.catalog import Plugin, actions_by_plugin, plugins
from tui.core.iam.policy import (
    BadResource,
    parse_resources,
    permissions_policy,
    resource_kinds_for,
    resources_from_text,
    to_json,
    trust_policy,
)
from tui.core.model import Method
from tui.messages import PolicyChecked
from tui.screens.base import WizardStep
from tui.widgets.form_input import FormInput
from tui.widgets.save_row import SaveRow
from tui.widgets.ticks import TickList

VERDICT_LOOK = {"allowed": ("✓", "green"), "denied": ("✗", "bold red"), "unknown": ("?", "yellow")}


def policy_for(
    method: Method, chosen: tuple[Plugin, ...], resources: str = ""
) -> dict[str, object] | None:
    """The permissions policy for the method, narrowed to ``resources`` (KIND=ARN items) when
    they fit the plugins, or None when there is nothing to grant."""
    access_key = method is Method.ACCESS_KEY
    if not chosen and not access_key:
        return None
    try:
        narrowed = resources_from_text(resources) if chosen else None
        return permissions_policy(chosen, narrowed or None, for_access_key_user=access_key)
    except BadResource:  # said beside the field; the policy stays the unnarrowed one
        return permissions_policy(chosen, for_access_key_user=access_key)


def policy_heading(method: Method) -> str:
    if method is Method.ACCESS_KEY:
        return "Policy to attach to the IAM user (it also lets the key rotate itself)"
    return f"Permissions policy for the {method.title.replace(' IAM role', '')} role"


class PermissionsScreen(WizardStep):
    """A checklist of the plugins, filtered as one types; the policy follows the ticks."""

    CSS_PATH = "permissions.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "next", "Next", show=True),
        Binding("ctrl+t", "check", "Check with AWS", show=True),
        Binding("ctrl+o", "provision", "Set it up for me", show=True),
    ]

    def body(self) -> ComposeResult:
        yield Static(
            "Which Rundeck AWS plugins will you use? (optional: Ctrl+N skips)", classes="title"
        )
        yield FormInput(
            placeholder="type to filter the plugins",
            select_on_focus=False,  # typing from the list adds to the filter, not over it
            enter_focus="#plugins",  # moved by the field itself: a Space typed next ticks
            down_focus="#plugins",
            id="plugin-filter",
        )
        yield TickList(id="plugins")
        yield FormInput(value=self.state.resources, id="resources")
        yield Static("", id="resource-note")
        yield Static("", id="verdicts")
        yield Static("", id="policy", classes="record")
        yield SaveRow(
            self.policy_text,
            what="the policy",
            placeholder="save the policy to… (a file name)",
            field_id="policy-file",
            copy_hint=lambda: "Or run: " + self.policy_command(),
            companions=self.trust_policy_file,
            id="policy-row",
        )

    def actions(self) -> ComposeResult:
        yield Button("Next", id="next", variant="primary")
        yield Button("Check with AWS", id="check")
        if self.method is not Method.ACCESS_KEY:
            yield Button("Set it up for me…", id="provision")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Setting the role up belongs to the role methods; an access key has no role."""
        if action == "provision":
            return self.method is not Method.ACCESS_KEY
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        self.query_one("#verdicts").display = False
        self.show_plugins("")
        self.show_policy()
        field = self.query_one("#plugin-filter", Input)
        # A watcher runs as the value changes; Input.Changed would queue behind the keys still
        # waiting in the field, so Enter in a burst would meet the list of an older filter.
        self.watch(field, "value", self.show_plugins, init=False)
        self.watch(self.query_one("#resources", Input), "value", self.resources_typed)
        field.focus()  # the title says: type to filter

    @property
    def method(self) -> Method:
        return self.state.method or Method.ACCESS_KEY

    def chosen(self) -> tuple[Plugin, ...]:
        wanted = set(self.state.plugins)
        return tuple(plugin for plugin in plugins() if plugin.id in wanted)

    def show_plugins(self, typed: str) -> None:
        """List the plugins matching ``typed``; ticks live in the state, so filtering keeps them."""
        needle = typed.strip().lower()
        selections = self.query_one("#plugins", SelectionList)
        selections.clear_options()
        selections.add_options(
            [
                Selection(plugin.name, plugin.id, plugin.id in self.state.plugins)
                for plugin in plugins()
                if not needle
                or needle in plugin.name.lower()
                or needle in plugin.id
                or needle in plugin.description.lower()
            ]
        )

    def on_key(self, event: events.Key) -> None:
        """Typing in the list goes to the filter (Enter and Down from the filter go into the
        list: the field moves the focus itself, and the list highlights its first match)."""
        selections = self.query_one("#plugins", SelectionList)
        field = self.query_one("#plugin-filter", Input)
        if self.focused is selections and event.is_printable and event.key != "space":
            event.stop()
            self.set_focus(field)
            assert event.character is not None
            field.cursor_position = len(field.value)
            field.insert_text_at_cursor(event.character)

    @on(SelectionList.SelectionToggled, "#plugins")
    def plugin_toggled(self, event: SelectionList.SelectionToggled[str]) -> None:
        plugin_id = event.selection.value
        ticked = list(self.state.plugins)
        if plugin_id in ticked:
            ticked.remove(plugin_id)
        else:
            ticked.append(plugin_id)
        self.state.plugins = tuple(p.id for p in plugins() if p.id in ticked)
        self.state.policy_check = None
        self.query_one("#verdicts").display = False
        self.resources_typed(self.query_one("#resources", Input).value)

    def resources_typed(self, value: str) -> None:
        """The resources field, shown while a ticked plugin acts on a kind it can narrow;
        checked as typed, kept in the state once it is right."""
        kinds = resource_kinds_for(self.chosen())
        field = self.query_one("#resources", Input)
        note = self.query_one("#resource-note", Static)
        field.display = note.display = bool(kinds)
        field.placeholder = "narrow to (optional): " + " ".join(
            f"{kind.id}={kind.example}" for kind in kinds
        )
        problem = None
        if kinds and value.strip():
            try:
                parse_resources(self.chosen(), resources_from_text(value))
            except BadResource as error:
                problem = str(error)
        if problem is None:
            self.state.resources = value.strip() if kinds else ""
            if self.state.resources:
                note.update(Text("✓ Those actions are limited to these resources.", style="green"))
            else:
                note.update(Text("Leave it empty to allow every resource (*).", style="dim"))
        else:
            self.state.resources = ""  # what is kept is always usable (Set it up for me)
            note.update(Text(f"✗ {problem}", style="bold red"))
        self.show_policy()

    def show_policy(self) -> None:
        panel = self.query_one("#policy", Static)
        policy = policy_for(self.method, self.chosen(), self.state.resources)
        if policy is None:
            panel.update(Text("Tick the plugins above to see the policy they need.", style="dim"))
            self.query_one("#policy-row").display = False
            return
        parts: list[Text | JSON] = [Text(policy_heading(self.method), style="bold")]
        parts.append(self._json(to_json(policy)))
        if self.method is not Method.ACCESS_KEY:
            parts.append(Text("Trust policy of the role", style="bold"))
            parts.append(self._json(to_json(trust_policy(self.method))))
        panel.update(Group(*parts))
        self.query_one("#policy-row").display = True

    @staticmethod
    def _json(text: str) -> JSON:
        # Rich's JSON highlighter colours keys and values without painting a background, so it
        # reads the same on the light and the dark theme (a Pygments theme brings its own).
        return JSON(text, indent=2)

    def policy_text(self) -> str | None:
        policy = policy_for(self.method, self.chosen(), self.state.resources)
        return None if policy is None else to_json(policy) + "\n"

    def trust_policy_file(self, path: Path) -> list[tuple[Path, str]]:
        """A role's trust policy, saved beside its permissions policy (NAME-trust.json)."""
        if self.method is Method.ACCESS_KEY:
            return []
        beside = path.with_name(f"{path.stem}-trust{path.suffix or '.json'}")
        return [(beside, to_json(trust_policy(self.method)) + "\n")]

    def policy_command(self) -> str:
        """The headless command that prints the same policy."""
        parts = ["pa-aws-setup policy"]
        if self.state.plugins:
            parts.append("--plugins " + ",".join(self.state.plugins))
        parts += [f"--resource {item}" for item in self.state.resources.replace(",", " ").split()]
        if self.method is Method.ACCESS_KEY:
            parts.append("--access-key-user")
        return " ".join(parts)

    @on(Button.Pressed, "#check")
    def action_check(self) -> None:
        chosen = self.chosen()
        if not chosen:
            self.notify("Tick at least one plugin to check.", severity="warning")
            return
        verdicts = self.query_one("#verdicts", Static)
        verdicts.display = True
        verdicts.update(Text("Asking IAM to simulate these actions…", style="yellow"))
        detection = self.state.detection
        principal = detection.identity.arn if detection is not None else None
        self.check(actions_by_plugin(chosen), principal)

    @work(thread=True, exclusive=True, exit_on_error=False, group="policy-check")
    def check(self, wanted: dict[str, tuple[str, ...]], principal: str | None) -> None:
        from tui.core.iam.simulate import simulate

        result = simulate(wanted, principal_arn=principal, client_factory=self.services.aws_client)
        if not get_current_worker().is_cancelled:
            self.post_message(PolicyChecked(result))

    @on(PolicyChecked)
    def checked(self, message: PolicyChecked) -> None:
        result = message.result
        self.state.policy_check = result
        names = {plugin.id: plugin.name for plugin in plugins()}
        text = Text()
        who = result.simulated_arn or result.principal_arn or "the credentials found here"
        text.append(f"What {who} may do:\n", style="bold")
        for verdict in result.verdicts:
            mark, style = VERDICT_LOOK[verdict.state]
            text.append(f" {mark} {names.get(verdict.plugin_id, verdict.plugin_id)}: ", style=style)
            text.append(verdict.state, style=style)
            if verdict.missing_actions:
                text.append(" (missing " + ", ".join(verdict.missing_actions) + ")")
            text.append("\n")
        reasons = {verdict.reason for verdict in result.verdicts if verdict.state == "unknown"}
        for reason in sorted(reason for reason in reasons if reason):
            text.append(reason + "\n", style="dim")
        self.query_one("#verdicts", Static).update(text)

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        self.advance()

    @on(Button.Pressed, "#provision")
    def action_provision(self) -> None:
        if self.method is Method.ACCESS_KEY:
            return
        if not self.chosen():
            self.notify(
                "Tick the plugins Rundeck will use first: the role's policy is made from them.",
                severity="warning",
            )
            return
        from tui.screens.provision import ProvisionScreen

        self.app.push_screen(ProvisionScreen())

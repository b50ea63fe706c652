"""The first screen when a setup exists: what is configured, what needs attention, actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from tui.core.model import Method, Scope
from tui.messages import RemovalPlanned, StatusReady
from tui.screens.base import WizardStep
from tui.widgets.long_text import reflow

if TYPE_CHECKING:
    from tui.core.rundeck_link import RundeckLink
    from tui.core.setup import RemovalPlan
    from tui.core.setup.api_removal import ApiRemovalPlan
    from tui.core.status import EntryStatus, InstallStatus


def describe_entry(entry: EntryStatus) -> RenderableType:
    """One block per scope: what is configured, then each problem flagged, with hanging indents."""
    head = Text()
    where = (
        "System · framework.properties"
        if entry.scope is Scope.SYSTEM
        else f"Project {entry.project}" + (" · in Rundeck (API)" if entry.source == "api" else "")
    )
    head.append(where, style="bold")
    head.append(": ")
    head.append(" + ".join(m.title for m in entry.methods) or "not configured", style="cyan")
    details: list[RenderableType] = []
    facts = [f"region {entry.region}" if entry.region else "no region"]
    if entry.access_key_id_masked:
        facts.append(f"key {entry.access_key_id_masked}")
    details.append(Text(" · ".join(facts)))
    if entry.key_path:
        present = {True: "secret present", False: "secret MISSING", None: "secret unknown"}
        stored = {True: " · in Key Storage", False: " · NOT in Key Storage", None: ""}
        details.append(
            Text(
                f"{entry.key_path} · {entry.keyring_backend or 'keyring?'} · "
                f"{present[entry.secret_present]}{stored[entry.key_storage_present]}"
            )
        )
    if entry.role_detected is not None and Method.ACCESS_KEY not in entry.methods:
        details.append(
            Text("role detected here" if entry.role_detected else "role not detected here")
        )
    iam = entry.iam
    if iam is not None and iam.error is None:
        usage = []
        if iam.age_days is not None:
            usage.append(f"{iam.age_days} days old")
        if iam.last_used_at is not None:
            used = f"last used {iam.last_used_at:%Y-%m-%d}"
            usage.append(used + (f" by {iam.last_used_service}" if iam.last_used_service else ""))
        else:
            usage.append("never used")
        if iam.iam_user:
            usage.append(f"IAM user {iam.iam_user}")
        details.append(Text(" · ".join(usage)))
    elif iam is not None and iam.error:
        details.append(Text(f"IAM: {iam.error}", style="dim"))
    if entry.problems:
        problems = Table.grid(padding=(0, 1))
        problems.add_column(width=1, no_wrap=True)
        problems.add_column(ratio=1)
        for problem in entry.problems:
            style = "bold red" if problem.severity == "error" else "yellow"
            problems.add_row(Text("⚠", style=style), reflow(problem.message, style=style))
        details.append(problems)
    return Group(head, indented(details))


def indented(lines: list[RenderableType]) -> Table:
    """``lines`` two columns in, wrapped lines kept under their own text.

    The indent has a style of its own, so it is never merged into the text that follows:
    SVG renderers drop the leading blanks of a text run.
    """
    grid = Table.grid()
    grid.add_column(width=2, style="italic")  # invisible on blanks, and used by no line
    grid.add_column(ratio=1)
    for line in lines:
        grid.add_row("", line)
    return grid


class StatusScreen(WizardStep):
    """Shows every configured scope; Rotate, Reconfigure, Remove act on the highlighted one."""

    STEP = 0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", show=False),  # the first screen: nothing to go back to
        Binding("t", "rotate", "Rotate"),
        Binding("m", "paste_key", "Paste a new key"),
        Binding("c", "reconfigure", "Reconfigure"),
        Binding("x", "remove", "Remove"),
        Binding("n", "new_setup", "New setup"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status: InstallStatus | None = None

    def body(self) -> ComposeResult:
        yield Static("Current setup", classes="title")
        yield Static("Reading the configuration…", id="status-note")
        yield OptionList(id="entries")

    def actions(self) -> ComposeResult:
        yield Button("Rotate key", id="rotate", variant="primary")
        yield Button("Paste new key", id="paste-key")
        yield Button("Reconfigure", id="reconfigure")
        yield Button("Remove", id="remove", variant="error")
        yield Button("New setup", id="new")

    def on_mount(self) -> None:
        self.load_status(with_aws=False)

    def load_status(self, *, with_aws: bool) -> None:
        """Files and keyring first (fast), then IAM for key age and last use (slow)."""
        if with_aws:
            self.read_status_with_aws()
        else:
            self.read_status()

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def read_status(self) -> None:
        self.collect(with_aws=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="status-aws")
    def read_status_with_aws(self) -> None:
        self.collect(with_aws=True)

    def collect(self, *, with_aws: bool) -> None:
        from tui.core.status import add_detection, collect_status, uses_roles

        install, problem = self.wizard.rundeck_install()
        status = None
        if install is not None:
            status = collect_status(
                install,
                keystore_factory=self.services.keystore,
                clock=self.services.clock,
                ask_aws=with_aws,
                client_factory=self.services.aws_client,
            )
            link = self.read_through_rundeck(status, with_aws=with_aws)
            if with_aws and uses_roles(status):
                # The slow pass also asks whether each role is still found where this runs
                # (for the projects Rundeck's API holds too, so after reading them).
                add_detection(status, self.services.detect(lambda update: None))
        if not get_current_worker().is_cancelled:
            self.post_message(StatusReady(status, problem, with_aws, link))

    def read_through_rundeck(self, status: InstallStatus, *, with_aws: bool) -> RundeckLink | None:
        """From the worker: what Rundeck's API holds for the projects it serves, as `status`
        shows it headless; without a connection, the disk's view."""
        from tui.core.status_rundeck import add_rundeck_status, flag_unreachable

        connection, problem = self.wizard.connect_quietly()
        if problem is not None:
            flag_unreachable(status, problem)
        if connection is None:
            return None
        status.rundeck = connection.to_json()
        services = self.services
        add_rundeck_status(
            status,
            connection,
            keystore_factory=services.keystore,
            clock=services.clock,
            ask_aws=with_aws,
            client_factory=services.aws_client,
        )
        return connection

    @on(StatusReady)
    def show_status(self, message: StatusReady) -> None:
        from tui.core.status import InstallStatus

        note = self.query_one("#status-note", Static)
        if not isinstance(message.status, InstallStatus):
            note.update(Text(message.error or "No Rundeck install found.", style="bold red"))
            return
        self.status = message.status
        if message.rundeck is not None and self.state.rundeck is None:
            self.state.rundeck = message.rundeck  # Rotate and Remove go through it too
        entries = [entry for entry in self.status.entries if entry.configured]
        options = self.query_one("#entries", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options([Option(describe_entry(entry), id=entry.label) for entry in entries])
        if entries:
            options.highlighted = min(highlighted or 0, len(entries) - 1)
            options.focus()
        count = len(self.status.problems)
        summary = (
            f"{len(entries)} configured · {count} to look at"
            if count
            else (f"{len(entries)} configured · nothing to look at")
        )
        if not message.with_aws:
            summary += " · asking IAM for key age and use…"
            self.load_status(with_aws=True)
        note.update(Text(summary, style="yellow" if count else "green"))

    def on_key(self, event: events.Key) -> None:
        """Past the first or the last entry, the keys that move in the list scroll the page:
        an entry's help (the keyring's remedies) can be longer than the screen."""
        options = self.query_one("#entries", OptionList)
        if self.focused is not options or options.option_count == 0:
            return
        last = options.highlighted == options.option_count - 1
        first = options.highlighted in (None, 0)
        moves = {"down": "down", "pagedown": "page_down", "end": "end"} if last else {}
        if first:
            moves |= {"up": "up", "pageup": "page_up", "home": "home"}
        if event.key in moves:
            event.stop()
            event.prevent_default()
            self.action_scroll_body(moves[event.key])

    def selected_entry(self) -> EntryStatus | None:
        if self.status is None:
            return None
        options = self.query_one("#entries", OptionList)
        if options.highlighted is None:
            return None
        label = options.get_option_at_index(options.highlighted).id
        return next((e for e in self.status.entries if e.label == label), None)

    def access_key_entry(self) -> EntryStatus | None:
        """The highlighted setup when it uses an access key; otherwise says why not."""
        entry = self.selected_entry()
        if entry is None or Method.ACCESS_KEY not in entry.methods:
            self.notify(
                "Only an access key can be rotated; pick an access-key setup.", severity="warning"
            )
            return None
        return entry

    @on(Button.Pressed, "#rotate")
    def action_rotate(self) -> None:
        from tui.screens.rotate import RotateScreen

        entry = self.access_key_entry()
        if entry is None:
            return
        if entry.secret_present is False:
            self.notify(
                "The key's secret is missing from the keyring, so the key cannot create its "
                "successor. Press m to paste a key created in the AWS console.",
                severity="warning",
            )
            return
        if entry.secret_present is None:
            # Status could not read the secret: the rotation would stop at its first step.
            self.notify(
                "Rotate needs the current key's secret, and the keyring could not be read "
                "(the status above says why). Fix the keyring first.",
                severity="warning",
                timeout=10,
            )
            return
        self.app.push_screen(RotateScreen(entry.scope, entry.project), self.closed_rotation)

    @on(Button.Pressed, "#paste-key")
    def action_paste_key(self) -> None:
        from tui.screens.manual_rotate import ManualRotateScreen

        entry = self.access_key_entry()
        if entry is not None:
            self.app.push_screen(
                ManualRotateScreen(entry.scope, entry.project), self.closed_rotation
            )

    def closed_rotation(self, ran: object) -> None:
        """Back from a rotation screen: read the setup again if a rotation ran."""
        if ran:
            self.load_status(with_aws=False)

    @on(Button.Pressed, "#reconfigure")
    def action_reconfigure(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        state = self.state
        state.method = entry.method
        state.scope = entry.scope
        state.project = entry.project
        state.region = entry.region
        state.access_key_id = entry.access_key_id
        state.key_path = entry.key_path
        self.action_new_setup(keep=True)

    def action_new_setup(self, keep: bool = False) -> None:
        from tui.screens.detect import DetectScreen

        if not keep:
            self.state.method = None
        self.app.push_screen(DetectScreen())

    @on(Button.Pressed, "#new")
    def new_pressed(self) -> None:
        self.action_new_setup()

    @on(Button.Pressed, "#remove")
    def action_remove(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self.plan_removal(entry.scope, entry.project)

    @work(thread=True, exclusive=True, exit_on_error=False, group="remove-plan")
    def plan_removal(self, scope: Scope, project: str | None) -> None:
        """The removal plan, keyring check included, off the UI thread."""
        from tui.core.errors import ToolError
        from tui.core.setup import plan_removal
        from tui.core.setup.api_removal import plan_api_removal

        install, problem = self.wizard.rundeck_install()
        link = self.state.rundeck_link
        plan: RemovalPlan | ApiRemovalPlan | None = None
        try:
            if link is not None and scope is Scope.PROJECT and project is not None:
                # As the CLI's remove: a project Rundeck serves goes through its API.
                plan = plan_api_removal(link.client, project, delete_key=False)
            elif install is not None:
                keystore = self.services.keystore()
                plan = plan_removal(install, scope, project, keystore=keystore)
        except ToolError as error:
            problem = str(error)
        if not get_current_worker().is_cancelled:
            self.post_message(RemovalPlanned(plan, problem))

    @on(RemovalPlanned)
    def show_removal(self, message: RemovalPlanned) -> None:
        from tui.screens.remove import RemoveScreen

        if message.plan is None:
            self.notify(message.error or "Nothing to remove.", severity="error")
            return

        def removed(done: bool | None) -> None:
            if done:
                self.load_status(with_aws=False)

        self.app.push_screen(RemoveScreen(message.plan), removed)

    def action_back(self) -> None:
        """The first screen: nothing to go back to."""

"""The Rundeck connection panel: the URL found, the API token (masked), Connect or Offline.

The connection runs in a thread worker (at most 5 s, the client's connect budget) and posts
``RundeckPanel.Checked``; the token is a ``Secret`` from the moment it leaves the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static
from textual.worker import get_current_worker

from tui.widgets.form_input import FormInput

if TYPE_CHECKING:
    from tui.app import WizardApp
    from tui.core.rundeck_api import RundeckUrl
    from tui.core.rundeck_link import Connection
    from tui.core.secret import Secret

OFFLINE_CHOSEN = "Offline was chosen: Rundeck's API is not used; files and lines to paste."
TOKEN_FIELD = "rundeck-token"


def url_line(url: RundeckUrl) -> Text:
    """The URL, then where it was found: a file's path starts a line of its own, so a long
    one wraps at the screen's edge, not in the middle of the sentence."""
    line = Text.assemble(("Rundeck: ", "bold"), url.url)
    if url.found_in is None:
        return line.append(f" ({url.origin_phrase})")
    return line.append(f", {url.origin_phrase} in\n").append(url.found_in, style="dim")


class RundeckPanel(Vertical):
    """Connects to Rundeck's API for the wizard; the outcome goes into ``WizardState``."""

    DEFAULT_CSS = """
    RundeckPanel { height: auto; margin: 1 0 0 0; }
    RundeckPanel > Horizontal { height: auto; }
    RundeckPanel #rundeck-token { width: 1fr; }
    """

    @dataclass
    class Checked(Message):
        """A connection attempt ended: ``connection`` on success, else ``error``."""

        connection: Connection | None
        error: str | None
        url: RundeckUrl | None
        needs_token: bool = False
        projects: tuple[str, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Rundeck's API: looking for the URL…", id="rundeck-url")
        with Horizontal():
            yield FormInput(
                self.initial_token(),
                secret=True,
                placeholder="API token of an admin (pasting works)",
                id=TOKEN_FIELD,
            )
            yield Button("Connect", id="rundeck-connect")
            yield Button("Offline", id="rundeck-offline")
        yield Static("", id="rundeck-status")

    @property
    def wizard(self) -> WizardApp:
        return cast("WizardApp", self.app)

    def initial_token(self) -> str:
        token = self.wizard.state.rundeck_token
        return token.reveal() if token is not None else ""

    def on_mount(self) -> None:
        from tui.core.rundeck_link import RundeckLink

        state = self.wizard.state
        listed = state.rundeck_projects is not None
        if state.rundeck is not None and (listed or not isinstance(state.rundeck, RundeckLink)):
            self.show_connection(state.rundeck, None)  # back on this step: as it was
            return
        # First time here (Status may have connected already): connect, and list the projects.
        self.check(state.rundeck_token)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rundeck")
    def check(self, token: Secret | None) -> None:
        """Find the URL and connect with ``token`` (None: the keyring's for that URL)."""
        from tui.core.errors import ToolError, UsageProblem
        from tui.core.rundeck_link import ConnectionRequest, RundeckLink

        services = self.wizard.services
        assert services.rundeck is not None
        url = None
        try:
            if services.rundeck_url is not None:
                url = services.rundeck_url(services.rdeck_base)
            request = ConnectionRequest(token=token, rdeck_base=services.rdeck_base)
            connection = services.rundeck(request)
            projects = None
            if isinstance(connection, RundeckLink):
                projects = tuple(p.name for p in connection.client.list_projects())
            answer = self.Checked(connection, None, url, projects=projects)
        except UsageProblem:
            # Rundeck answers, and there is no token for it yet: ask for one.
            answer = self.Checked(None, None, url, needs_token=True)
        except ToolError as error:
            answer = self.Checked(None, str(error), url)
        if not get_current_worker().is_cancelled:
            self.post_message(answer)

    @on(Checked)
    def checked(self, message: Checked) -> None:
        state = self.wizard.state
        if message.url is not None:
            self.query_one("#rundeck-url", Static).update(url_line(message.url))
        if message.connection is not None:
            state.rundeck = message.connection
            state.rundeck_projects = message.projects
        else:
            state.rundeck = None
            state.rundeck_projects = None
        self.show_connection(message.connection, message.error, needs_token=message.needs_token)

    def show_connection(
        self, connection: Connection | None, error: str | None, *, needs_token: bool = False
    ) -> None:
        from tui.core.rundeck_link import RundeckLink

        status = self.query_one("#rundeck-status", Static)
        if isinstance(connection, RundeckLink):
            info = connection.info
            self.query_one("#rundeck-url", Static).update(url_line(connection.url))
            source = "from the keyring" if connection.token_source == "keyring" else "checked"
            status.update(
                Text.assemble(
                    ("✓ Connected: ", "bold green"),
                    f"Rundeck {info.rundeck_version}, API {info.api_version} (token {source}). "
                    "Project configuration and Key Storage go through the API.",
                )
            )
        elif connection is not None:
            status.update(Text(f"Offline: {connection.reason}", style="yellow"))
        elif needs_token:
            status.update(
                Text(
                    "Rundeck answers here. Type an API token of an admin and press Connect, "
                    "or choose Offline to write files only.",
                    style="yellow",
                )
            )
        elif error is not None:
            status.update(Text(f"✗ {error} Nothing was changed.", style="bold red"))
        self.post_message(self.Changed())

    class Changed(Message):
        """The connection in the state changed (the Scope step refreshes its project list)."""

    @on(Input.Changed, f"#{TOKEN_FIELD}")
    def token_typed(self, event: Input.Changed) -> None:
        event.stop()
        self.wizard.radioactive[TOKEN_FIELD] = event.value.strip()

    @on(Button.Pressed, "#rundeck-connect")
    @on(Input.Submitted, f"#{TOKEN_FIELD}")
    def connect_pressed(self, event: Message) -> None:
        from tui.core.secret import Secret

        event.stop()
        value = self.query_one(f"#{TOKEN_FIELD}", Input).value.strip()
        if not value:
            self.notify("Type the API token first, or choose Offline.", severity="warning")
            return
        token = Secret(value)
        self.wizard.state.rundeck_token = token
        self.query_one("#rundeck-status", Static).update(Text("Connecting…", style="dim"))
        self.check(token)

    @on(Button.Pressed, "#rundeck-offline")
    def offline_pressed(self, event: Button.Pressed) -> None:
        from tui.core.rundeck_link import Offline

        event.stop()
        self.workers.cancel_group(self, "rundeck")
        state = self.wizard.state
        state.rundeck = Offline(OFFLINE_CHOSEN)
        state.rundeck_projects = None
        self.show_connection(state.rundeck, None)

"""WizardApp: the flow from detection to written configuration, built from injected services."""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.screen import Screen

from tui.messages import InstallFound, ProvisionFinished, ReplaceAsked
from tui.services import Services
from tui.state import WizardState

MIN_REDACTED = 8  # shorter strings are too common to redact without mangling the report


class WizardApp(App[int]):
    """The pa-aws-setup wizard. Every side effect goes through ``services``."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live anywhere
    TITLE = "pa-aws-setup"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f2", "toggle_dark", "Theme", show=False),
        # Tab is the screen's binding in Textual, run once the key has bubbled up from the
        # focused widget; keys typed after it in one burst were forwarded to the old field by
        # then. As the app's priority binding it moves the focus in the order typed.
        Binding("tab", "focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Previous field", show=False, priority=True),
    ]

    def __init__(self, services: Services, *, state: WizardState | None = None) -> None:
        super().__init__()
        self.services = services
        self.state = state or WizardState()
        # The secret being typed, by field: redacted from any crash report.
        self.radioactive: dict[str, str] = {}
        self._crash_errors: list[BaseException] = []
        self._install: RundeckInstall | None = None
        self._install_error: str | None = None
        self._install_lock = threading.Lock()

    def get_driver_class(self) -> type[Driver]:
        """On a Linux or macOS terminal, a driver that sends only the cells a frame changes:
        Textual repaints whole widgets and screens, which a slow link pays for per key."""
        import os

        if sys.platform == "win32" or os.environ.get("TEXTUAL_DRIVER"):
            return super().get_driver_class()
        from tui.shadow_screen import ShadowDriver

        return ShadowDriver

    def get_default_screen(self) -> Screen[object]:
        """The first step is the app's own screen, not one pushed over a blank default: one
        screen fewer to build before the first frame. Nothing is read here: a worker looks
        the install up and opens Status over it when a setup exists."""
        from tui.screens.detect import DetectScreen

        return DetectScreen()

    def on_mount(self) -> None:
        # After the first frame, as detection: a worker started now would take the GIL from
        # the first frame's layout and rendering (measured: about 20 ms, see README Benchmarks).
        self.call_after_refresh(self.find_install)

    @work(thread=True, exclusive=True, exit_on_error=False, group="install")
    def find_install(self) -> None:
        """Install discovery and the existing-setup check, off the UI thread."""
        from tui.core.rundeck import has_existing_setup
        from tui.core.status_rundeck import rundeck_has_setup

        install, problem = self.rundeck_install()
        if install is None:
            self.post_message(InstallFound(False, problem or "No Rundeck install was found."))
        elif has_existing_setup(install):
            self.post_message(InstallFound(True, None))
        else:
            link, _ = self.connect_quietly()  # a failure is said where it matters: Scope, Status
            self.post_message(
                InstallFound(link is not None and rundeck_has_setup(link), None, link)
            )

    def connect_quietly(self) -> tuple[RundeckLink | None, str | None]:
        """From a worker: Rundeck's API as the flow left it, else as the CLI finds it (the URL
        discovered, the token of RD_TOKEN or the keyring); nothing is asked. Returns the link,
        or why it is not there when Rundeck refused or failed (None: offline, or no token)."""
        from tui.core.errors import ToolError, UsageProblem
        from tui.core.rundeck_link import ConnectionRequest, RundeckLink

        connection = self.state.rundeck
        if connection is None and self.services.rundeck is not None:
            request = ConnectionRequest(
                token=self.state.rundeck_token, rdeck_base=self.services.rdeck_base
            )
            try:
                connection = self.services.rundeck(request)
            except UsageProblem:
                return None, None  # Rundeck answers, and no token is known yet
            except ToolError as error:
                return None, str(error)
        return (connection if isinstance(connection, RundeckLink) else None), None

    @on(InstallFound)
    def install_found(self, message: InstallFound) -> None:
        from tui.screens.detect import DetectScreen

        if message.has_setup and message.rundeck is not None and self.state.rundeck is None:
            self.state.rundeck = message.rundeck  # Status reads through it

        if message.has_setup and len(self.screen_stack) == 1:
            from tui.screens.status import StatusScreen

            self.push_screen(StatusScreen())
        elif message.problem is not None:
            detect = self.screen_stack[0]
            if isinstance(detect, DetectScreen):
                detect.ask_for_rundeck_base(message.problem)

    def rundeck_install(self) -> tuple[RundeckInstall | None, str | None]:
        """The Rundeck install (found once, by ``find_install``'s worker), or why there is
        none; a lock makes a second caller wait for the first lookup instead of repeating it."""
        # Imported here, in the worker: the first frame does not wait for the install code.
        from tui.core.rundeck import RundeckError

        with self._install_lock:
            if self._install is None and self._install_error is None:
                try:
                    self._install = self.services.install()
                except (RundeckError, OSError) as error:
                    self._install_error = str(error)
            return self._install, self._install_error

    def use_rundeck_install(self, install: RundeckInstall) -> None:
        """From now on the flow uses ``install`` (a base folder the admin typed)."""
        from dataclasses import replace

        base = str(install.base)
        self.services = replace(self.services.with_rdeck_base(base), rdeck_base=base)
        self._install, self._install_error = install, None

    def advance(self, current: Screen[object]) -> None:
        """Open the step after ``current``; the stack keeps earlier steps for Esc."""
        from tui.screens import next_screen

        following = next_screen(current, self.state)
        if following is not None:
            self.push_screen(following)

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    async def action_quit(self) -> None:
        if not self.state.has_answers:
            self.exit(0)
            return
        from tui.screens.confirm import ConfirmScreen

        def decided(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.exit(1, return_code=1)

        if self.state.aws_changed:
            question = (
                "Quit? The answers so far will be lost and Rundeck's files were not changed, "
                "but what Set it up for me created in AWS (role, policy, instance profile) "
                "stays there."
            )
        else:
            question = "Quit? The answers so far will be lost; nothing was written yet."
        self.push_screen(ConfirmScreen(question), decided)

    @on(ReplaceAsked)
    def ask_before_replacing(self, message: ReplaceAsked) -> None:
        from tui.screens.confirm import ConfirmScreen

        def decided(yes: bool | None) -> None:
            if yes:
                message.replace()

        self.push_screen(ConfirmScreen(message.question, yes="Replace", no="Keep"), decided)

    @on(ProvisionFinished)
    def provision_finished(self, message: ProvisionFinished) -> None:
        """Set it up for me ran: if any AWS call went through, quitting no longer leaves
        everything as it was."""
        if message.result.changed_anything:
            self.state.aws_changed = True

    def _handle_exception(self, error: Exception) -> None:
        self._crash_errors.append(error)
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        """Close after a crash; the report is printed once the terminal is restored.

        Textual's own report shows every frame's local variables, and a frame can hold the
        secret being typed, so this report has none, and any typed secret is redacted.
        """
        self.bell()
        self._close_messages_no_wait()

    def crash_report(self) -> str:
        text = "".join("".join(traceback.format_exception(error)) for error in self._crash_errors)
        for secret in self.radioactive.values():
            if len(secret) >= MIN_REDACTED:
                text = text.replace(secret, "********")
        return text

    def _print_error_renderables(self) -> None:
        if self._crash_errors:
            sys.stderr.write(self.crash_report())
            self._crash_errors.clear()
        super()._print_error_renderables()


if TYPE_CHECKING:
    from tui.core.rundeck import RundeckInstall
    from tui.core.rundeck_link import RundeckLink
    from tui.screens.base import Wizard

    # The screens see the app through this protocol; mypy proves the app fulfils it.
    _WIZARD_APP_IS_A_WIZARD: type[Wizard] = WizardApp

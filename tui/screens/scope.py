"""The Scope step: system-wide (framework.properties) or one project, with the exact file shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Input, Label, OptionList, RadioSet, Static

from tui.core.model import Scope
from tui.core.rundeck import RundeckError, RundeckInstall, validate_project_name
from tui.messages import InstallProjectsRead
from tui.screens.base import WizardStep
from tui.widgets.form_input import FormInput, hand_on
from tui.widgets.rundeck_panel import RundeckPanel
from tui.widgets.ticks import ChoiceButton


class ScopeChoice(RadioSet):
    """The scope's radio set: Enter takes the highlighted choice and moves on, as on Method.

    ``on_chosen`` runs at once, inside the Enter, so the focus has moved before the next key
    of a burst (Down Enter Down Down Enter, as a paste or a laggy link delivers it) is
    handled; such keys, already queued here, then go on to the widget that has the focus.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "choose", "Choose", show=False)]

    def __init__(self, *, on_chosen: Callable[[int], None], id: str) -> None:
        super().__init__(id=id)
        self.on_chosen = on_chosen
        self.handing_on = False

    def _on_focus(self, event: events.Focus) -> None:
        self.handing_on = False

    async def _on_key(self, event: events.Key) -> None:
        focused = self.app.focused
        if self.handing_on and focused is not None and focused is not self:
            hand_on(event, focused)

    def action_choose(self) -> None:
        index = self._selected if self._selected is not None else self.pressed_index
        if index < 0:
            return
        if index != self.pressed_index:
            self.action_toggle_button()
        self.handing_on = True
        self.on_chosen(index)


class ScopeScreen(WizardStep):
    """Pick the scope; projects come from the install, a new name can be typed."""

    CSS_PATH = "scope.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+n", "next", "Next", show=True)]

    def __init__(self) -> None:
        super().__init__()
        self.install: RundeckInstall | None = None
        self.install_error: str | None = None
        # The projects with a project.properties, None until a worker has read the disk.
        self.disk_projects: tuple[str, ...] | None = None
        self.next_pending = False
        self.focus_pending = False

    def body(self) -> ComposeResult:
        yield from self.scope_widgets()

    def scope_widgets(self) -> ComposeResult:
        yield Static("Where should the settings go?", classes="title")
        with ScopeChoice(on_chosen=self.scope_chosen, id="scope"):
            yield ChoiceButton(
                "System: every project (framework.properties)",
                value=self.state.scope is Scope.SYSTEM,
                id="scope-system",
            )
            yield ChoiceButton(
                "One project (project.properties)",
                value=self.state.scope is Scope.PROJECT,
                id="scope-project",
            )
        projects = self.project_names()
        yield Label(self.projects_label(projects), id="projects-label")
        yield OptionList(*projects, id="projects")
        yield FormInput(
            value=self.state.project or "",
            placeholder="or type a new project name",
            id="project-name",
        )
        yield Static("", id="target")
        if self.services.rundeck is not None:
            yield RundeckPanel(id="rundeck")

    def project_names(self) -> list[str]:
        """The API's project list when connected, else the projects on disk."""
        if self.state.rundeck_projects is not None:
            return list(self.state.rundeck_projects)
        return list(self.disk_projects or ())

    def projects_label(self, projects: list[str]) -> str:
        if self.state.rundeck_projects is not None:
            return "Projects in Rundeck:" if projects else "Rundeck has no projects yet."
        if self.disk_projects is None:
            return "Looking for projects…"
        return "Projects found:" if projects else "No projects found on disk."

    @work(thread=True, exclusive=True, exit_on_error=False, group="scope")
    def read_install(self) -> None:
        """The install and its projects on disk are read off the UI thread."""
        install, problem = self.wizard.rundeck_install()
        projects = tuple(install.list_projects()) if install else ()
        self.post_message(InstallProjectsRead(install, problem, projects))

    @on(InstallProjectsRead)
    def install_read(self, message: InstallProjectsRead) -> None:
        self.install, self.install_error = message.install, message.problem
        self.disk_projects = message.disk_projects
        self.show_projects()
        if self.focus_pending:
            self.focus_pending = False
            if self.state.scope is Scope.PROJECT and self.query_one("#scope").has_focus:
                self.focus_project()
        if self.next_pending:
            self.next_pending = False
            self.action_next()

    @on(RundeckPanel.Changed)
    def rundeck_changed(self) -> None:
        """Connected or not: the project list comes from the API or the disk."""
        self.show_projects()

    def show_projects(self) -> None:
        projects = self.project_names()
        option_list = self.query_one("#projects", OptionList)
        option_list.clear_options()
        option_list.add_options(projects)
        self.highlight_project()
        self.query_one("#projects-label", Label).update(self.projects_label(projects))
        where = (
            "its configuration in Rundeck" if self.state.rundeck_projects else "project.properties"
        )
        self.query_one("#scope-project", ChoiceButton).label = f"One project ({where})"
        self.refresh_scope()

    def actions(self) -> ComposeResult:
        yield Button("Next", id="next", variant="primary")

    def on_mount(self) -> None:
        self.highlight_project()
        self.refresh_scope()
        self.query_one("#scope", RadioSet).focus()
        self.read_install()

    @on(RadioSet.Changed, "#scope")
    def scope_changed(self, event: RadioSet.Changed) -> None:
        self.state.scope = Scope.SYSTEM if event.index == 0 else Scope.PROJECT
        self.refresh_scope()
        if self.state.scope is Scope.PROJECT and event.radio_set.has_focus:
            self.focus_project()

    def scope_chosen(self, index: int) -> None:
        """Enter on a scope. System: on to Details. One project: on to the project to pick."""
        self.state.scope = Scope.SYSTEM if index == 0 else Scope.PROJECT
        self.refresh_scope()
        if self.state.scope is Scope.SYSTEM:
            self.action_next()
            return
        self.focus_project()

    def focus_project(self) -> None:
        """Straight on to the project: the list if there is one, else the name. While the
        disk is still being read, the focus moves once the list has arrived."""
        if self.disk_projects is None and self.state.rundeck_projects is None:
            self.focus_pending = True
            return
        projects = self.query_one("#projects", OptionList)
        if not projects.option_count:
            self.set_focus(self.query_one("#project-name"))
            return
        if projects.highlighted is None:
            projects.highlighted = 0  # so the first Enter picks a project, not nothing
        self.set_focus(projects)  # at once: Widget.focus waits for the app's queue

    @on(OptionList.OptionHighlighted, "#projects")
    def project_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.take_project(str(event.option.prompt))

    @on(OptionList.OptionSelected, "#projects")
    def project_selected(self, event: OptionList.OptionSelected) -> None:
        self.take_project(str(event.option.prompt))
        self.action_next()

    def take_project(self, name: str) -> None:
        """The picked name, in the state at once: the field's Changed message comes later,
        after an Enter typed in the same burst (Down Down Enter) has already moved on."""
        self.state.project = name
        self.query_one("#project-name", Input).value = name
        self.refresh_scope()

    @on(Input.Changed, "#project-name")
    def project_typed(self, event: Input.Changed) -> None:
        self.state.project = event.value.strip() or None
        self.highlight_project()
        self.refresh_scope()

    def highlight_project(self) -> None:
        """The list's highlight follows the name, typed or picked: on it when listed, else off."""
        names = self.project_names()
        index = names.index(self.state.project) if self.state.project in names else None
        option_list = self.query_one("#projects", OptionList)
        if option_list.highlighted != index:
            option_list.highlighted = index

    @on(Input.Submitted, "#project-name")
    def project_submitted(self) -> None:
        self.action_next()

    def project_problem(self) -> str | None:
        if self.state.scope is Scope.SYSTEM:
            return None
        if not self.state.project:
            return "Pick a project or type its name."
        try:
            validate_project_name(self.state.project)
        except RundeckError as error:
            return str(error)
        return None

    def in_database(self) -> bool:
        return bool(
            self.state.rundeck_link is None
            and self.state.scope is Scope.PROJECT
            and self.disk_projects is not None
            and self.state.project
            and self.project_problem() is None
            and self.state.project not in self.disk_projects
        )

    def refresh_scope(self) -> None:
        project_mode = self.state.scope is Scope.PROJECT
        for selector in ("#projects-label", "#projects", "#project-name"):
            self.query_one(selector).display = project_mode
        target = self.query_one("#target", Static)
        text = Text()
        if self.disk_projects is None:
            text.append("Reading the Rundeck install…", style="dim")
        elif self.install is None:
            text.append(self.install_error or "No Rundeck install found.", style="bold red")
        elif (problem := self.project_problem()) is not None:
            text.append(problem, style="yellow")
        elif self.state.rundeck_link is not None and project_mode:
            project = self.state.project or ""
            if project in (self.state.rundeck_projects or ()):
                text.append("Changes through Rundeck's API: ", style="bold")
                text.append(f"the configuration of project {project} (Rundeck's database)")
            else:
                text.append(
                    f"Rundeck has no project {project}: check the name for a typo, or "
                    "create the project in Rundeck first.",
                    style="yellow",
                )
        elif self.in_database():
            text.append(
                f"Project {self.state.project} was not found on disk: check the name for a "
                "typo. If it is a project Rundeck keeps in its database, the Review step gives "
                "you the lines to paste into Project Settings → Edit Configuration File.",
                style="yellow",
            )
        else:
            path = self.install.target(self.state.scope, self.state.project)
            text.append("File that will change: ", style="bold")
            text.append(str(path))
        target.update(text)

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        if self.disk_projects is None:
            self.next_pending = True  # keys typed ahead (a paste, a laggy link) are not lost
            return
        if self.install is None:
            self.notify(self.install_error or "No Rundeck install found.", severity="error")
            return
        problem = self.project_problem()
        if problem is not None:
            self.notify(problem, severity="warning")
            return
        self.advance()

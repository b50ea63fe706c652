"""The Method step: pick how Rundeck authenticates; the recommended method is preselected."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from tui.core.model import Method
from tui.screens.base import WizardStep
from tui.screens.confirm import ConfirmScreen

WHEN_TO_USE = {
    # One line each at 80 columns: a wrapped line would lose its indent in the list.
    Method.EC2: "On EC2: the instance's role gives short-lived credentials.",
    Method.ECS: "On ECS or Fargate: the task role gives short-lived credentials.",
    Method.ACCESS_KEY: "Anywhere. Least secure: a long-lived key to store and rotate.",
}

ROLE_TODO = {
    Method.EC2: (
        "Still to do in AWS (the wizard only configures Rundeck):\n"
        " 1. IAM → Roles → Create role, trusted entity ec2.amazonaws.com\n"
        " 2. Attach the permission policies for the Rundeck plugins you use\n"
        " 3. EC2 → Instances → Actions → Security → Modify IAM role: the role,\n"
        "    on this instance and on every instance of a cluster"
    ),
    Method.ECS: (
        "Still to do in AWS (the wizard only configures Rundeck):\n"
        " 1. IAM → Roles → Create role, trusted entity ecs-tasks.amazonaws.com\n"
        " 2. Attach the permission policies for the Rundeck plugins you use\n"
        " 3. ECS → Task definitions → a new revision, this role as Task role;\n"
        "    then update the service to the new revision"
    ),
}


def method_prompt(method: Method, *, recommended: bool, detected: bool | None) -> Text:
    text = Text()
    text.append(method.title, style="bold")
    if recommended:
        text.append(" · recommended", style="bold green")
    if detected is False:
        text.append(" · not detected here", style="yellow")
    text.append("\n  " + WHEN_TO_USE[method], style="dim")
    return text


class MethodScreen(WizardStep):
    """The three methods; a role that was not detected needs an explicit confirmation."""

    CSS_PATH = "method.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Choose", show=True),
        Binding("ctrl+n", "choose", "Next", show=True),  # as on every other step
    ]

    def __init__(self) -> None:
        super().__init__()
        self.confirmed_undetected: set[Method] = set()

    def body(self) -> ComposeResult:
        detection = self.state.detection
        recommended = detection.recommended_method if detection else Method.ACCESS_KEY
        detected = {
            Method.EC2: bool(detection and detection.ec2.detected and detection.ec2.role_name),
            Method.ECS: bool(detection and detection.ecs.has_task_credentials),
        }
        yield Static("How should Rundeck authenticate to AWS?", classes="title")
        yield OptionList(
            *[
                Option(
                    method_prompt(
                        method, recommended=method is recommended, detected=detected.get(method)
                    ),
                    id=str(method),
                )
                for method in Method
            ],
            id="methods",
        )
        yield Static("", id="todo")

    def actions(self) -> ComposeResult:
        yield Button("Next", id="next", variant="primary")

    def on_mount(self) -> None:
        chosen = self.state.method or Method.ACCESS_KEY
        options = self.query_one("#methods", OptionList)
        options.highlighted = list(Method).index(chosen)
        options.focus()
        self.query_one("#todo", Static).display = False

    def _role_detected(self, method: Method) -> bool:
        detection = self.state.detection
        if detection is None:
            return False
        if method is Method.EC2:
            return bool(detection.ec2.detected and detection.ec2.role_name)
        if method is Method.ECS:
            return bool(detection.ecs.has_task_credentials)
        return True

    @on(OptionList.OptionHighlighted, "#methods")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        method = Method(str(event.option.id))
        self.state.method = method
        todo = self.query_one("#todo", Static)
        if method in self.confirmed_undetected:
            todo.update(ROLE_TODO[method])
            todo.display = True
        else:
            todo.display = False

    @on(OptionList.OptionSelected, "#methods")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(Method(str(event.option.id)))

    @on(Button.Pressed, "#next")
    def action_choose(self) -> None:
        options = self.query_one("#methods", OptionList)
        if options.highlighted is not None:
            self.choose(list(Method)[options.highlighted])

    def choose(self, method: Method) -> None:
        self.state.method = method
        if self._role_detected(method) or method in self.confirmed_undetected:
            self.advance()
            return

        def decided(yes: bool | None) -> None:
            if yes:
                self.confirmed_undetected.add(method)
                todo = self.query_one("#todo", Static)
                todo.update(ROLE_TODO[method])
                todo.display = True
                self.query_one("#next", Button).focus()

        self.app.push_screen(
            ConfirmScreen(
                f"No {method.title.replace(' IAM role', '')} role was detected here. Configure "
                f"{method.title} anyway (for example before attaching the role)?",
                yes="Configure anyway",
                no="Choose again",
            ),
            decided,
        )

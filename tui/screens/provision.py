"""Set up the role for me: with an administrator's credentials, create the role and give it to
EC2 instances or an ECS task definition; the AWS CLI commands are shown (and copyable) first.

Not a numbered step: it is pushed from Permissions and goes back there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import Worker, WorkerState, get_current_worker

from tui.core.iam.provision.model import DEFAULT_ROLE_NAME
from tui.core.model import Method
from tui.core.validate import REGION
from tui.messages import InstancesLoaded, ProvisionFinished, ProvisionPlanned, ProvisionProgress
from tui.screens.base import WizardStep
from tui.screens.confirm import ConfirmScreen
from tui.widgets.provision_view import (
    after_script,
    bash,
    describe_result,
    instance_row,
    plan_summary,
    short_profile,
)
from tui.widgets.save_row import SaveRow
from tui.widgets.step_list import StepList

if TYPE_CHECKING:
    from tui.core.detect import Detection
    from tui.core.iam.inventory import InstanceChoice
    from tui.core.iam.provision import ProvisionPlan, ProvisionResult
    from tui.core.steps import Step


def region_of(method: Method | None, detection: Detection | None, typed: str | None) -> str:
    """Where the role goes: the region detection found, else the one of Details, else ''."""
    found = detection.region_preferring(method) if detection is not None else None
    return found or typed or ""


class ProvisionScreen(WizardStep):
    """The form, then Preview (AWS is read, nothing changes), then Run after a confirmation."""

    CSS_PATH = "provision.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "preview", "Preview", show=True),
        Binding("ctrl+g", "run", "Run", show=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0  # bumped by every change of the form; a preview is of one generation
        self.planning = False
        self.plan: ProvisionPlan | None = None  # the plan on screen, while the form is unchanged
        self.ran: ProvisionPlan | None = None  # the plan of the last run
        self.running = False
        self.result: ProvisionResult | None = None
        self.replace = False
        self.choices: dict[str, InstanceChoice] = {}
        self.ticked: set[str] = set()

    # --- what the screen is about ---------------------------------------------------------

    @property
    def method(self) -> Method:
        return self.state.method if self.state.method is Method.ECS else Method.EC2

    @property
    def ec2(self) -> bool:
        return self.method is Method.EC2

    @property
    def current_instance(self) -> str | None:
        detection = self.state.detection
        return detection.ec2.instance_id if detection is not None else None

    def chosen_plugins(self) -> tuple[Any, ...]:
        from tui.core.iam.catalog import find

        return find(self.state.plugins) if self.state.plugins else ()

    def who(self) -> str:
        detection = self.state.detection
        if detection is not None and detection.identity.arn:
            return detection.identity.arn
        return "the credentials found here"

    # --- layout ---------------------------------------------------------------------------

    def body(self) -> ComposeResult:
        what = "EC2 instance role" if self.ec2 else "ECS task role"
        yield Static(f"Set up the {what} for me (needs IAM admin rights)", classes="title")
        yield Static(
            "Nothing changes before you have seen the AWS CLI commands, which you may copy "
            f"and run yourself instead. AWS is called as:\n{self.who()}",
            id="provision-intro",
        )
        yield Static("", id="provision-problem")
        yield Label("Role name")
        yield Input(DEFAULT_ROLE_NAME, placeholder="1 to 64 of A-Z a-z 0-9 +=,.@_-", id="role-name")
        yield Label("Region")
        yield Input(
            region_of(self.state.method, self.state.detection, self.state.region),
            placeholder="which region? e.g. us-east-1",
            id="provision-region",
        )
        if self.ec2:
            yield Label("Instances to give the role to (Space ticks; a cluster: tick each node)")
            yield SelectionList[str](id="instances")
            yield Static("", id="instances-note")
            yield Checkbox("Replace an instance profile an instance has already", id="replace")
        else:
            yield Label(self.task_definition_label())
            yield Input(
                self.default_task_definition(),
                placeholder="family, family:revision or its ARN",
                id="task-definition",
            )
            yield Label("Cluster and service, for the command that rolls the service (optional)")
            with Horizontal(id="service-row"):
                yield Input(self.default_cluster(), placeholder="cluster", id="cluster")
                yield Input(placeholder="service", id="service")
            yield Checkbox("Replace a task role it has already", id="replace")
        yield Static("", id="plan-summary")
        yield StepList(id="provision-steps")
        yield Static("", id="provision-outcome")
        yield Static("", id="plan-script", classes="record")
        yield SaveRow(
            self.script_text,
            what="the commands",
            placeholder="save the commands to… (a file name)",
            field_id="script-file",
            id="script-row",
        )

    def actions(self) -> ComposeResult:
        yield Button("Preview", id="preview-plan", variant="primary")
        yield Button("Run", id="run-plan", disabled=True)
        yield Button("Back", id="provision-back")

    def task_definition_label(self) -> str:
        ecs = self.state.detection.ecs if self.state.detection is not None else None
        if ecs is not None and ecs.family and ecs.revision:
            running = f"{ecs.family}:{ecs.revision}"
            return f"Task definition to copy with the role (this task runs {running})"
        return "Task definition to copy into a new revision with the role"

    def default_task_definition(self) -> str:
        detection = self.state.detection
        return (detection.ecs.family or "") if detection is not None else ""

    def default_cluster(self) -> str:
        detection = self.state.detection
        return (detection.ecs.cluster or "") if detection is not None else ""

    def on_mount(self) -> None:
        for selector in ("#plan-summary", "#plan-script", "#script-row", "#provision-steps"):
            self.query_one(selector).display = False
        self.query_one("#provision-outcome").display = False
        if not self.state.plugins:
            self.show_problem(
                "No plugin is ticked on the Permissions step, so the role would have no "
                "permissions: go back (Esc) and tick the plugins Rundeck will use."
            )
        else:
            self.show_problem(None)
        region = self.query_one("#provision-region", Input)
        if self.ec2:
            self.load_instances(region.value.strip())
        if not region.value.strip():
            region.focus()
        elif self.ec2:
            self.query_one("#instances", SelectionList).focus()
        else:
            self.query_one("#task-definition", Input).focus()
        self.refresh_bindings()

    def show_problem(self, problem: str | None) -> None:
        widget = self.query_one("#provision-problem", Static)
        widget.update(Text(problem or "", style="bold red"))
        widget.display = problem is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the calls run there is no way out; Run needs a preview of the form as it is."""
        if action == "back" and self.running:
            return False
        if action == "preview":
            return None if self.running or not self.state.plugins else True
        if action == "run":
            ready = self.plan is not None and self.plan.changes_anything and not self.running
            return True if ready else None
        return super().check_action(action, parameters)

    # --- instances ------------------------------------------------------------------------

    def load_instances(self, region: str) -> None:
        note = self.query_one("#instances-note", Static)
        note.display = True
        if not REGION.fullmatch(region):
            note.update(Text("Type the region above to list its instances.", style="dim"))
            return
        note.update(Text(f"Listing the instances of {region}…", style="yellow"))
        self.list_instances(region)

    @work(thread=True, exclusive=True, exit_on_error=False, group="provision-instances")
    def list_instances(self, region: str) -> None:
        from tui.core.iam.inventory import list_instances

        try:
            choices = list_instances(region, client_factory=self.services.aws_client)
        except Exception as error:  # an AwsError, already in words safe to show
            if not get_current_worker().is_cancelled:
                self.post_message(InstancesLoaded(region, (), str(error)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(InstancesLoaded(region, choices, None))

    @on(InstancesLoaded)
    def instances_loaded(self, message: InstancesLoaded) -> None:
        if message.region != self.query_one("#provision-region", Input).value.strip():
            return  # the region changed meanwhile
        note = self.query_one("#instances-note", Static)
        listing = self.query_one("#instances", SelectionList)
        self.choices = {choice.instance_id: choice for choice in message.choices}
        current = self.current_instance
        if not self.ticked and current in self.choices:
            self.ticked = {current}
        listing.clear_options()
        listing.add_options(
            [
                Selection(instance_row(choice, current), iid, iid in self.ticked, id=iid)
                for iid, choice in self.choices.items()
            ]
        )
        if message.error is not None:
            said: Text | None = Text(f"✗ {message.error}", style="red")
        elif not self.choices:
            said = Text(
                f"No instance in {message.region}: the role and its instance profile can still "
                "be made, and given to instances later.",
                style="yellow",
            )
        elif current and current not in self.choices:
            said = Text(f"This instance ({current}) is not among them.", style="dim")
        else:
            said = None
        note.update(said or "")
        note.display = said is not None
        self.invalidate()

    @on(SelectionList.SelectedChanged, "#instances")
    def instances_ticked(self, event: SelectionList.SelectedChanged[str]) -> None:
        self.ticked = set(event.selection_list.selected)
        self.invalidate()

    @on(Input.Changed, "#provision-region")
    def region_changed(self, event: Input.Changed) -> None:
        self.invalidate()
        if self.ec2:
            self.load_instances(event.value.strip())

    @on(Input.Changed, "#role-name, #task-definition, #cluster, #service")
    def field_changed(self) -> None:
        self.invalidate()

    # --- replacing what exists needs a yes ------------------------------------------------

    @on(Checkbox.Changed, "#replace")
    def replace_toggled(self, event: Checkbox.Changed) -> None:
        if not event.value:
            self.replace = False
            self.invalidate()
            return
        if self.replace:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.replace = True
                self.invalidate()
            else:
                checkbox = self.query_one("#replace", Checkbox)
                with checkbox.prevent(Checkbox.Changed):
                    checkbox.value = False

        self.app.push_screen(
            ConfirmScreen(
                self.replace_question(), yes="Replace", no="Keep them" if self.ec2 else "Keep it"
            ),
            answered,
        )

    def replace_question(self) -> str:
        role = self.query_one("#role-name", Input).value.strip() or DEFAULT_ROLE_NAME
        if not self.ec2:
            return (
                "Register the new revision with role "
                f"{role} even if the task definition has another task role? Tasks started "
                "from it then get only this role's permissions."
            )
        taken = [
            f"{iid} ({short_profile(choice.instance_profile_arn)})"
            for iid, choice in self.choices.items()
            if iid in self.ticked and choice.instance_profile_arn
        ]
        which = ", ".join(taken) if taken else "ticked instances that have one"
        return (
            f"Replace the instance profile of {which}? Everything on those instances "
            f"switches to role {role} at once, and loses the old role's permissions."
        )

    # --- the preview ----------------------------------------------------------------------

    def invalidate(self) -> None:
        """The form changed: the preview on screen no longer says what Run would do."""
        self.generation += 1
        if self.plan is None and not self.planning:
            return
        self.plan = None
        self.planning = False
        self.query_one("#plan-summary", Static).update(
            Text("Changed since the preview: preview again before running.", style="yellow")
        )
        self.query_one("#plan-script").display = False
        self.query_one("#script-row").display = self.has_after_script()
        self.buttons_follow()

    def buttons_follow(self) -> None:
        ready = self.plan is not None and self.plan.changes_anything and not self.running
        self.query_one("#run-plan", Button).disabled = not ready
        self.query_one("#preview-plan", Button).disabled = self.running
        self.refresh_bindings()

    @on(Button.Pressed, "#preview-plan")
    def action_preview(self) -> None:
        if self.running:
            return
        if not self.state.plugins:
            self.notify("Tick the plugins on the Permissions step first (Esc).", severity="warning")
            return
        region = self.query_one("#provision-region", Input).value.strip()
        if not region:
            self.query_one("#provision-region", Input).focus()
            self.notify(
                "Which region? The role's instances or tasks live in one.", severity="warning"
            )
            return
        request = self.plan_request(region)
        summary = self.query_one("#plan-summary", Static)
        summary.display = True
        summary.update(Text("Reading what exists in AWS (nothing changes)…", style="yellow"))
        self.query_one("#plan-script").display = False
        self.query_one("#script-row").display = False
        self.planning = True
        self.make_plan(self.generation, request)

    def plan_request(self, region: str) -> dict[str, Any]:
        from tui.core.iam.policy import permissions_policy, resources_from_text, trust_policy

        def typed(selector: str) -> str | None:
            return self.query_one(selector, Input).value.strip() or None

        request: dict[str, Any] = {
            "method": "ec2" if self.ec2 else "ecs",
            "role_name": typed("#role-name") or "",
            "trust_policy": dict(trust_policy(self.method)),
            "permissions_policy": dict(
                permissions_policy(
                    self.chosen_plugins(), resources_from_text(self.state.resources) or None
                )
            ),
            "region": region,
            "replace_existing": self.replace,
            "client_factory": self.services.aws_client,
        }
        if self.ec2:
            listing = self.query_one("#instances", SelectionList)
            request["instance_ids"] = tuple(listing.selected)
        else:
            request["task_definition"] = typed("#task-definition")
            request["cluster"] = typed("#cluster")
            request["service"] = typed("#service")
        return request

    @work(thread=True, exclusive=True, exit_on_error=False, group="provision-plan")
    def make_plan(self, generation: int, request: dict[str, Any]) -> None:
        from tui.core.aws import translate_error
        from tui.core.iam.provision import PlanError, plan_role_setup

        method, role_name = request.pop("method"), request.pop("role_name")
        try:
            plan = plan_role_setup(method, role_name, **request)
        except PlanError as error:
            answer = ProvisionPlanned(generation, None, str(error))
        except Exception as error:
            problem = translate_error(error, "reading what exists")
            answer = ProvisionPlanned(generation, None, f"Nothing was changed: {problem}")
        else:
            answer = ProvisionPlanned(generation, plan, None)
        if not get_current_worker().is_cancelled:
            self.post_message(answer)

    @on(ProvisionPlanned)
    def planned(self, message: ProvisionPlanned) -> None:
        if message.generation != self.generation or not self.planning:
            return  # the form changed while AWS was read; invalidate() said so
        self.planning = False
        summary = self.query_one("#plan-summary", Static)
        if message.plan is None:
            summary.update(Text(f"✗ {message.error}", style="bold red"))
            self.buttons_follow()
            return
        plan = self.plan = message.plan
        self.result = None
        self.query_one("#provision-steps").display = False
        self.query_one("#provision-outcome").display = False
        summary.update(plan_summary(plan))
        script = self.query_one("#plan-script", Static)
        script.update(bash(plan.preview()))
        script.display = True
        self.query_one("#script-row").display = True
        self.buttons_follow()
        self.call_after_refresh(summary.scroll_visible, top=True, animate=False)
        if plan.changes_anything:
            self.query_one("#run-plan", Button).focus()

    # --- copy and save ----------------------------------------------------------------------

    def has_after_script(self) -> bool:
        """After a run, something to copy: the follow-up, or how to undo a failed run."""
        result = self.result
        return result is not None and bool(
            result.follow_up or (not result.ok and result.undo_commands)
        )

    def script_text(self) -> str | None:
        if self.result is not None:
            return after_script(self.result)
        return self.plan.preview() if self.plan is not None else None

    # --- running ------------------------------------------------------------------------------

    @on(Button.Pressed, "#run-plan")
    def action_run(self) -> None:
        plan = self.plan
        if self.running:
            return
        if plan is None:
            self.notify(
                "Preview first: nothing runs before its commands have been shown.",
                severity="warning",
            )
            return
        if not plan.changes_anything:
            self.notify("Nothing to do: everything is in place already.")
            return
        count = len(plan.steps)
        calls = "this AWS call" if count == 1 else f"these {count} AWS calls"
        question = (
            f"Run {calls} in account {plan.account} ({plan.region})? Nothing is undone "
            "automatically if one fails: you will see what exists then, and how to undo it."
        )

        def answered(yes: bool | None) -> None:
            if yes and self.plan is plan:
                self.start(plan)

        self.app.push_screen(ConfirmScreen(question, yes="Run them", no="Not now"), answered)

    def start(self, plan: ProvisionPlan) -> None:
        self.running = True
        self.ran = plan
        self.plan = None  # a plan runs once; a new preview reads AWS again
        steps = self.query_one("#provision-steps", StepList)
        steps.display = True
        steps.show(plan.pending_steps())
        self.query_one("#provision-outcome").display = False
        self.query_one("#plan-script").display = False
        self.query_one("#script-row").display = False
        self.query_one("#plan-summary", Static).update(
            Text(f"Running the {len(plan.steps)} AWS calls below…", style="yellow")
        )
        self.set_form_disabled(True)
        self.buttons_follow()
        self.run_plan(plan)

    def set_form_disabled(self, disabled: bool) -> None:
        for widget in self.query("Input, SelectionList, Checkbox, Button"):
            widget.disabled = disabled

    @work(thread=True, exclusive=True, exit_on_error=False, group="provision-run")
    def run_plan(self, plan: ProvisionPlan) -> None:
        from tui.core.iam.provision import execute

        def report(step: Step) -> None:
            self.post_message(ProvisionProgress(step))

        result = execute(plan, on_step=report)
        self.post_message(ProvisionFinished(result))

    @on(ProvisionProgress)
    def step_reported(self, message: ProvisionProgress) -> None:
        steps = self.query_one("#provision-steps", StepList)
        steps.report(message.step)  # pending, running, then its result, on one line
        self.call_after_refresh(steps.scroll_visible, animate=False)

    @on(ProvisionFinished)
    def finished(self, message: ProvisionFinished) -> None:
        result = self.result = message.result
        self.running = False
        self.query_one("#provision-steps", StepList).show(result.steps)
        self.query_one("#plan-summary", Static).update(
            Text("Ran the AWS calls below.", style="bold")
            if result.ok
            else Text("Stopped part-way: see below.", style="bold red")
        )
        self.show_outcome(describe_result(result, self.ran))

    def show_outcome(self, outcome: RenderableType) -> None:
        widget = self.query_one("#provision-outcome", Static)
        widget.update(outcome)
        widget.display = True
        self.query_one("#script-row").display = self.has_after_script()
        self.set_form_disabled(False)
        self.buttons_follow()
        self.query_one("#provision-back", Button).focus()
        body = self.query_one(".body")
        self.call_after_refresh(body.scroll_end, animate=False)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """A crash in a worker must not leave the screen locked or waiting."""
        if event.state is not WorkerState.ERROR:
            return
        what = type(event.worker.error).__name__
        if event.worker.group == "provision-run" and self.running:
            self.running = False
            self.show_outcome(
                Text(
                    f"✗ Stopped by an unexpected error: {what}. Preview again to see what "
                    "exists in AWS now (a new run reuses it).",
                    style="bold red",
                )
            )
        elif event.worker.group == "provision-plan" and self.planning:
            self.planning = False
            self.query_one("#plan-summary", Static).update(
                Text(f"✗ Could not read AWS: {what}. Nothing was changed.", style="bold red")
            )
            self.buttons_follow()

    # --- leaving ------------------------------------------------------------------------------

    @on(Button.Pressed, "#provision-back")
    def go_back(self) -> None:
        self.action_back()

    def action_back(self) -> None:
        if self.running:
            self.notify("Wait until the AWS calls have finished.", severity="warning")
            return
        self.workers.cancel_all()
        self.app.pop_screen()

"""The wizard's answers so far: one object handed from step to step (no Textual here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui.core.model import Answers, Method, Scope

if TYPE_CHECKING:
    from tui.core.aws import CallerIdentity
    from tui.core.detect import Detection
    from tui.core.iam.simulate import PolicyCheck
    from tui.core.rundeck_link import Connection, RundeckLink
    from tui.core.secret import Secret
    from tui.core.setup import ApplyResult, SetupPlan

# The one place the wizard's order is stored: each numbered step's title in the step indicator
# and its screen class. Each screen's number and next_screen's order follow from it.
WIZARD_STEPS: tuple[tuple[str, str], ...] = (
    ("Detect", "tui.screens.detect.DetectScreen"),
    ("Method", "tui.screens.method.MethodScreen"),
    ("Permissions", "tui.screens.permissions.PermissionsScreen"),
    ("Scope", "tui.screens.scope.ScopeScreen"),
    ("Details", "tui.screens.details.DetailsScreen"),
    ("Review", "tui.screens.review.ReviewScreen"),
    ("Apply", "tui.screens.apply.ApplyScreen"),
)
# Follows the last numbered step, without a number of its own.
FINAL_SCREEN = "tui.screens.done.DoneScreen"
STEPS = tuple(title for title, _ in WIZARD_STEPS)


def step_number(screen: str) -> int:
    """The 1-based step a screen (``module.Class``) shows, or 0 outside the numbered steps."""
    screens = [path for _, path in WIZARD_STEPS]
    return screens.index(screen) + 1 if screen in screens else 0


@dataclass
class WizardState:
    """Answers and results of every step; going back keeps them."""

    detection: Detection | None = None
    method: Method | None = None
    scope: Scope = Scope.SYSTEM
    project: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret: Secret | None = field(default=None, repr=False)
    key_path: str | None = None
    key_path_typed: bool = False  # False: the path is the scope's default and follows the scope
    identity: CallerIdentity | None = None
    plan: SetupPlan | None = None
    result: ApplyResult | None = None
    paste_file: str | None = None
    plugins: tuple[str, ...] = ()  # catalog ids of the Rundeck AWS plugins that will be used
    resources: str = ""  # KIND=ARN items that narrow the policy, as typed (valid when kept)
    policy_check: PolicyCheck | None = None
    aws_changed: bool = False  # Set it up for me created or changed something in AWS
    # Rundeck's API: a verified RundeckLink, Offline (chosen, or nothing answered), or None
    # (not connected: the files, as offline). The token only ever as a Secret.
    rundeck: Connection | None = None
    rundeck_token: Secret | None = field(default=None, repr=False)
    rundeck_projects: tuple[str, ...] | None = None  # the API's project list when connected
    replace_key: bool = False  # the admin said yes to replacing a key Key Storage holds

    @property
    def rundeck_link(self) -> RundeckLink | None:
        """The verified connection to Rundeck's API, if any."""
        from tui.core.rundeck_link import RundeckLink

        return self.rundeck if isinstance(self.rundeck, RundeckLink) else None

    @property
    def role_detected(self) -> bool:
        """For a role method, whether its role was found where this runs (True for a key)."""
        detection = self.detection
        if self.method is Method.ACCESS_KEY or self.method is None:
            return True
        if detection is None:
            return False
        if self.method is Method.EC2:
            return bool(detection.ec2.detected and detection.ec2.role_name)
        return bool(detection.ecs.has_task_credentials)

    @property
    def has_answers(self) -> bool:
        """True once the user chose something that quitting would lose."""
        return self.method is not None and self.result is None

    def answers(self) -> Answers:
        if self.method is None:
            raise ValueError("no method chosen yet")
        access = self.method is Method.ACCESS_KEY
        return Answers(
            method=self.method,
            scope=self.scope,
            project=self.project if self.scope is Scope.PROJECT else None,
            region=self.region or None,
            access_key_id=self.access_key_id if access else None,
            key_path=self.key_path if access else None,
        )

"""Messages that thread workers post to the UI; the handlers own the state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from textual.message import Message

if TYPE_CHECKING:
    from tui.core.aws import AwsError, CallerIdentity
    from tui.core.detect import Detection, ProbeUpdate
    from tui.core.iam.simulate import PolicyCheck
    from tui.core.rotation import RotationResult, RotationTarget
    from tui.core.rundeck import RundeckInstall
    from tui.core.rundeck_link import RundeckLink
    from tui.core.secret import Secret
    from tui.core.setup import ApplyResult, RemovalPlan, SetupPlan
    from tui.core.setup.api_removal import ApiRemovalPlan
    from tui.core.status import InstallStatus
    from tui.core.steps import Step


@dataclass
class ProbeProgress(Message):
    update: ProbeUpdate


@dataclass
class DetectionFinished(Message):
    detection: Detection


@dataclass
class VerifyFinished(Message):
    identity: CallerIdentity | None
    error: AwsError | None

    @classmethod
    def asking(
        cls,
        verify: Callable[[str, Secret, str | None], CallerIdentity],
        access_key_id: str,
        secret: Secret,
        region: str | None,
    ) -> VerifyFinished:
        """Ask STS (blocking: call it from a worker) and wrap the answer or the refusal."""
        from tui.core.aws import AwsError

        try:
            return cls(verify(access_key_id, secret, region), None)
        except AwsError as error:
            return cls(None, error)


@dataclass
class PlanReady(Message):
    plan: SetupPlan | None
    error: str | None


@dataclass
class ApplyProgress(Message):
    step: Step


@dataclass
class ApplyFinished(Message):
    result: ApplyResult


@dataclass
class RegionsLoaded(Message):
    """The offline region list, loaded off the UI thread (botocore is slow to import)."""

    regions: tuple[str, ...]


@dataclass
class StatusReady(Message):
    """The current setup; ``with_aws`` says whether IAM was asked (key age, last use);
    ``rundeck``: the connection to Rundeck's API that was read through, if any."""

    status: InstallStatus | None
    error: str | None
    with_aws: bool
    rundeck: RundeckLink | None = None


@dataclass
class RotationProgress(Message):
    step: Step


@dataclass
class InstallProjectsRead(Message):
    """The Rundeck install (or why there is none) and the projects it keeps on disk."""

    install: RundeckInstall | None
    problem: str | None
    disk_projects: tuple[str, ...]


@dataclass
class RotationTargetRead(Message):
    """The setup a rotation screen acts on, read in a worker, or why it cannot be rotated."""

    target: RotationTarget | None
    problem: str | None


@dataclass
class RotationFinished(Message):
    result: RotationResult


class YesNoReply(Protocol):
    """Where the UI thread hands a waiting worker its yes/no (tui.screens.rotate.Reply)."""

    def give(self, answer: bool) -> None: ...


@dataclass
class QuestionAsked(Message):
    """A worker needs a yes/no from the user; it waits until ``answer`` is set."""

    question: str
    reply: YesNoReply


@dataclass
class ReplaceAsked(Message):
    """A widget would replace files that exist: the app asks, and runs ``replace`` on yes
    (widgets push no screens; the dialog is a screen)."""

    question: str
    replace: Callable[[], None]


@dataclass
class RemovalFinished(Message):
    result: ApplyResult


@dataclass
class RemovalPlanned(Message):
    """A removal planned in a worker: the plan (of the file, or through Rundeck's API), or why
    there is none."""

    plan: RemovalPlan | ApiRemovalPlan | None
    error: str | None


@dataclass
class PolicyChecked(Message):
    """What IAM's policy simulation said about the chosen plugins (or why it could not)."""

    result: PolicyCheck


# --- setting the role up with admin credentials (tui/screens/provision.py) -----------------

if TYPE_CHECKING:
    from tui.core.iam.inventory import InstanceChoice
    from tui.core.iam.provision import ProvisionPlan, ProvisionResult


@dataclass
class InstancesLoaded(Message):
    """The region's instances to pick from, or why they could not be listed."""

    region: str
    choices: tuple[InstanceChoice, ...]
    error: str | None


@dataclass
class ProvisionPlanned(Message):
    """The setup's plan read from AWS for the form as it was at ``generation``, or why not."""

    generation: int
    plan: ProvisionPlan | None
    error: str | None


@dataclass
class ProvisionProgress(Message):
    """One of the setup's calls running, or how it ended."""

    step: Step


@dataclass
class ProvisionFinished(Message):
    result: ProvisionResult


@dataclass
class PasteReady(Message):
    """The lines to paste for a project Rundeck keeps in its database (no file to change)."""

    lines: str


@dataclass
class PasteSaved(Message):
    """The lines file written and, for an access key, the secret stored; or why neither."""

    path: str
    stored_at: str | None
    error: str | None


@dataclass
class InstallFound(Message):
    """The app's worker looked up the Rundeck install; ``has_setup``: Status comes first;
    ``problem`` (when none was found): why not, for Detect to ask for its base folder."""

    has_setup: bool
    problem: str | None
    rundeck: RundeckLink | None = None  # connected while looking (a setup only Rundeck holds)

"""Messages that thread workers post to the UI; the handlers own the state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tui.core.aws import AwsError, CallerIdentity
    from tui.core.detect import Detection, ProbeUpdate
    from tui.core.setup import ApplyResult, SetupPlan, StepResult


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


@dataclass
class PlanReady(Message):
    plan: SetupPlan | None
    error: str | None


@dataclass
class ApplyProgress(Message):
    step: StepResult


@dataclass
class ApplyFinished(Message):
    result: ApplyResult


@dataclass
class RegionsLoaded(Message):
    """The offline region list, loaded off the UI thread (botocore is slow to import)."""

    regions: tuple[str, ...]

"""What a setup is made of: the plan's AWS calls, what it leaves alone, and how a run ended."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tui.core.errors import ErrorKind, ToolError
from tui.core.steps import Step, StepStatus

ProvisionMethod = Literal["ec2", "ecs"]

DEFAULT_ROLE_NAME = "rundeck-aws"  # the wizard's and the provision command's default
DEFAULT_POLICY_NAME = "rundeck-aws-plugins"
# The JSON word for a call the run never reached (stopped at an earlier failure).
NOT_RUN = "not run"


class PlanError(ToolError):
    """The setup cannot be planned (bad input, or AWS refused a read); nothing was changed."""

    kind = ErrorKind.AWS


class StepFailed(ToolError):
    """A step could not be done; the message is safe to show."""

    kind = ErrorKind.AWS


@dataclass
class StepContext:
    """What a running step may use: the clock for waiting, and values for later steps."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepReport:
    """A step's result for people, and the AWS CLI commands that would undo it."""

    detail: str
    undo: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProvisionStep:
    """One AWS call of the plan and its AWS CLI equivalent."""

    key: str
    description: str
    command: str
    run: Callable[[StepContext], StepReport] = field(repr=False, compare=False)

    def as_step(self, status: StepStatus = StepStatus.PENDING, detail: str = "") -> Step:
        """This call in the shared step vocabulary: its description is the step's name."""
        return Step(self.description, status, detail, cli=self.command)

    def to_json_dict(self) -> dict[str, str]:
        return {"key": self.key, "description": self.description, "command": self.command}


@dataclass(frozen=True)
class Skipped:
    """Something the plan leaves alone, and why; ``needs_confirmation`` when replacing it is
    only a matter of the admin's consent (the CLI's --replace-existing, a tick in the UI)."""

    target: str
    reason: str
    needs_confirmation: bool = False

    def describe(self, consent: str = "--replace-existing") -> str:
        """The reason, with how to give the consent when that is all that is missing."""
        return f"{self.reason} ({consent})" if self.needs_confirmation else self.reason


@dataclass(frozen=True)
class ProvisionPlan:
    """The ordered AWS calls of a setup, what is already in place, and what is left alone."""

    method: ProvisionMethod
    role_name: str
    role_arn: str
    policy_name: str
    region: str
    account: str
    trusted_service: str
    steps: tuple[ProvisionStep, ...]
    instance_profile_name: str | None = None
    in_place: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    survey: Callable[[], tuple[str, ...]] = field(default=lambda: (), repr=False, compare=False)
    follow_up: Callable[[Mapping[str, str]], tuple[str, ...]] = field(
        default=lambda values: (), repr=False, compare=False
    )

    @property
    def changes_anything(self) -> bool:
        return bool(self.steps)

    def pending_steps(self) -> tuple[Step, ...]:
        """Every call of the plan as a step not run yet."""
        return tuple(step.as_step() for step in self.steps)

    def preview(self) -> str:
        """The plan as a POSIX shell script of AWS CLI commands, with comments for people."""
        title = "EC2 instance role" if self.method == "ec2" else "ECS task role"
        lines = [
            f"# {title} {self.role_name} (account {self.account}, region {self.region})",
        ]
        lines += [f"# In place already: {fact}" for fact in self.in_place]
        lines += [f"# Left alone: {item.target}: {item.describe()}" for item in self.skipped]
        lines += [f"# Warning: {warning}" for warning in self.warnings]
        lines += [f"# Note: {note}" for note in self.notes]
        if not self.steps:
            lines.append("# Nothing to do.")
        for number, step in enumerate(self.steps, 1):
            lines += ["", f"# {number}. {step.description}", step.command]
        follow_up = self.follow_up({})
        if follow_up:
            lines += ["", "# Afterwards (not run by this tool):"]
            lines += [f"#   {line}" for line in follow_up]
        return "\n".join(lines) + "\n"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "role_name": self.role_name,
            "role_arn": self.role_arn,
            "policy_name": self.policy_name,
            "instance_profile_name": self.instance_profile_name,
            "region": self.region,
            "account": self.account,
            "trusted_service": self.trusted_service,
            "steps": [step.to_json_dict() for step in self.steps],
            "in_place": list(self.in_place),
            "skipped": [
                {
                    "target": item.target,
                    "reason": item.describe(),
                    "needs_confirmation": item.needs_confirmation,
                }
                for item in self.skipped
            ],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "follow_up": list(self.follow_up({})),
        }


def steps_to_json(keys: Sequence[str], steps: Sequence[Step]) -> list[dict[str, str]]:
    """The run's steps as the provision JSON says them: key, description, command, status, detail.

    ``keys`` are the plan's step keys, in the same order as ``steps``; a call never reached
    (pending) says "not run".
    """
    return [
        {
            "key": key,
            "description": step.name,
            "command": step.cli or "",
            "status": NOT_RUN if step.status is StepStatus.PENDING else str(step.status),
            "detail": step.detail,
        }
        for key, step in zip(keys, steps, strict=True)
    ]


@dataclass(frozen=True)
class ProvisionResult:
    """Every step as it ended; after a failure, what exists in AWS now and what was not done.

    ``keys`` are the plan's step keys, one for each of ``steps``, for the JSON output.
    """

    ok: bool
    steps: tuple[Step, ...]
    keys: tuple[str, ...]
    exists_now: tuple[str, ...] = ()
    not_done: tuple[str, ...] = ()
    undo_commands: tuple[str, ...] = ()
    follow_up: tuple[str, ...] = ()
    error: str | None = None
    survey_error: str | None = None

    @property
    def changed_anything(self) -> bool:
        return any(step.status is StepStatus.DONE for step in self.steps)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": steps_to_json(self.keys, self.steps),
            "exists_now": list(self.exists_now),
            "not_done": list(self.not_done),
            "undo_commands": list(self.undo_commands),
            "follow_up": list(self.follow_up),
            "error": self.error,
            "survey_error": self.survey_error,
        }

"""Running a plan: each call in order, reported as a Step; at the first failure, stop and
read back from AWS what exists now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui.core import aws
from tui.core.iam.inventory import client_error_code
from tui.core.iam.provision.model import (
    ProvisionPlan,
    ProvisionResult,
    StepContext,
    StepFailed,
)
from tui.core.steps import Step, StepCallback, StepStatus

# A new instance profile can be refused by EC2 for a while (IAM is eventually consistent).
PROPAGATION_SECONDS = 60.0


def while_propagating(context: StepContext, call: Callable[[], Any]) -> Any:
    """Retry a call EC2 refuses because a new instance profile has not reached it yet."""
    deadline = context.monotonic() + PROPAGATION_SECONDS
    delay = 2.0
    while True:
        try:
            return call()
        except Exception as error:
            message = str(getattr(error, "response", {}).get("Error", {}).get("Message", ""))
            propagating = (
                client_error_code(error) == "InvalidParameterValue"
                and "instance profile" in message.lower()
            )
            if not propagating or context.monotonic() + delay > deadline:
                raise
        context.sleep(delay)
        delay = min(delay * 2, 10.0)


def _failure_message(error: Exception) -> str:
    if isinstance(error, StepFailed):
        return str(error)
    operation = getattr(error, "operation_name", None) or "the call"
    return str(aws.translate_error(error, str(operation)))


def execute(
    plan: ProvisionPlan,
    *,
    on_step: StepCallback | None = None,
    context: StepContext | None = None,
) -> ProvisionResult:
    """Run the plan's steps in order, reporting each as running, then done or failed; stop at
    the first failure (the calls after it stay pending) and say what exists now."""
    context = context or StepContext()
    notify = on_step or (lambda step: None)
    keys = tuple(call.key for call in plan.steps)
    steps: list[Step] = []
    undo: list[str] = []
    for index, call in enumerate(plan.steps):
        notify(call.as_step(StepStatus.RUNNING))
        try:
            report = call.run(context)
        except Exception as error:
            failed = call.as_step(StepStatus.FAILED, _failure_message(error))
            steps.append(failed)
            notify(failed)
            rest = plan.steps[index + 1 :]
            steps.extend(later.as_step() for later in rest)
            exists_now, survey_error = _exists_now(plan)
            return ProvisionResult(
                ok=False,
                steps=tuple(steps),
                keys=keys,
                exists_now=exists_now,
                not_done=tuple(later.description for later in (call, *rest)),
                undo_commands=tuple(undo),
                error=f"{call.description}: {failed.detail}",
                survey_error=survey_error,
            )
        done = call.as_step(StepStatus.DONE, report.detail)
        steps.append(done)
        notify(done)
        undo[:0] = report.undo
    return ProvisionResult(
        ok=True,
        steps=tuple(steps),
        keys=keys,
        exists_now=plan.in_place + tuple(step.detail for step in steps),
        undo_commands=tuple(undo),
        follow_up=plan.follow_up(context.values),
    )


def _exists_now(plan: ProvisionPlan) -> tuple[tuple[str, ...], str | None]:
    """What the plan's survey reads back from AWS now, or why it could not be read."""
    try:
        return plan.survey(), None
    except Exception as error:
        problem = aws.translate_error(error, "reading the setup back")
        return (), f"Could not read back what exists now: {problem}"

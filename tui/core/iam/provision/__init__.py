"""Setting up Rundeck's role with an administrator's credentials: a plan of AWS calls, shown
first as the equivalent AWS CLI commands (to copy instead of run), then run step by step.

Nothing is rolled back automatically. Every object this creates is inert until something
uses it, deleting IAM objects could race another administrator, and undoing a replaced
association would swap a running instance's role a second time. So a failure stops, re-reads
AWS to say exactly what exists now, and lists the commands that would undo what was done;
running the same setup again reuses what exists and finishes the rest.

The model is in ``model``, planning in ``planning`` (with the role, EC2 and ECS calls in
``role``, ``ec2`` and ``ecs``), running and the read-back after a failure in ``running``.
"""

from __future__ import annotations

from tui.core.iam.inventory import TRUSTED_SERVICE
from tui.core.iam.provision.model import (
    DEFAULT_POLICY_NAME,
    DEFAULT_ROLE_NAME,
    NOT_RUN,
    PlanError,
    ProvisionMethod,
    ProvisionPlan,
    ProvisionResult,
    ProvisionStep,
    Skipped,
    StepContext,
    StepFailed,
    StepReport,
    steps_to_json,
)
from tui.core.iam.provision.planning import plan_role_setup
from tui.core.iam.provision.running import PROPAGATION_SECONDS, execute

__all__ = [
    "DEFAULT_POLICY_NAME",
    "DEFAULT_ROLE_NAME",
    "NOT_RUN",
    "PROPAGATION_SECONDS",
    "TRUSTED_SERVICE",
    "PlanError",
    "ProvisionMethod",
    "ProvisionPlan",
    "ProvisionResult",
    "ProvisionStep",
    "Skipped",
    "StepContext",
    "StepFailed",
    "StepReport",
    "execute",
    "plan_role_setup",
    "steps_to_json",
]

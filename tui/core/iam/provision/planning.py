"""Planning a setup: check the answers, read what exists, and build the plan's calls."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tui.core import aws
from tui.core.aws import ClientFactory
from tui.core.errors import ErrorKind
from tui.core.iam.inventory import TRUSTED_SERVICE, aws_cli, survey
from tui.core.iam.provision.ec2 import Ec2Steps
from tui.core.iam.provision.ecs import EcsSteps
from tui.core.iam.provision.model import DEFAULT_POLICY_NAME, PlanError, ProvisionPlan
from tui.core.iam.provision.role import RoleSteps

ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
PROFILE_OR_POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
TASK_DEFINITION = re.compile(r"arn:\S+:task-definition/\S+|[A-Za-z0-9_-]{1,255}(:[0-9]+)?")
CLUSTER_PLACEHOLDER = "CLUSTER"
SERVICE_PLACEHOLDER = "SERVICE"


def _validate(
    method: str,
    role_name: str,
    policy_name: str,
    profile_name: str,
    instance_ids: Sequence[str],
    task_definition: str | None,
    region: str,
) -> None:
    problems: list[str] = []
    if method not in TRUSTED_SERVICE:
        problems.append(f"The method must be ec2 or ecs, not {method!r}.")
    if not ROLE_NAME.fullmatch(role_name):
        problems.append("A role name is 1 to 64 letters, digits or + = , . @ _ - characters.")
    if not PROFILE_OR_POLICY_NAME.fullmatch(policy_name):
        problems.append("A policy name is 1 to 128 letters, digits or + = , . @ _ - characters.")
    if method == "ec2" and not PROFILE_OR_POLICY_NAME.fullmatch(profile_name):
        problems.append(
            "An instance profile name is 1 to 128 letters, digits or + = , . @ _ - characters."
        )
    bad_ids = [instance for instance in instance_ids if not INSTANCE_ID.fullmatch(instance)]
    if bad_ids:
        problems.append(f"Not an instance id (i-0123456789abcdef0): {', '.join(bad_ids)}.")
    if instance_ids and method != "ec2":
        problems.append("Instances take an instance profile only with the ec2 method.")
    if task_definition is not None and method != "ecs":
        problems.append("A task definition takes a task role only with the ecs method.")
    if task_definition is not None and not TASK_DEFINITION.fullmatch(task_definition):
        problems.append(
            f"A task definition is FAMILY, FAMILY:REVISION or its ARN (got {task_definition!r})."
        )
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        problems.append(f"Not an AWS region name: {region!r}.")
    if problems:
        raise PlanError(" ".join(problems), kind=ErrorKind.USAGE)


class _Planner(RoleSteps, Ec2Steps, EcsSteps):
    """Every kind of step, and what follows the run: the commands to run afterwards, and what
    exists in AWS now."""

    def follow_up(self, cluster: str | None, service: str | None) -> Callable[..., tuple[str, ...]]:
        method, family, profile = self.method, self.task_family, self.profile_name
        no_instance = method == "ec2" and not self.instance_ids

        def lines(values: Mapping[str, str]) -> tuple[str, ...]:
            if method == "ecs" and family is not None:
                definition = values.get("task_definition", family)
                update = aws_cli(
                    "ecs update-service",
                    cluster=cluster or CLUSTER_PLACEHOLDER,
                    service=service or SERVICE_PLACEHOLDER,
                    task_definition=definition,
                    region=self.region,
                )
                return (
                    "Roll the Rundeck service onto the new revision (ECS starts new tasks with "
                    "the role, then stops the old ones):",
                    update,
                )
            if no_instance:
                associate = aws_cli(
                    "ec2 associate-iam-instance-profile",
                    instance_id="INSTANCE_ID",
                    iam_instance_profile=f"Name={profile}",
                    region=self.region,
                )
                return ("Give each Rundeck instance the role:", associate)
            return ()

        return lines

    def survey(self) -> tuple[str, ...]:
        """What exists in AWS now for this plan, read back from AWS."""
        return survey(
            self.client,
            self.method,
            self.role_name,
            self.policy_name,
            self.profile_name if self.method == "ec2" else None,
            self.instance_ids,
            self.task_family,
            self.permissions_policy,
        )


def plan_role_setup(
    method: str,
    role_name: str,
    *,
    trust_policy: Mapping[str, Any],
    permissions_policy: Mapping[str, Any],
    region: str,
    policy_name: str = DEFAULT_POLICY_NAME,
    instance_profile_name: str | None = None,
    instance_ids: Sequence[str] = (),
    task_definition: str | None = None,
    replace_existing: bool = False,
    cluster: str | None = None,
    service: str | None = None,
    client_factory: ClientFactory | None = None,
) -> ProvisionPlan:
    """Read what exists and plan the calls that set up the role for ``method`` (ec2 or ecs).

    Only reads: nothing changes in AWS until :func:`execute`. An existing association or task
    role is replaced only with ``replace_existing`` (the administrator's confirmation); else
    the plan says what it leaves alone. Raises PlanError on bad input or a refused read.
    """
    method = str(method)
    profile_name = instance_profile_name or role_name
    instance_ids = tuple(dict.fromkeys(instance_ids))
    _validate(method, role_name, policy_name, profile_name, instance_ids, task_definition, region)
    planner = _Planner(
        "ec2" if method == "ec2" else "ecs",
        role_name,
        trust_policy=trust_policy,
        permissions_policy=permissions_policy,
        region=region,
        policy_name=policy_name,
        profile_name=profile_name,
        replace_existing=replace_existing,
        factory=client_factory or aws.client,
    )
    planner.identify()
    planner.plan_role()
    if planner.method == "ec2":
        profile_arn = planner.plan_instance_profile()
        planner.plan_associations(instance_ids, profile_arn)
    else:
        planner.plan_task_definition(task_definition)
    return ProvisionPlan(
        method=planner.method,
        role_name=role_name,
        role_arn=planner.role_arn,
        policy_name=policy_name,
        region=region,
        account=planner.account,
        trusted_service=planner.service,
        steps=tuple(planner.steps),
        instance_profile_name=profile_name if planner.method == "ec2" else None,
        in_place=tuple(planner.in_place),
        skipped=tuple(planner.skipped),
        warnings=tuple(planner.warnings),
        notes=tuple(planner.notes),
        survey=planner.survey,
        follow_up=planner.follow_up(cluster, service),
    )

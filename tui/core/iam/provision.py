"""Setting up Rundeck's role with an administrator's credentials: a plan of AWS calls, shown
first as the equivalent AWS CLI commands (to copy instead of run), then run step by step.

Nothing is rolled back automatically. Every object this creates is inert until something
uses it, deleting IAM objects could race another administrator, and undoing a replaced
association would swap a running instance's role a second time. So a failure stops, re-reads
AWS to say exactly what exists now, and lists the commands that would undo what was done;
running the same setup again reuses what exists and finishes the rest.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tui.core import aws
from tui.core.iam.inventory import (
    TRUSTED_SERVICE,
    associations,
    aws_cli,
    client_error_code,
    compact_json,
    merged_trust,
    policy_document,
    survey,
    trusts_service,
)
from tui.core.status import ClientFactory

ProvisionMethod = Literal["ec2", "ecs"]
StepStatus = Literal["running", "done", "failed", "not run"]
StepCallback = Callable[["StepOutcome"], None]

DEFAULT_POLICY_NAME = "rundeck-aws-plugins"
ROLE_DESCRIPTION = "AWS access for Rundeck (set up by pa-aws-setup)"
UNUSABLE_INSTANCE_STATES = frozenset({"shutting-down", "terminated"})
# A new instance profile can be refused by EC2 for a while (IAM is eventually consistent).
PROPAGATION_SECONDS = 60.0
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
PROFILE_OR_POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
TASK_DEFINITION = re.compile(r"arn:\S+:task-definition/\S+|[A-Za-z0-9_-]{1,255}(:[0-9]+)?")
CLUSTER_PLACEHOLDER = "CLUSTER"
SERVICE_PLACEHOLDER = "SERVICE"


class PlanError(Exception):
    """The setup cannot be planned (bad input, or AWS refused a read); nothing was changed."""

    def __init__(self, message: str, *, kind: Literal["usage", "aws"] = "aws") -> None:
        super().__init__(message)
        self.kind = kind


class StepFailed(Exception):
    """A step could not be done; the message is safe to show."""


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


@dataclass(frozen=True)
class StepOutcome:
    """One step as it happened: running, then done or failed; or not run after a failure."""

    key: str
    description: str
    command: str
    status: StepStatus
    detail: str = ""

    def to_json_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "description": self.description,
            "command": self.command,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ProvisionResult:
    """Every step's outcome; after a failure, what exists in AWS now and what was not done."""

    ok: bool
    outcomes: tuple[StepOutcome, ...]
    exists_now: tuple[str, ...] = ()
    not_done: tuple[str, ...] = ()
    undo_commands: tuple[str, ...] = ()
    follow_up: tuple[str, ...] = ()
    error: str | None = None
    survey_error: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": [outcome.to_json_dict() for outcome in self.outcomes],
            "exists_now": list(self.exists_now),
            "not_done": list(self.not_done),
            "undo_commands": list(self.undo_commands),
            "follow_up": list(self.follow_up),
            "error": self.error,
            "survey_error": self.survey_error,
        }


# --- the plan --------------------------------------------------------------------------------


def _refused(error: Exception, action: str) -> PlanError:
    problem = aws.translate_error(error, action)
    return PlanError(f"Nothing was changed: {problem}")


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
        raise PlanError(" ".join(problems), kind="usage")


class _Planner:
    """Reads what exists and builds the steps; holds the clients the steps will use."""

    def __init__(
        self,
        method: ProvisionMethod,
        role_name: str,
        *,
        trust_policy: Mapping[str, Any],
        permissions_policy: Mapping[str, Any],
        region: str,
        policy_name: str,
        profile_name: str,
        replace_existing: bool,
        factory: ClientFactory,
    ) -> None:
        self.method = method
        self.role_name = role_name
        self.trust_policy = trust_policy
        self.permissions_policy = permissions_policy
        self.region = region
        self.policy_name = policy_name
        self.profile_name = profile_name
        self.replace_existing = replace_existing
        self.factory = factory
        self.service = TRUSTED_SERVICE[method]
        self._clients: dict[str, Any] = {}
        self.steps: list[ProvisionStep] = []
        self.in_place: list[str] = []
        self.skipped: list[Skipped] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.instance_ids: tuple[str, ...] = ()
        self.task_family: str | None = None
        self.account = ""
        self.partition = "aws"
        self.role_arn = ""

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.factory(service, region=self.region)
        return self._clients[service]

    def add(
        self, key: str, description: str, command: str, run: Callable[[StepContext], StepReport]
    ) -> None:
        self.steps.append(ProvisionStep(key, description, command, run))

    # --- account, role, policy -----------------------------------------------------------

    def identify(self) -> None:
        try:
            answer = self.client("sts").get_caller_identity()
        except Exception as error:
            raise _refused(error, "GetCallerIdentity") from None
        self.account = str(answer.get("Account", ""))
        self.partition = str(answer.get("Arn", "arn:aws:")).split(":")[1] or "aws"

    def plan_role(self) -> None:
        iam = self.client("iam")
        try:
            role: Mapping[str, Any] | None = iam.get_role(RoleName=self.role_name)["Role"]
        except Exception as error:
            if client_error_code(error) != "NoSuchEntity":
                raise _refused(error, "GetRole") from None
            role = None
        if role is None:
            self.role_arn = f"arn:{self.partition}:iam::{self.account}:role/{self.role_name}"
            self._add_create_role()
            self._add_put_policy(previous=None)
            return
        self.role_arn = str(role["Arn"])
        existing_trust = role.get("AssumeRolePolicyDocument")
        if trusts_service(existing_trust, self.service):
            self.in_place.append(f"role {self.role_name} ({self.role_arn}) trusts {self.service}")
        else:
            self.in_place.append(f"role {self.role_name} ({self.role_arn}) exists")
            self._add_update_trust(policy_document(existing_trust))
        try:
            previous = policy_document(
                iam.get_role_policy(RoleName=self.role_name, PolicyName=self.policy_name)[
                    "PolicyDocument"
                ]
            )
        except Exception as error:
            if client_error_code(error) != "NoSuchEntity":
                raise _refused(error, "GetRolePolicy") from None
            previous = None
        if previous == dict(self.permissions_policy):
            self.in_place.append(
                f"inline policy {self.policy_name} on {self.role_name} is already this one"
            )
        else:
            self._add_put_policy(previous=previous)

    def _add_create_role(self) -> None:
        iam = self.client("iam")
        trust = compact_json(self.trust_policy)
        name = self.role_name

        def run(context: StepContext) -> StepReport:
            try:
                answer = iam.create_role(
                    RoleName=name, AssumeRolePolicyDocument=trust, Description=ROLE_DESCRIPTION
                )
            except Exception as error:
                if client_error_code(error) != "EntityAlreadyExists":
                    raise
                role = iam.get_role(RoleName=name)["Role"]
                if not trusts_service(role.get("AssumeRolePolicyDocument"), self.service):
                    raise StepFailed(
                        f"Role {name} was created by someone else meanwhile and does not trust "
                        f"{self.service}; it was left as it is. Run the setup again to plan "
                        "with it."
                    ) from None
                return StepReport(f"role {name} already existed (created meanwhile): reused")
            return StepReport(
                f"created role {answer['Role']['Arn']}",
                undo=(aws_cli("iam delete-role", role_name=name),),
            )

        self.add(
            "create-role",
            f"Create role {name}, which {self.service} may assume",
            aws_cli(
                "iam create-role",
                role_name=name,
                description=ROLE_DESCRIPTION,
                assume_role_policy_document=trust,
            ),
            run,
        )

    def _add_update_trust(self, existing: dict[str, Any]) -> None:
        iam = self.client("iam")
        merged = compact_json(merged_trust(existing, self.trust_policy))
        name = self.role_name
        self.warnings.append(
            f"role {name} exists but {self.service} may not assume it: its trust policy gets "
            "one statement added (the others are kept)"
        )

        def run(context: StepContext) -> StepReport:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=merged)
            undo = aws_cli(
                "iam update-assume-role-policy",
                role_name=name,
                policy_document=compact_json(existing),
            )
            return StepReport(f"{self.service} may now assume {name}", (undo,))

        self.add(
            "update-trust",
            f"Let {self.service} assume the existing role {name}",
            aws_cli("iam update-assume-role-policy", role_name=name, policy_document=merged),
            run,
        )

    def _add_put_policy(self, previous: dict[str, Any] | None) -> None:
        iam = self.client("iam")
        document = compact_json(self.permissions_policy)
        name, policy = self.role_name, self.policy_name

        def run(context: StepContext) -> StepReport:
            iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=document)
            if previous is None:
                undo = aws_cli("iam delete-role-policy", role_name=name, policy_name=policy)
            else:
                undo = aws_cli(
                    "iam put-role-policy",
                    role_name=name,
                    policy_name=policy,
                    policy_document=compact_json(previous),
                )
            return StepReport(f"inline policy {policy} is on role {name}", (undo,))

        verb = "Replace" if previous is not None else "Put"
        self.add(
            "put-role-policy",
            f"{verb} the permissions policy {policy} on role {name}",
            aws_cli(
                "iam put-role-policy", role_name=name, policy_name=policy, policy_document=document
            ),
            run,
        )

    # --- EC2: instance profile and associations ------------------------------------------

    def plan_instance_profile(self) -> str:
        """Steps for the instance profile holding the role; returns the profile's ARN."""
        iam = self.client("iam")
        profile = self.profile_name
        try:
            existing = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
        except Exception as error:
            if client_error_code(error) != "NoSuchEntity":
                raise _refused(error, "GetInstanceProfile") from None
            existing = None
        if existing is None:
            self._add_create_profile()
            self._add_role_to_profile()
            return f"arn:{self.partition}:iam::{self.account}:instance-profile/{profile}"
        roles = [str(role.get("RoleName")) for role in existing.get("Roles") or ()]
        if self.role_name in roles:
            self.in_place.append(f"instance profile {profile} holds role {self.role_name}")
        elif roles:
            raise PlanError(
                f"Nothing was changed: instance profile {profile} already holds role "
                f"{roles[0]}, and an instance profile holds one role. Choose another "
                "instance profile name, or the role it holds."
            )
        else:
            self.in_place.append(f"instance profile {profile} exists (empty)")
            self._add_role_to_profile()
        return str(existing["Arn"])

    def _add_create_profile(self) -> None:
        iam = self.client("iam")
        profile = self.profile_name

        def run(context: StepContext) -> StepReport:
            try:
                iam.create_instance_profile(InstanceProfileName=profile)
            except Exception as error:
                if client_error_code(error) != "EntityAlreadyExists":
                    raise
                return StepReport(f"instance profile {profile} already existed: reused")
            undo = aws_cli("iam delete-instance-profile", instance_profile_name=profile)
            return StepReport(f"created instance profile {profile}", (undo,))

        self.add(
            "create-instance-profile",
            f"Create instance profile {profile}",
            aws_cli("iam create-instance-profile", instance_profile_name=profile),
            run,
        )

    def _add_role_to_profile(self) -> None:
        iam = self.client("iam")
        profile, name = self.profile_name, self.role_name

        def run(context: StepContext) -> StepReport:
            try:
                iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)
            except Exception as error:
                if client_error_code(error) not in ("LimitExceeded", "EntityAlreadyExists"):
                    raise
                held = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
                roles = [str(role.get("RoleName")) for role in held.get("Roles") or ()]
                if name not in roles:
                    raise StepFailed(
                        f"Instance profile {profile} holds role {', '.join(roles)} and can hold "
                        "only one."
                    ) from None
                return StepReport(f"instance profile {profile} already held role {name}")
            undo = aws_cli(
                "iam remove-role-from-instance-profile",
                instance_profile_name=profile,
                role_name=name,
            )
            return StepReport(f"instance profile {profile} holds role {name}", (undo,))

        self.add(
            "add-role-to-instance-profile",
            f"Put role {name} in instance profile {profile}",
            aws_cli(
                "iam add-role-to-instance-profile", instance_profile_name=profile, role_name=name
            ),
            run,
        )

    def plan_associations(self, instance_ids: Sequence[str], profile_arn: str) -> None:
        self.instance_ids = tuple(instance_ids)
        if not instance_ids:
            self.notes.append(
                "no instance was chosen: the role reaches an instance only once its instance "
                "profile is associated with it"
            )
            return
        ec2 = self.client("ec2")
        try:
            reservations = ec2.describe_instances(InstanceIds=list(instance_ids))["Reservations"]
        except Exception as error:
            if str(client_error_code(error)).startswith("InvalidInstanceID"):
                problem = aws.translate_error(error, "DescribeInstances")
                raise PlanError(
                    f"Nothing was changed: no such instance in {self.region}. {problem}",
                    kind="usage",
                ) from None
            raise _refused(error, "DescribeInstances") from None
        states = {
            str(instance["InstanceId"]): str(instance.get("State", {}).get("Name", ""))
            for reservation in reservations
            for instance in reservation.get("Instances") or ()
        }
        gone = [
            f"{iid} ({states[iid]})"
            for iid in instance_ids
            if states.get(iid) in UNUSABLE_INSTANCE_STATES
        ]
        missing = [iid for iid in instance_ids if iid not in states]
        if gone or missing:
            raise PlanError(
                "Nothing was changed: these instances cannot take an instance profile: "
                + ", ".join(gone + [f"{iid} (not found)" for iid in missing])
                + ".",
                kind="usage",
            )
        current = associations(ec2, instance_ids)
        for iid in instance_ids:
            association = current.get(iid)
            if association is None:
                self._add_associate(iid)
                continue
            arn = str(association.get("IamInstanceProfile", {}).get("Arn", ""))
            if arn == profile_arn:
                self.in_place.append(f"instance {iid} uses instance profile {self.profile_name}")
            elif self.replace_existing:
                self._add_replace(iid, str(association["AssociationId"]), arn)
            else:
                self.skipped.append(
                    Skipped(
                        iid,
                        f"it has instance profile {arn}; replacing it needs confirmation",
                        needs_confirmation=True,
                    )
                )

    def _add_associate(self, instance_id: str) -> None:
        ec2 = self.client("ec2")
        profile = self.profile_name

        def run(context: StepContext) -> StepReport:
            answer = _while_propagating(
                context,
                lambda: ec2.associate_iam_instance_profile(
                    IamInstanceProfile={"Name": profile}, InstanceId=instance_id
                ),
            )
            association = answer["IamInstanceProfileAssociation"]
            association_id = str(association["AssociationId"])
            undo = aws_cli(
                "ec2 disassociate-iam-instance-profile",
                association_id=association_id,
                region=self.region,
            )
            return StepReport(
                f"instance {instance_id} now has instance profile {profile} "
                f"({association_id}, {association.get('State', '?')})",
                (undo,),
            )

        self.add(
            f"associate:{instance_id}",
            f"Give instance {instance_id} the instance profile {profile}",
            aws_cli(
                "ec2 associate-iam-instance-profile",
                instance_id=instance_id,
                iam_instance_profile=f"Name={profile}",
                region=self.region,
            ),
            run,
        )

    def _add_replace(self, instance_id: str, association_id: str, old_arn: str) -> None:
        ec2 = self.client("ec2")
        profile = self.profile_name

        def run(context: StepContext) -> StepReport:
            answer = _while_propagating(
                context,
                lambda: ec2.replace_iam_instance_profile_association(
                    IamInstanceProfile={"Name": profile}, AssociationId=association_id
                ),
            )
            new_id = str(answer["IamInstanceProfileAssociation"]["AssociationId"])
            undo = aws_cli(
                "ec2 replace-iam-instance-profile-association",
                association_id=new_id,
                iam_instance_profile=f"Arn={old_arn}",
                region=self.region,
            )
            return StepReport(
                f"instance {instance_id} now has instance profile {profile} instead of "
                f"{old_arn} ({new_id})",
                (undo,),
            )

        self.add(
            f"replace:{instance_id}",
            f"Replace instance {instance_id}'s instance profile ({old_arn}) with {profile}",
            aws_cli(
                "ec2 replace-iam-instance-profile-association",
                association_id=association_id,
                iam_instance_profile=f"Name={profile}",
                region=self.region,
            ),
            run,
        )

    # --- ECS: a new task definition revision ---------------------------------------------

    def plan_task_definition(self, reference: str | None) -> None:
        if reference is None:
            self.notes.append(
                "no task definition was chosen: the role reaches a task only through a task "
                "definition revision whose task role it is"
            )
            return
        ecs = self.client("ecs")
        try:
            described = ecs.describe_task_definition(taskDefinition=reference, include=["TAGS"])
        except Exception as error:
            if client_error_code(error) in ("ClientException", "InvalidParameterException"):
                problem = aws.translate_error(error, "DescribeTaskDefinition")
                raise PlanError(
                    f"Nothing was changed: no task definition {reference} in {self.region}. "
                    f"{problem}",
                    kind="usage",
                ) from None
            raise _refused(error, "DescribeTaskDefinition") from None
        definition: Mapping[str, Any] = described["taskDefinition"]
        family, revision = str(definition["family"]), definition.get("revision")
        self.task_family = family
        label = f"{family}:{revision}"
        current_role = definition.get("taskRoleArn")
        if definition.get("status") == "INACTIVE":
            self.warnings.append(f"task definition {label} is INACTIVE (deregistered)")
        if current_role == self.role_arn:
            self.in_place.append(f"task definition {label} has task role {self.role_name}")
            return
        if current_role and not self.replace_existing:
            self.skipped.append(
                Skipped(
                    label,
                    f"its task role is {current_role}; a revision with {self.role_name} "
                    "instead needs confirmation",
                    needs_confirmation=True,
                )
            )
            return
        registerable = set(
            ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members
        )
        request = {
            key: value
            for key, value in definition.items()
            if key in registerable and key not in ("tags", "taskRoleArn") and value is not None
        }
        request["taskRoleArn"] = self.role_arn
        tags = described.get("tags") or []
        if tags:
            request["tags"] = tags
        dropped = sorted(key for key in definition if key not in registerable)
        if dropped:
            self.notes.append(
                f"from {label}, everything registerable is kept; AWS sets these itself: "
                + ", ".join(dropped)
            )
        self._add_register(label, family, request, str(current_role or ""))

    def _add_register(
        self, label: str, family: str, request: dict[str, Any], old_role: str
    ) -> None:
        ecs = self.client("ecs")

        def run(context: StepContext) -> StepReport:
            answer = ecs.register_task_definition(**request)["taskDefinition"]
            new_label = f"{family}:{answer['revision']}"
            context.values["task_definition"] = new_label
            undo = aws_cli(
                "ecs deregister-task-definition", task_definition=new_label, region=self.region
            )
            return StepReport(
                f"registered {answer['taskDefinitionArn']} with task role {self.role_name}",
                (undo,),
            )

        replacing = f" instead of {old_role}" if old_role else ""
        self.add(
            "register-task-definition",
            f"Register a new revision of {label} with task role {self.role_name}{replacing}",
            aws_cli(
                "ecs register-task-definition",
                cli_input_json=json.dumps(request, default=str),
                region=self.region,
            ),
            run,
        )

    # --- after -----------------------------------------------------------------------------

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


# --- running ---------------------------------------------------------------------------------


def _while_propagating(context: StepContext, call: Callable[[], Any]) -> Any:
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
    """Run the plan's steps in order; stop at the first failure and say what exists now."""
    context = context or StepContext()
    notify = on_step or (lambda outcome: None)
    outcomes: list[StepOutcome] = []
    undo: list[str] = []
    for index, step in enumerate(plan.steps):
        notify(StepOutcome(step.key, step.description, step.command, "running"))
        try:
            report = step.run(context)
        except Exception as error:
            failed = StepOutcome(
                step.key, step.description, step.command, "failed", _failure_message(error)
            )
            outcomes.append(failed)
            notify(failed)
            rest = plan.steps[index + 1 :]
            outcomes.extend(
                StepOutcome(later.key, later.description, later.command, "not run")
                for later in rest
            )
            exists_now, survey_error = _exists_now(plan)
            return ProvisionResult(
                ok=False,
                outcomes=tuple(outcomes),
                exists_now=exists_now,
                not_done=tuple(later.description for later in (step, *rest)),
                undo_commands=tuple(undo),
                error=f"{step.description}: {failed.detail}",
                survey_error=survey_error,
            )
        done = StepOutcome(step.key, step.description, step.command, "done", report.detail)
        outcomes.append(done)
        notify(done)
        undo[:0] = report.undo
    return ProvisionResult(
        ok=True,
        outcomes=tuple(outcomes),
        exists_now=plan.in_place + tuple(outcome.detail for outcome in outcomes),
        undo_commands=tuple(undo),
        follow_up=plan.follow_up(context.values),
    )


def _exists_now(plan: ProvisionPlan) -> tuple[tuple[str, ...], str | None]:
    try:
        return plan.survey(), None
    except Exception as error:
        problem = aws.translate_error(error, "reading the setup back")
        return (), f"Could not read back what exists now: {problem}"


__all__ = [
    "DEFAULT_POLICY_NAME",
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
    "StepOutcome",
    "StepReport",
    "execute",
    "plan_role_setup",
]

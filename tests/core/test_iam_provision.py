"""Setting up the role against moto's server: role, instance profile, associations with one and
several instances, replacing an association, a new task definition revision, failures halfway.

Every outcome is checked by describing the resources in moto afterwards, with a client of the
test's own, not by trusting what the setup says it did.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.core.rotation_world import FakeTime
from tests.fixtures.aws import DUMMY_KEY, MotoServer
from tui.core.iam.inventory import list_instances
from tui.core.iam.provision import (
    PlanError,
    ProvisionPlan,
    StepContext,
    execute,
    plan_role_setup,
)
from tui.core.iam.provision.running import while_propagating
from tui.core.steps import Step

REGION = "us-east-1"
ACCOUNT = "123456789012"
AMI = "ami-12c6146b"
ROLE = "rundeck-aws"
POLICY = "rundeck-aws-plugins"


def trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Trust",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }


EC2_TRUST = trust("ec2.amazonaws.com")
ECS_TRUST = trust("ecs-tasks.amazonaws.com")
PERMISSIONS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CloudWatchLogsQuery",
            "Effect": "Allow",
            "Action": ["logs:GetQueryResults", "logs:StartQuery"],
            "Resource": "*",
        }
    ],
}


class Aws:
    """The test's own view of moto: describe calls, and resources made as another admin would."""

    def __init__(self, moto: MotoServer) -> None:
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=REGION
        )
        self.iam = session.client("iam", endpoint_url=moto.url)
        self.ec2 = session.client("ec2", endpoint_url=moto.url)
        self.ecs = session.client("ecs", endpoint_url=moto.url)

    def instances(self, count: int, name: str = "rundeck") -> list[str]:
        made = self.ec2.run_instances(
            ImageId=AMI,
            MinCount=count,
            MaxCount=count,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
            ],
        )["Instances"]
        return [str(instance["InstanceId"]) for instance in made]

    def profile_of(self, instance_id: str) -> str | None:
        found = self.ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}]
        )["IamInstanceProfileAssociations"]
        live = [a for a in found if a["State"] in ("associating", "associated")]
        assert len(live) <= 1, live
        return str(live[0]["IamInstanceProfile"]["Arn"]) if live else None

    def other_profile(self, name: str = "legacy") -> str:
        self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
        self.iam.create_instance_profile(InstanceProfileName=name)
        self.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        return f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}"

    def role_names(self) -> list[str]:
        return [role["RoleName"] for role in self.iam.list_roles()["Roles"]]

    def profile_names(self) -> list[str]:
        profiles = self.iam.list_instance_profiles()["InstanceProfiles"]
        return [profile["InstanceProfileName"] for profile in profiles]

    def assert_role_set_up(self, service: str) -> None:
        role = self.iam.get_role(RoleName=ROLE)["Role"]
        principals = [
            statement["Principal"]["Service"]
            for statement in role["AssumeRolePolicyDocument"]["Statement"]
        ]
        assert service in principals
        policy = self.iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]
        assert policy == PERMISSIONS


@pytest.fixture
def world(aws_env: MotoServer) -> Aws:
    return Aws(aws_env)


def plan_ec2(instance_ids: list[str] | tuple[str, ...] = (), **options: Any) -> ProvisionPlan:
    return plan_role_setup(
        "ec2",
        ROLE,
        trust_policy=EC2_TRUST,
        permissions_policy=PERMISSIONS,
        region=REGION,
        instance_ids=instance_ids,
        **options,
    )


def plan_ecs(task_definition: str | None, **options: Any) -> ProvisionPlan:
    return plan_role_setup(
        "ecs",
        ROLE,
        trust_policy=ECS_TRUST,
        permissions_policy=PERMISSIONS,
        region=REGION,
        task_definition=task_definition,
        **options,
    )


def keys(plan: ProvisionPlan) -> list[str]:
    return [step.key for step in plan.steps]


# --- EC2 -------------------------------------------------------------------------------------


def test_role_profile_and_one_instance(world: Aws) -> None:
    (instance,) = world.instances(1)
    plan = plan_ec2([instance])
    assert keys(plan) == [
        "create-role",
        "put-role-policy",
        "create-instance-profile",
        "add-role-to-instance-profile",
        f"associate:{instance}",
    ]
    assert world.role_names() == []  # planning only reads
    seen: list[Step] = []
    result = execute(plan, on_step=seen.append)
    assert result.ok, result.error
    create_role = plan.steps[0].description  # the step of key create-role
    assert [(o.name, o.status) for o in seen[:2]] == [
        (create_role, "running"),
        (create_role, "done"),
    ]
    assert all(outcome.status == "done" for outcome in result.steps)
    world.assert_role_set_up("ec2.amazonaws.com")
    profile = world.iam.get_instance_profile(InstanceProfileName=ROLE)["InstanceProfile"]
    assert [role["RoleName"] for role in profile["Roles"]] == [ROLE]
    assert world.profile_of(instance) == profile["Arn"]
    # Undo commands come newest first: the association before the role.
    assert result.undo_commands[0].startswith("aws ec2 disassociate-iam-instance-profile")
    assert result.undo_commands[-1] == f"aws iam delete-role --role-name {ROLE}"


def test_several_instances_of_a_cluster(world: Aws) -> None:
    instances = world.instances(3)
    result = execute(plan_ec2(instances))
    assert result.ok, result.error
    arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/{ROLE}"
    assert {iid: world.profile_of(iid) for iid in instances} == dict.fromkeys(instances, arn)


def test_an_existing_association_is_left_alone_without_confirmation(world: Aws) -> None:
    legacy = world.other_profile()
    fresh, taken = world.instances(2)
    world.ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": "legacy"}, InstanceId=taken
    )
    plan = plan_ec2([fresh, taken])
    assert f"replace:{taken}" not in keys(plan) and f"associate:{taken}" not in keys(plan)
    (skipped,) = plan.skipped
    assert skipped.target == taken and legacy in skipped.reason
    assert skipped.needs_confirmation and "--replace-existing" in skipped.describe()
    assert "Left alone" in plan.preview() and taken in plan.preview()
    assert execute(plan).ok
    assert world.profile_of(taken) == legacy
    assert world.profile_of(fresh) == f"arn:aws:iam::{ACCOUNT}:instance-profile/{ROLE}"


def test_an_existing_association_is_replaced_once_confirmed(world: Aws) -> None:
    legacy = world.other_profile()
    (instance,) = world.instances(1)
    world.ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": "legacy"}, InstanceId=instance
    )
    plan = plan_ec2([instance], replace_existing=True)
    assert keys(plan)[-1] == f"replace:{instance}"
    assert legacy in plan.steps[-1].description
    result = execute(plan)
    assert result.ok, result.error
    assert world.profile_of(instance) == f"arn:aws:iam::{ACCOUNT}:instance-profile/{ROLE}"
    assert result.undo_commands[0].startswith("aws ec2 replace-iam-instance-profile-association")
    assert f"Arn={legacy}" in result.undo_commands[0]


def test_running_it_again_reuses_everything_and_does_nothing(world: Aws) -> None:
    (instance,) = world.instances(1)
    assert execute(plan_ec2([instance])).ok
    again = plan_ec2([instance])
    assert not again.changes_anything
    assert "# Nothing to do." in again.preview()
    facts = " | ".join(again.in_place)
    assert "trusts ec2.amazonaws.com" in facts
    assert f"inline policy {POLICY}" in facts
    assert f"instance {instance} uses instance profile {ROLE}" in facts


def test_an_existing_role_keeps_its_other_trusts_and_gains_ours(world: Aws) -> None:
    world.iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(ECS_TRUST))
    plan = plan_ec2()
    assert keys(plan)[:2] == ["update-trust", "put-role-policy"]
    assert any("trust policy gets one statement added" in warning for warning in plan.warnings)
    assert execute(plan).ok
    statements = world.iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert {s["Principal"]["Service"] for s in statements} == {
        "ecs-tasks.amazonaws.com",
        "ec2.amazonaws.com",
    }


def test_an_instance_profile_holding_another_role_stops_the_plan(world: Aws) -> None:
    world.iam.create_role(RoleName="other", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    world.iam.create_instance_profile(InstanceProfileName=ROLE)
    world.iam.add_role_to_instance_profile(InstanceProfileName=ROLE, RoleName="other")
    with pytest.raises(PlanError, match="already holds role other"):
        plan_ec2()
    assert ROLE not in world.role_names()


def test_no_instance_chosen_says_how_to_associate_later(world: Aws) -> None:
    plan = plan_ec2()
    assert keys(plan)[-1] == "add-role-to-instance-profile"
    assert any("no instance was chosen" in note for note in plan.notes)
    assert "aws ec2 associate-iam-instance-profile" in plan.preview()


def test_list_instances_shows_names_and_current_profiles(world: Aws) -> None:
    legacy = world.other_profile()
    (first,) = world.instances(1, name="rundeck-1")
    (second,) = world.instances(1, name="rundeck-2")
    world.ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": "legacy"}, InstanceId=second
    )
    choices = {choice.instance_id: choice for choice in list_instances(REGION)}
    assert choices[first].name == "rundeck-1" and choices[first].instance_profile_arn is None
    assert choices[second].instance_profile_arn == legacy
    assert choices[second].state == "running"


# --- ECS -------------------------------------------------------------------------------------

CONTAINERS = [
    {
        "name": "rundeck",
        "image": "rundeck/rundeck:5.8.0",
        "memory": 2048,
        "essential": True,
        "portMappings": [{"containerPort": 4440, "hostPort": 4440, "protocol": "tcp"}],
        "environment": [{"name": "RUNDECK_GRAILS_URL", "value": "http://rundeck:4440"}],
    }
]


def register_rundeck_task(world: Aws, **extra: Any) -> dict[str, Any]:
    answer = world.ecs.register_task_definition(
        family="rundeck",
        containerDefinitions=CONTAINERS,
        cpu="1024",
        memory="2048",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
        tags=[{"key": "team", "value": "ops"}],
        **extra,
    )
    definition: dict[str, Any] = answer["taskDefinition"]
    return definition


CARRIED_OVER = (
    "containerDefinitions",
    "cpu",
    "memory",
    "networkMode",
    "requiresCompatibilities",
    "executionRoleArn",
    "volumes",
    "placementConstraints",
)


def test_a_new_task_definition_revision_with_the_role_keeps_everything_else(world: Aws) -> None:
    before = register_rundeck_task(world)
    plan = plan_ecs("rundeck", cluster="ops", service="rundeck")
    assert keys(plan) == ["create-role", "put-role-policy", "register-task-definition"]
    assert any("taskDefinitionArn" in note and "revision" in note for note in plan.notes)
    result = execute(plan)
    assert result.ok, result.error
    world.assert_role_set_up("ecs-tasks.amazonaws.com")
    described = world.ecs.describe_task_definition(taskDefinition="rundeck", include=["TAGS"])
    after = described["taskDefinition"]
    assert after["revision"] == before["revision"] + 1
    assert after["taskRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    assert {k: after.get(k) for k in CARRIED_OVER} == {k: before.get(k) for k in CARRIED_OVER}
    assert described["tags"] == [{"key": "team", "value": "ops"}]
    assert result.follow_up[-1] == (
        "aws ecs update-service --cluster ops --service rundeck "
        f"--task-definition rundeck:{after['revision']} --region {REGION}"
    )
    assert result.undo_commands[0] == (
        f"aws ecs deregister-task-definition --task-definition rundeck:{after['revision']} "
        f"--region {REGION}"
    )


def test_a_task_definition_with_another_task_role_needs_confirmation(world: Aws) -> None:
    old_role = f"arn:aws:iam::{ACCOUNT}:role/old-task-role"
    register_rundeck_task(world, taskRoleArn=old_role)
    plan = plan_ecs("rundeck:1")
    assert "register-task-definition" not in keys(plan)
    assert plan.skipped[0].target == "rundeck:1" and old_role in plan.skipped[0].reason
    assert execute(plan).ok
    latest = world.ecs.describe_task_definition(taskDefinition="rundeck")["taskDefinition"]
    assert latest["revision"] == 1
    confirmed = plan_ecs("rundeck:1", replace_existing=True)
    assert keys(confirmed)[-1] == "register-task-definition"
    assert old_role in confirmed.steps[-1].description
    assert execute(confirmed).ok
    latest = world.ecs.describe_task_definition(taskDefinition="rundeck")["taskDefinition"]
    assert (latest["revision"], latest["taskRoleArn"]) == (2, f"arn:aws:iam::{ACCOUNT}:role/{ROLE}")


def test_an_unknown_task_definition_stops_the_plan(world: Aws) -> None:
    with pytest.raises(PlanError, match="no task definition nope") as raised:
        plan_ecs("nope")
    assert raised.value.kind == "usage"
    assert world.role_names() == []


# --- the preview -----------------------------------------------------------------------------


def test_the_preview_is_a_shell_script_whose_documents_are_the_policies(world: Aws) -> None:
    (instance,) = world.instances(1)
    plan = plan_ec2([instance])
    commands = [line for line in plan.preview().splitlines() if line.startswith("aws ")]
    assert commands == [step.command for step in plan.steps]
    create_role = shlex.split(commands[0])
    document = create_role[create_role.index("--assume-role-policy-document") + 1]
    assert json.loads(document) == EC2_TRUST
    put_policy = shlex.split(commands[1])
    assert json.loads(put_policy[put_policy.index("--policy-document") + 1]) == PERMISSIONS
    associate = shlex.split(commands[-1])
    assert associate[:3] == ["aws", "ec2", "associate-iam-instance-profile"]
    assert associate[associate.index("--instance-id") + 1] == instance
    assert plan.to_json_dict()["steps"][0]["command"] == commands[0]


def test_the_task_definition_preview_carries_the_registration_request(world: Aws) -> None:
    register_rundeck_task(world)
    plan = plan_ecs("rundeck")
    words = shlex.split(plan.steps[-1].command)
    request = json.loads(words[words.index("--cli-input-json") + 1])
    assert request["taskRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    assert request["family"] == "rundeck" and request["tags"] == [{"key": "team", "value": "ops"}]
    assert not {"taskDefinitionArn", "revision", "status", "compatibilities"} & set(request)
    assert "--cluster CLUSTER --service SERVICE --task-definition rundeck" in plan.preview()


# --- bad input changes nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"role_name": "bad name!"}, "role name"),
        ({"instance_ids": ["web-1"]}, "Not an instance id"),
        ({"region": "mars"}, "region"),
        ({"policy_name": ""}, "policy name"),
    ],
)
def test_bad_input_is_refused_before_any_call(
    world: Aws, options: dict[str, Any], words: str
) -> None:
    arguments: dict[str, Any] = {
        "trust_policy": EC2_TRUST,
        "permissions_policy": PERMISSIONS,
        "region": REGION,
        **options,
    }
    role_name = arguments.pop("role_name", ROLE)
    with pytest.raises(PlanError, match=words) as raised:
        plan_role_setup("ec2", role_name, **arguments)
    assert raised.value.kind == "usage"
    assert world.role_names() == []


def test_an_instance_that_does_not_exist_stops_the_plan(world: Aws) -> None:
    (instance,) = world.instances(1)
    with pytest.raises(PlanError, match="i-0000000000000dead") as raised:
        plan_ec2([instance, "i-0000000000000dead"])
    assert raised.value.kind == "usage"
    assert world.role_names() == [] and world.profile_names() == []


def test_a_terminated_instance_stops_the_plan(world: Aws) -> None:
    (instance,) = world.instances(1)
    world.ec2.terminate_instances(InstanceIds=[instance])
    with pytest.raises(PlanError, match=f"{instance} \\(terminated\\)"):
        plan_ec2([instance])


# --- failures halfway ------------------------------------------------------------------------


def test_a_policy_iam_rejects_stops_after_the_role_and_says_what_exists(world: Aws) -> None:
    (instance,) = world.instances(1)
    malformed = {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*"}]}
    plan = plan_role_setup(
        "ec2",
        ROLE,
        trust_policy=EC2_TRUST,
        permissions_policy=malformed,
        region=REGION,
        instance_ids=[instance],
    )
    result = execute(plan)
    assert not result.ok
    assert [(o["key"], o["status"]) for o in result.to_json_dict()["steps"]] == [
        ("create-role", "done"),
        ("put-role-policy", "failed"),
        ("create-instance-profile", "not run"),
        ("add-role-to-instance-profile", "not run"),
        (f"associate:{instance}", "not run"),
    ]
    assert "MalformedPolicyDocument" in (result.error or "")
    # What the report says exists is what moto holds.
    assert world.role_names() == [ROLE] and world.profile_names() == []
    assert world.profile_of(instance) is None
    assert result.survey_error is None
    assert result.exists_now == (
        f"role {ROLE}: exists (arn:aws:iam::{ACCOUNT}:role/{ROLE}); "
        "ec2.amazonaws.com may assume it",
        f"inline policy {POLICY} on {ROLE}: absent",
        f"instance profile {ROLE}: does not exist",
        f"instance {instance}: no instance profile",
    )
    assert len(result.not_done) == 4 and result.not_done[0].startswith("Put the permissions")
    assert result.undo_commands == (f"aws iam delete-role --role-name {ROLE}",)


def test_an_instance_taken_meanwhile_fails_that_step_and_the_report_says_so(world: Aws) -> None:
    legacy = world.other_profile()
    first, second, third = world.instances(3)
    plan = plan_ec2([first, second, third])
    # Another administrator associates the second instance between preview and run.
    world.ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": "legacy"}, InstanceId=second
    )
    result = execute(plan)
    assert not result.ok
    statuses = {o["key"]: o["status"] for o in result.to_json_dict()["steps"]}
    assert statuses[f"associate:{first}"] == "done"
    assert statuses[f"associate:{second}"] == "failed"
    assert statuses[f"associate:{third}"] == "not run"
    ours = f"arn:aws:iam::{ACCOUNT}:instance-profile/{ROLE}"
    assert (world.profile_of(first), world.profile_of(second), world.profile_of(third)) == (
        ours,
        legacy,
        None,
    )
    report = "\n".join(result.exists_now)
    assert f"instance {first}: instance profile {ours}" in report
    assert f"instance {second}: instance profile {legacy}" in report
    assert f"instance {third}: no instance profile" in report
    assert f"instance profile {ROLE}: exists, holding {ROLE}" in report
    assert "IncorrectState" in (result.error or "")


# --- eventual consistency --------------------------------------------------------------------


def propagation_error() -> ClientError:
    return ClientError(
        {
            "Error": {
                "Code": "InvalidParameterValue",
                "Message": "Value (rundeck-aws) for parameter iamInstanceProfile.name is "
                "invalid. Invalid IAM Instance Profile name",
            }
        },
        "AssociateIamInstanceProfile",
    )


def test_a_new_instance_profile_ec2_does_not_know_yet_is_retried() -> None:
    clock = FakeTime()
    answers: list[Any] = [propagation_error(), propagation_error(), {"ok": True}]

    def call() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    context = StepContext(sleep=clock.sleep, monotonic=clock.monotonic)
    assert while_propagating(context, call) == {"ok": True}
    assert clock.slept == [2.0, 4.0]


def test_other_errors_and_a_spent_deadline_are_not_retried() -> None:
    clock = FakeTime()
    context = StepContext(sleep=clock.sleep, monotonic=clock.monotonic)

    def refused() -> Any:
        raise ClientError({"Error": {"Code": "UnauthorizedOperation"}}, "Associate")

    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        while_propagating(context, refused)
    assert clock.slept == []

    def never_ready() -> Any:
        raise propagation_error()

    with pytest.raises(ClientError, match="Invalid IAM Instance Profile"):
        while_propagating(context, never_ready)
    assert 50 <= sum(clock.slept) <= 60

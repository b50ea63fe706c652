"""``provision`` and ``policy-check`` against moto's server, through the real argument parser and
the commands' run functions (in-process, output captured), checked by describing moto after.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import DUMMY_KEY, MotoServer
from tests.fixtures.ecs_metadata import LoopbackHttpServer
from tui.cli import EXIT_AWS, EXIT_OK, EXIT_USAGE, SafeArgumentParser
from tui.commands.provision import (
    DEFAULT_ROLE_NAME,
    _run,
    add_provision_parsers,
    run_policy_check,
    run_provision,
)
from tui.core.iam.catalog import find
from tui.core.iam.policy import permissions_policy, trust_policy
from tui.core.iam.provision import plan_role_setup
from tui.core.model import Method

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROFILE_ARN = f"arn:aws:iam::{ACCOUNT}:instance-profile/{DEFAULT_ROLE_NAME}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{DEFAULT_ROLE_NAME}"


def parse(*argv: str) -> argparse.Namespace:
    parser = SafeArgumentParser(prog="pa-aws-setup")
    add_provision_parsers(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def run(*argv: str) -> int:
    options = parse(*argv)
    runner = run_provision if options.command == "provision" else run_policy_check
    return runner(options)


class Moto:
    def __init__(self, moto: MotoServer) -> None:
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=REGION
        )
        self.iam = session.client("iam", endpoint_url=moto.url)
        self.ec2 = session.client("ec2", endpoint_url=moto.url)
        self.ecs = session.client("ecs", endpoint_url=moto.url)

    def instances(self, count: int) -> list[str]:
        made = self.ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count)
        return [str(instance["InstanceId"]) for instance in made["Instances"]]

    def profile_of(self, instance_id: str) -> str | None:
        found = self.ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}]
        )["IamInstanceProfileAssociations"]
        live = [a for a in found if a["State"] in ("associating", "associated")]
        return str(live[0]["IamInstanceProfile"]["Arn"]) if live else None

    def role_names(self) -> list[str]:
        return [role["RoleName"] for role in self.iam.list_roles()["Roles"]]


@pytest.fixture
def moto(aws_env: MotoServer) -> Moto:
    return Moto(aws_env)


def test_dry_run_prints_the_commands_and_changes_nothing(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    (instance,) = moto.instances(1)
    code = run(
        "provision", "--method", "ec2", "--plugins", "ec2-nodes,ssm",
        "--instance", instance, "--dry-run",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert f"aws iam create-role --role-name {DEFAULT_ROLE_NAME}" in out
    assert "aws iam put-role-policy" in out and "ssm:SendCommand" in out
    assert f"--instance-id {instance}" in out
    assert "Dry run: nothing was changed." in out
    assert moto.role_names() == [] and moto.profile_of(instance) is None


def test_provision_ec2_for_a_cluster_with_json(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = moto.instances(2)
    code = run(
        "provision", "--method", "ec2", "--plugins", "ec2-nodes",
        "--instance", first, "--instance", second, "--yes", "--json",
    )  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert (document["command"], document["ok"], document["changed"]) == ("provision", True, True)
    assert [step["status"] for step in document["result"]["steps"]] == ["done"] * 6
    assert (moto.profile_of(first), moto.profile_of(second)) == (PROFILE_ARN, PROFILE_ARN)
    policy = moto.iam.get_role_policy(RoleName=DEFAULT_ROLE_NAME, PolicyName="rundeck-aws-plugins")
    actions = {a for s in policy["PolicyDocument"]["Statement"] for a in s["Action"]}
    assert "ec2:DescribeInstances" in actions


def test_provision_ecs_registers_a_revision_and_says_how_to_roll_it_out(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    moto.ecs.register_task_definition(
        family="rundeck",
        containerDefinitions=[{"name": "rundeck", "image": "rundeck/rundeck:5", "memory": 1024}],
    )
    code = run(
        "provision", "--method", "ecs", "--plugins", "ecs-nodes", "--task-definition", "rundeck",
        "--cluster", "ops", "--service", "rundeck", "--yes",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == EXIT_OK
    latest = moto.ecs.describe_task_definition(taskDefinition="rundeck")["taskDefinition"]
    assert (latest["revision"], latest["taskRoleArn"]) == (2, ROLE_ARN)
    assert "✓ Register a new revision of rundeck:1" in out
    assert (
        "aws ecs update-service --cluster ops --service rundeck --task-definition rundeck:2 "
        f"--region {REGION}"
    ) in out
    assert out.rstrip().endswith("Done.")


def test_without_yes_and_no_terminal_nothing_changes(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("provision", "--method", "ec2", "--plugins", "ec2-nodes")
    assert code == EXIT_USAGE
    assert "pass --yes" in capsys.readouterr().err
    assert moto.role_names() == []


def test_an_existing_association_needs_replace_existing(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    (instance,) = moto.instances(1)
    moto.iam.create_instance_profile(InstanceProfileName="legacy")
    moto.ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": "legacy"}, InstanceId=instance
    )
    argv = ["provision", "--method", "ec2", "--plugins", "ec2-nodes", "--instance", instance]
    assert run(*argv, "--yes") == EXIT_OK
    assert "Left alone: " + instance in capsys.readouterr().out
    assert moto.profile_of(instance).endswith("/legacy")  # type: ignore[union-attr]
    assert run(*argv, "--yes", "--replace-existing") == EXIT_OK
    assert moto.profile_of(instance) == PROFILE_ARN
    assert run(*argv, "--yes") == EXIT_OK
    assert "Nothing to do: all in place." in capsys.readouterr().out


def test_a_failure_halfway_prints_what_exists_and_how_to_undo_it(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = moto.instances(2)
    options = parse(
        "provision", "--method", "ec2", "--plugins", "ec2-nodes",
        "--instance", first, "--instance", second, "--yes",
    )  # fmt: skip
    plan = plan_role_setup(
        "ec2",
        DEFAULT_ROLE_NAME,
        trust_policy=trust_policy(Method.EC2),
        permissions_policy=permissions_policy(find(["ec2-nodes"])),
        region=REGION,
        instance_ids=[first, second],
    )
    moto.iam.create_instance_profile(InstanceProfileName="legacy")
    moto.ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": "legacy"}, InstanceId=second
    )
    code = _run(options, plan, {"plan": plan.to_json_dict()}).exit_code
    captured = capsys.readouterr()
    assert code == EXIT_AWS
    assert f"Stopped: Give instance {second} the instance profile" in captured.err
    assert "IncorrectState" in captured.err
    out = captured.out
    assert f"✓ Give instance {first} the instance profile {DEFAULT_ROLE_NAME}" in out
    exists = out.split("What exists in AWS now:")[1].split("Not done:")[0]
    assert f"instance {first}: instance profile {PROFILE_ARN}" in exists
    legacy = f"arn:aws:iam::{ACCOUNT}:instance-profile/legacy"
    assert f"instance {second}: instance profile {legacy}" in exists
    assert f"aws iam delete-role --role-name {DEFAULT_ROLE_NAME}" in out.split("To undo")[1]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--plugins", "no-such-plugin"], "Unknown plugin 'no-such-plugin'"),
        (["--plugins", "ec2-nodes", "--task-definition", "rundeck"], "go with --method ecs"),
        (["--plugins", "ec2-nodes", "--instance", "i-0000000000000dead"], "no such instance"),
        (["--plugins", "s3", "--resource", "bucket"], "KIND=ARN"),
        (["--plugins", "ec2-nodes", "--role-name", "no spaces"], "role name"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    moto: Moto, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    assert run("provision", "--method", "ec2", *argv, "--yes") == EXIT_USAGE
    assert words in capsys.readouterr().err
    assert moto.role_names() == []


def test_no_region_is_a_usage_error(
    moto: Moto, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert run("provision", "--method", "ec2", "--plugins", "ec2-nodes", "--yes") == EXIT_USAGE
    assert "--region" in capsys.readouterr().err


def test_current_instance_comes_from_the_instance_metadata(
    moto: Moto,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    loopback_http: Callable[[], LoopbackHttpServer],
) -> None:
    (instance,) = moto.instances(1)
    imds = loopback_http()
    imds.route("PUT", "/latest/api/token", "imds-token")
    imds.route("GET", "/latest/meta-data/instance-id", instance)
    imds.route("GET", "/latest/meta-data/placement/region", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code = run(
        "provision", "--method", "ec2", "--plugins", "ec2-nodes", "--current-instance", "--yes"
    )
    assert code == EXIT_OK, capsys.readouterr().err
    assert moto.profile_of(instance) == PROFILE_ARN


# --- policy-check ----------------------------------------------------------------------------


def test_policy_check_against_moto_is_unknown_and_says_why(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    role = moto.iam.create_role(
        RoleName="rundeck", AssumeRolePolicyDocument=json.dumps(trust_policy(Method.EC2))
    )["Role"]
    code = run(
        "policy-check", "--plugins", "ec2-nodes", "--plugins", "ssm", "--principal", role["Arn"]
    )
    out = capsys.readouterr().out
    assert code == EXIT_AWS
    assert f"Permissions of {role['Arn']}:" in out
    lines = [line for line in out.splitlines() if line.startswith("  ? ")]
    assert len(lines) == 2 and all("unknown: " in line for line in lines)
    assert "SimulatePrincipalPolicy" in lines[0]


def test_policy_check_json(moto: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    role = moto.iam.create_role(
        RoleName="rundeck", AssumeRolePolicyDocument=json.dumps(trust_policy(Method.EC2))
    )["Role"]
    code = run("policy-check", "--plugins", "s3", "--principal", role["Arn"], "--json")
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == EXIT_AWS == document["exit_code"]
    assert (document["command"], document["ok"], document["state"]) == (
        "policy-check",
        False,
        "unknown",
    )
    assert [plugin["plugin"] for plugin in document["plugins"]] == ["s3"]


def test_policy_check_unknown_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy-check", "--plugins", "nope", "--json") == EXIT_USAGE
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False and "Unknown plugin" in document["error"]

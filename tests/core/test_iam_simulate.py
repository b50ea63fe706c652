"""The permission check: recorded SimulatePrincipalPolicy answers mapped to verdicts (pure, and
through botocore's Stubber on a real client, which checks them against AWS's model), and the
honest unknown paths against moto's server, which has no simulation.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from tests.fixtures.aws import DUMMY_KEY, LoopbackPort, MotoServer
from tui.core.iam import simulate as simulate_module
from tui.core.iam.simulate import (
    PluginVerdict,
    SimulationUnavailable,
    policy_source_arn,
    simulate,
    verdicts_from_results,
)
from tui.core.secret import Secret

RESPONSES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("iam_simulation_responses.json")).read_text(encoding="utf-8")
)
ACCOUNT = "123456789012"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
CLOUDWATCH = ("logs:StartQuery", "logs:GetQueryResults")
SAVED_QUERY = ("logs:StartQuery", "logs:GetQueryResults", "logs:DescribeQueryDefinitions")
EC2_START_STOP = ("ec2:StartInstances", "ec2:StopInstances")


def results(name: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = RESPONSES[name]["EvaluationResults"]
    return answer


def by_plugin(verdicts: tuple[PluginVerdict, ...]) -> dict[str, PluginVerdict]:
    return {verdict.plugin_id: verdict for verdict in verdicts}


# --- the pure mapping, on recorded answers ---------------------------------------------------


def test_every_action_allowed_makes_the_plugins_allowed() -> None:
    verdicts = by_plugin(
        verdicts_from_results(
            {"cloudwatch-logs": CLOUDWATCH, "ec2-start-stop": EC2_START_STOP},
            results("all_allowed"),
        )
    )
    assert {name: verdict.state for name, verdict in verdicts.items()} == {
        "cloudwatch-logs": "allowed",
        "ec2-start-stop": "allowed",
    }
    assert verdicts["cloudwatch-logs"].missing_actions == ()


def test_an_implicit_deny_names_the_missing_actions_and_spares_other_plugins() -> None:
    verdicts = by_plugin(
        verdicts_from_results(
            {"query": ("logs:StartQuery",), "saved-query": SAVED_QUERY},
            results("one_implicitly_denied"),
        )
    )
    assert verdicts["query"].state == "allowed"
    saved = verdicts["saved-query"]
    assert saved.state == "denied"
    assert saved.missing_actions == ("logs:GetQueryResults", "logs:DescribeQueryDefinitions")
    assert "logs:GetQueryResults" in saved.reason and "explicit" not in saved.reason.lower()


def test_an_explicit_deny_is_denied_and_says_so() -> None:
    (verdict,) = verdicts_from_results(
        {"lambda": ("lambda:InvokeFunction",)}, results("explicit_deny")
    )
    assert verdict.state == "denied"
    assert verdict.missing_actions == ("lambda:InvokeFunction",)
    assert "explicit Deny" in verdict.reason


def test_a_decision_that_hangs_on_missing_condition_keys_is_unknown_not_a_guess() -> None:
    (verdict,) = verdicts_from_results(
        {"s3": ("s3:GetObject", "s3:PutObject", "s3:ListBucket")},
        results("depends_on_condition"),
    )
    assert verdict.state == "unknown"
    assert verdict.condition_keys == ("aws:SourceIp",)
    assert "s3:GetObject" in verdict.reason and "aws:SourceIp" in verdict.reason


def test_an_outright_denial_outweighs_an_uncertain_action() -> None:
    mixed = [*results("depends_on_condition"), *results("one_implicitly_denied")]
    (verdict,) = verdicts_from_results({"both": ("s3:GetObject", "logs:GetQueryResults")}, mixed)
    assert verdict.state == "denied"
    assert verdict.missing_actions == ("logs:GetQueryResults",)


def test_an_action_missing_from_the_results_is_unknown() -> None:
    (verdict,) = verdicts_from_results({"ssm": ("ssm:SendCommand",)}, results("all_allowed"))
    assert verdict.state == "unknown"
    assert "ssm:SendCommand" in verdict.reason


def test_action_names_match_whatever_their_case() -> None:
    lowered = [
        {**result, "EvalActionName": result["EvalActionName"].lower()}
        for result in results("all_allowed")
    ]
    (verdict,) = verdicts_from_results({"ec2": EC2_START_STOP}, lowered)
    assert verdict.state == "allowed"


def test_a_plugin_without_actions_is_unknown() -> None:
    (verdict,) = verdicts_from_results({"empty": ()}, results("all_allowed"))
    assert verdict.state == "unknown"


# --- principals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "source"),
    [
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/rundeck-ec2/i-0abc123",
            f"arn:aws:iam::{ACCOUNT}:role/rundeck-ec2",
        ),
        (
            f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/Ops/jane@example.com",
            f"arn:aws-cn:iam::{ACCOUNT}:role/Ops",
        ),
        (f"arn:aws:iam::{ACCOUNT}:user/svc/rundeck", f"arn:aws:iam::{ACCOUNT}:user/svc/rundeck"),
        (f"arn:aws:iam::{ACCOUNT}:role/path/r", f"arn:aws:iam::{ACCOUNT}:role/path/r"),
    ],
)
def test_the_simulated_arn_of_a_caller(caller: str, source: str) -> None:
    assert policy_source_arn(caller) == source


@pytest.mark.parametrize(
    ("caller", "words"),
    [
        (f"arn:aws:iam::{ACCOUNT}:root", "root"),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", "federated"),
        ("not-an-arn", "not an ARN"),
    ],
)
def test_callers_iam_cannot_simulate_are_refused_with_a_reason(caller: str, words: str) -> None:
    with pytest.raises(SimulationUnavailable, match=words):
        policy_source_arn(caller)


# --- through botocore's Stubber: pagination, batches, the assumed-role ARN -------------------


@pytest.fixture
def stubbed_iam() -> Iterator[tuple[Any, Stubber]]:
    iam = boto3.session.Session().client(
        "iam",
        region_name="us-east-1",
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        config=Config(retries={"max_attempts": 1}),
    )
    with Stubber(iam) as stubber:
        yield iam, stubber
        stubber.assert_no_pending_responses()


def test_pages_are_followed_and_an_assumed_role_is_simulated_as_its_role(
    stubbed_iam: tuple[Any, Stubber],
) -> None:
    iam, stubber = stubbed_iam
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/rundeck-ecs"
    # No iam:GetRole: the path-less role ARN is simulated.
    stubber.add_client_error("get_role", "AccessDenied", "not authorized", 403)
    actions = ["ecs:ListClusters", "ecs:ListServices"]
    stubber.add_response(
        "simulate_principal_policy",
        RESPONSES["page_1_of_2"],
        {"PolicySourceArn": role_arn, "ActionNames": actions},
    )
    stubber.add_response(
        "simulate_principal_policy",
        RESPONSES["page_2_of_2"],
        {
            "PolicySourceArn": role_arn,
            "ActionNames": actions,
            "Marker": RESPONSES["page_1_of_2"]["Marker"],
        },
    )
    check = simulate(
        {"ecs-nodes": actions, "ecs-list": ("ecs:ListClusters",)},
        principal_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/rundeck-ecs/task-1",
        client_factory=lambda service, **_: iam,
    )
    assert check.simulated_arn == role_arn
    verdicts = by_plugin(check.verdicts)
    assert verdicts["ecs-nodes"].state == "denied"
    assert verdicts["ecs-nodes"].missing_actions == ("ecs:ListServices",)
    assert verdicts["ecs-list"].state == "allowed"
    assert check.state == "denied"
    assert "session policies" in check.note


def test_many_actions_go_in_batches(
    stubbed_iam: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    iam, stubber = stubbed_iam
    monkeypatch.setattr(simulate_module, "BATCH_SIZE", 2)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/service-role/rundeck"
    stubber.add_response("get_role", _role(role_arn), {"RoleName": "rundeck"})
    answer = RESPONSES["all_allowed"]
    for start in (0, 2):
        names = [r["EvalActionName"] for r in answer["EvaluationResults"][start : start + 2]]
        stubber.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": answer["EvaluationResults"][start : start + 2]},
            {"PolicySourceArn": role_arn, "ActionNames": names},
        )
    check = simulate(
        {"cloudwatch-logs": CLOUDWATCH, "ec2-start-stop": EC2_START_STOP},
        principal_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/rundeck/i-0abc",
        client_factory=lambda service, **_: iam,
    )
    # The role's path came from GetRole: the session ARN does not carry it.
    assert check.simulated_arn == role_arn
    assert check.state == "allowed"


def _role(arn: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    name = arn.rsplit("/", 1)[-1]
    return {
        "Role": {
            "Path": "/service-role/",
            "RoleName": name,
            "RoleId": "AROAEXAMPLEEXAMPLE01",
            "Arn": arn,
            "CreateDate": datetime(2024, 1, 1, tzinfo=UTC),
        }
    }


# --- against moto's server: the unknown paths ------------------------------------------------


def _moto_iam(moto: MotoServer) -> Any:
    return boto3.session.Session(
        aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name="us-east-1"
    ).client("iam", endpoint_url=moto.url)


def test_moto_has_no_simulation_so_every_plugin_is_unknown_with_the_reason(
    aws_env: MotoServer,
) -> None:
    role = _moto_iam(aws_env).create_role(
        RoleName="rundeck", Path="/service-role/", AssumeRolePolicyDocument=json.dumps(EC2_TRUST)
    )["Role"]
    check = simulate(
        {"cloudwatch-logs": CLOUDWATCH, "ec2-start-stop": EC2_START_STOP},
        principal_arn=role["Arn"],
    )
    assert [verdict.state for verdict in check.verdicts] == ["unknown", "unknown"]
    assert check.state == "unknown"
    reason = check.verdicts[0].reason
    assert "SimulatePrincipalPolicy" in reason and "could not be checked" in reason
    assert check.simulated_arn == role["Arn"]


def test_an_assumed_role_session_is_simulated_as_its_role_with_its_path(
    aws_env: MotoServer,
) -> None:
    iam = _moto_iam(aws_env)
    role = iam.create_role(
        RoleName="rundeck", Path="/service-role/", AssumeRolePolicyDocument=json.dumps(EC2_TRUST)
    )["Role"]
    sts = boto3.session.Session(
        aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name="us-east-1"
    ).client("sts", endpoint_url=aws_env.url)
    issued = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="i-0abc")["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=issued["AccessKeyId"],
        aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"],
        region_name="us-east-1",
    )

    def role_clients(service: str, **_: Any) -> Any:
        return session.client(service, endpoint_url=aws_env.url)

    check = simulate({"cloudwatch-logs": CLOUDWATCH}, client_factory=role_clients)
    assert check.principal_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/rundeck/i-0abc"
    assert check.simulated_arn == f"arn:aws:iam::{ACCOUNT}:role/service-role/rundeck"
    assert check.verdicts[0].state == "unknown"


def _moto_auth(moto: MotoServer, after_requests: str) -> None:
    """Switch moto's IAM authorisation on ("0": from the next request) or off ("inf")."""
    request = urllib.request.Request(
        f"{moto.url}/moto-api/reset-auth",
        data=after_requests.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture
def key_without_iam_rights(aws_env: MotoServer) -> Iterator[tuple[str, Secret, str]]:
    """An IAM user's key that may only read its own access keys; moto enforces it."""
    iam = _moto_iam(aws_env)
    user = iam.create_user(UserName="rundeck", Path="/svc/")["User"]
    own_keys = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ListAccessKeys", "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName="rundeck", PolicyName="own-keys", PolicyDocument=json.dumps(own_keys)
    )
    key = iam.create_access_key(UserName="rundeck")["AccessKey"]
    _moto_auth(aws_env, "0")
    try:
        yield key["AccessKeyId"], Secret(key["SecretAccessKey"]), user["Arn"]
    finally:
        _moto_auth(aws_env, "inf")


def test_credentials_without_the_simulation_right_get_unknown_and_who_may_run_it(
    key_without_iam_rights: tuple[str, Secret, str],
) -> None:
    access_key_id, secret, user_arn = key_without_iam_rights
    check = simulate({"cloudwatch-logs": CLOUDWATCH}, access_key_id=access_key_id, secret=secret)
    assert check.principal_arn == user_arn
    (verdict,) = check.verdicts
    assert verdict.state == "unknown"
    assert "may not call iam:SimulatePrincipalPolicy" in verdict.reason
    assert f"--principal {user_arn}" in verdict.reason
    assert secret.reveal() not in repr(check) + json.dumps(check.to_json_dict())


def test_an_unreachable_iam_is_unknown_and_says_offline(
    closed_port: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_KEY)
    check = simulate(
        {"cloudwatch-logs": CLOUDWATCH}, principal_arn=f"arn:aws:iam::{ACCOUNT}:role/rundeck"
    )
    (verdict,) = check.verdicts
    assert verdict.state == "unknown"
    assert "Could not reach AWS" in verdict.reason


def test_unknown_caller_when_sts_cannot_be_reached(
    closed_port: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_KEY)
    check = simulate({"cloudwatch-logs": CLOUDWATCH})
    assert check.principal_arn is None
    assert check.verdicts[0].state == "unknown"
    assert "who these credentials are" in check.verdicts[0].reason

"""Generated IAM policies: their shape, their narrowing, and the parliament linter's verdict.

parliament (duo-labs) lints identity policies against its own copy of AWS's IAM reference:
unknown actions, malformed elements, resources that fit no resource type of an action.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parliament import analyze_policy_string, enhance_finding

from tui.core.iam.catalog import Plugin, find, plugins, resource_kinds
from tui.core.iam.policy import (
    IDENTITY_ACTIONS,
    ROTATION_ACTIONS,
    USER_INLINE_POLICY_LIMIT,
    BadResource,
    permissions_policy,
    policy_size,
    resource_kinds_for,
    size_warnings,
    statement_sid,
    to_json,
    trust_policy,
)
from tui.core.model import Method

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {kind.id: [kind.example] for kind in resource_kinds()}
OWN_USER = "arn:aws:iam::*:user/${aws:username}"
# What the community auditors say of any policy that may create access keys: inherent to
# rotation, which creates the user's next key.
ROTATION_FINDINGS = {
    "CREDENTIALS_EXPOSURE",
    "PERMISSIONS_MANAGEMENT_ACTIONS",
    "PRIVILEGE_ESCALATION",
}
COMBINATIONS = {
    "ssm-and-s3": ("ssm", "s3", "s3-log-storage", "cloudwatch-logs"),
    "ecs": ("ecs-nodes", "ecs-exec", "ecs-stop-task"),
    "lambda": ("lambda", "lambda-custom-code"),
    "athena-and-s3": ("athena", "s3"),
    "ec2": ("ec2-nodes", "ec2-instances", "autoscaling", "vpc"),
    "cloudwatch": ("cloudwatch-logs", "cloudwatch-logs-saved-query"),
    "secrets": ("secrets-manager",),
    "everything": tuple(plugin.id for plugin in plugins()),
}


def lint(policy: Mapping[str, object], *, community: bool = False) -> list[Any]:
    """parliament's findings for the policy's JSON text, as its command line reports them."""
    analyzed = analyze_policy_string(to_json(policy), include_community_auditors=community)
    if community:
        return list(analyzed.findings)  # the community issues are not in enhance's table
    return [enhance_finding(finding) for finding in analyzed.findings]


def narrowable(resources: Mapping[str, Sequence[str]] | None) -> set[str]:
    """The actions the given resource kinds narrow."""
    given_kinds = {kind for kind, arns in (resources or {}).items() if arns}
    return {a for kind in resource_kinds() if kind.id in given_kinds for a in kind.actions}


def assert_lint_clean(
    policy: Mapping[str, object], resources: Mapping[str, Sequence[str]] | None = None
) -> None:
    """No finding but "Resource *" on actions no resource the user gave could narrow."""
    findings = lint(policy)
    others = [(f.issue, f.detail) for f in findings if f.issue != "RESOURCE_STAR"]
    assert others == []
    starred = {action for f in findings if f.issue == "RESOURCE_STAR" for action in f.detail}
    assert starred.isdisjoint(narrowable(resources)), starred & narrowable(resources)


def statements(policy: Mapping[str, object]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    assert isinstance(found, list)
    return found


def assert_well_formed(
    policy: Mapping[str, object], chosen: Sequence[Plugin], *, user: bool = False
) -> None:
    """IAM's shape; readable unique Sids; every needed action granted exactly once."""
    assert list(policy) == ["Version", "Statement"]
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in statements(policy)]
    assert len(set(sids)) == len(sids), sids
    granted: list[str] = []
    for statement in statements(policy):
        assert list(statement) == ["Sid", "Effect", "Action", "Resource"]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", statement["Sid"])
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == sorted(statement["Action"], key=str.lower)
        assert statement["Resource"] == "*" or (
            isinstance(statement["Resource"], list) and statement["Resource"]
        )
        granted += statement["Action"]
    assert len(set(granted)) == len(granted), "an action was granted twice"
    needed = {action for plugin in chosen for action in plugin.actions}
    if user:
        needed |= {*ROTATION_ACTIONS, *IDENTITY_ACTIONS}
    assert set(granted) == needed


def by_sid(policy: Mapping[str, object]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in statements(policy)}


# --- parliament over a spread of combinations ------------------------------------------------


def kinds_for(chosen: Sequence[Plugin]) -> dict[str, list[str]]:
    return {kind.id: EXAMPLES[kind.id] for kind in resource_kinds_for(chosen)}


@pytest.mark.parametrize("plugin_id", [plugin.id for plugin in plugins()])
@pytest.mark.parametrize("narrowed", [False, True], ids=["any-resource", "narrowed"])
def test_each_plugin_alone_lints_clean(plugin_id: str, narrowed: bool) -> None:
    chosen = find([plugin_id])
    resources = kinds_for(chosen) if narrowed else None
    policy = permissions_policy(chosen, resources)
    assert_well_formed(policy, chosen)
    assert_lint_clean(policy, resources)


@pytest.mark.parametrize("user", [False, True], ids=["role", "access-key-user"])
@pytest.mark.parametrize("narrowed", [False, True], ids=["any-resource", "narrowed"])
@pytest.mark.parametrize("combination", list(COMBINATIONS))
def test_combinations_lint_clean(combination: str, narrowed: bool, user: bool) -> None:
    chosen = find(COMBINATIONS[combination])
    resources = kinds_for(chosen) if narrowed else None
    policy = permissions_policy(chosen, resources, for_access_key_user=user)
    assert_well_formed(policy, chosen, user=user)
    assert_lint_clean(policy, resources)


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda arn: re.sub(r":[a-z]{2}-[a-z]+-\d:", ":*:", arn),  # any region
        lambda arn: arn.replace("arn:aws:", "arn:aws-us-gov:"),  # another partition
        lambda arn: arn.replace("rundeck", "rundeck-?"),  # single-character wildcard
    ],
    ids=["any-region", "gov-partition", "question-mark"],
)
def test_every_kind_of_resource_form_lints_clean(rewrite: Any) -> None:
    resources = {kind: [rewrite(arn) for arn in arns] for kind, arns in EXAMPLES.items()}
    assert resources != EXAMPLES
    policy = permissions_policy(plugins(), resources, for_access_key_user=True)
    assert_well_formed(policy, plugins(), user=True)
    assert_lint_clean(policy, resources)


def test_the_access_key_user_policy_alone_lints_clean() -> None:
    policy = permissions_policy([], for_access_key_user=True)
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RotateOwnAccessKeys",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateAccessKey",
                    "iam:DeleteAccessKey",
                    "iam:GetAccessKeyLastUsed",
                    "iam:ListAccessKeys",
                    "iam:UpdateAccessKey",
                ],
                "Resource": [OWN_USER],
            },
            {
                "Sid": "CheckCallerIdentity",
                "Effect": "Allow",
                "Action": ["sts:GetCallerIdentity"],
                "Resource": "*",
            },
        ],
    }
    assert lint(policy) == []


def test_community_auditors_flag_only_the_key_rotation() -> None:
    """parliament's opinionated auditors see credential creation in the user's policy, and
    nothing in any policy without it."""
    everything = find(COMBINATIONS["everything"])
    role = permissions_policy(everything, EXAMPLES)
    user = permissions_policy(everything, EXAMPLES, for_access_key_user=True)
    assert [f.issue for f in lint(role, community=True) if f.issue != "RESOURCE_STAR"] == []
    flagged = [f for f in lint(user, community=True) if f.issue != "RESOURCE_STAR"]
    assert {f.issue for f in flagged} == ROTATION_FINDINGS
    rotation = {action.lower() for action in ROTATION_ACTIONS}
    assert all(set(f.location["actions"]) <= rotation for f in flagged)


def test_the_linter_is_not_blind() -> None:
    """A statement narrowed to the wrong kind of resource, or a misspelt action, is caught."""
    policy = permissions_policy(find(["s3"]), {"bucket": ["arn:aws:s3:::rundeck-artifacts"]})
    by_sid(policy)["S3StepsObjects"]["Resource"] = ["arn:aws:s3:::rundeck-artifacts"]
    assert [f.issue for f in lint(policy)] == ["RESOURCE_MISMATCH"]
    misspelt = permissions_policy(find(["s3"]))
    statements(misspelt)[0]["Action"].append("s3:GetObjects")
    assert [f.issue for f in lint(misspelt)] == ["UNKNOWN_ACTION"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chosen_ids=st.sets(st.sampled_from([plugin.id for plugin in plugins()])),
    kind_ids=st.sets(st.sampled_from(list(EXAMPLES))),
    user=st.booleans(),
)
def test_any_choice_lints_clean(chosen_ids: set[str], kind_ids: set[str], user: bool) -> None:
    chosen = find(chosen_ids)
    if not chosen and not user:
        with pytest.raises(ValueError, match="at least one plugin"):
            permissions_policy(chosen)
        return
    useful = {kind.id for kind in resource_kinds_for(chosen)}
    resources = {kind: EXAMPLES[kind] for kind in kind_ids & useful}
    policy = permissions_policy(chosen, resources, for_access_key_user=user)
    assert_well_formed(policy, chosen, user=user)
    assert_lint_clean(policy, resources)


# --- shape and narrowing ---------------------------------------------------------------------


def test_a_narrowed_plugin_gets_a_statement_per_resource_type() -> None:
    policy = permissions_policy(
        find(["ecs-exec"]), {"cluster": ["arn:aws:ecs:eu-west-1:123456789012:cluster/prod"]}
    )
    assert statements(policy) == [
        {
            "Sid": "ECSExecuteCommandNodeExecutor",
            "Effect": "Allow",
            "Action": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "Resource": "*",
        },
        {
            "Sid": "ECSExecuteCommandNodeExecutorClusters",
            "Effect": "Allow",
            "Action": ["ecs:ExecuteCommand"],
            "Resource": [
                "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
                "arn:aws:ecs:eu-west-1:123456789012:task/prod/*",
            ],
        },
    ]


def test_without_resources_one_statement_per_plugin() -> None:
    chosen = find(["ec2-nodes", "s3", "lambda"])
    policy = permissions_policy(chosen)
    assert [s["Sid"] for s in statements(policy)] == [
        "EC2NodeSource",
        "LambdaExecuteFunction",
        "S3Steps",
    ]
    assert all(s["Resource"] == "*" for s in statements(policy))


def test_a_shared_action_is_granted_once_in_the_first_plugin() -> None:
    policy = permissions_policy(find(["cloudwatch-logs-saved-query", "cloudwatch-logs"]))
    assert by_sid(policy) == {
        "CloudWatchLogsQueryOnDemand": {
            "Sid": "CloudWatchLogsQueryOnDemand",
            "Effect": "Allow",
            "Action": ["logs:GetQueryResults", "logs:StartQuery"],
            "Resource": "*",
        },
        "CloudWatchLogsExecuteSavedQuery": {
            "Sid": "CloudWatchLogsExecuteSavedQuery",
            "Effect": "Allow",
            "Action": ["logs:DescribeQueryDefinitions"],
            "Resource": "*",
        },
    }
    covered = permissions_policy(find(["s3", "s3-log-storage"]))
    assert [s["Sid"] for s in statements(covered)] == ["S3Steps"], "nothing left to grant"


def test_order_and_repeats_of_the_choice_do_not_change_the_policy() -> None:
    chosen = find(COMBINATIONS["ssm-and-s3"])
    shuffled = [*reversed(chosen), chosen[1], chosen[0]]
    resources = {"bucket": ["arn:aws:s3:::b2", "arn:aws:s3:::b1", "arn:aws:s3:::b1/*"]}
    assert permissions_policy(shuffled, resources) == permissions_policy(chosen, resources)
    assert to_json(permissions_policy(shuffled, resources)) == to_json(
        permissions_policy(chosen, resources)
    )


def test_a_resource_narrows_every_chosen_plugin_acting_on_its_kind() -> None:
    policy = permissions_policy(
        find(["athena", "s3-log-storage"]),
        {"bucket": ["arn:aws:s3:::logs-b/*", "arn:aws:s3:::athena-a", "arn:aws:s3:::logs-b"]},
    )
    assert by_sid(policy) == {
        "AthenaQueryTable": {
            "Sid": "AthenaQueryTable",
            "Effect": "Allow",
            "Action": ["athena:StartQueryExecution"],
            "Resource": "*",
        },
        "AthenaQueryTableObjects": {
            "Sid": "AthenaQueryTableObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::athena-a/*", "arn:aws:s3:::logs-b/*"],
        },
        "S3LogStorageObjects": {
            "Sid": "S3LogStorageObjects",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": ["arn:aws:s3:::athena-a/*", "arn:aws:s3:::logs-b/*"],
        },
        "S3LogStorageBuckets": {
            "Sid": "S3LogStorageBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::athena-a", "arn:aws:s3:::logs-b"],
        },
    }


def test_log_groups_cover_the_group_and_its_streams() -> None:
    group = "arn:aws:logs:eu-west-1:123456789012:log-group:/rundeck/ssm"
    policy = permissions_policy(find(["ssm"]), {"log-group": group + ":*"})  # a str is one ARN
    sids = by_sid(policy)
    assert sids["SSMNodeExecutorFileCopierLogGroups"]["Resource"] == [group, group + ":*"]
    assert sids["SSMNodeExecutorFileCopierLogStreams"]["Resource"] == [group + ":log-stream:*"]
    assert "logs:DescribeLogGroups" in sids["SSMNodeExecutorFileCopier"]["Action"]


def test_functions_cover_versions_and_aliases() -> None:
    function = "arn:aws:lambda:us-east-1:123456789012:function:rundeck-*"
    policy = permissions_policy(find(["lambda-custom-code"]), {"function": [function]})
    assert statements(policy) == [
        {
            "Sid": "LambdaCustomCodeFunctionFunctions",
            "Effect": "Allow",
            "Action": ["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:InvokeFunction"],
            "Resource": [function, function + ":*"],
        }
    ]


def test_sids_come_from_the_rundeck_names() -> None:
    assert [statement_sid(plugin) for plugin in find(["ecs-nodes", "vpc", "ec2-instances"])] == [
        "EC2StartStopInstances",
        "ECSFargateNodeSource",
        "VPCFlowLogsPeering",
    ]


def test_the_user_policy_follows_the_partition_of_the_resources() -> None:
    gov = {"bucket": ["arn:aws-us-gov:s3:::rundeck"]}
    policy = permissions_policy(find(["s3"]), gov, for_access_key_user=True)
    assert by_sid(policy)["RotateOwnAccessKeys"]["Resource"] == [
        "arn:aws-us-gov:iam::*:user/${aws:username}"
    ]
    mixed = {**gov, "function": ["arn:aws:lambda:us-east-1:123456789012:function:f"]}
    policy = permissions_policy(find(["s3", "lambda"]), mixed, for_access_key_user=True)
    assert by_sid(policy)["RotateOwnAccessKeys"]["Resource"] == [OWN_USER]


def test_the_user_policy_covers_every_iam_and_sts_call_of_the_core() -> None:
    """Drift guard: each IAM or STS call in tui/core is in the access key user's policy."""
    calls: set[str] = set()
    for source in (REPO / "tui/core").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        calls |= set(re.findall(r"\.(\w*access_key\w*|get_caller_identity)\(", text))
    assert {"create_access_key", "list_access_keys", "get_caller_identity"} <= calls
    granted = {action.split(":")[1] for action in (*ROTATION_ACTIONS, *IDENTITY_ACTIONS)}
    for call in calls:
        action = "".join(word.title() for word in call.split("_"))
        assert action in granted, f"tui/core calls {call} but the user policy lacks it"


# --- bad resources ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "arn", "complaint"),
    [
        ("bucket", "rundeck-artifacts", "not a bucket ARN"),
        ("bucket", "arn:aws:s3:::rundeck/logs/*", "not a bucket ARN"),
        ("bucket", "arn:aws:s3:us-east-1:123456789012:rundeck", "not a bucket ARN"),
        ("log-group", "arn:aws:logs:us-east-1:log-group:/x", "not a log-group ARN"),
        ("log-group", "arn:aws:lambda:us-east-1:123456789012:log-group:/x", "not a log-group"),
        ("function", "arn:aws:lambda:us-east-1:12345:function:f", "not a function ARN"),
        ("cluster", "arn:aws:ecs:us-east-1:123456789012:service/prod/web", "not a cluster"),
        ("cluster", "", "not a cluster ARN"),
        ("queue", "arn:aws:sqs:us-east-1:123456789012:q", "Unknown resource kind 'queue'"),
    ],
)
def test_a_bad_resource_is_refused_with_an_example(kind: str, arn: str, complaint: str) -> None:
    with pytest.raises(BadResource) as raised:
        permissions_policy(plugins(), {kind: [arn]})
    message = str(raised.value)
    assert complaint in message
    if kind in EXAMPLES:
        assert EXAMPLES[kind][0] in message


def test_a_resource_no_chosen_plugin_uses_is_refused() -> None:
    with pytest.raises(BadResource, match="No chosen plugin acts on S3 buckets") as raised:
        permissions_policy(find(["ec2-nodes"]), {"bucket": ["arn:aws:s3:::b"]})
    assert "athena, ssm, s3, s3-log-storage" in str(raised.value)
    with pytest.raises(BadResource):
        permissions_policy([], {"bucket": ["arn:aws:s3:::b"]}, for_access_key_user=True)


def test_an_empty_list_of_resources_narrows_nothing() -> None:
    assert permissions_policy(find(["s3"]), {"bucket": []}) == permissions_policy(find(["s3"]))


def test_nothing_chosen_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one plugin"):
        permissions_policy([])


# --- trust policies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "service", "sid"),
    [
        (Method.EC2, "ec2.amazonaws.com", "TrustEC2Instances"),
        (Method.ECS, "ecs-tasks.amazonaws.com", "TrustECSTasks"),
    ],
)
def test_trust_policy_names_the_service(method: Method, service: str, sid: str) -> None:
    policy = trust_policy(method)
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }


@pytest.mark.parametrize("method", [Method.EC2, Method.ECS])
def test_trust_policy_as_far_as_parliament_lints_one(method: Method) -> None:
    """parliament lints identity policies, which need a Resource; a trust policy has none.

    Linted as is, the missing Resource is its one complaint. With the role's own ARN added as
    the Resource (the only difference), its checks of Principal, Sid, Effect and Action pass.
    """
    policy = trust_policy(method)
    assert [(f.issue, f.detail) for f in lint(policy)] == [
        ("MALFORMED", "Statement contains neither Resource nor NotResource")
    ]
    with_resource = json.loads(to_json(policy))
    with_resource["Statement"][0]["Resource"] = "arn:aws:iam::123456789012:role/rundeck"
    assert lint(with_resource) == []
    with_resource["Statement"][0]["Principal"] = {"AWS": "ec2.amazonaws.com"}
    assert [f.issue for f in lint(with_resource)] == ["UNKNOWN_PRINCIPAL"], "not blind"


def test_the_access_key_method_has_no_trust_policy() -> None:
    with pytest.raises(ValueError, match="IAM user, not a role"):
        trust_policy(Method.ACCESS_KEY)


# --- JSON text and size ----------------------------------------------------------------------


def test_to_json_is_indented_stable_and_sorts_actions() -> None:
    hand_made: dict[str, object] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "A",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "ec2:DescribeRegions"],
                "Resource": "*",
            }
        ],
    }
    text = to_json(hand_made)
    assert text == (
        "{\n"
        '  "Version": "2012-10-17",\n'
        '  "Statement": [\n'
        "    {\n"
        '      "Sid": "A",\n'
        '      "Effect": "Allow",\n'
        '      "Action": [\n'
        '        "ec2:DescribeRegions",\n'
        '        "s3:PutObject"\n'
        "      ],\n"
        '      "Resource": "*"\n'
        "    }\n"
        "  ]\n"
        "}"
    )
    assert hand_made["Statement"][0]["Action"] == ["s3:PutObject", "ec2:DescribeRegions"]  # type: ignore[index]
    policy = permissions_policy(plugins(), EXAMPLES, for_access_key_user=True)
    assert json.loads(to_json(policy)) == policy
    assert to_json(policy) == to_json(
        permissions_policy(plugins(), EXAMPLES, for_access_key_user=True)
    )


def test_policy_size_counts_what_iam_counts() -> None:
    policy = permissions_policy(find(["autoscaling"]))
    compact = json.dumps(policy, separators=(",", ":"))
    assert policy_size(policy) == len(compact) < len(to_json(policy))
    assert size_warnings(policy, for_access_key_user=True) == []


def test_a_policy_too_big_for_an_inline_user_policy_is_flagged() -> None:
    policy = permissions_policy(plugins(), for_access_key_user=True)
    assert policy_size(policy) > USER_INLINE_POLICY_LIMIT
    warnings = size_warnings(policy, for_access_key_user=True)
    assert len(warnings) == 1
    assert f"at most {USER_INLINE_POLICY_LIMIT}" in warnings[0]
    assert "managed policy" in warnings[0]
    assert size_warnings(policy, for_access_key_user=False) == []

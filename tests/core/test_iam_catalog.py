"""The plugin catalog: its data against the domain reference and an independent IAM database.

policy_sentry bundles AWS's Service Authorization Reference as data; every action we name,
and every ARN our narrowing makes, is looked up there rather than trusted.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from policy_sentry.querying.actions import get_action_data, get_actions_for_service

from tui.core.iam import catalog
from tui.core.iam.catalog import (
    CatalogError,
    Plugin,
    UnknownPlugin,
    actions_by_plugin,
    find,
    parse_catalog,
    plugins,
    resource_kinds,
)
from tui.core.iam.policy import IDENTITY_ACTIONS, ROTATION_ACTIONS, parse_resource

REPO = Path(__file__).resolve().parents[2]

# Section 4 of the domain reference (rundeck-aws.md): every action it names, by row.
REFERENCE_ACTIONS = {
    "CloudWatch Logs: query on demand": {"logs:StartQuery", "logs:GetQueryResults"},
    "CloudWatch Logs: execute saved query": {
        "logs:StartQuery",
        "logs:GetQueryResults",
        "logs:DescribeQueryDefinitions",
    },
    "Athena: query table": {"athena:StartQueryExecution"},
    "EC2: start / stop instances": {"ec2:StartInstances", "ec2:StopInstances"},
    "EC2 node source": {
        "ec2:DescribeInstances",
        "ec2:DescribeRegions",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeImages",
    },
    "Auto Scaling: update group": {"autoscaling:UpdateAutoScalingGroup"},
    "ECS & Fargate node source": {
        "ecs:ListClusters",
        "ecs:ListServices",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
        "ecs:ListTagsForResource",
    },
    "ECS execute command / node executor": {
        "ecs:ExecuteCommand",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    },
    "ECS stop task / stopped task errors": {"ecs:ListTasks", "ecs:DescribeTasks", "ecs:StopTask"},
    "Lambda: execute function": {"lambda:InvokeFunction"},
    "Lambda: custom-code function": {
        "lambda:CreateFunction",
        "lambda:InvokeFunction",
        "lambda:DeleteFunction",
    },
    "VPC: flow logs / peering": {"ec2:CreateFlowLogs", "ec2:CreateVpcPeeringConnection"},
    "SSM node executor / file copier": {
        "ssm:SendCommand",
        "ssm:ListCommands",
        "ssm:ListCommandInvocations",
        "ssm:GetCommandInvocation",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        "logs:GetLogEvents",
    },
    "Secrets Manager key storage": {
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:ListSecrets",
    },
    "S3 steps / log storage": {"s3:GetObject", "s3:PutObject", "s3:ListBucket"},
}
# Where the reference names a need in words, the action that implements it.
REFERENCE_WORDS = {
    "athena": {"s3:GetObject"},  # "plus read on its S3 output"
    "s3": {"s3:CreateBucket", "s3:DeleteBucket"},  # "plus bucket create/delete for those steps"
}
# The reference's "S3 steps / log storage" row is split into two catalog entries.
SPLIT_ROWS = {"S3 steps / log storage": ("s3", "s3-log-storage")}


def real_actions(service: str) -> set[str]:
    """Every action policy_sentry knows for ``service``, spelled as AWS spells it."""
    return set(get_actions_for_service(service))


def arn_formats(action: str) -> list[str]:
    """The ARN formats policy_sentry says ``action`` can be narrowed to ("*" left out)."""
    service, name = action.split(":")
    rows = get_action_data(service, name).get(service, [])
    formats = [row["resource_arn_format"] for row in rows if row["action"] == action]
    return [fmt for fmt in formats if fmt != "*"]


def format_regex(arn_format: str) -> re.Pattern[str]:
    """A regex for an ARN format such as arn:${Partition}:s3:::${BucketName}/${ObjectName}."""
    pieces = re.split(r"(\$\{[^}]+\})", arn_format)
    parts = []
    for piece in pieces:
        if piece in ("${Partition}", "${Region}", "${Account}"):
            parts.append(r"[^:]*")
        elif piece.startswith("${"):
            parts.append(r".+")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def all_catalog_actions() -> set[str]:
    return {action for plugin in plugins() for action in plugin.actions}


# --- the data --------------------------------------------------------------------------------


def test_catalog_has_every_reference_row() -> None:
    """Each row of the reference is a plugin (or two, where the row joins two plugins)."""
    by_name = {plugin.name: plugin for plugin in plugins()}
    for row, actions in REFERENCE_ACTIONS.items():
        entries = [by_name[row]] if row in by_name else [p for p in find(SPLIT_ROWS[row])]
        for plugin in entries:
            extra = REFERENCE_WORDS.get(plugin.id, set())
            assert set(plugin.actions) - extra == actions, plugin.id
    covered = {p.name for p in plugins()} - set(REFERENCE_ACTIONS)
    assert covered == {"S3 steps", "S3 log storage"}


def test_only_the_s3_steps_may_create_or_delete_buckets() -> None:
    holders = {p.id for p in plugins() if {"s3:CreateBucket", "s3:DeleteBucket"} & set(p.actions)}
    assert holders == {"s3"}


def test_every_catalog_action_is_a_real_iam_action() -> None:
    """Checked against policy_sentry's database, with AWS's exact spelling."""
    checked = all_catalog_actions() | {
        action for kind in resource_kinds() for target in kind.targets for action in target.actions
    }
    assert len(checked) > 40
    unknown = sorted(a for a in checked if a not in real_actions(a.split(":")[0]))
    assert unknown == []


def test_the_access_key_user_and_trust_actions_are_real() -> None:
    for action in (*ROTATION_ACTIONS, *IDENTITY_ACTIONS, "sts:AssumeRole"):
        assert action in real_actions(action.split(":")[0]), action


def test_a_misspelt_action_would_be_caught() -> None:
    """The check above can fail: a near miss is not in the database."""
    assert "logs:StartQueries" not in real_actions("logs")
    assert "ec2:StartInstance" not in real_actions("ec2")


def test_plugin_fields() -> None:
    found = plugins()
    assert len(found) == 16
    ids = [plugin.id for plugin in found]
    names = [plugin.name.lower() for plugin in found]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    assert not set(ids) & set(names), "an id must not be another plugin's name"
    for plugin in found:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", plugin.id), plugin.id
        assert "\n" not in plugin.description and plugin.description.endswith("."), plugin.id
        assert 20 < len(plugin.description) <= 100, plugin.id
        assert len(set(plugin.actions)) == len(plugin.actions), plugin.id
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+", a) for a in plugin.actions)


def test_a_plugins_resource_kind_narrows_some_of_its_actions() -> None:
    kinds = {kind.id: kind for kind in resource_kinds()}
    for plugin in plugins():
        narrowable = [kind.id for kind in resource_kinds() if kind.actions & set(plugin.actions)]
        if plugin.resource_kind is None:
            assert narrowable == [], plugin.id
        else:
            assert kinds[plugin.resource_kind].actions & set(plugin.actions), plugin.id
            assert plugin.resource_kind in narrowable


@pytest.mark.parametrize("kind", resource_kinds(), ids=lambda kind: kind.id)
def test_narrowed_arns_fit_the_actions_resource_types(kind: catalog.ResourceKind) -> None:
    """Every ARN a target makes matches a resource type IAM documents for each of its actions."""
    examples = [kind.example]
    if kind.regional:
        examples.append(re.sub(r":[a-z]{2}-[a-z]+-\d:", ":*:", kind.example))
        assert examples[-1] != kind.example
    for example in examples:
        arn = parse_resource(kind, example)
        for target in kind.targets:
            for template in target.arns:
                made = arn.fill(template)
                for action in target.actions:
                    formats = arn_formats(action)
                    assert formats, f"{action} takes only '*': it cannot be narrowed"
                    fits = [f for f in formats if format_regex(f).fullmatch(made)]
                    assert fits, f"{made} fits no resource type of {action}: {formats}"


def test_the_arn_check_can_fail() -> None:
    """A bucket ARN is not an object ARN: the matching above tells them apart."""
    objects = [format_regex(f) for f in arn_formats("s3:GetObject")]
    assert not any(regex.fullmatch("arn:aws:s3:::rundeck-artifacts") for regex in objects)
    assert any(regex.fullmatch("arn:aws:s3:::rundeck-artifacts/*") for regex in objects)


def test_no_action_is_narrowed_by_two_kinds() -> None:
    seen: dict[str, str] = {}
    for kind in resource_kinds():
        for action in kind.actions:
            assert action not in seen, f"{action}: {seen.get(action)} and {kind.id}"
            seen[action] = kind.id


def test_the_data_file_is_packaged() -> None:
    """pyproject's package-data ships plugins.toml in the wheel."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["tui"]
    assert any(fnmatch.fnmatch("core/iam/plugins.toml", pattern) for pattern in patterns)


# --- find ------------------------------------------------------------------------------------


def test_find_by_id_or_name_in_any_case_once_each_in_catalog_order() -> None:
    found = find(["S3", "ec2 node source", " cloudwatch-logs ", "s3"])
    assert [plugin.id for plugin in found] == ["cloudwatch-logs", "ec2-nodes", "s3"]
    assert find([]) == ()


def test_find_names_every_unknown_plugin_and_the_valid_ids() -> None:
    with pytest.raises(UnknownPlugin) as raised:
        find(["ec2-node", "s3", "kubernetes"])
    problem = raised.value
    assert isinstance(problem, ValueError)
    assert problem.unknown == ("ec2-node", "kubernetes")
    message = str(problem)
    assert "'ec2-node'" in message and "'kubernetes'" in message
    assert "ec2-nodes" in message.split("Did you mean")[1]
    assert all(plugin.id in message for plugin in plugins())


def test_actions_by_plugin_sorted_without_repeats() -> None:
    extra = Plugin("custom", "Custom", "A custom plugin.", ("s3:PutObject", "s3:GetObject") * 2)
    mapping = actions_by_plugin([*find(["ec2-nodes"]), extra])
    assert mapping == {
        "ec2-nodes": (
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeImages",
            "ec2:DescribeInstances",
            "ec2:DescribeRegions",
        ),
        "custom": ("s3:GetObject", "s3:PutObject"),
    }


# --- malformed data --------------------------------------------------------------------------


def packaged() -> dict[str, Any]:
    text = (REPO / "tui/core/iam/plugins.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_the_packaged_data_parses_as_loaded() -> None:
    assert parse_catalog(packaged()) == catalog.load()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda data: data["plugins"].append(dict(data["plugins"][0])), "plugin ids repeated"),
        (lambda data: data["plugins"][0].update(resource_kind="queue"), "unknown resource_kind"),
        (lambda data: data["plugins"][0].pop("actions"), "actions must be"),
        (lambda data: data["plugins"][0].update(name=""), "name must be"),
        (
            lambda data: data["resource_kinds"][1]["targets"][0]["actions"].append(
                "logs:StartQuery"
            ),
            "narrowed actions repeated",
        ),
        (lambda data: data["resource_kinds"][0].update(regional="yes"), "regional must be"),
        (lambda data: data.pop("resource_kinds"), "[[resource_kinds]]"),
    ],
)
def test_malformed_data_is_refused(change: Any, complaint: str) -> None:
    data = packaged()
    change(data)
    with pytest.raises(CatalogError, match=re.escape(complaint)):
        parse_catalog(data)

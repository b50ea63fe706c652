"""What exists in AWS for a role setup, read back: trust and policy documents, instance
profile associations, instances to pick from, and a one-line-per-object survey.

Also the AWS CLI spelling of calls, so plans and reports show commands people can copy.
"""

from __future__ import annotations

import json
import shlex
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tui.core import aws
from tui.core.aws import ClientFactory

TRUSTED_SERVICE: dict[str, str] = {"ec2": "ec2.amazonaws.com", "ecs": "ecs-tasks.amazonaws.com"}
ACTIVE_ASSOCIATION_STATES = frozenset({"associating", "associated"})


@dataclass(frozen=True)
class InstanceChoice:
    """An instance an administrator may pick for the role, with its current instance profile."""

    instance_id: str
    name: str | None
    state: str
    instance_profile_arn: str | None


# --- documents and commands ------------------------------------------------------------------


def compact_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def aws_cli(operation: str, *, region: str | None = None, **options: str) -> str:
    """``aws iam create-role --role-name X …`` quoted for a POSIX shell; options in order."""
    words = ["aws", *operation.split()]
    for name, value in options.items():
        words += [f"--{name.replace('_', '-')}", value]
    if region is not None:
        words += ["--region", region]
    return shlex.join(words)


def policy_document(value: object) -> dict[str, Any]:
    """A policy document as a dict: boto3 decodes IAM's URL-encoded JSON, emulators may not."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value:
        try:
            loaded = json.loads(urllib.parse.unquote(value))
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def trusts_service(document: object, service: str) -> bool:
    """Whether a trust policy lets ``service`` (e.g. ec2.amazonaws.com) assume the role."""
    for statement in _as_list(policy_document(document).get("Statement")):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = {str(action).lower() for action in _as_list(statement.get("Action"))}
        if not actions & {"sts:assumerole", "sts:*", "*"}:
            continue
        principal = statement.get("Principal")
        if principal == "*":
            return True
        if isinstance(principal, Mapping) and service in _as_list(principal.get("Service")):
            return True
    return False


def merged_trust(existing: object, ours: Mapping[str, Any]) -> dict[str, Any]:
    """The existing trust policy with our statements added: other trusts keep working."""
    current = policy_document(existing)
    statements = _as_list(current.get("Statement"))
    taken = {str(item.get("Sid")) for item in statements if isinstance(item, Mapping)}
    for statement in _as_list(ours.get("Statement")):
        if isinstance(statement, Mapping) and statement.get("Sid") in taken:
            # IAM wants statement ids unique within a policy.
            sid = str(statement["Sid"])
            number = 2
            while f"{sid}{number}" in taken:
                number += 1
            statement = {**statement, "Sid": f"{sid}{number}"}
        statements.append(statement)
    version = current.get("Version", ours.get("Version", "2012-10-17"))
    return {"Version": version, "Statement": statements}


def client_error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code", "")) or None
    return None


# --- reading AWS -----------------------------------------------------------------------------


def associations(ec2: Any, instance_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """The live (associating or associated) instance profile association of each instance."""
    found: dict[str, Mapping[str, Any]] = {}
    request: dict[str, Any] = {"Filters": [{"Name": "instance-id", "Values": list(instance_ids)}]}
    while True:
        answer = ec2.describe_iam_instance_profile_associations(**request)
        for association in answer.get("IamInstanceProfileAssociations") or ():
            if association.get("State") in ACTIVE_ASSOCIATION_STATES:
                found[str(association["InstanceId"])] = association
        token = answer.get("NextToken")
        if not token:
            return found
        request["NextToken"] = token


def list_instances(
    region: str, *, client_factory: ClientFactory | None = None
) -> tuple[InstanceChoice, ...]:
    """The region's pending, running and stopped instances, for an administrator to pick."""
    ec2 = (client_factory or aws.client)("ec2", region=region)
    choices: list[InstanceChoice] = []
    request: dict[str, Any] = {
        "Filters": [{"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}]
    }
    try:
        while True:
            answer = ec2.describe_instances(**request)
            for reservation in answer.get("Reservations") or ():
                for instance in reservation.get("Instances") or ():
                    tags = {tag.get("Key"): tag.get("Value") for tag in instance.get("Tags") or ()}
                    choices.append(
                        InstanceChoice(
                            instance_id=str(instance["InstanceId"]),
                            name=tags.get("Name"),
                            state=str(instance.get("State", {}).get("Name", "")),
                            instance_profile_arn=None,
                        )
                    )
            token = answer.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        # DescribeInstances can lag behind association changes; the associations are the truth.
        live = associations(ec2, [choice.instance_id for choice in choices]) if choices else {}
    except Exception as error:
        raise aws.translate_error(error, "DescribeInstances") from None
    return tuple(
        InstanceChoice(
            choice.instance_id,
            choice.name,
            choice.state,
            str(live[choice.instance_id]["IamInstanceProfile"]["Arn"])
            if choice.instance_id in live
            else None,
        )
        for choice in sorted(choices, key=lambda item: (item.name or "", item.instance_id))
    )


def survey(
    client: Callable[[str], Any],
    method: str,
    role_name: str,
    policy_name: str,
    profile_name: str | None,
    instance_ids: Sequence[str],
    task_family: str | None,
    permissions_policy: Mapping[str, Any],
) -> tuple[str, ...]:
    """What exists in AWS now for a setup, one line per object, read back from AWS."""
    iam = client("iam")
    lines: list[str] = []
    service = TRUSTED_SERVICE.get(method, "")
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except Exception as error:
        if client_error_code(error) != "NoSuchEntity":
            raise
        lines.append(f"role {role_name}: does not exist")
        role = None
    if role is not None:
        trusted = trusts_service(role.get("AssumeRolePolicyDocument"), service)
        lines.append(
            f"role {role_name}: exists ({role['Arn']}); "
            + (f"{service} may assume it" if trusted else f"{service} may NOT assume it")
        )
        try:
            document = policy_document(
                iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
            )
            same = document == dict(permissions_policy)
            lines.append(
                f"inline policy {policy_name} on {role_name}: "
                + ("present, as planned" if same else "present, with other content")
            )
        except Exception as error:
            if client_error_code(error) != "NoSuchEntity":
                raise
            lines.append(f"inline policy {policy_name} on {role_name}: absent")
    if profile_name is not None:
        try:
            profile = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]
            roles = [str(item.get("RoleName")) for item in profile.get("Roles") or ()]
            lines.append(
                f"instance profile {profile_name}: exists, holding "
                + (", ".join(roles) if roles else "no role")
            )
        except Exception as error:
            if client_error_code(error) != "NoSuchEntity":
                raise
            lines.append(f"instance profile {profile_name}: does not exist")
    if instance_ids:
        live = associations(client("ec2"), instance_ids)
        for iid in instance_ids:
            association = live.get(iid)
            lines.append(
                f"instance {iid}: "
                + (
                    f"instance profile {association['IamInstanceProfile']['Arn']} "
                    f"({association.get('State')})"
                    if association
                    else "no instance profile"
                )
            )
    if task_family is not None:
        latest = client("ecs").describe_task_definition(taskDefinition=task_family)
        definition = latest["taskDefinition"]
        lines.append(
            f"task definition {task_family}: latest revision {definition.get('revision')}, "
            f"task role {definition.get('taskRoleArn') or 'none'}"
        )
    return tuple(lines)


__all__ = [
    "ACTIVE_ASSOCIATION_STATES",
    "TRUSTED_SERVICE",
    "InstanceChoice",
    "associations",
    "aws_cli",
    "client_error_code",
    "compact_json",
    "list_instances",
    "merged_trust",
    "policy_document",
    "survey",
    "trusts_service",
]

"""Least-privilege IAM policies for chosen Rundeck plugins, and the roles' trust policies.

Every function returns plain dicts in IAM's JSON shape; ``to_json`` gives the text to paste
into the IAM console or pass to ``aws iam ... --policy-document file://``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tui.core.errors import UsageProblem
from tui.core.iam.catalog import Plugin, ResourceKind, ResourceTarget, resource_kinds, sort_actions
from tui.core.iam.catalog import plugins as catalog_plugins
from tui.core.model import Method

POLICY_VERSION = "2012-10-17"
ANY_RESOURCE = "*"
DEFAULT_PARTITION = "aws"

# What the access-key method itself calls: tui/core/rotation/ and tui/core/status.py.
ROTATION_ACTIONS = (
    "iam:ListAccessKeys",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:GetAccessKeyLastUsed",
)
# STS answers GetCallerIdentity whatever the policy says; granting it documents the need.
IDENTITY_ACTIONS = ("sts:GetCallerIdentity",)
ROTATION_SID = "RotateOwnAccessKeys"
IDENTITY_SID = "CheckCallerIdentity"
# ${aws:username} confines the user to its own keys; a user with an IAM path will not match.
OWN_USER_RESOURCE = "arn:{partition}:iam::*:user/${{aws:username}}"

TRUSTED_SERVICES = {Method.EC2: "ec2.amazonaws.com", Method.ECS: "ecs-tasks.amazonaws.com"}
TRUST_SIDS = {Method.EC2: "TrustEC2Instances", Method.ECS: "TrustECSTasks"}

# Policy size quotas in characters, white space not counted (IAM and STS quotas page).
MANAGED_POLICY_LIMIT = 6144
USER_INLINE_POLICY_LIMIT = 2048
ROLE_INLINE_POLICY_LIMIT = 10240

PARTITION = r"aws(?:-[a-z]+)*"
REGION = r"[a-z0-9*?-]+"
ACCOUNT = r"\d{12}|\*"


class BadResource(UsageProblem, ValueError):
    """A resource the user named is of an unknown kind, malformed, or narrows nothing."""


@dataclass(frozen=True)
class ResourceArn:
    """A user's resource ARN, normalised, with the parts ARN templates use."""

    kind: str
    arn: str
    partition: str
    region: str
    account: str
    name: str

    def fill(self, template: str) -> str:
        return template.format(
            arn=self.arn,
            partition=self.partition,
            region=self.region,
            account=self.account,
            name=self.name,
        )


def statement_sid(plugin: Plugin) -> str:
    """A readable Sid from the plugin's Rundeck name: "EC2 node source" → "EC2NodeSource"."""
    words = re.findall(r"[A-Za-z0-9]+", plugin.name)
    return "".join(word[0].upper() + word[1:] for word in words)


def parse_resource(kind: ResourceKind, text: str) -> ResourceArn:
    """The ARN ``text`` checked against ``kind``; BadResource says what was expected."""
    arn = text.strip()
    if kind.strip_suffix and arn.endswith(kind.strip_suffix):
        arn = arn[: -len(kind.strip_suffix)]
    location = rf"(?P<region>{REGION}):(?P<account>{ACCOUNT})" if kind.regional else ":"
    pattern = (
        rf"arn:(?P<partition>{PARTITION}):{re.escape(kind.service)}:{location}:"
        rf"{re.escape(kind.resource_prefix)}(?P<name>{kind.name_pattern})"
    )
    found = re.fullmatch(pattern, arn)
    if found is None:
        hint = f" ({kind.hint})" if kind.hint else ""
        raise BadResource(
            f"{text.strip()!r} is not a {kind.id} ARN ({kind.label}); expected one like "
            f"{kind.example}{hint}."
        )
    parts = found.groupdict(default="")
    return ResourceArn(
        kind.id,
        arn,
        parts["partition"],
        parts.get("region", ""),
        parts.get("account", ""),
        parts["name"],
    )


def resource_kinds_for(plugins: Iterable[Plugin]) -> tuple[ResourceKind, ...]:
    """The resource kinds that can narrow at least one action of these plugins."""
    actions = {action.lower() for plugin in plugins for action in plugin.actions}
    return tuple(
        kind
        for kind in resource_kinds()
        if any(action.lower() in actions for action in kind.actions)
    )


def parse_resources(
    plugins: Sequence[Plugin], resources: Mapping[str, Sequence[str]] | None
) -> dict[str, tuple[ResourceArn, ...]]:
    """Each kind's ARNs, parsed, once each, sorted; BadResource for anything unusable."""
    known = {kind.id: kind for kind in resource_kinds()}
    useful = {kind.id for kind in resource_kinds_for(plugins)}
    parsed: dict[str, tuple[ResourceArn, ...]] = {}
    for kind_id, given in (resources or {}).items():
        arns = [given] if isinstance(given, str) else list(given)
        if not arns:
            continue
        kind = known.get(kind_id)
        if kind is None:
            raise BadResource(f"Unknown resource kind {kind_id!r}. Kinds: {', '.join(known)}.")
        if kind_id not in useful:
            users = [plugin.id for plugin in resource_users(kind)]
            raise BadResource(
                f"No chosen plugin acts on {kind.label}s, so a {kind_id} resource would "
                f"change nothing. Plugins that do: {', '.join(users)}."
            )
        unique = {arn.arn: arn for arn in (parse_resource(kind, text) for text in arns)}
        parsed[kind_id] = tuple(unique[key] for key in sorted(unique))
    return parsed


def resources_from_text(text: str) -> dict[str, list[str]]:
    """``KIND=ARN`` items apart by commas or spaces (as ``--resource`` takes them, one per
    flag) into each kind's ARNs; BadResource for an item that names no kind."""
    found: dict[str, list[str]] = {}
    for item in text.replace(",", " ").split():
        kind, sep, arn = item.partition("=")
        if not sep or not kind or not arn:
            raise BadResource(f"{item!r} is not KIND=ARN, e.g. bucket=arn:aws:s3:::rundeck-files.")
        found.setdefault(kind, []).append(arn)
    return found


def resource_users(kind: ResourceKind) -> tuple[Plugin, ...]:
    """The catalog's plugins with an action this kind narrows."""
    narrowed = {action.lower() for action in kind.actions}
    return tuple(
        plugin
        for plugin in catalog_plugins()
        if any(action.lower() in narrowed for action in plugin.actions)
    )


def permissions_policy(
    plugins: Sequence[Plugin],
    resources: Mapping[str, Sequence[str]] | None = None,
    *,
    for_access_key_user: bool = False,
) -> dict[str, object]:
    """The permissions policy for ``plugins``: least privilege, one statement per plugin.

    An action several plugins need appears once, in the first of them in catalog order.
    ``resources`` maps a resource kind ("bucket", "log-group", ...) to ARNs; the actions that
    IAM checks against that kind are limited to them, in a statement of their own. With
    ``for_access_key_user`` the policy also lets the IAM user rotate its own access keys.
    Raises BadResource for an unusable resource, ValueError when nothing is chosen.
    """
    chosen = _in_catalog_order(plugins)
    if not chosen and not for_access_key_user:
        raise ValueError("Choose at least one plugin: a policy needs one statement or more.")
    parsed = parse_resources(chosen, resources)
    narrowing = {
        action.lower(): (kind, target)
        for kind in resource_kinds()
        if kind.id in parsed
        for target in kind.targets
        for action in target.actions
    }
    granted: set[str] = set()
    statements: list[dict[str, object]] = []
    for plugin in chosen:
        fresh = [a for a in sort_actions(plugin.actions) if a.lower() not in granted]
        granted.update(action.lower() for action in fresh)
        statements.extend(_plugin_statements(plugin, fresh, narrowing, parsed))
    if for_access_key_user:
        partition = _partition(parsed)
        own_user = OWN_USER_RESOURCE.format(partition=partition)
        for sid, actions, resource in (
            (ROTATION_SID, ROTATION_ACTIONS, [own_user]),
            (IDENTITY_SID, IDENTITY_ACTIONS, ANY_RESOURCE),
        ):
            fresh = [a for a in sort_actions(actions) if a.lower() not in granted]
            if fresh:
                statements.append(_statement(sid, fresh, resource))
    return {"Version": POLICY_VERSION, "Statement": statements}


def _in_catalog_order(plugins: Sequence[Plugin]) -> list[Plugin]:
    """Plugins once each, in catalog order (others after, as given), for stable output."""
    position = {plugin.id: index for index, plugin in enumerate(catalog_plugins())}
    unique: dict[str, Plugin] = {}
    for plugin in plugins:
        unique.setdefault(plugin.id, plugin)
    ordered = sorted(unique.values(), key=lambda p: position.get(p.id, len(position)))
    return ordered


def _plugin_statements(
    plugin: Plugin,
    actions: list[str],
    narrowing: Mapping[str, tuple[ResourceKind, ResourceTarget]],
    parsed: Mapping[str, tuple[ResourceArn, ...]],
) -> list[dict[str, object]]:
    base = statement_sid(plugin)
    unnarrowed = [action for action in actions if action.lower() not in narrowing]
    statements = [_statement(base, unnarrowed, ANY_RESOURCE)] if unnarrowed else []
    targets: dict[str, tuple[ResourceKind, ResourceTarget, list[str]]] = {}
    for action in actions:
        if action.lower() in narrowing:
            kind, target = narrowing[action.lower()]
            targets.setdefault(target.sid, (kind, target, []))[2].append(action)
    order = [target.sid for kind in resource_kinds() for target in kind.targets]
    for sid in sorted(targets, key=order.index):
        kind, target, narrowed = targets[sid]
        arns = sorted({arn.fill(t) for arn in parsed[kind.id] for t in target.arns})
        statements.append(_statement(base + target.sid, narrowed, arns))
    return statements


def _statement(sid: str, actions: Iterable[str], resource: str | list[str]) -> dict[str, object]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(sort_actions(actions)),
        "Resource": resource,
    }


def _partition(parsed: Mapping[str, tuple[ResourceArn, ...]]) -> str:
    """The partition of the user's resources when they agree on one, else the public one."""
    partitions = {arn.partition for arns in parsed.values() for arn in arns}
    return partitions.pop() if len(partitions) == 1 else DEFAULT_PARTITION


def trust_policy(method: Method) -> dict[str, object]:
    """The role's trust policy: which AWS service may assume it for this method."""
    if method not in TRUSTED_SERVICES:
        raise ValueError(
            f"The {method.title} method uses an IAM user, not a role: it has no trust policy. "
            "Attach the permissions policy to the user instead."
        )
    statement: dict[str, object] = {
        "Sid": TRUST_SIDS[method],
        "Effect": "Allow",
        "Principal": {"Service": TRUSTED_SERVICES[method]},
        "Action": ["sts:AssumeRole"],
    }
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def to_json(policy: Mapping[str, object]) -> str:
    """The policy as JSON text: indented by 2, each statement's actions sorted."""
    return json.dumps(_with_sorted_actions(policy), indent=2, ensure_ascii=False)


def _with_sorted_actions(policy: Mapping[str, object]) -> dict[str, object]:
    copy = dict(policy)
    statements = copy.get("Statement")
    if isinstance(statements, list):
        sorted_statements: list[object] = []
        for statement in statements:
            if isinstance(statement, dict) and isinstance(statement.get("Action"), list):
                statement = {**statement, "Action": list(sort_actions(statement["Action"]))}
            sorted_statements.append(statement)
        copy["Statement"] = sorted_statements
    return copy


def policy_size(policy: Mapping[str, object]) -> int:
    """The size IAM counts against its quotas: characters of the JSON without white space."""
    compact = json.dumps(policy, separators=(",", ":"), ensure_ascii=False)
    return sum(1 for character in compact if not character.isspace())


def size_warnings(policy: Mapping[str, object], *, for_access_key_user: bool) -> list[str]:
    """Plain sentences for each IAM size quota the policy exceeds."""
    size = policy_size(policy)
    warnings = []
    if size > MANAGED_POLICY_LIMIT:
        warnings.append(
            f"The policy has {size} characters; a managed policy holds at most "
            f"{MANAGED_POLICY_LIMIT}: split the plugins over two policies."
        )
    inline_limit = USER_INLINE_POLICY_LIMIT if for_access_key_user else ROLE_INLINE_POLICY_LIMIT
    if size > inline_limit:
        holder = "user" if for_access_key_user else "role"
        warnings.append(
            f"The policy has {size} characters; the inline policies of an IAM {holder} hold at "
            f"most {inline_limit} in all: attach it as a managed policy instead."
        )
    return warnings

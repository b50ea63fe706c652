"""What the current credentials may do: IAM SimulatePrincipalPolicy, mapped to one verdict per
plugin (allowed, denied, or unknown when the simulation could not say).

The mapping from AWS's evaluation results to verdicts is a pure function, so it is tested on
recorded answers; the call itself is tested against an IAM that lacks the simulation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tui.core import aws
from tui.core.aws import ClientFactory
from tui.core.errors import ErrorKind, ToolError
from tui.core.secret import Secret

VerdictState = Literal["allowed", "denied", "unknown"]

# The API sets no limit on ActionNames; batches keep each request and answer small.
BATCH_SIZE = 50
DENIED_DECISIONS = frozenset({"explicitDeny", "implicitDeny"})
REFUSED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
UNAVAILABLE_CODES = frozenset(
    {
        "NotImplemented",
        "NotImplementedException",
        "InternalFailure",
        "InternalError",
        "UnknownOperationException",
        "InvalidAction",
        "ServiceUnavailable",
    }
)
SIMULATION_LIMITS = (
    "The simulation evaluates the principal's IAM policies, permissions boundary and "
    "Organizations SCPs against any resource (*); it does not see session policies or "
    "resource policies, so a real call can still differ."
)


@dataclass(frozen=True)
class PluginVerdict:
    """What the simulation says about one plugin's actions; ``reason`` is for people."""

    plugin_id: str
    state: VerdictState
    missing_actions: tuple[str, ...] = ()
    reason: str = ""
    condition_keys: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin_id,
            "state": self.state,
            "missing_actions": list(self.missing_actions),
            "condition_keys": list(self.condition_keys),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PolicyCheck:
    """The verdicts, the principal asked about, and the ARN the simulation was run on."""

    principal_arn: str | None
    simulated_arn: str | None
    verdicts: tuple[PluginVerdict, ...]
    note: str = ""
    actions_checked: tuple[str, ...] = ()

    @property
    def state(self) -> VerdictState:
        """denied if any plugin is, else unknown if any is, else allowed."""
        states = {verdict.state for verdict in self.verdicts}
        if "denied" in states:
            return "denied"
        if "unknown" in states or not self.verdicts:
            return "unknown"
        return "allowed"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "principal": self.principal_arn,
            "simulated_arn": self.simulated_arn,
            "state": self.state,
            "note": self.note,
            "plugins": [verdict.to_json_dict() for verdict in self.verdicts],
        }


class SimulationUnavailable(ToolError):
    """The simulation could not be run; the message says why, honestly and without secrets."""

    kind = ErrorKind.AWS


# --- the pure mapping ------------------------------------------------------------------------


def verdicts_from_results(
    actions_by_plugin: Mapping[str, Sequence[str]],
    evaluation_results: Iterable[Mapping[str, Any]],
) -> tuple[PluginVerdict, ...]:
    """One verdict per plugin from SimulatePrincipalPolicy's ``EvaluationResults``.

    Allowed only when every action was simulated and allowed without missing condition keys;
    denied when an action is denied outright; unknown when the answer hinges on condition keys
    the simulation was not given, or an action is absent from the results.
    """
    by_action: dict[str, Mapping[str, Any]] = {}
    for result in evaluation_results:
        name = str(result.get("EvalActionName", "")).lower()
        if name:
            by_action[name] = _merged(by_action.get(name), result)
    return tuple(
        _verdict(plugin_id, actions, by_action) for plugin_id, actions in actions_by_plugin.items()
    )


def _merged(earlier: Mapping[str, Any] | None, result: Mapping[str, Any]) -> Mapping[str, Any]:
    """Several results for one action (one per resource): the least permissive one wins."""
    if earlier is None:
        return result
    rank = {"explicitDeny": 0, "implicitDeny": 1, "allowed": 2}
    keys = sorted(set(_condition_keys(earlier)) | set(_condition_keys(result)))
    worse = min((earlier, result), key=lambda item: rank.get(str(item.get("EvalDecision", "")), 1))
    return {**worse, "MissingContextValues": keys}


def _condition_keys(result: Mapping[str, Any]) -> list[str]:
    keys = [str(key) for key in result.get("MissingContextValues") or ()]
    for specific in result.get("ResourceSpecificResults") or ():
        keys.extend(str(key) for key in specific.get("MissingContextValues") or ())
    return keys


def _verdict(
    plugin_id: str, actions: Sequence[str], by_action: Mapping[str, Mapping[str, Any]]
) -> PluginVerdict:
    denied: list[str] = []
    conditional: list[str] = []
    keys: set[str] = set()
    absent: list[str] = []
    for action in dict.fromkeys(actions):
        result = by_action.get(action.lower())
        if result is None:
            absent.append(action)
            continue
        missing_keys = _condition_keys(result)
        if missing_keys:
            conditional.append(action)
            keys.update(missing_keys)
        elif str(result.get("EvalDecision")) != "allowed":
            denied.append(action)
    if denied:
        explicit = [
            action
            for action in denied
            if str(by_action[action.lower()].get("EvalDecision")) == "explicitDeny"
        ]
        reason = f"Not allowed: {', '.join(denied)}."
        if explicit:
            reason += f" An explicit Deny applies to {', '.join(explicit)}."
        return PluginVerdict(plugin_id, "denied", tuple(denied), reason, tuple(sorted(keys)))
    if conditional:
        reason = (
            f"{', '.join(conditional)} depend on conditions ({', '.join(sorted(keys))}) that the "
            "simulation was not given, so it cannot say."
        )
        return PluginVerdict(plugin_id, "unknown", (), reason, tuple(sorted(keys)))
    if absent:
        reason = f"The simulation gave no result for {', '.join(absent)}."
        return PluginVerdict(plugin_id, "unknown", (), reason)
    if not actions:
        return PluginVerdict(plugin_id, "unknown", (), "This plugin lists no actions to check.")
    return PluginVerdict(plugin_id, "allowed", (), f"All {len(dict.fromkeys(actions))} allowed.")


def unknown_verdicts(
    actions_by_plugin: Mapping[str, Sequence[str]], reason: str
) -> tuple[PluginVerdict, ...]:
    """Every plugin unknown, for one reason (the simulation could not be run)."""
    return tuple(PluginVerdict(plugin_id, "unknown", (), reason) for plugin_id in actions_by_plugin)


# --- principals ------------------------------------------------------------------------------


def policy_source_arn(principal_arn: str) -> str:
    """The IAM ARN to simulate for a caller ARN: an assumed-role session becomes its role.

    ``arn:aws:sts::123:assumed-role/Role/session`` → ``arn:aws:iam::123:role/Role``. The
    session ARN carries no role path; :func:`simulate` asks IAM for the full ARN when it can.
    Raises SimulationUnavailable for principals IAM cannot simulate (root, federated users).
    """
    parts = principal_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise SimulationUnavailable(f"{principal_arn!r} is not an ARN.")
    _, partition, service, _, account, resource = parts
    if service == "sts" and resource.startswith("assumed-role/"):
        role_name = resource.split("/")[1]
        return f"arn:{partition}:iam::{account}:role/{role_name}"
    if service == "sts" and resource.startswith("federated-user/"):
        raise SimulationUnavailable(
            "A federated user session has no IAM identity whose policies can be simulated."
        )
    if service == "iam" and resource == "root":
        raise SimulationUnavailable(
            "These are the account's root credentials: IAM policies do not limit them "
            "(Organizations SCPs may), and IAM cannot simulate the root user."
        )
    if service == "iam" and resource.startswith(("user/", "role/", "group/")):
        return principal_arn
    raise SimulationUnavailable(f"IAM cannot simulate the policies of {principal_arn}.")


def _full_role_arn(iam: Any, source_arn: str) -> str:
    """The role's ARN with its path, when IAM lets us read it; else the path-less ARN."""
    _, _, resource = source_arn.partition(":role/")
    if not resource or "/" in resource:
        return source_arn
    try:
        return str(iam.get_role(RoleName=resource)["Role"]["Arn"])
    except Exception:  # no iam:GetRole, or offline: the simulation itself will say
        return source_arn


# --- the call --------------------------------------------------------------------------------


def simulate(
    actions_by_plugin: Mapping[str, Sequence[str]],
    *,
    principal_arn: str | None = None,
    client_factory: ClientFactory | None = None,
    access_key_id: str | None = None,
    secret: Secret | None = None,
    region: str | None = None,
) -> PolicyCheck:
    """Simulate every plugin's actions for ``principal_arn`` (default: the caller itself).

    Never raises for AWS trouble: a simulation that is refused, missing (emulators) or
    unreachable makes every plugin unknown, with the reason.
    """
    factory = client_factory or aws.client
    credentials: dict[str, Any] = {
        "access_key_id": access_key_id,
        "secret": secret,
        "region": region,
    }
    all_actions = tuple(
        dict.fromkeys(action for actions in actions_by_plugin.values() for action in actions)
    )
    source: str | None = None
    try:
        if principal_arn is None:
            principal_arn = _caller_arn(factory, credentials)
        source = policy_source_arn(principal_arn)
        iam = factory("iam", **credentials)
        source = _full_role_arn(iam, source)
        results = _evaluate(iam, source, all_actions)
    except SimulationUnavailable as problem:
        return PolicyCheck(
            principal_arn,
            source,
            unknown_verdicts(actions_by_plugin, str(problem)),
            actions_checked=all_actions,
        )
    return PolicyCheck(
        principal_arn,
        source,
        verdicts_from_results(actions_by_plugin, results),
        note=SIMULATION_LIMITS,
        actions_checked=all_actions,
    )


def _caller_arn(factory: ClientFactory, credentials: Mapping[str, Any]) -> str:
    try:
        return str(factory("sts", **credentials).get_caller_identity()["Arn"])
    except Exception as error:
        problem = aws.translate_error(error, "GetCallerIdentity")
        raise SimulationUnavailable(
            f"Could not find out who these credentials are, so nothing was simulated: {problem}"
        ) from None


def _evaluate(iam: Any, source_arn: str, actions: Sequence[str]) -> list[Mapping[str, Any]]:
    """Every EvaluationResult, over batches of actions and pages of answers."""
    results: list[Mapping[str, Any]] = []
    for start in range(0, len(actions), BATCH_SIZE):
        request: dict[str, Any] = {
            "PolicySourceArn": source_arn,
            "ActionNames": list(actions[start : start + BATCH_SIZE]),
        }
        while True:
            try:
                answer = iam.simulate_principal_policy(**request)
            except Exception as error:
                raise SimulationUnavailable(_why_unavailable(error, source_arn)) from None
            results.extend(answer.get("EvaluationResults") or ())
            marker = answer.get("Marker")
            if not answer.get("IsTruncated") or not marker:
                break
            request["Marker"] = marker
    return results


def _why_unavailable(error: Exception, source_arn: str) -> str:
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", ""))
        if code in REFUSED_CODES:
            return (
                "These credentials may not call iam:SimulatePrincipalPolicy, so what they can "
                "do could not be checked. An administrator can run the check with "
                f"--principal {source_arn}."
            )
        if code == "NoSuchEntity":
            return f"IAM does not know {source_arn}, so its policies could not be simulated."
        if code in UNAVAILABLE_CODES:
            return f"This IAM endpoint does not offer the policy simulation ({code})."
        return f"IAM refused the policy simulation: {code}: {message}".rstrip(": ")
    if isinstance(error, ResponseParserError):
        return (
            "The IAM endpoint answered SimulatePrincipalPolicy with something that is not an "
            "AWS reply (an emulator without the simulation, or a proxy in the way), so the "
            "permissions could not be checked."
        )
    return str(aws.translate_error(error, "SimulatePrincipalPolicy")) + (
        " The permissions could not be checked."
    )


__all__ = [
    "BATCH_SIZE",
    "PluginVerdict",
    "PolicyCheck",
    "SimulationUnavailable",
    "VerdictState",
    "policy_source_arn",
    "simulate",
    "unknown_verdicts",
    "verdicts_from_results",
]

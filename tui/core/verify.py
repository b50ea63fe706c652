"""Verification with AWS STS, one function for every method: ``verify_setup``.

For the role methods: do the credentials Rundeck would get belong to the role?

Rundeck's ``instance`` and ``container`` providers read the instance metadata service and the
container credentials endpoint, never the environment or ~/.aws; so the check asks STS about
exactly those credentials (detection's identity), not the default credential chain, where an
access key in the environment would answer instead of the role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.core.errors import VerifyProblem
from tui.core.model import Answers, Method
from tui.core.secret import Secret

if TYPE_CHECKING:
    from tui.core.detect import Detection, Identity

# Seconds per metadata probe and per STS connect/read: a little more than detection's default,
# because a failed check stops the setup.
VERIFY_TIMEOUT = 2.0


class RoleCheckFailed(VerifyProblem):
    """The role's credentials are missing, unconfirmed by STS, or another role's."""


@dataclass(frozen=True)
class AssumedRole:
    """The parts of an STS assumed-role ARN: ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``."""

    account: str
    role_name: str
    session: str


@dataclass(frozen=True)
class RoleIdentity:
    """Who STS says the role's credentials are, and what they were checked against."""

    arn: str
    account: str
    role_name: str
    session: str
    source: str
    expected: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "arn": self.arn,
            "role": self.role_name,
            "session": self.session,
            "source": self.source,
            "expected": self.expected,
        }


def parse_assumed_role(arn: str) -> AssumedRole | None:
    """The account, role name and session of an assumed-role ARN; None for any other ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sts" or not parts[4]:
        return None
    kind, _, rest = parts[5].partition("/")
    role_name, _, session = rest.partition("/")
    if kind != "assumed-role" or not role_name or not session:
        return None
    return AssumedRole(parts[4], role_name, session)


def verify_role(method: Method, *, timeout: float = VERIFY_TIMEOUT) -> RoleIdentity:
    """Detect this host, then check its role with STS; RoleCheckFailed says why not."""
    from tui.core.detect import detect_environment

    return check_role(method, detect_environment(timeout=timeout))


def check_role(method: Method, detection: Detection) -> RoleIdentity:
    """The role identity when ``detection`` shows ``method``'s role answering STS as itself.

    EC2: the role IMDS lists, in a session named after the instance (as EC2 names it), in the
    instance's account when known. ECS: the task role the credentials endpoint names; when it
    names none, any assumed role is accepted and ``expected`` says so.
    """
    if method is Method.EC2:
        return _check_instance_role(detection)
    if method is Method.ECS:
        return _check_task_role(detection)
    raise ValueError(f"{method} is not a role method")


def _check_instance_role(detection: Detection) -> RoleIdentity:
    ec2 = detection.ec2
    if not ec2.detected:
        raise RoleCheckFailed(f"no EC2 instance metadata here ({ec2.error}).")
    instance = ec2.instance_id or "this instance"
    if not ec2.role_name:
        raise RoleCheckFailed(
            f"the instance {instance} has no IAM role (instance profile) attached."
        )
    what = f"the instance role {ec2.role_name}"
    assumed = _assumed_identity(detection.identity, "iam-role", what)
    if assumed.role_name != ec2.role_name:
        raise RoleCheckFailed(
            f"STS says the instance's credentials are the role {assumed.role_name}'s, not {what}'s."
        )
    if ec2.instance_id and assumed.session != ec2.instance_id:
        raise RoleCheckFailed(
            f"STS says the credentials of {what} are for the session {assumed.session}, "
            f"not for this instance ({ec2.instance_id})."
        )
    if ec2.account and assumed.account != ec2.account:
        raise RoleCheckFailed(
            f"STS says the credentials of {what} are in the account {assumed.account}, "
            f"not in the instance's account {ec2.account}."
        )
    return _identity(detection.identity, assumed, f"{ec2.role_name} on {instance}")


def _check_task_role(detection: Detection) -> RoleIdentity:
    ecs = detection.ecs
    if not ecs.has_task_credentials:
        if ecs.detected:
            raise RoleCheckFailed(f"this ECS task has no task role ({ecs.error or 'none set'}).")
        raise RoleCheckFailed(f"no ECS task role here ({ecs.error}).")
    what = f"the task role {ecs.role_arn}" if ecs.role_arn else "the task role"
    assumed = _assumed_identity(detection.identity, "container-role", what)
    if ecs.role_arn is None:
        return _identity(detection.identity, assumed, "any role (the endpoint named none)")
    expected_account, expected_name = _role_arn_parts(ecs.role_arn)
    if (assumed.account, assumed.role_name) != (expected_account, expected_name):
        raise RoleCheckFailed(
            f"STS says the task's credentials are the role {assumed.role_name}'s in the "
            f"account {assumed.account}, not {what}'s."
        )
    return _identity(detection.identity, assumed, ecs.role_arn)


def _assumed_identity(identity: Identity, source: str, what: str) -> AssumedRole:
    """The assumed role STS named for the credentials detection took from ``source``."""
    if identity.source != source:
        used = identity.source or "none"
        raise RoleCheckFailed(
            f"the credentials of {what} could not be read (STS was asked about: {used})."
        )
    if not identity.arn:
        problem = (identity.error or "no answer").rstrip(".")
        raise RoleCheckFailed(f"AWS STS did not confirm {what}: {problem}.")
    assumed = parse_assumed_role(identity.arn)
    if assumed is None:
        raise RoleCheckFailed(
            f"STS says the credentials of {what} are {identity.arn}, which is not an assumed role."
        )
    return assumed


def _role_arn_parts(role_arn: str) -> tuple[str, str]:
    """Account and role name (without its path) of ``arn:aws:iam::ACCOUNT:role/PATH/NAME``."""
    parts = role_arn.split(":", 5)
    account = parts[4] if len(parts) == 6 else ""
    return account, role_arn.rsplit("/", 1)[-1]


def _identity(identity: Identity, assumed: AssumedRole, expected: str) -> RoleIdentity:
    return RoleIdentity(
        arn=str(identity.arn),
        account=assumed.account,
        role_name=assumed.role_name,
        session=assumed.session,
        source=str(identity.source),
        expected=expected,
    )


VERIFY_FAILED = "Verification failed, nothing was written: "


@dataclass(frozen=True)
class Verified:
    """What STS confirmed: the identity, in JSON and as one line of text."""

    identity: dict[str, Any]
    line: str


def verify_setup(answers: Answers, secret: Secret | None) -> Verified | None:
    """Check the credentials of ``answers`` with STS before anything is written.

    The access key is checked when a secret was given (None otherwise: a stored secret is
    not re-checked); a role method checks the role's own credentials, as Rundeck would get
    them. Raises VerifyProblem, whose message starts with VERIFY_FAILED.
    """
    if answers.method is not Method.ACCESS_KEY:
        try:
            role = verify_role(answers.method)
        except RoleCheckFailed as problem:
            raise VerifyProblem(f"{VERIFY_FAILED}{problem}") from None
        return Verified(
            role.to_json_dict(), f"Verified with AWS STS: {role.arn} (expected {role.expected})"
        )
    if secret is None:
        return None
    from tui.core.aws import AwsError, caller_identity

    try:
        identity = caller_identity(
            access_key_id=answers.access_key_id, secret=secret, region=answers.region
        )
    except AwsError as problem:
        raise VerifyProblem(f"{VERIFY_FAILED}{problem}") from None
    return Verified(
        {"account": identity.account, "arn": identity.arn}, f"Verified with AWS STS: {identity.arn}"
    )

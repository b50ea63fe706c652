"""Fixed scenes for snapshots and README screenshots: same pixels on every machine.

Each scene is a WizardApp on a Rundeck layout at a fixed path, a fixed detection, a clock
that never moves and a keyring in memory, plus the keys that bring it to a given screen.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from keyring.errors import PasswordSetError
from textual.pilot import Pilot
from textual.widgets import Input

from tui.core.detect import (
    CredentialSources,
    Detection,
    Diagnosis,
    Ec2Probe,
    EcsProbe,
    Identity,
    recommend,
)
from tui.core.secret import Secret
from tui.demo import SandboxKeyring, make_rundeck_layout
from tui.services import ProgressCallback, Services

SCENE_ROOT = Path("/tmp/pa-aws-setup-scenes")
UNREACHABLE_AWS = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once
FIXED_NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
ACCOUNT = "123456789012"

NO_ECS = EcsProbe(error="ECS variables absent in this shell", diagnosis=Diagnosis.ENV_ABSENT)
NO_EC2_TIMEOUT = Ec2Probe(
    error="metadata endpoint timed out (IMDSv2 hop limit inside a container, or a proxy)",
    diagnosis=Diagnosis.TIMEOUT,
)


def _detection(
    ec2: Ec2Probe, ecs: EcsProbe, sources: tuple[str, ...], identity: Identity
) -> Detection:
    method, reason = recommend(ec2, ecs)
    return Detection(
        ec2=ec2,
        ecs=ecs,
        credentials=CredentialSources(sources=sources, first=sources[0] if sources else None),
        identity=identity,
        recommended_method=method,
        recommendation_reason=reason,
    )


def ec2_detection() -> Detection:
    return _detection(
        Ec2Probe(
            detected=True,
            imds_version="v2",
            instance_id="i-0a1b2c3d4e5f67890",
            region="eu-west-1",
            availability_zone="eu-west-1b",
            role_name="rundeck-automation",
            instance_profile_arn=f"arn:aws:iam::{ACCOUNT}:instance-profile/rundeck-automation",
            account=ACCOUNT,
            diagnosis=Diagnosis.OK,
        ),
        NO_ECS,
        ("iam-role",),
        Identity(
            account=ACCOUNT,
            arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/rundeck-automation/i-0a1b2c3d4e5f67890",
            source="iam-role",
        ),
    )


def ecs_detection() -> Detection:
    return _detection(
        Ec2Probe(error="not on AWS: connection refused", diagnosis=Diagnosis.REFUSED),
        EcsProbe(
            detected=True,
            cluster="rundeck-prod",
            task_arn=f"arn:aws:ecs:us-east-2:{ACCOUNT}:task/rundeck-prod/5f0c2a9e",
            family="rundeck",
            revision="42",
            launch_type="FARGATE",
            availability_zone="us-east-2a",
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/rundeck-task",
            has_task_credentials=True,
            diagnosis=Diagnosis.OK,
        ),
        ("container-role",),
        Identity(
            account=ACCOUNT,
            arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/rundeck-task/5f0c2a9e",
            source="container-role",
        ),
    )


def nothing_detected() -> Detection:
    return _detection(
        NO_EC2_TIMEOUT, NO_ECS, (), Identity(error="no credentials found in this shell")
    )


def fixed_clock() -> datetime:
    return FIXED_NOW


def scene_services(detection: Detection, *, root: Path = SCENE_ROOT) -> Services:
    """Services for a scene: a fresh layout at ``root``, the given detection, memory keyring."""
    from tui.core.keystore import KeyStore
    from tui.core.rundeck import find_install

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    base = make_rundeck_layout(root)
    keyring = SandboxKeyring()

    def detect(progress: ProgressCallback) -> Detection:
        return detection

    def verify(*_: object) -> object:
        raise RuntimeError("scenes do not call AWS")

    return Services(
        detect=detect,
        install=lambda: find_install(base, env={}),
        keystore=lambda: KeyStore(keyring, assume_security="secure"),
        verify=verify,  # type: ignore[arg-type]
        clock=fixed_clock,
        rdeck_base=str(base),
    )


DETECTIONS: dict[str, Callable[[], Detection]] = {
    "ec2": ec2_detection,
    "ecs": ecs_detection,
    "nothing": nothing_detected,
}


# --- journeys: the keys that bring a scene to one screen ---------------------------------------

KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret


async def settle(pilot: Pilot[object]) -> None:
    """Until no worker is left: a screen mounted meanwhile may have started one of its own."""
    while True:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(worker.is_finished for worker in pilot.app.workers):
            return


async def fill(pilot: Pilot[object], selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.clear()
    await pilot.press(*text)


async def at_detect(pilot: Pilot[object]) -> None:
    await settle(pilot)


async def at_method(pilot: Pilot[object]) -> None:
    await at_detect(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def at_method_undetected_role(pilot: Pilot[object]) -> None:
    await at_method(pilot)
    await pilot.press("home", "enter", "y")
    await settle(pilot)


async def at_permissions(pilot: Pilot[object]) -> None:
    """EC2 (detected), then two plugins ticked through the filter: the policy shows below."""
    await at_method(pilot)
    await pilot.press("enter")
    await settle(pilot)
    for typed in ("node source", "s3 steps"):
        await fill(pilot, "#plugin-filter", typed)
        await pilot.press("enter", "space")  # Enter: into the list, on its first match
    await fill(pilot, "#plugin-filter", "")
    await settle(pilot)


async def at_permissions_policy(pilot: Pilot[object]) -> None:
    """The same, scrolled to the policy with Page Down from the buttons."""
    await at_permissions(pilot)
    pilot.app.screen.query_one("#next").focus()
    await pilot.press("pagedown")
    await settle(pilot)


async def at_scope_project(pilot: Pilot[object]) -> None:
    await at_method(pilot)
    await pilot.press("home", "down", "down", "enter")
    await settle(pilot)
    await pilot.press("ctrl+n")  # Permissions: nothing ticked
    await settle(pilot)
    await pilot.press("down", "enter")
    await fill(pilot, "#project-name", "ops")
    await settle(pilot)


async def at_details(pilot: Pilot[object]) -> None:
    await at_scope_project(pilot)
    await pilot.press("ctrl+n")
    await settle(pilot)
    await fill(pilot, "#access-key-id", KEY_ID)
    await fill(pilot, "#secret", SECRET)
    pilot.app.screen.query_one("#region", Input).focus()
    await settle(pilot)


async def at_details_errors(pilot: Pilot[object]) -> None:
    await at_scope_project(pilot)
    await pilot.press("ctrl+n")
    await settle(pilot)
    await fill(pilot, "#access-key-id", "ASIAIOSFODNN7EXAMPLE")
    await fill(pilot, "#secret", "too-short")
    await pilot.press("ctrl+n")
    await settle(pilot)


async def at_review(pilot: Pilot[object]) -> None:
    await at_details(pilot)
    await pilot.press("ctrl+n")
    await settle(pilot)


async def at_apply_failed(pilot: Pilot[object]) -> None:
    await at_review(pilot)
    record = SCENE_ROOT / "rundeck/projects/ops/etc/aws-setup.toml"
    record.mkdir()  # the record cannot be written: Apply fails and rolls back
    await pilot.press("ctrl+a")
    await settle(pilot)


async def at_done(pilot: Pilot[object]) -> None:
    await at_review(pilot)
    await pilot.press("ctrl+a")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


def status_services(root: Path = SCENE_ROOT) -> Services:
    """A scene where setups exist: system EC2 edited by hand since (drift), project ops with
    its secret in the keyring, project web whose secret is missing.

    Callers point AWS_ENDPOINT_URL at UNREACHABLE_AWS, so IAM is refused at once.
    """
    from tui.core.model import Answers, Method, Scope
    from tui.core.secret import Secret
    from tui.core.setup import apply_setup, plan_setup

    services = scene_services(nothing_detected(), root=root)
    install = services.install()
    keystore = services.keystore()
    setups = [
        (Answers(Method.EC2, Scope.SYSTEM, region="eu-west-1"), None),
        (
            Answers(
                Method.ACCESS_KEY,
                Scope.PROJECT,
                "ops",
                "eu-west-1",
                KEY_ID,
                "keys/project/ops/aws/secret-key",
            ),
            Secret(SECRET),
        ),
        (
            Answers(
                Method.ACCESS_KEY,
                Scope.PROJECT,
                "web",
                "us-east-1",
                KEY_ID,
                "keys/project/web/aws/secret-key",
            ),
            Secret(SECRET),
        ),
    ]
    for answers, secret in setups:
        plan = plan_setup(install, answers, keystore=keystore, secret=secret, clock=fixed_clock)
        apply_setup(plan, keystore=keystore, secret=secret, clock=fixed_clock)
    keystore.delete("keys/project/web/aws/secret-key")
    framework = install.framework_properties
    framework.write_text(framework.read_text() + "aws.region=eu-central-1\n")
    return services


async def at_status(pilot: Pilot[object]) -> None:
    await settle(pilot)
    await settle(pilot)


async def at_remove(pilot: Pilot[object]) -> None:
    """Status, then Remove on the first entry (the system scope): the dialog with its diff."""
    from tui.screens.remove import RemoveScreen

    await at_status(pilot)
    await pilot.press("x")
    await until(pilot, lambda: isinstance(pilot.app.screen, RemoveScreen))
    await settle(pilot)


# --- key rotation: IAM answers fixed in advance --------------------------------------------------

USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/svc/rundeck"
NEW_KEY_ID = "AKIAI44QH8DHBEXAMPLE"  # AWS's second documented example key
NEW_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
SPARE_KEY_ID = "AKIASPAREKEY0EXAMPLE"
OPS_KEY_PATH = "keys/project/ops/aws/secret-key"


@dataclass
class SceneKey:
    secret: str
    status: str
    created: datetime
    last_used: datetime | None = None
    last_service: str | None = None


class SceneAws:
    """STS and IAM for one user, answering from fixed keys: a stand-in for AWS in snapshots only
    (pilot tests use moto), because moto's key ids and dates change on every run.

    Called like tui.core.aws.client; CreateAccessKey hands out NEW_KEY_ID.
    """

    def __init__(self, keys: dict[str, SceneKey]) -> None:
        self.keys = keys

    def __call__(
        self, service: str, *, access_key_id: str, secret: Secret, region: str | None = None
    ) -> SceneClient:
        return SceneClient(self, access_key_id, secret.reveal())


class SceneClient:
    def __init__(self, aws: SceneAws, access_key_id: str, secret: str) -> None:
        self.aws, self.access_key_id, self.secret = aws, access_key_id, secret

    def _refuse(self, code: str, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "scene"}}, operation)

    def _authenticated(self, operation: str) -> None:
        key = self.aws.keys.get(self.access_key_id)
        if key is None or key.secret != self.secret:
            raise self._refuse("InvalidClientTokenId", operation)

    def get_caller_identity(self) -> dict[str, Any]:
        self._authenticated("GetCallerIdentity")
        return {"Account": ACCOUNT, "Arn": USER_ARN, "UserId": "AIDASCENEUSER0000001"}

    # The parameters are named as boto3 names them.
    def list_access_keys(self, UserName: str) -> dict[str, Any]:
        self._authenticated("ListAccessKeys")
        listed = [
            {
                "UserName": UserName,
                "AccessKeyId": key_id,
                "Status": key.status,
                "CreateDate": key.created,
            }
            for key_id, key in self.aws.keys.items()
        ]
        return {"AccessKeyMetadata": listed}

    def get_access_key_last_used(self, AccessKeyId: str) -> dict[str, Any]:
        self._authenticated("GetAccessKeyLastUsed")
        key = self.aws.keys[AccessKeyId]
        used: dict[str, Any] = {"ServiceName": key.last_service or "N/A", "Region": "N/A"}
        if key.last_used is not None:
            used |= {"LastUsedDate": key.last_used, "Region": "eu-west-1"}
        return {"UserName": "rundeck", "AccessKeyLastUsed": used}

    def create_access_key(self, UserName: str) -> dict[str, Any]:
        self._authenticated("CreateAccessKey")
        self.aws.keys[NEW_KEY_ID] = SceneKey(NEW_SECRET, "Active", FIXED_NOW)
        return {
            "AccessKey": {
                "UserName": UserName,
                "AccessKeyId": NEW_KEY_ID,
                "Status": "Active",
                "SecretAccessKey": NEW_SECRET,
                "CreateDate": FIXED_NOW,
            }
        }

    def update_access_key(self, UserName: str, AccessKeyId: str, Status: str) -> None:
        self._authenticated("UpdateAccessKey")
        self.aws.keys[AccessKeyId].status = Status

    def delete_access_key(self, UserName: str, AccessKeyId: str) -> None:
        self._authenticated("DeleteAccessKey")
        del self.aws.keys[AccessKeyId]


class RefusingKeyring(SandboxKeyring):
    """The memory keyring, except that writes to ``refused`` paths fail like a broken keyring."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[str] = set()

    def set_password(self, service: str, username: str, password: str) -> None:
        if username in self.refused:
            raise PasswordSetError("the keyring refused the write")
        super().set_password(service, username, password)


def access_key_services(
    *,
    age_days: int,
    spare: bool = False,
    keyring: SandboxKeyring | None = None,
    root: Path = SCENE_ROOT,
) -> tuple[Services, SceneAws]:
    """Project ops set up with KEY_ID, ``age_days`` old and used yesterday by S3; project web
    on the EC2 role. With ``spare``, the user's second key is an inactive one made by hand."""
    from tui.core.keystore import KeyStore
    from tui.core.model import Answers, Method, Scope
    from tui.core.setup import apply_setup, plan_setup

    services = scene_services(ec2_detection(), root=root)  # web's EC2 role is found here
    if keyring is not None:
        memory = keyring
        services.keystore = lambda: KeyStore(memory, assume_security="secure")
    keys = {
        KEY_ID: SceneKey(
            SECRET,
            "Active",
            FIXED_NOW - timedelta(days=age_days, hours=3),
            last_used=FIXED_NOW - timedelta(days=1),
            last_service="s3",
        )
    }
    if spare:
        keys[SPARE_KEY_ID] = SceneKey("spare-secret", "Inactive", FIXED_NOW - timedelta(days=400))
    aws = SceneAws(keys)
    services.aws_client = aws
    install, keystore = services.install(), services.keystore()
    setups = [
        (
            Answers(Method.ACCESS_KEY, Scope.PROJECT, "ops", "eu-west-1", KEY_ID, OPS_KEY_PATH),
            Secret(SECRET),
        ),
        (Answers(Method.EC2, Scope.PROJECT, "web", "eu-west-1"), None),
    ]
    for answers, secret in setups:
        plan = plan_setup(install, answers, keystore=keystore, secret=secret, clock=fixed_clock)
        assert apply_setup(plan, keystore=keystore, secret=secret, clock=fixed_clock).ok
    return services, aws


async def until(pilot: Pilot[object], condition: Callable[[], bool]) -> None:
    """Let the app run until ``condition`` holds (a worker may be waiting for an answer)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the scene never reached its state"
        await pilot.pause(0.02)


async def at_rotate(pilot: Pilot[object]) -> None:
    from tui.screens.rotate import RotateScreen

    await at_status(pilot)
    await pilot.press("t")
    await until(pilot, lambda: isinstance(pilot.app.screen, RotateScreen))
    await until(pilot, lambda: getattr(pilot.app.screen, "ready", False))
    await settle(pilot)


async def at_rotation_asking(pilot: Pilot[object]) -> None:
    from tui.screens.confirm import ConfirmScreen

    await at_rotate(pilot)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await pilot.pause()


async def at_rotation_finished(pilot: Pilot[object]) -> None:
    from tui.screens.rotate import RotateScreen

    await at_rotate(pilot)
    await pilot.press("enter")
    await until(
        pilot, lambda: isinstance(pilot.app.screen, RotateScreen) and pilot.app.screen.finished
    )
    await settle(pilot)
    body = pilot.app.screen.query_one(".body")
    outcome = pilot.app.screen.query_one("#rotate-outcome")
    # The outcome is laid out, then scrolled into view, a refresh or two later: wait for it.
    await until(pilot, lambda: outcome.size.height > 0 and body.scroll_y == body.max_scroll_y)


async def at_manual_form(pilot: Pilot[object]) -> None:
    from tui.screens.manual_rotate import ManualRotateScreen

    await at_status(pilot)
    await pilot.press("m")
    await until(pilot, lambda: isinstance(pilot.app.screen, ManualRotateScreen))
    await until(pilot, lambda: getattr(pilot.app.screen, "ready", False))
    await settle(pilot)
    await fill(pilot, "#access-key-id", NEW_KEY_ID)
    await fill(pilot, "#secret", NEW_SECRET)
    await settle(pilot)


# --- set it up for me: IAM and EC2 answers fixed in advance ---------------------------------------

SCENE_INSTANCES = {  # instance id: (Name tag, instance profile it has)
    "i-0a1b2c3d4e5f67890": ("rundeck-1", "rundeck-automation"),  # this instance (ec2_detection)
    "i-0b2c3d4e5f6789012": ("rundeck-2", None),
    "i-0c3d4e5f678901234": ("bastion", None),
}


class SceneAdminAws:
    """STS, IAM and EC2 of an account without the role yet: a stand-in for AWS in snapshots
    only (pilot tests use moto), because moto's instance ids change on every run.

    Called like tui.core.aws.client with the credentials found here (no key given).
    """

    def __init__(self) -> None:
        self.roles: dict[str, dict[str, Any]] = {}
        self.policies: dict[tuple[str, str], str] = {}
        self.profiles: dict[str, list[str]] = {"rundeck-automation": ["rundeck-automation"]}
        self.associations = {
            iid: profile for iid, (_, profile) in SCENE_INSTANCES.items() if profile is not None
        }

    def __call__(self, service: str, *, region: str | None = None, **_: object) -> Any:
        return SceneAdminClient(self)


class SceneAdminClient:
    def __init__(self, aws: SceneAdminAws) -> None:
        self.aws = aws

    @staticmethod
    def _missing(operation: str) -> ClientError:
        return ClientError({"Error": {"Code": "NoSuchEntity", "Message": "scene"}}, operation)

    # The parameters are named as boto3 names them.
    def get_caller_identity(self) -> dict[str, Any]:
        arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/rundeck-automation/i-0a1b2c3d4e5f67890"
        return {"Account": ACCOUNT, "Arn": arn, "UserId": "AROASCENE"}

    def get_role(self, RoleName: str) -> dict[str, Any]:
        if RoleName not in self.aws.roles:
            raise self._missing("GetRole")
        return {"Role": self.aws.roles[RoleName]}

    def create_role(self, RoleName: str, AssumeRolePolicyDocument: str, **_: Any) -> Any:
        arn = f"arn:aws:iam::{ACCOUNT}:role/{RoleName}"
        role = {
            "RoleName": RoleName,
            "Arn": arn,
            "AssumeRolePolicyDocument": AssumeRolePolicyDocument,
        }
        self.aws.roles[RoleName] = role
        return {"Role": role}

    def get_role_policy(self, RoleName: str, PolicyName: str) -> dict[str, Any]:
        if (RoleName, PolicyName) not in self.aws.policies:
            raise self._missing("GetRolePolicy")
        return {"PolicyDocument": self.aws.policies[RoleName, PolicyName]}

    def put_role_policy(self, RoleName: str, PolicyName: str, PolicyDocument: str) -> None:
        self.aws.policies[RoleName, PolicyName] = PolicyDocument

    def get_instance_profile(self, InstanceProfileName: str) -> dict[str, Any]:
        if InstanceProfileName not in self.aws.profiles:
            raise self._missing("GetInstanceProfile")
        roles = [{"RoleName": name} for name in self.aws.profiles[InstanceProfileName]]
        arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/{InstanceProfileName}"
        return {"InstanceProfile": {"Arn": arn, "Roles": roles}}

    def create_instance_profile(self, InstanceProfileName: str) -> None:
        self.aws.profiles[InstanceProfileName] = []

    def add_role_to_instance_profile(self, InstanceProfileName: str, RoleName: str) -> None:
        self.aws.profiles[InstanceProfileName].append(RoleName)

    def describe_instances(self, InstanceIds: list[str] | None = None, **_: Any) -> Any:
        wanted = InstanceIds or list(SCENE_INSTANCES)
        instances = [
            {
                "InstanceId": iid,
                "State": {"Name": "running"},
                "Tags": [{"Key": "Name", "Value": SCENE_INSTANCES[iid][0]}],
            }
            for iid in wanted
        ]
        return {"Reservations": [{"Instances": instances}]}

    def describe_iam_instance_profile_associations(self, Filters: list[Any]) -> Any:
        wanted = Filters[0]["Values"]
        found = [
            {
                "InstanceId": iid,
                "AssociationId": f"iip-assoc-0scene{index:012d}",
                "State": "associated",
                "IamInstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{profile}"},
            }
            for index, (iid, profile) in enumerate(sorted(self.aws.associations.items()))
            if iid in wanted
        ]
        return {"IamInstanceProfileAssociations": found}

    def associate_iam_instance_profile(self, IamInstanceProfile: Any, InstanceId: str) -> Any:
        self.aws.associations[InstanceId] = IamInstanceProfile["Name"]
        association = {"AssociationId": "iip-assoc-0scene000000000009", "State": "associating"}
        return {"IamInstanceProfileAssociation": association}


def provision_services(root: Path = SCENE_ROOT) -> tuple[Services, SceneAdminAws]:
    """The EC2 scene, with AWS answering as an account where the role is not set up yet."""
    services = scene_services(ec2_detection(), root=root)
    aws = SceneAdminAws()
    services.aws_client = aws
    return services, aws


async def at_provision(pilot: Pilot[object]) -> None:
    """Permissions with two plugins, Ctrl+O, and the instance rundeck-2 ticked too."""
    from textual.widgets import SelectionList

    from tui.screens.provision import ProvisionScreen

    await at_permissions(pilot)
    await pilot.press("ctrl+o")
    await until(pilot, lambda: isinstance(pilot.app.screen, ProvisionScreen))
    await settle(pilot)
    listing = pilot.app.screen.query_one("#instances", SelectionList)
    listing.focus()
    listing.highlighted = listing.get_option_index("i-0b2c3d4e5f6789012")
    await pilot.press("space")
    await settle(pilot)


async def at_provision_preview(pilot: Pilot[object]) -> None:
    await at_provision(pilot)
    await pilot.press("ctrl+t")
    await settle(pilot)
    await settle(pilot)


async def at_provision_finished(pilot: Pilot[object]) -> None:
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.provision import ProvisionScreen

    await at_provision_preview(pilot)
    await pilot.press("ctrl+g")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await pilot.press("y")
    await until(
        pilot,
        lambda: (
            isinstance(screen := pilot.app.screen, ProvisionScreen) and screen.result is not None
        ),
    )
    await settle(pilot)

"""A Rundeck install set up by the real setup transaction against moto's IAM, for status and
rotation tests: moto with signature checking on, a real gnome-keyring, the Java reader.

moto checks signatures (and so rejects a wrong secret or a deleted key) only once its auth
is switched on; it does not refuse an *inactive* key, so the checks here also ask IAM for the
key's status.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fixtures.aws import MotoServer
from tests.fixtures.java_oracle import JavaPropertiesOracle
from tui.core import aws
from tui.core.keystore import KeyStore
from tui.core.model import Answers, Method, Scope
from tui.core.record import SetupRecord, read_record, record_path
from tui.core.rotation import PREVIOUS_SUFFIX, RotationTarget, load_target
from tui.core.rundeck import RundeckInstall, find_install, setting_key
from tui.core.secret import Secret
from tui.core.setup import apply_setup, plan_setup

USER = "rundeck"
USER_PATH = "/svc/"
REGION = "us-east-1"
SYSTEM_KEY_PATH = "keys/aws/secret-key"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
ROTATE_OWN_KEYS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:ListAccessKeys",
                "iam:CreateAccessKey",
                "iam:UpdateAccessKey",
                "iam:DeleteAccessKey",
                "iam:GetAccessKeyLastUsed",
            ],
            "Resource": "*",
        }
    ],
}
FRAMEWORK_TEXT = (
    "# Rundeck framework settings\n"
    "framework.server.name = rundeck-1\n"
    "framework.server.url=http\\://localhost\\:4440\n"
    "! an old-style comment\n"
    "framework.rundeck.url=http://rundeck.example:4440\n"
)


def now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


class FakeTime:
    """``sleep`` and ``monotonic`` for backoff loops: sleeping advances the clock at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def _moto_auth(moto: MotoServer, count: str) -> None:
    request = urllib.request.Request(
        f"{moto.url}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@dataclass
class IamWorld:
    """moto's IAM with an admin (for the test's own checks) and the user Rundeck's key is for."""

    moto: MotoServer
    admin_id: str
    admin_secret: str
    user: str = USER
    user_arn: str = ""
    # Making a boto3 client costs ~0.1 s; the checks below make many with the same keys.
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)

    def _client(self, service: str, access_key_id: str, secret: str) -> Any:
        cached = (service, access_key_id, secret)
        if cached not in self._clients:
            self._clients[cached] = boto3.client(
                service,
                endpoint_url=self.moto.url,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret,
                region_name=REGION,
            )
        return self._clients[cached]

    def admin(self, service: str) -> Any:
        return self._client(service, self.admin_id, self.admin_secret)

    def access_keys(self) -> dict[str, str]:
        """The user's access keys and their status, as IAM lists them."""
        answer = self.admin("iam").list_access_keys(UserName=self.user)
        return {key["AccessKeyId"]: key["Status"] for key in answer["AccessKeyMetadata"]}

    def create_key(self, status: str = "Active") -> tuple[str, Secret]:
        created = self.admin("iam").create_access_key(UserName=self.user)["AccessKey"]
        if status != "Active":
            self.set_status(created["AccessKeyId"], status)
        return created["AccessKeyId"], Secret(created["SecretAccessKey"])

    def set_status(self, access_key_id: str, status: str) -> None:
        self.admin("iam").update_access_key(
            UserName=self.user, AccessKeyId=access_key_id, Status=status
        )

    def delete_key(self, access_key_id: str) -> None:
        self.admin("iam").delete_access_key(UserName=self.user, AccessKeyId=access_key_id)

    def authenticates(self, access_key_id: str, secret: Secret | None) -> bool:
        """True when STS accepts this pair as the Rundeck user (moto checks the signature)."""
        if secret is None:
            return False
        try:
            sts = self._client("sts", access_key_id, secret.reveal())
            arn = sts.get_caller_identity()["Arn"]
        except ClientError:
            return False
        return bool(arn == self.user_arn)


@pytest.fixture(name="iam_world")
def iam_world_fixture(aws_env: MotoServer) -> Iterator[IamWorld]:
    """A fresh moto with an admin and the ``rundeck`` user (allowed to manage its own keys),
    then signature checking switched on; switched off again afterwards for other tests."""
    bootstrap = boto3.client(
        "iam",
        endpoint_url=aws_env.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
    )
    bootstrap.create_user(UserName="admin")
    bootstrap.put_user_policy(
        UserName="admin", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL)
    )
    admin = bootstrap.create_access_key(UserName="admin")["AccessKey"]
    user = bootstrap.create_user(UserName=USER, Path=USER_PATH)["User"]
    bootstrap.put_user_policy(
        UserName=USER, PolicyName="rotate-own-keys", PolicyDocument=json.dumps(ROTATE_OWN_KEYS)
    )
    _moto_auth(aws_env, "0")
    try:
        yield IamWorld(
            aws_env, admin["AccessKeyId"], admin["SecretAccessKey"], user_arn=user["Arn"]
        )
    finally:
        _moto_auth(aws_env, "inf")


def make_install(base: Path, projects: dict[str, str] | None = None) -> RundeckInstall:
    """A launcher-layout Rundeck with a framework.properties and project files."""
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "framework.properties").write_text(FRAMEWORK_TEXT, encoding="latin-1")
    for name, text in (projects or {}).items():
        folder = base / "projects" / name / "etc"
        folder.mkdir(parents=True)
        (folder / "project.properties").write_text(text, encoding="latin-1")
    return find_install(base, env={})


def set_up_access_key(
    install: RundeckInstall,
    keystore: KeyStore,
    access_key_id: str,
    secret: Secret,
    *,
    scope: Scope = Scope.SYSTEM,
    project: str | None = None,
) -> Path:
    """Configure the access key method with the real setup transaction (what the wizard does)."""
    key_path = (
        SYSTEM_KEY_PATH if scope is Scope.SYSTEM else f"keys/project/{project}/aws/secret-key"
    )
    answers = Answers(
        method=Method.ACCESS_KEY,
        scope=scope,
        project=project,
        region=REGION,
        access_key_id=access_key_id,
        key_path=key_path,
    )
    plan = plan_setup(install, answers, keystore=keystore, secret=secret, clock=now)
    result = apply_setup(plan, keystore=keystore, secret=secret, clock=now)
    assert result.ok, result.error
    return plan.target


@dataclass
class Rundeck:
    """One access-key setup: the install, its target file, and helpers to check its state."""

    install: RundeckInstall
    world: IamWorld
    keystore: KeyStore
    java: JavaPropertiesOracle
    scope: Scope = Scope.SYSTEM
    project: str | None = None
    secrets: list[Secret] = field(default_factory=list)

    @property
    def file(self) -> Path:
        return self.install.target(self.scope, self.project)

    def target(self) -> RotationTarget:
        return load_target(self.install, self.scope, self.project)

    def record(self) -> SetupRecord:
        record = read_record(record_path(self.file))
        assert record is not None
        return record

    def java_settings(self) -> tuple[str, str]:
        """The access key id and key-storage path as java.util.Properties reads the file."""
        loaded = self.java(self.file)
        return (
            loaded[setting_key(self.scope, "access_key")],
            loaded[setting_key(self.scope, "secret_key_path")],
        )

    def config_works(self) -> str:
        """Assert the file (as Java reads it) and the keyring authenticate; return the key id.

        moto accepts an inactive key, so IAM must also list the key as Active.
        """
        access_key_id, key_path = self.java_settings()
        stored = self.keystore.get(key_path)
        assert stored is not None, f"no secret stored at {key_path}"
        self.secrets.append(stored)
        assert self.world.authenticates(access_key_id, stored), (
            f"{access_key_id} with the stored secret does not authenticate"
        )
        assert self.world.access_keys().get(access_key_id) == "Active", self.world.access_keys()
        return access_key_id

    def configured_key(self) -> str:
        """Assert the stored config works and IAM holds no orphan; return the configured key."""
        access_key_id = self.config_works()
        key_path = self.java_settings()[1]
        keys = self.world.access_keys()
        record = read_record(record_path(self.file))
        previous = self.keystore.get(key_path + PREVIOUS_SUFFIX)
        for other, status in keys.items():
            if other == access_key_id:
                continue
            kept_inactive = (
                record is not None
                and record.previous_key_inactive
                and record.previous_access_key_id == other
                and status == "Inactive"
            )
            kept_for_rollback = (
                record is not None
                and record.rotation is not None
                and record.rotation.old_access_key_id == other
                and self.world.authenticates(other, previous)
            )
            assert kept_inactive or kept_for_rollback, (
                f"IAM holds {other} ({status}) whose secret nobody holds: {keys}, {record}"
            )
        return access_key_id

    def settings_other_than_aws(self) -> dict[str, str]:
        return {
            key: value for key, value in self.java(self.file).items() if ".aws." not in f".{key}"
        }


@pytest.fixture(name="rundeck")
def rundeck_fixture(
    tmp_path: Path,
    iam_world: IamWorld,
    keystore: KeyStore,
    java_properties: JavaPropertiesOracle,
) -> Rundeck:
    """framework.properties set up with a fresh key of the ``rundeck`` user, as the wizard does."""
    install = make_install(tmp_path / "rundeck", {"ops": "project.name=ops\n"})
    access_key_id, secret = iam_world.create_key()
    set_up_access_key(install, keystore, access_key_id, secret)
    return Rundeck(install, iam_world, keystore, java_properties, secrets=[secret])


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected by the test"}}, operation)


class FailingClients:
    """A client factory over the real moto clients that fails chosen calls, like AWS refusing.

    ``fail[method]`` decides per call: given the access key id the client was made with,
    return an error code to raise, or None to let the real call through. The clients are
    made as tui.core.aws.client makes them, from one shared boto3 session (25 times faster).
    """

    def __init__(self) -> None:
        self.fail: dict[str, Callable[[str], str | None]] = {}
        self.calls: list[tuple[str, str]] = []
        self._session = boto3.session.Session()
        self._config = Config(
            connect_timeout=aws.CONNECT_TIMEOUT,
            read_timeout=aws.READ_TIMEOUT,
            retries={"max_attempts": 1, "mode": "standard"},
        )

    def client(self, service: str, access_key_id: str, secret: Secret, region: str | None) -> Any:
        return self._session.client(
            service,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret.reveal(),
            region_name=region or REGION,
            config=self._config,
        )

    def refuse(
        self,
        method: str,
        code: str = "AccessDenied",
        *,
        times: int | None = None,
        only_key: str | None = None,
    ) -> None:
        remaining = [times]

        def decide(access_key_id: str) -> str | None:
            if only_key is not None and access_key_id != only_key:
                return None
            if remaining[0] is not None:
                if remaining[0] <= 0:
                    return None
                remaining[0] -= 1
            return code

        self.fail[method] = decide

    def __call__(
        self, service: str, *, access_key_id: str, secret: Secret, region: str | None = None
    ) -> Any:
        client = self.client(service, access_key_id, secret, region)
        return _Wrapped(client, self, access_key_id)


class _Wrapped:
    def __init__(self, client: Any, owner: FailingClients, access_key_id: str) -> None:
        self._client = client
        self._owner = owner
        self._key = access_key_id

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        decide = self._owner.fail.get(name)
        if decide is None:
            return real

        def call(**kwargs: Any) -> Any:
            self._owner.calls.append((name, self._key))
            code = decide(self._key)
            if code is not None:
                raise client_error(code, name)
            return real(**kwargs)

        return call

"""``rotate`` with Rundeck's API on loopback: Key Storage follows every switch (issue
"Rundeck itself": two rotations in a row leave Key Storage holding the secret of the one IAM
key that exists)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    REGION,
    SYSTEM_KEY_PATH,
    IamWorld,
    Rundeck,
    iam_world_fixture,
    make_install,
    now,
    rundeck_fixture,
)
from tests.core.test_cli_rotate import REPO, cli
from tests.fixtures.java_oracle import JavaPropertiesOracle
from tui.core.keystore import KeyStore
from tui.core.model import Scope
from tui.core.record import read_record, record_path
from tui.core.rotation import PREVIOUS_SUFFIX
from tui.core.rundeck_api import RundeckClient
from tui.core.secret import Secret
from tui.standins.rundeck_api import RundeckStandIn
from tui.standins.rundeck_state import StandInToken

TOKEN = "rotateTok3nForTheStandIn01234567"


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[RundeckStandIn]:
    server = RundeckStandIn(projects={"ops": {}}, tokens=[StandInToken.admin(TOKEN)])
    server.start()
    monkeypatch.setenv("RD_URL", server.url)
    monkeypatch.setenv("RD_TOKEN", TOKEN)
    try:
        yield server
    finally:
        server.stop()


def test_two_rotations_leave_key_storage_holding_the_one_key_that_exists(
    rundeck: Rundeck, standin: RundeckStandIn
) -> None:
    for _ in range(2):
        run = cli(rundeck, "rotate", "--system", "--yes", "--delete-old", "--json")
        assert run.code == 0, run.stdout + run.stderr
        document = run.json("rotate")
        assert "key-storage" in [step["name"] for step in document["steps"]]
    configured = rundeck.configured_key()
    assert rundeck.world.access_keys() == {configured: "Active"}
    stored = rundeck.keystore.get(SYSTEM_KEY_PATH)
    assert stored is not None
    # As Rundeck's plugins read it: exactly the secret of the configured, only key.
    assert standin.read_password(SYSTEM_KEY_PATH) == stored.reveal().encode()
    with RundeckClient(standin.url, Secret(TOKEN)) as admin:
        everything = [item.path for item in admin.list_keys("aws")]
    assert everything == [SYSTEM_KEY_PATH]  # no old secret anywhere in Key Storage


BILLING_KEY_PATH = "keys/project/billing/aws/secret-key"
BILLING_OTHER_CONFIG = {
    "project.name": "billing",
    "project.description": "kept in Rundeck's database",
    "resources.source.1.type": "local",
}


@dataclass
class DatabaseProject:
    """Project billing, only in Rundeck's database (the stand-in), set up by ``apply``."""

    world: Rundeck
    server: RundeckStandIn

    def configured_key(self) -> str:
        """Assert that Rundeck's view works (config → Key Storage → STS); return the key id."""
        config = self.server.project_config("billing")
        configured = config["project.aws.access_key"]
        assert config["project.aws.secret_key_path"] == BILLING_KEY_PATH
        in_storage = Secret(self.server.read_password(BILLING_KEY_PATH).decode())
        assert self.world.world.authenticates(configured, in_storage)
        assert self.world.keystore.get(BILLING_KEY_PATH) == in_storage  # the local copy
        return configured


@pytest.fixture
def billing(
    tmp_path: Path,
    iam_world: IamWorld,
    keystore: KeyStore,
    java_properties: JavaPropertiesOracle,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DatabaseProject]:
    """The URL found through the install's rundeck-config.properties, RD_TOKEN set."""
    server = RundeckStandIn(
        projects={"billing": dict(BILLING_OTHER_CONFIG)}, tokens=[StandInToken.admin(TOKEN)]
    )
    server.start()
    try:
        install = make_install(tmp_path / "rundeck")
        config_dir = install.base / "server" / "config"
        config_dir.mkdir(parents=True)
        (config_dir / "rundeck-config.properties").write_text(f"grails.serverURL={server.url}\n")
        monkeypatch.setenv("RD_TOKEN", TOKEN)
        access_key_id, secret = iam_world.create_key()
        world = Rundeck(
            install, iam_world, keystore, java_properties, Scope.PROJECT, "billing", [secret]
        )
        applied = apply_through_stdin(world, access_key_id, secret)
        assert applied["configuration_path"] == "api", applied
        yield DatabaseProject(world, server)
    finally:
        server.stop()


def test_two_rotations_of_a_project_in_rundecks_database_go_through_its_api(
    billing: DatabaseProject,
) -> None:
    """The Done-when of issue "Rundeck itself": two ``rotate --yes --delete-old`` of a project
    that has no project.properties leave Key Storage holding the one key that exists."""
    world, server = billing.world, billing.server
    seen = [billing.configured_key()]
    for _ in range(2):
        run = cli(world, "rotate", "--project", "billing", "--yes", "--delete-old", "--json")
        assert run.code == 0, run.stdout + run.stderr
        assert TOKEN not in run.stdout + run.stderr
        document = run.json("rotate")
        assert document["configuration_path"] == "api"
        assert "key-storage" in [step["name"] for step in document["steps"]]
        world.secrets.append(world.keystore.get(BILLING_KEY_PATH) or Secret("missing"))
        seen.append(billing.configured_key())

    configured = seen[-1]
    assert len(set(seen)) == 3  # each rotation switched to a new key
    assert world.world.access_keys() == {configured: "Active"}
    with RundeckClient(server.url, Secret(TOKEN)) as admin:
        everything = [item.path for item in admin.list_keys("project/billing/aws")]
    assert everything == [BILLING_KEY_PATH]  # no old secret anywhere in Key Storage
    config = server.project_config("billing")
    assert {k: v for k, v in config.items() if ".aws." not in k} == BILLING_OTHER_CONFIG
    whole = [r for r in server.requests if r.method == "PUT" and r.path.endswith("/config")]
    assert whole == []
    assert not world.install.project_properties("billing").exists()  # never written
    assert world.keystore.get(BILLING_KEY_PATH + PREVIOUS_SUFFIX) is None


def apply_through_stdin(world: Rundeck, access_key_id: str, secret: Secret) -> dict[str, Any]:
    """``apply`` of the access key to project billing, the secret on a pipe (never argv)."""
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring")
    args = ["apply", "--method", "access-key", "--project", "billing"]
    args += ["--access-key-id", access_key_id, "--region", REGION, "--secret-stdin"]
    args += ["--yes", "--json", "--rdeck-base", str(world.install.base)]
    completed = subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=secret.reveal(),
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=90,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert secret.reveal() not in completed.stdout + completed.stderr
    assert TOKEN not in completed.stdout + completed.stderr
    document: dict[str, Any] = json.loads(completed.stdout)
    return document


KILLED_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from keyring.backends import SecretService
    from tui.core.keystore import KeyStore
    from tui.core.rotation import load_api_target, rotate_key
    from tui.core.rundeck import find_install
    from tui.core.rundeck_api import RundeckClient
    from tui.core.secret import Secret

    stop_at, base, url, token = sys.argv[1], sys.argv[2], sys.argv[3], sys.stdin.readline()

    def on_step(step):
        if f"{step.name}:{step.status}" == stop_at:
            print("AT " + stop_at, flush=True)
            sys.stdin.readline()  # blocks until the test kills this process
            print("NOT KILLED", flush=True)

    client = RundeckClient(url, Secret(token.strip()))
    target = load_api_target(find_install(base), client, "billing")
    result = rotate_key(
        target,
        keystore=KeyStore(SecretService.Keyring(), timeout=30),
        clock=lambda: datetime.now().astimezone().replace(microsecond=0),
        key_storage=client,
        on_step=on_step,
    )
    print("END " + result.outcome, flush=True)
    """
)


def kill_rotation_at(billing: DatabaseProject, stop_at: str) -> None:
    """A rotation of billing in a child process, killed -9 when it reaches ``stop_at``."""
    base, url = str(billing.world.install.base), billing.server.url
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, stop_at, base, url],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(TOKEN + "\n")  # on stdin, as a token never goes in argv
    child.stdin.flush()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while f"AT {stop_at}" not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"child never reached {stop_at}: {seen}"
            ready, _, _ = select.select([child.stdout], [], [], remaining)
            if ready:
                line = child.stdout.readline()
                assert line, f"child ended before {stop_at}: {seen} {child.stderr.read()}"
                seen.append(line.strip())
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            stream.close()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stop_at", ["key-storage:done", "properties:done"])
@pytest.mark.parametrize("action", ["finish", "rollback"])
def test_a_rotation_killed_on_the_rundeck_side_is_resumed_through_the_api(
    billing: DatabaseProject, stop_at: str, action: str
) -> None:
    """Killed after Key Storage took the new secret (config still on the old key), or after
    the config switched: the marker is in the record beside where project.properties would
    be, and a resume brings config, Key Storage and the keyring to one working key."""
    world = billing.world
    old = billing.configured_key()
    kill_rotation_at(billing, stop_at)
    record = read_record(record_path(world.install.project_properties("billing")))
    assert record is not None and record.rotation is not None
    assert record.rotation.old_access_key_id == old
    new = record.rotation.new_access_key_id

    stuck = cli(world, "rotate", "--project", "billing", "--yes", "--json")
    assert stuck.code == 2 and "interrupted" in stuck.stdout, stuck.stdout + stuck.stderr

    run = cli(world, "rotate", "--project", "billing", "--resume", action, "--yes", "--json")
    assert run.code == 0, run.stdout + run.stderr
    assert TOKEN not in run.stdout + run.stderr
    assert run.json("rotate")["configuration_path"] == "api"
    configured = billing.configured_key()  # Key Storage holds the secret of the named key
    assert configured == (new if action == "finish" else old)
    keys = world.world.access_keys()
    assert keys == ({new: "Active", old: "Inactive"} if action == "finish" else {old: "Active"})
    assert world.keystore.get(BILLING_KEY_PATH + PREVIOUS_SUFFIX) is None
    after = read_record(record_path(world.install.project_properties("billing")))
    assert after is not None and after.rotation is None


class DownBeforeTheConfig(RundeckClient):
    """Rundeck goes down (the stand-in stops) when the rotation's config call is made, right
    after Key Storage took the new secret."""

    def __init__(self, server: RundeckStandIn) -> None:
        super().__init__(server.url, Secret(TOKEN))
        self.server = server

    def set_config_key(self, project: str, key: str, value: str) -> None:
        self.server.stop()
        super().set_config_key(project, key, value)


def test_rundeck_down_between_the_upload_and_the_config_keeps_both_keys_until_resumed(
    billing: DatabaseProject,
) -> None:
    """Key Storage holds the new secret and cannot be put back while Rundeck is down: neither
    key is deleted, the marker stays, and a resume with Rundeck back aligns all three."""
    from tui.core.rotation import load_api_target, rotate_key

    world, server = billing.world, billing.server
    old = billing.configured_key()
    client = DownBeforeTheConfig(server)
    target = load_api_target(world.install, client, "billing")
    result = rotate_key(target, keystore=world.keystore, clock=now, key_storage=client)
    assert result.outcome == "failed", result
    assert "resume" in " ".join(result.next_steps)
    assert len(world.world.access_keys()) == 2  # the new key's secret is in Key Storage
    record = read_record(record_path(world.install.project_properties("billing")))
    assert record is not None and record.rotation is not None

    server.start()  # Rundeck is back, at a new port
    config_file = world.install.base / "server" / "config" / "rundeck-config.properties"
    config_file.write_text(f"grails.serverURL={server.url}\n")
    run = cli(world, "rotate", "--project", "billing", "--resume", "rollback", "--yes", "--json")
    assert run.code == 0, run.stdout + run.stderr
    assert billing.configured_key() == old  # config, Key Storage and keyring agree again
    assert world.world.access_keys() == {old: "Active"}

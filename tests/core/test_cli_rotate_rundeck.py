"""``rotate`` with Rundeck's API on loopback: Key Storage follows every switch (issue
"Rundeck itself": two rotations in a row leave Key Storage holding the secret of the one IAM
key that exists)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    SYSTEM_KEY_PATH,
    Rundeck,
    iam_world_fixture,
    rundeck_fixture,
)
from tests.core.test_cli_rotate import cli
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

"""Status, Rotate and Remove of a project Rundeck keeps in its database, in the wizard: read
and changed through Rundeck's API (the loopback stand-in), with moto's IAM and the real
keyring (issue "Rundeck itself": the wizard does what the headless commands do)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Button

from tests.core.rotation_world import (  # noqa: F401 - fixtures
    REGION,
    IamWorld,
    Rundeck,
    iam_world_fixture,
    make_install,
    now,
)
from tests.fixtures.java_oracle import JavaPropertiesOracle
from tests.tui.test_rotate_screen import finish, rotate_screen, services_for, until
from tests.tui.test_rundeck_connection import TOKEN, with_rundeck
from tui.app import WizardApp
from tui.core.keystore import KeyStore
from tui.core.model import Answers, Method, Scope
from tui.core.rundeck_api import RundeckClient
from tui.core.rundeck_link import token_key_path
from tui.core.secret import Secret
from tui.core.setup import apply_setup, plan_setup
from tui.screens.confirm import ConfirmScreen
from tui.screens.remove import RemoveScreen
from tui.screens.rotate import RotateScreen
from tui.screens.status import StatusScreen, describe_entry
from tui.standins.rundeck_api import RundeckStandIn
from tui.standins.rundeck_state import StandInToken

KEY_PATH = "keys/project/billing/aws/secret-key"
BILLING = {"project.name": "billing", "project.description": "Invoices"}


def billing_in_rundeck(
    tmp_path: Path,
    iam_world: IamWorld,
    keystore: KeyStore,
    java_properties: JavaPropertiesOracle,
    *,
    system_role: bool,
) -> Iterator[tuple[Rundeck, RundeckStandIn]]:
    """Project billing, only in Rundeck's database, on an access key: config, Key Storage and
    keyring copy as apply leaves them; the token kept in the keyring for Rundeck's URL. With
    ``system_role`` the system scope is on an instance role (on disk), else nothing is."""
    install = make_install(tmp_path / "rundeck")
    if system_role:
        role = Answers(method=Method.EC2, scope=Scope.SYSTEM, region=REGION)
        plan = plan_setup(install, role, keystore=keystore, secret=None, clock=now)
        assert apply_setup(plan, keystore=keystore, secret=None, clock=now).ok
    access_key_id, secret = iam_world.create_key()
    with RundeckStandIn(
        projects={"billing": dict(BILLING)}, tokens=[StandInToken.admin(TOKEN)]
    ) as server:
        with RundeckClient(server.url, Secret(TOKEN)) as admin:
            admin.set_config_key("billing", "project.aws.region", REGION)
            admin.set_config_key("billing", "project.aws.access_key", access_key_id)
            admin.set_config_key("billing", "project.aws.secret_key_path", KEY_PATH)
            admin.create_password(KEY_PATH, secret)
        keystore.put(KEY_PATH, secret)
        keystore.put(token_key_path(server.url), Secret(TOKEN))
        yield Rundeck(install, iam_world, keystore, java_properties, secrets=[secret]), server


@pytest.fixture
def billing(
    tmp_path: Path, iam_world: IamWorld, keystore: KeyStore, java_properties: JavaPropertiesOracle
) -> Iterator[tuple[Rundeck, RundeckStandIn]]:
    yield from billing_in_rundeck(tmp_path, iam_world, keystore, java_properties, system_role=True)


@pytest.fixture
def billing_alone(
    tmp_path: Path, iam_world: IamWorld, keystore: KeyStore, java_properties: JavaPropertiesOracle
) -> Iterator[tuple[Rundeck, RundeckStandIn]]:
    yield from billing_in_rundeck(tmp_path, iam_world, keystore, java_properties, system_role=False)


def app_for(world: Rundeck, server: RundeckStandIn) -> WizardApp:
    return WizardApp(with_rundeck(services_for(world), server, world.keystore))


async def select_billing(app: WizardApp, pilot: Any) -> StatusScreen:
    await until(pilot, lambda: isinstance(app.screen, StatusScreen), "the Status screen")
    status = app.screen
    assert isinstance(status, StatusScreen)

    def billing_listed() -> bool:
        return (
            status.status is not None and status.status.entry(Scope.PROJECT, "billing") is not None
        )

    await until(pilot, billing_listed, "billing, read through the API")
    for _ in range(5):
        entry = status.selected_entry()
        if entry is not None and entry.project == "billing":
            return status
        await pilot.press("down")
    raise AssertionError("billing could not be selected")


async def test_status_rotates_a_database_project_through_the_api(
    billing: tuple[Rundeck, RundeckStandIn],
) -> None:
    world, server = billing
    old = server.project_config("billing")["project.aws.access_key"]
    app = app_for(world, server)
    async with app.run_test(size=(100, 40)) as pilot:
        status = await select_billing(app, pilot)
        entry = status.selected_entry()
        assert entry is not None and entry.source == "api" and entry.secret_present is True
        assert entry.key_storage_present is True
        shown = Console(width=100, record=True, file=io.StringIO())
        shown.print(describe_entry(entry))
        text = shown.export_text()
        assert "Project billing · in Rundeck (API)" in text
        assert "secret present · in Key Storage" in text
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, RotateScreen), "Rotate")
        await until(pilot, lambda: rotate_screen(app).ready, "Rotate to read the setup")
        assert rotate_screen(app).known is not None and rotate_screen(app).known.api is not None  # type: ignore[union-attr]
        await pilot.press("enter")  # keep the old key, inactive
        screen = await finish(app, pilot)
        assert screen.result is not None and screen.result.outcome == "rotated", screen.result

    config = server.project_config("billing")
    new = config["project.aws.access_key"]
    assert new != old
    stored = world.keystore.get(KEY_PATH)
    assert stored is not None and world.world.authenticates(new, stored)
    assert server.read_password(KEY_PATH) == stored.reveal().encode()  # as the plugins read it
    assert world.world.access_keys() == {new: "Active", old: "Inactive"}
    assert {k: v for k, v in config.items() if ".aws." not in k} == BILLING
    assert not world.install.project_properties("billing").exists()
    assert [r for r in server.requests if r.method == "PUT" and r.path.endswith("/config")] == []


async def test_remove_of_a_database_project_asks_before_deleting_the_key(
    billing: tuple[Rundeck, RundeckStandIn],
) -> None:
    world, server = billing
    app = app_for(world, server)
    async with app.run_test(size=(100, 40)) as pilot:
        await select_billing(app, pilot)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, RemoveScreen), "Remove")
        remove = app.screen
        assert isinstance(remove, RemoveScreen) and remove.api_plan is not None
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "cancel"  # Enter never removes
        remove.query_one("#confirm-remove", Button).press()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the key question")
        assert app.focused is not None and "Keep it" in str(app.focused.label)  # type: ignore[attr-defined]
        await pilot.press("enter")  # Keep it: the default never deletes
        await until(pilot, lambda: isinstance(app.screen, StatusScreen), "back on Status")

    config = server.project_config("billing")
    assert not [key for key in config if key.startswith("project.aws.")]
    assert config == BILLING
    assert server.read_password(KEY_PATH)  # kept: it cannot be read back once deleted
    assert world.keystore.get(KEY_PATH) is not None


async def test_a_setup_only_rundeck_holds_opens_the_wizard_on_status(
    billing_alone: tuple[Rundeck, RundeckStandIn],
) -> None:
    """Nothing on disk, billing set up in Rundeck's database: a re-run shows the setup."""
    world, server = billing_alone
    access_key_id = server.project_config("billing")["project.aws.access_key"]
    app = app_for(world, server)
    async with app.run_test(size=(100, 40)) as pilot:
        status = await select_billing(app, pilot)
        entry = status.selected_entry()
        assert entry is not None and entry.access_key_id == access_key_id
        assert entry.secret_present is True and entry.key_storage_present is True

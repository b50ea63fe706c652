"""Scenes with Rundeck's API: the loopback stand-in, shown under a fixed URL.

The stand-in listens on a random port; the scene's connection carries the fixed URL the
install's framework.properties names, so no port ever reaches a snapshot.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button

from tests import scenes
from tui.core.detect import Detection
from tui.core.keystore import KeyStore
from tui.core.rundeck_api import RundeckUrl
from tui.core.rundeck_api.url import UrlSource
from tui.core.rundeck_link import ConnectionRequest, RundeckLink, connect, token_key_path
from tui.core.secret import Secret
from tui.services import Services
from tui.standins.rundeck_api import RundeckStandIn
from tui.standins.rundeck_state import StandInToken

SHOWN_URL = "http://rundeck.example.internal:4440"  # framework.server.url of the layout
TOKEN = "scene-admin-token-0f1e2d3c4b5a"


PROJECTS = {
    "ops": {"project.name": "ops"},
    "web": {"project.name": "web"},
    "billing": {"project.name": "billing"},
    "ops-db": {"project.name": "ops-db"},
}


def api_scene_services(
    detection: Detection,
    *,
    projects: dict[str, dict[str, str]] = PROJECTS,
    seed: Callable[[RundeckStandIn, KeyStore], None] | None = None,
) -> Services:
    """A scene whose Rundeck answers, with an admin token in the scene keyring; ``seed``
    puts in place what Rundeck and the keyring hold before the wizard starts."""
    services = scenes.scene_services(detection)
    rundeck = RundeckStandIn(
        projects={name: dict(config) for name, config in projects.items()},
        tokens=[StandInToken.admin(TOKEN)],
    ).start()
    atexit.register(rundeck.stop)
    keystore = services.keystore()
    if seed is not None:
        seed(rundeck, keystore)
    keystore.put(token_key_path(rundeck.url), Secret(TOKEN))
    shown = RundeckUrl(
        SHOWN_URL, UrlSource.FRAMEWORK, str(scenes.SCENE_ROOT / "rundeck/etc/framework.properties")
    )

    def connect_scene(request: ConnectionRequest) -> Any:
        link = connect(replace(request, url=rundeck.url), keystore=keystore, env={})
        return replace(link, url=shown) if isinstance(link, RundeckLink) else link

    return replace(services, rundeck_url=lambda base: shown, rundeck=connect_scene)


async def at_scope_connected(pilot: Pilot[object]) -> None:
    """Scope for an access key, system scope: the panel connected with the keyring's token."""
    await scenes.at_method(pilot)
    await pilot.press("home", "down", "down", "enter")
    await scenes.settle(pilot)
    await pilot.press("ctrl+n")  # Permissions: nothing ticked
    await scenes.settle(pilot)


async def at_review_api(pilot: Pilot[object]) -> None:
    """Review of an access key for billing, a project Rundeck keeps in its database."""
    await at_scope_connected(pilot)
    await pilot.press("down", "enter")
    await scenes.fill(pilot, "#project-name", "billing")
    await scenes.settle(pilot)
    await pilot.press("ctrl+n")
    await scenes.settle(pilot)
    await scenes.fill(pilot, "#access-key-id", scenes.KEY_ID)
    await scenes.fill(pilot, "#secret", scenes.SECRET)
    await pilot.press("ctrl+n")
    await scenes.settle(pilot)


BILLING_KEY_PATH = "keys/project/billing/aws/secret-key"
OPS_DB_KEY_PATH = "keys/project/ops-db/aws/secret-key"


def _database_setups(rundeck: RundeckStandIn, keystore: KeyStore) -> None:
    """billing on an access key as apply leaves it (config, Key Storage, keyring copy);
    ops-db naming a key path that Key Storage does not hold (deleted in the GUI)."""
    for project, path in (("billing", BILLING_KEY_PATH), ("ops-db", OPS_DB_KEY_PATH)):
        rundeck.projects[project].update(
            {
                "project.aws.region": "eu-west-1",
                "project.aws.access_key": scenes.KEY_ID,
                "project.aws.secret_key_path": path,
            }
        )
    rundeck.seed_key(BILLING_KEY_PATH, scenes.SECRET.encode())
    keystore.put(BILLING_KEY_PATH, Secret(scenes.SECRET))


def database_status_services() -> Services:
    """Status of an install whose setups only Rundeck's database holds."""
    projects = {"billing": PROJECTS["billing"], "ops-db": PROJECTS["ops-db"]}
    return api_scene_services(scenes.nothing_detected(), projects=projects, seed=_database_setups)


async def at_status_api(pilot: Pilot[object]) -> None:
    """Status, opened because Rundeck holds a setup: both projects read through the API."""
    from tui.screens.status import StatusScreen

    await scenes.until(pilot, lambda: isinstance(pilot.app.screen, StatusScreen))
    await scenes.settle(pilot)
    await scenes.settle(pilot)


async def at_remove_api(pilot: Pilot[object]) -> None:
    """Remove on billing: the config keys deleted through the API, Key Storage kept unless
    asked."""
    from textual.widgets import OptionList

    from tui.screens.remove import RemoveScreen

    await at_status_api(pilot)
    entries = pilot.app.screen.query_one("#entries", OptionList)
    labels = [entries.get_option_at_index(i).id or "" for i in range(entries.option_count)]
    entries.highlighted = next(i for i, label in enumerate(labels) if "billing" in label)
    await pilot.press("x")
    await scenes.until(pilot, lambda: isinstance(pilot.app.screen, RemoveScreen))
    await scenes.settle(pilot)


async def at_remove_api_key_storage(pilot: Pilot[object]) -> None:
    """Remove confirmed: the second question, whether the Key Storage entry goes too."""
    from tui.screens.confirm import ConfirmScreen

    await at_remove_api(pilot)
    pilot.app.screen.query_one("#confirm-remove", Button).press()
    await scenes.until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await scenes.settle(pilot)

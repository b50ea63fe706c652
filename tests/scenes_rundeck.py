"""Scenes with Rundeck's API: the loopback stand-in, shown under a fixed URL.

The stand-in listens on a random port; the scene's connection carries the fixed URL the
install's framework.properties names, so no port ever reaches a snapshot.
"""

from __future__ import annotations

import atexit
from dataclasses import replace
from typing import Any

from textual.pilot import Pilot

from tests import scenes
from tui.core.detect import Detection
from tui.core.rundeck_api import RundeckUrl
from tui.core.rundeck_api.url import UrlSource
from tui.core.rundeck_link import ConnectionRequest, RundeckLink, connect, token_key_path
from tui.core.secret import Secret
from tui.services import Services
from tui.standins.rundeck_api import RundeckStandIn
from tui.standins.rundeck_state import StandInToken

SHOWN_URL = "http://rundeck.example.internal:4440"  # framework.server.url of the layout
TOKEN = "scene-admin-token-0f1e2d3c4b5a"


def api_scene_services(detection: Detection) -> Services:
    """A scene whose Rundeck answers, with an admin token in the scene keyring."""
    services = scenes.scene_services(detection)
    rundeck = RundeckStandIn(
        projects={
            "ops": {"project.name": "ops"},
            "web": {"project.name": "web"},
            "billing": {"project.name": "billing"},
            "ops-db": {"project.name": "ops-db"},
        },
        tokens=[StandInToken.admin(TOKEN)],
    ).start()
    atexit.register(rundeck.stop)
    keystore = services.keystore()
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

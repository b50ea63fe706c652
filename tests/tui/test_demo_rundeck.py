"""The --demo sandbox's Rundeck: a loopback stand-in the install's files point at."""

from __future__ import annotations

from pathlib import Path

from tui.core.rundeck_api.url import UrlSource
from tui.core.rundeck_link import ConnectionRequest, RundeckLink
from tui.demo import DemoSandbox
from tui.demo_services import demo_services


def test_the_demo_rundeck_is_discovered_and_its_token_is_in_the_sandbox_keyring(
    tmp_path: Path,
) -> None:
    services, sandbox = demo_services(DemoSandbox(tmp_path))
    try:
        assert services.rundeck_url is not None and services.rundeck is not None
        url = services.rundeck_url(services.rdeck_base)
        assert url.source is UrlSource.RUNDECK_CONFIG
        assert url.url.startswith("http://127.0.0.1:")
        link = services.rundeck(ConnectionRequest(rdeck_base=services.rdeck_base))
        assert isinstance(link, RundeckLink) and link.token_source == "keyring"
        names = {project.name for project in link.client.list_projects()}
        assert names == {"billing", "ops", "ops-db", "web"}
        projects = sandbox.rdeck_base / "projects"
        assert sorted(p.name for p in projects.iterdir()) == ["ops", "web"]  # the rest: database
        assert link.client.get_config("ops")["resources.source.1.type"] == "aws-ec2"
    finally:
        sandbox.stop()
    assert sandbox.rundeck is None

"""The wizard and Rundeck's API: the connection panel on Scope, an API plan on Review, Done's
aclpolicy; against the loopback stand-in of Rundeck's API and the real keyring."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Input, OptionList, Static

from tests.tui.test_flows import settle
from tui.app import WizardApp
from tui.core.rundeck_api import RundeckUrl
from tui.core.rundeck_api.url import UrlSource
from tui.core.rundeck_link import ConnectionRequest, RundeckLink, token_key_path
from tui.core.secret import Secret
from tui.screens.apply import ApplyScreen
from tui.screens.details import DetailsScreen
from tui.screens.done import DoneScreen
from tui.screens.method import MethodScreen
from tui.screens.review import ReviewScreen
from tui.screens.scope import ScopeScreen
from tui.services import Services, connect_with_keyring
from tui.standins.rundeck_api import RundeckStandIn
from tui.standins.rundeck_state import StandInToken
from tui.widgets.shell_command import ShellCommand

TOKEN = "wizard-admin-token-7f3e9a1c5b"
KEY_ID = "AKIAWIZARDTEST000001"
SECRET = "wizardSecret/0123456789+abcdefghijABCDEF"
BILLING = {"project.name": "billing", "project.description": "Invoices", "other.setting": "x"}
KEY_PATH = "keys/project/billing/aws/secret-key"


@pytest.fixture
def standin() -> Iterator[RundeckStandIn]:
    """Rundeck with the on-disk projects and billing, kept in its database only."""
    projects = {"ops": {"project.name": "ops"}, "web": {"project.name": "web"}}
    projects["billing"] = dict(BILLING)
    with RundeckStandIn(projects=projects, tokens=[StandInToken.admin(TOKEN)]) as server:
        yield server


def with_rundeck(services: Services, standin: RundeckStandIn, keystore: Any) -> Services:
    """The services, with Rundeck's API at the stand-in (its URL given, as RD_URL would)."""

    def connect(request: ConnectionRequest) -> Any:
        return connect_with_keyring(replace(request, url=standin.url), lambda: keystore, env={})

    return replace(
        services,
        rundeck_url=lambda base: RundeckUrl(standin.url, UrlSource.EXPLICIT, "RD_URL"),
        rundeck=connect,
    )


async def type_into(pilot: Pilot[Any], app: WizardApp, selector: str, text: str) -> None:
    field = app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    field.clear()
    await pilot.press(*text)


async def to_scope(app: WizardApp, pilot: Pilot[Any]) -> None:
    """Detect, the access key method, no plugins: on to Scope."""
    await settle(app, pilot)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, MethodScreen)
    await pilot.press("home", "down", "down", "enter")
    await pilot.pause()
    await pilot.press("ctrl+n")
    await settle(app, pilot)
    assert isinstance(app.screen, ScopeScreen)


def shown(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def screen_text(app: WizardApp) -> str:
    return " ".join(str(widget.render()) for widget in app.screen.query(Static))


def no_token_in_keyring(keystore: Any, url: str) -> bool:
    return bool(keystore.get(token_key_path(url)) is None)


async def test_a_typed_token_connects_and_shows_the_versions(
    aws_env: Any, keystore: Any, standin: RundeckStandIn, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_scope(app, pilot)
        assert "Type an API token" in shown(app, "#rundeck-status")
        assert standin.url in shown(app, "#rundeck-url")
        await type_into(pilot, app, "#rundeck-token", TOKEN)
        await pilot.press("enter")
        await settle(app, pilot)
        status = shown(app, "#rundeck-status")
        assert "Rundeck 5.7.0-20241021, API 59" in status, status
        assert isinstance(app.state.rundeck, RundeckLink)
        assert app.state.rundeck_token == Secret(TOKEN)
        options = app.screen.query_one("#projects", OptionList)
        names = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert names == ["billing", "ops", "web"]  # from the API: billing is on no disk
        assert TOKEN not in screen_text(app)
        assert app.screen.query_one("#rundeck-token", Input).password  # masked
    assert keystore.get(token_key_path(standin.url)) == Secret(TOKEN)  # kept for next time


async def test_a_bad_token_says_403_and_changes_nothing(
    aws_env: Any, keystore: Any, standin: RundeckStandIn, make_services: Callable[..., Any]
) -> None:
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_scope(app, pilot)
        await type_into(pilot, app, "#rundeck-token", "not-the-token-0000")
        await pilot.press("enter")
        await settle(app, pilot)
        status = shown(app, "#rundeck-status")
        assert "403" in status and "bad or expired token" in status, status
        assert "not-the-token-0000" not in screen_text(app)
        assert app.state.rundeck is None and app.state.rundeck_projects is None
        options = app.screen.query_one("#projects", OptionList)
        assert options.option_count == 2  # still the projects on disk
    assert no_token_in_keyring(keystore, standin.url)
    assert all(r.method == "GET" for r in standin.requests)
    assert standin.project_config("billing") == BILLING


async def test_a_token_in_the_keyring_is_used_without_asking(
    aws_env: Any, keystore: Any, standin: RundeckStandIn, make_services: Callable[..., Any]
) -> None:
    keystore.put(token_key_path(standin.url), Secret(TOKEN))
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_scope(app, pilot)
        status = shown(app, "#rundeck-status")
        assert "token from the keyring" in status and "API 59" in status, status
        assert app.screen.query_one("#rundeck-token", Input).value == ""  # nothing asked


async def test_offline_keeps_the_files(
    aws_env: Any, keystore: Any, standin: RundeckStandIn, make_services: Callable[..., Any]
) -> None:
    keystore.put(token_key_path(standin.url), Secret(TOKEN))
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_scope(app, pilot)
        assert isinstance(app.state.rundeck, RundeckLink)
        app.screen.query_one("#rundeck-offline", Button).press()
        await settle(app, pilot)
        assert "Offline" in shown(app, "#rundeck-status")
        assert app.state.rundeck_link is None and app.state.rundeck_projects is None
        assert app.screen.query_one("#projects", OptionList).option_count == 2


async def api_flow_to_review(app: WizardApp, pilot: Pilot[Any]) -> None:
    await to_scope(app, pilot)
    await type_into(pilot, app, "#rundeck-token", TOKEN)
    await pilot.press("enter")
    await settle(app, pilot)
    app.screen.query_one("#scope").focus()
    await pilot.press("down", "enter")  # One project
    await pilot.pause()
    await type_into(pilot, app, "#project-name", "billing")
    assert "through Rundeck's API" in shown(app, "#target")
    await pilot.press("ctrl+n")
    await settle(app, pilot)
    assert isinstance(app.screen, DetailsScreen)
    await type_into(pilot, app, "#region", "eu-west-1")
    await type_into(pilot, app, "#access-key-id", KEY_ID)
    await type_into(pilot, app, "#secret", SECRET)
    await pilot.press("ctrl+n")
    await settle(app, pilot)
    assert isinstance(app.screen, ReviewScreen)


async def test_access_key_to_a_database_project_through_the_api(
    aws_env: Any,
    keystore: Any,
    standin: RundeckStandIn,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    tmp_path: Path,
) -> None:
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await api_flow_to_review(app, pilot)
        status = shown(app, "#review-status")
        assert "Configuration through Rundeck's API (Rundeck 5.7.0-20241021, API 59)" in status
        diff = shown(app, "#diff")
        assert f"+project.aws.access_key={KEY_ID}" in diff
        assert f"+project.aws.secret_key_path={KEY_PATH}" in diff
        assert f"create the password at {KEY_PATH}" in shown(app, "#key-storage")
        assert "project-scoped" in shown(app, "#notes")
        assert not app.screen.query_one("#replace-row").display
        assert SECRET not in screen_text(app)
        assert standin.requests and all(r.method == "GET" for r in standin.requests)
        await pilot.press("ctrl+a")
        await settle(app, pilot)
        assert isinstance(app.screen, ApplyScreen)
        assert app.state.result is not None and app.state.result.ok, app.state.result
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        policy = shown(app, "#aclpolicy")
        assert "project: 'billing'" in policy and "allow: [read]" in policy
        headless = app.screen.query_one("#command", Static).content
        assert isinstance(headless, ShellCommand)
        assert f"--url {standin.url}" in headless.command  # the same Rundeck, headless
        assert TOKEN not in headless.command
        await type_into(pilot, app, "#aclpolicy-file", str(tmp_path / "aws.aclpolicy"))
        await pilot.press("enter")
        await pilot.pause()
    assert (tmp_path / "aws.aclpolicy").read_text().startswith("description: Jobs")
    assert standin.read_password(KEY_PATH) == SECRET.encode()
    config = standin.project_config("billing")
    assert config == {
        **BILLING,
        "project.aws.region": "eu-west-1",
        "project.aws.access_key": KEY_ID,
        "project.aws.secret_key_path": KEY_PATH,
    }
    config_writes = [r for r in standin.requests if r.method == "PUT" and "/config" in r.path]
    assert config_writes and all(not r.path.endswith("/config") for r in config_writes)
    assert keystore.get(KEY_PATH) == Secret(SECRET)  # the keyring copy
    assert not (rundeck_base / "projects" / "billing").exists()  # nothing on disk
    for path in rundeck_base.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


async def test_replacing_a_foreign_key_waits_for_a_yes(
    aws_env: Any, keystore: Any, standin: RundeckStandIn, make_services: Callable[..., Any]
) -> None:
    standin.seed_key(KEY_PATH, b"someone-elses-secret")
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await api_flow_to_review(app, pilot)
        apply_button = app.screen.query_one("#apply", Button)
        assert apply_button.disabled
        assert app.screen.query_one("#replace-row").display
        assert "cannot be read back" in shown(app, "#replace-reason")
        await pilot.press("ctrl+a")  # refused while disabled
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert standin.read_password(KEY_PATH) == b"someone-elses-secret"
        await pilot.press("enter")  # the focus is on "Yes, replace it"
        await settle(app, pilot)
        assert app.state.replace_key
        assert not apply_button.disabled
        assert not app.screen.query_one("#replace-row").display
        assert "cannot be undone" in shown(app, "#key-storage")


@pytest.mark.parametrize(
    ("trouble", "said"),
    [
        ("html", "answered with a web page"),
        ("login-redirect", "Rundeck's login page"),
        ("old", "Upgrade Rundeck"),
    ],
)
async def test_a_rundeck_that_cannot_be_used_is_said_clearly(
    trouble: str,
    said: str,
    aws_env: Any,
    keystore: Any,
    make_services: Callable[..., Any],
) -> None:
    old = trouble == "old"
    server = RundeckStandIn(
        projects={"billing": dict(BILLING)},
        tokens=[StandInToken.admin(TOKEN)],
        api_version=12 if old else 59,
    )
    with server:
        server.proxy = None if old else trouble
        app = WizardApp(with_rundeck(make_services(keystore=keystore), server, keystore))
        async with app.run_test(size=(80, 24)) as pilot:
            await to_scope(app, pilot)
            await type_into(pilot, app, "#rundeck-token", TOKEN)
            await pilot.press("enter")
            await settle(app, pilot)
            status = shown(app, "#rundeck-status")
            assert said in status and "Nothing was changed" in status, status
            assert app.state.rundeck is None
        assert all(r.method == "GET" for r in server.requests)
        assert server.project_config("billing") == BILLING
        assert no_token_in_keyring(keystore, server.url)


async def test_nothing_answering_at_the_discovered_url_means_offline(
    aws_env: Any, keystore: Any, rundeck_base: Path, make_services: Callable[..., Any]
) -> None:
    from tui.core.rundeck_api import discover_base_url

    config = rundeck_base / "server" / "config"
    config.mkdir(parents=True)
    # The discard port: nothing listens, refused at once (and no name to look up).
    (config / "rundeck-config.properties").write_text("grails.serverURL=http://127.0.0.1:9\n")
    services = replace(
        make_services(keystore=keystore),
        rundeck_url=lambda base: discover_base_url(rdeck_base=rundeck_base, env={}),
        rundeck=lambda request: connect_with_keyring(request, lambda: keystore, env={}),
    )
    app = WizardApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_scope(app, pilot)
        assert "grails.serverURL" in shown(app, "#rundeck-url")
        status = shown(app, "#rundeck-status")
        assert status.startswith("Offline: Nothing answered as Rundeck at"), status
        assert app.state.rundeck is not None and app.state.rundeck_link is None
        assert app.screen.query_one("#projects", OptionList).option_count == 2  # on disk


async def test_system_scope_uploads_the_key_and_says_restart(
    aws_env: Any,
    keystore: Any,
    standin: RundeckStandIn,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    java_properties: Any,
) -> None:
    keystore.put(token_key_path(standin.url), Secret(TOKEN))
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_scope(app, pilot)
        await pilot.press("ctrl+n")  # System
        await settle(app, pilot)
        assert isinstance(app.screen, DetailsScreen)
        await type_into(pilot, app, "#access-key-id", KEY_ID)
        await type_into(pilot, app, "#secret", SECRET)
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert "Key Storage through Rundeck's API" in shown(app, "#rundeck-line")
        assert "create the password at keys/aws/secret-key" in shown(app, "#key-storage")
        assert "framework.properties" in shown(app, "#review-status")
        await pilot.press("ctrl+a")
        await settle(app, pilot)
        assert app.state.result is not None and app.state.result.ok, app.state.result
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        assert "Restart rundeckd" in shown(app, "#notes")
        assert not app.screen.query("#aclpolicy")  # no project: the note says where instead
    assert standin.read_password("keys/aws/secret-key") == SECRET.encode()
    values = java_properties(rundeck_base / "etc" / "framework.properties")
    assert values["aws.access_key"] == KEY_ID
    # No project's configuration was changed (a re-run only reads them, to find a setup).
    assert not any("/config" in r.path and r.method != "GET" for r in standin.requests)


async def test_a_project_picked_in_one_burst_is_the_one_details_uses(
    aws_env: Any, keystore: Any, standin: RundeckStandIn, make_services: Callable[..., Any]
) -> None:
    """One project, then Down and Enter in the same burst (a paste, a laggy link): Details
    derives the key path from the project Enter picked, not the one highlighted before."""
    keystore.put(token_key_path(standin.url), Secret(TOKEN))
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_scope(app, pilot)
        await until_projects_listed(app, pilot)
        for key in ("down", "enter", "down", "down", "enter"):  # queued at once, as a burst
            app.post_message(events.Key(key, None))
        await settle(app, pilot)
        assert isinstance(app.screen, DetailsScreen)
        assert app.state.project == "web"  # billing (highlighted on arrival), ops, web
        path = app.screen.query_one("#key-path", Input).value
        assert path == "keys/project/web/aws/secret-key"


async def until_projects_listed(app: WizardApp, pilot: Pilot[Any]) -> None:
    for _ in range(100):
        if app.state.rundeck_projects is not None:
            return
        await pilot.pause(0.05)
    raise AssertionError("the API's project list never arrived")


async def test_a_role_at_the_system_scope_does_not_claim_key_storage(
    imds_env: Any, keystore: Any, standin: RundeckStandIn, make_services: Callable[..., Any]
) -> None:
    """EC2 role, system scope, Rundeck connected: Review says nothing is written to Rundeck
    (it used to say "Key Storage through Rundeck's API" for a role, which stores no secret)."""
    keystore.put(token_key_path(standin.url), Secret(TOKEN))
    app = WizardApp(with_rundeck(make_services(keystore=keystore), standin, keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # Detect → Method
        await pilot.pause()
        assert isinstance(app.screen, MethodScreen)
        await pilot.press("enter")  # EC2 IAM role, detected and preselected
        await pilot.pause()
        for _ in range(3):  # Permissions (none), Scope (System), Details (the region)
            await pilot.press("ctrl+n")
            await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        line = shown(app, "#rundeck-line")
        assert "nothing to write there" in line and "Key Storage" not in line, line
        assert not shown(app, "#key-storage").strip()

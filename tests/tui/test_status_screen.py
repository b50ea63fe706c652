"""Re-running the wizard on an existing setup: Status first, then Remove."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.tui.conftest import fixed_clock
from tests.tui.test_flows import KEY_ID, SECRET, settle
from tui.app import WizardApp
from tui.core.model import Answers, Method, Scope
from tui.core.rundeck import find_install
from tui.core.secret import Secret
from tui.core.setup import apply_setup, plan_setup
from tui.screens.remove import RemoveScreen
from tui.screens.status import StatusScreen

KEY_PATH = "keys/project/ops/aws/secret-key"


def set_up_ops(base: Path, keystore: Any) -> None:
    answers = Answers(Method.ACCESS_KEY, Scope.PROJECT, "ops", "eu-west-1", KEY_ID, KEY_PATH)
    install = find_install(base, env={})
    plan = plan_setup(install, answers, keystore=keystore, secret=Secret(SECRET), clock=fixed_clock)
    assert apply_setup(plan, keystore=keystore, secret=Secret(SECRET), clock=fixed_clock).ok


async def test_status_shows_the_setup_and_remove_undoes_it(
    aws_env: Any,
    keystore: Any,
    rundeck_base: Path,
    make_services: Callable[..., Any],
    java_properties: Any,
) -> None:
    set_up_ops(rundeck_base, keystore)
    target = rundeck_base / "projects/ops/etc/project.properties"
    app = WizardApp(make_services(keystore=keystore))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await settle(app, pilot)
        assert isinstance(app.screen, StatusScreen)
        entry = app.screen.selected_entry()
        assert entry is not None and entry.project == "ops"
        assert entry.secret_present is True
        assert entry.access_key_id_masked == "AKIA…0001"
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, RemoveScreen)
        assert "-project.aws.access_key=" + KEY_ID in app.screen.plan.diff
        await pilot.click("#confirm-remove")
        await settle(app, pilot)
        assert isinstance(app.screen, StatusScreen)
    values = java_properties(target)
    assert not [key for key in values if key.startswith("project.aws.")]
    assert values["project.name"] == "ops"
    assert keystore.get(KEY_PATH) is None
    assert not (target.parent / "aws-setup.toml").exists()
    assert [p for p in target.parent.iterdir() if p.name.startswith("project.properties.bak-")]

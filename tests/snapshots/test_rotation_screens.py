"""Snapshots of Status with IAM key data, the Rotate screen and Paste a new key, at 80×24.

IAM answers come from fixed keys (``scenes.SceneAws``), so key ids, ages and last-use dates
are the same on every run; the files, the memory keyring and the clock are the usual scene's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests import scenes
from tui.app import WizardApp
from tui.demo import SandboxKeyring

SIZE = (80, 24)
Journey = Callable[[Any], Awaitable[None]]


def secret_never_shown(journey: Journey, *secrets: str) -> Journey:
    """The journey, then a check that the screen shows none of ``secrets``."""

    async def run(pilot: Any) -> None:
        await journey(pilot)
        screen = pilot.app.export_screenshot()
        for secret in secrets:
            assert secret not in screen and secret[:12] not in screen and secret[-12:] not in screen

    return run


def snap_scene(
    snap_compare: Any,
    journey: Journey,
    *,
    age_days: int = 12,
    spare: bool = False,
    keyring: SandboxKeyring | None = None,
) -> tuple[bool, scenes.SceneAws]:
    services, aws = scenes.access_key_services(age_days=age_days, spare=spare, keyring=keyring)
    app = WizardApp(services)
    run = secret_never_shown(journey, scenes.SECRET, scenes.NEW_SECRET)
    return bool(snap_compare(app, terminal_size=SIZE, run_before=run)), aws


def test_status_fresh_key(snap_compare: Any) -> None:
    """Status: project ops on an access key 12 days old, last used the day before by s3, IAM
    user rundeck, secret present; project web on the EC2 role, detected here; nothing to
    look at."""
    same, _ = snap_scene(snap_compare, scenes.at_status)
    assert same


def test_status_old_key(snap_compare: Any) -> None:
    """Status: the same setup with a key 134 days old; one thing to look at, flagged in yellow
    under project ops: the key is older than 90 days, rotate it."""
    same, _ = snap_scene(snap_compare, scenes.at_status, age_days=134)
    assert same


def test_rotation_waiting_for_consent(snap_compare: Any) -> None:
    """Rotate, in progress: identify done (IAM user rundeck), the key-limit step running, and
    the dialog asking whether to delete the inactive key AKIASPAREKEY0EXAMPLE, Stop focused."""
    same, aws = snap_scene(snap_compare, scenes.at_rotation_asking, spare=True)
    assert same
    # The picture was taken before any answer: the spare key is still there.
    assert scenes.SPARE_KEY_ID in aws.keys and scenes.NEW_KEY_ID not in aws.keys


def test_rotation_succeeded(snap_compare: Any) -> None:
    """Rotate with Enter, the default: every step ticked from the new key's creation to the
    old key's deactivation (kept, inactive), then "Rotated" with where IAM, the keyring and the
    file are, and Back to status focused."""
    same, aws = snap_scene(snap_compare, scenes.at_rotation_finished)
    assert same
    assert set(aws.keys) == {scenes.KEY_ID, scenes.NEW_KEY_ID}
    assert aws.keys[scenes.KEY_ID].status == "Inactive"


def test_rotation_rolled_back(snap_compare: Any) -> None:
    """Rotate, the keyring refuses the new secret at the switch: the switch step failed, the
    new key deleted (↺), "Rolled back: Rundeck keeps the old key" with the keyring's error, and
    IAM, keyring and file all on AKIAIOSFODNN7EXAMPLE."""

    keyring = scenes.RefusingKeyring()

    async def journey(pilot: Any) -> None:
        keyring.refused.add(scenes.OPS_KEY_PATH)  # after the setup, before the rotation
        await scenes.at_rotation_finished(pilot)

    same, aws = snap_scene(snap_compare, journey, age_days=134, keyring=keyring)
    assert same
    assert set(aws.keys) == {scenes.KEY_ID}


def test_manual_rotation_form(snap_compare: Any) -> None:
    """Paste a new key: the new key id typed, its secret masked with dots (never in clear),
    the old key AKIA…MPLE to be deactivated (preselected), Switch / Verify / Back below."""
    same, aws = snap_scene(snap_compare, scenes.at_manual_form)
    assert same
    assert set(aws.keys) == {scenes.KEY_ID}  # filling the form changes nothing

"""Snapshots of every screen and its notable states at 80×24 (pytest-textual-snapshot).

Each scene is deterministic: a fixed detection, a Rundeck layout at a fixed path, a clock
that never moves, a keyring in memory. The docstring of each test says what the picture must
show; look at the SVG when it changes (``pytest --snapshot-update`` writes the new one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests import scenes
from tui.app import WizardApp

SIZE = (80, 24)


def app_for(detection: str) -> WizardApp:
    app = WizardApp(scenes.scene_services(scenes.DETECTIONS[detection]()))
    return app


def snap(
    snap_compare: Any,
    detection: str,
    journey: Callable[[Any], Awaitable[None]],
    size: tuple[int, int] = SIZE,
) -> bool:
    return bool(snap_compare(app_for(detection), terminal_size=size, run_before=journey))


def test_detect_ec2(snap_compare: Any) -> None:
    """Detect: EC2 found via IMDSv2 with instance, role, profile, region, account, identity;
    EC2 IAM role recommended with its reason."""
    assert snap(snap_compare, "ec2", scenes.at_detect)


def test_detect_ecs(snap_compare: Any) -> None:
    """Detect: ECS task found with cluster, task and task role; ECS task IAM role recommended."""
    assert snap(snap_compare, "ecs", scenes.at_detect)


def test_detect_nothing_with_diagnosis(snap_compare: Any) -> None:
    """Detect: nothing found; the EC2 line gives the hop-limit diagnosis, ECS says its
    variables are absent, and the access key method is recommended."""
    assert snap(snap_compare, "nothing", scenes.at_detect)


def test_method_recommended_preselected(snap_compare: Any) -> None:
    """Method: three methods with one line each; EC2 highlighted and marked recommended; the
    access key line says it is the least secure."""
    assert snap(snap_compare, "ec2", scenes.at_method)


def test_method_undetected_role_todo(snap_compare: Any) -> None:
    """Method: EC2 chosen although no role was detected, after confirmation; the box lists
    what is still to do in AWS (trusted entity ec2.amazonaws.com, attach the role)."""
    assert snap(snap_compare, "nothing", scenes.at_method_undetected_role)


def test_permissions_checklist(snap_compare: Any) -> None:
    """Permissions: step 3/7; the plugin checklist with EC2 node source and S3 steps ticked
    (▐X▌; the others ▐ ▌, told apart without colour), the filter empty again, and the top
    of the EC2 role's policy below."""
    assert snap(snap_compare, "ec2", scenes.at_permissions)


def test_permissions_policy_preview(snap_compare: Any) -> None:
    """Permissions, scrolled: the permissions policy in colour, one statement per plugin with
    a readable Sid (EC2NodeSource, S3Steps), then the trust policy for ec2.amazonaws.com."""
    assert snap(snap_compare, "ec2", scenes.at_permissions_policy)


def test_scope_project_shows_the_file(snap_compare: Any) -> None:
    """Scope: One project selected (▐●▌; System ▐ ▌), projects ops and web listed, 'ops'
    typed, and the exact project.properties path that will change."""
    assert snap(snap_compare, "nothing", scenes.at_scope_project)


def test_details_access_key(snap_compare: Any) -> None:
    """Details: region field, the access key id, the secret masked with dots, the default
    key-storage path under keys/project/ops/."""
    assert snap(snap_compare, "nothing", scenes.at_details)


def test_details_validation_errors(snap_compare: Any) -> None:
    """Details: an ASIA… key refused because it is temporary, and a secret of the wrong
    length; both reasons in red, nothing revealed."""
    assert snap(snap_compare, "nothing", scenes.at_details_errors)


def test_review_diff(snap_compare: Any) -> None:
    """Review: 'nothing has been written yet', the warnings, and the coloured diff adding
    project.aws.access_key, secret_key_path and region to project.properties."""
    assert snap(snap_compare, "nothing", scenes.at_review)


def test_apply_failure_rolled_back(snap_compare: Any) -> None:
    """Apply: the record could not be written; 'Nothing was changed', the keyring and
    properties steps rolled back, and what to do next."""
    assert snap(snap_compare, "nothing", scenes.at_apply_failed)


def test_done(snap_compare: Any) -> None:
    """Done: what changed, the record, the keyring path, the backup, next steps, and the
    equivalent headless command without the secret, broken between arguments."""
    assert snap(snap_compare, "nothing", scenes.at_done)


@pytest.mark.parametrize("width", [60])
def test_review_at_60_columns(snap_compare: Any, width: int) -> None:
    """Review at 60 columns: still readable, buttons visible, nothing cut off sideways."""
    assert snap(snap_compare, "nothing", scenes.at_review, size=(width, 24))


def test_status_drift_and_missing_secret(snap_compare: Any, monkeypatch: Any) -> None:
    """Status: three setups; the system one flagged as edited by hand since the record
    (drift) and in conflict with project ops; AWS unreachable said plainly, not guessed."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", scenes.UNREACHABLE_AWS)
    app = WizardApp(scenes.status_services())
    assert snap_compare(app, terminal_size=SIZE, run_before=scenes.at_status)


def test_remove_shows_what_goes(snap_compare: Any, monkeypatch: Any) -> None:
    """Remove, from Status on the system setup: a dialog over Status with the diff of the AWS
    keys leaving framework.properties in a scrolling part (the backup note below it), and
    Remove and Cancel always in view under it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", scenes.UNREACHABLE_AWS)
    app = WizardApp(scenes.status_services())
    assert snap_compare(app, terminal_size=SIZE, run_before=scenes.at_remove)


def snap_api(snap_compare: Any, journey: Callable[[Any], Awaitable[None]]) -> bool:
    from tests.scenes_rundeck import api_scene_services

    app = WizardApp(api_scene_services(scenes.DETECTIONS["nothing"]()))
    return bool(snap_compare(app, terminal_size=SIZE, run_before=journey))


def test_scope_rundeck_connected(snap_compare: Any) -> None:
    """Scope, system: below the file, Rundeck's URL and where it was found
    (framework.server.url), the token field empty and masked, Connect and Offline, and
    '✓ Connected: Rundeck 5.7.0-20241021, API 59 (token from the keyring)'."""
    from tests.scenes_rundeck import at_scope_connected

    assert snap_api(snap_compare, at_scope_connected)


def test_review_api_plan(snap_compare: Any) -> None:
    """Review of an access key for billing through the API: 'Configuration through
    Rundeck's API (Rundeck 5.7.0-20241021, API 59)' at the fixed URL, the least-secure
    warning, the diff adding project.aws.access_key and secret_key_path (no region given),
    'Key Storage: create the password at keys/project/billing/aws/secret-key', the keyring
    copy masked."""
    from tests.scenes_rundeck import at_review_api

    assert snap_api(snap_compare, at_review_api)


def test_status_read_through_the_api(snap_compare: Any, monkeypatch: Any) -> None:
    """Status of two projects only Rundeck's database holds, opened on its own: each entry
    says "in Rundeck (API)"; billing's key is "in Key Storage", ops-db is flagged as an
    error: its configured path has no key in Rundeck Key Storage."""
    from tests.scenes_rundeck import at_status_api, database_status_services

    monkeypatch.setenv("AWS_ENDPOINT_URL", scenes.UNREACHABLE_AWS)
    app = WizardApp(database_status_services())
    assert snap_compare(app, terminal_size=SIZE, run_before=at_status_api)


def test_remove_through_the_api(snap_compare: Any, monkeypatch: Any) -> None:
    """Remove on billing: the AWS keys leave the project's configuration through Rundeck's
    API (a diff of them), the note that the IAM key stays Active, and Cancel focused."""
    from tests.scenes_rundeck import at_remove_api, database_status_services

    monkeypatch.setenv("AWS_ENDPOINT_URL", scenes.UNREACHABLE_AWS)
    app = WizardApp(database_status_services())
    assert snap_compare(app, terminal_size=SIZE, run_before=at_remove_api)


def test_remove_through_the_api_asks_about_key_storage(snap_compare: Any, monkeypatch: Any) -> None:
    """Remove confirmed: a second question, whether the password at
    keys/project/billing/aws/secret-key goes too (it cannot be restored), focus on Keep it."""
    from tests.scenes_rundeck import at_remove_api_key_storage, database_status_services

    monkeypatch.setenv("AWS_ENDPOINT_URL", scenes.UNREACHABLE_AWS)
    app = WizardApp(database_status_services())
    assert snap_compare(app, terminal_size=SIZE, run_before=at_remove_api_key_storage)

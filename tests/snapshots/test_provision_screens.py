"""Snapshots of Set it up for me (EC2) at 80×24: the preview, and the run finished.

AWS answers come from fixed data (``scenes.SceneAdminAws``: three instances, this one with the
instance profile rundeck-automation), so instance and association ids are the same on every
run; the detection, the files and the clock are the usual EC2 scene's.
"""

from __future__ import annotations

from typing import Any

from tests import scenes
from tui.app import WizardApp

SIZE = (80, 24)
ROLE_ARN = f"arn:aws:iam::{scenes.ACCOUNT}:role/rundeck-aws"


def test_provision_preview(snap_compare: Any) -> None:
    """Set it up for me, after Preview: scrolled to "5 AWS calls to make in account
    123456789012, eu-west-1", then "Left alone: i-0a1b2c3d4e5f67890" (this instance has
    rundeck-automation) in yellow, and the start of the AWS CLI script in a box (the title
    comment, then create-role); Preview, Run (focused) and Back below, ^t Preview ^g Run keys."""
    services, aws = scenes.provision_services()
    app = WizardApp(services)
    assert snap_compare(app, terminal_size=SIZE, run_before=scenes.at_provision_preview)
    assert aws.roles == {}  # the preview only read


def test_provision_finished(snap_compare: Any) -> None:
    """Set it up for me, after Run and its confirmation: "Ran the AWS calls below.", five steps
    ticked (role, policy, instance profile, role in it, rundeck-2 associated), "Done.", then
    "Left alone:" this instance with its rundeck-automation profile; Back focused, Run dim."""
    services, aws = scenes.provision_services()
    app = WizardApp(services)
    assert snap_compare(app, terminal_size=SIZE, run_before=scenes.at_provision_finished)
    assert aws.roles["rundeck-aws"]["Arn"] == ROLE_ARN
    assert aws.associations["i-0b2c3d4e5f6789012"] == "rundeck-aws"
    assert aws.associations["i-0a1b2c3d4e5f67890"] == "rundeck-automation"  # left alone

"""Regenerate every screenshot in this folder from the snapshot scenes: one per screen.

python screenshots/make.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import scenes  # noqa: E402
from tui.app import WizardApp  # noqa: E402
from tui.services import Services  # noqa: E402

SHOTS = [
    ("01-detect", "ec2", scenes.at_detect),
    ("02-method", "ec2", scenes.at_method),
    ("03-permissions", "ec2", scenes.at_permissions_policy),
    ("04-scope", "nothing", scenes.at_scope_project),
    ("05-details", "nothing", scenes.at_details),
    ("06-review", "nothing", scenes.at_review),
    ("07-apply-failed", "nothing", scenes.at_apply_failed),
    ("08-done", "nothing", scenes.at_done),
    ("09-detect-nothing", "nothing", scenes.at_detect),
    ("10-status", "status", scenes.at_status),
    ("11-rotated", "rotation", scenes.at_rotation_finished),
    ("12-rotation-rolled-back", "rotation-refused", scenes.at_rotation_finished),
    ("13-paste-new-key", "rotation", scenes.at_manual_form),
    ("14-remove", "status", scenes.at_remove),
    ("15-set-it-up", "provision", scenes.at_provision_preview),
]


def services_for(scene: str) -> Services:
    if scene == "status":
        return scenes.status_services()
    if scene == "provision":
        return scenes.provision_services()[0]
    if scene.startswith("rotation"):
        keyring = scenes.RefusingKeyring()
        services, _ = scenes.access_key_services(age_days=134, keyring=keyring)
        if scene == "rotation-refused":  # the keyring refuses the new secret at the switch
            keyring.refused.add(scenes.OPS_KEY_PATH)
        return services
    return scenes.scene_services(scenes.DETECTIONS[scene]())


async def shoot(name: str, scene: str, journey: object) -> None:
    app = WizardApp(services_for(scene))
    async with app.run_test(size=(80, 24)) as pilot:
        await journey(pilot)  # type: ignore[operator]
        app.save_screenshot(filename=f"{name}.svg", path=str(Path(__file__).parent))


async def main() -> None:
    os.environ["AWS_ENDPOINT_URL"] = scenes.UNREACHABLE_AWS  # loopback only, refused at once
    for name, detection, journey in SHOTS:
        await shoot(name, detection, journey)
        print(f"screenshots/{name}.svg")


if __name__ == "__main__":
    asyncio.run(main())

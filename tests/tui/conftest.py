"""Wizard test harness: services bound to the real components of the suite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tui.demo import make_rundeck_layout
from tui.services import Services

FIXED_NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED_NOW


@pytest.fixture
def rundeck_base(tmp_path: Path) -> Path:
    """A launcher-layout Rundeck with framework.properties and the projects ops and web."""
    return make_rundeck_layout(tmp_path)


@pytest.fixture
def make_services(rundeck_base: Path) -> Callable[..., Services]:
    """Services for the wizard: real detection, files, keyring and STS, a fixed clock."""

    def build(*, keystore: Any = None, detect: Any = None, base: Path | None = None) -> Services:
        from tui.core.aws import caller_identity
        from tui.core.detect import detect_environment
        from tui.core.rundeck import find_install

        chosen = base or rundeck_base

        def no_keystore() -> Any:
            raise AssertionError("this flow must not touch the keyring")

        return Services(
            detect=detect or (lambda progress: detect_environment(on_progress=progress)),
            install=lambda: find_install(chosen, env={}),
            keystore=(lambda: keystore) if keystore is not None else no_keystore,
            verify=lambda key_id, secret, region: caller_identity(
                access_key_id=key_id, secret=secret, region=region
            ),
            clock=fixed_clock,
            rdeck_base=str(chosen),
        )

    return build

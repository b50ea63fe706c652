"""The headless CLI and the core load no UI library and no AWS SDK just by being imported."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import tui
import tui.core

ROOT = Path(__file__).resolve().parents[2]
UI_LIBRARIES = ("textual", "rich")
AWS_SDK = ("boto3", "botocore")


def run_probe(probe: str) -> Any:
    """Run ``probe`` in a fresh interpreter and return the JSON its last line prints."""
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def loaded_after_import(module: str, watched: tuple[str, ...]) -> list[str]:
    """Import `module` in a fresh interpreter and return which of `watched` it loaded."""
    loaded: list[str] = run_probe(
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"watched = {list(watched)!r}\n"
        "print(json.dumps(sorted(name for name in watched if name in sys.modules)))\n"
    )
    return loaded


def core_modules() -> list[str]:
    """Every module of the tui.core package, walked from its directory."""
    names = [tui.core.__name__]
    for info in pkgutil.walk_packages(tui.core.__path__, prefix=f"{tui.core.__name__}."):
        names.append(info.name)
    return names


def test_importing_the_cli_loads_neither_a_ui_library_nor_the_aws_sdk() -> None:
    assert loaded_after_import("tui.cli", UI_LIBRARIES + AWS_SDK) == []


def test_importing_detect_does_not_import_boto3() -> None:
    # Moved from test_detect.py: detection imports botocore only when there are credentials.
    assert loaded_after_import("tui.core.detect", (*AWS_SDK, "textual")) == []


def test_the_probe_would_notice_a_loaded_library() -> None:
    # The wizard's app module needs textual; the probe must report it, or the tests above prove
    # nothing.
    assert loaded_after_import("tui.app", UI_LIBRARIES) == ["rich", "textual"]


def test_the_walk_finds_the_core_packages() -> None:
    modules = core_modules()
    assert "tui.core.setup.planning" in modules
    assert "tui.core.rotation.run" in modules
    assert len(modules) > 30


def test_no_core_module_loads_a_ui_library() -> None:
    probe_all = (
        "import importlib, json, sys\n"
        f"modules = {core_modules()!r}\n"
        "offenders = {}\n"
        "for name in modules:\n"
        "    before = set(sys.modules)\n"
        "    importlib.import_module(name)\n"
        "    new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "    bad = sorted(new & {'textual', 'rich'})\n"
        "    if bad:\n"
        "        offenders[name] = bad\n"
        "print(json.dumps(offenders))\n"
    )
    assert run_probe(probe_all) == {}


def test_the_core_contract_forbids_every_other_tui_module() -> None:
    # A new top-level module of tui must be added to the core's forbidden list, or the contract
    # would quietly let the core import it.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    core_contract = next(c for c in contracts if c["source_modules"] == ["tui.core"])
    siblings = {
        f"tui.{info.name}" for info in pkgutil.iter_modules(tui.__path__) if info.name != "core"
    }
    assert siblings, "the walk of the tui package found nothing"
    assert siblings <= set(core_contract["forbidden_modules"])
    assert {"textual", "rich"} <= set(core_contract["forbidden_modules"])


def test_the_parts_of_tui_import_each_other_in_no_circle() -> None:
    # Imports done only for type checking do not count: they never run.
    grimp = pytest.importorskip("grimp")  # installed with import-linter (the dev extra)
    graph = grimp.build_graph("tui", exclude_type_checking_imports=True)
    parts = sorted({".".join(name.split(".")[:2]) for name in graph.modules if name != "tui"})
    assert "tui.screens" in parts and "tui.core" in parts
    circles = [
        (first, second)
        for index, first in enumerate(parts)
        for second in parts[index + 1 :]
        if graph.chain_exists(importer=first, imported=second, as_packages=True)
        and graph.chain_exists(importer=second, imported=first, as_packages=True)
    ]
    assert circles == []

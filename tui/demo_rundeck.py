"""The demo's Rundeck (the API stand-in) across a reopen: what its database held is kept in
the sandbox, so a reopened sandbox shows what the last demo left, as a real server would.

Only project configuration is kept (``rundeck-api.json``: settings and key paths, never a
secret). Key Storage is filled again from the sandbox keyring, which keeps a copy of every
secret the wizard stored (as moto's keys are made again from it, ``tui.demo_iam``).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

STATE_FILE = "rundeck-api.json"
# Projects Rundeck keeps in its database only (no project.properties on disk): since 3.4 every
# project lives there; ops and web also have a (stale) file on disk.
DATABASE_PROJECTS = {
    "billing": {"project.name": "billing", "project.description": "Invoices and payments"},
    "ops-db": {"project.name": "ops-db", "project.description": "Database maintenance"},
}


def saved_projects(root: Path) -> dict[str, dict[str, str]] | None:
    """The projects the last demo's Rundeck held, or None when none was kept (or it is
    unreadable: the demo then starts Rundeck as new)."""
    try:
        data = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    projects = data.get("projects") if isinstance(data, dict) else None
    if not isinstance(projects, dict):
        return None
    return {
        str(name): {str(k): str(v) for k, v in config.items()}
        for name, config in projects.items()
        if isinstance(config, dict)
    }


def initial_projects(root: Path, rdeck_base: Path) -> dict[str, dict[str, str]]:
    """What the demo's Rundeck starts with: what it held last time; else the projects on disk
    (their files, as Rundeck imports them) and the ones only in its database."""
    from tui.core.properties import PropertiesError, load_properties

    saved = saved_projects(root)
    if saved is not None:
        return saved
    projects: dict[str, dict[str, str]] = {}
    for name in ("ops", "web"):
        path = rdeck_base / "projects" / name / "etc" / "project.properties"
        with contextlib.suppress(OSError, PropertiesError):
            projects[name] = load_properties(path.read_text(encoding="latin-1"))
    projects.update({name: dict(config) for name, config in DATABASE_PROJECTS.items()})
    return projects


def save_projects(root: Path, projects: dict[str, dict[str, str]]) -> None:
    """Keep the projects' configuration for the next reopen (written whole, then renamed)."""
    path = root / STATE_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"projects": projects}, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def refill_key_storage(stand_in: Any, key_paths: list[str], keyring: Any) -> None:
    """Each configured key path whose secret the sandbox keyring holds goes back into Key
    Storage as a password, as the wizard had uploaded it."""
    from tui.core.keystore import KeyStore

    store = KeyStore(keyring, assume_security="secure")
    for path in key_paths:
        with contextlib.suppress(Exception):  # a path the keyring lacks stays empty
            secret = store.get(path)
            if secret is not None:
                stand_in.seed_key(path, secret.reveal().encode("utf-8"))

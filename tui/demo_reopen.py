"""Reopening a --demo sandbox: its marker, its keyring kept in a file inside it, and the
command that reopens it.

The demo keyring holds throwaway secrets of a sandbox AWS (moto on 127.0.0.1), so it may
live in a plain file: it is the sandbox's keyring, never a real one.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from tui.demo_keyring import SandboxKeyring

MARKER = ".pa-aws-setup-demo"  # written into every sandbox; only such a folder is reopened
KEYRING_FILE = "demo-keyring.json"


class SandboxError(ValueError):
    """A folder given to --sandbox that is not a demo sandbox."""


def mark_sandbox(root: Path) -> None:
    """Say in the folder that it is a demo sandbox, so --sandbox accepts it and nothing else."""
    (root / MARKER).write_text(
        "A pa-aws-setup --demo sandbox: throwaway files and secrets.\n", encoding="utf-8"
    )


def check_sandbox(root: Path) -> Path:
    """``root`` resolved, when it is a sandbox an earlier --demo made; else SandboxError."""
    root = root.expanduser().resolve()
    if not (root / MARKER).is_file():
        raise SandboxError(
            f"{root} is not a pa-aws-setup demo sandbox (it has no {MARKER} file); "
            "give the folder an earlier --demo printed at exit, or run --demo alone."
        )
    if not (root / "rundeck" / "etc" / "framework.properties").is_file():
        raise SandboxError(f"{root} has lost its Rundeck (rundeck/etc/framework.properties).")
    return root


class FileSandboxKeyring(SandboxKeyring):
    """The demo keyring, kept in a JSON file inside the sandbox (readable by its owner only)."""

    name = "demo keyring file"  # what Status shows as the backend

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        if path.is_file():
            items = json.loads(path.read_text(encoding="utf-8"))
            self._items = {(item["service"], item["name"]): item["value"] for item in items}

    def _save(self) -> None:
        items = [
            {"service": service, "name": name, "value": value}
            for (service, name), value in sorted(self._items.items())
        ]
        scratch = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(items, stream, indent=1)
        os.replace(scratch, self.path)

    def set_password(self, service: str, username: str, password: str) -> None:
        super().set_password(service, username, password)
        self._save()

    def delete_password(self, service: str, username: str) -> None:
        super().delete_password(service, username)
        self._save()


def reopen_command(root: Path) -> str:
    """The command line that opens this sandbox again."""
    return f"pa-aws-setup --demo --sandbox {shlex.quote(str(root))}"


def exit_lines(root: Path, rdeck_base: Path) -> list[str]:
    """What the demo prints at exit: where the sandbox is and how to reopen it."""
    return [
        f"DEMO sandbox kept for you to look at: {root}",
        f"  Rundeck base: {rdeck_base}",
        f"  Demo keyring: {root / KEYRING_FILE}",
        "    (a plain file: this is a sandbox with throwaway secrets)",
        "Reopen it (Status, Rotate, Paste a new key, Remove) with:",
        f"  {reopen_command(root)}",
    ]

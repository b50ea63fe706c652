"""The demo's in-memory keyring (its own module, so the demo and its reopening share it
without importing each other)."""

from __future__ import annotations

import keyring.backend
from keyring.compat import properties


class SandboxKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in this process's memory only, for the demo."""

    @properties.classproperty
    def name(cls) -> str:
        """As keyring names a backend (its module's last part, then the class), except that
        this class keeps the name it had in ``tui.demo``, which Status shows."""
        kind = cls if isinstance(cls, type) else type(cls)
        if kind.__module__ == __name__:
            return f"demo {kind.__name__}"
        module = kind.__module__.rpartition(".")[2].replace("_", " ")
        return f"{module} {kind.__name__}"

    @properties.classproperty
    def priority(cls) -> float:
        # keyring skips backends whose priority raises: never chosen outside the demo.
        raise RuntimeError("the sandbox keyring is only for --demo")

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._items.pop((service, username), None) is None:
            import keyring.errors

            raise keyring.errors.PasswordDeleteError("not found")

"""What a rotation reports: its steps as they happen, how it ended, what an interruption left."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from tui.core.errors import ErrorKind
from tui.core.steps import Step

Outcome = Literal["rotated", "partial", "rolled_back", "refused", "failed"]
ResumeAction = Literal["finish", "rollback"]


@dataclass
class FinalState:
    """Plain words for where IAM, the keyring and the files ended up."""

    iam: str = ""
    keyring: str = ""
    files: str = ""

    def to_json_dict(self) -> dict[str, str]:
        return {"iam": self.iam, "keyring": self.keyring, "files": self.files}


@dataclass
class RotationResult:
    """How a rotation (or its resumption) ended, and what to do next when it is not done."""

    outcome: Outcome
    properties_file: Path
    old_access_key_id: str
    new_access_key_id: str | None = None
    iam_user: str | None = None
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    error_kind: ErrorKind | None = None
    warnings: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    state: FinalState = field(default_factory=FinalState)
    backup: Path | None = None

    @classmethod
    def nothing_changed(
        cls, properties_file: Path, access_key_id: str, key_path: str, message: str, kind: ErrorKind
    ) -> RotationResult:
        """Stopped before its first change (cancelled, or the setup could not be read again)."""
        result = cls("refused", properties_file, access_key_id, error=message, error_kind=kind)
        result.state = FinalState(
            iam="unchanged",
            keyring=f"unchanged: nothing was written to {key_path}",
            files=f"unchanged: {properties_file}",
        )
        return result

    @property
    def ok(self) -> bool:
        return self.outcome == "rotated"

    @property
    def configured_key(self) -> str | None:
        """The access key id the file and keyring use now, when known."""
        if self.outcome in ("rotated", "partial"):
            return self.new_access_key_id
        if self.outcome in ("rolled_back", "refused"):
            return self.old_access_key_id
        return None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "ok": self.ok,
            "properties_file": str(self.properties_file),
            "old_access_key_id": self.old_access_key_id,
            "new_access_key_id": self.new_access_key_id,
            "iam_user": self.iam_user,
            "error": self.error,
            "error_kind": self.error_kind,
            "warnings": list(self.warnings),
            "next_steps": list(self.next_steps),
            "state": self.state.to_json_dict(),
            "backup": str(self.backup) if self.backup else None,
            "steps": [step.to_json() for step in self.steps],
        }


@dataclass(frozen=True)
class InterruptedRotation:
    """What an interrupted rotation left behind, and which ways out are safe."""

    phase: str
    old_access_key_id: str
    new_access_key_id: str | None
    started_at: datetime | None
    configured_key: str | None
    previous_secret_stored: bool
    actions: tuple[ResumeAction, ...]
    explanation: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "old_access_key_id": self.old_access_key_id,
            "new_access_key_id": self.new_access_key_id,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "configured_key": self.configured_key,
            "previous_secret_stored": self.previous_secret_stored,
            "actions": list(self.actions),
            "explanation": self.explanation,
        }

"""The one step vocabulary: every flow (setup, removal, rotation, provisioning) reports these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class StepStatus(StrEnum):
    """Where a step stands; the values are what the JSON output says."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"

    @property
    def finished(self) -> bool:
        return self not in (StepStatus.PENDING, StepStatus.RUNNING)


@dataclass(frozen=True)
class Step:
    """One step of a flow: what it is, how it stands, a detail, and the AWS CLI equivalent."""

    name: str
    status: StepStatus
    detail: str = ""
    cli: str | None = None

    def to(self, status: StepStatus, detail: str | None = None) -> Step:
        """The same step in another status (and, if given, with another detail)."""
        return replace(self, status=status, detail=self.detail if detail is None else detail)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name,
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.cli is not None:
            document["cli"] = self.cli
        return document


StepCallback = Callable[[Step], None]

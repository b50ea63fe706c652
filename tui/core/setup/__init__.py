"""The setup operation, shared by the wizard and the headless CLI: plan it, show it, apply it.

model: what a plan is made of (one dataclass per kind of target); planning: ``plan_setup``;
journal: what makes an interrupted apply recoverable; transaction: ``apply_setup``;
removal: ``plan_removal`` / ``apply_removal``.
"""

from __future__ import annotations

from tui.core.setup.journal import JOURNAL_NAME, inspect_journal
from tui.core.setup.model import (
    ApplyResult,
    Blocker,
    FileChange,
    KeyringAction,
    PasteLines,
    PlanKind,
    Recovery,
    RecoveryAction,
    SetupError,
    SetupPlan,
)
from tui.core.setup.planning import ACCESS_KEY_PLACEHOLDER, paste_lines, plan_setup
from tui.core.setup.removal import RemovalPlan, apply_removal, plan_removal
from tui.core.setup.transaction import StoredSecret, apply_setup, write_paste_lines

__all__ = [
    "ACCESS_KEY_PLACEHOLDER",
    "JOURNAL_NAME",
    "ApplyResult",
    "Blocker",
    "FileChange",
    "KeyringAction",
    "PasteLines",
    "PlanKind",
    "Recovery",
    "RecoveryAction",
    "RemovalPlan",
    "SetupError",
    "SetupPlan",
    "StoredSecret",
    "apply_removal",
    "apply_setup",
    "inspect_journal",
    "paste_lines",
    "plan_removal",
    "plan_setup",
    "write_paste_lines",
]

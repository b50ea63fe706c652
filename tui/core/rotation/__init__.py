"""Access key rotation as a transaction that never leaves Rundeck without a working key.

The record holds an in-progress marker (key ids only) from before the first change until the
end, and from the switch on the keyring also keeps the previous secret beside the current one
(at ``<key path>.rotation-previous``), so a run killed at any point can be finished or rolled
back without any secret that lived only in the dead process's memory.

target: what is rotated (a file, or a project through Rundeck's API: api_config);
run: one run's report and I/O; switch: the one switch and its undo;
engine: automatic rotation; manual: a key pasted from the console; retire: the old key's end;
resume: an interrupted rotation.
"""

from __future__ import annotations

from tui.core.aws import mask_access_key_id
from tui.core.errors import ErrorKind
from tui.core.rotation.engine import ConfirmDelete, SpareKey, rotate_key
from tui.core.rotation.manual import check_new_key, manual_rotate
from tui.core.rotation.results import (
    FinalState,
    InterruptedRotation,
    Outcome,
    ResumeAction,
    RotationResult,
)
from tui.core.rotation.resume import inspect_interrupted, resume_rotation
from tui.core.rotation.run import DEFAULT_WAIT_SECONDS, Clock, RunSettings
from tui.core.rotation.target import (
    PREVIOUS_SUFFIX,
    RotationError,
    RotationTarget,
    load_api_target,
    load_target,
)

__all__ = [
    "DEFAULT_WAIT_SECONDS",
    "PREVIOUS_SUFFIX",
    "Clock",
    "ConfirmDelete",
    "ErrorKind",
    "FinalState",
    "InterruptedRotation",
    "Outcome",
    "ResumeAction",
    "RotationError",
    "RotationResult",
    "RotationTarget",
    "RunSettings",
    "SpareKey",
    "check_new_key",
    "inspect_interrupted",
    "load_api_target",
    "load_target",
    "manual_rotate",
    "mask_access_key_id",
    "resume_rotation",
    "rotate_key",
]

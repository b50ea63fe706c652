"""Named points where a test may kill the process, to prove crash safety at each boundary.

``PA_AWS_SETUP_FAILPOINT=<name>`` makes the process SIGKILL itself when it reaches ``<name>``
(nothing is flushed or cleaned up, as with kill -9, OOM or a power cut). Unset, a point
costs one dictionary look-up.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "PA_AWS_SETUP_FAILPOINT"


def reached(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)

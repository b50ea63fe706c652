"""Quoting a value the user gave, in a message, only when it cannot be a secret typed by
mistake (``--secret-env "$AWS_SECRET_ACCESS_KEY"`` instead of the variable's name)."""

from __future__ import annotations

import re

HIDDEN = "<hidden>"
# An AWS secret access key is 40 of [A-Za-z0-9/+]; a Rundeck API token 32 alphanumerics.
# Random strings that long mix capitals, small letters and digits; names and paths rarely do
# over such a run, and '-', '_' or '.' break a run.
_KEY_LIKE_RUN = re.compile(r"[A-Za-z0-9/+=]{32,}")


def secret_shaped(value: str) -> bool:
    """True when ``value`` holds a run that could be an AWS secret or a Rundeck token."""
    for match in _KEY_LIKE_RUN.finditer(value):
        run = match.group()
        if (
            any(c.isupper() for c in run)
            and any(c.islower() for c in run)
            and any(c.isdigit() for c in run)
        ):
            return True
    return False


def shown(value: str) -> str:
    """``value`` as it may appear in a message: itself, or ``<hidden>`` when secret-shaped."""
    return HIDDEN if secret_shaped(value) else value


def redact_text(text: str) -> str:
    """``text`` with every run that could be a secret replaced by ``<hidden>``."""

    def hide(match: re.Match[str]) -> str:
        return shown(match.group())

    return _KEY_LIKE_RUN.sub(hide, text)

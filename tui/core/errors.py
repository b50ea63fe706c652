"""The one root of every error the core raises, and the kinds a failure can be of.

A front end never inspects a message to learn what went wrong: the kind follows from the
class, and ``tui.core.exit_codes`` turns a kind into the process's exit code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What a failure was about; each kind has one exit code (``tui.core.exit_codes``)."""

    USAGE = "usage"
    VERIFY = "verify"
    KEYRING = "keyring"
    CONFIG = "config"
    AWS = "aws"
    RUNDECK = "rundeck"


class ToolError(Exception):
    """A failure whose message is safe to show as it is: it never holds a secret.

    Subclasses fix ``kind`` as a class attribute; an instance overrides it only where one
    class covers several kinds (``kind=`` at construction, as a rotation's failures do).
    ``details`` go into the JSON error envelope beside the message.
    """

    kind: ErrorKind = ErrorKind.CONFIG

    def __init__(self, message: str, *, kind: ErrorKind | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details
        if kind is not None:
            self.kind = kind

    def __str__(self) -> str:
        return self.message

    def with_suffix(self, suffix: str, **details: Any) -> ToolError:
        """The same failure, of the same kind, with a sentence added and more details."""
        separator = "\n" if "\n" in self.message else " "
        return ToolError(
            f"{self.message}{separator}{suffix}".strip(),
            kind=self.kind,
            **{**self.details, **details},
        )


class UsageProblem(ToolError):
    """The request itself is wrong (a bad flag, value or answers file); nothing was done."""

    kind = ErrorKind.USAGE


class ConfigProblem(ToolError):
    """A configuration file or install that cannot be read, planned or written."""

    kind = ErrorKind.CONFIG


class VerifyProblem(ToolError):
    """AWS STS did not accept the credentials, or they are not the ones expected."""

    kind = ErrorKind.VERIFY

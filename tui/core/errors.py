"""The one root of every error the core raises, and the kinds a failure can be of.

A front end never inspects a message to learn what went wrong: the kind follows from the
class, and ``tui.core.exit_codes`` turns a kind into the process's exit code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


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

    Subclasses fix ``kind``; an instance may override it when one class covers several
    kinds (``kind=`` at construction). ``details`` go into the JSON error envelope.
    """

    kind: ClassVar[ErrorKind] = ErrorKind.CONFIG

    def __init__(
        self, message: str, *, kind: ErrorKind | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details
        if kind is not None:
            self._kind = kind

    @property
    def error_kind(self) -> ErrorKind:
        """The kind of this failure: the instance's own, else the class's."""
        return getattr(self, "_kind", type(self).kind)

    def __str__(self) -> str:
        return self.message


class UsageProblem(ToolError):
    """The request itself is wrong (a bad flag, value or answers file); nothing was done."""

    kind = ErrorKind.USAGE


class ConfigProblem(ToolError):
    """A configuration file or install that cannot be read, planned or written."""

    kind = ErrorKind.CONFIG


class VerifyProblem(ToolError):
    """AWS STS did not accept the credentials, or they are not the ones expected."""

    kind = ErrorKind.VERIFY

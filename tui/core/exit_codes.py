"""The process exit code of each kind of failure: the one table both front ends use."""

from __future__ import annotations

from tui.core.errors import ErrorKind

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_VERIFY = 3
EXIT_KEYRING = 4
EXIT_CONFIG = 5
EXIT_AWS = 6
EXIT_RUNDECK = 7

EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.USAGE: EXIT_USAGE,
    ErrorKind.VERIFY: EXIT_VERIFY,
    ErrorKind.KEYRING: EXIT_KEYRING,
    ErrorKind.CONFIG: EXIT_CONFIG,
    ErrorKind.AWS: EXIT_AWS,
    ErrorKind.RUNDECK: EXIT_RUNDECK,
}


def exit_code(kind: ErrorKind) -> int:
    return EXIT_CODES[kind]

"""Textual validators wrapping the core's checks, so the messages are the same everywhere."""

from __future__ import annotations

from collections.abc import Callable

from textual.validation import ValidationResult, Validator

from tui.core.keystore import KeyPathError, validate_key_path
from tui.core.validate import (
    ValidationError,
    clean_secret,
    validate_access_key_id,
    validate_region,
)


class CoreValidator(Validator):
    """Runs one core check; its ValueError message becomes the failure description."""

    check: Callable[[str], object]

    def validate(self, value: str) -> ValidationResult:
        try:
            type(self).check(value)
        except (ValidationError, KeyPathError, ValueError) as error:
            return self.failure(str(error))
        return self.success()


class AccessKeyIdValidator(CoreValidator):
    check = staticmethod(validate_access_key_id)


class SecretValidator(CoreValidator):
    check = staticmethod(clean_secret)


class RegionValidator(CoreValidator):
    @staticmethod
    def check(value: str) -> object:
        return validate_region(value) if value.strip() else None


class KeyPathValidator(Validator):
    def __init__(self, project: Callable[[], str | None]) -> None:
        super().__init__()
        self.project = project

    def validate(self, value: str) -> ValidationResult:
        try:
            project = self.project()
            validate_key_path(value.strip(), project=project, system_scope=project is None)
        except (KeyPathError, ValueError) as error:
            return self.failure(str(error))
        return self.success()

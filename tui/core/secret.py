"""A value type for secrets whose every text form is masked."""

from __future__ import annotations

from typing import NoReturn


class Secret:
    """Holds a secret; ``repr``/``str``/``format`` never show it, so tracebacks stay clean.

    The value is read only through :meth:`reveal`, at the keyring call and the AWS call.
    Instances are not picklable and do not compare by value in a way that prints them.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret takes a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def masked(self, show_last: int = 0) -> str:
        value = self._value
        if show_last and len(value) > show_last * 4:
            return "•" * 8 + value[-show_last:]
        return "•" * 8

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

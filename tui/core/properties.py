"""A line-preserving editor for Java .properties text, read exactly as java.util.Properties does.

The reader is a port of ``Properties.LineReader.readLine`` and ``Properties.load0`` (JDK 9+), so
keys, values and even the odd corner cases (comments after a lone ``\\`` line, a backslash at end
of file) come out as Rundeck sees them. Edits touch only the lines of the key being changed.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass

from tui.core.errors import ConfigProblem, ToolError

__all__ = [
    "PropertiesDocument",
    "PropertiesError",
    "escape_key",
    "escape_value",
    "format_entry",
    "load_properties",
]

_WHITESPACE = " \t\f"
_NEWLINES = "\r\n"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_SIMPLE_ESCAPES = {"t": "\t", "r": "\r", "n": "\n", "f": "\f"}
_ESCAPED_CONTROLS = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}
_KEY_SEPARATORS = frozenset("=: #!")


class PropertiesError(ConfigProblem, ValueError):
    """Text that is not a loadable properties file, or an edit that cannot be made safely."""


@dataclass(frozen=True)
class _Entry:
    """One logical line that Java turns into a key/value pair, with the physical lines it spans."""

    first_line: int
    last_line: int
    key: str
    value: str


@dataclass(frozen=True)
class _LogicalLine:
    raw: str
    start: int
    end: int


def _read_logical_line(text: str, offset: int) -> tuple[_LogicalLine | None, int]:
    """Port of ``Properties.LineReader.readLine``: the next logical line at or after ``offset``.

    Returns the line (``None`` at end of input) and the offset to resume from. ``start`` is the
    offset of the line's first character, ``end`` the offset of the character that ended it.
    """
    size = len(text)
    chars: list[str] = []
    skip_whitespace = True
    appended_line_begin = False
    preceding_backslash = False
    start = -1
    while True:
        if offset >= size:
            if not chars:
                return None, offset
            if preceding_backslash:
                chars.pop()
            return _LogicalLine("".join(chars), start, size - 1), offset
        char = text[offset]
        offset += 1
        if skip_whitespace:
            if char in _WHITESPACE:
                continue
            if not appended_line_begin and char in _NEWLINES:
                continue
            skip_whitespace = False
            appended_line_begin = False
        if not chars and char in "#!":
            # A comment, even right after a lone "\" line: Java checks for an empty buffer.
            while offset < size and text[offset] not in _NEWLINES:
                offset += 1
            if offset >= size:
                return None, offset
            offset += 1
            skip_whitespace = True
            start = -1
            continue
        if char not in _NEWLINES:
            if start < 0:
                start = offset - 1
            chars.append(char)
            preceding_backslash = not preceding_backslash if char == "\\" else False
            continue
        if not chars:
            skip_whitespace = True
            start = -1
            continue
        if offset >= size:
            if preceding_backslash:
                chars.pop()
            return _LogicalLine("".join(chars), start, offset - 1), offset
        if not preceding_backslash:
            return _LogicalLine("".join(chars), start, offset - 1), offset
        chars.pop()
        skip_whitespace = True
        appended_line_begin = True
        preceding_backslash = False
        if char == "\r" and text[offset] == "\n":
            offset += 1


def _split_key_value(raw: str) -> tuple[str, str]:
    """Port of the separator search in ``Properties.load0``: the raw key and raw value."""
    limit = len(raw)
    key_length = 0
    value_start = limit
    has_separator = False
    preceding_backslash = False
    while key_length < limit:
        char = raw[key_length]
        if char in "=:" and not preceding_backslash:
            value_start = key_length + 1
            has_separator = True
            break
        if char in _WHITESPACE and not preceding_backslash:
            value_start = key_length + 1
            break
        preceding_backslash = not preceding_backslash if char == "\\" else False
        key_length += 1
    while value_start < limit:
        char = raw[value_start]
        if char not in _WHITESPACE:
            if not has_separator and char in "=:":
                has_separator = True
            else:
                break
        value_start += 1
    return raw[:key_length], raw[value_start:]


class _MalformedEscapeError(ToolError):
    """Internal: a malformed \\uXXXX escape, which Java refuses too."""

    def __init__(self) -> None:
        super().__init__("malformed \\uxxxx encoding")


def _unescape(raw: str) -> str:
    """Port of ``Properties.loadConvert``, with UTF-16 surrogate pairs joined into one char."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    index = 0
    end = len(raw)
    while index < end:
        char = raw[index]
        index += 1
        if char != "\\":
            out.append(char)
            continue
        if index >= end:
            raise _MalformedEscapeError
        char = raw[index]
        index += 1
        if char == "u":
            digits = raw[index : index + 4]
            if len(digits) < 4 or not _HEX_DIGITS.issuperset(digits):
                raise _MalformedEscapeError
            out.append(chr(int(digits, 16)))
            index += 4
        else:
            out.append(_SIMPLE_ESCAPES.get(char, char))
    text = "".join(out)
    if any("\ud800" <= char <= "\udfff" for char in text):
        text = text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass")
    return text


def _split_lines(text: str) -> list[str]:
    """Physical lines with their endings; only \\r\\n, \\r and \\n end a line, as in Java."""
    return _PHYSICAL_LINE.findall(text)


def _scan(lines: list[str]) -> list[_Entry]:
    """Every key/value pair Java would load from ``lines``, in file order, duplicates included."""
    text = "".join(lines)
    line_starts: list[int] = []
    position = 0
    for line in lines:
        line_starts.append(position)
        position += len(line)
    entries: list[_Entry] = []
    offset = 0
    while True:
        logical, offset = _read_logical_line(text, offset)
        if logical is None:
            return entries
        first_line = bisect_right(line_starts, logical.start) - 1
        last_line = bisect_right(line_starts, logical.end) - 1
        raw_key, raw_value = _split_key_value(logical.raw)
        try:
            key, value = _unescape(raw_key), _unescape(raw_value)
        except _MalformedEscapeError:
            raise PropertiesError(
                f"line {first_line + 1}: malformed \\uXXXX escape; "
                "java.util.Properties refuses to load this file"
            ) from None
        entries.append(_Entry(first_line, last_line, key, value))


def _as_dict(entries: list[_Entry]) -> dict[str, str]:
    loaded: dict[str, str] = {}
    for entry in entries:
        loaded[entry.key] = entry.value
    return loaded


def load_properties(text: str) -> dict[str, str]:
    """What ``java.util.Properties.load`` yields for ``text`` (the last of duplicate keys wins).

    Raises PropertiesError where Java throws (a malformed ``\\uXXXX`` escape).
    """
    return _as_dict(_scan(_split_lines(text)))


def _unicode_escape(char: str) -> str:
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))


def _escape(text: str, *, is_key: bool) -> str:
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _ESCAPED_CONTROLS:
            out.append(_ESCAPED_CONTROLS[char])
        elif (is_key and char in _KEY_SEPARATORS) or (char == " " and index == 0):
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            # Also Latin-1 letters: an ASCII file reads the same under ISO-8859-1 and UTF-8.
            out.append(_unicode_escape(char))
    return "".join(out)


def escape_key(key: str) -> str:
    """``key`` written so Java reads it back exactly; the result is printable ASCII."""
    return _escape(key, is_key=True)


def escape_value(value: str) -> str:
    """``value`` written so Java reads it back exactly after ``=``; printable ASCII."""
    return _escape(value, is_key=False)


def format_entry(key: str, value: str) -> str:
    """The ``key=value`` line (without line ending) that Java loads as ``key`` → ``value``."""
    return f"{escape_key(key)}={escape_value(value)}"


def _line_ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\r", "\n")):
        return line[-1]
    return ""


def _dominant_newline(lines: list[str]) -> str:
    endings = Counter(ending for ending in map(_line_ending, lines) if ending)
    if not endings:
        return "\n"
    return endings.most_common(1)[0][0]


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise PropertiesError("looks binary (it contains NUL bytes); not a properties file")


def _check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


class PropertiesDocument:
    """A .properties file as lines: reads like Java, edits only the lines of the changed key.

    Comments, blank lines, order, line endings and every untouched logical line stay
    byte-for-byte. New lines use the file's most common line ending.
    """

    def __init__(self, text: str = "") -> None:
        _check_text(_check_str("text", text))
        self._lines = _split_lines(text)
        self._entries = _scan(self._lines)
        self._newline = _dominant_newline(self._lines)

    @classmethod
    def parse(cls, text: str) -> PropertiesDocument:
        """A document for ``text`` (already decoded)."""
        return cls(text)

    @classmethod
    def parse_bytes(cls, data: bytes) -> PropertiesDocument:
        """A document for a file's bytes, decoded as ISO-8859-1 like Java's InputStream load."""
        if b"\x00" in data:
            raise PropertiesError("looks binary (it contains NUL bytes); not a properties file")
        return cls(data.decode("latin-1"))

    @property
    def newline(self) -> str:
        """The line ending used for lines this document adds."""
        return self._newline

    def render(self) -> str:
        """The document's text."""
        return "".join(self._lines)

    def to_bytes(self) -> bytes:
        """The document's text as ISO-8859-1 bytes; unchanged bytes of a parsed file round-trip."""
        for number, line in enumerate(self._lines, start=1):
            try:
                line.encode("latin-1")
            except UnicodeEncodeError:
                raise PropertiesError(
                    f"line {number} holds characters ISO-8859-1 cannot store; "
                    "a properties file read by Java must be ISO-8859-1"
                ) from None
        return self.render().encode("latin-1")

    def get(self, key: str) -> str | None:
        """The value Java would load for ``key`` (the last definition wins), or None."""
        for entry in reversed(self._entries):
            if entry.key == key:
                return entry.value
        return None

    def __contains__(self, key: object) -> bool:
        return any(entry.key == key for entry in self._entries)

    def keys(self) -> list[str]:
        """The distinct keys, in order of first definition."""
        return list(self.items())

    def items(self) -> dict[str, str]:
        """Every key and value exactly as Java would load them."""
        return _as_dict(self._entries)

    def set(self, key: str, value: str) -> None:
        """Define ``key`` as ``value`` once: in place of its last definition, or at the end.

        Earlier duplicate definitions are removed. A last definition that already has
        ``value`` is kept byte-for-byte.
        """
        _check_str("key", key)
        _check_str("value", value)
        expected = self.items()
        expected[key] = value
        occurrences = [entry for entry in self._entries if entry.key == key]
        if not occurrences:
            self._append(format_entry(key, value), expected)
            return
        last = occurrences[-1]
        lines = list(self._lines)
        if last.value != value:
            ending = _line_ending(lines[last.last_line])
            lines[last.first_line : last.last_line + 1] = [format_entry(key, value) + ending]
        for entry in reversed(occurrences[:-1]):
            del lines[entry.first_line : entry.last_line + 1]
        self._commit(lines, expected, f"set {key!r}")

    def remove(self, key: str) -> None:
        """Delete every definition of ``key``, with all the physical lines of each."""
        _check_str("key", key)
        expected = self.items()
        expected.pop(key, None)
        lines = list(self._lines)
        for entry in reversed(self._entries):
            if entry.key == key:
                del lines[entry.first_line : entry.last_line + 1]
        self._commit(lines, expected, f"remove {key!r}")

    def _append(self, new_line: str, expected: dict[str, str]) -> None:
        """Add ``new_line`` at the end, closing a dangling continuation without changing its value.

        A file may end inside a continued line ("a=b\\"); the new line must not join it.
        """
        lines = list(self._lines)
        if lines and not _line_ending(lines[-1]):
            lines[-1] += self._newline
        tail = [new_line + self._newline]
        candidates = [lines + tail, [*lines, self._newline, *tail]]
        if self._entries:
            # Java's quirk for a lone "\" at end of file: rewrite that entry in plain form.
            last = self._entries[-1]
            closed = list(lines)
            closed[last.first_line : last.last_line + 1] = [
                format_entry(last.key, last.value) + self._newline
            ]
            candidates.append(closed + tail)
        for candidate in candidates:
            entries = _scan(candidate)
            if _as_dict(entries) == expected:
                self._lines, self._entries = candidate, entries
                return
        raise PropertiesError("cannot add a line at the end without changing other settings")

    def _commit(self, lines: list[str], expected: dict[str, str], action: str) -> None:
        entries = _scan(lines)
        if _as_dict(entries) != expected:
            raise PropertiesError(f"cannot {action} without changing other settings")
        self._lines, self._entries = lines, entries

"""A line-preserving editor for Java .properties text, read exactly as java.util.Properties does.

The reader is a port of ``Properties.LineReader.readLine`` and ``Properties.load0`` (JDK 9+),
line by line rather than character by character, so keys, values and even the odd corner cases
(comments after a lone ``\\`` line, a backslash at end of file) come out as Rundeck sees them.
Edits touch only the lines of the key being changed, and cost the same whatever the file's size:
a document is scanned once, and each edit checks only the lines it rewrites.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator

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
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_SIMPLE_ESCAPES = {"t": "\t", "r": "\r", "n": "\n", "f": "\f"}
_ESCAPED_CONTROLS = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}
_KEY_SEPARATORS = frozenset("=: #!")


class PropertiesError(ConfigProblem, ValueError):
    """Text that is not a loadable properties file, or an edit that cannot be made safely."""


# Port of the separator search in ``Properties.load0``: the key ends at the first '=', ':' or
# whitespace not escaped by a backslash; whitespace, then one '=' or ':', then whitespace again
# still belong to the separator.
_KEY_VALUE = re.compile(
    r"((?:[^\\=: \t\f]|\\.?)*)(?:[=:][ \t\f]*|[ \t\f]+(?:[=:][ \t\f]*)?)?(.*)", re.DOTALL
)


def _split_key_value(raw: str) -> tuple[str, str]:
    """The raw key and raw value of a logical line, as ``Properties.load0`` splits them."""
    key, value = _KEY_VALUE.fullmatch(raw).groups()  # type: ignore[union-attr]  # always matches
    return key, value


class _MalformedEscapeError(ToolError):
    """Internal: a malformed \\uXXXX escape, which Java refuses too."""

    def __init__(self) -> None:
        super().__init__("malformed \\uxxxx encoding")


_ESCAPE = re.compile(r"\\(?:u(?P<hex>[0-9a-fA-F]{4})|(?P<char>[^u])|u|\Z)", re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unescaped(match: re.Match[str]) -> str:
    digits, char = match["hex"], match["char"]
    if digits is not None:
        return chr(int(digits, 16))
    if char is not None:
        return _SIMPLE_ESCAPES.get(char, char)
    raise _MalformedEscapeError  # "\\u" without four hex digits, or a "\\" that ends the text


def _unescape(raw: str) -> str:
    """Port of ``Properties.loadConvert``, with UTF-16 surrogate pairs joined into one char."""
    if "\\" not in raw:
        return raw
    text = _ESCAPE.sub(_unescaped, raw)
    if _SURROGATE.search(text):
        text = text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass")
    return text


def _split_lines(text: str) -> list[str]:
    """Physical lines with their endings; only \\r\\n, \\r and \\n end a line, as in Java."""
    return _PHYSICAL_LINE.findall(text)


class _Scan:
    """How a scan of some lines ended: ``open`` when a continuation was still running."""

    __slots__ = ("last_fresh", "lines", "open")

    def __init__(self) -> None:
        self.open = False
        self.lines = 0  # physical lines looked at: the work done, for tests that guard it
        self.last_fresh = -1  # the last line a logical line could start on


def _logical_lines(
    lines: list[str], start: int, stop: int, final: int, scan: _Scan
) -> Iterator[tuple[int, int, str]]:
    """Port of ``Properties.LineReader.readLine``: each logical line in ``lines[start:stop]``.

    Yields (first line, last line, raw text). ``start`` must begin a logical line; ``final`` is
    the index of the document's last non-empty line, where Java's end-of-input rules apply.
    Empty strings are lines that were deleted; they hold no text and are skipped.
    """
    pieces: list[str] = []
    first = -1  # the first line of the logical line being read; -1 between logical lines
    length = 0  # characters in ``pieces``; 0 after a lone "\\" line
    for index in range(start, stop):
        line = lines[index]
        if not line:
            continue
        scan.lines += 1
        body = line.rstrip("\r\n")
        ends_line = len(body) != len(line)
        at_end = index >= final
        rest = body.lstrip(_WHITESPACE)
        if first < 0:
            scan.last_fresh = index
            if not rest or rest[0] in "#!":
                continue  # a blank line or a comment, even one ending in a backslash
            first = index
            pieces = [rest]
            length = len(rest)
        elif not rest:
            # A blank continuation line ends the logical line (Java stops skipping at its newline).
            if length and (ends_line or at_end):
                yield first, index, "".join(pieces)
            first = -1
            continue
        elif not length and rest[0] in "#!":
            first = -1  # after a lone "\\" line the buffer is empty: '#' starts a comment again
            continue
        else:
            pieces.append(rest)
            length += len(rest)
        backslashes = len(rest) - len(rest.rstrip("\\"))
        if backslashes % 2 == 0:
            yield first, index, "".join(pieces)
            first = -1
            continue
        pieces[-1] = rest[:-1]  # the backslash that continues (or ends the file) is dropped
        length -= 1
        if ends_line and not at_end:
            continue
        # At the end of input Java keeps even an empty key, unless a "\\n" followed the "\\r"
        # (it then reads one more, empty, continuation line and finds nothing).
        if length or not line.endswith("\r\n"):
            yield first, index, "".join(pieces)
        first = -1
    scan.open = first >= 0


def _decode_entry(first: int, raw: str) -> tuple[str, str]:
    raw_key, raw_value = _split_key_value(raw)
    try:
        return _unescape(raw_key), _unescape(raw_value)
    except _MalformedEscapeError:
        raise PropertiesError(
            f"line {first + 1}: malformed \\uXXXX escape; "
            "java.util.Properties refuses to load this file"
        ) from None


def _last_text_line(lines: list[str]) -> int:
    index = len(lines) - 1
    while index >= 0 and not lines[index]:
        index -= 1
    return index


def _load(lines: list[str]) -> dict[str, str]:
    loaded: dict[str, str] = {}
    for first, _, raw in _logical_lines(lines, 0, len(lines), _last_text_line(lines), _Scan()):
        key, value = _decode_entry(first, raw)
        loaded[key] = value
    return loaded


def load_properties(text: str) -> dict[str, str]:
    """What ``java.util.Properties.load`` yields for ``text`` (the last of duplicate keys wins).

    Raises PropertiesError where Java throws (a malformed ``\\uXXXX`` escape).
    """
    return _load(_split_lines(text))


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


_LONE_CR = re.compile(r"\r(?!\n)")
_LONE_LF = re.compile(r"(?<!\r)\n")


def _dominant_newline(text: str) -> str:
    """The most common line ending; on a tie, the one that comes first in ``text``."""
    both = text.count("\r\n")
    counts = {"\r\n": both, "\r": text.count("\r") - both, "\n": text.count("\n") - both}
    found = {
        "\r\n": text.find("\r\n"),
        "\r": (match.start() if (match := _LONE_CR.search(text)) else -1),
        "\n": (match.start() if (match := _LONE_LF.search(text)) else -1),
    }
    present = [ending for ending in counts if counts[ending]]
    if not present:
        return "\n"
    return min(present, key=lambda ending: (-counts[ending], found[ending]))


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

    The document is scanned once; an index from key to its definitions makes each lookup and
    edit independent of the file's size. A deleted line is kept as an empty string, so line
    numbers in the index never shift.
    """

    def __init__(self, text: str = "") -> None:
        _check_text(_check_str("text", text))
        self._lines = _split_lines(text)
        self._newline = _dominant_newline(text)
        self._first = array("q")  # per definition: its first line, or -1 once removed
        self._last = array("q")  # per definition: its last line
        self._index: dict[str, int] = {}  # key -> its last definition
        self._earlier: dict[str, list[int]] = {}  # key -> earlier definitions, for duplicates
        self._scan = _Scan()
        final = len(self._lines) - 1
        for first, last, raw in _logical_lines(self._lines, 0, len(self._lines), final, self._scan):
            key, _ = _decode_entry(first, raw)
            self._add(key, first, last)
        self._tail = max(self._scan.last_fresh, 0)  # the last line a logical line may start on

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
    def lines_read(self) -> int:
        """Physical lines the reader has looked at so far, parsing included: the work done."""
        return self._scan.lines

    @property
    def newline(self) -> str:
        """The line ending used for lines this document adds."""
        return self._newline

    def render(self) -> str:
        """The document's text."""
        return "".join(self._lines)

    def to_bytes(self) -> bytes:
        """The document's text as ISO-8859-1 bytes; unchanged bytes of a parsed file round-trip."""
        text = self.render()
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError as error:
            number = len(_split_lines(text[: error.start] + "x"))
            raise PropertiesError(
                f"line {number} holds characters ISO-8859-1 cannot store; "
                "a properties file read by Java must be ISO-8859-1"
            ) from None

    def get(self, key: str) -> str | None:
        """The value Java would load for ``key`` (the last definition wins), or None."""
        definition = self._index.get(key)
        return None if definition is None else self._read(definition)[1]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def keys(self) -> list[str]:
        """The distinct keys, in order of first definition."""
        return list(self.items())

    def items(self) -> dict[str, str]:
        """Every key and value exactly as Java would load them."""
        return _load(self._lines)

    def set(self, key: str, value: str) -> None:
        """Define ``key`` as ``value`` once: in place of its last definition, or at the end.

        Earlier duplicate definitions are removed. A last definition that already has
        ``value`` is kept byte-for-byte.
        """
        _check_str("key", key)
        _check_str("value", value)
        last = self._index.get(key)
        if last is None:
            self._append(key, value)
            return
        if self._read(last)[1] != value:
            first, end = self._first[last], self._last[last]
            line = format_entry(key, value) + _line_ending(self._lines[end])
            at_end = end >= _last_text_line(self._lines)
            entries, still_open = self._read_alone([line], first, at_end=at_end)
            if still_open or [entry[2:] for entry in entries] != [(key, value)]:
                raise PropertiesError(f"cannot set {key!r} without changing other settings")
            self._lines[first] = line
            self._blank(first + 1, end + 1)
            self._last[last] = first
        for definition in self._earlier.pop(key, []):
            self._drop(definition)

    def remove(self, key: str) -> None:
        """Delete every definition of ``key``, with all the physical lines of each.

        Definitions begin and end where Java is between logical lines, so the lines around a
        deleted one read as before.
        """
        _check_str("key", key)
        last = self._index.pop(key, None)
        if last is None:
            return
        for definition in [*self._earlier.pop(key, []), last]:
            self._drop(definition)

    def _add(self, key: str, first: int, last: int) -> None:
        definition = len(self._first)
        self._first.append(first)
        self._last.append(last)
        previous = self._index.get(key)
        if previous is not None:
            self._earlier.setdefault(key, []).append(previous)
        self._index[key] = definition

    def _read(self, definition: int) -> tuple[str, str]:
        first, last = self._first[definition], self._last[definition]
        final = last if last == _last_text_line(self._lines) else last + 1
        for line, _, raw in _logical_lines(self._lines, first, last + 1, final, self._scan):
            return _decode_entry(line, raw)
        raise AssertionError("an indexed definition reads as no entry")  # pragma: no cover

    def _blank(self, start: int, stop: int) -> None:
        for index in range(start, stop):
            self._lines[index] = ""

    def _drop(self, definition: int) -> None:
        self._blank(self._first[definition], self._last[definition] + 1)
        self._first[definition] = -1
        # Deleted lines at the very end go, so finding the last line stays cheap.
        while self._lines and not self._lines[-1]:
            self._lines.pop()
        self._tail = min(self._tail, len(self._lines))

    def _read_alone(
        self, new_lines: list[str], at: int, *, at_end: bool
    ) -> tuple[list[tuple[int, int, str, str]], bool]:
        """The entries (first, last line, key, value) Java reads from ``new_lines`` standing at
        line ``at``, and whether they leave a logical line open into the lines after them."""
        scan = _Scan()
        final = len(new_lines) - 1 if at_end else len(new_lines)
        entries = [
            (at + first, at + last, *_decode_entry(at + first, raw))
            for first, last, raw in _logical_lines(new_lines, 0, len(new_lines), final, scan)
        ]
        self._scan.lines += scan.lines
        return entries, scan.open

    def _append(self, key: str, value: str) -> None:
        """Add ``key=value`` at the end, closing a dangling continuation without changing its value.

        A file may end inside a continued line ("a=b\\"); the new line must not join it. Only
        the lines from the last place a logical line could start are read again: a candidate is
        taken when Java would load the same settings from the whole file with it.
        """
        start = self._tail
        tail = [line for line in self._lines[start:] if line]
        if tail and not _line_ending(tail[-1]):
            tail[-1] += self._newline
        new_line = format_entry(key, value) + self._newline
        definitions = self._definitions_from(start)
        before = [self._read(definition) for definition in definitions]
        candidates = [[*tail, new_line], [*tail, self._newline, new_line]]
        if definitions:
            # Java's quirk for a lone "\\" at end of file: rewrite that entry in plain form.
            offsets = self._lines_offsets(start)
            first = offsets[self._first[definitions[-1]]]
            last = offsets[self._last[definitions[-1]]]
            closed = list(tail)
            closed[first : last + 1] = [format_entry(*before[-1]) + self._newline]
            candidates.append([*closed, new_line])
        expected = {**dict(before), key: value}
        for candidate in candidates:
            lines = _split_lines("".join(candidate))  # a "\\r" before a "\\n" makes one ending
            entries, _ = self._read_alone(lines, start, at_end=True)
            found = {entry_key: entry_value for _, _, entry_key, entry_value in entries}
            if all(
                found.get(name, self._value_before(name, start))
                == expected.get(name, self._value_before(name, start))
                for name in {*found, *expected}
            ):
                self._replace_tail(start, lines, definitions, before, entries)
                return
        raise PropertiesError("cannot add a line at the end without changing other settings")

    def _replace_tail(
        self,
        start: int,
        lines: list[str],
        definitions: list[int],
        before: list[tuple[str, str]],
        entries: list[tuple[int, int, str, str]],
    ) -> None:
        self._lines[start:] = lines
        for definition, (old_key, _) in reversed(list(zip(definitions, before, strict=True))):
            self._forget(definition, old_key)
        for first, last, entry_key, _ in entries:
            self._add(entry_key, first, last)
        self._tail = entries[-1][0] if entries else start

    def _forget(self, definition: int, key: str) -> None:
        """Take the last definition of ``key`` out of the index."""
        earlier = self._earlier.get(key, [])
        if self._index.get(key) == definition:
            if earlier:
                self._index[key] = earlier.pop()
            else:
                del self._index[key]
        elif definition in earlier:
            earlier.remove(definition)
        if not earlier:
            self._earlier.pop(key, None)
        self._first[definition] = -1

    def _value_before(self, key: str, start: int) -> str | None:
        """The value Java loads for ``key`` from the lines before line ``start`` alone."""
        last = self._index.get(key)
        if last is None:
            return None
        for definition in [last, *reversed(self._earlier.get(key, []))]:
            if 0 <= self._first[definition] < start:
                return self._read(definition)[1]
        return None

    def _lines_offsets(self, start: int) -> dict[int, int]:
        """For each non-empty line from ``start``, its position among those lines."""
        offsets: dict[int, int] = {}
        for index in range(start, len(self._lines)):
            if self._lines[index]:
                offsets[index] = len(offsets)
        return offsets

    def _definitions_from(self, start: int) -> list[int]:
        """The live definitions that begin at or after line ``start``, in file order."""
        found: list[int] = []
        definition = len(self._first) - 1
        while definition >= 0:
            first = self._first[definition]
            if first >= 0:
                if first < start:
                    break
                found.append(definition)
            definition -= 1
        return found[::-1]

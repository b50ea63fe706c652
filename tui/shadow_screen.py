"""Sends the terminal only the cells a frame changes, as curses does, for slow links.

Textual repaints whole widgets, and often the whole screen several times for one step
(a new screen, its resume, its first focus), each cell with a full colour escape and a
reset after it. ShadowScreen keeps what the terminal shows and turns each frame into the
cells that differ, with one colour escape per change of look. What the terminal shows
stays the same, cell for cell; anything it cannot follow (a clear, a scroll, a wide
character cut in half) is passed on as Textual wrote it, and the next frame is sent whole.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from rich.cells import get_character_cell_size
from textual.drivers.linux_driver import LinuxDriver

TOKEN = re.compile(
    r"\x1b\[(?P<params>[0-?]*)(?P<inter>[ -/]*)(?P<final>[@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC (title, pointer shape): no cell changes
    r"|\x1b[^\[\]]?"  # any other escape: not followed
    r"|[\x00-\x1f\x7f]"  # a control character
    r"|[^\x00-\x1f\x7f\x1b]+"  # text
)
# Private modes that replace or clear the screen, or move where the origin is.
SCREEN_MODES = {"3", "6", "47", "69", "1047", "1048", "1049"}
ON_OFF = {"22": {"1", "2"}, "23": {"3"}, "24": {"4", "21"}, "25": {"5", "6"}, "27": {"7"}}
ON_OFF |= {"28": {"8"}, "29": {"9"}, "54": {"51", "52"}, "55": {"53"}}
# A space shows its foreground only through these.
SHOWN_ON_SPACE = {"4", "7", "9", "21", "53"}
POSITION = re.compile(r"\d*(;\d*)?")
WIDE_TAIL = ""  # the second cell of a double-width character
MERGE_GAP = 3  # rewriting this many unchanged cells is cheaper than a cursor move


class Unfollowable(Exception):
    """The write does something the shadow does not model; it goes out as it came."""


@dataclass(frozen=True)
class Look:
    """The SGR state of a cell: attributes, foreground, background, underline colour."""

    attributes: frozenset[str] = frozenset()
    foreground: str | None = None
    background: str | None = None
    underline_colour: str | None = None

    def codes(self) -> list[str]:
        codes = sorted(self.attributes)
        for colour in (self.foreground, self.background, self.underline_colour):
            if colour is not None:
                codes.append(colour)
        return codes

    def same_for(self, char: str, other: Look) -> bool:
        """Whether ``char`` looks the same drawn in this look as in ``other``."""
        if self == other:
            return True
        if char != " ":
            return False
        shown = SHOWN_ON_SPACE & (self.attributes | other.attributes)
        return not shown and self.background == other.background


PLAIN = Look()
Cell = tuple[str, Look]


def apply_sgr(look: Look, params: str) -> Look:
    """The look after ``ESC [ params m``; Unfollowable for codes not modelled."""
    codes = params.split(";") if params else ["0"]
    attributes = set(look.attributes)
    foreground, background, underline = look.foreground, look.background, look.underline_colour
    index = 0
    while index < len(codes):
        code = codes[index] or "0"
        index += 1
        if code in ("38", "48", "58"):
            kind = codes[index : index + 1]
            width = 2 if kind == ["5"] else 4 if kind == ["2"] else 0
            if not width or index + width > len(codes):
                raise Unfollowable(params)
            colour = ";".join([code, *codes[index : index + width]])
            index += width
            if code == "38":
                foreground = colour
            elif code == "48":
                background = colour
            else:
                underline = colour
        elif code == "0":
            attributes.clear()
            foreground = background = underline = None
        elif code in ON_OFF:
            attributes -= ON_OFF[code]
            if code == "24":
                attributes = {a for a in attributes if not a.startswith("4:")}
        elif code in {"1", "2", "3", "4", "5", "6", "7", "8", "9", "21", "51", "52", "53"}:
            attributes.add(code)
        elif code.startswith("4:"):
            attributes.discard("4")
            attributes.discard("21")
            if code != "4:0":
                attributes.add(code)
        elif code == "39":
            foreground = None
        elif code == "49":
            background = None
        elif code == "59":
            underline = None
        elif len(code) == 2 and code[0] in "34" and code[1] in "01234567":
            if code[0] == "3":
                foreground = code
            else:
                background = code
        elif len(code) in (2, 3) and code[:-1] in ("9", "10") and code[-1] in "01234567":
            if code[:-1] == "9":
                foreground = code
            else:
                background = code
        else:
            raise Unfollowable(params)
    return Look(frozenset(attributes), foreground, background, underline)


def transition(current: Look, wanted: Look) -> str:
    """The shortest SGR escape that takes the terminal from ``current`` to ``wanted``."""
    full = "\x1b[" + ";".join(["0", *wanted.codes()]) + "m"
    removed = current.attributes - wanted.attributes
    if any(a.startswith("4:") for a in removed):
        return full
    codes: list[str] = []
    kept = set(current.attributes)
    for off, group in ON_OFF.items():
        if removed & group:
            codes.append(off)
            kept -= group
    codes.extend(sorted(wanted.attributes - kept))
    for now, then, reset in (
        (current.foreground, wanted.foreground, "39"),
        (current.background, wanted.background, "49"),
        (current.underline_colour, wanted.underline_colour, "59"),
    ):
        if now != then:
            codes.append(then if then is not None else reset)
    stepwise = "\x1b[" + ";".join(codes) + "m"
    return stepwise if len(stepwise) < len(full) else full


class ShadowScreen:
    """What the terminal shows, cell by cell, and the diff of each frame against it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.shown: list[list[Cell | None]] = [[None] * width for _ in range(height)]
        self.wide_rows: set[int] = set()  # rows showing a double-width character
        self.cursor: tuple[int, int] | None = None  # (x, y) of the terminal's cursor
        self._looks: dict[tuple[Look, str], Look] = {}
        self._same_looks: dict[Look, Look] = {PLAIN: PLAIN}  # one object per look: `is` compares

    def forget(self) -> None:
        """The terminal's content is unknown from here: the next frame goes out whole."""
        self.shown = [[None] * self.width for _ in range(self.height)]
        self.wide_rows.clear()
        self.cursor = None

    def render(self, data: str) -> str:
        """What to write instead of ``data`` for the terminal to show the same."""
        try:
            return self._diff(data)
        except Unfollowable:
            self.forget()
            return data

    def _look(self, look: Look, params: str) -> Look:
        key = (look, params)
        found = self._looks.get(key)
        if found is None:
            made = apply_sgr(look, params)
            found = self._looks[key] = self._same_looks.setdefault(made, made)
        return found

    def _diff(self, data: str) -> str:
        before: list[str] = []  # escapes that change no cell, in order, around the cells
        after: list[str] = []
        wanted: dict[int, list[Cell | None]] = {}  # rows painted, as they will look
        touched: dict[int, list[tuple[int, int]]] = {}  # [start, end) painted per row
        wide: set[int] = set()
        look = PLAIN
        x = y = 0
        positioned = False  # a cursor position is known (Textual starts each run with one)
        last_move_at_end = False
        width, height = self.width, self.height
        for match in TOKEN.finditer(data):
            token = match.group()
            final = match.group("final")
            if final is not None:
                params, inter = match.group("params"), match.group("inter")
                if final == "m" and not inter and not params.startswith(("?", ">", "<", "=")):
                    look = self._look(look, params)
                    continue
                if final == "H" and not inter and POSITION.fullmatch(params):
                    row, _, column = params.partition(";")
                    y, x = int(row or 1) - 1, int(column or 1) - 1
                    if not (0 <= x < width and 0 <= y < height):
                        raise Unfollowable(token)
                    positioned = last_move_at_end = True
                    continue
                if params.startswith(("?", ">", "<", "=")) or inter:
                    modes = set(params[1:].split(";")) if params.startswith("?") else set()
                    if modes & SCREEN_MODES:
                        raise Unfollowable(token)
                    (after if wanted else before).append(token)
                    continue
                raise Unfollowable(token)
            if token.startswith("\x1b]8;"):
                raise Unfollowable("a hyperlink")  # it belongs to the cells it covers
            if token.startswith("\x1b]") or token == "\x07":
                (after if wanted else before).append(token)
                continue
            if token == "\n":
                # The tty's ONLCR makes it a carriage return too; never at the bottom (a scroll).
                if not positioned or y + 1 >= height:
                    raise Unfollowable(token)
                x, y = 0, y + 1
                last_move_at_end = True
                continue
            if token == "\r":
                x = 0
                continue
            if token[0] < " " or token[0] in "\x1b\x7f" or not positioned:
                raise Unfollowable(token)
            row = wanted.get(y)
            if row is None:
                row = wanted[y] = list(self.shown[y])
            start = x
            if token.isascii():  # one cell per character
                if x + len(token) > width:
                    raise Unfollowable(token)
                row[x : x + len(token)] = [(char, look) for char in token]
                x += len(token)
            else:
                for char in token:
                    size = get_character_cell_size(char)
                    if size == 0 or x + size > width:
                        raise Unfollowable(token)
                    row[x] = (char, look)
                    if size == 2:
                        row[x + 1] = (WIDE_TAIL, look)
                        wide.add(y)
                    x += size
            touched.setdefault(y, []).append((start, x))
            last_move_at_end = False
        if not wanted and not positioned:
            return data  # modes, queries, titles: nothing on screen changes
        if not last_move_at_end:
            raise Unfollowable("the cursor is left after text")
        for py in wide | (self.wide_rows & wanted.keys()):
            check_wide(wanted[py])
        sent = self._send(wanted, touched, wide, (x, y))
        for py in wanted:
            self.wide_rows.discard(py)
        self.wide_rows |= wide
        return "".join(before) + sent + "".join(after)

    def _send(
        self,
        wanted: dict[int, list[Cell | None]],
        touched: dict[int, list[tuple[int, int]]],
        wide: set[int],
        cursor: tuple[int, int],
    ) -> str:
        out: list[str] = []
        look = PLAIN
        at = self.cursor
        for py in sorted(wanted):
            row, shown = wanted[py], self.shown[py]
            changed: list[int] = []
            for start, end in touched[py]:
                for px in range(start, end):
                    now, then = shown[px], row[px]
                    if now != then and (now is None or not same(now, then)):
                        changed.append(px)
            for start, end in runs(changed, row, py in self.wide_rows or py in wide):
                if at != (start, py):
                    out.append(f"\x1b[{py + 1};{start + 1}H")
                for px in range(start, end):
                    cell = row[px]
                    assert cell is not None  # runs only cover painted or known cells
                    char, cell_look = cell
                    if char == WIDE_TAIL:
                        continue
                    if cell_look is not look and not look.same_for(char, cell_look):
                        out.append(transition(look, cell_look))
                        look = cell_look
                    out.append(char)
                at = (end, py) if end < self.width else None
            self.shown[py] = row
        if look != PLAIN:
            out.append("\x1b[0m")
        if at != cursor:
            out.append(f"\x1b[{cursor[1] + 1};{cursor[0] + 1}H")
        self.cursor = cursor
        return "".join(out)


def same(shown: Cell, wanted: Cell | None) -> bool:
    """Whether the terminal showing ``shown`` already shows ``wanted``."""
    return wanted is not None and shown[0] == wanted[0] and shown[1].same_for(*wanted)


def check_wide(row: list[Cell | None]) -> None:
    """Unfollowable when a double-width character lost one of its halves."""
    for px, cell in enumerate(row):
        if cell is None:
            continue
        if cell[0] == WIDE_TAIL:
            head = row[px - 1] if px else None
            if head is None or get_character_cell_size(head[0]) != 2:
                raise Unfollowable("half a wide character")
        elif get_character_cell_size(cell[0]) == 2:
            tail = row[px + 1] if px + 1 < len(row) else None
            if tail is None or tail[0] != WIDE_TAIL:
                raise Unfollowable("half a wide character")


def runs(changed: list[int], row: list[Cell | None], wide: bool) -> list[list[int]]:
    """Spans [start, end) covering ``changed``, whole wide characters, short gaps merged."""
    spans: list[list[int]] = []
    for px in changed:
        start, end = px, px + 1
        cell = row[px]
        if wide and cell is not None:
            if cell[0] == WIDE_TAIL:
                start = px - 1
            elif get_character_cell_size(cell[0]) == 2:
                end = px + 2
        if spans:
            last = spans[-1]
            if start <= last[1]:
                last[1] = max(last[1], end)
                continue
            if start - last[1] <= MERGE_GAP and None not in row[last[1] : start]:
                last[1] = end
                continue
        spans.append([start, end])
    return spans


class ShadowDriver(LinuxDriver):
    """Textual's Linux/macOS driver, writing each frame through a ShadowScreen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shadow: ShadowScreen | None = None
        self._shadow_lock = threading.Lock()

    def start_application_mode(self) -> None:
        with self._shadow_lock:
            self._shadow = None  # after a suspend the terminal shows something else
        super().start_application_mode()  # type: ignore[no-untyped-call]

    def write(self, data: str) -> None:
        with self._shadow_lock:
            try:
                width, height = os.get_terminal_size(self._file.fileno())  # type: ignore[union-attr]
            except (AttributeError, OSError, ValueError):  # no terminal: nothing to follow
                super().write(data)
                return
            shadow = self._shadow
            if shadow is None or (shadow.width, shadow.height) != (width, height):
                shadow = self._shadow = ShadowScreen(width, height)
            super().write(shadow.render(data))

"""Bytes the wizard writes to a real terminal per key, against a bare Textual app.

Each program runs in a child process on a pseudo-terminal of 80×24 (TERM=xterm-256color,
COLORTERM=truecolor), and everything it writes is read back from the terminal's side.
Cases: a highlight move in the Method step's list (Down/Up, alternating) and a step change
(Enter on Detect, which opens Method). Baseline, in the same run: a bare Textual app with an
OptionList of one-line options, whose Enter pushes a second screen like it. The wizard also
runs with Textual's own Linux driver (TEXTUAL_DRIVER), to show what the shadow screen saves.

A key's bytes are all the program writes until it has been quiet for --quiet seconds: a
terminal has no "frame finished" signal. Prints a markdown table of medians.

    python tests/bench/wire.py [--moves 15] [--quiet 0.4]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"move": 800, "step": 12_000}
DOWN, UP, ENTER = b"\x1b[B", b"\x1b[A", b"\r"

BARE = """
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import OptionList, Static

class Second(Screen):
    def compose(self):
        yield Static("Step 2")
        yield OptionList("EC2 IAM role", "ECS task IAM role", "Access key + secret key")

class Bare(App):
    BINDINGS = [Binding("enter", "next", priority=True)]
    def compose(self):
        yield Static("Step 1")
        yield OptionList("EC2 IAM role", "ECS task IAM role", "Access key + secret key")
    def action_next(self):
        self.push_screen(Second())

Bare().run()
"""

WIZARD = """
import sys
from pathlib import Path
from tests.scenes import ec2_detection, scene_services
from tui.app import WizardApp

WizardApp(scene_services(ec2_detection(), root=Path(sys.argv[1]))).run()
"""


class Terminal:
    """A child process on a pseudo-terminal of 80×24, and what it writes."""

    def __init__(self, code: str, scratch: Path, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the program under test
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-c", code, str(scratch)], env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.pid, self.fd = pid, fd

    def read_until_quiet(self, quiet: float, limit: float = 30.0) -> int:
        """Bytes written until nothing came for ``quiet`` seconds."""
        total = 0
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], quiet)
            if not ready:
                break
            try:
                total += len(os.read(self.fd, 65536))
            except OSError:  # the child is gone
                break
        return total

    def press(self, key: bytes, quiet: float) -> int:
        os.write(self.fd, key)
        return self.read_until_quiet(quiet)

    def close(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def measure(code: str, env: dict[str, str], moves: int, quiet: float) -> dict[str, float]:
    """First frame, step change, and the median highlight move of one program, in bytes."""
    with tempfile.TemporaryDirectory() as scratch:
        terminal = Terminal(code, Path(scratch) / "scene", env)
        try:
            first = terminal.read_until_quiet(max(quiet, 2.0))
            step = terminal.press(ENTER, quiet)
            samples = [terminal.press(DOWN if i % 2 == 0 else UP, quiet) for i in range(moves)]
        finally:
            terminal.close()
    return {"first": first, "step": step, "move": statistics.median(samples)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=15)
    parser.add_argument("--quiet", type=float, default=0.4)
    options = parser.parse_args()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("NO_COLOR", "TEXTUAL_DRIVER", "TEXTUAL")
    }
    env |= {"TERM": "xterm-256color", "COLORTERM": "truecolor", "PYTHONPATH": str(ROOT)}
    textual_driver = env | {"TEXTUAL_DRIVER": "textual.drivers.linux_driver:LinuxDriver"}
    rows = [
        ("bare Textual app (baseline)", measure(BARE, env, options.moves, options.quiet)),
        ("wizard", measure(WIZARD, env, options.moves, options.quiet)),
        (
            "wizard, Textual's own driver",
            measure(WIZARD, textual_driver, options.moves, options.quiet),
        ),
    ]
    base = rows[0][1]
    print(
        f"bytes written at 80×24, truecolor; highlight move: median of {options.moves}; "
        f"a key's bytes end after {options.quiet} s of quiet\n"
    )
    print("| program | first frame B | step change B | × bare | highlight move B | × bare |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows:
        print(
            f"| {name} | {row['first']:.0f} | {row['step']:.0f} | {row['step'] / base['step']:.1f} "
            f"| {row['move']:.0f} | {row['move'] / base['move']:.1f} |"
        )
    wizard = rows[1][1]
    for case, limit in TARGETS.items():
        verdict = "ok" if wizard[case] <= limit else "MISSED"
        print(f"\nwizard {case}: {wizard[case]:.0f} B, target ≤ {limit} B: {verdict}", end="")
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

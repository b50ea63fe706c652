"""Time to the wizard's first frame, against the floor: a one-line Textual app.

In process: each sample is a fresh headless process (imports included, as a user pays them)
that exits right after its first refresh. Prints medians, the ratio to the floor, peak RSS,
and whether boto3 was imported before the first frame.

On a terminal, as an admin starts it: the console script (``pa-aws-setup``, a script like the
one pip writes for ``tui.cli:main``) on a pseudo-terminal of 80×24, timed from spawn until the
first frame's text has been written to the terminal; the floor is a one-line Textual app
started the same way. Detection runs for real, against loopback ports that refuse at once.

Before measuring, the tui package is byte-compiled as pip does when it installs it: with
PYTHONDONTWRITEBYTECODE set (as on the developers' machines) every start would compile the
wizard's sources again, which no installed copy does.

    python tests/bench/startup.py [--runs 31] [--terminal-only]
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from tui.demo import make_rundeck_layout

ROOT = Path(__file__).resolve().parents[2]

FLOOR = """
import json, sys, time
from textual.app import App
from textual.widgets import Static

seen = {}

class Floor(App):
    def compose(self):
        yield Static("pa-aws-setup")
    def on_mount(self):
        def first_frame():
            seen["first_frame"] = time.perf_counter()
            self.exit()
        self.call_after_refresh(first_frame)

Floor().run(headless=True, size=(80, 24))
print(json.dumps({"boto3": "boto3" in sys.modules, "first_frame": seen["first_frame"]}))
"""

WIZARD = """
import json, sys, threading, time
from dataclasses import replace
from tui.app import WizardApp
from tui.services import real_services

seen = {}
first_frame_shown = threading.Event()

def detect(progress):
    # Detection belongs after the first frame; held until then so it cannot compete with it.
    first_frame_shown.wait()
    from tui.core.detect import CredentialSources, Detection, Ec2Probe, EcsProbe, Identity
    from tui.core.model import Method

    return Detection(Ec2Probe(), EcsProbe(), CredentialSources(), Identity(),
                     Method.ACCESS_KEY, "bench")

class FirstFrame(WizardApp):
    def on_mount(self):
        def first_frame():
            seen["first_frame"] = time.perf_counter()
            seen["boto3"] = "boto3" in sys.modules
            first_frame_shown.set()
            self.exit()
        self.call_after_refresh(first_frame)

services = replace(real_services(rdeck_base=sys.argv[1], allow_insecure_keyring=False),
                   detect=detect)
FirstFrame(services).run(headless=True, size=(80, 24))
print(json.dumps({"boto3": seen.get("boto3"), "first_frame": seen["first_frame"]}))
"""


def pin_to_last_cpu() -> None:
    """Run each child on one CPU, away from this process: unpinned, the samples split into a
    fast and a slow group depending on where the scheduler put them, for both programs alike."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[-1]})


def sample(code: str) -> tuple[float, dict[str, object], float]:
    """Seconds from spawn to the child's first frame, the facts it printed, its peak RSS in MiB.

    The child reads the same monotonic clock (CLOCK_MONOTONIC on Linux) when its first frame
    is shown, so shutting down afterwards is not counted.
    """
    with tempfile.TemporaryDirectory() as scratch:
        make_rundeck_layout(Path(scratch))  # the user's Rundeck exists before the wizard starts
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", code, scratch],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
            preexec_fn=pin_to_last_cpu,
        )
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"sample failed with exit code {child.returncode}")
    facts = json.loads(output.strip().splitlines()[-1])
    return float(facts["first_frame"]) - started, facts, usage.ru_maxrss / 1024


CONSOLE_SCRIPT = """#!{python}
import sys
from tui.cli import main
if __name__ == "__main__":
    sys.argv[0] = sys.argv[0].removesuffix(".exe")
    sys.exit(main())
"""

FLOOR_SCRIPT = """#!{python}
from textual.app import App
from textual.widgets import Static

class Floor(App):
    def compose(self):
        yield Static("pa-aws-setup")

Floor().run()
"""

WIZARD_FIRST_TEXT = "Finding out where this runs"  # the Detect step's title, in its first frame
FLOOR_FIRST_TEXT = "pa-aws-setup"
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.")


def refused_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def terminal_env(scratch: Path) -> dict[str, str]:
    """The environment of an admin's shell with no AWS around: every endpoint on loopback."""
    refused = f"http://127.0.0.1:{refused_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECS_", "TEXTUAL"))}
    env.pop("NO_COLOR", None)
    return env | {
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "HOME": str(scratch),
        "PYTHONPATH": str(ROOT),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": refused,
        "AWS_ENDPOINT_URL": refused,
    }


def cpu_seconds(pid: int) -> float:
    """CPU time the process's live threads have used so far (Linux schedstat, in ns)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):  # a thread that just ended
            continue
    return total / 1e9


def terminal_sample(script: str, arguments: list[str], first_text: str) -> tuple[float, float]:
    """Seconds from spawn until ``first_text`` has been written to the pseudo-terminal, and
    the CPU seconds the child had used by then: far less noisy on a shared machine."""
    with tempfile.TemporaryDirectory() as scratch:
        base = make_rundeck_layout(Path(scratch))
        program = Path(scratch) / "program"
        program.write_text(script.format(python=sys.executable))
        program.chmod(0o755)
        argv = [str(program), *(a.format(rdeck_base=base) for a in arguments)]
        env = terminal_env(Path(scratch))
        started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: pinned like the headless samples, then the program
            pin_to_last_cpu()
            os.chdir(ROOT)
            os.execve(argv[0], argv, env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        written = b""
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 30)
                if not ready:
                    raise SystemExit(f"no first frame from {argv[0]} in 30 s")
                try:
                    written += os.read(fd, 65536)
                except OSError:
                    raise SystemExit(f"{argv[0]} ended before its first frame") from None
                shown = ESCAPES.sub("", written.decode("utf-8", "replace"))
                if first_text in shown:
                    return time.perf_counter() - started, cpu_seconds(pid)
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)


def terminal_comparison(runs: int) -> None:
    wizard_args = ["--rdeck-base", "{rdeck_base}"]
    floor: list[tuple[float, float]] = []
    wizard: list[tuple[float, float]] = []
    terminal_sample(FLOOR_SCRIPT, [], FLOOR_FIRST_TEXT)  # warm the file cache once for both
    terminal_sample(CONSOLE_SCRIPT, wizard_args, WIZARD_FIRST_TEXT)
    for _ in range(runs):  # interleaved, so drift on the machine hits both alike
        floor.append(terminal_sample(FLOOR_SCRIPT, [], FLOOR_FIRST_TEXT))
        wizard.append(terminal_sample(CONSOLE_SCRIPT, wizard_args, WIZARD_FIRST_TEXT))
    print("\nOn a terminal (console script on a pseudo-terminal, 80×24):\n")
    print("| case | median wall to first frame on the wire (s) | ratio | median CPU (s) | ratio |")
    print("|---|---|---|---|---|")
    floor_wall = statistics.median(w for w, _ in floor)
    floor_cpu = statistics.median(c for _, c in floor)
    for name, samples in (("one-line Textual app (floor)", floor), ("pa-aws-setup", wizard)):
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        print(
            f"| {name} | {wall:.3f} | {wall / floor_wall:.2f} | {cpu:.3f} | {cpu / floor_cpu:.2f} |"
        )
    pairs = sorted(w[0] / f[0] for w, f in zip(wizard, floor, strict=True))
    quarter = len(pairs) // 4
    print(
        f"\nwall ratio per interleaved pair: median {statistics.median(pairs):.2f}, "
        f"middle half {pairs[quarter]:.2f} to {pairs[-quarter - 1]:.2f}; floor's wall "
        f"{min(w for w, _ in floor):.3f} to {max(w for w, _ in floor):.3f} s"
    )
    print(f"runs: {runs} each, interleaved")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--terminal-only", action="store_true", help="skip the in-process case")
    options = parser.parse_args()
    runs = options.runs
    compileall.compile_dir(ROOT / "tui", quiet=1)  # as installed: no sources compiled per start
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[:-1]))  # the children get the last CPU to themselves
    if options.terminal_only:
        terminal_comparison(runs)
        return
    floor_times: list[float] = []
    wizard_times: list[float] = []
    floor_rss: list[float] = []
    wizard_rss: list[float] = []
    boto3_seen = False
    sample(FLOOR)  # warm the file cache once for both
    sample(WIZARD)
    for _ in range(runs):  # interleaved, so drift on the machine hits both alike
        elapsed, _, rss = sample(FLOOR)
        floor_times.append(elapsed)
        floor_rss.append(rss)
        elapsed, facts, rss = sample(WIZARD)
        wizard_times.append(elapsed)
        wizard_rss.append(rss)
        boto3_seen = boto3_seen or bool(facts.get("boto3"))
    floor, wizard = statistics.median(floor_times), statistics.median(wizard_times)
    print("| case | median first frame (s) | ratio | peak RSS (MiB) |")
    print("|---|---|---|---|")
    print(f"| one-line Textual app (floor) | {floor:.3f} | 1.00 | {max(floor_rss):.0f} |")
    print(f"| pa-aws-setup wizard | {wizard:.3f} | {wizard / floor:.2f} | {max(wizard_rss):.0f} |")
    pairs = sorted(w / f for w, f in zip(wizard_times, floor_times, strict=True))
    quarter = len(pairs) // 4
    print(
        f"\nratio per interleaved pair: median {statistics.median(pairs):.2f}, "
        f"middle half {pairs[quarter]:.2f} to {pairs[-quarter - 1]:.2f}"
    )
    print(f"runs: {runs} each, interleaved")
    print(f"boto3 imported before the first frame: {'yes' if boto3_seen else 'no'}")
    terminal_comparison(runs)


if __name__ == "__main__":
    main()

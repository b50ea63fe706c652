"""Time to the wizard's first frame, against the floor: a one-line Textual app.

Each sample is a fresh headless process (imports included, as a user pays them) that exits
right after its first refresh. Prints medians, the ratio to the floor, peak RSS, and whether
boto3 was imported before the first frame.

    python tests/bench/startup.py [--runs 31]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=31)
    runs = parser.parse_args().runs
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[:-1]))  # the children get the last CPU to themselves
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


if __name__ == "__main__":
    main()

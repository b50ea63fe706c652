"""One apply-sized edit of a ~50 MB framework.properties, against Java reading the same file.

The edit is what an apply does to the file: parse it, read the four AWS keys, set four keys,
remove one, render it to bytes. The baseline, measured in the same run on the same file, is
``java.util.Properties.load`` in a fresh JVM (the load alone, timed inside the JVM, and the
whole process's peak RSS). Each sample is a fresh process; prints medians and ratios.

    python tests/bench/properties.py [--runs 5] [--megabytes 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EDIT = """
import json, sys, time
from pathlib import Path
from tui.core.properties import PropertiesDocument

data = Path(sys.argv[1]).read_bytes()
started = time.perf_counter()
document = PropertiesDocument.parse_bytes(data)
for name in ("credentialProvider", "access_key", "secret_key_path", "region"):
    document.get("aws." + name)
document.set("aws.credentialProvider", "instance")
document.set("aws.region", "eu-west-1")
document.set("plugin.100.setting.value", "changed")
document.set("plugin.200.setting.value", "changed")
document.remove("plugin.300.setting.value")
after = document.to_bytes()
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "bytes": len(after)}))
"""

JAVA_LOAD = """
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.Properties;

public final class LoadOnly {
    public static void main(String[] args) throws Exception {
        long started = System.nanoTime();
        Properties properties = new Properties();
        try (InputStream stream = new FileInputStream(args[0])) {
            properties.load(stream);
        }
        long elapsed = System.nanoTime() - started;
        System.out.println("{\\"seconds\\": " + (elapsed / 1e9) + ", \\"keys\\": "
            + properties.size() + "}");
    }
}
"""


def generate(path: Path, megabytes: int) -> int:
    """A framework.properties-like file: comments, blank lines, escapes, continued values."""
    target = megabytes * 1024 * 1024
    written = 0
    number = 0
    with path.open("w", encoding="latin-1", newline="") as handle:
        handle.write("# Rundeck framework settings, generated for the benchmark\n")
        while written < target:
            block = (
                f"# plugin {number}\n"
                f"plugin.{number}.setting.value = some value for plugin {number}\n"
                f"plugin.{number}.url=http\\://host-{number}.example\\:4440/api\n"
                f"plugin.{number}.list = first, \\\n    second, \\\n    third\n"
                "\n"
            )
            handle.write(block)
            written += len(block)
            number += 1
    return number * 3


def sample(command: list[str]) -> tuple[dict[str, float], float]:
    """What the child printed, and its peak RSS in MiB."""
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed: {output}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=50)
    options = parser.parse_args()
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        raise SystemExit("javac/java not found: install a JDK (openjdk-17-jdk-headless)")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "LoadOnly.java").write_text(JAVA_LOAD)
        subprocess.run([javac, "-d", str(folder), str(folder / "LoadOnly.java")], check=True)
        properties = folder / "framework.properties"
        keys = generate(properties, options.megabytes)
        size = properties.stat().st_size / 1024 / 1024
        java_command = [java, "-XX:+UseSerialGC", "-cp", str(folder), "LoadOnly", str(properties)]
        python_command = [sys.executable, "-c", EDIT, str(properties)]
        python_times: list[float] = []
        java_times: list[float] = []
        python_rss: list[float] = []
        java_rss: list[float] = []
        for _ in range(options.runs):  # interleaved, so drift on the machine hits both alike
            facts, rss = sample(java_command)
            java_times.append(facts["seconds"])
            java_rss.append(rss)
            facts, rss = sample(python_command)
            python_times.append(facts["seconds"])
            python_rss.append(rss)
    java_time, python_time = statistics.median(java_times), statistics.median(python_times)
    java_peak, python_peak = statistics.median(java_rss), statistics.median(python_rss)
    print(f"file: {size:.1f} MiB, {keys} keys; runs: {options.runs} each, interleaved\n")
    print("| case | median time (s) | × Java | peak RSS (MiB) | × Java |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| java.util.Properties.load (baseline) | {java_time:.2f} | 1.00 "
        f"| {java_peak:.0f} | 1.00 |"
    )
    print(
        f"| parse, 4 gets, 4 sets, 1 remove, to_bytes | {python_time:.2f} | "
        f"{python_time / java_time:.1f} | {python_peak:.0f} | {python_peak / java_peak:.1f} |"
    )


if __name__ == "__main__":
    main()

"""Wall time of detect_environment in three loopback cases, against baselines from the same run.

Cases: emulated EC2 (moto's IMDS and STS), a closed port, and a listener that never answers.
Baselines: one loopback HTTP GET to moto, and a detection with every probe disabled.
Prints a markdown table of medians and ratios. Nothing leaves 127.0.0.1: a connect guard
refuses any other address.

    python tests/bench/detect.py [--runs 15] [--timeout 1.0]
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import logging
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tui.core.detect import Detection, detect_environment  # noqa: E402

TARGETS = {"closed port": 0.2, "silent listener": 1.2}


def guard_loopback() -> None:
    """Make any non-loopback connect fail before a packet is sent."""
    original = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not (
            host == "localhost" or ipaddress.ip_address(str(host)).is_loopback
        ):
            raise ConnectionRefusedError(f"benchmark guard: {host} is not loopback")
        original(self, address)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign]


def base_env() -> dict[str, str]:
    """An environment with no credentials, files or metadata variables of the host."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": "/nonexistent",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "BOTO_CONFIG": os.devnull,
    }


def median_time(action: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Median, min and max seconds of ``runs`` calls, after one unmeasured warm-up call."""
    action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), min(samples), max(samples)


def loopback_get(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", "/latest/meta-data/instance-id")
    connection.getresponse().read()
    connection.close()


def expect(detection: Detection, check: Callable[[Detection], bool], case: str) -> Detection:
    if not check(detection):
        raise SystemExit(f"{case}: unexpected detection: {detection.to_json_dict()}")
    return detection


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=1.0)
    options = parser.parse_args()
    guard_loopback()
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(512)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"

    ec2_env = base_env() | {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": moto_url,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    closed_env = base_env() | {"AWS_EC2_METADATA_SERVICE_ENDPOINT": closed_url}
    silent_env = base_env() | {"AWS_EC2_METADATA_SERVICE_ENDPOINT": silent_url}
    disabled_env = base_env() | {"AWS_EC2_METADATA_DISABLED": "true"}
    timeout = options.timeout

    cold_started = time.perf_counter()
    expect(detect_environment(ec2_env, timeout=timeout), lambda d: d.ec2.detected, "cold")
    cold = time.perf_counter() - cold_started

    def run(env: dict[str, str], check: Callable[[Detection], bool], case: str) -> None:
        expect(detect_environment(env, timeout=timeout), check, case)

    rows: list[tuple[str, tuple[float, float, float]]] = [
        (
            "baseline: one loopback GET to moto",
            median_time(lambda: loopback_get(moto_url), options.runs),
        ),
        (
            "baseline: detection, all probes disabled",
            median_time(
                lambda: run(disabled_env, lambda d: not d.ec2.detected, "disabled"), options.runs
            ),
        ),
        (
            "emulated EC2 (moto IMDSv2 + STS)",
            median_time(
                lambda: run(
                    ec2_env,
                    lambda d: d.ec2.imds_version == "v2" and d.identity.account == "123456789012",
                    "ec2",
                ),
                options.runs,
            ),
        ),
        (
            "closed port",
            median_time(
                lambda: run(
                    closed_env, lambda d: d.ec2.diagnosis == "connection-refused", "closed"
                ),
                options.runs,
            ),
        ),
        (
            "silent listener",
            median_time(
                lambda: run(silent_env, lambda d: d.ec2.diagnosis == "timeout", "silent"),
                options.runs,
            ),
        ),
    ]
    silent.close()
    moto.stop()

    get_median = rows[0][1][0]
    disabled_median = rows[1][1][0]
    print(
        f"detect_environment, timeout={timeout} s, median of {options.runs} runs "
        f"(+1 warm-up), Python {sys.version.split()[0]}\n"
    )
    print("| case | median ms | min ms | max ms | × loopback GET | × disabled | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, (median, low, high) in rows:
        target = TARGETS.get(name)
        verdict = (
            ""
            if target is None
            else f"≤ {target * 1000:.0f} ms {'ok' if high <= target else 'MISSED'}"
        )
        print(
            f"| {name} | {median * 1000:.1f} | {low * 1000:.1f} | {high * 1000:.1f} "
            f"| {median / get_median:.1f} | {median / disabled_median:.1f} | {verdict} |"
        )
    print(f"\nfirst detection in this process (imports botocore): {cold * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

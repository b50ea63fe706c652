"""The suite's loopback-only guard: non-loopback connections fail before any packet leaves."""

from __future__ import annotations

import os
import socket

import pytest
from pytest_socket import SocketConnectBlockedError

from tui.core.detect import detect_environment

# Documentation and private addresses, plus the two metadata addresses the product would use
# off the suite; each must be refused by pytest-socket inside connect().
FORBIDDEN = ["192.0.2.1", "10.255.255.1", "169.254.169.254", "169.254.170.2"]


def require_guard(request: pytest.FixtureRequest) -> None:
    """Fail without connecting anywhere unless pytest-socket's connect guard is installed."""
    if not request.config.getoption("allow_hosts", None):
        pytest.fail("pytest-socket --allow-hosts is not configured; refusing to try a connection")
    if getattr(socket.socket.connect, "__module__", "") != "pytest_socket":
        pytest.fail("socket.connect is not guarded by pytest-socket; refusing to try a connection")


@pytest.mark.parametrize("address", FORBIDDEN)
def test_connecting_to_a_non_loopback_address_is_blocked(
    address: str, request: pytest.FixtureRequest
) -> None:
    require_guard(request)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(SocketConnectBlockedError),
    ):
        sock.connect((address, 80))


def test_loopback_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname(), timeout=5):
            pass


def test_detection_with_the_default_imds_address_is_blocked_not_sent(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """With no endpoint override, detection's metadata request dies in the guard."""
    require_guard(request)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    assert "AWS_EC2_METADATA_SERVICE_ENDPOINT" not in os.environ

    detection = detect_environment(timeout=0.3)

    assert not detection.ec2.detected
    assert detection.ec2.endpoint == f"http://{FORBIDDEN[2]}"
    assert "SocketConnectBlockedError" in (detection.ec2.error or "")

"""Suite-wide setup: a sealed environment, and the real components as fixtures."""

from __future__ import annotations

import os

# Environment that must be in place before anything imports boto3 or keyring.
# Nothing in the suite may reach the real metadata addresses; every endpoint a test wants is
# pointed at a loopback server by its fixture.
for _name in list(os.environ):
    if _name.startswith(("AWS_", "ECS_CONTAINER_METADATA", "PYTHON_KEYRING", "RDECK_")):
        del os.environ[_name]
# No test may reach the developer's own keyring: only the suite's private Secret Service.
os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.keyring_service",
    "tests.fixtures.java_oracle",
]

"""STS GetCallerIdentity through a bounded botocore session, for the credentials found.

botocore is imported only inside these functions, so importing detection never loads it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from tui.core.detect.model import Identity, _RoleCredentials
from tui.core.detect.transport import _is_true, _text


def _botocore_session(env: Mapping[str, str], timeout: float) -> Any:
    """A botocore session that reads ``env`` and whose own IMDS lookups are bounded."""
    import botocore.credentials
    import botocore.session
    from botocore.configprovider import ConstantProvider

    session = botocore.session.Session()
    session.register_component("data_loader", _data_loader(env.get("AWS_DATA_PATH")))
    store = session.get_component("config_store")
    settings: dict[str, object] = {
        "profile": env.get("AWS_DEFAULT_PROFILE") or env.get("AWS_PROFILE") or None,
        "config_file": env.get("AWS_CONFIG_FILE", "~/.aws/config"),
        "credentials_file": env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        "metadata_service_timeout": timeout,
        "metadata_service_num_attempts": 1,
        "ec2_metadata_service_endpoint": env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or None,
    }
    for name, value in settings.items():
        store.set_config_provider(name, ConstantProvider(value))
    # We probed the container and IMDS ourselves; botocore must not probe them again, slowly.
    resolver = session.get_component("credential_provider")
    resolver.remove("container-role")
    resolver.remove("iam-role")
    replacements = {
        "env": botocore.credentials.EnvProvider(environ=env),
        "ec2-credentials-file": botocore.credentials.OriginalEC2Provider(environ=env),
        "boto-config": botocore.credentials.BotoProvider(environ=env),
    }
    resolver.providers = [replacements.get(p.METHOD, p) for p in resolver.providers]
    # A throwaway client loads the STS model and endpoint rules while the probes run.
    session.create_client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id="warm-up",
        aws_secret_access_key="warm-up",
    )
    return session


@functools.cache
def _data_loader(data_path: str | None) -> Any:
    """botocore's model loader, shared across detections so a re-run does not re-read models."""
    from botocore.loaders import create_loader

    return create_loader(data_path)


def _caller_identity(
    session: Any,
    env: Mapping[str, str],
    region: str,
    credentials: _RoleCredentials | None,
    timeout: float,
) -> Identity:
    """STS GetCallerIdentity with one attempt and short timeouts; never raises."""
    from botocore.config import Config

    source = credentials.source if credentials else None
    try:
        explicit: dict[str, str | None] = {}
        if credentials is not None:
            explicit = {
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret.reveal(),
                "aws_session_token": credentials.token.reveal() if credentials.token else None,
            }
        else:
            found = session.get_credentials()
            if found is None:
                return Identity(error="no credentials found")
            source = str(getattr(found, "method", "") or "") or None
        endpoint = None
        if not _is_true(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
            endpoint = env.get("AWS_ENDPOINT_URL_STS") or env.get("AWS_ENDPOINT_URL") or None
        client = session.create_client(
            "sts",
            region_name=region,
            endpoint_url=endpoint,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"total_max_attempts": 1, "mode": "standard"},
            ),
            **explicit,
        )
        answer = client.get_caller_identity()
    except Exception as error:  # reported as text; never the credentials
        return Identity(source=source, error=_identity_error(error))
    return Identity(
        account=_text(answer.get("Account")),
        arn=_text(answer.get("Arn")),
        user_id=_text(answer.get("UserId")),
        source=source,
    )


def _identity_error(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        code = _text(details.get("Code")) or "Unknown"
        message = _text(details.get("Message")) or ""
        return f"STS refused: {code}: {message}".rstrip(": ")
    name = type(error).__name__
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return "STS unreachable (offline, or blocked by a proxy/firewall)"
    if name == "ReadTimeoutError":
        return "STS did not answer in time"
    if name == "ProfileNotFound":
        return "the selected AWS profile does not exist (AWS_PROFILE / AWS_DEFAULT_PROFILE)"
    if name in ("PartialCredentialsError", "NoCredentialsError"):
        return "credentials are incomplete"
    return f"GetCallerIdentity failed: {name}"

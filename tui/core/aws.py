"""Small AWS calls the setup needs: proving credentials work with STS GetCallerIdentity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui.core.errors import ErrorKind, ToolError
from tui.core.secret import Secret

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0

# Called as ``factory(service, access_key_id=..., secret=..., region=...)``, like client().
ClientFactory = Callable[..., Any]

# STS answers these when the key id is unknown or the secret does not match it.
REJECTED_KEY_CODES = frozenset(
    {"InvalidClientTokenId", "SignatureDoesNotMatch", "AuthFailure", "UnrecognizedClientException"}
)


class AwsError(ToolError):
    """AWS refused or could not be reached; ``offline`` tells the two apart for the user."""

    kind = ErrorKind.AWS

    def __init__(self, message: str, *, offline: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.offline = offline
        self.code = code


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str

    @property
    def iam_user(self) -> str | None:
        """The IAM user name when the ARN is a user's (``arn:aws:iam::123:user/path/name``)."""
        _, _, resource = self.arn.partition(":user/")
        return resource.rsplit("/", 1)[-1] if resource else None


def client(
    service: str,
    *,
    access_key_id: str | None = None,
    secret: Secret | None = None,
    region: str | None = None,
) -> Any:
    """A boto3 client with short timeouts and one attempt; boto3 is imported only here."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret.reveal() if secret is not None else None,
        region_name=region or "us-east-1",
    )
    # The stubs type client() per literal service name; ours is any name, so typed loosely.
    make_client: Any = session.client
    return make_client(service, config=config)


def translate_error(error: Exception, action: str) -> AwsError:
    """An AwsError whose message says what failed, never what credentials were used."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        message = str(details.get("Message", ""))
        return AwsError(f"AWS refused {action}: {code}: {message}".rstrip(": "), code=code)
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return AwsError(
            f"Could not reach AWS for {action} (offline or blocked by a proxy/firewall).",
            offline=True,
        )
    if isinstance(error, NoCredentialsError):
        return AwsError(f"No AWS credentials were found for {action}.", code="NoCredentials")
    return AwsError(f"{action} failed: {type(error).__name__}.")


def mask_access_key_id(access_key_id: str | None) -> str | None:
    """``AKIA…WXYZ``: enough to recognise a key, not enough to quote it."""
    if not access_key_id:
        return None
    if len(access_key_id) <= 8:
        return "…"
    return f"{access_key_id[:4]}…{access_key_id[-4:]}"


def identity_of(answer: dict[str, Any]) -> CallerIdentity:
    """A CallerIdentity from STS GetCallerIdentity's answer."""
    return CallerIdentity(
        account=str(answer.get("Account", "")),
        arn=str(answer.get("Arn", "")),
        user_id=str(answer.get("UserId", "")),
    )


def identity_with(
    factory: ClientFactory,
    access_key_id: str | None,
    secret: Secret | None,
    region: str | None,
) -> CallerIdentity:
    """STS GetCallerIdentity with exactly these credentials; AwsError on any failure."""
    try:
        sts = factory("sts", access_key_id=access_key_id, secret=secret, region=region)
        return identity_of(sts.get_caller_identity())
    except Exception as error:  # every botocore failure becomes one AwsError
        raise translate_error(error, "GetCallerIdentity") from None


def caller_identity(
    *,
    access_key_id: str | None = None,
    secret: Secret | None = None,
    region: str | None = None,
) -> CallerIdentity:
    """STS GetCallerIdentity: the cheapest proof that credentials work (needs no permission)."""
    return identity_with(client, access_key_id, secret, region)

"""The demo instance's metadata service: moto's, except that the role's credentials are real
sandbox credentials of that role (from STS AssumeRole), so STS names the assumed role.

moto's own metadata service hands out the fixed key ``test-key``, which its STS does not
know and answers as ``user/moto``; beside a detected instance role that reads as a contradiction.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"
DEMO_ACCOUNT = "123456789012"  # moto's default account
EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def moto_client(moto_url: str, service: str) -> Any:
    import boto3

    make_client: Any = boto3.client  # typed per literal service name; ours is any name
    return make_client(
        service,
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo-sandbox",
    )


def _ask_moto(moto_url: str, path: str) -> str:
    """The text moto's metadata service gives for ``path`` (token request first)."""
    base = moto_url.rstrip("/")
    token_request = urllib.request.Request(
        f"{base}/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    with urllib.request.urlopen(token_request, timeout=5) as answer:
        token = answer.read().decode()
    request = urllib.request.Request(base + path, headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return str(answer.read().decode())


def role_credentials(moto_url: str) -> tuple[str, dict[str, str]]:
    """The demo instance's role (the one moto's metadata names) and credentials of it from
    STS AssumeRole, in the metadata service's JSON shape."""
    role = _ask_moto(moto_url, CREDENTIALS_PATH).strip().splitlines()[0]
    instance = _ask_moto(moto_url, "/latest/meta-data/instance-id").strip()
    iam = moto_client(moto_url, "iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=EC2_TRUST)
    assumed = moto_client(moto_url, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{DEMO_ACCOUNT}:role/{role}", RoleSessionName=instance
    )["Credentials"]
    return role, {
        "Code": "Success",
        "Type": "AWS-HMAC",
        "AccessKeyId": assumed["AccessKeyId"],
        "SecretAccessKey": assumed["SecretAccessKey"],
        "Token": assumed["SessionToken"],
        "Expiration": assumed["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "LastUpdated": assumed["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class RoleMetadataServer:
    """A loopback metadata service: moto's answers, the role's credentials replaced."""

    def __init__(self, moto_url: str) -> None:
        role, credentials = role_credentials(moto_url)
        served = json.dumps(credentials).encode()
        # moto has no iam/info (it answers with a traceback); the instance profile's, as EC2's.
        info = json.dumps(
            {
                "Code": "Success",
                "LastUpdated": credentials["LastUpdated"],
                "InstanceProfileArn": f"arn:aws:iam::{DEMO_ACCOUNT}:instance-profile/{role}",
                "InstanceProfileId": "AIPADEMOSANDBOXPROFILE",
            }
        ).encode()
        target = moto_url.rstrip("/")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the wizard owns the terminal."""

            def relay(self, method: str) -> None:
                if method == "GET" and self.path == CREDENTIALS_PATH + role:
                    self.answer(200, served)
                    return
                if method == "GET" and self.path == "/latest/meta-data/iam/info":
                    self.answer(200, info)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-aws")}
                request = urllib.request.Request(
                    target + self.path, data=body, method=method, headers=headers
                )
                try:
                    with urllib.request.urlopen(request, timeout=5) as answer:
                        self.answer(answer.status, answer.read())
                except urllib.error.HTTPError as error:
                    self.answer(error.code, error.read())

            def answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.relay("GET")

            def do_PUT(self) -> None:
                self.relay("PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

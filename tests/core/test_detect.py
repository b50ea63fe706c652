"""Environment detection against moto's IMDS/STS and loopback ECS / IMDS stand-ins."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.fixtures.aws import LoopbackPort, MotoServer
from tests.fixtures.ecs_metadata import (
    AUTHORIZATION_TOKEN,
    CLUSTER_ARN,
    TASK_ARN,
    TASK_ROLE_ARN,
    EcsMetadataServer,
    LoopbackHttpServer,
    ServedCredentials,
)
from tui.core.detect import (
    Detection,
    Diagnosis,
    ProbeUpdate,
    detect_environment,
    format_detection,
)
from tui.core.model import Method

# Short per-probe budget so the hostile cases do not slow the suite; no assertion is on time.
QUICK = 0.3
# Paths that must succeed: a loaded machine must not turn a slow loopback answer into a
# timeout. The timeout behaviour has its own tests, with QUICK.
PATIENT = 10.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]
KNOWN_SECRET = "kn0wnS3cretValueThatMustNeverBeShown/abcdEF"
KNOWN_TOKEN = "kn0wnSessionTokenThatMustNeverBeShown"


def fake_imds(
    server: LoopbackHttpServer,
    *,
    token_status: int | None = 200,
    v1: bool = True,
    role: str | None = "rundeck-ec2-role",
    role_credentials: str = '{"Code": "Success", "AccessKeyId": "AKIDFAKE", '
    '"SecretAccessKey": "fake-secret", "Token": "fake-token"}',
) -> LoopbackHttpServer:
    """Serve IMDS paths; the token PUT answers ``token_status`` (None: no route, so 404)."""
    if token_status is not None:
        server.route("PUT", "/latest/api/token", "imds-token", status=token_status)
    paths = {
        "meta-data/instance-id": "i-0123456789abcdef0",
        "meta-data/placement/region": "eu-west-1",
        "meta-data/placement/availability-zone": "eu-west-1c",
    }
    if role:
        paths["meta-data/iam/security-credentials/"] = role
        paths[f"meta-data/iam/security-credentials/{role}"] = role_credentials
    for path, body in paths.items():
        server.route(
            "GET", f"/latest/{path}", body if v1 else "unauthorized", status=200 if v1 else 401
        )
    return server


def all_text(detection: Detection, updates: Sequence[ProbeUpdate] = ()) -> str:
    """Every text form of a detection, to search for a secret."""
    return "\n".join(
        [
            json.dumps(detection.to_json_dict()),
            format_detection(detection),
            repr(detection),
            str(detection),
            *(repr(update) for update in updates),
        ]
    )


# --- EC2 --------------------------------------------------------------------------------------


def test_ec2_via_imdsv2_on_moto(imds_env: MotoServer) -> None:
    detection = detect_environment(timeout=PATIENT)

    ec2 = detection.ec2
    assert ec2.detected
    assert ec2.imds_version == "v2"
    assert ec2.instance_id == "i-fake"
    assert ec2.region == "us-east-1"
    assert ec2.availability_zone == "us-east-1a"
    assert ec2.role_name == "default-role"
    assert ec2.diagnosis is Diagnosis.OK
    # moto has no iam/info nor identity document: unknown, without hiding the rest.
    assert ec2.instance_profile_arn is None
    assert ec2.account is None
    assert "meta-data/iam/info: HTTP 500" in ec2.notes
    assert detection.identity.account == "123456789012"
    assert detection.identity.source == "iam-role"
    assert "iam-role" in detection.credentials.sources
    assert detection.recommended_method is Method.EC2
    assert "default-role" in detection.recommendation_reason


def test_ec2_token_sent_on_every_request_after_v2(
    aws_env: MotoServer,
    loopback_http: Callable[[], LoopbackHttpServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imds = fake_imds(loopback_http())
    imds.route(
        "GET",
        "/latest/meta-data/iam/info",
        {"InstanceProfileArn": "arn:aws:iam::210987654321:instance-profile/rundeck"},
    )
    imds.route(
        "GET",
        "/latest/dynamic/instance-identity/document",
        {"accountId": "210987654321", "instanceType": "t3.medium", "region": "eu-west-1"},
    )
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    ec2 = detect_environment(timeout=PATIENT).ec2

    assert ec2.imds_version == "v2"
    assert ec2.instance_profile_arn == "arn:aws:iam::210987654321:instance-profile/rundeck"
    assert (ec2.account, ec2.instance_type) == ("210987654321", "t3.medium")
    token_put = imds.requests[0]
    assert (token_put.method, token_put.path) == ("PUT", "/latest/api/token")
    assert token_put.headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    gets = [request for request in imds.requests if request.method == "GET"]
    assert gets and all(r.headers.get("X-aws-ec2-metadata-token") == "imds-token" for r in gets)


@pytest.mark.parametrize("token_status", [403, 404, 405])
def test_ec2_falls_back_to_imdsv1_when_token_refused(
    token_status: int,
    aws_env: MotoServer,
    loopback_http: Callable[[], LoopbackHttpServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imds = fake_imds(loopback_http(), token_status=token_status)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    detection = detect_environment(timeout=PATIENT)

    assert detection.ec2.detected
    assert detection.ec2.imds_version == "v1"
    assert detection.ec2.instance_id == "i-0123456789abcdef0"
    assert detection.ec2.role_name == "rundeck-ec2-role"
    assert detection.ec2.region == "eu-west-1"
    assert any(f"HTTP {token_status}" in note for note in detection.ec2.notes)
    assert detection.recommended_method is Method.EC2
    gets = [request for request in imds.requests if request.method == "GET"]
    assert gets and not any("X-aws-ec2-metadata-token" in r.headers for r in gets)


def test_ec2_v1_disabled_and_token_refused(
    loopback_http: Callable[[], LoopbackHttpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    imds = fake_imds(loopback_http(), token_status=403, v1=False)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    detection = detect_environment(timeout=QUICK)

    assert not detection.ec2.detected
    assert detection.ec2.diagnosis is Diagnosis.V1_DISABLED_TOKEN_REFUSED
    assert "IMDSv1 disabled and token refused" in (detection.ec2.error or "")
    assert "HTTP 403" in (detection.ec2.error or "") and "HTTP 401" in (detection.ec2.error or "")
    assert detection.recommended_method is Method.ACCESS_KEY


def test_ec2_silent_endpoint_diagnoses_hop_limit(
    silent_listener: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent_listener.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    detection = detect_environment(timeout=QUICK)

    assert not detection.ec2.detected
    assert detection.ec2.diagnosis is Diagnosis.TIMEOUT
    assert "hop limit" in (detection.ec2.error or "")
    assert detection.identity.error == "no credentials found"
    assert detection.recommended_method is Method.ACCESS_KEY


def test_ec2_dropped_connection_is_not_the_hop_limit(
    dropping_listener: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", dropping_listener.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    detection = detect_environment(timeout=QUICK)

    assert not detection.ec2.detected
    assert detection.ec2.diagnosis is Diagnosis.CONNECT_TIMEOUT
    assert "hop limit" not in (detection.ec2.error or "")
    assert "accepted no connection" in (detection.ec2.error or "")


def test_ec2_connection_refused_means_not_on_aws(
    closed_port: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed_port.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    detection = detect_environment(timeout=QUICK)

    assert not detection.ec2.detected
    assert detection.ec2.diagnosis is Diagnosis.REFUSED
    assert detection.ec2.error == "not on AWS: connection refused"
    assert "connection refused" in format_detection(detection)


def test_ec2_disabled_is_not_probed(
    loopback_http: Callable[[], LoopbackHttpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    imds = fake_imds(loopback_http())
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    detection = detect_environment(timeout=PATIENT)

    assert not detection.ec2.detected
    assert detection.ec2.diagnosis is Diagnosis.DISABLED
    assert detection.ec2.error == "disabled by AWS_EC2_METADATA_DISABLED"
    assert imds.requests == []


def test_ec2_instance_without_role_recommends_access_key(
    loopback_http: Callable[[], LoopbackHttpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    imds = fake_imds(loopback_http(), role=None)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    detection = detect_environment(timeout=PATIENT)

    assert detection.ec2.detected and detection.ec2.role_name is None
    assert detection.ec2.diagnosis is Diagnosis.NO_ROLE
    assert detection.recommended_method is Method.ACCESS_KEY
    assert "without an IAM role" in detection.recommendation_reason


def test_ec2_endpoint_that_is_not_imds(
    loopback_http: Callable[[], LoopbackHttpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", loopback_http().url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    detection = detect_environment(timeout=PATIENT)

    assert not detection.ec2.detected
    assert detection.ec2.diagnosis is Diagnosis.HTTP_ERROR
    assert "HTTP 404" in (detection.ec2.error or "")


# --- ECS --------------------------------------------------------------------------------------


def test_ecs_task_role_detected(ecs_env: EcsMetadataServer) -> None:
    detection = detect_environment(timeout=PATIENT)

    ecs = detection.ecs
    assert ecs.detected
    assert ecs.cluster == CLUSTER_ARN
    assert ecs.task_arn == TASK_ARN
    assert (ecs.family, ecs.revision, ecs.launch_type) == ("rundeck", "7", "FARGATE")
    assert ecs.availability_zone == "us-east-1b"
    assert ecs.role_arn == TASK_ROLE_ARN
    assert ecs.diagnosis is Diagnosis.OK
    assert detection.recommended_method is Method.ECS
    assert TASK_ROLE_ARN in detection.recommendation_reason
    # STS answered for the served task-role credentials, not the dummy ones in the env.
    assert detection.identity.source == "container-role"
    assert ":assumed-role/rundeck-task-role/" in (detection.identity.arn or "")
    credentials_requests = [r for r in ecs_env.requests if r.path == ecs_env.CREDENTIALS_PATH]
    assert credentials_requests[0].headers["Authorization"] == AUTHORIZATION_TOKEN


def test_ecs_preferred_over_ec2(
    ecs_env: EcsMetadataServer, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", moto_server.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")

    detection = detect_environment(timeout=PATIENT)

    assert detection.ec2.detected and detection.ec2.role_name == "default-role"
    assert detection.ecs.detected and detection.ecs.role_arn == TASK_ROLE_ARN
    assert detection.recommended_method is Method.ECS
    assert detection.identity.source == "container-role"


def test_ecs_absent_in_this_shell(aws_env: MotoServer) -> None:
    detection = detect_environment(timeout=PATIENT)

    assert not detection.ecs.detected
    assert detection.ecs.diagnosis is Diagnosis.ENV_ABSENT
    assert detection.ecs.error == "ECS variables absent in this shell"


def test_ecs_token_file_and_wrong_token(
    ecs_env: EcsMetadataServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(AUTHORIZATION_TOKEN + "\n")
    monkeypatch.delenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
    assert detect_environment(timeout=PATIENT).ecs.role_arn == TASK_ROLE_ARN

    token_file.write_text("not-the-token")
    detection = detect_environment(timeout=PATIENT)

    assert detection.ecs.detected  # the task metadata still answered
    assert not detection.ecs.has_task_credentials and detection.ecs.role_arn is None
    assert "HTTP 401" in (detection.ecs.error or "")
    assert detection.recommended_method is Method.ACCESS_KEY


def test_ecs_role_arn_omitted_is_unknown(ecs_env: EcsMetadataServer, aws_env: MotoServer) -> None:
    assert ecs_env.served is not None
    ecs_env.serve_credentials(ecs_env.served, role_arn=None)

    detection = detect_environment(timeout=PATIENT)

    assert detection.ecs.has_task_credentials
    assert detection.ecs.role_arn is None
    assert any("role ARN unknown" in note for note in detection.ecs.notes)
    assert detection.recommended_method is Method.ECS
    assert "unknown" in detection.recommendation_reason


def test_ecs_full_uri_on_a_foreign_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.invalid/creds")

    detection = detect_environment(timeout=QUICK)

    assert not detection.ecs.detected
    assert "must be https, loopback" in (detection.ecs.error or "")


# --- broken answers ---------------------------------------------------------------------------


def test_broken_json_does_not_crash(
    aws_env: MotoServer,
    ecs_metadata: EcsMetadataServer,
    loopback_http: Callable[[], LoopbackHttpServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imds = fake_imds(loopback_http(), role_credentials="{not json")
    imds.route("GET", "/latest/meta-data/iam/info", "[1, 2")
    imds.route("GET", "/latest/dynamic/instance-identity/document", '["a list"]')
    ecs_metadata.route("GET", f"{ecs_metadata.METADATA_PATH}/task", "{'Cluster': oops")
    ecs_metadata.route("GET", ecs_metadata.CREDENTIALS_PATH, "<html>gateway</html>")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", ecs_metadata.metadata_uri)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs_metadata.credentials_uri)

    detection = detect_environment(timeout=PATIENT)

    assert detection.ec2.detected and detection.ec2.role_name == "rundeck-ec2-role"
    assert detection.ec2.instance_profile_arn is None and detection.ec2.account is None
    assert any("not JSON" in note for note in detection.ec2.notes)
    assert any("not a JSON object" in note for note in detection.ec2.notes)
    assert not detection.ecs.detected
    assert detection.ecs.diagnosis is Diagnosis.BAD_RESPONSE
    assert "task metadata: not JSON" in (detection.ecs.error or "")
    # No role credentials could be read, so STS ran on the env's dummy keys.
    assert detection.identity.source == "env"
    assert detection.recommended_method is Method.EC2


def test_a_failing_progress_callback_does_not_stop_detection(imds_env: MotoServer) -> None:
    def explode(update: ProbeUpdate) -> None:
        raise RuntimeError("the UI went away")

    assert detect_environment(timeout=PATIENT, on_progress=explode).ec2.detected


def test_progress_reports_each_probe_running_then_done(imds_env: MotoServer) -> None:
    updates: list[ProbeUpdate] = []
    lock = threading.Lock()

    def record(update: ProbeUpdate) -> None:
        with lock:
            updates.append(update)

    detect_environment(timeout=PATIENT, on_progress=record)

    for probe in ("ec2", "ecs", "credentials", "identity"):
        states = [update.state for update in updates if update.probe == probe]
        assert states == ["running", "done"], probe
    ec2_done = next(u for u in updates if u.probe == "ec2" and u.state == "done")
    assert "i-fake" in ec2_done.status


# --- credentials by name, never by value ------------------------------------------------------


def test_credential_sources_in_botocore_order(
    aws_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = base\n"
        "credential_process = /bin/false\naws_access_key_id = AKIACONFIGFILE000000\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[ops]\naws_access_key_id = AKIASHARED0000000000\naws_secret_access_key = {KNOWN_SECRET}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "ops")

    detection = detect_environment(timeout=PATIENT)

    assert detection.credentials.sources == (
        "env",
        "assume-role",
        "shared-credentials-file",
        "custom-process",
        "config-file",
    )
    assert detection.credentials.first == "env"
    assert detection.credentials.profile == "ops"
    assert detection.identity.source == "env"
    assert detection.identity.account == "123456789012"
    assert KNOWN_SECRET not in all_text(detection)


def test_known_secrets_appear_nowhere(
    ecs_env: EcsMetadataServer, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KNOWN_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", KNOWN_TOKEN)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", moto_server.url)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    updates: list[ProbeUpdate] = []

    detection = detect_environment(timeout=PATIENT, on_progress=updates.append)

    assert "env" in detection.credentials.sources
    assert detection.ec2.role_name == "default-role" and detection.ecs.role_arn == TASK_ROLE_ARN
    served = ecs_env.served
    assert isinstance(served, ServedCredentials)
    text = all_text(detection, updates)
    for secret in (
        KNOWN_SECRET,
        KNOWN_TOKEN,
        AUTHORIZATION_TOKEN,
        served.secret_access_key,
        served.session_token,
        "test-secret-key",  # the secret of moto's IMDS role credentials
        "test-session-token",
    ):
        assert secret not in text


def test_json_has_the_documented_keys(imds_env: MotoServer) -> None:
    data = json.loads(json.dumps(detect_environment(timeout=PATIENT).to_json_dict()))

    assert {"detected", "instance_id", "region", "role_name", "imds_version", "error"} <= set(
        data["ec2"]
    )
    assert {"detected", "cluster", "task_arn", "role_arn", "error"} <= set(data["ecs"])
    assert {"account", "arn", "error"} <= set(data["identity"])
    assert data["credentials"]["sources"] == ["env", "iam-role"]
    assert data["recommended_method"] == "ec2"
    assert data["ec2"]["diagnosis"] == "ok"
    assert isinstance(data["recommendation_reason"], str) and data["recommendation_reason"]


def test_sts_unreachable_is_reported(
    aws_env: MotoServer, closed_port: LoopbackPort, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", closed_port.url)

    identity = detect_environment(timeout=QUICK).identity

    assert identity.arn is None
    assert identity.source == "env"
    assert identity.error == "STS unreachable (offline, or blocked by a proxy/firewall)"


def test_explicit_env_mapping_is_used_instead_of_os_environ(
    imds_env: MotoServer, closed_port: LoopbackPort
) -> None:
    env = dict(os.environ, AWS_EC2_METADATA_SERVICE_ENDPOINT=closed_port.url)

    detection = detect_environment(env, timeout=QUICK)

    assert detection.ec2.diagnosis is Diagnosis.REFUSED
    assert os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == imds_env.url

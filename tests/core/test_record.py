"""The TOML record: round trip, no secret, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui.core.model import Method, Scope
from tui.core.record import RecordError, RotationState, SetupRecord, dumps, loads, read_record

WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_round_trip_keeps_every_field() -> None:
    record = SetupRecord(
        method=Method.ACCESS_KEY,
        scope=Scope.PROJECT,
        properties_file="/x/project.properties",
        project="ops",
        region="eu-west-1",
        access_key_id="AKIA" + "B" * 16,
        key_path="keys/project/ops/aws/secret-key",
        key_type="password",
        content_type="application/x-rundeck-data-password",
        keyring_backend="SecretService Keyring",
        created_at=WHEN,
        updated_at=WHEN,
        rotation=RotationState(phase="created", old_access_key_id="AKIA" + "C" * 16),
    )
    assert loads(dumps(record)) == record


def test_none_fields_are_left_out_of_the_toml() -> None:
    text = dumps(SetupRecord(method=Method.EC2, scope=Scope.SYSTEM, properties_file="/f"))
    assert "access_key_id" not in text
    assert 'method = "ec2"' in text


def test_same_setup_ignores_timestamps_only() -> None:
    first = SetupRecord(Method.EC2, Scope.SYSTEM, "/f", created_at=WHEN, updated_at=WHEN)
    later = first.updated(updated_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert first.same_setup(later)
    assert not first.same_setup(later.updated(region="us-east-1"))
    assert not first.same_setup(None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("method = ", "not valid TOML"), ('method = "ec3"\nscope="system"', "not a pa-aws-setup")],
)
def test_broken_records_raise_a_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "aws-setup.toml"
    path.write_text(text)
    with pytest.raises(RecordError, match=problem):
        read_record(path)


def test_missing_record_is_none(tmp_path: Path) -> None:
    assert read_record(tmp_path / "aws-setup.toml") is None

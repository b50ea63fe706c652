"""Atomic writes, backups, diffs, symlinks and the install lock."""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui.core.writer import (
    WriteError,
    atomic_write,
    check_target,
    install_lock,
    read_existing,
    unified_diff,
)

WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_atomic_write_keeps_mode_and_makes_a_timestamped_backup(tmp_path: Path) -> None:
    target = tmp_path / "framework.properties"
    target.write_bytes(b"a=1\n")
    target.chmod(0o640)
    backup = atomic_write(target, b"a=2\n", now=WHEN)
    assert target.read_bytes() == b"a=2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert backup is not None and backup.name == "framework.properties.bak-20261127T120000"
    assert backup.read_bytes() == b"a=1\n"
    second = atomic_write(target, b"a=3\n", now=WHEN)
    assert second is not None and second != backup and second.read_bytes() == b"a=2\n"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".framework")]
    assert leftovers == []


def test_write_into_a_missing_folder_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "f.properties", b"x")


def test_binary_and_non_regular_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "b.properties"
    binary.write_bytes(b"a=1\x00\x01")
    with pytest.raises(WriteError, match="binary"):
        read_existing(binary)
    with pytest.raises(WriteError, match="not a regular file"):
        read_existing(tmp_path)
    assert read_existing(tmp_path / "absent") is None


def test_symlink_outside_the_install_is_refused(tmp_path: Path) -> None:
    inside, outside = tmp_path / "rd", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (outside / "real.properties").write_text("a=1\n")
    (inside / "inner.properties").write_text("a=1\n")
    link_out = inside / "framework.properties"
    link_out.symlink_to(outside / "real.properties")
    with pytest.raises(WriteError, match="outside the Rundeck install"):
        check_target(link_out, [inside])
    link_in = inside / "alias.properties"
    link_in.symlink_to(inside / "inner.properties")
    check_target(link_in, [inside])


def test_unified_diff_names_the_file_and_is_empty_when_equal(tmp_path: Path) -> None:
    path = tmp_path / "p.properties"
    diff = unified_diff(path, "a=1\n", "a=1\nb=2\n")
    assert f"+++ {path.name} (new)" in diff and "+b=2" in diff
    assert unified_diff(path, "same\n", "same\n") == ""


def test_second_holder_of_the_lock_fails_clearly(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib\n"
            "from tui.core.writer import install_lock\n"
            f"with install_lock(pathlib.Path({str(tmp_path)!r})):\n"
            "    print('locked', flush=True)\n"
            "    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        ticks = iter(range(100))
        with (
            pytest.raises(WriteError, match="Another pa-aws-setup run"),
            install_lock(tmp_path, wait_seconds=3, monotonic=lambda: float(next(ticks))),
        ):
            pass
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    with install_lock(tmp_path, wait_seconds=0):
        pass

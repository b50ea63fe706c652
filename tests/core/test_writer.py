"""Atomic writes, backups, diffs, symlinks and the install lock."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui.core.model import Answers, Method, Scope
from tui.core.record import record_path
from tui.core.rundeck import RundeckInstall, find_install
from tui.core.setup import SetupError, apply_setup, plan_setup
from tui.core.writer import (
    LOCK_NAME,
    WriteError,
    atomic_write,
    check_target,
    install_lock,
    read_existing,
    unified_diff,
)
from tui.demo import make_rundeck_layout

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


# --- symbolic links: write through to the target, never out of the install -------------------


def scratch_install(tmp_path: Path) -> RundeckInstall:
    """A launcher-layout install; EC2 setups need no keyring, so apply runs in-process."""
    return find_install(make_rundeck_layout(tmp_path))


def ec2(scope: Scope, project: str | None = None) -> Answers:
    return Answers(method=Method.EC2, scope=scope, project=project, region="eu-west-1")


def clock() -> datetime:
    return WHEN


def test_a_symlink_inside_the_install_is_written_through_and_stays_a_link(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "rd"
    real = folder / "shared" / "real.properties"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"a=1\n")
    link = folder / "framework.properties"
    link.symlink_to(Path("shared") / "real.properties")
    backup = atomic_write(link, b"a=2\n", now=WHEN)
    assert link.is_symlink() and link.readlink() == Path("shared") / "real.properties"
    assert real.read_bytes() == b"a=2\n"
    assert backup is not None and backup.parent == real.parent
    assert backup.read_bytes() == b"a=1\n"
    assert sorted(p.name for p in folder.iterdir()) == ["framework.properties", "shared"]


def test_a_linked_folder_outside_the_install_is_refused(tmp_path: Path) -> None:
    install, elsewhere = tmp_path / "rd", tmp_path / "elsewhere"
    (elsewhere / "etc").mkdir(parents=True)
    (elsewhere / "etc" / "project.properties").write_text("a=1\n")
    (install / "projects").mkdir(parents=True)
    (install / "projects" / "ops").symlink_to(elsewhere)
    target = install / "projects" / "ops" / "etc" / "project.properties"
    with pytest.raises(WriteError, match=f"{elsewhere / 'etc'}, outside the Rundeck install"):
        check_target(target, [install])


def test_a_file_linked_back_in_from_a_folder_outside_is_refused(tmp_path: Path) -> None:
    # The file resolves inside, but the record, lock and backups beside it would not.
    install, elsewhere = tmp_path / "rd", tmp_path / "elsewhere"
    (install / "projects" / "real").mkdir(parents=True)
    (install / "projects" / "real" / "project.properties").write_text("a=1\n")
    elsewhere.mkdir()
    (elsewhere / "project.properties").symlink_to(
        install / "projects" / "real" / "project.properties"
    )
    (install / "projects" / "ops").symlink_to(elsewhere)
    with pytest.raises(WriteError, match="outside the Rundeck install"):
        check_target(install / "projects" / "ops" / "project.properties", [install])


def test_a_record_linked_outside_the_install_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    install = scratch_install(tmp_path)
    outside = tmp_path / "victim.txt"
    outside.write_bytes(b"not yours\n")
    record_path(install.framework_properties).symlink_to(outside)
    before = install.framework_properties.read_bytes()
    with pytest.raises(SetupError, match="outside the Rundeck install"):
        plan_setup(install, ec2(Scope.SYSTEM), keystore=None, clock=clock)
    assert outside.read_bytes() == b"not yours\n"
    assert install.framework_properties.read_bytes() == before


def test_a_symlinked_lock_file_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "rd"
    folder.mkdir()
    (folder / LOCK_NAME).symlink_to(outside / "created-by-root")
    with pytest.raises(WriteError, match="symbolic link"), install_lock(folder, wait_seconds=0):
        pass
    assert list(outside.iterdir()) == []


def test_a_link_planted_at_the_backup_name_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "framework.properties"
    target.write_bytes(b"a=1\n")
    planted = tmp_path / "framework.properties.bak-20261127T120000"
    planted.symlink_to(tmp_path / "outside-file")
    backup = atomic_write(target, b"a=2\n", now=WHEN)
    assert not (tmp_path / "outside-file").exists()
    assert backup is not None and backup != planted and backup.read_bytes() == b"a=1\n"


# --- ownership: what the tool creates beside a file takes that file's owner -------------------

OTHER_OWNER = (4242, 4243)


def owner(path: Path) -> tuple[int, int]:
    info = path.lstat()
    return info.st_uid, info.st_gid


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_record_backup_and_lock_take_the_owner_of_the_properties_file(tmp_path: Path) -> None:
    install = scratch_install(tmp_path)
    target = install.framework_properties
    os.chown(target, *OTHER_OWNER)
    os.chown(target.parent, *OTHER_OWNER)
    plan = plan_setup(install, ec2(Scope.SYSTEM), keystore=None, clock=clock)
    result = apply_setup(plan, keystore=None, secret=None, clock=clock)
    assert result.ok, result.error
    assert owner(target) == OTHER_OWNER
    assert result.backup is not None and owner(result.backup) == OTHER_OWNER
    assert owner(record_path(target)) == OTHER_OWNER
    with install_lock(target.parent, owner_from=target):
        assert owner(target.parent / LOCK_NAME) == OTHER_OWNER


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_a_copied_backup_takes_the_owner_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "framework.properties"
    target.write_bytes(b"a=1\n")
    os.chown(target, *OTHER_OWNER)

    def no_hard_links(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)
    backup = atomic_write(target, b"a=2\n", now=WHEN)
    assert backup is not None and backup.read_bytes() == b"a=1\n"
    assert owner(backup) == OTHER_OWNER and owner(target) == OTHER_OWNER


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_a_root_owned_record_is_given_back_to_the_file_owner(tmp_path: Path) -> None:
    target = tmp_path / "framework.properties"
    target.write_bytes(b"a=1\n")
    os.chown(target, *OTHER_OWNER)
    record = record_path(target)
    record.write_text("old\n")  # left root:root by an older version
    atomic_write(record, b"new\n", backup=False, owner_from=target)
    assert owner(record) == OTHER_OWNER


# --- leftovers: temporary files, backups of unchanged files, too many backups -----------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporary_files_of_ours_are_removed_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "framework.properties"
    target.write_bytes(b"a=1\n")
    dead = tmp_path / f".framework.properties.pa-aws-setup-tmp.{dead_pid()}.0123abcd"
    live = tmp_path / f".framework.properties.pa-aws-setup-tmp.{os.getpid()}.4567cdef"
    old = tmp_path / f".framework.properties.pa-aws-setup-tmp.{os.getpid()}.89abcdef"
    unrelated = [
        tmp_path / ".framework.properties.swp",
        tmp_path / ".framework.properties.x1y2z3ab",
    ]
    for path in (dead, live, old, *unrelated):
        path.write_bytes(b"partial")
    os.utime(old, (time.time() - 2 * 3600, time.time() - 2 * 3600))
    atomic_write(target, b"a=2\n", now=WHEN)
    assert not dead.exists() and not old.exists()
    assert live.exists() and all(path.exists() for path in unrelated)


def test_taking_the_install_lock_cleans_leftovers(tmp_path: Path) -> None:
    dead = tmp_path / f".project.properties.pa-aws-setup-tmp.{dead_pid()}.0123abcd"
    dead.write_bytes(b"partial")
    with install_lock(tmp_path):
        assert not dead.exists()


KILLED_WRITE = """
import os, signal, sys
from datetime import datetime, timezone
from pathlib import Path
from tui.core.writer import atomic_write

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = killed  # killed after the backup, before the new file takes the old one's place
atomic_write(Path(sys.argv[1]), b"a=2\\n", now=datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc))
"""


def test_a_write_killed_before_the_swap_leaves_no_backup_of_the_unchanged_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "framework.properties"
    target.write_bytes(b"a=1\n")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITE, str(target)],
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"a=1\n"
    with install_lock(tmp_path):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["framework.properties"]
    later = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    backup = atomic_write(target, b"a=3\n", now=later)
    assert backup is not None and backup.read_bytes() == b"a=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["framework.properties", backup.name]


def test_only_the_newest_backups_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "framework.properties"
    target.write_bytes(b"a=0\n")
    unrelated = tmp_path / "framework.properties.bak-by-hand"
    unrelated.write_bytes(b"mine\n")
    backups = [
        atomic_write(target, f"a={day}\n".encode(), now=WHEN.replace(day=day), keep_backups=3)
        for day in range(1, 6)
    ]
    kept = sorted(p for p in tmp_path.glob("framework.properties.bak-2*"))
    assert kept == backups[-3:]
    assert [p.read_bytes() for p in kept] == [b"a=2\n", b"a=3\n", b"a=4\n"]
    assert unrelated.exists()
    same_second = [atomic_write(target, f"b={n}\n".encode(), now=WHEN) for n in range(12)]
    kept = sorted(tmp_path.glob("framework.properties.bak-2*"), key=lambda p: p.stat().st_ctime_ns)
    assert len(kept) == 10 and same_second[-1] in kept and same_second[0] not in kept
    with pytest.raises(ValueError, match="keep_backups"):
        atomic_write(target, b"c=1\n", keep_backups=0)


def test_a_backup_that_cannot_be_made_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "framework.properties"
    target.write_bytes(b"a=1\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", refuse)  # no hard links here, so the backup is a copy
    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(WriteError, match=r"Cannot back up .*No space left"):
        atomic_write(target, b"a=2\n", now=WHEN)
    monkeypatch.undo()
    assert target.read_bytes() == b"a=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["framework.properties"]

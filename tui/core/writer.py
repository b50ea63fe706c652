"""Safe file changes: checked reads, unified diffs, atomic writes with backups, a lock."""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from tui.core.errors import ConfigProblem

NEW_FILE_MODE = 0o640
LOCK_NAME = ".pa-aws-setup.lock"


class WriteError(ConfigProblem):
    """A configuration file that cannot be read or written safely; nothing was changed."""


def check_target(path: Path, roots: Sequence[Path]) -> None:
    """Refuse a target that is a symlink resolving outside the install's folders."""
    if not path.is_symlink():
        return
    resolved = path.resolve()
    for root in roots:
        try:
            resolved.relative_to(root.resolve())
            return
        except ValueError:
            continue
    raise WriteError(
        f"{path} is a symbolic link to {resolved}, outside the Rundeck install; "
        "refusing to write through it. Replace the link with the real file or pass its folder."
    )


def read_existing(path: Path) -> bytes | None:
    """The bytes of ``path``, or None when it does not exist; clear errors otherwise."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise WriteError(f"Cannot inspect {path}: {error.strerror}.") from None
    if not stat.S_ISREG(info.st_mode):
        raise WriteError(f"{path} is not a regular file.")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise WriteError(
            f"{path} is not readable by this user; run as the Rundeck user or root."
        ) from None
    except OSError as error:
        raise WriteError(f"Cannot read {path}: {error.strerror}.") from None
    if b"\x00" in data:
        raise WriteError(f"{path} looks binary (it contains NUL bytes); not a properties file.")
    return data


def unified_diff(path: Path, before: str, after: str) -> str:
    """A unified diff of ``before`` → ``after`` with ``path`` in the headers; '' if equal."""
    if before == after:
        return ""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{path.name} (current)" if before else "/dev/null",
        tofile=f"{path.name} (new)",
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)


def backup_path(path: Path, now: datetime) -> Path:
    """``<name>.bak-YYYYmmddTHHMMSS`` beside the file, unique within the folder."""
    stamp = now.strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
        counter += 1
    return candidate


def atomic_write(
    path: Path,
    data: bytes,
    *,
    backup: bool = True,
    now: datetime | None = None,
    mode: int | None = None,
) -> Path | None:
    """Replace ``path`` with ``data`` atomically; return the backup of the old file, if any.

    The temporary file lives in the same folder (rename is atomic only there), is fsynced, and
    gets the old file's mode and owner, so Rundeck keeps reading it after the swap.
    """
    folder = path.parent
    if not folder.is_dir():
        raise WriteError(f"The folder {folder} does not exist.")
    previous: os.stat_result | None
    try:
        previous = path.stat()
    except FileNotFoundError:
        previous = None
    except OSError as error:
        raise WriteError(f"Cannot inspect {path}: {error.strerror}.") from None
    if previous is not None and not os.access(path, os.W_OK):
        raise WriteError(f"{path} is read-only for this user; nothing was changed.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(
            f"The folder {folder} is not writable by this user (a new file must be created "
            "beside the old one to replace it atomically); nothing was changed."
        )
    saved: Path | None = None
    if previous is not None and backup:
        saved = backup_path(path, now or datetime.now().astimezone())
        try:
            shutil.copy2(path, saved)
        except OSError as error:
            raise WriteError(f"Cannot back up {path} to {saved}: {error.strerror}.") from None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as error:
        raise WriteError(f"Cannot create a temporary file in {folder}: {error.strerror}.") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            if previous is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(previous.st_mode))
                with contextlib.suppress(PermissionError):
                    os.fchown(handle.fileno(), previous.st_uid, previous.st_gid)
            else:
                os.fchmod(handle.fileno(), NEW_FILE_MODE if mode is None else mode)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if saved is not None:
            with contextlib.suppress(OSError):
                saved.unlink()
        raise WriteError(f"Cannot write {path}: {error.strerror}; nothing was changed.") from None
    _fsync_folder(folder)
    return saved


def restore(path: Path, data: bytes | None) -> None:
    """Put ``path`` back as it was: old bytes atomically, or removed when it did not exist."""
    if data is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    atomic_write(path, data, backup=False)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def install_lock(
    folder: Path,
    *,
    wait_seconds: float = 5.0,
    monotonic: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold an exclusive lock file in ``folder`` so two runs cannot interleave their writes.

    A second run polls for up to ``wait_seconds``, then fails with a clear error. The lock
    file is removed on release (while still locked), and a run that locked a file someone
    else just removed tries again, so no run ever trusts a stale lock.
    """
    lock_path = folder / LOCK_NAME
    deadline = monotonic() + wait_seconds
    while True:
        descriptor = _open_lock(lock_path)
        if _try_lock(descriptor, lock_path):
            if _same_file(descriptor, lock_path):
                break
            os.close(descriptor)  # locked a file that was unlinked meanwhile: start over
            continue
        os.close(descriptor)
        if monotonic() >= deadline:
            raise WriteError(f"Another pa-aws-setup run holds {lock_path}; try again when it ends.")
        # Polling a non-blocking flock: there is nothing to wait on but the other process.
        time.sleep(0.05)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()
        os.close(descriptor)


def _open_lock(lock_path: Path) -> int:
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise WriteError(f"Cannot create the lock file {lock_path}: {error.strerror}.") from None


def _try_lock(descriptor: int, lock_path: Path) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EACCES):
            return False
        os.close(descriptor)
        raise WriteError(f"Cannot lock {lock_path}: {error.strerror}.") from None
    return True


def _same_file(descriptor: int, lock_path: Path) -> bool:
    try:
        on_disk = lock_path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)

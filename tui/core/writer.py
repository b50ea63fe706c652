"""Safe file changes: checked reads, unified diffs, atomic writes with backups, a lock."""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from tui.core.errors import ConfigProblem

NEW_FILE_MODE = 0o640
LOCK_NAME = ".pa-aws-setup.lock"
DEFAULT_KEEP_BACKUPS = 10
# A temporary file younger than this whose writer still runs may be another run's write.
STALE_TEMP_SECONDS = 3600.0
TEMP_MARK = "pa-aws-setup-tmp"
# ".<name>.pa-aws-setup-tmp.<pid>.<8 hex>": only names of this shape are ever cleaned up.
_TEMP_NAME = re.compile(rf"\.(?P<name>.+)\.{TEMP_MARK}\.(?P<pid>[0-9]+)\.[0-9a-f]{{8}}")
_BACKUP_NAME = re.compile(
    r"(?P<name>.+)\.bak-(?P<stamp>[0-9]{8}T[0-9]{6})(?:-(?P<counter>[0-9]+))?"
)


class WriteError(ConfigProblem):
    """A configuration file that cannot be read or written safely; nothing was changed."""


def _resolve(path: Path) -> Path:
    """``path`` with every symbolic link in it (parents included) followed."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        raise WriteError(f"{path} is a loop of symbolic links; nothing was changed.") from None


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def check_target(path: Path, roots: Sequence[Path]) -> None:
    """Refuse a file whose folder or which itself resolves outside the install's folders.

    The folder matters as much as the file: the record, the backups, the lock and the
    temporary files are all created beside it.
    """
    real_roots = [_resolve(root) for root in roots]
    folder = _resolve(path.parent)
    if not _inside(folder, real_roots):
        raise WriteError(
            f"The folder {path.parent} goes through a symbolic link to {folder}, outside the "
            "Rundeck install; refusing to write there. Replace the link with the real folder "
            "or pass the real install folder."
        )
    resolved = _resolve(path)
    if not _inside(resolved, real_roots):
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


def _backups_of(path: Path) -> list[tuple[str, int, Path]]:
    """The backups beside ``path`` as (stamp, counter, path), oldest first."""
    found: list[tuple[str, int, Path]] = []
    with contextlib.suppress(OSError), os.scandir(path.parent) as entries:
        for entry in entries:
            match = _BACKUP_NAME.fullmatch(entry.name)
            if match and match["name"] == path.name:
                found.append((match["stamp"], int(match["counter"] or 0), Path(entry.path)))
    return sorted(found)


def backup_path(path: Path, now: datetime) -> Path:
    """``<name>.bak-YYYYmmddTHHMMSS[-N]`` beside the file, after every backup of that second."""
    stamp = now.strftime("%Y%m%dT%H%M%S")
    taken = [counter for other, counter, _ in _backups_of(path) if other == stamp]
    counter = max(taken) + 1 if taken else 0
    while True:
        suffix = f"-{counter}" if counter else ""
        candidate = path.with_name(f"{path.name}.bak-{stamp}{suffix}")
        # lexists: a dangling link planted at the name must not be written through.
        if not os.path.lexists(candidate):
            return candidate
        counter += 1


def _owner_of(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_uid, info.st_gid


def _give_to(descriptor: int, owner: tuple[int, int] | None) -> None:
    """Hand a file we created to ``owner``; a user who may not do so keeps it (as before)."""
    if owner is not None:
        with contextlib.suppress(PermissionError):
            os.fchown(descriptor, *owner)


def _create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """A new private file named so a later run can tell it is ours and whether its writer died."""
    while True:
        temporary = folder / f".{name}.{TEMP_MARK}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(temporary, flags, 0o600), temporary
        except FileExistsError:
            continue
        except OSError as error:
            raise WriteError(
                f"Cannot create a temporary file in {folder}: {error.strerror}."
            ) from None


def _make_backup(path: Path, now: datetime, previous: os.stat_result) -> Path:
    """Keep the current ``path`` as a backup beside it, with its owner, mode and times.

    A hard link, when the file system allows it: a run killed before the swap then leaves a
    backup that is still the file itself, which the next run recognises and removes.
    """
    while True:
        saved = backup_path(path, now)
        try:
            os.link(path, saved, follow_symlinks=False)
            return saved
        except FileExistsError:
            continue
        except OSError:
            break
    try:
        descriptor = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise WriteError(f"Cannot back up {path} to {saved}: {error.strerror}.") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(path.read_bytes())
            handle.flush()
            os.fchmod(handle.fileno(), stat.S_IMODE(previous.st_mode))
            _give_to(handle.fileno(), (previous.st_uid, previous.st_gid))
            os.fsync(handle.fileno())
        os.utime(saved, ns=(previous.st_atime_ns, previous.st_mtime_ns), follow_symlinks=False)
    except BaseException as error:
        with contextlib.suppress(OSError):
            saved.unlink()
        if isinstance(error, OSError):
            raise WriteError(f"Cannot back up {path} to {saved}: {error.strerror}.") from None
        raise
    return saved


def prune_backups(path: Path, keep: int, *, spare: Path | None = None) -> None:
    """Remove all but the newest ``keep`` backups of ``path``; ``spare`` is always kept."""
    others = [found for _, _, found in _backups_of(path) if found != spare]
    room = keep - (1 if spare is not None else 0)
    for old in others[: max(0, len(others) - room)]:
        with contextlib.suppress(OSError):
            if stat.S_ISREG(old.lstat().st_mode):
                old.unlink()


def clean_leftovers(folder: Path, *, now: float | None = None) -> None:
    """Remove what killed runs of ours left in ``folder``, and nothing else.

    That is temporary files of our naming whose writer is gone (or that are older than
    STALE_TEMP_SECONDS, for a reused pid), and backups that are still the file itself
    (hard links made just before a swap that never happened).
    """
    moment = time.time() if now is None else now
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if not entry.is_file(follow_symlinks=False):
                    continue
                temporary = _TEMP_NAME.fullmatch(entry.name)
                if temporary is not None:
                    age = moment - entry.stat(follow_symlinks=False).st_mtime
                    if age > STALE_TEMP_SECONDS or not _alive(int(temporary["pid"])):
                        os.unlink(entry.path)
                    continue
                backup = _BACKUP_NAME.fullmatch(entry.name)
                if backup is not None and _same_inode(entry, folder / backup["name"]):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _same_inode(entry: os.DirEntry[str], other: Path) -> bool:
    try:
        theirs = os.stat(other, follow_symlinks=False)
    except OSError:
        return False
    mine = entry.stat(follow_symlinks=False)
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def atomic_write(
    path: Path,
    data: bytes,
    *,
    backup: bool = True,
    now: datetime | None = None,
    mode: int | None = None,
    owner_from: Path | None = None,
    keep_backups: int = DEFAULT_KEEP_BACKUPS,
) -> Path | None:
    """Replace ``path`` with ``data`` atomically; return the backup of the old file, if any.

    A symbolic link is written through: its target is replaced, in the target's folder, and
    the link stays. The temporary file lives in that folder (rename is atomic only there), is
    fsynced, and gets the old file's mode and owner, so Rundeck keeps reading it after the
    swap; with ``owner_from``, it gets that file's owner and group instead (a record beside a
    properties file belongs to whoever owns the properties file). Only the newest
    ``keep_backups`` backups of the file are kept.
    """
    if keep_backups < 1:
        raise ValueError(f"keep_backups must be at least 1, not {keep_backups}")
    real = _resolve(path)
    folder = real.parent
    if not folder.is_dir():
        raise WriteError(f"The folder {folder} does not exist.")
    previous: os.stat_result | None
    try:
        previous = real.stat()
    except FileNotFoundError:
        previous = None
    except OSError as error:
        raise WriteError(f"Cannot inspect {path}: {error.strerror}.") from None
    if previous is not None and not os.access(real, os.W_OK):
        raise WriteError(f"{path} is read-only for this user; nothing was changed.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(
            f"The folder {folder} is not writable by this user (a new file must be created "
            "beside the old one to replace it atomically); nothing was changed."
        )
    clean_leftovers(folder)
    owner = _owner_of(owner_from) if owner_from is not None else None
    if owner is None and previous is not None:
        owner = previous.st_uid, previous.st_gid
    descriptor, temporary = _create_temporary(folder, real.name)
    saved: Path | None = None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            if previous is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(previous.st_mode))
            else:
                os.fchmod(handle.fileno(), NEW_FILE_MODE if mode is None else mode)
            _give_to(handle.fileno(), owner)
            os.fsync(handle.fileno())
        # The backup comes last before the swap, so a failed write never leaves one behind.
        if previous is not None and backup:
            saved = _make_backup(real, now or datetime.now().astimezone(), previous)
        os.replace(temporary, real)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if saved is not None:
            with contextlib.suppress(OSError):
                saved.unlink()
        if isinstance(error, OSError):
            raise WriteError(
                f"Cannot write {path}: {error.strerror}; nothing was changed."
            ) from None
        raise
    _fsync_folder(folder)
    if saved is not None:
        prune_backups(real, keep_backups, spare=saved)
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
    owner_from: Path | None = None,
    wait_seconds: float = 5.0,
    monotonic: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold an exclusive lock file in ``folder`` so two runs cannot interleave their writes.

    A second run polls for up to ``wait_seconds``, then fails with a clear error. The lock
    file is removed on release (while still locked), and a run that locked a file someone
    else just removed tries again, so no run ever trusts a stale lock. The lock file belongs
    to the owner of ``owner_from`` (so a kill that leaves it cannot lock that user out), and
    once locked, what killed runs left in ``folder`` is cleaned up.
    """
    lock_path = folder / LOCK_NAME
    owner = _owner_of(owner_from) if owner_from is not None else None
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
        _give_to(descriptor, owner)
        clean_leftovers(folder)
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()
        os.close(descriptor)


def _open_lock(lock_path: Path) -> int:
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise WriteError(
                f"The lock file {lock_path} is a symbolic link; refusing to follow it. "
                "Remove the link and try again."
            ) from None
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
        on_disk = lock_path.lstat()
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def make_folder(folder: Path, *, owner_from: Path) -> tuple[Path, ...]:
    """``folder`` and its missing parents, owned as ``owner_from`` (Rundeck's user); the
    folders it made, deepest first (so they can be removed again in that order)."""
    missing = tuple(path for path in (folder, *folder.parents) if not path.exists())
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        info = owner_from.stat()
        for path in missing:
            os.chown(path, info.st_uid, info.st_gid)
    return missing

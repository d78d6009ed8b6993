"""The file sink: appends one complete record line with a single ``os.write`` on an ``O_APPEND`` file.

Owns creating the directory (0700) and file (0600), refusing symlinks, hard-linked files and anything that is
not a regular file without ever blocking (``O_NOFOLLOW | O_NONBLOCK``), starting a record with ``\\n`` when a
killed writer left a fragment, cutting back a record the disk had room for only part of (a record is written
whole or not at all), optional ``fsync``, and size-based rotation by rename (never truncation). It raises
``AuditWriteError``; deciding whether that becomes a warning or a failure is the auditor's job, not this
module's.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from typing import Final, Literal

__all__ = ["AuditWriteError", "FileSink", "FlushMode", "rotated_path"]

FlushMode = Literal["none", "fsync"]

_OPEN_FLAGS: Final = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class AuditWriteError(OSError):
    """The audit record could not be written; ``str()`` names the path and the reason."""


def rotated_path(path: str, generation: int) -> str:
    """The name of the ``generation``-th rotated sibling of ``path`` (``audit.jsonl.1`` is the newest)."""
    return f"{path}.{generation}"


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_regular_file(st: os.stat_result, path: str) -> None:
    """Refuse anything but a regular file with one name.

    A file with more than one hard link is refused like a symlink: the log path would be a second name of a
    file kept (or planted) elsewhere, and records would be appended to it.
    """
    if not stat.S_ISREG(st.st_mode):
        raise AuditWriteError(
            errno.EINVAL, f"refusing to write the audit log: it is {_kind(st.st_mode)}", path
        )
    if st.st_nlink > 1:
        raise AuditWriteError(
            errno.EMLINK,
            f"refusing to write the audit log: it has {st.st_nlink} hard links (other names for the file)",
            path,
        )


class FileSink:
    """Append lines to one log file; each ``write()`` opens, appends and closes (rotation is seen)."""

    __slots__ = ("flush", "path", "rotate_bytes", "rotate_keep")

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush: FlushMode = "none",
        rotate_bytes: int | None = None,
        rotate_keep: int = 5,
    ) -> None:
        if flush not in ("none", "fsync"):
            raise ValueError(f"flush must be 'none' or 'fsync', not {flush!r}")
        if rotate_keep < 1:
            raise ValueError("rotate_keep must be at least 1")
        self.path = os.fspath(path)
        self.flush: FlushMode = flush
        self.rotate_bytes = rotate_bytes if rotate_bytes and rotate_bytes > 0 else None
        self.rotate_keep = rotate_keep

    def write(self, line: bytes) -> None:
        """Append ``line`` (a whole record ending in ``\\n``) with one ``os.write``."""
        if not line.endswith(b"\n"):
            raise ValueError("a record line must end with a newline")
        try:
            for _attempt in range(3):
                fd = self._open()
                try:
                    _lock(fd, fcntl.LOCK_SH)
                    size = os.fstat(fd).st_size
                    if self.rotate_bytes is not None and size > 0 and size + len(line) > self.rotate_bytes:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                        if self._rotate(fd):
                            continue  # reopen the fresh live file
                        _lock(fd, fcntl.LOCK_SH)
                        size = os.fstat(fd).st_size
                    if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                        # Either another writer is in the middle of its write (a reader can see its first
                        # pages) or a killed writer left a fragment. Decide under an exclusive lock, which
                        # waits for writers of this library to finish.
                        _lock(fd, fcntl.LOCK_EX)
                        size = os.fstat(fd).st_size
                        if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                            line = b"\n" + line  # never glue a record onto a fragment
                    self._append_whole(fd, line, size)
                    if self.flush == "fsync":
                        os.fsync(fd)
                    return
                finally:
                    os.close(fd)  # also releases the lock
            raise AuditWriteError(errno.EAGAIN, "the log kept being rotated while writing", self.path)
        except AuditWriteError:
            raise
        except OSError as exc:
            raise AuditWriteError(exc.errno or 0, exc.strerror or str(exc), self.path) from exc

    def _open(self) -> int:
        path = self.path
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return self._create()
        _check_regular_file(st, path)
        return self._open_existing()

    def _open_existing(self) -> int:
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise AuditWriteError(
                    errno.ELOOP, "refusing to write the audit log: it is a symlink", self.path
                ) from None
            if exc.errno == errno.ENXIO:
                raise AuditWriteError(
                    errno.ENXIO, "refusing to write the audit log: it is a FIFO", self.path
                ) from None
            raise
        try:
            _check_regular_file(os.fstat(fd), self.path)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _create(self) -> int:
        directory = os.path.dirname(self.path) or "."
        _make_private_dirs(directory)
        try:
            fd = os.open(self.path, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self._open_existing()  # another process created it first
        try:
            os.fchmod(fd, 0o600)  # explicit: the umask cannot loosen (or wrongly tighten) the mode
            if self.flush == "fsync":
                _fsync_dir(directory)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _rotate(self, fd: int) -> bool:
        """Rename the live file away if ``fd`` is still it; True when a fresh file must be opened."""
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            try:
                live = os.stat(self.path, follow_symlinks=False)
            except FileNotFoundError:
                return True
            mine = os.fstat(fd)
            if (live.st_dev, live.st_ino) != (mine.st_dev, mine.st_ino):
                return True  # someone else rotated already
            for generation in range(self.rotate_keep - 1, 0, -1):
                older = rotated_path(self.path, generation)
                if os.path.lexists(older):
                    os.replace(older, rotated_path(self.path, generation + 1))
            os.replace(self.path, rotated_path(self.path, 1))
            return True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _append_whole(self, fd: int, line: bytes, size_before: int) -> None:
        """Append ``line`` with one ``os.write``; if only part of it landed, take that part back out.

        A regular file's write is short only when the disk (or quota, or file size limit) had room for part
        of it. Finishing it with a second write would be wrong twice over: it fails for the same reason, and
        if it succeeded, another process's record could sit between the two halves. So a short write is a
        failed write, and its bytes are removed (``_undo_partial``) before the error is raised.
        """
        try:
            written = os.write(fd, line)
        except OSError:
            # A kernel write that fails wrote nothing; a layer that lands a prefix and then reports the error
            # (FUSE, a network file system, a wrapper) is handled too: the fd offset says what landed.
            self._undo_partial(fd, line, None, size_before)
            raise
        if written != len(line):
            self._undo_partial(fd, line, written, size_before)
            raise AuditWriteError(
                errno.EIO,
                f"short write: {written} of {len(line)} bytes (no space left?); the partial record removed",
                self.path,
            )

    @staticmethod
    def _undo_partial(fd: int, line: bytes, written: int | None, size_before: int) -> None:
        """Remove the first ``written`` bytes of ``line`` that this ``fd`` just appended (best effort).

        With ``O_APPEND`` the descriptor's offset after a write is the end of the bytes that write put in the
        file (the fd was opened for this record, so the offset is 0 while nothing was written). Under an
        exclusive lock (writers of this library hold a shared one while they write): if those bytes are
        still the end of the file they are truncated away; if another process appended after them, they are
        overwritten in place with blanks ending in a newline (the same size, so no new disk space), which
        keeps the other record on a line of its own.
        """
        try:
            end = os.lseek(fd, 0, os.SEEK_CUR)
            if written is None:
                # Unknown count: the bytes must start where the file ended before the write, and match.
                written = end - size_before
                if not 0 < written < len(line) or os.pread(fd, written, size_before) != line[:written]:
                    return
            if written <= 0 or end < written:
                return
            start = end - written
            _lock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size == end:
                os.ftruncate(fd, start)
                return
            blank = b" " * (written - 1) + b"\n"
            if line.startswith(b"\n") and written > 1:
                blank = b"\n" + blank[1:]  # keep the newline that closed an older fragment
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_APPEND)  # pwrite on O_APPEND would append
            os.pwrite(fd, blank, start)
        except OSError:
            pass  # the caller reports the write's own failure


_LOCK_TIMEOUT_S: Final = 2.0


def _lock(fd: int, kind: int) -> bool:
    """Take a shared or exclusive ``flock``; True when taken.

    Gives up after ``_LOCK_TIMEOUT_S`` (a stopped process must not hang every tool). Without the lock a record
    is still one atomic ``O_APPEND`` write; only the fragment check is then best effort.
    """
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    except OSError:
        return False  # e.g. a file system without flock
    deadline = time.monotonic() + _LOCK_TIMEOUT_S
    while time.monotonic() < deadline:
        time.sleep(0.0005)
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            continue
        except OSError:
            return False
    return False


def _make_private_dirs(directory: str) -> None:
    """Create ``directory`` and missing parents with mode 0700 (explicitly, whatever the umask)."""
    missing: list[str] = []
    current = os.path.abspath(directory)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
            continue
        os.chmod(path, 0o700)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

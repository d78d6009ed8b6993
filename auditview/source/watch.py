"""Waiting for file-system changes: inotify through ctypes on Linux, a plain timed wait elsewhere.

Owns ``ChangeNotifier``: ``watch(dirs)`` keeps inotify watches on directories (events for the files in them
arrive too), ``wait(timeout)`` blocks until an event, a wake-up or the timeout, and ``wake()`` / ``close()``
interrupt a waiting thread at once (a self-pipe). Whenever inotify is unavailable or fails (another OS, no
libc symbol, the watch limit reached) it falls back to waiting out the timeout, so callers must cap timeouts
at their polling interval; a failed ``add_watch`` for one directory only means that directory is polled.

Must not: read files or decide what changed (the follower re-examines everything after a wake-up), import
polars or any UI library.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import select
import sys
import threading
from collections.abc import Iterable
from typing import Final

__all__ = ["ChangeNotifier"]

_IN_MODIFY: Final = 0x00000002
_IN_ATTRIB: Final = 0x00000004
_IN_CLOSE_WRITE: Final = 0x00000008
_IN_MOVED_FROM: Final = 0x00000040
_IN_MOVED_TO: Final = 0x00000080
_IN_CREATE: Final = 0x00000100
_IN_DELETE: Final = 0x00000200
_IN_DELETE_SELF: Final = 0x00000400
_IN_MOVE_SELF: Final = 0x00000800
_MASK: Final = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
)


class ChangeNotifier:
    """Blocks until a watched directory changes, ``wake()`` is called, or a timeout passes."""

    def __init__(self, *, use_inotify: bool = True) -> None:
        self._lock = threading.Lock()  # guards the watch table and the descriptors
        self._wait_lock = threading.Lock()  # held while a thread waits, so close() never pulls fds from it
        self._closed = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._libc: ctypes.CDLL | None = None
        self._inotify_fd = -1
        self._watched: dict[str, int] = {}
        if use_inotify and sys.platform.startswith("linux"):
            self._start_inotify()

    @property
    def uses_inotify(self) -> bool:
        """True while inotify events are being received."""
        return self._inotify_fd >= 0

    def _start_inotify(self) -> None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            init = libc.inotify_init1
        except (OSError, AttributeError):
            return
        init.argtypes = [ctypes.c_int]
        init.restype = ctypes.c_int
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_add_watch.restype = ctypes.c_int
        fd = init(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return
        self._libc = libc
        self._inotify_fd = fd

    def watch(self, directories: Iterable[str]) -> None:
        """Make sure each existing directory is watched (already watched ones cost nothing)."""
        if self._libc is None or self._closed:
            return
        with self._lock:
            if self._inotify_fd < 0:
                return
            for directory in directories:
                if directory in self._watched:
                    continue
                wd = self._libc.inotify_add_watch(self._inotify_fd, os.fsencode(directory), _MASK)
                if wd >= 0:
                    self._watched[directory] = wd
                elif ctypes.get_errno() == errno.ENOSPC:
                    return  # the watch limit: the rest are polled

    def forget(self, directory: str) -> None:
        """Drop the record of a watch (the kernel drops a deleted directory's watch itself)."""
        self._watched.pop(directory, None)

    def wait(self, timeout: float, extra_fds: Iterable[int] = ()) -> bool:
        """Block up to ``timeout`` s for a change, ``wake()`` or readable ``extra_fds``; True if woken."""
        with self._wait_lock:
            if self._closed:
                return True
            fds = [self._wake_read, *extra_fds]
            if self._inotify_fd >= 0:
                fds.append(self._inotify_fd)
            try:
                readable, _, _ = select.select(fds, [], [], max(0.0, timeout))
            except (OSError, ValueError):  # an extra fd was closed
                return True
            if self._inotify_fd >= 0 and self._inotify_fd in readable:
                self._drain(self._inotify_fd)
            if self._wake_read in readable:
                self._drain(self._wake_read)
            return bool(readable)

    def wake(self) -> None:
        """Make a current or the next ``wait()`` return at once."""
        with contextlib.suppress(OSError):  # a full pipe (already woken) or closed
            os.write(self._wake_write, b"\0")

    def close(self) -> None:
        """Wake any waiter and release the descriptors."""
        if self._closed:
            return
        self._closed = True
        self.wake()
        with self._wait_lock, self._lock:
            for fd in (self._inotify_fd, self._wake_read, self._wake_write):
                if fd >= 0:
                    os.close(fd)
            self._inotify_fd = -1

    @staticmethod
    def _drain(fd: int) -> None:
        try:
            while os.read(fd, 65536):
                pass
        except OSError:  # EAGAIN: drained
            pass

"""Where audit files are stored: how the engine looks at and opens a stored audit file.

Owns: ``Storage`` (tell a file's ``FileState``, open it) and ``StoredFile`` (an open file: its state, its raw
bytes by range), the interface a storage backend implements, and ``LOCAL``, the local filesystem, which is
the one implementation. The engine asks ``LOCAL`` for a file's state (cache checks, sizes) and reads raw
bytes by range through a ``StoredFile`` (cache fingerprints, a record's exact line); ``FileReader`` reads
the lines of a regular file through one too. Offsets and sizes here are those of the stored bytes, never of
a decompressed stream.

Local only, outside this interface (for now): discovery (globs, directory walks), following (inodes,
rotation, directory listings) and streams (stdin, pipes, FIFOs). A backend without them would start by
listing a prefix for discovery; that method is added with the backend that needs it.

Must not: parse lines, decompress, import polars or any UI library.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, Self

from auditview.source.types import FileState

__all__ = ["LOCAL", "LocalFile", "LocalStorage", "Storage", "StoredFile", "file_state"]


class StoredFile(Protocol):
    """An open stored file. It keeps naming the bytes it was opened on, whatever happens to its name."""

    def state(self) -> FileState:
        """The file's state now."""
        ...

    def read_range(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end of the file, ``b""`` past it)."""
        ...

    def close(self) -> None:
        """Release the file; safe to call more than once."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None: ...


class Storage(Protocol):
    """Where audit files live. Both methods raise ``OSError`` (``FileNotFoundError`` for a missing file)."""

    def state(self, path: Path) -> FileState:
        """The state of the file at ``path``, following symbolic links."""
        ...

    def open(self, path: Path) -> StoredFile:
        """Open the file at ``path`` read-only, for ``read_range``."""
        ...


def file_state(info: os.stat_result) -> FileState:
    """The ``FileState`` of an ``os.stat`` result."""
    return FileState((info.st_dev, info.st_ino), info.st_size, info.st_mtime_ns, stat.S_ISREG(info.st_mode))


class LocalFile:
    """A file on the local filesystem, read with ``pread`` on one descriptor: the inode stays readable after
    the file is renamed or unlinked. ``owns=False``: ``close`` leaves the descriptor to its owner."""

    __slots__ = ("_owns", "fd")

    def __init__(self, fd: int, *, owns: bool = True) -> None:
        self.fd = fd
        self._owns = owns

    def state(self) -> FileState:
        """The open file's state now (``fstat``)."""
        return file_state(os.fstat(self.fd))

    def read_range(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (one ``pread``)."""
        return os.pread(self.fd, length, offset)

    def close(self) -> None:
        """Close the descriptor if this object owns it."""
        if self._owns and self.fd >= 0:
            os.close(self.fd)
        self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class LocalStorage:
    """The local filesystem as a ``Storage``."""

    def state(self, path: Path) -> FileState:
        """``os.stat`` of ``path``."""
        return file_state(os.stat(path))

    def open(self, path: Path) -> LocalFile:
        """``os.open`` of ``path``, read-only, no locks (a caller that may meet a FIFO checks ``state`` first:
        opening one would wait for its writer)."""
        return LocalFile(os.open(path, os.O_RDONLY | os.O_CLOEXEC))


#: The storage every audit file is read from.
LOCAL: Final[Storage] = LocalStorage()

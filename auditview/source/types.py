"""Value types passed from the source layer to the engine: a file, its state, a chunk of lines, a reject."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Chunk", "Compression", "FieldWarning", "FileState", "PartialLine", "Reject", "SourceFile"]

Compression = Literal["none", "gzip", "zstd"]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One physical log file.

    ``log_key`` names the live log a rotated sibling belongs to (``.../audit.jsonl`` for
    ``audit.jsonl.2.gz``), and ``generation`` orders the siblings of one log from oldest (highest) to the
    live file (0).

    ``stream``: the path names something that can be read only once (a named FIFO, a pipe such as
    ``/dev/fd/63`` from ``<(...)``): it is opened once, read to its end with ``read``, its compression told
    from the bytes read (``compression`` stays ``"none"`` here) and its bytes kept by whoever needs them
    again. Standard input (``-``) is always a stream (``reads_once``).
    """

    path: Path
    log_key: str
    generation: int = 0
    compression: Compression = "none"
    stream: bool = False

    @property
    def display(self) -> str:
        """A short name for status bars and reject listings."""
        return str(self.path)

    @property
    def reads_once(self) -> bool:
        """True for standard input and every other ``stream``: its bytes cannot be read a second time."""
        return self.stream or str(self.path) == "-"


@dataclass(frozen=True, slots=True)
class FileState:
    """What a stored file is now: which file (``identity``: device and inode on a local filesystem), its
    ``size`` and ``mtime_ns``, and whether it is a ``regular`` file (not a FIFO, device or directory).

    The index cache compares these to tell whether the bytes it parsed are still there.
    """

    identity: tuple[int, int]
    size: int
    mtime_ns: int
    regular: bool


@dataclass(frozen=True, slots=True)
class Chunk:
    """Complete lines read from one file: ``data`` starts at byte ``offset`` (of the decompressed stream).

    Every line in ``data`` ends with ``\\n``; a trailing partial line is never included. ``first_line`` is the
    1-based line number of the first line in ``data``.
    """

    source: SourceFile
    offset: int
    first_line: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Reject:
    """A line that is not a valid record, kept with its place and the reason, never silently dropped."""

    path: str
    line: int
    offset: int
    reason: str
    raw: bytes
    #: The full byte length of the line (without ``\n``) when ``raw`` holds only its first bytes (an over-long
    #: line); ``None`` when ``raw`` is the whole line.
    length: int | None = None

    @property
    def where(self) -> str:
        """``file:line`` for messages."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class FieldWarning:
    """A record kept with a field it could not use (``exit_code: "one"``): the field is unknown, and this
    says where and why, so that nothing is silently lost."""

    path: str
    line: int
    offset: int
    reason: str

    @property
    def where(self) -> str:
        """``file:line`` for messages."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class PartialLine:
    """A trailing line without ``\\n`` (a writer is still writing it): not a record and not a reject, yet."""

    source: SourceFile
    offset: int
    line: int
    length: int

"""What the follower reports besides lines: small past-tense dataclasses for status bars and for the index.

Owns the ``SourceEvent`` types. ``Follower.poll()`` returns them interleaved with ``Chunk``s in the order
things happened, so a consumer can act on them in order:

* ``FileAppeared``: a new file is followed from its start (also the new live file after a rotation).
* ``FileRotated``: the bytes already reported under ``source`` now live at ``moved_to`` (a rename, a later
  rename of a rotated sibling, or a compressed copy that replaced it — offsets are the same, decompressed);
  ``moved_to`` is ``None`` when the file was unlinked. Chunks read later from that file carry ``moved_to``. An
  index that reads raw bytes back by path must re-point its rows from ``source`` to ``moved_to``.
* ``FileTruncated``: the file shrank (or was rewritten): it is read again from offset 0, line 1 (unless it is
  a rotated file rewritten in place with a copy of another, ``cp audit.jsonl audit.jsonl.1``: then it is not
  read again). The rows reported before for ``source`` no longer match its bytes; with copytruncate
  ``copied_to`` names the copy that holds those bytes at the same offsets (when the follower could recognise
  it).
* ``FileVanished``: a followed or known file is gone and no longer followed.
* ``FileUnreadable``: a discovered file could not be opened (permissions); it is skipped until it changes.
* ``LineRejected``: the reader rejected a line (over the length cap, or corrupt compressed data).
* ``StreamEnded``: standard input reached its end.

Must not: carry behaviour, import polars or any UI library.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditview.source.types import Reject, SourceFile

__all__ = [
    "FileAppeared",
    "FileRotated",
    "FileTruncated",
    "FileUnreadable",
    "FileVanished",
    "LineRejected",
    "SourceEvent",
    "StreamEnded",
]


@dataclass(frozen=True, slots=True)
class FileAppeared:
    """A new file is being followed from its start."""

    source: SourceFile


@dataclass(frozen=True, slots=True)
class FileRotated:
    """The bytes reported under ``source`` now live at ``moved_to`` (``None``: unlinked)."""

    source: SourceFile
    moved_to: SourceFile | None


@dataclass(frozen=True, slots=True)
class FileTruncated:
    """``source`` shrank or was rewritten after ``size_before`` bytes were read; it is read again from 0."""

    source: SourceFile
    size_before: int
    copied_to: SourceFile | None = None


@dataclass(frozen=True, slots=True)
class FileVanished:
    """``source`` is gone and no longer followed."""

    source: SourceFile


@dataclass(frozen=True, slots=True)
class FileUnreadable:
    """``source`` exists but cannot be opened."""

    source: SourceFile
    reason: str


@dataclass(frozen=True, slots=True)
class LineRejected:
    """The reader rejected a line of a followed file."""

    reject: Reject


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """A followed stream (stdin) reached its end."""

    source: SourceFile


SourceEvent = (
    FileAppeared | FileRotated | FileTruncated | FileVanished | FileUnreadable | LineRejected | StreamEnded
)

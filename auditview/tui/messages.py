"""Messages that flow up from workers and screens to the app: small dataclasses with past-tense names.

Floods coalesce: a newer ``RecordsAppended`` or ``IndexingProgressed`` replaces an older one still in the
queue, because each carries the whole current state (the full frame, the bytes done so far); the rows added
since the previous post ride along as a hint, numbered so that a receiver notices a replaced post.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import polars as pl
from textual.message import Message

from auditview.source.types import Reject, SourceFile

__all__ = [
    "ExportRequested",
    "FilterApplied",
    "FilterFailed",
    "IndexingFinished",
    "IndexingProgressed",
    "LoadFailed",
    "RawIndex",
    "RecordDetailRequested",
    "RecordsAppended",
    "SearchApplied",
    "SourceEventHappened",
    "TraceOpened",
    "VolumeBuckets",
]


class RawIndex(Protocol):
    """What the app needs from ``AuditIndex`` besides its frame: the files and the exact source bytes."""

    @property
    def files(self) -> list[SourceFile]: ...

    @property
    def rejects(self) -> list[Reject]: ...

    def raw_line(self, file_id: int, offset: int, length: int) -> bytes: ...


@dataclass
class RecordsAppended(Message):
    """The index grew (or was first built): ``frame`` is the whole current index frame, ``index`` its owner.

    ``preview`` is true while only the tail of large files has been read (line numbers not known yet).
    """

    frame: pl.DataFrame
    index: RawIndex
    rejects: int = 0
    preview: bool = False
    #: Field warnings of the records in ``frame`` (unusable values read as unknown; ``field_warning_count``).
    warnings: int = 0
    #: Posts of one index are numbered 0 (the full index), 1, 2, ... while following; -1 for a preview.
    sequence: int = -1
    #: The rows added since the post numbered ``sequence - 1`` (not sorted as a whole); ``None`` = rebuilt.
    #: A replaced (coalesced) post leaves a gap in ``sequence``: the receiver then starts from ``frame``.
    added: pl.DataFrame | None = None
    #: How many of the index's files exist now (a file rotated away and deleted no longer counts).
    sources: int | None = None

    def can_replace(self, message: Message) -> bool:
        """A newer snapshot makes an older queued one useless."""
        return isinstance(message, RecordsAppended)


@dataclass
class IndexingProgressed(Message):
    """The background indexing of the sources read ``done`` of ``total`` bytes."""

    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        """Only the latest progress matters."""
        return isinstance(message, IndexingProgressed)


@dataclass
class IndexingFinished(Message):
    """The initial indexing is complete; following (if enabled) continues."""

    seconds: float


@dataclass
class SourceEventHappened(Message):
    """The follower noticed something worth showing: a rotation, a truncation, a new file."""

    text: str


@dataclass
class LoadFailed(Message):
    """The loader could not read the sources; ``error`` is a human-readable reason."""

    error: str


@dataclass
class VolumeBuckets:
    """Counts of records per time bucket over ``[start, end)``, for the volume strip."""

    start: datetime | None
    end: datetime | None
    ok: Sequence[int] = field(default_factory=list)
    failed: Sequence[int] = field(default_factory=list)
    slow: Sequence[int] = field(default_factory=list)


@dataclass
class FilterApplied(Message):
    """A filter worker produced the view for ``generation``: filtered, time-ranged, slow-annotated."""

    generation: int
    view: pl.DataFrame
    volume: VolumeBuckets
    filter_text: str
    #: Row numbers of the failed and of the slow records in ``view`` (computed off the UI thread).
    failed_rows: pl.Series | None = None
    slow_rows: pl.Series | None = None

    def can_replace(self, message: Message) -> bool:
        """A newer view replaces an older queued one."""
        return isinstance(message, FilterApplied)


@dataclass
class FilterFailed(Message):
    """The filter text did not compile: ``message`` and the 0-based ``position`` of the problem."""

    text: str
    message: str
    position: int


@dataclass
class SearchApplied(Message):
    """The search worker found the rows of the current view that match ``text`` (sorted row numbers)."""

    text: str
    rows: Sequence[int]
    view_height: int


@dataclass
class TraceOpened(Message):
    """A screen asks the app to open the timeline of ``trace_id``."""

    trace_id: str


@dataclass
class RecordDetailRequested(Message):
    """A screen asks the app to show the record stored at ``file_id``/``offset``/``length``."""

    file_id: int
    offset: int
    length: int


@dataclass
class ExportRequested(Message):
    """A screen asks the app for the export dialog, for one trace when ``trace_id`` is set."""

    trace_id: str | None = None

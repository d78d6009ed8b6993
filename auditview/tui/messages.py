"""Messages that flow up from workers and screens to the app: small dataclasses with past-tense names.

The loader's messages wrap the plain events of ``auditview.core.live`` (the core knows no Textual): the app's
worker (``workers.loader_message``) posts each event in the message named after what it means to the app.
Floods coalesce: a newer ``RecordsAppended`` or ``IndexingProgressed`` replaces an older one still in the
queue, because each carries the whole current state (the full frame, the bytes done so far); the rows added
since the previous event ride along as a hint, numbered so that a receiver notices a replaced message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from textual.message import Message

from auditview.core.live import BytesIndexed, IndexBuilt, IndexChanged, LoadStopped, StatusNoted
from auditview.core.view import VolumeBuckets

__all__ = [
    "CompareRequested",
    "ExportRequested",
    "FilterApplied",
    "FilterFailed",
    "IndexingFinished",
    "IndexingProgressed",
    "LoadFailed",
    "RecordDetailRequested",
    "RecordsAppended",
    "ReportRequested",
    "SearchApplied",
    "SourceEventHappened",
    "TraceOpened",
]


@dataclass
class RecordsAppended(Message):
    """The index grew (or was first built): ``event`` has the whole current frame, its index and counts."""

    event: IndexChanged

    def can_replace(self, message: Message) -> bool:
        """A newer snapshot makes an older queued one useless."""
        return isinstance(message, RecordsAppended)


@dataclass
class IndexingProgressed(Message):
    """The background indexing of the sources advanced (``event.done`` of ``event.total`` bytes)."""

    event: BytesIndexed

    def can_replace(self, message: Message) -> bool:
        """Only the latest progress matters."""
        return isinstance(message, IndexingProgressed)


@dataclass
class IndexingFinished(Message):
    """The initial indexing is complete; following (if enabled) continues."""

    event: IndexBuilt


@dataclass
class SourceEventHappened(Message):
    """The loader noticed something worth showing: a rotation, a truncation, a new file."""

    event: StatusNoted


@dataclass
class LoadFailed(Message):
    """The loader could not read the sources, or stopped; ``event.error`` is a human-readable reason."""

    event: LoadStopped


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


@dataclass
class CompareRequested(Message):
    """A screen asks the app to compare two runs: ``then_id`` (A) with ``now_id`` (B); with no ``then_id``,
    ``now_id`` with its previous similar run (``auditview.core.diff.previous_run``)."""

    now_id: str
    then_id: str | None = None


@dataclass
class ReportRequested(Message):
    """A screen asks the app to write the report of ``trace_id`` next to the exports."""

    trace_id: str

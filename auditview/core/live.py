"""Loading and following the sources of a live view, told as plain events.

``load_and_follow`` owns the index and the follower for a live view's whole life:

1. **Preview** — for large plain files it reads only the last few MB of each live log (from a line start),
   builds a small throw-away index from them and emits it, so the newest records are on screen in well under
   a second.
2. **Full index** — when the index cache is on and much of the input is not in it, a child process
   (``indexer.index_in_child``) parses it into the cache first, so that the parse never holds this process's
   GIL; it then indexes every source from its start (progress emitted as it goes) and emits the
   real index, which replaces the preview (the preview's rows are not merged into it: no duplicates).
3. **Follow** — it waits on the follower and adds every new chunk to the index, emitting an ``IndexChanged``
   at most every ``FOLLOW_POST_INTERVAL`` seconds; rotations and truncations are emitted as ``StatusNoted``.

What one follow item does to an index is ``apply_to_index`` (shared with ``auditview audit-log -f``): a chunk
is parsed and added (its rows returned), a rejected line recorded, a rotation re-points the rows read from
the old name (``file_moved``), a truncation re-points them to copytruncate's copy or drops them
(``file_truncated``; the count is returned). Without that, reading a record's bytes back by path after a
rotation reads the new file (``RawLineChanged``).

Every ``IndexChanged`` carries the counts a status bar shows with the frame: rejects and field warnings
(``index.field_warning_count``). Every loop checks ``cancelled()``. Audit files are looked at and read
through ``auditview.source.storage.LOCAL`` (and the source layer's readers), never opened here directly.

Must not: import a UI library (Textual, Rich, click). The events are plain dataclasses; the app's worker
(``auditview.tui.workers``) runs this in a thread and wraps each event in a Textual message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import polars as pl

from auditview.core.indexer import COLD_PROCESS_MIN, cache_writable, index_in_child, uncached_bytes
from auditview.source.discover import discover
from auditview.source.events import (
    FileAppeared,
    FileRotated,
    FileTruncated,
    FileUnreadable,
    FileVanished,
    LineRejected,
    SourceEvent,
    StreamEnded,
)
from auditview.source.follow import Follower
from auditview.source.read import FileReader
from auditview.source.storage import LOCAL
from auditview.source.tail import CaughtUp, tail
from auditview.source.types import Chunk, Reject, SourceFile

if TYPE_CHECKING:
    from auditview.core.index import AuditIndex

__all__ = [
    "FOLLOW_POST_INTERVAL",
    "PREVIEW_BYTES",
    "BytesIndexed",
    "Cancelled",
    "Emit",
    "IndexBuilt",
    "IndexChange",
    "IndexChanged",
    "LiveEvent",
    "LoadStopped",
    "LoaderOptions",
    "RawIndex",
    "StatusNoted",
    "apply_to_index",
    "covered_positions",
    "describe_event",
    "line_number_at",
    "load_and_follow",
    "read_tail_chunk",
]


class RawIndex(Protocol):
    """What a live view needs from ``AuditIndex`` besides its frame: the files and the exact source bytes."""

    @property
    def files(self) -> list[SourceFile]: ...

    @property
    def rejects(self) -> list[Reject]: ...

    def raw_line(self, file_id: int, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True, eq=False)
class IndexChanged:
    """The index grew (or was first built): ``frame`` is the whole current index frame, ``index`` its owner.

    ``preview`` is true while only the tail of large files has been read (line numbers not known yet).
    """

    frame: pl.DataFrame
    index: RawIndex
    rejects: int = 0
    preview: bool = False
    #: Field warnings of the records in ``frame`` (unusable values read as unknown; ``field_warning_count``).
    warnings: int = 0
    #: Events of one index are numbered 0 (the full index), 1, 2, ... while following; -1 for a preview.
    sequence: int = -1
    #: The rows added since the event numbered ``sequence - 1`` (not sorted as a whole); ``None`` = rebuilt.
    #: A receiver that dropped an event sees a gap in ``sequence``: it then starts from ``frame``.
    added: pl.DataFrame | None = None
    #: How many of the index's files exist now (a file rotated away and deleted no longer counts).
    sources: int | None = None


@dataclass(frozen=True)
class BytesIndexed:
    """The background indexing of the sources read ``done`` of ``total`` bytes."""

    done: int
    total: int


@dataclass(frozen=True)
class IndexBuilt:
    """The initial indexing is complete, after ``seconds``; following (if enabled) continues."""

    seconds: float


@dataclass(frozen=True)
class StatusNoted:
    """Something worth a status line happened: a rotation, a truncation, a new file, the cache being off."""

    text: str


@dataclass(frozen=True)
class LoadStopped:
    """The sources could not be read (or loading broke); ``error`` is a human-readable reason."""

    error: str


LiveEvent = IndexChanged | BytesIndexed | IndexBuilt | StatusNoted | LoadStopped
Emit = Callable[[LiveEvent], object]
Cancelled = Callable[[], bool]

#: Bytes read from the end of each large live log for the first screen.
PREVIEW_BYTES: Final = 4 << 20
#: Files smaller than this are indexed whole straight away (no preview pass).
PREVIEW_MIN_FILE: Final = 16 << 20
#: Chunk size of the full indexing pass: small enough to emit progress and yield the GIL often.
LOAD_CHUNK_BYTES: Final = 4 << 20
#: While following, index updates are emitted at most this often (seconds).
FOLLOW_POST_INTERVAL: Final = 0.2


@dataclass(frozen=True)
class LoaderOptions:
    """What to load: the user's paths (empty = every audit log found), and whether to keep following.

    ``cache``: use the index cache (and the child indexer that fills it) unless ``AUDITVIEW_CACHE`` turns it
    off; ``False``: never, parse every source in this process.
    """

    paths: Sequence[str]
    follow: bool = True
    cache: bool = True
    preview_bytes: int = PREVIEW_BYTES
    preview_min_file: int = PREVIEW_MIN_FILE
    #: Uncached bytes from which the cold parse runs in a child process (``indexer``); ``None`` = never.
    cold_process_min: int | None = COLD_PROCESS_MIN


def _cache_setting(options: LoaderOptions) -> bool | None:
    """``options.cache`` as ``AuditIndex.load`` takes it: ``None`` (the environment decides) or ``False``."""
    return None if options.cache else False


def _field_warnings(frame: pl.DataFrame) -> int:
    """``index.field_warning_count`` (imported when first needed, as the index is: it brings the parser)."""
    from auditview.core.index import field_warning_count

    return field_warning_count(frame)


def read_tail_chunk(source: SourceFile, max_bytes: int) -> Chunk | None:
    """The complete lines in the last ``max_bytes`` of a plain file, starting at a line start.

    Line numbers are unknown this way; the chunk says ``first_line=1`` and callers must treat them as pending.
    """
    if source.compression != "none" or source.reads_once:
        return None
    size = LOCAL.state(source.path).size
    start = max(size - max_bytes, 0)
    if start > 0:
        # Step back one byte so that a chunk starting exactly at a line start is recognised as such.
        start -= 1
    with FileReader(source, offset=start, line=1, chunk_bytes=max_bytes + 2) as reader:
        chunks = [item for item in reader.read_events(block=True) if isinstance(item, Chunk)]
    if not chunks:
        return None
    data = b"".join(chunk.data for chunk in chunks)
    offset = chunks[0].offset
    if start > 0:
        cut = data.find(b"\n") + 1  # drop the (probably partial) first line
        if cut <= 0 or cut >= len(data):
            return None
        data, offset = data[cut:], offset + cut
    return Chunk(source=source, offset=offset, first_line=1, data=data)


def line_number_at(source: SourceFile, offset: int) -> int | None:
    """The 1-based number of the line starting at ``offset`` of a plain file (counts newlines in blocks)."""
    if source.compression != "none" or source.reads_once:
        return None
    count = 0
    try:
        with LOCAL.open(source.path) as file:
            done = 0
            while done < offset:
                block = file.read_range(done, min(8 << 20, offset - done))
                if not block:
                    return None
                count += block.count(b"\n")
                done += len(block)
    except OSError:
        return None
    return count + 1


def _preview(sources: Sequence[SourceFile], options: LoaderOptions) -> AuditIndex | None:
    big = [
        source
        for source in sources
        if source.compression == "none"
        and not source.reads_once
        and source.generation == 0
        and _size(source) >= options.preview_min_file
    ]
    if not big:
        return None
    from auditview.core.index import AuditIndex

    index = AuditIndex()
    for source in sources:
        index.file_id(source)  # same file ids as the full index
    for source in big:
        chunk = read_tail_chunk(source, options.preview_bytes)
        if chunk is not None:
            index.add_chunk(chunk)
    return index


def _size(source: SourceFile) -> int:
    try:
        return LOCAL.state(source.path).size
    except OSError:
        return 0


@dataclass(frozen=True, slots=True)
class IndexChange:
    """What ``apply_to_index`` did: the rows a chunk added (sorted), or how many rows a truncation dropped."""

    rows: pl.DataFrame | None = None
    dropped: int = 0


_NO_CHANGE: Final = IndexChange()


def apply_to_index(index: AuditIndex, item: Chunk | SourceEvent) -> IndexChange:
    """Bring ``index`` up to date with one item from ``tail`` (``CaughtUp`` excluded; see the module
    docstring)."""
    if isinstance(item, Chunk):
        return IndexChange(rows=index.add_chunk(item))
    if isinstance(item, LineRejected):
        index.add_rejects([item.reject])
    elif isinstance(item, FileRotated):
        # Rows read from the old file keep their raw bytes reachable under its new name.
        index.file_moved(item.source, item.moved_to)
    elif isinstance(item, FileTruncated):
        return IndexChange(dropped=index.file_truncated(item.source, item.copied_to))
    return _NO_CHANGE


def describe_event(event: SourceEvent) -> str:
    """A short status-bar line for a follower event (file names are sanitized by the status bar)."""
    if isinstance(event, FileRotated):
        where = f" → {event.moved_to.display}" if event.moved_to is not None else ""
        return f"rotated: {event.source.display}{where}"
    if isinstance(event, FileTruncated):
        copy = f" (copy in {event.copied_to.display})" if event.copied_to is not None else ""
        return f"truncated: {event.source.display} from {event.size_before:,} bytes{copy}"
    if isinstance(event, FileAppeared):
        return f"new file: {event.source.display}"
    if isinstance(event, FileVanished):
        return f"gone: {event.source.display}"
    if isinstance(event, FileUnreadable):
        return f"unreadable: {event.source.display}: {event.reason}"
    if isinstance(event, StreamEnded):
        return f"ended: {event.source.display}"
    return type(event).__name__


class _LoadCancelledError(Exception):
    """Raised from the progress callback to stop ``AuditIndex.load`` when the worker is cancelled."""


Identity = tuple[int, int]


def _identities(sources: Sequence[SourceFile]) -> dict[Path, tuple[Identity, int]]:
    """``(st_dev, st_ino)`` and size of every file source now (stdin has none)."""
    found: dict[Path, tuple[Identity, int]] = {}
    for source in sources:
        if source.reads_once:
            continue
        try:
            info = LOCAL.state(source.path)
        except OSError:
            continue
        found[source.path] = (info.identity, info.size)
    return found


def covered_positions(
    index: AuditIndex, before: Mapping[Path, tuple[Identity, int]], after: Mapping[Path, tuple[Identity, int]]
) -> dict[Identity, tuple[int, int]] | None:
    """Where the follower must start so that it continues exactly where ``AuditIndex.load`` stopped.

    For each file: the end of the last complete line the load saw (a record or a reject) and the next line
    number, keyed by the file's inode. ``None`` when a file was replaced or shrank during the load (its
    identity or size before and after disagree): then nobody can say which inode the load read, and the caller
    indexes serially instead.
    """
    for path, (identity, size) in before.items():
        now = after.get(path)
        if now is None or now[0] != identity or now[1] < size:
            return None
    ends: dict[int, tuple[int, int]] = {}
    frame = index.frame
    if frame.height:
        per_file = frame.group_by("file_id").agg(
            end=(pl.col("offset") + pl.col("length").cast(pl.Int64)).max() + 1,
            line=pl.col("line").max(),
        )
        for file_id, end, line in per_file.iter_rows():
            ends[int(file_id)] = (int(end), int(line) + 1)
    by_display = {source.display: file_id for file_id, source in enumerate(index.files)}
    for reject in index.rejects:
        file_id = by_display.get(reject.path)
        if file_id is None:
            continue
        length = reject.length if reject.length is not None else len(reject.raw)
        end, line = reject.offset + length + 1, reject.line + 1
        known = ends.get(file_id, (0, 1))
        ends[file_id] = (max(known[0], end), max(known[1], line))
    positions: dict[Identity, tuple[int, int]] = {}
    for file_id, source in enumerate(index.files):
        found = before.get(source.path)
        if found is not None:
            positions[found[0]] = ends.get(file_id, (0, 1))
    return positions


def _load_index(
    sources: Sequence[SourceFile], options: LoaderOptions, emit: Emit, cancelled: Cancelled
) -> tuple[AuditIndex, dict[Identity, tuple[int, int]]] | None:
    """The full index through the one selection seam (``core.selection.open_index``: every column, every line
    checked, the parallel parse) and where following must start after it. The app's time range and filter are
    applied to the frame afterwards (``core.view``), as the user changes them."""
    from auditview.core.selection import Selection, open_index

    last_progress = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_progress
        if cancelled():
            raise _LoadCancelledError
        now = time.monotonic()
        if now - last_progress > 0.1:
            last_progress = now
            emit(BytesIndexed(min(done, total), max(total, done, 1)))

    before = _identities(sources)
    selection = Selection(tuple(options.paths), cache=options.cache)
    index = open_index(selection, None, sources=list(sources), progress=progress)
    positions = covered_positions(index, before, _identities(sources))
    if positions is None:
        index.close()
        return None
    return index, positions


def _index_serially(
    sources: Sequence[SourceFile], follower: Follower, emit: Emit, cancelled: Cancelled
) -> AuditIndex | None:
    """Index every source through ``Follower.initial()`` (the fallback when files moved during a load)."""
    from auditview.core.index import AuditIndex

    total = sum(_size(source) for source in sources)
    index = AuditIndex()
    for source in sources:
        index.file_id(source)
    done = 0
    last_progress = 0.0
    for chunk in follower.initial():
        if cancelled():
            return None
        index.add_chunk(chunk)
        done += len(chunk.data)
        now = time.monotonic()
        if now - last_progress > 0.1:
            last_progress = now
            emit(BytesIndexed(min(done, total), max(total, done)))
    return index


def _index_cold_in_child(
    sources: Sequence[SourceFile], options: LoaderOptions, emit: Emit, cancelled: Cancelled
) -> bool:
    """Fill the index cache from a child process when much is uncached; ``False`` only when cancelled.

    Whatever happens in the child, the in-process load that follows stays the one source of truth.
    """
    threshold = options.cold_process_min
    if threshold is None:
        return True
    try:
        cold = uncached_bytes(sources)
    except OSError:
        return True
    if cold < threshold:
        return True
    if not cache_writable(_cache_setting(options)):
        emit(StatusNoted("index cache off or read-only: indexing in the app (keys may lag)"))
        return True
    last_progress = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_progress
        now = time.monotonic()
        if now - last_progress > 0.1:
            last_progress = now
            emit(BytesIndexed(min(done, total), max(total, done, 1)))

    ok = index_in_child(list(options.paths), progress, cancelled)
    if cancelled():
        return False
    if not ok:
        emit(StatusNoted("background indexer failed: indexing in the app (keys may lag)"))
    return True


def load_and_follow(options: LoaderOptions, emit: Emit, cancelled: Cancelled) -> None:
    """Preview, index fully, then follow until cancelled (see the module docstring)."""
    started = time.monotonic()
    try:
        sources = discover(list(options.paths))
    except OSError as exc:
        emit(LoadStopped(str(exc)))
        return
    try:
        preview = _preview(sources, options)
    except OSError:
        preview = None
    if preview is not None and not cancelled():
        frame = preview.frame
        emit(
            IndexChanged(
                frame,
                preview,
                rejects=len(preview.rejects),
                preview=True,
                warnings=_field_warnings(frame),
            )
        )
    stdin = any(source.reads_once for source in sources)
    loaded = None
    if not stdin:
        if not _index_cold_in_child(sources, options, emit, cancelled):
            return
        try:
            loaded = _load_index(sources, options, emit, cancelled)
        except _LoadCancelledError:
            return
        except OSError:
            loaded = None  # a file vanished during the load: index serially, the follower copes with it
    positions = loaded[1] if loaded is not None else None
    try:
        # poll_bytes: no cap, so that initial() reads every file to its end (the cap would leave the rest of a
        # big file to later polls, and the "full" index would not be full).
        follower = Follower(
            list(options.paths), chunk_bytes=LOAD_CHUNK_BYTES, poll_bytes=1 << 62, positions=positions
        )
    except OSError as exc:
        emit(LoadStopped(str(exc)))
        return
    try:
        if loaded is not None:
            index = loaded[0]
            # Lines appended while the load ran (after where it stopped) come from the positions on.
            for chunk in follower.initial():
                if cancelled():
                    return
                index.add_chunk(chunk)
        else:
            serial = _index_serially(sources, follower, emit, cancelled)
            if serial is None:
                return
            index = serial
        frame = index.frame
        emit(
            IndexChanged(
                frame,
                index,
                rejects=len(index.rejects),
                sequence=0,
                sources=len(follower.files_read) + len(follower.streams),
                warnings=_field_warnings(frame),
            )
        )
        emit(IndexBuilt(time.monotonic() - started))
        if options.follow:
            _follow(follower, index, emit, cancelled, _field_warnings(frame))
    finally:
        follower.close()


def _follow(follower: Follower, index: AuditIndex, emit: Emit, cancelled: Cancelled, warnings: int) -> None:
    """Add what the follower finds; emit the frame and the rows new since the last event (``sequence`` + 1).

    The loop is the shared one (``auditview.source.tail``), and so is what each item does to the index
    (``apply_to_index``, above: rows added, rotations re-pointed, truncated rows dropped); this adds the
    events.
    ``warnings`` (the index's field warnings so far) grows by those of the added rows; it is counted again
    over the whole frame only when rows were dropped.
    """
    dirty = False
    rebuilt = False
    added: list[pl.DataFrame] = []
    sequence = 0
    last_emit = time.monotonic()
    for item in tail(follower, initial=False, stop=cancelled, wait=FOLLOW_POST_INTERVAL / 2):
        if not isinstance(item, CaughtUp):
            change = apply_to_index(index, item)
            if change.rows is not None:
                added.append(change.rows)
                warnings += _field_warnings(change.rows)
            elif change.dropped:
                rebuilt = True  # rows were dropped: the view must be recomputed, not extended
            if not isinstance(item, (Chunk, LineRejected)):
                emit(StatusNoted(describe_event(item)))
            dirty = True  # (an event: the sources count may have changed)
            continue
        now = time.monotonic()
        if dirty and now - last_emit >= FOLLOW_POST_INTERVAL:
            sequence += 1
            frame = index.frame
            rows = pl.concat(added, how="vertical_relaxed") if len(added) > 1 else added[0] if added else None
            if rebuilt:
                sequence += 1  # a gap in the numbering tells the app to start again from ``frame``
                rebuilt = False
                warnings = _field_warnings(frame)
            emit(
                IndexChanged(
                    frame,
                    index,
                    rejects=len(index.rejects),
                    sequence=sequence,
                    added=rows if rows is not None else frame.head(0),
                    sources=len(follower.files_read) + len(follower.streams),
                    warnings=warnings,
                )
            )
            added = []
            dirty = False
            last_emit = now

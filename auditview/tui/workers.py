"""The app's background work, as plain functions that run in Textual thread workers and only post messages.

``load_and_follow`` owns the index and the follower for the app's whole life:

1. **Preview** — for large plain files it reads only the last few MB of each live log (from a line start),
   builds a small throw-away index from them and posts it, so the newest records are on screen in well under
   a second.
2. **Full index** — when the index cache is on and much of the input is not in it, a child process
   (``indexer.index_in_child``) parses it into the cache first, so that the parse never holds this process's
   GIL; it then indexes every source from its start (progress posted as it goes) and posts the
   real index, which replaces the preview (the preview's rows are not merged into it: no duplicates).
3. **Follow** — it waits on the follower and adds every new chunk to the index, posting a coalescing
   ``RecordsAppended`` at most every ``FOLLOW_POST_INTERVAL`` seconds; rotations and truncations are posted as
   ``SourceEventHappened``.

Every post carries the counts the status bar shows with the frame: rejects and field warnings
(``field_warning_count``). Every loop checks ``cancelled()``. Nothing here touches a widget. ``filter_view``
is the pure function behind the filter worker: time range, filter, slow annotation and volume buckets.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl
from textual.message import Message

from auditview.core.indexer import COLD_PROCESS_MIN, cache_writable, index_in_child, uncached_bytes
from auditview.core.query import CompiledFilter, compile_filter, time_range
from auditview.core.slow import SlowBaseline, SlowStepRule
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
from auditview.source.tail import CaughtUp, apply_to_index, tail
from auditview.source.types import Chunk, SourceFile
from auditview.tui.messages import (
    IndexingFinished,
    IndexingProgressed,
    LoadFailed,
    RecordsAppended,
    SourceEventHappened,
    VolumeBuckets,
)

if TYPE_CHECKING:
    from auditview.core.index import AuditIndex

__all__ = [
    "FOLLOW_POST_INTERVAL",
    "PREVIEW_BYTES",
    "FilterState",
    "LoaderOptions",
    "covered_positions",
    "field_warning_count",
    "filter_view",
    "line_number_at",
    "load_and_follow",
    "merge_sorted",
    "read_tail_chunk",
    "update_view",
    "volume_buckets",
]

#: Bytes read from the end of each large live log for the first screen.
PREVIEW_BYTES: Final = 4 << 20
#: Files smaller than this are indexed whole straight away (no preview pass).
PREVIEW_MIN_FILE: Final = 16 << 20
#: Chunk size of the full indexing pass: small enough to post progress and yield the GIL often.
LOAD_CHUNK_BYTES: Final = 4 << 20
#: While following, index updates are posted at most this often (seconds).
FOLLOW_POST_INTERVAL: Final = 0.2
#: Fine time buckets computed for the volume strip (the widget regroups them to its width).
VOLUME_BUCKETS: Final = 240

Post = Callable[[Message], object]
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class LoaderOptions:
    """What to load: the user's paths (empty = every audit log found), and whether to keep following."""

    paths: Sequence[str]
    follow: bool = True
    preview_bytes: int = PREVIEW_BYTES
    preview_min_file: int = PREVIEW_MIN_FILE
    #: Uncached bytes from which the cold parse runs in a child process (``indexer``); ``None`` = never.
    cold_process_min: int | None = COLD_PROCESS_MIN


def field_warning_count(frame: pl.DataFrame) -> int:
    """``index.field_warning_count`` (imported when first needed, as the index is: it brings the parser)."""
    from auditview.core.index import field_warning_count as count

    return count(frame)


def read_tail_chunk(source: SourceFile, max_bytes: int) -> Chunk | None:
    """The complete lines in the last ``max_bytes`` of a plain file, starting at a line start.

    Line numbers are unknown this way; the chunk says ``first_line=1`` and callers must treat them as pending.
    """
    if source.compression != "none" or source.reads_once:
        return None
    size = os.stat(source.path).st_size
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
        with open(source.path, "rb") as handle:
            done = 0
            while done < offset:
                block = handle.read(min(8 << 20, offset - done))
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
        return os.stat(source.path).st_size
    except OSError:
        return 0


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
            info = os.stat(source.path)
        except OSError:
            continue
        found[source.path] = ((info.st_dev, info.st_ino), info.st_size)
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
    sources: Sequence[SourceFile], post: Post, cancelled: Cancelled
) -> tuple[AuditIndex, dict[Identity, tuple[int, int]]] | None:
    """The full index through ``AuditIndex.load`` (parallel parse) and where following must start after it."""
    from auditview.core.index import AuditIndex

    last_progress = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_progress
        if cancelled():
            raise _LoadCancelledError
        now = time.monotonic()
        if now - last_progress > 0.1:
            last_progress = now
            post(IndexingProgressed(min(done, total), max(total, done, 1)))

    before = _identities(sources)
    index = AuditIndex.load(sources, progress=progress)
    positions = covered_positions(index, before, _identities(sources))
    if positions is None:
        index.close()
        return None
    return index, positions


def _index_serially(
    sources: Sequence[SourceFile], follower: Follower, post: Post, cancelled: Cancelled
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
            post(IndexingProgressed(min(done, total), max(total, done)))
    return index


def _index_cold_in_child(
    sources: Sequence[SourceFile], options: LoaderOptions, post: Post, cancelled: Cancelled
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
    if not cache_writable():
        post(SourceEventHappened("index cache off or read-only: indexing in the app (keys may lag)"))
        return True
    last_progress = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_progress
        now = time.monotonic()
        if now - last_progress > 0.1:
            last_progress = now
            post(IndexingProgressed(min(done, total), max(total, done, 1)))

    ok = index_in_child(list(options.paths), progress, cancelled)
    if cancelled():
        return False
    if not ok:
        post(SourceEventHappened("background indexer failed: indexing in the app (keys may lag)"))
    return True


def load_and_follow(options: LoaderOptions, post: Post, cancelled: Cancelled) -> None:
    """Preview, index fully, then follow until cancelled (see the module docstring)."""
    started = time.monotonic()
    try:
        sources = discover(list(options.paths))
    except OSError as exc:
        post(LoadFailed(str(exc)))
        return
    try:
        preview = _preview(sources, options)
    except OSError:
        preview = None
    if preview is not None and not cancelled():
        frame = preview.frame
        post(
            RecordsAppended(
                frame,
                preview,
                rejects=len(preview.rejects),
                preview=True,
                warnings=field_warning_count(frame),
            )
        )
    stdin = any(source.reads_once for source in sources)
    loaded = None
    if not stdin:
        if not _index_cold_in_child(sources, options, post, cancelled):
            return
        try:
            loaded = _load_index(sources, post, cancelled)
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
        post(LoadFailed(str(exc)))
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
            serial = _index_serially(sources, follower, post, cancelled)
            if serial is None:
                return
            index = serial
        frame = index.frame
        post(
            RecordsAppended(
                frame,
                index,
                rejects=len(index.rejects),
                sequence=0,
                sources=len(follower.files_read) + len(follower.streams),
                warnings=field_warning_count(frame),
            )
        )
        post(IndexingFinished(time.monotonic() - started))
        if options.follow:
            _follow(follower, index, post, cancelled, field_warning_count(frame))
    finally:
        follower.close()


def _follow(follower: Follower, index: AuditIndex, post: Post, cancelled: Cancelled, warnings: int) -> None:
    """Add what the follower finds; post the frame and the rows new since the last post (``sequence`` + 1).

    The loop is the shared one (``auditview.source.tail``), and so is what each item does to the index
    (``apply_to_index``: rows added, rotations re-pointed, truncated rows dropped); this adds the posting.
    ``warnings`` (the index's field warnings so far) grows by those of the added rows; it is counted again
    over the whole frame only when rows were dropped.
    """
    dirty = False
    rebuilt = False
    added: list[pl.DataFrame] = []
    sequence = 0
    last_post = time.monotonic()
    for item in tail(follower, initial=False, stop=cancelled, wait=FOLLOW_POST_INTERVAL / 2):
        if not isinstance(item, CaughtUp):
            change = apply_to_index(index, item)
            if change.rows is not None:
                added.append(change.rows)
                warnings += field_warning_count(change.rows)
            elif change.dropped:
                rebuilt = True  # rows were dropped: the view must be recomputed, not extended
            if not isinstance(item, (Chunk, LineRejected)):
                post(SourceEventHappened(describe_event(item)))
            dirty = True  # (an event: the sources count may have changed)
            continue
        now = time.monotonic()
        if dirty and now - last_post >= FOLLOW_POST_INTERVAL:
            sequence += 1
            frame = index.frame
            rows = pl.concat(added, how="vertical_relaxed") if len(added) > 1 else added[0] if added else None
            if rebuilt:
                sequence += 1  # a gap in the numbering tells the app to start again from ``frame``
                rebuilt = False
                warnings = field_warning_count(frame)
            post(
                RecordsAppended(
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
            last_post = now


def volume_buckets(view: pl.DataFrame, count: int = VOLUME_BUCKETS) -> VolumeBuckets:
    """Records per time bucket (ok / failed / slow) over the view's time span."""
    if view.height == 0 or "ts" not in view.columns:
        return VolumeBuckets(None, None)
    start = view["ts"].min()
    end = view["ts"].max()
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return VolumeBuckets(None, None)
    span_us = max(int((end - start).total_seconds() * 1_000_000), 1)
    failed = (pl.col("exit_code").fill_null(0) != 0) if "exit_code" in view.columns else pl.lit(False)
    slow = pl.col("slow").fill_null(False) if "slow" in view.columns else pl.lit(False)
    counted = (
        view.lazy()
        .select(
            bucket=((pl.col("ts") - pl.lit(start)).dt.total_microseconds() * (count - 1) // span_us).cast(
                pl.Int64
            ),
            kind=pl.when(failed).then(pl.lit(1)).when(slow).then(pl.lit(2)).otherwise(pl.lit(0)),
        )
        .group_by("bucket", "kind")
        .len()
        .collect()
    )
    ok = [0] * count
    bad = [0] * count
    late = [0] * count
    for bucket, kind, number in counted.iter_rows():
        target = bad if kind == 1 else late if kind == 2 else ok
        target[min(max(int(bucket), 0), count - 1)] += int(number)
    return VolumeBuckets(start, end, ok, bad, late)


def filter_view(
    frame: pl.DataFrame,
    filter_text: str,
    since: datetime | None,
    until: datetime | None,
    rule: SlowStepRule,
    annotated: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, VolumeBuckets, pl.DataFrame]:
    """Apply the time range and the filter to ``frame`` with slow steps annotated (p95 over all of ``frame``).

    ``annotated`` is ``frame`` already annotated (a cache: annotating a million rows is the expensive part,
    and a new filter on the same frame need not repeat it). Returns the view, its volume buckets and the
    annotated frame. Raises ``auditview.core.query.FilterError`` when the filter does not compile.
    """
    compiled = compile_filter(filter_text, slow_rule=rule) if filter_text.strip() else None
    if annotated is None or annotated.height != frame.height:
        annotated = rule.annotate(frame)
    view = _filtered(annotated, compiled, since, until)
    return view, volume_buckets(view), annotated


@dataclass(frozen=True)
class FilterState:
    """The result of one filter run, kept as the base for the next: appended rows are merged into it."""

    annotated: pl.DataFrame
    baseline: SlowBaseline
    baseline_rows: int
    view: pl.DataFrame
    filter_text: str
    since: datetime | None
    until: datetime | None
    #: ``annotated`` cut to ``since``/``until`` (``annotated`` itself without a time range): kept, so that the
    #: next filter with the same range runs on the same frame object and reuses its query helpers.
    ranged: pl.DataFrame
    #: ``annotated`` was made from scratch by this run (not grown from the previous state): worth warming the
    #: query helpers of ``ranged`` (``auditview.core.query.warm_filter_helpers``) once the view is shown.
    fresh: bool = False


def _ranged(
    annotated: pl.DataFrame, since: datetime | None, until: datetime | None, state: FilterState | None = None
) -> pl.DataFrame:
    """``annotated`` cut to the time range: the state's cut when it was made from the same frame and range."""
    if since is None and until is None:
        return annotated
    if state is not None and state.annotated is annotated and (state.since, state.until) == (since, until):
        return state.ranged
    return time_range(annotated, since, until)


def _filtered(
    annotated: pl.DataFrame, compiled: CompiledFilter | None, since: datetime | None, until: datetime | None
) -> pl.DataFrame:
    return _matching(_ranged(annotated, since, until), compiled)


def _matching(ranged: pl.DataFrame, compiled: CompiledFilter | None) -> pl.DataFrame:
    if compiled is not None and not compiled.matches_all:
        return compiled.apply(ranged)
    return ranged


def merge_sorted(frame: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (sorted by the index keys) with ``rows`` merged in; a plain append when they come after."""
    if rows.height == 0:
        return frame
    from auditview.core.index import SORT_KEYS

    rows = rows.sort(SORT_KEYS)
    if frame.height == 0:
        return rows
    last = frame.select(SORT_KEYS).row(-1)
    first = rows.select(SORT_KEYS).row(0)
    merged = pl.concat([frame, rows], how="vertical_relaxed", rechunk=False)
    return merged if first > last else merged.sort(SORT_KEYS)


def update_view(
    state: FilterState | None,
    frame: pl.DataFrame,
    added: Sequence[pl.DataFrame] | None,
    filter_text: str,
    since: datetime | None,
    until: datetime | None,
    rule: SlowStepRule,
) -> FilterState:
    """The view of ``frame``: from scratch, or from ``state`` plus the rows ``added`` since it was made.

    Appended rows are slow-annotated against the state's baseline (the p95 of each tool+command over the data
    loaded then; it is recomputed once the frame has grown by half) and, when the filter has no trace-level
    predicate and neither it nor the time range changed, filtered alone and merged into the view. Otherwise
    the annotated frame is reused and only the filter runs again over it. Raises ``FilterError``.
    """
    compiled = compile_filter(filter_text, slow_rule=rule) if filter_text.strip() else None
    if (
        state is None
        or added is None
        or state.annotated.height + sum(r.height for r in added) != frame.height
    ):
        baseline = rule.baseline(frame)
        annotated = rule.annotate(frame, baseline=baseline)
        ranged = _ranged(annotated, since, until)
        view = _matching(ranged, compiled)
        return FilterState(
            annotated, baseline, frame.height, view, filter_text, since, until, ranged, fresh=True
        )
    rows = pl.concat(list(added), how="vertical_relaxed") if len(added) > 1 else added[0] if added else None
    annotated, baseline, baseline_rows = state.annotated, state.baseline, state.baseline_rows
    new_rows = annotated.head(0) if rows is None else rule.annotate(rows, baseline=baseline)
    annotated = merge_sorted(annotated, new_rows)
    if annotated.height > baseline_rows * 3 // 2 + 1000:
        # Enough new data that "usual" may have moved: recompute the baseline and re-annotate everything.
        baseline = rule.baseline(frame)
        annotated = rule.annotate(frame, baseline=baseline)
        ranged = _ranged(annotated, since, until)
        view = _matching(ranged, compiled)
        return FilterState(
            annotated, baseline, frame.height, view, filter_text, since, until, ranged, fresh=True
        )
    ranged = _ranged(annotated, since, until, state)
    if (
        state.filter_text == filter_text
        and (state.since, state.until) == (since, until)
        and (compiled is None or not compiled.uses_trace)
    ):
        view = merge_sorted(state.view, _filtered(new_rows, compiled, since, until))
    else:
        view = _matching(ranged, compiled)
    return FilterState(annotated, baseline, baseline_rows, view, filter_text, since, until, ranged)

"""The app's background work, as plain functions that run in Textual thread workers and only post messages.

``load_and_follow`` owns the index and the follower for the app's whole life:

1. **Preview** — for large plain files it reads only the last few MB of each live log (from a line start),
   builds a small throw-away index from them and posts it, so the newest records are on screen in well under
   a second.
2. **Full index** — it then indexes every source from its start (progress posted as it goes) and posts the
   real index, which replaces the preview (the preview's rows are not merged into it: no duplicates).
3. **Follow** — it waits on the follower and adds every new chunk to the index, posting a coalescing
   ``RecordsAppended`` at most every ``FOLLOW_POST_INTERVAL`` seconds; rotations and truncations are posted as
   ``SourceEventHappened``.

Every loop checks ``cancelled()``. Nothing here touches a widget. ``filter_view`` is the pure function behind
the filter worker: time range, filter, slow annotation and volume buckets.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

import polars as pl
from textual.message import Message

from auditview.query import compile_filter, time_range
from auditview.slow import SlowStepRule
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
    from auditview.index import AuditIndex

__all__ = [
    "FOLLOW_POST_INTERVAL",
    "PREVIEW_BYTES",
    "LoaderOptions",
    "filter_view",
    "load_and_follow",
    "read_tail_chunk",
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


def read_tail_chunk(source: SourceFile, max_bytes: int) -> Chunk | None:
    """The complete lines in the last ``max_bytes`` of a plain file, starting at a line start.

    Line numbers are unknown this way; the chunk says ``first_line=1`` and callers must treat them as pending.
    """
    if source.compression != "none" or str(source.path) == "-":
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


def _preview(sources: Sequence[SourceFile], options: LoaderOptions) -> AuditIndex | None:
    big = [
        source
        for source in sources
        if source.compression == "none"
        and str(source.path) != "-"
        and source.generation == 0
        and _size(source) >= options.preview_min_file
    ]
    if not big:
        return None
    from auditview.index import AuditIndex

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


def load_and_follow(options: LoaderOptions, post: Post, cancelled: Cancelled) -> None:
    """Preview, index fully, then follow until cancelled (see the module docstring)."""
    from auditview.index import AuditIndex

    started = time.monotonic()
    try:
        sources = discover(list(options.paths))
        # poll_bytes: no cap, so that initial() reads every file to its end (the cap would leave the rest of a
        # big file to later polls, and the "full" index would not be full).
        follower = Follower(list(options.paths), chunk_bytes=LOAD_CHUNK_BYTES, poll_bytes=1 << 62)
    except OSError as exc:
        post(LoadFailed(str(exc)))
        return
    try:
        total = sum(_size(source) for source in sources)
        try:
            preview = _preview(sources, options)
        except OSError:
            preview = None
        if preview is not None and not cancelled():
            post(RecordsAppended(preview.frame, preview, rejects=len(preview.rejects), preview=True))
        index = AuditIndex()
        for source in sources:
            index.file_id(source)
        done = 0
        last_progress = 0.0
        for chunk in follower.initial():
            if cancelled():
                return
            index.add_chunk(chunk)
            done += len(chunk.data)
            now = time.monotonic()
            if now - last_progress > 0.1:
                last_progress = now
                post(IndexingProgressed(min(done, total), max(total, done)))
        post(RecordsAppended(index.frame, index, rejects=len(index.rejects)))
        post(IndexingFinished(time.monotonic() - started))
        if options.follow:
            _follow(follower, index, post, cancelled)
    finally:
        follower.close()


def _follow(follower: Follower, index: AuditIndex, post: Post, cancelled: Cancelled) -> None:
    dirty = False
    last_post = time.monotonic()
    while not cancelled():
        follower.wait(FOLLOW_POST_INTERVAL / 2)
        for item in follower.poll():
            if isinstance(item, Chunk):
                index.add_chunk(item)
                dirty = True
            elif isinstance(item, LineRejected):
                index.add_rejects([item.reject])
                dirty = True
            else:
                post(SourceEventHappened(describe_event(item)))
        now = time.monotonic()
        if dirty and now - last_post >= FOLLOW_POST_INTERVAL:
            post(RecordsAppended(index.frame, index, rejects=len(index.rejects)))
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
    annotated frame. Raises ``auditview.query.FilterError`` when the filter does not compile.
    """
    compiled = compile_filter(filter_text, slow_rule=rule) if filter_text.strip() else None
    if annotated is None or annotated.height != frame.height:
        annotated = rule.annotate(frame)
    view = annotated
    if since is not None or until is not None:
        view = time_range(view, since, until)
    if compiled is not None:
        view = compiled.apply(view)
    return view, volume_buckets(view), annotated

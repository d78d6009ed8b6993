"""The index: every valid record of the loaded sources as one polars frame, and the way back to raw bytes.

Owns: ``AuditIndex`` — the frame (schema in ``auditview.core.parse.SCHEMA``, sorted by ``ts``, ``file_id``,
``offset``), its growth while following (``add_chunk``), the rejects, and ``raw_line``/``iter_raw`` which read
the exact source bytes of a record back from its file (decompressing gzip/zstd sources). The frame holds no
raw text: only the typed fields, ``params``/``extra`` as compact JSON, and each record's file, offset and
length. Must not: discover or follow files (``auditview.source`` does), interpret filters, or import any UI
library.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

from auditview.core.parse import (
    LOCATION_COLUMNS,
    SCHEMA,
    empty_frame,
    parse_chunk,
    parse_chunk_prefiltered,
    project_schema,
)
from auditview.source.storage import LOCAL, LocalFile, StoredFile
from auditview.source.types import Chunk, FieldWarning, FileState, Reject, SourceFile

if TYPE_CHECKING:
    from auditview.core.cache import CacheEntry, Fingerprint
    from auditview.core.pushdown import Prefilter

__all__ = ["SORT_KEYS", "AuditIndex", "RawLineChanged", "field_warning_count"]

#: The frame's order: time, then the stable tie-break of file and byte offset.
SORT_KEYS: Final = ("ts", "file_id", "offset")
#: Chunks parsed at once while loading. polars releases the GIL in its kernels but each parse also runs
#: Python between them: twice as many threads as cores keeps the cores busy through those stretches
#: (1M records, 2 cores: a projected load 2.1 -> 1.8 s with 4 threads instead of 2; full 3.9 -> 3.7 s).
_PARSE_THREADS: Final = max(2, min(8, 2 * (os.cpu_count() or 1)))
#: Bytes per chunk while loading: small enough that the chunks in flight stay a fraction of the index.
_CHUNK_BYTES: Final = 8 << 20
#: Every index column besides the location columns.
_INDEX_COLUMNS: Final = frozenset(SCHEMA) - frozenset(LOCATION_COLUMNS)
#: Raw reads: lines of one file closer than this are read with one ``pread``; a read is at most this big.
_READ_GAP: Final = 4 << 10
_READ_MAX: Final = 1 << 20
#: Raw reads: rows looked up together (their reads sorted by place, then handed out in frame order).
_RAW_BATCH: Final = 16384
#: The bytes kept of a stream (stdin, a pipe, a FIFO) stay in memory up to this size; past it they move to an
#: unlinked temporary file (``$TMPDIR``), read back with ``pread`` like a plain file.
_KEEP_IN_MEMORY = 64 << 20


def field_warning_count(frame: pl.DataFrame) -> int:
    """The field warnings of ``frame``'s records: one per unusable field value (the ``warnings`` column holds
    them newline-separated, null for a record without any). Only the records that have some are read."""
    if "warnings" not in frame.columns:
        return 0
    column = frame.get_column("warnings")
    if column.null_count() == column.len():
        return 0
    texts = column.drop_nulls()
    return texts.len() + int(texts.str.count_matches("\n", literal=True).sum())


class RawLineChanged(OSError):  # noqa: N818 - reads better at the call site
    """The bytes at a record's offset are no longer that record (the file was truncated or rewritten)."""


class _RawReader:
    """Reads spans of the files back by ``file_id``: by range on plain files (each opened once through
    ``auditview.source.storage`` and kept open, so a file renamed or unlinked after it was first read stays
    readable), a one-file cache of decompressed streams, and the bytes kept of the sources that cannot be read
    twice (stdin, pipes, FIFOs: in memory up to ``_KEEP_IN_MEMORY``, then in an unlinked temporary file)."""

    def __init__(self) -> None:
        self._files: dict[int, StoredFile] = {}
        self._decompressed: tuple[int, bytes] | None = None
        self._kept: dict[int, bytearray] = {}
        #: ``file_id`` -> descriptor of the unlinked temporary file its kept bytes moved to.
        self._spilled: dict[int, int] = {}
        self._spill_failed = False

    def keep(self, file_id: int, offset: int, data: bytes) -> None:
        """Hold ``data``, read at stream ``offset`` of a source that cannot be read again (a stream). A gap
        (an over-long line the reader skipped, never a row) is held as zeros."""
        fd = self._spilled.get(file_id)
        if fd is not None:
            if offset < os.fstat(fd).st_size:
                os.ftruncate(fd, offset)
            _pwrite_all(fd, data, offset)  # a gap past the end is a hole: zeros
            return
        buffer = self._kept.setdefault(file_id, bytearray())
        if offset > len(buffer):
            buffer.extend(bytes(offset - len(buffer)))
        del buffer[offset:]
        buffer.extend(data)
        if len(buffer) > _KEEP_IN_MEMORY and not self._spill_failed:
            self._spill(file_id, buffer)

    def _spill(self, file_id: int, buffer: bytearray) -> None:
        """Move the kept bytes of ``file_id`` to an unlinked temporary file (they stay in memory if none can
        be made)."""
        import tempfile

        try:
            fd, name = tempfile.mkstemp(prefix="auditview-stream-")
        except OSError:
            self._spill_failed = True
            return
        try:
            os.unlink(name)
            _pwrite_all(fd, buffer, 0)
        except OSError:
            os.close(fd)
            self._spill_failed = True
            return
        self._spilled[file_id] = fd
        del self._kept[file_id]

    def span(self, file_id: int, source: SourceFile, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset``; checks that a ``\\n`` follows, so a changed file is noticed."""
        file = self._file(file_id, source)
        if file is not None:
            data = file.read_range(offset, length + 1)
            if len(data) != length + 1 or data[length] != 0x0A:
                raise RawLineChanged(f"{source.display}: bytes at offset {offset} changed since indexing")
            return data[:length]
        stream = self._stream(file_id, source)
        if stream[offset + length : offset + length + 1] != b"\n":
            raise RawLineChanged(f"{source.display}: bytes at offset {offset} changed since indexing")
        return bytes(stream[offset : offset + length])

    def spans(
        self, file_id: int, source: SourceFile, places: list[tuple[int, int, int]], out: list[bytes]
    ) -> None:
        """Fill ``out[slot]`` for every ``(offset, length, slot)`` of ``places`` (sorted by offset), reading
        neighbouring lines of a plain file with one read."""
        file = self._file(file_id, source)
        if file is None:
            for offset, length, slot in places:
                out[slot] = self.span(file_id, source, offset, length)
            return
        i = 0
        while i < len(places):
            begin = places[i][0]
            j = i + 1
            end = places[i][0] + places[i][1] + 1
            while j < len(places):
                offset, length, _ = places[j]
                if offset - end > _READ_GAP or offset + length + 1 - begin > _READ_MAX:
                    break
                end = max(end, offset + length + 1)
                j += 1
            block = file.read_range(begin, end - begin)
            for offset, length, slot in places[i:j]:
                at = offset - begin
                if len(block) < at + length + 1 or block[at + length] != 0x0A:
                    raise RawLineChanged(f"{source.display}: bytes at offset {offset} changed since indexing")
                out[slot] = block[at : at + length]
            i = j

    def _file(self, file_id: int, source: SourceFile) -> StoredFile | None:
        spilled = self._spilled.get(file_id)
        if spilled is not None:
            return LocalFile(spilled, owns=False)  # our own copy of a stream's bytes
        file = self._files.get(file_id)
        readable_again = not source.reads_once and file_id not in self._kept
        if file is None and source.compression == "none" and readable_again:
            file = LOCAL.open(source.path)
            self._files[file_id] = file
        return file

    def _stream(self, file_id: int, source: SourceFile) -> bytes | bytearray:
        kept = self._kept.get(file_id)
        if kept is not None:
            return kept
        if source.reads_once:
            return b""  # nothing kept of it: a span there is a changed line, never a second read
        if self._decompressed is None or self._decompressed[0] != file_id:
            from auditview.source.read import read_all

            parts = [chunk.data for chunk in read_all([source])]
            self._decompressed = (file_id, b"".join(parts))
        return self._decompressed[1]

    def forget(self, file_id: int) -> None:
        """Drop what is kept open for ``file_id`` (its path now names other bytes)."""
        file = self._files.pop(file_id, None)
        if file is not None:
            file.close()
        if self._decompressed is not None and self._decompressed[0] == file_id:
            self._decompressed = None

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._files.clear()
        for fd in self._spilled.values():
            os.close(fd)  # the temporary file goes with its last descriptor (its bytes with it)
        self._spilled.clear()
        self._decompressed = None


def _pwrite_all(fd: int, data: bytes | bytearray, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


class AuditIndex:
    """All records of some sources: ``frame`` (sorted), ``files`` (``file_id`` -> source), ``rejects``.

    ``columns`` (``None`` = all) projects the frame for one-shot tasks that need only some fields (export with
    a filter, trace summaries; ``ts`` is always kept); every line is still checked in full, so ``rejects`` are
    the same either way.
    """

    def __init__(self, *, columns: Collection[str] | None = None) -> None:
        self.files: list[SourceFile] = []
        self.rejects: list[Reject] = []
        self.incomplete: int = 0
        #: Lines a ``prefilter`` ruled out (``load``): neither rows nor checked, so not in ``rejects`` either.
        self.unchecked: int = 0
        # ``ts`` is the sort key, ``warnings`` are counted like rejects: always held
        self.columns: frozenset[str] | None = (
            frozenset(columns) | {"ts", "warnings"} if columns is not None else None
        )
        self._file_ids: dict[SourceFile, int] = {}
        #: After ``load``: per ``file_id``, the stream offset after its last complete line and the next line
        #: number (where a follower continues exactly).
        self.covered: dict[int, tuple[int, int]] = {}
        self._frame: pl.DataFrame = empty_frame(self.columns)
        self._pending: list[pl.DataFrame] = []
        self._raw = _RawReader()

    # -- building ---------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        sources: Sequence[SourceFile],
        *,
        progress: Callable[[int, int], None] | None = None,
        columns: Collection[str] | None = None,
        cache: bool | None = None,
        prefilter: Prefilter | None = None,
    ) -> AuditIndex:
        """Read and parse every complete line of ``sources`` now; ``progress(bytes_done, bytes_total)``.

        A trailing line without ``\\n`` is counted in ``incomplete``, not rejected. Raises
        ``auditview.source.discover.SourceMissing`` when a source cannot be opened. ``cache``: use and update
        the persistent index cache (``auditview.core.cache``); ``None`` = on unless ``AUDITVIEW_CACHE=0``. The
        result is the same with or without it.

        ``prefilter`` (``auditview.core.pushdown``): parse only the lines that may match it, for a one-shot
        task
        that filters the frame with the same filter afterwards. The lines it rules out are counted in
        ``unchecked`` (not in ``rejects``: nothing checked them); what is parsed then is not stored in the
        cache, and what the cache holds is used whole.
        """
        from auditview.core import cache as index_cache

        index = cls(columns=columns)
        for source in sources:
            index.file_id(source)
        use_cache = index_cache.cache_enabled(cache)
        wanted = index._wanted()
        plans: list[_Plan] = []
        for source in sources:
            entry = index_cache.lookup(source, wanted) if use_cache else None
            parse_columns = wanted
            if entry is not None:
                parse_columns = entry.columns
            elif use_cache and prefilter is None:
                # keep what the cache held so far: the next look with those columns stays warm
                parse_columns = wanted | (index_cache.cached_columns(source) & _INDEX_COLUMNS)
            plan = _Plan(source, index.file_id(source), entry, parse_columns)
            if entry is not None:
                plan.covered, plan.next_line = entry.covered, entry.next_line
            plans.append(plan)
        total = sum(_size(source) for source in sources)
        done = sum(plan.entry.covered for plan in plans if plan.entry is not None)
        # polars releases the GIL: parse a few chunks at once, in order, with a bounded number in flight.
        # The reader does not count the lines of its chunks (that would hold the GIL on this thread): each
        # chunk's lines are numbered when its result is collected, in stream order (see ``_collect``).
        in_flight: deque[_InFlight] = deque()
        with (
            _no_cyclic_gc(),
            ThreadPoolExecutor(max_workers=_PARSE_THREADS, thread_name_prefix="auditview-parse") as pool,
        ):
            for plan in plans:
                if plan.entry is not None and plan.entry.complete:
                    continue
                columns_arg = None if plan.parse_columns >= _INDEX_COLUMNS else plan.parse_columns
                plan.prefiltered = prefilter is not None
                for item in plan.read(fingerprint=use_cache and prefilter is None):
                    if isinstance(item, Reject):
                        in_flight.append((plan, 0, item))
                        continue
                    index._keep_if_stream(item)
                    future = pool.submit(parse_chunk_prefiltered, item, plan.file_id, columns_arg, prefilter)
                    in_flight.append((plan, len(item.data), future))
                    while len(in_flight) > _PARSE_THREADS:
                        done = _collect(in_flight.popleft(), done, total, progress)
            while in_flight:
                done = _collect(in_flight.popleft(), done, total, progress)
        for plan in plans:
            if plan.entry is None or not plan.entry.complete:
                plan.next_line += plan.chunk_lines  # the reader's count left out the chunks' lines
            index.unchecked += plan.unchecked
            index._add_plan(plan, use_cache)
        index.rejects.sort(key=lambda reject: (reject.path, reject.offset))
        return index

    def _wanted(self) -> frozenset[str]:
        """The index columns (besides the locations) this index holds; always with ``ts`` (the sort key)."""
        if self.columns is None:
            return _INDEX_COLUMNS
        return frozenset(self.columns & _INDEX_COLUMNS) | {"ts"}

    def _add_plan(self, plan: _Plan, use_cache: bool) -> None:
        """Merge what was cached and what was parsed of one file; store it in the cache when it changed."""
        entry = plan.entry
        if not use_cache:
            self.covered[plan.file_id] = (plan.covered, plan.next_line)
            self._pending.extend(plan.frames)
            self.rejects.extend(plan.rejects)
            self.incomplete += plan.partial
            return
        from auditview.core import cache as index_cache

        order = [name for name in project_schema(plan.parse_columns) if name != "file_id"]
        parts = [frame.select(order) for frame in plan.frames]
        plan.frames.clear()
        changed = entry is None or bool(plan.rejects) or any(part.height for part in parts)
        rejects = plan.rejects if entry is None else [*entry.rejects, *plan.rejects]
        storable = changed and not plan.prefiltered
        if entry is not None and not changed:
            frame = entry.frame  # stored sorted
        else:
            if entry is not None:
                # the whole entry, to store it again with the new rows
                cached = entry.read_all() if storable else None
                if cached is None:  # not stored, or the entry vanished meanwhile: keep the projection
                    storable = False
                    cached = entry.frame
                    parts = [part.select(cached.columns) for part in parts]
                parts.insert(0, cached)
            frame = _sort_parts(parts, ("ts", "offset")) if parts else empty_frame(order).select(order)
        partial = entry.partial if entry is not None and entry.complete else plan.partial
        self.covered[plan.file_id] = (plan.covered, plan.next_line)
        if storable and plan.identity is not None and plan.fingerprint is not None:
            index_cache.store(
                plan.source,
                plan.identity,
                plan.fingerprint,
                plan.next_line,
                frame,
                plan.parse_columns,
                rejects,
                partial,
            )
        self._pending.append(
            frame.select(
                pl.lit(plan.file_id, pl.UInt32).alias(name) if name == "file_id" else pl.col(name)
                for name in project_schema(self.columns)
            )
        )
        self.rejects.extend(rejects)
        self.incomplete += partial

    def file_id(self, source: SourceFile) -> int:
        """The ``file_id`` of ``source``, registering it on first sight."""
        found = self._file_ids.get(source)
        if found is None:
            found = len(self.files)
            self.files.append(source)
            self._file_ids[source] = found
        return found

    def add_chunk(self, chunk: Chunk) -> pl.DataFrame:
        """Parse ``chunk``, merge its rows into the frame and return them sorted; rejects join ``rejects``."""
        self._keep_if_stream(chunk)
        frame, rejects = parse_chunk(chunk, self.file_id(chunk.source), self.columns)
        self.rejects.extend(rejects)
        frame = frame.sort(SORT_KEYS)
        self._pending.append(frame)
        return frame

    def _keep_if_stream(self, chunk: Chunk) -> None:
        """A stream (stdin, a pipe, a FIFO) cannot be read again: hold its bytes for raw reads (in memory up
        to ``_KEEP_IN_MEMORY``, then in an unlinked temporary file)."""
        if chunk.source.reads_once:
            self._raw.keep(self.file_id(chunk.source), chunk.offset, chunk.data)

    @property
    def warning_count(self) -> int:
        """How many field warnings the records have (each an unusable value read as unknown; a record may
        have several, one per field, as ``field_warnings`` lists them)."""
        return field_warning_count(self.frame)

    def field_warnings(self) -> list[FieldWarning]:
        """Every field warning of the loaded records with its file and line, in file then line order."""
        frame = self.frame
        if "warnings" not in frame.columns:
            return []
        rows = frame.filter(pl.col("warnings").is_not_null()).select("file_id", "line", "offset", "warnings")
        found = [
            FieldWarning(self.files[file_id].display, line, offset, reason)
            for file_id, line, offset, text in rows.iter_rows()
            for reason in text.split("\n")
        ]
        found.sort(key=lambda warning: (warning.path, warning.line))
        return found

    def add_rejects(self, rejects: Iterable[Reject]) -> None:
        """Record rejects found outside the parser (over-long lines, corrupt compressed streams)."""
        self.rejects.extend(rejects)

    @property
    def frame(self) -> pl.DataFrame:
        """Every record, sorted by ``ts``, ``file_id``, ``offset`` (new chunks merge in on first access)."""
        if self._pending:
            parts = [self._frame, *self._pending] if self._frame.height else self._pending
            self._pending = []
            self._frame = _sorted_merge(parts)
        return self._frame

    # -- rotation -------------------------------------------------------------------------------------
    def file_moved(self, source: SourceFile, moved_to: SourceFile | None) -> None:
        """After ``FileRotated``: the rows read from ``source`` now live at ``moved_to`` (``None``: unlinked).

        Their ``file_id`` stays; ``files[file_id]`` becomes ``moved_to`` and later chunks of ``moved_to`` join
        it, while a new file at ``source``'s path gets a new ``file_id``. Raw reads keep working through the
        descriptor already open (also after an unlink); otherwise ``moved_to`` is opened (decompressed when it
        is a compressed copy: the offsets are the same).
        """
        file_id = self._file_ids.pop(source, None)
        if file_id is None:
            return
        if moved_to is None:
            return  # rows stay; their bytes remain readable only through a descriptor opened before
        self.files[file_id] = moved_to
        self._file_ids[moved_to] = file_id
        if moved_to.compression != source.compression:
            self._raw.forget(file_id)  # the open descriptor (if any) still holds the same plain bytes
            if moved_to.compression != "none":
                return
        self._renamed(source.display, moved_to.display)

    def file_truncated(self, source: SourceFile, copied_to: SourceFile | None = None) -> int:
        """After ``FileTruncated``: the rows read from ``source`` no longer match its bytes.

        With ``copied_to`` (copytruncate, copy recognised) those rows and their rejects are re-pointed to the
        copy, which holds the same bytes at the same offsets; without it they are dropped, with their rejects.
        Either way ``source`` is read again from its start under a new ``file_id``. Returns the number of rows
        dropped.
        """
        file_id = self._file_ids.pop(source, None)
        if file_id is None:
            return 0
        self._raw.forget(file_id)
        if copied_to is not None:
            self.files[file_id] = copied_to
            self._file_ids.setdefault(copied_to, file_id)
            self._renamed(source.display, copied_to.display)
            return 0
        frame = self.frame
        kept = frame.filter(pl.col("file_id") != file_id)
        self._frame = kept
        self.rejects = [reject for reject in self.rejects if reject.path != source.display]
        return frame.height - kept.height

    def _renamed(self, old: str, new: str) -> None:
        self.rejects = [
            dataclasses.replace(reject, path=new) if reject.path == old else reject for reject in self.rejects
        ]

    # -- raw bytes --------------------------------------------------------------------------------------
    def raw_line(self, file_id: int, offset: int, length: int) -> bytes:
        """The exact source bytes of one line (without ``\\n``); ``RawLineChanged`` if they are gone."""
        return self._raw.span(file_id, self.files[file_id], offset, length)

    def iter_raw(self, frame: pl.DataFrame) -> Iterator[bytes]:
        """The exact source bytes of each row of ``frame`` (with its location columns), in order.

        Rows are looked up in batches: each batch's lines are read in file order, neighbours with one read.
        """
        locations = frame.select("file_id", "offset", "length")
        for start in range(0, locations.height, _RAW_BATCH):
            batch = locations.slice(start, _RAW_BATCH)
            file_ids = batch["file_id"].to_list()
            offsets = batch["offset"].to_list()
            lengths = batch["length"].to_list()
            out: list[bytes] = [b""] * len(file_ids)
            by_file: dict[int, list[tuple[int, int, int]]] = {}
            for slot, (file_id, offset, length) in enumerate(zip(file_ids, offsets, lengths, strict=True)):
                by_file.setdefault(file_id, []).append((offset, length, slot))
            for file_id, places in by_file.items():
                places.sort()
                self._raw.spans(file_id, self.files[file_id], places, out)
            yield from out

    def params_of(self, rows: pl.DataFrame) -> pl.Series:
        """The ``params`` of each row of ``rows`` (with its location columns ``file_id``, ``offset``,
        ``length``), in order, as a load with that column holds it: each line read back (``iter_raw``) and
        parsed again, the lines of a file as one chunk (``parse_chunk``: the same text whichever path decides
        a line). For ``auditview.core.findings.detect_findings``, which reads the params of a few rows only.
        ``RawLineChanged`` if a line is gone or no longer a record."""
        out: list[str | None] = [None] * rows.height
        lines = list(self.iter_raw(rows))
        slots: dict[int, list[int]] = {}
        for slot, file_id in enumerate(rows.get_column("file_id").to_list()):
            slots.setdefault(file_id, []).append(slot)
        for file_id, wanted in slots.items():
            source = self.files[file_id]
            data = b"".join(lines[slot] + b"\n" for slot in wanted)
            parsed, _ = parse_chunk(Chunk(source, 0, 1, data), file_id, ("params",))
            # every line was a record: each gives one row, in line order
            if parsed.get_column("line").to_list() != list(range(1, len(wanted) + 1)):
                raise RawLineChanged(f"{source.display}: a record's line changed since indexing")
            for slot, params in zip(wanted, parsed.get_column("params").to_list(), strict=True):
                out[slot] = params
        return pl.Series("params", out, dtype=pl.String())

    def close(self) -> None:
        """Close the file descriptors kept for ``raw_line``."""
        self._raw.close()


@dataclass(eq=False)
class _Plan:
    """How one source is loaded: from the cache (``entry``), then from ``entry.covered`` (or 0) to its end."""

    source: SourceFile
    file_id: int
    entry: CacheEntry | None
    parse_columns: frozenset[str]
    frames: list[pl.DataFrame] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    partial: int = 0
    covered: int = 0
    next_line: int = 1
    #: Lines in the chunks collected so far (the reader does not count them; see ``read``).
    chunk_lines: int = 0
    #: Parsed through a prefilter (nothing of it may be stored), and the lines that prefilter ruled out.
    prefiltered: bool = False
    unchecked: int = 0
    identity: FileState | None = None
    fingerprint: Fingerprint | None = None

    def read(self, *, fingerprint: bool) -> Iterator[Chunk | Reject]:
        """The chunks and the reader's rejects after the cached range, in stream order; sets ``partial``,
        ``covered``, the fingerprint and ``next_line`` without the chunks' lines (``chunk_lines`` counts them
        as their results come in: the reader leaves them uncounted)."""
        from auditview.core.cache import fingerprint_data
        from auditview.source.read import FileReader

        offset = self.entry.covered if self.entry is not None else 0
        line = self.entry.next_line if self.entry is not None else 1
        with FileReader(
            self.source, offset=offset, line=line, chunk_bytes=_CHUNK_BYTES, count_runs=False
        ) as reader:
            stream = self.source.path == Path("-")
            if fingerprint and not stream:
                state = reader.state()
                self.identity = state if state.regular else None  # pipes are not cached
            yield from reader.read_events(block=True)
            self.partial = 1 if reader.partial() is not None else 0
            self.covered, self.next_line = reader.offset, reader.line
            if fingerprint and not stream and self.identity is not None:
                covered = reader.offset
                if self.source.compression == "none":
                    from auditview.core.cache import FINGERPRINT_BYTES

                    head = reader.read_raw(0, min(FINGERPRINT_BYTES, covered))
                    start = max(0, covered - FINGERPRINT_BYTES)
                    tail = reader.read_raw(start, covered - start)
                    self.fingerprint = fingerprint_data(head, tail, covered)
                else:  # the cache fingerprints the compressed file itself
                    self.fingerprint = fingerprint_data(b"", b"", covered)


#: A chunk being parsed (or a reader's reject, already decided), with its plan and its size in bytes.
_InFlight = tuple["_Plan", int, "Future[tuple[pl.DataFrame, list[Reject], int]] | Reject"]


def _collect(item: _InFlight, done: int, total: int, progress: Callable[[int, int], None] | None) -> int:
    """Take the next result in stream order: number its lines (adding the chunk lines before it, which the
    reader did not count), keep its rows and rejects, report progress."""
    plan, size, pending = item
    before = plan.chunk_lines
    if isinstance(pending, Reject):
        plan.rejects.append(dataclasses.replace(pending, line=pending.line + before))
        return done
    frame, rejects, lines = pending.result()
    # every complete line of a chunk became a row or a reject, or was ruled out by a prefilter
    plan.chunk_lines += lines
    plan.unchecked += lines - frame.height - len(rejects)
    if before:
        frame = frame.with_columns(pl.col("line") + before)
        rejects = [dataclasses.replace(reject, line=reject.line + before) for reject in rejects]
    plan.frames.append(frame)
    plan.rejects.extend(rejects)
    done += size
    if progress is not None:
        progress(min(done, total), total)
    return done


def _sort_parts(parts: list[pl.DataFrame], keys: Sequence[str]) -> pl.DataFrame:
    """Concatenate ``parts`` sorted by ``keys``, one column at a time (peak: the frame plus one column)."""
    merged = pl.concat(parts, how="vertical", rechunk=False)
    parts.clear()
    order = merged.select(pl.arg_sort_by(list(keys), maintain_order=True)).to_series()
    if order.is_sorted():
        return merged.rechunk() if merged.n_chunks() > 1 else merged
    columns: list[pl.Series] = []
    for name in list(merged.columns):
        # one contiguous column first: gathering from many chunks is twice as slow (1M rows in 52 parts:
        # 0.5 -> 0.2 s for the whole frame), and the copy is one column at a time
        columns.append(merged.get_column(name).rechunk().gather(order))
        merged = merged.drop(name)
    return pl.DataFrame(columns)


def _sorted_merge(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate ``parts`` and sort by ``SORT_KEYS``, one column at a time so that the peak memory is the
    frame plus one column rather than two frames."""
    if _already_ordered(parts):  # the common case while following: new records come after the old ones
        merged = pl.concat(parts, how="vertical", rechunk=False)
        parts.clear()
        return merged
    return _sort_parts(parts, SORT_KEYS)


def _already_ordered(parts: list[pl.DataFrame]) -> bool:
    """True when every part is sorted by ``SORT_KEYS`` and starts at or after the end of the one before."""
    previous: tuple[object, ...] | None = None
    for part in parts:
        if part.height == 0:
            continue
        keys = part.select(SORT_KEYS)
        if part.height > 1 and not keys.select(pl.struct(SORT_KEYS).is_sorted()).item():
            return False
        first = keys.row(0)
        if previous is not None and first < previous:
            return False
        previous = keys.row(-1)
    return True


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector off for a bulk load: its objects die by reference count, yet each
    collection stops every thread to look (about 2 % of a cold load's CPU, with the GIL held)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _size(source: SourceFile) -> int:
    try:
        return LOCAL.state(source.path).size if source.path != Path("-") else 0
    except OSError:
        return 0

"""The index: every valid record of the loaded sources as one polars frame, and the way back to raw bytes.

Owns: ``AuditIndex`` — the frame (schema in ``auditview.parse.SCHEMA``, sorted by ``ts``, ``file_id``,
``offset``), its growth while following (``add_chunk``), the rejects, and ``raw_line``/``iter_raw`` which read
the exact source bytes of a record back from its file (decompressing gzip/zstd sources). The frame holds no
raw text: only the typed fields, ``params``/``extra`` as compact JSON, and each record's file, offset and
length. Must not: discover or follow files (``auditview.source`` does), interpret filters, or import any UI
library.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Final

import polars as pl

from auditview.parse import empty_frame, parse_chunk
from auditview.source.types import Chunk, Reject, SourceFile

__all__ = ["SORT_KEYS", "AuditIndex", "RawLineChanged"]

#: The frame's order: time, then the stable tie-break of file and byte offset.
SORT_KEYS: Final = ("ts", "file_id", "offset")
#: Chunks parsed at once while loading (polars releases the GIL, so this uses the machine's cores).
_PARSE_THREADS: Final = max(1, min(4, os.cpu_count() or 1))
#: Bytes per chunk while loading: small enough that the chunks in flight stay a fraction of the index.
_CHUNK_BYTES: Final = 8 << 20


class RawLineChanged(OSError):  # noqa: N818 - reads better at the call site
    """The bytes at a record's offset are no longer that record (the file was truncated or rewritten)."""


class _RawReader:
    """Reads spans of the files back: ``pread`` on plain files, a one-file cache of decompressed streams."""

    def __init__(self) -> None:
        self._fds: dict[Path, int] = {}
        self._decompressed: tuple[Path, bytes] | None = None

    def span(self, source: SourceFile, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset``; checks that a ``\\n`` follows, so a changed file is noticed."""
        if source.compression == "none":
            fd = self._fds.get(source.path)
            if fd is None:
                fd = os.open(source.path, os.O_RDONLY | os.O_CLOEXEC)
                self._fds[source.path] = fd
            data = os.pread(fd, length + 1, offset)
            if len(data) != length + 1 or data[length] != 0x0A:
                raise RawLineChanged(f"{source.display}: bytes at offset {offset} changed since indexing")
            return data[:length]
        stream = self._stream(source)
        if stream[offset + length : offset + length + 1] != b"\n":
            raise RawLineChanged(f"{source.display}: bytes at offset {offset} changed since indexing")
        return stream[offset : offset + length]

    def _stream(self, source: SourceFile) -> bytes:
        if self._decompressed is None or self._decompressed[0] != source.path:
            from auditview.source.read import read_all

            parts = [chunk.data for chunk in read_all([source])]
            self._decompressed = (source.path, b"".join(parts))
        return self._decompressed[1]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._decompressed = None


class AuditIndex:
    """All records of some sources: ``frame`` (sorted), ``files`` (``file_id`` -> source), ``rejects``.

    ``columns`` (``None`` = all) projects the frame for one-shot tasks that need only some fields (export with
    a filter, trace summaries); every line is still checked in full, so ``rejects`` are the same either way.
    """

    def __init__(self, *, columns: Collection[str] | None = None) -> None:
        self.files: list[SourceFile] = []
        self.rejects: list[Reject] = []
        self.incomplete: int = 0
        self.columns: frozenset[str] | None = frozenset(columns) if columns is not None else None
        self._file_ids: dict[SourceFile, int] = {}
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
    ) -> AuditIndex:
        """Read and parse every complete line of ``sources`` now; ``progress(bytes_done, bytes_total)``.

        A trailing line without ``\\n`` is counted in ``incomplete``, not rejected. Raises
        ``auditview.source.discover.SourceMissing`` when a source cannot be opened.
        """
        from auditview.source.read import read_all

        index = cls(columns=columns)
        for source in sources:
            index.file_id(source)
        total = sum(_size(source) for source in sources)
        done = 0
        partial: list[object] = []
        reader_rejects: list[Reject] = []
        # polars releases the GIL: parse a few chunks at once, in order, with a bounded number in flight.
        in_flight: deque[tuple[int, Future[tuple[pl.DataFrame, list[Reject]]]]] = deque()
        with ThreadPoolExecutor(max_workers=_PARSE_THREADS, thread_name_prefix="auditview-parse") as pool:
            chunks = read_all(
                sources,
                rejects=reader_rejects,
                partial=partial,  # type: ignore[arg-type]
                chunk_bytes=_CHUNK_BYTES,
            )
            for chunk in chunks:
                file_id = index.file_id(chunk.source)
                in_flight.append((len(chunk.data), pool.submit(parse_chunk, chunk, file_id, index.columns)))
                while len(in_flight) > _PARSE_THREADS:
                    done = index._collect(in_flight.popleft(), done, total, progress)
            while in_flight:
                done = index._collect(in_flight.popleft(), done, total, progress)
        index.rejects.extend(reader_rejects)
        index.rejects.sort(key=lambda reject: (reject.path, reject.offset))
        index.incomplete = len(partial)
        return index

    def _collect(
        self,
        item: tuple[int, Future[tuple[pl.DataFrame, list[Reject]]]],
        done: int,
        total: int,
        progress: Callable[[int, int], None] | None,
    ) -> int:
        size, future = item
        frame, rejects = future.result()
        self._pending.append(frame)
        self.rejects.extend(rejects)
        done += size
        if progress is not None:
            progress(min(done, total), total)
        return done

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
        frame, rejects = parse_chunk(chunk, self.file_id(chunk.source), self.columns)
        self.rejects.extend(rejects)
        frame = frame.sort(SORT_KEYS)
        self._pending.append(frame)
        return frame

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

    # -- raw bytes --------------------------------------------------------------------------------------
    def raw_line(self, file_id: int, offset: int, length: int) -> bytes:
        """The exact source bytes of one line (without ``\\n``); ``RawLineChanged`` if they are gone."""
        return self._raw.span(self.files[file_id], offset, length)

    def iter_raw(self, frame: pl.DataFrame) -> Iterator[bytes]:
        """The exact source bytes of each row of ``frame`` (with its location columns), in order."""
        locations = frame.select("file_id", "offset", "length")
        for file_id, offset, length in locations.iter_rows():
            yield self._raw.span(self.files[file_id], offset, length)

    def close(self) -> None:
        """Close the file descriptors kept for ``raw_line``."""
        self._raw.close()


def _sorted_merge(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate ``parts`` and sort by ``SORT_KEYS``, one column at a time so that the peak memory is the
    frame plus one column rather than two frames."""
    if _already_ordered(parts):  # the common case while following: new records come after the old ones
        merged = pl.concat(parts, how="vertical", rechunk=False)
        parts.clear()
        return merged
    merged = pl.concat(parts, how="vertical", rechunk=False)
    parts.clear()
    order = merged.select(pl.arg_sort_by(SORT_KEYS, maintain_order=True)).to_series()
    if order.is_sorted():
        return merged.rechunk()
    columns: list[pl.Series] = []
    for name in list(merged.columns):
        columns.append(merged.get_column(name).gather(order))
        merged = merged.drop(name)
    return pl.DataFrame(columns)


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


def _size(source: SourceFile) -> int:
    try:
        return source.path.stat().st_size if source.path != Path("-") else 0
    except OSError:
        return 0

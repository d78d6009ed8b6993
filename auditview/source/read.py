"""Reading complete lines from one source (a plain, gzip or zstd file, or a stream like stdin) by byte offset.

Owns: ``FileReader`` (one source, resumable at a byte offset and line number, keeps its file descriptor open
and read-only, never locks), ``read_all()`` (every complete line of several sources now), ``read_span()`` (the
exact bytes of one line for export and detail views) and the decompression of gzip (multi-member) and zstd
(multi-frame) streams. For compressed sources every offset is an offset in the *decompressed* stream.

How lines come out:

* ``FileReader.read_events()`` yields, in stream order, ``Chunk``s (runs of complete lines) and ``Reject``s. A
  ``Reject`` comes from the reader only for a line longer than ``contract.MAX_LINE_BYTES`` (its bytes are
  skipped; ``raw`` keeps the first ``REJECT_PREFIX_BYTES`` and ``length`` the full length), for a compressed
  stream that turns out corrupt, or for one that *ends early* — a gzip member or zstd frame cut off (a
  truncated or half-written ``.gz``/``.zst``), seen when the file's end is reached by a final read
  (``block=True``) or when a stream ends. Either way reading that source stops there (``broken``); the reject
  is at the line where it stopped, ``raw`` holds the start of that cut line (if any) and that line is not
  also a ``partial()`` line.
* ``FileReader.read_available()`` yields only the ``Chunk``s and appends the ``Reject``s to ``reader.rejects``
  (the caller drains that list).
* A trailing line without ``\\n`` is held (``pending``, ``pending_length``, ``partial()``) and handed out once
  its ``\\n`` arrives. ``offset``/``line`` are where the pending line starts: a new reader created with them
  resumes exactly.

Consume an iterator fully: the reader's position advances block by block, and an abandoned iterator loses the
rest of the block it was yielding.

Streams (stdin, and every ``SourceFile.stream``: a pipe such as ``/dev/fd/63``, a named FIFO) are opened
once, read once with ``os.read`` and their compression is told from their first bytes (nothing is peeked
twice). A FIFO is opened without blocking; the reader then waits up to ``AUDITVIEW_FIFO_WAIT`` seconds
(default 10) for a writer — a FIFO nobody opens for writing raises ``SourceMissing`` instead of waiting
forever. A character or block device is refused (``SourceMissing``): it may never end.

Limits: a compressed source is decompressed from its start to reach an offset (no seeking inside gzip/zstd).
Input is fed to the decompressor 64 KiB at a time, which bounds gzip's output per step (~64 MiB at its maximal
ratio); a hostile zstd frame can still expand further in one step. Must not: parse JSON, import polars or any
UI library; ``zstandard`` is imported only when a zstd stream is read.
"""

from __future__ import annotations

import os
import select
import stat
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self

from auditview.contract import MAX_LINE_BYTES
from auditview.source.discover import SourceMissing, magic_compression
from auditview.source.lines import REJECT_PREFIX_BYTES, LineRun, LineSplitter, LongLine
from auditview.source.storage import LocalFile, StoredFile
from auditview.source.types import Chunk, Compression, FileState, PartialLine, Reject, SourceFile

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "FIFO_WAIT_ENV",
    "FileReader",
    "StreamCorrupt",
    "open_source",
    "read_all",
    "read_span",
]

DEFAULT_CHUNK_BYTES: Final = 16 << 20
#: Compressed input is fed to the decompressor in blocks of this size.
RAW_BLOCK_BYTES: Final = 64 << 10
#: Bytes kept from just before ``offset`` (see ``FileReader.tail``) to recognise a file's earlier contents.
TAIL_BYTES: Final = 256
_STREAM_READ_BYTES: Final = 1 << 20
_PROBE_BYTES: Final = 64 << 10
#: How long a FIFO with no writer is waited for (seconds; the environment variable overrides the default).
FIFO_WAIT_ENV: Final = "AUDITVIEW_FIFO_WAIT"
_FIFO_WAIT_DEFAULT: Final = 10.0
#: While waiting for a FIFO's writer: how often to look whether one has opened it without writing yet.
_FIFO_POLL_S: Final = 0.05
_SUFFIX: Final[dict[Compression, str]] = {"gzip": ".gz", "zstd": ".zst", "none": ""}


class StreamCorrupt(ValueError):  # noqa: N818 - part of the API, reads better
    """A compressed stream cannot be decompressed further."""


class _Decoder(Protocol):
    """Decompresses a stream fed in pieces; on corrupt input it returns what it could and sets ``failed``.

    ``midway``: input of a member/frame was fed and its end has not come yet — if the input ends now, the
    stream was cut short.
    """

    failed: str | None

    def decode(self, data: bytes) -> bytes: ...

    @property
    def midway(self) -> bool: ...


class _GzipDecoder:
    """gzip, any number of members; NUL padding after the last member is ignored like gzip(1) does."""

    def __init__(self) -> None:
        self._inner: Any = zlib.decompressobj(wbits=31)
        self._padding = False
        self._fed = False
        self.failed: str | None = None

    @property
    def midway(self) -> bool:
        return self.failed is None and self._fed

    def decode(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data and self.failed is None:
            if self._padding:
                if data.strip(b"\0"):
                    self.failed = "gzip: trailing garbage after the last member"
                break
            self._fed = True
            try:
                out.append(self._inner.decompress(data))
            except zlib.error as exc:
                self.failed = f"gzip: {exc}"
                break
            if not self._inner.eof:
                break
            data = self._inner.unused_data
            self._inner = zlib.decompressobj(wbits=31)
            self._fed = False
            if data and data[0] == 0:
                self._padding = True
        return b"".join(out)


class _ZstdDecoder:
    """zstd, any number of frames."""

    def __init__(self) -> None:
        import zstandard  # imported only when a zstd stream is actually read

        self._factory: Any = zstandard.ZstdDecompressor()
        self._error: type[Exception] = zstandard.ZstdError
        self._inner: Any = self._factory.decompressobj()
        self._fed = False
        self.failed: str | None = None

    @property
    def midway(self) -> bool:
        return self.failed is None and self._fed

    def decode(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data and self.failed is None:
            self._fed = True
            try:
                out.append(self._inner.decompress(data))
            except self._error as exc:
                self.failed = f"zstd: {exc}"
                break
            if not self._inner.eof:
                break
            data = self._inner.unused_data
            self._inner = self._factory.decompressobj()
            self._fed = False
        return b"".join(out)


def _decoder(compression: Compression) -> _Decoder | None:
    if compression == "gzip":
        return _GzipDecoder()
    if compression == "zstd":
        return _ZstdDecoder()
    return None


def open_source(source: SourceFile) -> int:
    """Open ``source`` read-only (no locks) and return the descriptor; ``SourceMissing`` names the path.

    Opened with ``O_NONBLOCK``, so that a FIFO without a writer does not block the open; a regular file is
    switched back to blocking at once, a FIFO is left non-blocking (``FileReader`` waits for its writer, then
    switches it). A directory or a device is refused.
    """
    if source.path == Path("-"):
        return 0
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(source.path, flags)
    except FileNotFoundError:
        raise SourceMissing(f"{source.path}: no such file") from None
    except OSError as exc:
        raise SourceMissing(f"{source.path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    refused = (
        "is a directory"
        if stat.S_ISDIR(mode)
        else "is a character device, not a log (auditview reads regular files, pipes and FIFOs)"
        if stat.S_ISCHR(mode)
        else "is a block device, not a log (auditview reads regular files, pipes and FIFOs)"
        if stat.S_ISBLK(mode)
        else None
    )
    if refused is not None:
        os.close(fd)
        raise SourceMissing(f"{source.path}: {refused}")
    if not stat.S_ISFIFO(mode):
        os.set_blocking(fd, True)
    return fd


def fifo_wait_seconds() -> float:
    """How long to wait for a FIFO's writer: ``AUDITVIEW_FIFO_WAIT`` seconds (default 10)."""
    try:
        value = float(os.environ.get(FIFO_WAIT_ENV, ""))
    except ValueError:
        return _FIFO_WAIT_DEFAULT
    return value if value >= 0 else _FIFO_WAIT_DEFAULT


def _await_writer(fd: int, source: SourceFile) -> bytes:
    """Wait until the FIFO open (non-blocking) on ``fd`` has a writer, then make ``fd`` blocking; return the
    bytes read while finding out (``b""`` when the writer has written nothing yet, or came and went).

    A non-blocking read of a FIFO returns ``EAGAIN`` while a writer holds it open and ``b""`` while none does;
    ``select`` reports it readable once data arrives or a writer that came has gone.
    """
    wait = fifo_wait_seconds()
    deadline = time.monotonic() + wait
    data = b""
    while True:
        readable, _, _ = select.select([fd], [], [], max(0.0, min(_FIFO_POLL_S, deadline - time.monotonic())))
        try:
            data = os.read(fd, _STREAM_READ_BYTES)
        except BlockingIOError:
            break  # a writer holds it open and has written nothing yet
        if data or readable:
            break  # the first bytes, or a writer came and went (an empty stream)
        if time.monotonic() >= deadline:
            raise SourceMissing(
                f"{source.path}: a FIFO with no writer: nothing opened it for writing within {wait:g} s"
                f" (set {FIFO_WAIT_ENV} to wait longer)"
            )
    os.set_blocking(fd, True)
    return data


class FileReader:
    """Reads complete lines of one ``SourceFile`` from a byte offset; remembers where it stopped.

    ``offset``/``line``: where the pending partial line starts (the next line to hand out). ``pending``: the
    held bytes of that line (a prefix only once it is over the cap). ``rejects``: filled by
    ``read_available()``.
    ``fd``: pass an already open descriptor (the follower does, to pin the inode); it is then not closed by
    ``close()``. A stream (stdin, a ``SourceFile.stream``, or any path that turns out to be a FIFO when
    opened) is read with ``os.read`` and its compression told from its first bytes; everything else by range
    through a ``StoredFile`` (``auditview.source.storage``). Opening a FIFO waits for its writer (see the
    module docstring).
    ``count_runs=False``: the lines inside chunks are not counted here (a bulk loader counts them in its
    parse workers instead of on the reading thread); ``line``, ``Chunk.first_line`` and the line numbers of
    rejects then count only the over-long lines, and the caller adds the chunk lines before each.
    """

    def __init__(
        self,
        source: SourceFile,
        *,
        offset: int = 0,
        line: int = 1,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        fd: int | None = None,
        max_line: int = MAX_LINE_BYTES,
        count_runs: bool = True,
    ) -> None:
        if offset < 0 or line < 1 or chunk_bytes < 1:
            raise ValueError("offset must be >= 0, line >= 1 and chunk_bytes >= 1")
        self.source = source
        self.chunk_bytes = chunk_bytes
        self.max_line = max_line
        self.rejects: list[Reject] = []
        self._owns_fd = fd is None
        self._fd: int | None = fd
        self._stored: StoredFile | None = None
        self._is_stream: bool | None = True if source.reads_once else None
        self._count_runs = count_runs
        self._splitter = LineSplitter(offset=offset, line=line, max_line=max_line, count_runs=count_runs)
        self._compression: Compression | None = None if source.reads_once else source.compression
        self._decoder: _Decoder | None = None
        self._raw_position = 0
        self._discard = 0
        self._sniffed = b""
        self._tail = b""
        self.eof = False
        self.broken: str | None = None
        self.hit_limit = False
        self._budget: int | None = None
        self._start(offset)

    # -- state -----------------------------------------------------------------------------------------------
    @property
    def offset(self) -> int:
        """Stream offset of the next line to hand out (the start of the pending partial line, if any)."""
        return self._splitter.offset

    @property
    def line(self) -> int:
        """1-based number of the next line to hand out."""
        return self._splitter.line

    @property
    def pending(self) -> bytes:
        """The held bytes of the trailing partial line (``b""`` when none)."""
        return self._splitter.pending

    @property
    def pending_length(self) -> int:
        """Full length of the trailing partial line so far (0 when none)."""
        return self._splitter.pending_length

    @property
    def position(self) -> int:
        """Stream offset of the next byte to read: ``offset + pending_length``."""
        return self._splitter.position

    @property
    def compressed(self) -> bool:
        """True when the stream is gzip or zstd (offsets are then in the decompressed stream)."""
        return self._compression not in (None, "none")

    @property
    def raw_position(self) -> int:
        """How many bytes of the file itself have been consumed."""
        return self._raw_position if self.compressed or self._is_stream else self.position

    @property
    def tail(self) -> bytes:
        """Up to 256 bytes just before ``offset`` as read (empty after an over-long line).

        A fingerprint of the contents already handed out, used to recognise a copy or a rewrite of this file.
        """
        return self._tail

    @property
    def fd(self) -> int:
        """The open descriptor (opened on first use; a FIFO once its writer is there)."""
        if self._fd is None:
            fd = open_source(self.source)
            if fd != 0 and stat.S_ISFIFO(os.fstat(fd).st_mode):
                try:
                    first = _await_writer(fd, self.source)
                except BaseException:
                    os.close(fd)
                    raise
                # A stream whatever the SourceFile said: read once, compression from the bytes read.
                self._is_stream = True
                self._compression = None
                self._sniffed = first
            self._fd = fd
        return self._fd

    def partial(self) -> PartialLine | None:
        """The trailing partial line, if any (none once the stream broke: the reject holds that line)."""
        if not self.pending_length or self.broken is not None:
            return None
        return PartialLine(self.source, self.offset, self.line, self.pending_length)

    def identity(self) -> tuple[int, int]:
        """``(st_dev, st_ino)`` of the open file."""
        info = os.fstat(self.fd)
        return info.st_dev, info.st_ino

    def state(self) -> FileState:
        """The ``FileState`` of the open file now."""
        return self._file().state()

    def read_raw(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of the open file itself at ``offset`` (compressed bytes for gzip/zstd);
        for a regular file only (a stream's bytes are gone once read)."""
        return self._file().read_range(offset, length)

    def _file(self) -> StoredFile:
        """The open file, for reading by range (the descriptor stays this reader's)."""
        if self._stored is None:
            self._stored = LocalFile(self.fd, owns=False)
        return self._stored

    def reset(self) -> None:
        """Start again from offset 0, line 1 after a truncation, dropping the pending line and fingerprint."""
        self._splitter = LineSplitter(max_line=self.max_line, count_runs=self._count_runs)
        self._tail = b""
        self.eof = False
        self.broken = None
        self._start(0)

    def _start(self, offset: int) -> None:
        self._raw_position = 0
        self._discard = 0
        self._decoder = None
        if self._compression is not None and self._compression != "none":
            self._decoder = _decoder(self._compression)
            self._discard = offset

    # -- reading ---------------------------------------------------------------------------------------------
    def read_available(self) -> Iterator[Chunk]:
        """Every complete line available now, as ``Chunk``s; over-long lines go to ``self.rejects``."""
        for item in self.read_events():
            if isinstance(item, Chunk):
                yield item
            else:
                self.rejects.append(item)

    def read_events(self, *, block: bool = False, limit: int | None = None) -> Iterator[Chunk | Reject]:
        """Complete lines available now as ``Chunk``s and ``Reject``s, in stream order.

        ``block=True`` matters only for a stream: read until its end instead of until it has nothing more now.
        ``limit``: stop once about this many bytes were read in this call (``hit_limit`` then tells that more
        may be waiting), so that a follower's poll never takes long.
        """
        self.hit_limit = False
        self._budget = limit
        if self.broken is not None:
            return
        fd = self.fd
        if self._is_stream is None:
            self._is_stream = not stat.S_ISREG(os.fstat(fd).st_mode)
        if self._compression is None and not self._sniff(fd, block=block):
            return
        if self._is_stream:
            yield from self._read_stream(fd, block=block)
        elif self._decoder is None:
            yield from self._read_plain(self._file())
        else:
            yield from self._read_compressed(self._file(), final=block)

    def _sniff(self, fd: int, *, block: bool) -> bool:
        """Decide a stream's compression from its first bytes; False while fewer than 4 have arrived."""
        while len(self._sniffed) < 4:
            data = self._stream_read(fd, 4 - len(self._sniffed), block=block)
            if data is None:
                return False
            if not data:
                self.eof = True
                break
            self._sniffed += data
        self._compression = magic_compression(self._sniffed)
        self._start(self._splitter.offset)
        return True

    def _stream_read(self, fd: int, size: int, *, block: bool) -> bytes | None:
        """Read from a stream; ``None`` when nothing is available now and ``block`` is False."""
        if not block:
            readable, _, _ = select.select([fd], [], [], 0)
            if not readable:
                return None
        try:
            return os.read(fd, size)
        except BlockingIOError:
            return None

    def _spend(self, size: int) -> bool:
        """Count ``size`` bytes against this call's budget; True when the budget is used up."""
        if self._budget is None:
            return False
        self._budget -= size
        if self._budget <= 0:
            self.hit_limit = True
            return True
        return False

    def _read_plain(self, file: StoredFile) -> Iterator[Chunk | Reject]:
        # Fast path: re-read a short partial line from the file and end each read just after a "\n" (found
        # by a small probe), so that a block becomes a Chunk without being copied again. A partial line of
        # half a block or more stays held (re-reading it could make no progress).
        while True:
            if self._splitter.pending_length < self.chunk_bytes // 2:
                self._splitter.rewind()
            start = self.position
            size = self.chunk_bytes
            probe = max(1, min(_PROBE_BYTES, size // 4))
            probe_at = start + size - probe
            if probe_at > start and not self._splitter.skipping:
                newline = file.read_range(probe_at, probe).rfind(b"\n")
                if newline >= 0:
                    size = probe_at - start + newline + 1
            data = file.read_range(start, size)
            if not data:
                return
            yield from self._feed(data)
            if len(data) < size or self._spend(len(data)):
                return

    def _read_compressed(self, file: StoredFile, *, final: bool) -> Iterator[Chunk | Reject]:
        """``final``: the file's current end is its end (a one-shot read): a member or frame cut off there is
        reported; a follower (``final=False``) reads on from there when the file grows."""
        decoded: list[bytes] = []
        size = 0
        ended = False
        while True:
            raw = file.read_range(self._raw_position, RAW_BLOCK_BYTES)
            if not raw:
                ended = True
                break
            self._raw_position += len(raw)
            piece = self._decode(raw)
            decoded.append(piece)
            size += len(piece)
            if self._decoder is not None and self._decoder.failed:
                yield from self._feed(b"".join(decoded))
                yield self._corrupt(self._decoder.failed)
                return
            if size >= self.chunk_bytes:
                yield from self._feed(b"".join(decoded))
                decoded, size = [], 0
            if self._spend(len(raw)):
                break
        if decoded:
            yield from self._feed(b"".join(decoded))
        if ended and final and self._decoder is not None and self._decoder.midway:
            yield self._ended_early()

    def _read_stream(self, fd: int, *, block: bool) -> Iterator[Chunk | Reject]:
        buffered: list[bytes] = []
        size = 0
        if self._sniffed:
            first, self._sniffed = self._sniffed, b""
            self._raw_position += len(first)
            piece = self._decode(first)
            buffered.append(piece)
            size += len(piece)
        while not self.eof:
            raw = self._stream_read(fd, _STREAM_READ_BYTES, block=block)
            if raw is None:
                break
            if not raw:
                self.eof = True
                break
            self._raw_position += len(raw)
            piece = self._decode(raw)
            buffered.append(piece)
            size += len(piece)
            if self._decoder is not None and self._decoder.failed:
                yield from self._feed(b"".join(buffered))
                yield self._corrupt(self._decoder.failed)
                return
            if size >= self.chunk_bytes:
                yield from self._feed(b"".join(buffered))
                buffered, size = [], 0
            if self._spend(len(raw)):
                break
        if buffered:
            yield from self._feed(b"".join(buffered))
        if self.eof and self._decoder is not None and self._decoder.midway:
            yield self._ended_early()

    def _decode(self, raw: bytes) -> bytes:
        """Decompress ``raw`` and drop what lies before the start offset; check ``_failed()`` afterwards."""
        data = raw if self._decoder is None else self._decoder.decode(raw)
        if self._discard:
            skipped = min(self._discard, len(data))
            self._discard -= skipped
            data = data[skipped:]
        return data

    def _corrupt(self, reason: str) -> Reject:
        return self._stopped(reason, f"cannot decompress further: {reason}")

    def _ended_early(self) -> Reject:
        suffix = _SUFFIX[self._compression or "none"]
        reason = (
            f"compressed stream ends early at byte {self._raw_position} (truncated {suffix}): the records"
            " after it are lost"
        )
        return self._stopped(reason, reason)

    def _stopped(self, broken: str, reason: str) -> Reject:
        """Stop reading this source for good: a reject at the line where it stopped, holding the start of
        that line when it was cut (it is then not a ``partial()`` line as well)."""
        self.broken = broken
        raw = self._splitter.pending[:REJECT_PREFIX_BYTES]
        length = self.pending_length if self.pending_length > len(raw) else None
        return Reject(self.source.display, self.line, self.offset, reason, raw, length)

    def _feed(self, data: bytes) -> Iterator[Chunk | Reject]:
        for piece in self._splitter.feed(data):
            if isinstance(piece, LineRun):
                tail = piece.data[-TAIL_BYTES:]
                if len(tail) < TAIL_BYTES and self._tail:
                    tail = (self._tail + tail)[-TAIL_BYTES:]
                self._tail = tail
                yield Chunk(self.source, piece.offset, piece.first_line, piece.data)
            else:
                self._tail = b""
                yield _long_line_reject(self.source, piece, self.max_line)

    # -- lifetime --------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the descriptor if this reader opened it (stdin is never closed)."""
        if self._owns_fd and self._fd is not None and self._fd != 0:
            os.close(self._fd)
        self._fd = None
        self._stored = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _long_line_reject(source: SourceFile, piece: LongLine, cap: int) -> Reject:
    reason = f"line longer than {cap} bytes ({piece.length} bytes)"
    return Reject(source.display, piece.line, piece.offset, reason, piece.prefix, piece.length)


def read_all(
    sources: Sequence[SourceFile],
    *,
    rejects: list[Reject] | None = None,
    partial: list[PartialLine] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[Chunk]:
    """Every complete line of ``sources`` now, source by source in the given order (``discover()`` lists the
    oldest sibling first); stdin and other streams are read to their end.

    The reader's ``Reject``s (over-long lines, corrupt or cut-off compressed data) are appended to ``rejects``
    and each trailing partial line to ``partial``: pass lists to receive them — without them they are not
    reported. Raises ``SourceMissing`` when a source cannot be opened.
    """
    for source in sources:
        with FileReader(source, chunk_bytes=chunk_bytes) as reader:
            for item in reader.read_events(block=True):
                if isinstance(item, Chunk):
                    yield item
                elif rejects is not None:
                    rejects.append(item)
            held = reader.partial()
            if held is not None and partial is not None:
                partial.append(held)


def read_span(source: SourceFile, offset: int, length: int) -> bytes:
    """The exact ``length`` bytes at stream ``offset`` of ``source`` (decompressing from the start if needed).

    Returns fewer bytes when the stream is shorter. Raises ``SourceMissing`` when the file cannot be opened
    or is a stream (stdin, a pipe, a FIFO: it cannot be read again) and ``StreamCorrupt`` when compressed data
    ends in garbage before the span.
    """
    if source.reads_once:
        raise SourceMissing(f"{source.display}: a stream cannot be read again")
    with LocalFile(open_source(source)) as file:
        if stat.S_ISFIFO(os.fstat(file.fd).st_mode):
            raise SourceMissing(f"{source.display}: a stream cannot be read again")
        decoder = _decoder(source.compression)
        if decoder is None:
            return file.read_range(offset, length)
        out = bytearray()
        position = 0
        raw_position = 0
        while len(out) < length:
            raw = file.read_range(raw_position, RAW_BLOCK_BYTES)
            if not raw:
                break
            raw_position += len(raw)
            data = decoder.decode(raw)
            if decoder.failed:
                raise StreamCorrupt(f"{source.path}: {decoder.failed}")
            start = max(0, offset - position)
            if start < len(data):
                out += data[start : start + length - len(out)]
            position += len(data)
        return bytes(out)

"""The byte-level line splitter: complete lines, the held partial last line, line numbers, offsets, the cap.

Owns: cutting a byte stream that arrives in arbitrary pieces into runs of complete ``\\n``-terminated lines,
each run with the byte offset and 1-based line number of its first line; holding the trailing partial line
until its ``\\n`` arrives; and refusing to hold a line longer than ``contract.MAX_LINE_BYTES`` (it is reported
as a ``LongLine`` with its place, full length and a short prefix, and its bytes are skipped, so memory stays
bounded by the cap however long the line grows). Feeding the same bytes in any split gives the same lines,
offsets and line numbers (a hypothesis test pins it).

Must not: open files, decode text, parse JSON or judge a line's content (an empty line or a NUL run is a line
like any other; the parser decides). It imports only the standard library and the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from auditview.contract import MAX_LINE_BYTES

__all__ = ["REJECT_PREFIX_BYTES", "LineRun", "LineSplitter", "LongLine"]

#: How many leading bytes of an over-long line are kept (in ``LongLine.prefix`` and then ``Reject.raw``).
REJECT_PREFIX_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class LineRun:
    """Consecutive complete lines: ``data`` starts at stream byte ``offset`` and ends with ``\\n``."""

    offset: int
    first_line: int
    data: bytes


@dataclass(frozen=True, slots=True)
class LongLine:
    """A complete line whose content (without ``\\n``) is longer than the cap; only ``prefix`` is kept."""

    offset: int
    line: int
    length: int
    prefix: bytes


class LineSplitter:
    """Cuts fed bytes into ``LineRun``/``LongLine`` pieces; remembers the partial last line.

    ``offset`` and ``line`` always describe the first byte not yet handed out: the start of the pending
    partial line (or of the next line when nothing is pending). Resuming a new splitter at ``offset``/``line``
    and feeding the stream from ``offset`` gives exactly the pieces this one would still give.
    """

    def __init__(
        self,
        *,
        offset: int = 0,
        line: int = 1,
        max_line: int = MAX_LINE_BYTES,
        keep_prefix: int = REJECT_PREFIX_BYTES,
        count_runs: bool = True,
    ) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self.offset = offset
        self.line = line
        self.max_line = max_line
        #: False: the lines of a ``LineRun`` are not counted (the caller counts them, off this thread), so
        #: ``line`` and the line numbers handed out include only over-long lines (see ``FileReader``).
        self.count_runs = count_runs
        self.keep_prefix = min(keep_prefix, max_line)
        self._pending = b""
        self._pending_length = 0
        self._skipping = False

    @property
    def pending(self) -> bytes:
        """The held bytes of the partial last line (only a prefix once the line is already too long)."""
        return self._pending

    @property
    def pending_length(self) -> int:
        """The full length of the partial last line seen so far (0 when nothing is pending)."""
        return self._pending_length

    @property
    def position(self) -> int:
        """The stream offset of the next byte to feed: ``offset + pending_length``."""
        return self.offset + self._pending_length

    @property
    def skipping(self) -> bool:
        """True while the pending line is already over the cap (its bytes are being skipped)."""
        return self._skipping

    def rewind(self) -> None:
        """Forget the held partial line so that the caller can feed it again from ``offset`` (it re-reads the
        file there instead of paying for a copy); no effect while skipping an over-long line."""
        if not self._skipping:
            self._pending = b""
            self._pending_length = 0

    def feed(self, data: bytes) -> list[LineRun | LongLine]:
        """Take the next bytes of the stream; return the complete lines they finish, in stream order."""
        pieces: list[LineRun | LongLine] = []
        if not data:
            return pieces
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                self._grow_skipped(data, len(data))
                return pieces
            self._grow_skipped(data, newline)
            pieces.append(LongLine(self.offset, self.line, self._pending_length, self._pending))
            self.offset += self._pending_length + 1
            self.line += 1
            self._pending = b""
            self._pending_length = 0
            self._skipping = False
            data = data[newline + 1 :]
        buf = self._pending + data if self._pending else data
        self._split(buf, pieces)
        return pieces

    def _grow_skipped(self, data: bytes, upto: int) -> None:
        room = self.keep_prefix - len(self._pending)
        if room > 0:
            self._pending += data[: min(room, upto)]
        self._pending_length += upto

    def _split(self, buf: bytes, pieces: list[LineRun | LongLine]) -> None:
        size = len(buf)
        window = self.max_line + 1  # a line within the cap has its "\n" within this many bytes of its start
        base = self.offset
        run_start = 0
        run_line = self.line
        pos = 0  # start of the first line not yet known to be complete
        while pos < size:
            if size - pos <= window:
                newline = buf.rfind(b"\n", pos)
                if newline >= 0:
                    pos = newline + 1
                break
            newline = buf.rfind(b"\n", pos, pos + window)
            if newline >= 0:
                pos = newline + 1
                continue
            # The line starting at ``pos`` has no "\n" within the cap: it is over-long.
            if pos > run_start:
                run = buf[run_start:pos]
                pieces.append(LineRun(base + run_start, run_line, run))
                run_line += run.count(b"\n") if self.count_runs else 0
            end = buf.find(b"\n", pos + window)
            if end < 0:
                self._start_skipping(buf, pos, base, run_line)
                return
            pieces.append(LongLine(base + pos, run_line, end - pos, buf[pos : pos + self.keep_prefix]))
            run_line += 1
            pos = end + 1
            run_start = pos
        if pos > run_start:
            run = buf[run_start:pos] if (run_start, pos) != (0, size) else buf
            pieces.append(LineRun(base + run_start, run_line, run))
            run_line += run.count(b"\n") if self.count_runs else 0
        self.offset = base + pos
        self.line = run_line
        rest = size - pos
        if rest > self.max_line:
            self._start_skipping(buf, pos, base, run_line)
        else:
            self._pending = buf[pos:] if rest else b""
            self._pending_length = rest

    def _start_skipping(self, buf: bytes, pos: int, base: int, line: int) -> None:
        self.offset = base + pos
        self.line = line
        self._pending = buf[pos : pos + self.keep_prefix]
        self._pending_length = len(buf) - pos
        self._skipping = True

"""The ``audit-log`` subcommand: read this tool's log (rotated siblings included), filter, sort and print it.

``-o jsonl`` prints the stored lines byte for byte, oldest first by ``timestamp`` (records are appended when
they complete, so file order is not time order); ``-o json`` prints ``{"ok": true, "data": [...], "meta":
{...}}`` with each record as its producer wrote it; ``-o table`` (the default on a terminal) prints escaped,
aligned columns, ``-`` for a field the record does not give. Lines are read by the reader contract
(``auditview.reader_contract``), like every reader path, so a log that other producers append to (the
seed's hand-written shape, aliases, a logged response's ``meta``) is listed too: a line that is no record (not
a JSON object, no usable time) is skipped with a ``file:line: skipped: reason`` warning, and a record with an
unusable field value is kept, the field unknown, with a ``file:line: warning: reason`` line when it is shown.
Filters match the values the reader contract reads; ``--since`` and ``--until`` are both inclusive, as in
every auditview command. It never writes the log. ``auditview.text.timeparse`` (pendulum) and the source
layer's
follower are imported inside functions only, so that ``import auditview.writer`` stays light.

``-f`` reads through the source layer's ``Follower`` from the start (the log and its rotated siblings, the
log itself possibly not there yet) and runs the shared follow loop (``auditview.source.tail``): what is
printed first is what that follower read, and following continues on the same inodes at the exact byte
where that read stopped, so nothing appended meanwhile is lost, and rotation by rename, copytruncate and
truncation are handled as everywhere else.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Final, NoReturn, Protocol, TextIO

import orjson

from auditview.contract import ContractError
from auditview.reader_contract import ReadRecord, active_field_map, read_line
from auditview.text.sanitize import printable, truncate_display

if TYPE_CHECKING:
    from auditview.source.events import SourceEvent
    from auditview.source.follow import Follower
    from auditview.source.tail import CaughtUp
    from auditview.source.types import Chunk
    from auditview.writer.context import Invocation

__all__ = ["AuditedTool", "LogLine", "build_parser", "log_files", "read_log", "run_audit_log", "warn_fields"]

_FOLLOW_INTERVAL_S: Final = 0.25


class AuditedTool(Protocol):
    """What the command needs of the tool's ``Auditor``: its name, its log and an unrecorded invocation.

    A protocol, so that this module does not import the auditor (whose ``audit_log_main`` imports this one).
    """

    @property
    def tool(self) -> str: ...

    @property
    def log_path(self) -> str: ...

    def invocation(self, command: str, *, record: bool = True) -> AbstractContextManager[Invocation]: ...


@dataclass(frozen=True, slots=True)
class LogLine:
    """One record line: where it was, its raw bytes (without ``\\n``) and how the reader contract reads it."""

    moment: datetime
    path: str
    file_index: int
    line_no: int
    raw: bytes
    read: ReadRecord

    @property
    def record(self) -> dict[str, Any]:
        """The line decoded, as its producer wrote it (the reader contract made sure it is an object)."""
        decoded: dict[str, Any] = orjson.loads(self.raw)
        return decoded


class _Parser(argparse.ArgumentParser):
    """Usage errors go to the given stream; a ``--since``/``--until`` error lists the ``WHEN`` forms."""

    def __init__(self, *args: Any, err: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._err = err

    def error(self, message: str) -> NoReturn:
        from auditview.text.timeparse import WHEN_HELP

        if "--since" in message or "--until" in message:
            message = f"{message} (WHEN is {WHEN_HELP})"
        err = self._err or sys.stderr
        self.print_usage(err)
        err.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser(prog: str, err: TextIO | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``<tool> audit-log``; usage errors are written to ``err`` (default stderr)."""
    from auditview.text.timeparse import WHEN_HELP

    parser = _Parser(
        err=err,
        prog=prog,
        description="Show this tool's audit log, oldest first.",
        epilog=f"WHEN is {WHEN_HELP}.",
    )
    parser.add_argument("--since", metavar="WHEN", help="only records that started at or after WHEN")
    parser.add_argument("--until", metavar="WHEN", help="only records that started at or before WHEN")
    parser.add_argument("--trace-id", metavar="ID", help="only records of this trace")
    parser.add_argument("--command", metavar="NAME", help="only records of this command")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new records as they arrive"
    )
    parser.add_argument(
        "-n", "--lines", type=_non_negative, metavar="N", help="only the last N matching records"
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("jsonl", "json", "table"),
        help="output format (default: table on a terminal, else jsonl)",
    )
    return parser


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def log_files(path: str) -> list[str]:
    """The live log and its rotated siblings (``path.N``, ``path-YYYYMMDD``..., compressed or not), oldest
    first, live last (``auditview.source.discover.log_sources``)."""
    from auditview.source.discover import log_sources

    return [str(source.path) for source in log_sources(Path(path))]


def _split_lines(
    data: bytes, path: str, file_index: int, warn: TextIO, *, first_line: int = 1, final: bool = True
) -> Iterator[LogLine]:
    lines = data.split(b"\n")
    trailing = lines.pop()  # after the last "\n": empty, or an unterminated fragment
    if trailing and final:
        lines.append(trailing)
    for offset, raw in enumerate(lines):
        line_no = first_line + offset
        if not raw.strip():
            continue
        try:
            read = read_line(raw, path=path)
        except ContractError as exc:
            reason = str(exc)
            if trailing and final and offset == len(lines) - 1:
                reason = f"incomplete last line ({reason})"
            _warn(warn, f"{path}:{line_no}: skipped: {reason}")
            continue
        yield LogLine(read.ts, path, file_index, line_no, raw, read)


def read_log(path: str, warn: TextIO) -> list[LogLine]:
    """All records of the log at ``path`` and its rotated siblings, in file order (``warn`` gets a line per
    skipped line; the field warnings of the records a caller shows are for it to report, ``warn_fields``).

    Read through the source layer (``log_sources``, ``FileReader``): gzip and zstd by their bytes, a pipe or
    FIFO never opened; a last line without ``\\n`` is read as a line too (nobody is appending meanwhile)."""
    from auditview.source.discover import log_sources
    from auditview.source.read import FileReader
    from auditview.source.types import Chunk

    result: list[LogLine] = []
    for index, source in enumerate(log_sources(Path(path))):
        display = str(source.path)
        if source.stream:
            _warn(warn, f"{display}: skipped: not a regular file")
            continue
        try:
            with FileReader(source) as reader:
                for item in reader.read_events(block=True):
                    if isinstance(item, Chunk):
                        result.extend(
                            _split_lines(item.data, display, index, warn, first_line=item.first_line)
                        )
                    else:
                        _warn(warn, f"{item.where}: skipped: {item.reason}")
                if reader.partial() is not None:
                    result.extend(_split_lines(reader.pending, display, index, warn, first_line=reader.line))
        except ImportError:
            _warn(warn, f"{display}: skipped: reading zstd needs the zstandard package")
        except OSError as exc:
            _warn(warn, f"{display}: skipped: {exc}")
    return result


def warn_fields(lines: Sequence[LogLine], warn: TextIO) -> None:
    """``file:line: warning: reason`` for each unusable field value of ``lines`` (the records are kept)."""
    for line in lines:
        for reason in line.read.warnings:
            _warn(warn, f"{line.path}:{line.line_no}: warning: {reason}", prefix="")


@dataclass(frozen=True, slots=True)
class _Filter:
    since: datetime | None
    until: datetime | None
    trace_id: str | None
    command: str | None

    def accepts(self, line: LogLine) -> bool:
        if self.since is not None and line.moment < self.since:
            return False
        if self.until is not None and line.moment > self.until:
            return False
        values = line.read.values
        if self.trace_id is not None and values["trace_id"] != self.trace_id:
            return False
        return self.command is None or values["command"] == self.command


def run_audit_log(
    auditor: AuditedTool,
    argv: Sequence[str],
    *,
    prog: str | None = None,
    stdout: BinaryIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the audit-log command for ``auditor``'s log; returns 0, 1 (log unreadable) or 2 (bad usage)."""
    from auditview.text.timeparse import WHEN_HELP, TimeParseError, parse_when

    out: BinaryIO = stdout if stdout is not None else sys.stdout.buffer
    err: TextIO = stderr if stderr is not None else sys.stderr
    name = prog or f"{auditor.tool} audit-log"
    parser = build_parser(name, err)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    bounds: dict[str, datetime | None] = {}
    for option in ("since", "until"):
        text = getattr(args, option)
        try:
            bounds[option] = parse_when(text) if text is not None else None
        except TimeParseError:
            err.write(f"{name}: error: bad --{option} value {printable(text)!r}: expected {WHEN_HELP}\n")
            return 2
    try:
        active_field_map()  # a broken fields.toml or AUDITVIEW_FIELDS is a usage error, not a traceback
    except ValueError as exc:
        err.write(f"{name}: error: {printable(str(exc))}\n")
        return 2
    output = args.output or ("table" if _isatty(out) else "jsonl")
    if args.follow and output == "json":
        err.write(f"{name}: error: --follow cannot be used with -o json (use jsonl or table)\n")
        return 2
    selector = _Filter(bounds["since"], bounds["until"], args.trace_id, args.command)
    with auditor.invocation("audit-log", record=False) as inv:
        path = auditor.log_path
        following: _Following | None = None
        try:
            if args.follow:
                following = _Following(path)
                read = following.initial(err)
            else:
                read = read_log(path, err)
        except KeyboardInterrupt:
            if following is not None:
                following.close()
            return 0
        lines = [line for line in read if selector.accepts(line)]
        lines.sort(key=lambda line: (line.moment, line.file_index, line.line_no))
        if args.lines is not None:
            lines = lines[len(lines) - args.lines :] if args.lines else []
        warn_fields(lines, err)
        try:
            if output == "jsonl":
                out.write(b"".join(line.raw + b"\n" for line in lines))
            elif output == "json":
                warned = sum(1 for line in lines if line.read.warnings)
                meta = {**inv.meta(), "count": len(lines), "warnings": warned, "log_path": path}
                body = {"ok": True, "data": [line.record for line in lines], "meta": meta}
                out.write(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS) + b"\n")
            else:
                out.write(_table(lines, header=True).encode())
            out.flush()
            if following is not None:
                following.follow(selector, output, out, err)
        except BrokenPipeError:
            _silence_stdout()
        except KeyboardInterrupt:
            return 0
        finally:
            if following is not None:
                following.close()
    return 0


class _Following:
    """``-f``: one ``Follower`` on the log and its rotated siblings, and the shared loop over it.

    ``initial()`` returns the records there now, as the follower read them; ``follow()`` then prints each
    record appended later, continuing on the same inodes at the exact byte where that first read stopped
    (the follower's descriptors stay open), through rotation by rename, copytruncate and truncation.
    """

    def __init__(self, path: str) -> None:
        from auditview.source.follow import Follower
        from auditview.source.tail import tail

        # missing_ok: the log may not exist yet (it is followed once it appears); read_siblings: the rotated
        # siblings are part of this log, read first like read_log() reads them, and watched afterwards.
        self._follower: Follower = Follower([path], read_siblings=True, missing_ok=True)
        self._items: Iterator[Chunk | SourceEvent | CaughtUp] = tail(self._follower, wait=_FOLLOW_INTERVAL_S)

    def initial(self, warn: TextIO) -> list[LogLine]:
        """Every record there now (rotated siblings first, in file order), read through the follower."""
        from auditview.source.types import Chunk

        lines: list[LogLine] = []
        files: dict[str, int] = {}
        for item in self._items:
            if not isinstance(item, Chunk):
                break  # CaughtUp(initial=True): the rest comes from follow()
            display = item.source.display
            file_index = files.setdefault(display, len(files))
            lines.extend(_split_lines(item.data, display, file_index, warn, first_line=item.first_line))
        return lines

    def follow(self, selector: _Filter, output: str, out: BinaryIO, err: TextIO) -> None:
        """Print the matching records as they are appended (each batch as read), until interrupted."""
        from auditview.source.events import FileUnreadable, LineRejected
        from auditview.source.types import Chunk

        for item in self._items:
            if isinstance(item, Chunk):
                _print_fresh(item, selector, output, out, err)
            elif isinstance(item, LineRejected):
                _warn(err, f"{item.reject.where}: skipped: {item.reject.reason}")
            elif isinstance(item, FileUnreadable):
                _warn(err, f"{item.source.display}: skipped: {item.reason}")

    def close(self) -> None:
        self._follower.close()


def _print_fresh(chunk: Chunk, selector: _Filter, output: str, out: BinaryIO, err: TextIO) -> None:
    display = chunk.source.display
    fresh = [
        line
        for line in _split_lines(chunk.data, display, 0, err, first_line=chunk.first_line)
        if selector.accepts(line)
    ]
    if fresh:
        warn_fields(fresh, err)
        if output == "jsonl":
            out.write(b"".join(line.raw + b"\n" for line in fresh))
        else:
            out.write(_table(fresh, header=False).encode())
        out.flush()


_COLUMNS: Final = (
    ("TIME (UTC)", 23),
    ("COMMAND", 16),
    ("EXIT", 4),
    ("DURATION", 10),
    ("TRACE", 34),
    ("REQUEST", 40),
)


def _table(lines: Sequence[LogLine], *, header: bool) -> str:
    rows: list[str] = []
    if header:
        rows.append("  ".join(title.ljust(width) for title, width in _COLUMNS).rstrip())
    for line in lines:
        values = line.read.values
        duration = values["duration_ms"]
        cells = (
            line.moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:23],
            _cell(values["command"]),
            _cell(values["exit_code"]),
            "-" if duration is None else f"{float(duration):.1f} ms",
            _cell(values["trace_id"]),
            _cell(values["request_id"]),
        )
        rows.append(
            "  ".join(
                truncate_display(printable(cell), width).ljust(width)
                for cell, (_, width) in zip(cells, _COLUMNS, strict=True)
            ).rstrip()
        )
    return "".join(row + "\n" for row in rows)


def _cell(value: Any) -> str:
    """A table cell: ``-`` for a field the record does not give."""
    return "-" if value is None else str(value)


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _warn(err: TextIO, message: str, *, prefix: str = "warning: ") -> None:
    try:
        err.write(f"{prefix}{printable(message)}\n")
        err.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so interpreter shutdown does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass

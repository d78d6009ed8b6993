"""``auditview audit-log``: the contract's audit-log subcommand over every source, the stored lines oldest
first; ``-f`` keeps printing records as they arrive.

Owns the follow loop's printing (``_follow``): the shared follow loop (``auditview.source.tail``) applied to
an index as the app does, each batch selected like the one-shot listing and printed as it arrives.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from auditview.cli.errors import EXIT_NOINPUT, EXIT_OK, CliError, usage_error
from auditview.cli.loading import check_rejects, compile_filter, listing_columns, load, selection_of
from auditview.cli.output import Run, parsed_records, stderr
from auditview.cli.tables import records_table
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    import polars as pl

    from auditview.core.index import AuditIndex
    from auditview.source.types import Chunk

__all__ = ["execute"]

_FOLLOW_WAIT_S: Final = 0.25


def execute(run: Run) -> int:
    """Print the selected records' stored lines (``jsonl``), parsed records (``json``) or a table."""
    if run.ns.follow and run.output == "json":
        raise usage_error("--follow cannot be used with -o json (use jsonl or table)")
    if run.ns.follow:
        return _follow(run)
    selected = load(
        run, listing_columns(run), trace_id=run.ns.trace_id, command=run.ns.command, pushdown=True
    )
    frame = selected.frame
    if run.ns.last is not None:
        frame = frame.tail(run.ns.last)
    if run.output == "json":
        run.emit_json(list(parsed_records(selected.index, frame)))
    elif run.output == "table":
        run.emit_lines(records_table(frame, width=run.width(), palette=run.palette()))
    else:
        _write_raw(run, selected.index, frame)
    return EXIT_OK


def _write_raw(run: Run, index: AuditIndex, frame: pl.DataFrame) -> None:
    """The stored lines of ``frame``'s records, byte for byte, each with its ``\\n``."""
    run.stdout.flush()
    out = run.stdout.buffer
    batch: list[bytes] = []
    for raw in index.iter_raw(frame):
        batch.append(raw)
        if len(batch) >= 4096:
            out.write(b"\n".join(batch) + b"\n")
            batch.clear()
    if batch:
        out.write(b"\n".join(batch) + b"\n")
    out.flush()


class _HeldLines:
    """The bytes of the chunks read, by ``file_id``: ``-f -o jsonl`` prints each record's stored line from
    what the follower read, never by reading the file back, which may have been rotated, truncated or
    replaced meanwhile (and the path would then name other bytes)."""

    def __init__(self) -> None:
        self._chunks: dict[int, list[Chunk]] = {}
        self._starts: dict[int, list[int]] = {}

    def add(self, file_id: int, chunk: Chunk) -> None:
        self._chunks.setdefault(file_id, []).append(chunk)
        self._starts.setdefault(file_id, []).append(chunk.offset)

    def lines(self, rows: pl.DataFrame) -> Iterator[bytes]:
        """Each row's line (without ``\\n``), in the rows' order."""
        for file_id, offset, length in rows.select("file_id", "offset", "length").iter_rows():
            place = bisect_right(self._starts[file_id], offset) - 1
            chunk = self._chunks[file_id][place]
            start = offset - chunk.offset
            yield chunk.data[start : start + length]


def _follow(run: Run) -> int:
    """``audit-log -f``: the matching records there now, then every new one as it is appended (Ctrl-C ends).

    It runs the shared follow loop (``auditview.source.tail``, as the app and the writer's own ``audit-log
    -f`` do) and applies each item to its index as the app does (``apply_to_index``: rotations and
    truncations re-point or drop rows), so a trace-level filter sees the records as they are now. New
    records are printed in the order they arrive (each batch by start time); ``-o jsonl`` prints the bytes
    the follower read, so a rotation, truncation or replacement of the file cannot change what is printed.
    """
    from auditview.core.index import AuditIndex
    from auditview.core.live import apply_to_index
    from auditview.core.query import time_range
    from auditview.core.selection import apply_selectors, projection
    from auditview.source.discover import SourceMissing
    from auditview.source.events import FileUnreadable
    from auditview.source.follow import Follower
    from auditview.source.tail import CaughtUp, tail
    from auditview.source.types import Chunk

    selection = selection_of(run, trace_id=run.ns.trace_id, command=run.ns.command)
    compiled = compile_filter(selection)
    try:
        follower = Follower(list(selection.paths))
    except SourceMissing as exc:
        raise CliError(str(exc), exit_code=EXIT_NOINPUT, error_type="SourceMissing") from None
    needed = None if compiled is not None and compiled.uses_trace else listing_columns(run)
    index = AuditIndex(columns=projection(compiled, needed))
    raw = run.output == "jsonl"

    def select(rows: pl.DataFrame) -> pl.DataFrame:
        rows = apply_selectors(selection, time_range(rows, selection.since, selection.until))
        if compiled is None:
            return rows
        if not compiled.uses_trace:
            return compiled.apply(rows)
        # Trace-level predicates depend on the whole trace: decide on everything, keep the new rows.
        matched = compiled.apply(index.frame).select("file_id", "offset")
        return rows.join(matched, on=["file_id", "offset"], how="semi")

    def emit(rows: pl.DataFrame, held: _HeldLines | None, *, first: bool) -> None:
        if held is not None:
            if rows.height:
                out = run.stdout.buffer
                run.stdout.flush()
                out.write(b"".join(line + b"\n" for line in held.lines(rows)))
                out.flush()
        else:
            lines = records_table(rows, width=run.width(), palette=run.palette(), fixed=True, header=first)
            if lines:
                run.emit_lines(lines)
                run.stdout.flush()

    initial: _HeldLines | None = _HeldLines() if raw else None
    seen_rejects = 0
    try:
        for item in tail(follower, wait=_FOLLOW_WAIT_S):
            if isinstance(item, CaughtUp):
                if item.initial:
                    check_rejects(run, index)
                    seen_rejects = len(index.rejects)  # reported just now
                    for note in run.notes:
                        stderr(note)
                    run.notes.clear()
                    current = select(index.frame)
                    last = run.ns.last
                    emit(current.tail(last) if last is not None else current, initial, first=True)
                    initial = None  # printed: the bytes read so far are no longer needed
                for reject in index.rejects[seen_rejects:]:
                    stderr(f"auditview: malformed line skipped: {printable(reject.where)}: {reject.reason}")
                seen_rejects = len(index.rejects)
                continue
            change = apply_to_index(index, item)
            if isinstance(item, Chunk):
                if initial is not None:  # the lines there at the start: printed together, sorted, at the end
                    initial.add(index.file_id(item.source), item)
                elif change.rows is not None:
                    held = None
                    if raw:
                        held = _HeldLines()
                        held.add(index.file_id(item.source), item)
                    emit(select(change.rows), held, first=False)
            elif isinstance(item, FileUnreadable):
                stderr(f"auditview: warning: cannot read {printable(item.source.display)}: {item.reason}")
        return EXIT_OK  # (tail without ``stop`` never ends)
    except KeyboardInterrupt:
        return EXIT_OK  # Ctrl-C is how a follow ends
    finally:
        follower.close()

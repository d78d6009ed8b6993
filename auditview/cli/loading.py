"""The CLI's side of a selection: the request built from the options, the engine's failures as exit codes.

``auditview.core.selection`` answers the request (paths, time range, filter, trace, command → an index or a
frame); this module builds the ``Selection`` from a run's options, turns the engine's exceptions into
``CliError`` (a bad filter: exit 2 with a caret; an input: exit 66; not an audit log: exit 65) and its counts
into stderr notes (malformed lines, field warnings, no logs found), and fails ``--strict`` runs with malformed
lines (exit 65).
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import orjson

from auditview.cli.errors import EXIT_DATAERR, EXIT_NOINPUT, EXIT_USAGE, CliError
from auditview.cli.output import Run
from auditview.cli.tables import RECORD_TABLE_COLUMNS
from auditview.core.query import FilterError
from auditview.core.selection import (
    Selected,
    Selection,
    compile_selection,
    narrow,
    open_index,
)
from auditview.core.selection import discover_sources as discover_selected
from auditview.source.discover import NoAuditLogs, SourceMissing, default_roots
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    from auditview.core.index import AuditIndex
    from auditview.core.query import CompiledFilter
    from auditview.source.types import SourceFile

__all__ = [
    "check_rejects",
    "compile_filter",
    "discover_sources",
    "listing_columns",
    "load",
    "load_index",
    "selection_of",
    "selection_text",
]


def selection_of(
    run: Run, *, trace_id: str | None = None, command: str | None = None, pushdown: bool = False
) -> Selection:
    """The request of a run: its paths, ``--since``/``--until``, ``--filter``, ``--slow`` and ``--no-cache``.

    ``pushdown``: the command is a one-shot listing; it holds unless every line must be checked
    (``--check-all``, ``--strict``, ``--manifest``).
    """
    ns = run.ns
    every_line = (
        getattr(ns, "check_all", False) or getattr(ns, "strict", False) or getattr(ns, "manifest", None)
    )
    return Selection(
        paths=tuple(getattr(ns, "paths", None) or ()),
        since=run.since,
        until=run.until,
        filter_text=getattr(ns, "filter", "") or "",
        slow_ms=run.slow_ms,
        trace_id=trace_id,
        command=command,
        cache=not getattr(ns, "no_cache", False),
        pushdown=pushdown and not every_line,
    )


def compile_filter(selection: Selection) -> CompiledFilter | None:
    """The request's filter compiled; a bad one is exit 2 with the caret under the error."""
    try:
        return compile_selection(selection)
    except FilterError as exc:
        caret = "\n".join("  " + line for line in exc.caret().splitlines()) if exc.text else ""
        raise CliError(
            f"bad filter: {exc}",
            exit_code=EXIT_USAGE,
            error_type="FilterError",
            detail=caret,
            extra={"position": exc.position, "expected": exc.expected, "suggestion": exc.suggestion},
        ) from None


def discover_sources(run: Run, selection: Selection) -> list[SourceFile]:
    """The sources of ``PATH...``: a missing or unreadable input, a device, or a named directory without an
    audit log is exit 66; with no PATH, finding nothing under the XDG roots is noted (exit 0 stays)."""
    try:
        sources = discover_selected(selection)
    except NoAuditLogs as exc:
        example = ""
        if exc.candidates:
            example = f", e.g. '{shlex.join(['auditview', run.command, str(exc.candidates[0])])}'"
        raise CliError(
            f"{exc}{example}",
            exit_code=EXIT_NOINPUT,
            error_type="NoAuditLogs",
            extra={"candidates": [str(path) for path in exc.candidates]},
        ) from None
    except SourceMissing as exc:
        raise CliError(str(exc), exit_code=EXIT_NOINPUT, error_type="SourceMissing") from None
    if not sources and not selection.paths:
        roots = " or ".join(f"{root}/*/" for root in default_roots())
        run.notes.append(f"auditview: no audit logs under {roots} (name a file or directory to read)")
    return sources


def load_index(
    run: Run,
    selection: Selection,
    needed: Iterable[str] | None = None,
    *,
    compiled: CompiledFilter | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditIndex:
    """The index of the request (``core.selection.open_index``), checked: an unreadable input is exit 66, an
    input without one record exit 65; malformed lines and field warnings are noted (exit 65 with
    ``--strict``)."""
    sources = discover_sources(run, selection)
    try:
        index = open_index(selection, needed, compiled=compiled, sources=sources, progress=progress)
    except SourceMissing as exc:
        raise CliError(str(exc), exit_code=EXIT_NOINPUT, error_type="SourceMissing") from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise CliError(
            f"cannot read {exc.filename or exc}: {exc.strerror or exc}",
            exit_code=EXIT_NOINPUT,
            error_type="SourceMissing",
        ) from None
    _check_not_audit_logs(run, index)
    check_rejects(run, index)
    return index


def load(
    run: Run,
    needed: Iterable[str] | None = None,
    *,
    trace_id: str | None = None,
    command: str | None = None,
    pushdown: bool = False,
) -> Selected:
    """Discover and index the inputs (only the ``needed`` columns), check them, then keep the records in the
    time range, those the filter keeps, and those of ``trace_id`` and ``command`` when given.

    ``pushdown``: a one-shot listing, whose load may parse only the lines that can match (``selection_of``).
    """
    selection = selection_of(run, trace_id=trace_id, command=command, pushdown=pushdown)
    compiled = compile_filter(selection)
    index = load_index(run, selection, needed, compiled=compiled)
    return narrow(selection, index, compiled)


def _check_not_audit_logs(run: Run, index: AuditIndex) -> None:
    """A file in which not one line is a record (a binary, another program's log) is not an audit log with bad
    lines: exit 65 when no input holds a record, a note naming it otherwise (``rejects`` lists the lines).

    Undecidable after filter pushdown (lines ruled out unparsed may be records): then nothing is said here.
    """
    if run.command in ("rejects", "cache") or index.unchecked or not index.rejects:
        return
    rejected = Counter(reject.path for reject in index.rejects)
    reasons = {reject.path: reject.reason for reject in index.rejects}
    frame = index.frame
    with_rows = set(frame.get_column("file_id").unique().to_list()) if frame.height else set()
    empty = [
        (source.display, rejected[source.display])
        for file_id, source in enumerate(index.files)
        if file_id not in with_rows and rejected[source.display]
    ]
    if not empty:
        return

    def what(path: str, count: int) -> str:
        if count == 1:  # often the reader's own reject: a compressed stream cut short, say which
            return f"{path}: not one line is a record (1 malformed line: {reasons[path]})"
        return f"{path}: not one line is a record ({count} malformed lines) — is it an audit log?"

    if frame.height:
        run.notes.extend(f"auditview: {printable(what(path, count))}" for path, count in empty)
        return
    hint = shlex.join(["auditview", "rejects", *run.ns.paths])
    raise CliError(
        f"{'; '.join(what(path, count) for path, count in empty)} (see '{hint}')",
        exit_code=EXIT_DATAERR,
        error_type="NotAuditLog",
    )


def check_rejects(run: Run, index: AuditIndex) -> None:
    """Report malformed lines on stderr (never silently), and fail with 65 under ``--strict``."""
    count = len(index.rejects)
    run.fields["rejects"] = count
    warned = index.warning_count
    run.fields["warnings"] = warned
    if index.unchecked:
        run.fields["unchecked"] = index.unchecked
    if run.command == "rejects":
        return
    if warned:
        hint = shlex.join(["auditview", "rejects", "--warnings", *run.ns.paths])
        run.notes.append(
            f"auditview: {warned} field warning{'s' if warned != 1 else ''} (unusable values read as "
            f"unknown, their records kept); see '{hint}'"
        )
    if not count:
        return
    hint = shlex.join(["auditview", "rejects", *run.ns.paths])
    noun = "line" if count == 1 else "lines"
    if getattr(run.ns, "strict", False):
        raise CliError(
            f"{count} malformed {noun} in the input (--strict); see '{hint}'",
            exit_code=EXIT_DATAERR,
            error_type="RejectsPresent",
        )
    among = " among the lines the filter could match" if index.unchecked else ""
    run.notes.append(f"auditview: {count} malformed {noun}{among} skipped; see '{hint}'")


def selection_text(filter_text: str, trace_id: str | None) -> str | None:
    """What selected the exported records, for the manifest: the filter, and-ed with the trace."""
    parts = [f"({filter_text})" if trace_id is not None else filter_text] if filter_text.strip() else []
    if trace_id is not None:
        parts.append(f"trace_id={orjson.dumps(trace_id).decode()}")
    return " and ".join(parts) or None


def listing_columns(run: Run) -> frozenset[str]:
    """Columns for export and audit-log: the sort key and the selectors, or a table's columns."""
    columns = {"ts"}
    if getattr(run.ns, "trace", None) is not None or getattr(run.ns, "trace_id", None) is not None:
        columns.add("trace_id")
    if getattr(run.ns, "command", None) is not None:
        columns.add("command")
    if run.output == "table":
        columns |= RECORD_TABLE_COLUMNS
    return frozenset(columns)

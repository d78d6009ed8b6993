"""The one way from a request — paths, a time range, a filter, a trace or a command — to an index or a frame.

Owns ``Selection`` (the request, a frozen value) and the functions that answer it: ``compile_selection`` (the
filter), ``discover_sources`` (the inputs), ``open_index`` (the index of only the columns asked for, with the
filter pushdown of a one-shot listing), ``narrow`` (time range, then filter, then the exact trace and command
selectors) and ``select`` (all of it). ``resolve_trace_id`` turns a trace id or a unique prefix into the id.

Must not: parse arguments, print, or import a UI library. Failures are exceptions the front end shows:
``FilterError`` (a bad filter), ``NoAuditLogs`` / ``SourceMissing`` / ``OSError`` (an input),
``TraceNotFoundError`` and ``AmbiguousTraceId`` (a trace id).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

import polars as pl

from auditview.core.index import AuditIndex
from auditview.core.query import CompiledFilter, compile_filter, time_range
from auditview.core.slow import SlowStepRule
from auditview.core.timeline import TraceNotFoundError
from auditview.source.discover import discover

if TYPE_CHECKING:
    from auditview.core.pushdown import Prefilter
    from auditview.source.types import SourceFile

__all__ = [
    "DEFAULT_SLOW_MS",
    "AmbiguousTraceId",
    "Selected",
    "Selection",
    "apply_selectors",
    "compile_selection",
    "discover_sources",
    "exact_selectors",
    "narrow",
    "open_index",
    "prefilter",
    "projection",
    "resolve_trace_id",
    "select",
    "slow_rule",
]

#: A step is slow above this duration unless the request says otherwise (the CLI's ``--slow 5s``).
DEFAULT_SLOW_MS: Final = 5_000.0


@dataclass(frozen=True, slots=True)
class Selection:
    """Which records: the inputs, a time range (inclusive), a filter, and exact trace/command selectors.

    ``slow_ms`` is the threshold of the filter's ``slow`` predicates. ``cache``: use the index cache (off:
    parse every input afresh). ``pushdown``: a one-shot listing, which filters the frame right after loading,
    may have the load parse only the lines that can match (``auditview.core.pushdown``); off, every line is
    checked.
    """

    paths: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    filter_text: str = ""
    slow_ms: float = DEFAULT_SLOW_MS
    trace_id: str | None = None
    command: str | None = None
    cache: bool = True
    pushdown: bool = False


@dataclass(frozen=True, slots=True)
class Selected:
    """The answer to ``selection``: the index, and the records left after the time range, the filter and the
    selectors. ``narrowed``: a time range or a filter applied (the frame may then lack records of its traces).
    """

    selection: Selection
    index: AuditIndex
    frame: pl.DataFrame
    narrowed: bool


class AmbiguousTraceId(ValueError):  # noqa: N818 - named after what the user gave, like TraceNotFoundError
    """A trace id prefix that several trace ids start with; ``candidates`` holds them, sorted."""

    def __init__(self, wanted: str, candidates: list[str]) -> None:
        super().__init__(f"trace id prefix {wanted!r} is ambiguous")
        self.wanted = wanted
        self.candidates = candidates


def slow_rule(selection: Selection) -> SlowStepRule:
    """The slow-step rule of the request (its threshold; the relative rule as the engine defines it)."""
    return SlowStepRule(threshold_ms=selection.slow_ms)


def compile_selection(selection: Selection) -> CompiledFilter | None:
    """The request's filter, compiled; ``None`` when there is none. Raises ``FilterError``."""
    if not selection.filter_text.strip():
        return None
    return compile_filter(selection.filter_text, slow_rule=slow_rule(selection))


def discover_sources(selection: Selection) -> list[SourceFile]:
    """The sources of the request's paths (every audit log found when there are none).

    Raises ``NoAuditLogs`` for a named directory without an audit log and ``SourceMissing`` for a missing or
    unreadable input, a device, or a FIFO with no writer.
    """
    return discover(list(selection.paths), require_logs=True)


def projection(compiled: CompiledFilter | None, needed: Iterable[str] | None) -> frozenset[str] | None:
    """The index columns to build: what the caller reads plus what the filter reads (``None`` = all).

    The filter's columns are ``CompiledFilter.columns``.
    """
    if needed is None:
        return None
    return frozenset(needed) | (compiled.columns if compiled is not None else frozenset())


def exact_selectors(selection: Selection) -> dict[str, str]:
    """The exact selectors the request gives, by index column (``{"trace_id": ID, "command": NAME}``)."""
    selectors = {"trace_id": selection.trace_id, "command": selection.command}
    return {name: value for name, value in selectors.items() if value is not None}


def prefilter(selection: Selection, compiled: CompiledFilter | None) -> Prefilter | None:
    """The filter pushdown of the request: ``None`` unless ``pushdown`` is asked for and not turned off by
    ``AUDITVIEW_PUSHDOWN=0``, or when it could rule no line out."""
    if not selection.pushdown or os.environ.get("AUDITVIEW_PUSHDOWN") == "0":
        return None
    from auditview.core.pushdown import line_prefilter

    return line_prefilter(
        compiled, since=selection.since, until=selection.until, equals=exact_selectors(selection)
    )


def open_index(
    selection: Selection,
    needed: Iterable[str] | None = None,
    *,
    compiled: CompiledFilter | None = None,
    sources: list[SourceFile] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditIndex:
    """Index the request's sources (``discover_sources`` unless given): only the ``needed`` columns (``None``
    = all) plus those the time range, the filter and the selectors read, with the request's pushdown.

    Raises ``SourceMissing`` or ``OSError`` when an input cannot be read.
    """
    if sources is None:
        sources = discover_sources(selection)
    columns: set[str] | None = None
    if needed is not None:
        columns = {*needed, *exact_selectors(selection)}
        if selection.since is not None or selection.until is not None:
            columns.add("ts")
    return AuditIndex.load(
        sources,
        columns=projection(compiled, columns),
        cache=None if selection.cache else False,
        progress=progress,
        prefilter=prefilter(selection, compiled),
    )


def narrow(selection: Selection, index: AuditIndex, compiled: CompiledFilter | None) -> Selected:
    """The index's records in the time range, then those the filter keeps, then the exact selectors'."""
    frame = index.frame
    narrowed = False
    if selection.since is not None or selection.until is not None:
        frame = time_range(frame, selection.since, selection.until)
        narrowed = True
    if compiled is not None:
        frame = compiled.apply(frame)
        narrowed = True
    return Selected(selection, index, apply_selectors(selection, frame), narrowed)


def apply_selectors(selection: Selection, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` whose trace id and command are those the request names (when it names them)."""
    for name, value in exact_selectors(selection).items():
        frame = frame.filter(pl.col(name).cast(pl.String) == value)
    return frame


def select(selection: Selection, needed: Iterable[str] | None = None) -> Selected:
    """Answer the request in one call: compile, discover, index (``needed`` columns), narrow."""
    compiled = compile_selection(selection)
    return narrow(selection, open_index(selection, needed, compiled=compiled), compiled)


def resolve_trace_id(frame: pl.DataFrame, wanted: str) -> str:
    """``wanted`` when it is a trace id in ``frame``, else the one trace id it is a unique prefix of.

    Raises ``AmbiguousTraceId`` when several start with it, ``TraceNotFoundError`` when none does.
    """
    ids = frame.get_column("trace_id").cast(pl.String)
    if (ids == wanted).any():
        return wanted
    if wanted:
        candidates = [str(c) for c in ids.filter(ids.str.starts_with(wanted)).unique().sort().to_list()]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            raise AmbiguousTraceId(wanted, candidates)
    raise TraceNotFoundError(wanted)

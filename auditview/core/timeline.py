"""The timeline of one trace: steps on the trace's time axis, idle gaps, nesting and the critical path.

Owns ``build_timeline`` and its dataclasses (``Timeline``, ``TimelineStep``, ``Gap``), and the one row layout
of a waterfall every front end draws (``display_order``, ``display_rows``). The definitions (also in
``notes/query.md``):

- **Steps** are the trace's records ordered by start (``ts``; ties keep frame order). ``start_ms`` is the
  offset from the trace's start (its earliest ``ts``), ``end_ms = start_ms + duration_ms``; the trace ends at
  the latest step end, and ``span_ms`` is that end's offset.
- **Gaps** are the uncovered parts of ``[0, span_ms]``: the time between the first start and the last end
  when no step was running (an agent thinking or waiting). ``after_request_id`` is the step whose end opened
  the gap (the one that ended last before it), ``before_request_id`` the step that closed it.
- **Nesting**: a step's parent is the step of the same trace whose ``request_id`` equals its
  ``parent_request_id`` (the first such step when ids repeat). A missing parent, a parent outside the trace,
  a self-reference, or a link that would close a cycle (links are accepted in start order) leaves the step
  at the top level (depth 0); depth is the number of accepted links up to a top-level step.
- **Critical path** (the steps that made the trace long): walk backwards in time from the trace's end over
  the top-level steps: at time ``t`` choose, among the steps that started before ``t``, the one still running
  at ``t`` (``end >= t``; the earliest-starting such step) or, if none, the one that ended last (earliest
  start on ties); it is on the path and the walk continues from its start. The walk stops when no step
  started before ``t``. Each step on the path is then walked into the same way over its children, from its
  own end, so the children that kept a parent busy are on the path too.

This module must not import a UI library and never reads files; the rows of the trace are selected with
polars, the per-step arithmetic is plain Python over that one (small) trace.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import polars as pl

from auditview.core.slow import SlowBaseline, SlowStepRule
from auditview.core.traces import has_trace_id

__all__ = [
    "DisplayRow",
    "Gap",
    "Timeline",
    "TimelineStep",
    "TraceNotFoundError",
    "accepted_parents",
    "build_timeline",
    "critical_path_indices",
    "display_order",
    "display_rows",
]


class TraceNotFoundError(KeyError):
    """No record of the frame has this (usable) trace id."""


@dataclass(frozen=True)
class TimelineStep:
    """One step of a trace; times in milliseconds from the trace's start."""

    request_id: str | None
    parent_request_id: str | None
    depth: int
    tool: str | None
    command: str | None
    start_ms: float
    #: ``None`` when the record does not say (the step is then drawn as an instant: ``end_ms == start_ms``).
    duration_ms: float | None
    end_ms: float
    #: ``None`` when unknown (a producer that writes no exit code, or an unusable one): not failed, not 0.
    exit_code: int | None
    ok: bool | None
    failed: bool
    slow_reason: str | None
    on_critical_path: bool
    operator: str | None
    file_id: int
    offset: int
    length: int
    ts: datetime | None = None
    slow: bool = False
    line: int | None = None


@dataclass(frozen=True)
class Gap:
    """Time inside the trace when no step was running, in milliseconds from the trace's start."""

    start_ms: float
    end_ms: float
    duration_ms: float
    after_request_id: str | None
    before_request_id: str | None


@dataclass(frozen=True)
class Timeline:
    """A trace on its own time axis: ``steps`` by start, ``gaps``, ``critical_path`` (ids by start)."""

    trace_id: str
    start: datetime
    end: datetime
    span_ms: float
    steps: list[TimelineStep]
    gaps: list[Gap]
    critical_path: list[str | None]
    busy_ms: float = 0.0
    idle_ms: float = 0.0
    max_depth: int = 0
    tools: list[str] = field(default_factory=list)


def build_timeline(
    frame: pl.DataFrame,
    trace_id: str,
    rule: SlowStepRule | None = None,
    *,
    baseline: SlowBaseline | None = None,
) -> Timeline:
    """The timeline of ``trace_id`` in ``frame``; raise ``TraceNotFoundError`` when the trace has no record.

    Slow steps come from the frame's ``slow``/``slow_reason`` columns when present, otherwise from ``rule``
    (default ``SlowStepRule()``) with the p95 of each tool+command taken from ``baseline`` when given (cheap:
    see ``SlowStepRule.baseline``), else over all of ``frame``.
    """
    rule = rule or SlowStepRule()
    rows = frame.filter((pl.col("trace_id").cast(pl.String) == trace_id) & has_trace_id())
    if rows.height == 0:
        raise TraceNotFoundError(trace_id)
    if "slow" not in rows.columns or "slow_reason" not in rows.columns:
        rows = rule.annotate(rows, reference=frame, baseline=baseline)
    rows = rows.with_columns(__av_us=pl.col("ts").dt.epoch("us")).sort("__av_us", maintain_order=True)
    start_us = int(rows.get_column("__av_us").min())  # type: ignore[arg-type]
    start = rows.get_column("ts")[0]
    records = rows.select(
        pl.col("request_id").cast(pl.String),
        pl.col("parent_request_id").cast(pl.String),
        pl.col("tool").cast(pl.String),
        pl.col("command").cast(pl.String),
        ((pl.col("__av_us") - start_us) / 1000.0).alias("start_ms"),
        pl.col("duration_ms"),
        pl.col("exit_code"),
        pl.col("ok"),
        pl.col("slow").fill_null(False),
        pl.col("slow_reason").cast(pl.String),
        pl.col("operator").cast(pl.String),
        pl.col("file_id"),
        pl.col("offset"),
        pl.col("length"),
        pl.col("ts"),
        (pl.col("line") if "line" in rows.columns else pl.lit(None, dtype=pl.UInt32)).alias("line"),
    ).to_dicts()

    # Derived times to 3 decimals (whole microseconds, the index resolution): no 15516.943000000001.
    starts = [round(float(r["start_ms"]), 3) for r in records]
    ends = [round(float(r["start_ms"]) + float(r["duration_ms"] or 0.0), 3) for r in records]
    parents = accepted_parents([r["request_id"] for r in records], [r["parent_request_id"] for r in records])
    depths = _depths(parents)
    critical = critical_path_indices(starts, ends, parents)
    span_ms = max(ends)

    steps = [
        TimelineStep(
            request_id=r["request_id"],
            parent_request_id=r["parent_request_id"],
            depth=depths[i],
            tool=r["tool"],
            command=r["command"],
            start_ms=starts[i],
            duration_ms=None if r["duration_ms"] is None else float(r["duration_ms"]),
            end_ms=ends[i],
            exit_code=r["exit_code"],
            ok=r["ok"],
            failed=r["exit_code"] is not None and r["exit_code"] != 0,
            slow_reason=r["slow_reason"] if r["slow"] else None,
            on_critical_path=i in critical,
            operator=r["operator"],
            file_id=int(r["file_id"]),
            offset=int(r["offset"]),
            length=int(r["length"]),
            ts=r["ts"],
            slow=bool(r["slow"]),
            line=None if r["line"] is None else int(r["line"]),
        )
        for i, r in enumerate(records)
    ]
    gaps = _gaps(steps)
    idle_ms = round(sum(gap.duration_ms for gap in gaps), 3)
    return Timeline(
        trace_id=trace_id,
        start=start,
        end=start + timedelta(microseconds=round(span_ms * 1000)),
        span_ms=span_ms,
        steps=steps,
        gaps=gaps,
        critical_path=[steps[i].request_id for i in sorted(critical)],
        busy_ms=round(span_ms - idle_ms, 3),
        idle_ms=idle_ms,
        max_depth=max(depths, default=0),
        tools=list(dict.fromkeys(step.tool for step in steps if step.tool is not None)),
    )


def display_order(steps: Sequence[TimelineStep]) -> list[int]:
    """Return the step indices in display order (one for every front end): tree order, each step followed by
    its children, siblings by start.

    ``steps`` come ordered by start with their nesting ``depth``; a nested step's parent is the first earlier
    step whose ``request_id`` is its ``parent_request_id``. A step whose parent cannot be found is shown at
    the top level, so every step appears exactly once.
    """
    first_index: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step.request_id is not None:  # a step without a request id is no step's parent
            first_index.setdefault(step.request_id, i)
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    for i, step in enumerate(steps):
        parent = first_index.get(step.parent_request_id) if step.parent_request_id is not None else None
        if step.depth > 0 and parent is not None and parent != i:
            children.setdefault(parent, []).append(i)
        else:
            roots.append(i)
    order: list[int] = []
    seen: set[int] = set()
    stack = list(reversed(roots))
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        order.append(i)
        stack.extend(reversed(children.get(i, [])))
    order.extend(i for i in range(len(steps)) if i not in seen)  # defensive: a cycle the engine let through
    return order


@dataclass(frozen=True)
class DisplayRow:
    """One row of a waterfall: a step (``step`` is its index in ``Timeline.steps``) or an idle ``gap``."""

    kind: Literal["step", "gap"]
    step: int = -1
    gap: Gap | None = None


def display_rows(steps: Sequence[TimelineStep], gaps: Iterable[Gap]) -> list[DisplayRow]:
    """Return the rows of a waterfall (one layout for every front end): the steps in ``display_order``, each
    gap just before the step that ends it.

    A gap goes before the step named by ``before_request_id``; if no such step exists, before the first step
    (in start order) that starts at or after the gap's end; else at the bottom. The caller passes the gaps it
    draws (the text waterfall leaves out those shorter than one of its cells).
    """
    index_of = {step.request_id: i for i, step in enumerate(steps) if step.request_id is not None}
    before: dict[int, list[Gap]] = {}
    trailing: list[Gap] = []
    for gap in sorted(gaps, key=lambda g: (g.start_ms, g.end_ms)):
        target = index_of.get(gap.before_request_id) if gap.before_request_id is not None else None
        if target is None:
            target = next((i for i, step in enumerate(steps) if step.start_ms >= gap.end_ms), None)
        if target is None:
            trailing.append(gap)
        else:
            before.setdefault(target, []).append(gap)
    rows: list[DisplayRow] = []
    for i in display_order(steps):
        rows.extend(DisplayRow("gap", gap=gap) for gap in before.get(i, ()))
        rows.append(DisplayRow("step", step=i))
    rows.extend(DisplayRow("gap", gap=gap) for gap in trailing)
    return rows


def accepted_parents(request_ids: list[str | None], parent_ids: list[str | None]) -> list[int | None]:
    """Index of each step's parent within the trace (steps in start order), or None; never forms a cycle.

    A step without a request id can be no step's parent."""
    first_index: dict[str, int] = {}
    for i, request_id in enumerate(request_ids):
        if request_id is not None:
            first_index.setdefault(request_id, i)
    accepted: list[int | None] = [None] * len(request_ids)
    for i, parent_id in enumerate(parent_ids):
        if parent_id is None:
            continue
        parent = first_index.get(parent_id)
        if parent is None or parent == i:
            continue
        ancestor: int | None = parent
        closes_cycle = False
        while ancestor is not None:  # accepted links form a forest, so this walk ends
            if ancestor == i:
                closes_cycle = True
                break
            ancestor = accepted[ancestor]
        if not closes_cycle:
            accepted[i] = parent
    return accepted


def _depths(parents: list[int | None]) -> list[int]:
    depths: list[int | None] = [None] * len(parents)
    for i in range(len(parents)):
        chain: list[int] = []
        node: int | None = i
        while node is not None and depths[node] is None:
            chain.append(node)
            node = parents[node]
        base = -1 if node is None else depths[node]
        assert base is not None
        for offset, member in enumerate(reversed(chain), start=1):
            depths[member] = base + offset
    return [depth or 0 for depth in depths]


def critical_path_indices(starts: list[float], ends: list[float], parents: list[int | None]) -> set[int]:
    """Indices of the steps on the critical path (see the module docstring for the definition).

    ``starts``/``ends`` are per step, ``parents`` the accepted parent index (None at the top level). Runs in
    O(n log n): at each level the candidates are sorted by start, with a running maximum of their ends.
    """
    children: dict[int | None, list[int]] = {}
    for i, parent in enumerate(parents):
        children.setdefault(parent, []).append(i)
    on_path: set[int] = set()
    pending: list[tuple[int | None, float]] = [(None, float("inf"))]
    while pending:
        level, t = pending.pop()
        members = sorted(children.get(level, []), key=lambda i: (starts[i], i))
        if not members:
            continue
        member_starts = [starts[i] for i in members]
        running_max: list[float] = []
        best = float("-inf")
        for i in members:
            best = max(best, ends[i])
            running_max.append(best)
        while True:
            count = bisect.bisect_left(member_starts, t)  # members that started before t
            if count == 0:
                break
            target = min(t, running_max[count - 1])
            chosen = members[bisect.bisect_left(running_max, target, 0, count)]
            on_path.add(chosen)
            pending.append((chosen, ends[chosen]))
            t = starts[chosen]
    return on_path


def _gaps(steps: list[TimelineStep]) -> list[Gap]:
    gaps: list[Gap] = []
    if not steps:
        return gaps
    covered_end = steps[0].end_ms
    last_ender = steps[0]
    for step in steps[1:]:
        if step.start_ms > covered_end:
            gaps.append(
                Gap(
                    start_ms=covered_end,
                    end_ms=step.start_ms,
                    duration_ms=round(step.start_ms - covered_end, 3),
                    after_request_id=last_ender.request_id,
                    before_request_id=step.request_id,
                )
            )
        if step.end_ms >= covered_end:
            covered_end = step.end_ms
            last_ender = step
    return gaps

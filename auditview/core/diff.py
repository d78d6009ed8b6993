"""Comparing two runs: the steps of two traces aligned, and what changed between them.

Owns ``diff_runs`` (two traces, ``then`` = A and ``now`` = B, as a ``RunDiff``), ``align`` (the sequence
alignment), ``param_changes`` (key-level params differences) and ``previous_run`` (the "previous similar run"
of a trace). The definitions (also in the README, ``auditview diff``):

- **Steps** are a trace's records ordered by start, exactly as ``build_timeline`` orders them (``ts``; ties
  keep frame order). A step's **gap before** is the time between the end of everything that ran before it
  (the latest end among the earlier steps) and its start: think time, ``0`` when it started while an earlier
  step was still running (a child inside its parent); the first step has none (``None``).
- **Alignment**: the two sequences of ``(tool, command)`` are aligned as a global alignment with no
  substitutions: only steps with the same tool and command are paired, every other step is inserted (only in
  B, ``insert``) or deleted (only in A, ``delete``). The alignment pairs as many steps as possible (a
  longest common subsequence, so the edit script of inserts and deletes is minimal); among those, the
  greatest total likeness of the pairs: 4 when their parent steps (``parent_request_id``) have the same tool
  and command (or both are at the top level), 2 for the same exit code, 1 for the same params (so a step
  stays under the same parent, and a retried step pairs the attempt that ended like the one before while the
  other attempt shows as inserted); then pairs made as early as possible. It is a
  dynamic programme over ``len(A) × len(B)`` cells; above ``DP_CELL_LIMIT`` cells the common prefix and
  suffix are paired first and the middle is aligned by ``difflib.SequenceMatcher`` (no longer guaranteed
  minimal).
- Per pair: ``delta_ms`` (duration now − then; for an inserted step its duration, for a deleted one minus
  its duration), ``ratio`` (now / then, when both are known and then > 0), exit codes, params changed at key
  level (nested objects compared by dotted path), changed ``version``, ``operator`` and ``host``, and the gap
  before the step then and now.
- **Summary**: span then and now, failed steps then and now, pair counts, and the **biggest contribution**:
  among every pair's duration delta and gap-before delta, the largest one in the direction of the span's
  change (the largest increase when the run got longer or stayed equal, the largest decrease when it got
  shorter). A parent's duration contains its children's, so a slower child usually names its parent.
- **Previous similar run** of trace B: among the traces that started strictly before B (in the records
  given), the latest one (by start; ties: the greatest trace id) with, in this order of preference,
  (1) the same first step (tool, command) and the same operator of the first step (the same agent or
  person running the same thing again), (2) the same first step, (3) the same operator. "The same sequence
  of (tool, command)" needs no rule of its own: it implies the same first step.

This module must not import a UI library or read files; it works on the index frame (``INTERFACES.md``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import polars as pl

from auditview.core.timeline import build_timeline
from auditview.core.traces import has_trace_id

__all__ = [
    "DIFF_COLUMNS",
    "DP_CELL_LIMIT",
    "PREVIOUS_RULES",
    "Contribution",
    "DiffPair",
    "DiffStep",
    "DiffSummary",
    "ParamChanges",
    "PreviousRun",
    "RunDiff",
    "RunSide",
    "ValueChange",
    "align",
    "diff_runs",
    "param_changes",
    "previous_run",
    "run_side",
]

#: The index columns a diff reads (besides the location columns every frame has).
DIFF_COLUMNS: Final = frozenset(
    {
        "ts",
        "tool",
        "command",
        "exit_code",
        "duration_ms",
        "request_id",
        "trace_id",
        "parent_request_id",
        "operator",
        "host",
        "version",
        "ok",
        "params",
    }
)

#: Above this many cells (``len(A) * len(B)``) the alignment is no longer the exact dynamic programme.
DP_CELL_LIMIT: Final = 1_000_000

#: The rules of ``previous_run``, in order of preference.
PREVIOUS_RULES: Final = ("same first step and operator", "same first step", "same operator")

#: The key under which params that are not a JSON object are compared as one value.
WHOLE_PARAMS: Final = "(params)"

Op = Literal["match", "insert", "delete"]


@dataclass(frozen=True)
class DiffStep:
    """One step of a run; times in milliseconds from its trace's start."""

    trace_id: str
    #: Place among the trace's steps (0-based, by start).
    index: int
    request_id: str | None
    parent_request_id: str | None
    #: The index of its parent step (``parent_request_id``, as the timeline nests steps), else ``None``.
    parent_index: int | None
    depth: int
    tool: str | None
    command: str | None
    ts: datetime | None
    start_ms: float
    duration_ms: float | None
    end_ms: float
    #: Time since everything before it ended (think time); ``None`` for the first step.
    gap_before_ms: float | None
    exit_code: int | None
    failed: bool
    operator: str | None
    host: str | None
    version: str | None
    #: The parsed params (usually an object), the raw text when it is not JSON, ``None`` when absent.
    params: Any

    @property
    def key(self) -> tuple[str | None, str | None]:
        """What the alignment compares: ``(tool, command)``."""
        return (self.tool, self.command)


@dataclass(frozen=True)
class RunSide:
    """One of the two runs: its trace and steps."""

    trace_id: str
    start: datetime
    end: datetime
    span_ms: float
    steps: list[DiffStep]
    failed: int
    operators: list[str]


@dataclass(frozen=True)
class ValueChange:
    """A value then (in A) and now (in B)."""

    then: Any
    now: Any


@dataclass(frozen=True)
class ParamChanges:
    """Params differences by key (dotted paths into nested objects)."""

    added: dict[str, Any] = field(default_factory=dict)
    removed: dict[str, Any] = field(default_factory=dict)
    changed: dict[str, ValueChange] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class DiffPair:
    """One row of the alignment: a step of A paired with one of B, or a step of only one of them."""

    op: Op
    tool: str | None
    command: str | None
    a: DiffStep | None
    b: DiffStep | None
    #: Duration now - then; an inserted step's duration, minus a deleted step's; ``None`` when unknown.
    delta_ms: float | None
    #: Duration now / then (pairs with both known and then > 0).
    ratio: float | None
    #: Gap before now - then (pairs where both have one).
    gap_delta_ms: float | None
    exit_changed: bool
    params: ParamChanges
    #: ``version``, ``operator`` and ``host`` where they differ (pairs only).
    fields: dict[str, ValueChange]

    @property
    def changed(self) -> bool:
        """Anything but timing differs: exit code, params, version, operator or host (or unpaired)."""
        return self.op != "match" or self.exit_changed or bool(self.params) or bool(self.fields)

    def to_json(self) -> dict[str, Any]:
        """The pair as JSON-ready values (one line of ``-o jsonl``)."""
        return {
            "op": self.op,
            "tool": self.tool,
            "command": self.command,
            "changed": self.changed,
            "delta_ms": self.delta_ms,
            "ratio": self.ratio,
            "gap_delta_ms": self.gap_delta_ms,
            "exit_changed": self.exit_changed,
            "params": {
                "added": self.params.added,
                "removed": self.params.removed,
                "changed": {k: {"then": v.then, "now": v.now} for k, v in self.params.changed.items()},
            },
            "fields": {k: {"then": v.then, "now": v.now} for k, v in self.fields.items()},
            "a": _step_json(self.a),
            "b": _step_json(self.b),
        }


@dataclass(frozen=True)
class Contribution:
    """The largest single change: a pair's duration or gap-before delta."""

    pair: int
    tool: str | None
    command: str | None
    what: Literal["duration", "gap"]
    delta_ms: float


@dataclass(frozen=True)
class DiffSummary:
    """Totals of a diff."""

    span_then_ms: float
    span_now_ms: float
    delta_ms: float
    ratio: float | None
    failed_then: int
    failed_now: int
    steps_then: int
    steps_now: int
    matched: int
    unchanged: int
    changed: int
    inserted: int
    deleted: int
    biggest: Contribution | None


@dataclass(frozen=True)
class PreviousRun:
    """The run ``previous_run`` chose, and by which rule (one of ``PREVIOUS_RULES``)."""

    trace_id: str
    rule: str


@dataclass(frozen=True)
class RunDiff:
    """Two runs aligned: A (then), B (now), the aligned pairs and the summary."""

    a: RunSide
    b: RunSide
    pairs: list[DiffPair]
    summary: DiffSummary
    previous: PreviousRun | None = None

    def to_json(self) -> dict[str, Any]:
        """The diff as JSON-ready values (the ``data`` of ``-o json``)."""

        def side(run: RunSide) -> dict[str, Any]:
            return {
                "trace_id": run.trace_id,
                "start": run.start,
                "end": run.end,
                "span_ms": run.span_ms,
                "steps": len(run.steps),
                "failed": run.failed,
                "operators": run.operators,
            }

        summary = {
            name: getattr(self.summary, name)
            for name in (
                "span_then_ms",
                "span_now_ms",
                "delta_ms",
                "ratio",
                "failed_then",
                "failed_now",
                "steps_then",
                "steps_now",
                "matched",
                "unchanged",
                "changed",
                "inserted",
                "deleted",
            )
        }
        biggest = self.summary.biggest
        summary["biggest"] = (
            None
            if biggest is None
            else {
                "pair": biggest.pair,
                "tool": biggest.tool,
                "command": biggest.command,
                "what": biggest.what,
                "delta_ms": biggest.delta_ms,
            }
        )
        return {
            "a": side(self.a),
            "b": side(self.b),
            "previous": None
            if self.previous is None
            else {"trace_id": self.previous.trace_id, "rule": self.previous.rule},
            "summary": summary,
            "pairs": [pair.to_json() for pair in self.pairs],
        }


def _step_json(step: DiffStep | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {
        "trace_id": step.trace_id,
        "index": step.index,
        "request_id": step.request_id,
        "parent_request_id": step.parent_request_id,
        "parent_index": step.parent_index,
        "depth": step.depth,
        "ts": step.ts,
        "start_ms": step.start_ms,
        "duration_ms": step.duration_ms,
        "end_ms": step.end_ms,
        "gap_before_ms": step.gap_before_ms,
        "exit_code": step.exit_code,
        "failed": step.failed,
        "operator": step.operator,
        "host": step.host,
        "version": step.version,
        "params": step.params,
    }


# ----------------------------------------------------------------------------------------------------
# The runs


def _parse_params(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_side(frame: pl.DataFrame, trace_id: str) -> RunSide:
    """The steps of ``trace_id`` in ``frame`` (``TraceNotFoundError`` when it has no record)."""
    rows = frame.filter((pl.col("trace_id").cast(pl.String) == trace_id) & has_trace_id())
    # build_timeline orders the steps; slowness plays no part in a diff (and needs no p95 pass).
    rows = rows.with_columns(slow=pl.lit(False), slow_reason=pl.lit(None, dtype=pl.String))
    timeline = build_timeline(rows, trace_id)
    wanted = [name for name in ("params", "host", "version") if name in rows.columns]
    details: dict[tuple[int, int], dict[str, Any]] = {
        (row["file_id"], row["offset"]): row
        for row in rows.select(
            "file_id", "offset", *(pl.col(name).cast(pl.String) for name in wanted)
        ).iter_rows(named=True)
    }
    steps: list[DiffStep] = []
    covered_end: float | None = None
    first_index: dict[str, int] = {}
    for index, step in enumerate(timeline.steps):
        if step.request_id is not None:
            first_index.setdefault(step.request_id, index)
    for index, step in enumerate(timeline.steps):
        extra = details.get((step.file_id, step.offset), {})
        # The timeline nests a step (depth > 0) under the first step with its parent_request_id.
        parent = first_index.get(step.parent_request_id or "") if step.depth > 0 else None
        gap = None if covered_end is None else round(max(step.start_ms - covered_end, 0.0), 3)
        covered_end = step.end_ms if covered_end is None else max(covered_end, step.end_ms)
        steps.append(
            DiffStep(
                trace_id=trace_id,
                index=index,
                request_id=step.request_id,
                parent_request_id=step.parent_request_id,
                parent_index=parent,
                depth=step.depth,
                tool=step.tool,
                command=step.command,
                ts=step.ts,
                start_ms=step.start_ms,
                duration_ms=step.duration_ms,
                end_ms=step.end_ms,
                gap_before_ms=gap,
                exit_code=step.exit_code,
                failed=step.failed,
                operator=step.operator,
                host=extra.get("host"),
                version=extra.get("version"),
                params=_parse_params(extra.get("params")),
            )
        )
    operators = list(dict.fromkeys(s.operator for s in steps if s.operator is not None))
    return RunSide(
        trace_id=trace_id,
        start=timeline.start,
        end=timeline.end,
        span_ms=timeline.span_ms,
        steps=steps,
        failed=sum(1 for s in steps if s.failed),
        operators=operators,
    )


# ----------------------------------------------------------------------------------------------------
# Alignment

_PAIR: Final = 0
_DELETE: Final = 1
_INSERT: Final = 2


def align(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    similarity: Callable[[int, int], int] | None = None,
    *,
    max_similarity: int = 0,
) -> list[tuple[int | None, int | None]]:
    """Align ``a`` and ``b``: ``(i, j)`` pairs equal items, ``(i, None)`` deletes ``a[i]``, ``(None, j)``
    inserts ``b[j]``; every index appears once, in order, deletions before insertions between two pairs.

    Pairs as many items as possible (a longest common subsequence: the minimal insert/delete script); among
    those, the greatest total ``similarity(i, j)`` (``0 <= similarity <= max_similarity``) of the pairs; then
    pairs as early as possible. Exact up to ``DP_CELL_LIMIT`` cells; beyond, see the module docstring.
    """
    n, m = len(a), len(b)
    if n * m > DP_CELL_LIMIT:
        return _align_large(a, b)
    # One pair outweighs any total of similarities: the number of pairs is maximal first.
    weight = max_similarity * min(n, m) + 1
    sim = similarity if similarity is not None and max_similarity > 0 else None
    # best[i][j]: the best score of aligning a[i:] with b[j:]; move[i][j] the first move of that alignment
    # (_PAIR, _DELETE, _INSERT; ties: pair, then delete), so that ``similarity`` is asked once per cell.
    best = [[0] * (m + 1) for _ in range(n + 1)]
    move = [bytearray(m + 1) for _ in range(n + 1)]
    for j in range(m):
        move[n][j] = _INSERT
    for i in range(n - 1, -1, -1):
        row, below, moves = best[i], best[i + 1], move[i]
        ai = a[i]
        moves[m] = _DELETE
        for j in range(m - 1, -1, -1):
            if below[j] >= row[j + 1]:
                score, step = below[j], _DELETE
            else:
                score, step = row[j + 1], _INSERT
            if ai == b[j]:
                paired = below[j + 1] + weight + (sim(i, j) if sim is not None else 0)
                if paired >= score:
                    score, step = paired, _PAIR
            row[j] = score
            moves[j] = step
    out: list[tuple[int | None, int | None]] = []
    deleted: list[tuple[int | None, int | None]] = []
    inserted: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n or j < m:
        step = move[i][j]
        if step == _PAIR:
            out.extend(deleted)
            out.extend(inserted)
            deleted.clear()
            inserted.clear()
            out.append((i, j))
            i += 1
            j += 1
        elif step == _DELETE:
            deleted.append((i, None))
            i += 1
        else:
            inserted.append((None, j))
            j += 1
    out.extend(deleted)
    out.extend(inserted)
    return out


def _align_large(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int | None, int | None]]:
    """Very long runs: the common prefix and suffix paired, the middle by ``difflib`` (not always minimal)."""
    n, m = len(a), len(b)
    head = 0
    while head < min(n, m) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(n, m) - head and a[n - 1 - tail] == b[m - 1 - tail]:
        tail += 1
    out: list[tuple[int | None, int | None]] = [(k, k) for k in range(head)]
    middle_a, middle_b = list(a[head : n - tail]), list(b[head : m - tail])
    matcher = difflib.SequenceMatcher(None, middle_a, middle_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend((head + i1 + k, head + j1 + k) for k in range(i2 - i1))
        else:
            out.extend((head + i, None) for i in range(i1, i2))
            out.extend((None, head + j) for j in range(j1, j2))
    out.extend((n - tail + k, m - tail + k) for k in range(tail))
    return out


# ----------------------------------------------------------------------------------------------------
# Params and fields


def _canonical(value: Any) -> str:
    """A value as canonical JSON text: ``true`` and ``1``, ``1`` and ``1.0`` stay different."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and (value or not prefix):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix or WHOLE_PARAMS] = value


def _leaves(params: Any) -> dict[str, Any]:
    """Params as ``{dotted.path: value}``; params that are not an object are one value (``WHOLE_PARAMS``)."""
    out: dict[str, Any] = {}
    if params is not None:
        _flatten(params, "", out)
    return out


def param_changes(then: Any, now: Any) -> ParamChanges:
    """The key-level differences of two params values (nested objects by dotted path)."""
    old, new = _leaves(then), _leaves(now)
    changed = {
        key: ValueChange(old[key], new[key])
        for key in old
        if key in new and _canonical(old[key]) != _canonical(new[key])
    }
    return ParamChanges(
        added={key: value for key, value in new.items() if key not in old},
        removed={key: value for key, value in old.items() if key not in new},
        changed=changed,
    )


#: The greatest ``_similarity``.
_MAX_SIMILARITY: Final = 7


def _parent_key(run: RunSide, step: DiffStep) -> tuple[str | None, str | None] | None:
    return None if step.parent_index is None else run.steps[step.parent_index].key


def _similarity(a_run: RunSide, a: DiffStep, b_run: RunSide, b: DiffStep) -> int:
    """How alike two steps with the same tool and command are (0-7): 4 for the same parent (tool, command)
    (or both at the top level), 2 for the same exit code, 1 for the same params."""
    score = 4 if _parent_key(a_run, a) == _parent_key(b_run, b) else 0
    if a.exit_code == b.exit_code:
        score += 2
    if _canonical(a.params) == _canonical(b.params):
        score += 1
    return score


def _pair(op: Op, a: DiffStep | None, b: DiffStep | None) -> DiffPair:
    if a is not None and b is not None:
        delta = None
        ratio = None
        if a.duration_ms is not None and b.duration_ms is not None:
            delta = round(b.duration_ms - a.duration_ms, 3)
            if a.duration_ms > 0:
                ratio = round(b.duration_ms / a.duration_ms, 3)
        gap_delta = None
        if a.gap_before_ms is not None and b.gap_before_ms is not None:
            gap_delta = round(b.gap_before_ms - a.gap_before_ms, 3)
        fields = {
            name: ValueChange(getattr(a, name), getattr(b, name))
            for name in ("version", "operator", "host")
            if getattr(a, name) != getattr(b, name)
        }
        return DiffPair(
            op=op,
            tool=b.tool,
            command=b.command,
            a=a,
            b=b,
            delta_ms=delta,
            ratio=ratio,
            gap_delta_ms=gap_delta,
            exit_changed=a.exit_code != b.exit_code,
            params=param_changes(a.params, b.params),
            fields=fields,
        )
    step = b if b is not None else a
    assert step is not None
    delta = None if step.duration_ms is None else (step.duration_ms if b is not None else -step.duration_ms)
    return DiffPair(
        op=op,
        tool=step.tool,
        command=step.command,
        a=a,
        b=b,
        delta_ms=delta,
        ratio=None,
        gap_delta_ms=None,
        exit_changed=False,
        params=ParamChanges(),
        fields={},
    )


def _biggest(pairs: list[DiffPair], span_delta: float) -> Contribution | None:
    """The largest duration or gap change in the direction of ``span_delta`` (first one on ties)."""
    sign = -1.0 if span_delta < 0 else 1.0
    best: Contribution | None = None
    for number, pair in enumerate(pairs):
        gap: float | None = pair.gap_delta_ms
        if pair.op == "insert" and pair.b is not None:
            gap = pair.b.gap_before_ms
        elif pair.op == "delete" and pair.a is not None:
            gap = None if pair.a.gap_before_ms is None else -pair.a.gap_before_ms
        for what, delta in (("duration", pair.delta_ms), ("gap", gap)):
            if delta is None or delta * sign <= 0:
                continue
            if best is None or delta * sign > best.delta_ms * sign:
                best = Contribution(
                    pair=number,
                    tool=pair.tool,
                    command=pair.command,
                    what="duration" if what == "duration" else "gap",
                    delta_ms=delta,
                )
    return best


def diff_runs(frame: pl.DataFrame, a_id: str, b_id: str, *, previous: PreviousRun | None = None) -> RunDiff:
    """Align the steps of trace ``a_id`` (then) and ``b_id`` (now) in ``frame`` and compare each pair.

    Raises ``TraceNotFoundError`` when either trace has no record in ``frame``.
    """
    a = run_side(frame, a_id)
    b = run_side(frame, b_id)
    alignment = align(
        [s.key for s in a.steps],
        [s.key for s in b.steps],
        lambda i, j: _similarity(a, a.steps[i], b, b.steps[j]),
        max_similarity=_MAX_SIMILARITY,
    )
    pairs: list[DiffPair] = []
    for i, j in alignment:
        step_a = a.steps[i] if i is not None else None
        step_b = b.steps[j] if j is not None else None
        op: Op = "delete" if step_b is None else ("insert" if step_a is None else "match")
        pairs.append(_pair(op, step_a, step_b))
    span_delta = round(b.span_ms - a.span_ms, 3)
    matched = [p for p in pairs if p.op == "match"]
    summary = DiffSummary(
        span_then_ms=a.span_ms,
        span_now_ms=b.span_ms,
        delta_ms=span_delta,
        ratio=round(b.span_ms / a.span_ms, 3) if a.span_ms > 0 else None,
        failed_then=a.failed,
        failed_now=b.failed,
        steps_then=len(a.steps),
        steps_now=len(b.steps),
        matched=len(matched),
        unchanged=sum(1 for p in matched if not p.changed),
        changed=sum(1 for p in matched if p.changed),
        inserted=sum(1 for p in pairs if p.op == "insert"),
        deleted=sum(1 for p in pairs if p.op == "delete"),
        biggest=_biggest(pairs, span_delta),
    )
    return RunDiff(a=a, b=b, pairs=pairs, summary=summary, previous=previous)


# ----------------------------------------------------------------------------------------------------
# The previous similar run


def previous_run(frame: pl.DataFrame, trace_id: str) -> PreviousRun | None:
    """The previous similar run of ``trace_id`` in ``frame`` (rules: the module docstring), or ``None``."""
    firsts = (
        frame.filter(has_trace_id())
        .select(
            pl.col("trace_id").cast(pl.String),
            "ts",
            pl.col("tool").cast(pl.String),
            pl.col("command").cast(pl.String),
            pl.col("operator").cast(pl.String),
        )
        # Stable: ties in ts keep frame order, as build_timeline orders steps; a group keeps its rows' order.
        .sort("ts", maintain_order=True)
        .group_by("trace_id")
        .agg(
            pl.col("ts").first().alias("start"),
            pl.col("tool").first(),
            pl.col("command").first(),
            pl.col("operator").first(),
        )
    )
    target = firsts.filter(pl.col("trace_id") == trace_id)
    if target.height == 0:
        return None
    start, tool, command, operator = target.select("start", "tool", "command", "operator").row(0)
    earlier = firsts.filter((pl.col("start") < start) & (pl.col("trace_id") != trace_id))
    same_step = pl.col("tool").eq_missing(pl.lit(tool, dtype=pl.String)) & pl.col("command").eq_missing(
        pl.lit(command, dtype=pl.String)
    )
    same_operator = pl.col("operator") == pl.lit(operator, dtype=pl.String)
    rules: list[tuple[str, pl.Expr | None]] = [
        (PREVIOUS_RULES[0], same_step & same_operator if operator is not None else None),
        (PREVIOUS_RULES[1], same_step),
        (PREVIOUS_RULES[2], same_operator if operator is not None else None),
    ]
    for rule, condition in rules:
        if condition is None:
            continue
        found = earlier.filter(condition).sort(["start", "trace_id"], descending=True)
        if found.height:
            return PreviousRun(trace_id=str(found.get_column("trace_id")[0]), rule=rule)
    return None

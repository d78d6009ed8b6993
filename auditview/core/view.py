"""The filtered view of a live index: time range, filter and slow annotation, kept up to date cheaply.

Owns ``update_view`` (the view of the whole index frame, from scratch or grown from the previous
``FilterState`` by the rows appended since), ``merge_sorted`` (rows merged into a frame sorted by the index
keys) and ``volume_buckets`` (records per time bucket, ok / failed / slow, for a volume strip).

Must not: import a UI library (Textual, Rich, click) or read files. The app's filter worker calls these in a
thread and hands the results down to its widgets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import polars as pl

from auditview.core.query import CompiledFilter, compile_filter, time_range
from auditview.core.slow import SlowBaseline, SlowStepRule

__all__ = ["VOLUME_BUCKETS", "FilterState", "VolumeBuckets", "merge_sorted", "update_view", "volume_buckets"]

#: Fine time buckets computed for the volume strip (the widget regroups them to its width).
VOLUME_BUCKETS: Final = 240


@dataclass
class VolumeBuckets:
    """Counts of records per time bucket over ``[start, end)``, for the volume strip."""

    start: datetime | None
    end: datetime | None
    ok: Sequence[int] = field(default_factory=list)
    failed: Sequence[int] = field(default_factory=list)
    slow: Sequence[int] = field(default_factory=list)


def volume_buckets(view: pl.DataFrame, count: int = VOLUME_BUCKETS) -> VolumeBuckets:
    """Records per time bucket (ok / failed / slow) over the view's time span."""
    if view.height == 0 or "ts" not in view.columns:
        return VolumeBuckets(None, None)
    start = view["ts"].min()
    end = view["ts"].max()
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return VolumeBuckets(None, None)
    span_us = max(int((end - start).total_seconds() * 1_000_000), 1)
    failed = (pl.col("exit_code").fill_null(0) != 0) if "exit_code" in view.columns else pl.lit(False)
    slow = pl.col("slow").fill_null(False) if "slow" in view.columns else pl.lit(False)
    counted = (
        view.lazy()
        .select(
            bucket=((pl.col("ts") - pl.lit(start)).dt.total_microseconds() * (count - 1) // span_us).cast(
                pl.Int64
            ),
            kind=pl.when(failed).then(pl.lit(1)).when(slow).then(pl.lit(2)).otherwise(pl.lit(0)),
        )
        .group_by("bucket", "kind")
        .len()
        .collect()
    )
    ok = [0] * count
    bad = [0] * count
    late = [0] * count
    for bucket, kind, number in counted.iter_rows():
        target = bad if kind == 1 else late if kind == 2 else ok
        target[min(max(int(bucket), 0), count - 1)] += int(number)
    return VolumeBuckets(start, end, ok, bad, late)


@dataclass(frozen=True)
class FilterState:
    """The result of one filter run, kept as the base for the next: appended rows are merged into it."""

    annotated: pl.DataFrame
    baseline: SlowBaseline
    baseline_rows: int
    view: pl.DataFrame
    filter_text: str
    since: datetime | None
    until: datetime | None
    #: ``annotated`` cut to ``since``/``until`` (``annotated`` itself without a time range): kept, so that the
    #: next filter with the same range runs on the same frame object and reuses its query helpers.
    ranged: pl.DataFrame
    #: ``annotated`` was made from scratch by this run (not grown from the previous state): worth warming the
    #: query helpers of ``ranged`` (``auditview.core.query.warm_filter_helpers``) once the view is shown.
    fresh: bool = False


def _ranged(
    annotated: pl.DataFrame, since: datetime | None, until: datetime | None, state: FilterState | None = None
) -> pl.DataFrame:
    """``annotated`` cut to the time range: the state's cut when it was made from the same frame and range."""
    if since is None and until is None:
        return annotated
    if state is not None and state.annotated is annotated and (state.since, state.until) == (since, until):
        return state.ranged
    return time_range(annotated, since, until)


def _filtered(
    annotated: pl.DataFrame, compiled: CompiledFilter | None, since: datetime | None, until: datetime | None
) -> pl.DataFrame:
    return _matching(_ranged(annotated, since, until), compiled)


def _matching(ranged: pl.DataFrame, compiled: CompiledFilter | None) -> pl.DataFrame:
    if compiled is not None and not compiled.matches_all:
        return compiled.apply(ranged)
    return ranged


def merge_sorted(frame: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (sorted by the index keys) with ``rows`` merged in; a plain append when they come after."""
    if rows.height == 0:
        return frame
    from auditview.core.index import SORT_KEYS  # here: the index brings the parser, the view may not need it

    rows = rows.sort(SORT_KEYS)
    if frame.height == 0:
        return rows
    last = frame.select(SORT_KEYS).row(-1)
    first = rows.select(SORT_KEYS).row(0)
    merged = pl.concat([frame, rows], how="vertical_relaxed", rechunk=False)
    return merged if first > last else merged.sort(SORT_KEYS)


def _from_scratch(
    frame: pl.DataFrame,
    rule: SlowStepRule,
    filter_text: str,
    compiled: CompiledFilter | None,
    since: datetime | None,
    until: datetime | None,
) -> FilterState:
    """The view of the whole ``frame``, annotated against a baseline computed over it."""
    baseline = rule.baseline(frame)
    annotated = rule.annotate(frame, baseline=baseline)
    ranged = _ranged(annotated, since, until)
    return FilterState(
        annotated,
        baseline,
        frame.height,
        _matching(ranged, compiled),
        filter_text,
        since,
        until,
        ranged,
        fresh=True,
    )


def update_view(
    state: FilterState | None,
    frame: pl.DataFrame,
    added: Sequence[pl.DataFrame] | None,
    filter_text: str,
    since: datetime | None,
    until: datetime | None,
    rule: SlowStepRule,
) -> FilterState:
    """The view of ``frame``: from scratch, or from ``state`` plus the rows ``added`` since it was made.

    Appended rows are slow-annotated against the state's baseline (the p95 of each tool+command over the data
    loaded then; it is recomputed once the frame has grown by half) and, when the filter has no trace-level
    predicate and neither it nor the time range changed, filtered alone and merged into the view. Otherwise
    the annotated frame is reused and only the filter runs again over it. Raises ``FilterError``.
    """
    compiled = compile_filter(filter_text, slow_rule=rule) if filter_text.strip() else None
    if (
        state is None
        or added is None
        or state.annotated.height + sum(r.height for r in added) != frame.height
    ):
        return _from_scratch(frame, rule, filter_text, compiled, since, until)
    rows = pl.concat(list(added), how="vertical_relaxed") if len(added) > 1 else added[0] if added else None
    annotated, baseline, baseline_rows = state.annotated, state.baseline, state.baseline_rows
    new_rows = annotated.head(0) if rows is None else rule.annotate(rows, baseline=baseline)
    annotated = merge_sorted(annotated, new_rows)
    if annotated.height > baseline_rows * 3 // 2 + 1000:
        # Enough new data that "usual" may have moved: recompute the baseline and re-annotate everything.
        return _from_scratch(frame, rule, filter_text, compiled, since, until)
    ranged = _ranged(annotated, since, until, state)
    if (
        state.filter_text == filter_text
        and (state.since, state.until) == (since, until)
        and (compiled is None or not compiled.uses_trace)
    ):
        view = merge_sorted(state.view, _filtered(new_rows, compiled, since, until))
    else:
        view = _matching(ranged, compiled)
    return FilterState(annotated, baseline, baseline_rows, view, filter_text, since, until, ranged)

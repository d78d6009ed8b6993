"""Per-frame helpers: data that depends on a frame only (never on a filter's text), built on first use and
kept while the same frame object, with the same height and schema, is filtered again.

The app filters one loaded frame many times (every edit of the filter bar is a new filter), so distinct-value
encodings of the text columns, the trace keys, the per-trace aggregates, the findings and the slow mask pay
for themselves; a frame filtered once (the CLI) would only pay for them, so they are used from a frame's
second filter on (``helpers_for``), or after ``warm_filter_helpers``. Entries live in a registry keyed by the
frame's id and go with the frame (weak references). This module must not know any filter's text: it answers
what the staged evaluation (``auditview.core.query.evaluate``) and ``CompiledFilter`` ask of a frame.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import polars as pl

from auditview.core.findings import FindingThresholds
from auditview.core.query.expressions import (
    ORPHAN_COLUMN,
    SLOW_COLUMN,
    TRACE_VALUE_COLUMN,
    trace_findings,
    trace_parts,
)
from auditview.core.query.fields import TEXT_COLUMNS
from auditview.core.slow import SlowStepRule
from auditview.core.traces import has_trace_id

__all__ = ["Encoded", "FrameHelpers", "helpers_for", "warm_filter_helpers"]

#: Frames with fewer rows are filtered without helpers: there, building them costs more than it saves.
#: (A module variable so that tests can switch the helpers on for tiny frames.)
_HELPER_MIN_ROWS = 20_000

#: A column is encoded by distinct value only when it has (approximately) at most this share of distinct
#: values; ``request_id`` (one per record) is searched row by row instead.
_ENCODE_MAX_DISTINCT = 0.5

_CODE = "__av_code"


@dataclass(frozen=True)
class Encoded:
    """A text column as its distinct values and, per row, the position of the row's value among them.

    ``values[codes[i]]`` is row ``i``'s value, so an expression that looks at the value alone gives the same
    answer evaluated once per distinct value and spread to the rows (``spread``). A null is one of the values
    (the last one) when the column has nulls. In a mostly-null column only the non-null ``rows`` have codes
    (the nulls all take the null's answer): coding every null row would cost more than the search it saves.
    """

    values: pl.Series
    codes: pl.Series  # UInt32 (UInt64 with polars' big-index build), never null
    rows: pl.Series | None  # the rows that have codes when not all of them do
    height: int

    def spread(self, per_value: pl.Series) -> pl.Series:
        """Row ``i`` gets ``per_value[codes[i]]`` (``per_value`` has one entry per distinct value)."""
        coded = per_value.gather(self.codes)
        if self.rows is None:
            return coded
        filler = pl.repeat(per_value[-1], self.height, dtype=per_value.dtype, eager=True)
        return filler.scatter(self.rows, coded)


def _encode(values: pl.Series, *, sparse: bool) -> Encoded:
    """Encode ``values`` (see ``Encoded``); ``sparse`` codes only the non-null rows."""
    height = values.len()
    rows: pl.Series | None = None
    if sparse:
        rows = values.is_not_null().arg_true()
        distinct, codes = _distinct_codes(values.gather(rows))
        distinct = pl.concat([distinct, pl.Series([None], dtype=values.dtype)])
    else:
        distinct, codes = _distinct_codes(values)
    return Encoded(distinct, codes, rows, height)


def _value_hashes(values: pl.Series) -> pl.Series:
    """A 64-bit hash per value (a function of its own so that tests can force collisions)."""
    return values.hash()


def _distinct_codes(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The distinct values (the null included) and, per row, the position of its value among them.

    Fast way: group by a 64-bit hash of the value (the first row of each hash gives the value), then check
    that every row's value is the one its code names; a hash collision fails the check and falls back to
    grouping by the values themselves (``unique`` and a join on the strings: ~40 % slower on ``params``).
    """
    hashes = _value_hashes(values)
    first = hashes.is_first_distinct().arg_true()
    distinct = values.gather(first)
    table = hashes.gather(first).alias("h").to_frame().with_row_index(_CODE)
    codes = hashes.alias("h").to_frame().join(table, on="h", how="left", maintain_order="left")
    if distinct.gather(codes.get_column(_CODE)).eq_missing(values).all():
        return distinct, codes.get_column(_CODE)
    # The distinct values are materialised before the join (``unique`` has no fixed order).
    distinct = values.unique()
    table = distinct.alias("v").to_frame().with_row_index(_CODE)
    exact = values.alias("v").to_frame()
    exact = exact.join(table, on="v", how="left", maintain_order="left", nulls_equal=True)
    return distinct, exact.get_column(_CODE)


class FrameHelpers:
    """The per-frame helpers of one frame; ``fits`` says whether they still describe a frame.

    Only a weak reference to the frame is kept: the entry disappears with the frame. Frames are treated as
    values: a frame grown in place (``extend``) has another height, and one with columns added or dropped
    another schema, so neither reuses anything; a column replaced in place by one of the same name and dtype
    is not detected (nothing does that to an index frame). Thread-safe: the app filters in worker threads.
    """

    def __init__(self, frame: pl.DataFrame, ref: weakref.ref[pl.DataFrame]) -> None:
        self.ref = ref
        self.height = frame.height
        self.schema = dict(frame.schema)
        #: Filters run on the frame so far, and whether ``warm_filter_helpers`` asked for the helpers.
        self.filters = 0
        self.warmed = False
        self._lock = threading.RLock()
        self._encoded: dict[str, Encoded | None] = {}
        self._distinct: dict[str, pl.Series] = {}
        self._orphan: pl.Series | None = None
        self._slow: dict[SlowStepRule, pl.Series] = {}
        self._per_trace: dict[tuple[str, SlowStepRule | None], pl.Series] = {}
        self._findings: dict[FindingThresholds, pl.DataFrame] = {}

    def fits(self, frame: pl.DataFrame) -> bool:
        """True when these helpers were built from ``frame`` as it is now."""
        return self.ref() is frame and frame.height == self.height and dict(frame.schema) == self.schema

    def _frame(self) -> pl.DataFrame:
        frame = self.ref()
        if frame is None:  # pragma: no cover - callers hold the frame while filtering it
            raise RuntimeError("the frame of these helpers is gone")
        return frame

    def encoded(self, column: str) -> Encoded | None:
        """The encoding of String ``column`` (built on first use); None when it has too many distinct values.

        A Categorical column is never encoded here: its distinct values are cheap (``distinct``) and its
        physical codes already identify the value.
        """
        with self._lock:
            if column not in self._encoded:
                frame = self._frame()
                values = frame.get_column(column)
                encoded: Encoded | None = None
                if not isinstance(values.dtype, pl.Categorical):
                    nulls = values.null_count()
                    if nulls * 2 > frame.height:
                        encoded = _encode(values, sparse=True)
                    elif (
                        frame.select(pl.col(column).approx_n_unique()).item()
                        <= _ENCODE_MAX_DISTINCT * frame.height
                    ):
                        encoded = _encode(values, sparse=False)
                self._encoded[column] = encoded
            return self._encoded[column]

    def distinct(self, column: str) -> pl.Series:
        """The distinct non-null values of (Categorical) ``column``."""
        with self._lock:
            values = self._distinct.get(column)
            if values is None:
                values = self._distinct[column] = self._frame().get_column(column).unique().drop_nulls()
            return values

    def trace_codes(self) -> Encoded:
        """A code per distinct trace id for every row (the group key of trace predicates)."""
        with self._lock:
            encoded = self._encoded.get("trace_id")
            if encoded is None or encoded.rows is not None:
                encoded = _encode(self._frame().get_column("trace_id"), sparse=False)
                self._encoded["trace_id"] = encoded
            return encoded

    def orphan(self) -> pl.Series:
        """True for the records without a usable trace id (``~has_trace_id()``), decided per distinct id."""
        with self._lock:
            if self._orphan is None:
                codes = self.trace_codes()
                per_value = codes.values.to_frame("trace_id").select(~has_trace_id()).to_series()
                self._orphan = codes.spread(per_value).alias(ORPHAN_COLUMN)
            return self._orphan

    def slow(self, rule: SlowStepRule) -> pl.Series:
        """``rule.slow_mask`` of the frame (one group-by and join; the same for every filter)."""
        with self._lock:
            mask = self._slow.get(rule)
            if mask is None:
                mask = self._slow[rule] = rule.slow_mask(self._frame()).alias(SLOW_COLUMN)
            return mask

    def findings(self, thresholds: FindingThresholds) -> pl.DataFrame:
        """The (``trace_id``, ``name``) pairs of the frame's findings (``trace.finding``; the same for every
        filter with these thresholds)."""
        with self._lock:
            found = self._findings.get(thresholds)
            if found is None:
                found = self._findings[thresholds] = trace_findings(self._frame(), thresholds)
            return found

    def per_trace(self, key: tuple[str, SlowStepRule | None], lazy: pl.LazyFrame) -> pl.Series:
        """The value of trace field ``key[0]`` per trace code (null for the codes of orphan ids).

        ``lazy`` is the frame with the helper columns the field's aggregate reads; ``key[1]`` is the slow rule
        when the value depends on it. The value does not depend on the filter, so ``trace.duration>1m`` and a
        later ``trace.duration>5m`` share it.
        """
        with self._lock:
            values = self._per_trace.get(key)
            if values is None:
                codes = self.trace_codes()
                aggregate = trace_parts(key[0])[0].alias(TRACE_VALUE_COLUMN)
                per_code = (
                    lazy.with_columns(codes.codes.alias(_CODE), self.orphan())
                    .filter(~pl.col(ORPHAN_COLUMN))
                    .group_by(_CODE)
                    .agg(aggregate)
                    .collect()
                )
                dtype = per_code.schema[TRACE_VALUE_COLUMN]
                values = pl.repeat(None, len(codes.values), dtype=dtype, eager=True).scatter(
                    per_code.get_column(_CODE), per_code.get_column(TRACE_VALUE_COLUMN)
                )
                self._per_trace[key] = values
            return values


_HELPERS: dict[int, FrameHelpers] = {}
_HELPERS_LOCK = threading.RLock()  # re-entrant: a weakref callback may run while it is held


def _entry_for(frame: pl.DataFrame) -> FrameHelpers:
    """The registry entry of ``frame``: a new one when it is a new object or changed height or schema."""
    key = id(frame)
    with _HELPERS_LOCK:
        helpers = _HELPERS.get(key)
        if helpers is None or not helpers.fits(frame):
            # The callback runs when the frame is freed (before its id can be reused) and drops the entry,
            # unless a newer entry (the same object grown in place) has taken its place.
            def forget(ref: weakref.ref[pl.DataFrame], key: int = key) -> None:
                with _HELPERS_LOCK:
                    entry = _HELPERS.get(key)
                    if entry is not None and entry.ref is ref:
                        del _HELPERS[key]

            helpers = FrameHelpers(frame, weakref.ref(frame, forget))
            _HELPERS[key] = helpers
        return helpers


def helpers_for(frame: pl.DataFrame) -> FrameHelpers | None:
    """The helpers to filter ``frame`` with: None for a small frame and for a frame's first filter."""
    if frame.height < _HELPER_MIN_ROWS:
        return None
    helpers = _entry_for(frame)
    with _HELPERS_LOCK:
        helpers.filters += 1
        return helpers if helpers.warmed or helpers.filters > 1 else None


def warm_filter_helpers(frame: pl.DataFrame, slow_rule: SlowStepRule | None = None) -> None:
    """Build the per-frame helpers of ``frame`` now, so that even the first filter on it is fast.

    For a caller with spare time after loading (the app's worker thread, once the index is posted): the
    distinct-value encodings of the free-text and JSON columns, the trace keys, and the slow mask of
    ``slow_rule`` (default ``SlowStepRule()``) when the frame has no ``slow`` column. Without it, a frame's
    first filter runs without helpers and its second builds the ones it needs. Per-trace aggregates are built
    by the first filter on each trace field. A frame under ``_HELPER_MIN_ROWS`` rows needs none.
    """
    if frame.height < _HELPER_MIN_ROWS:
        return
    helpers = _entry_for(frame)
    helpers.warmed = True
    for name in TEXT_COLUMNS:
        if name in frame.columns:
            if isinstance(frame.schema[name], pl.Categorical):
                helpers.distinct(name)
            else:
                helpers.encoded(name)
    if "trace_id" in frame.columns:
        helpers.orphan()
    if "slow" not in frame.columns and {"tool", "command", "duration_ms"} <= set(frame.columns):
        helpers.slow(slow_rule or SlowStepRule())

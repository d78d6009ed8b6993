"""Trace grouping: one summary row per ``trace_id`` across all files and tools, and the orphans.

Owns ``summarize_traces`` (start, end, wall span, steps, failed and slow steps, slowest step, tools and
operators of each trace) and ``orphans`` (records without a usable trace id, listed rather than lost), plus
the small expressions other engine modules share (``has_trace_id``, ``end_expr``, ``failed_expr``).
Everything is one polars group-by; no per-row Python.

This module must not import a UI library and never reads files: it works on the index frame described in
``INTERFACES.md``. A trace id is used verbatim (``" abc"`` and ``"abc"`` are different traces); an empty or
whitespace-only one is not usable and makes the record an orphan.
"""

from __future__ import annotations

import polars as pl

from auditview.core.slow import SlowStepRule

__all__ = ["TRACE_SUMMARY_SCHEMA", "end_expr", "failed_expr", "has_trace_id", "orphans", "summarize_traces"]

#: Columns and dtypes of ``summarize_traces``' result, in order.
TRACE_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
    "span_ms": pl.Float64(),
    "steps": pl.UInt32(),
    "failed": pl.UInt32(),
    "slow": pl.UInt32(),
    "slowest_ms": pl.Float64(),
    "slowest_tool": pl.String(),
    "slowest_command": pl.String(),
    "slowest_request_id": pl.String(),
    "tools": pl.List(pl.String()),
    "operators": pl.List(pl.String()),
}


def has_trace_id() -> pl.Expr:
    """True where ``trace_id`` is usable: not null, not empty, not whitespace-only."""
    return pl.col("trace_id").cast(pl.String).str.strip_chars().str.len_bytes().fill_null(0) > 0


def end_expr() -> pl.Expr:
    """The end of each step (``ts + duration_ms``) as a UTC datetime with microsecond precision."""
    # an unknown duration (a producer that writes none) ends where it starts: an instant, never a null end
    micros = (pl.col("duration_ms").fill_null(0.0) * 1000.0).round(0).cast(pl.Int64)
    return pl.col("ts") + pl.duration(microseconds=micros)


def failed_expr() -> pl.Expr:
    """True for failed steps: ``exit_code != 0``."""
    return (pl.col("exit_code") != 0).fill_null(False)


def orphans(frame: pl.DataFrame) -> pl.DataFrame:
    """The records without a usable trace id (null, empty or whitespace-only), in frame order."""
    return frame.filter(~has_trace_id())


def _first_seen(name: str, in_time_order: bool) -> pl.Expr:
    """The distinct values of ``name`` in a group in order of first appearance by ``ts`` (ties: row order)."""
    column = pl.col(name) if in_time_order else pl.col(name).sort_by("ts", "__av_row")
    return column.drop_nulls().unique(maintain_order=True)


def summarize_traces(frame: pl.DataFrame, rule: SlowStepRule | None = None) -> pl.DataFrame:
    """One row per usable ``trace_id``, sorted by start then trace id (columns: ``TRACE_SUMMARY_SCHEMA``).

    - ``start``: earliest ``ts``; ``end``: latest ``ts + duration_ms``; ``span_ms``: ``end - start``;
    - ``steps``: records; ``failed``: records with ``exit_code != 0``; ``slow``: slow records (the frame's
      ``slow`` column when it has one, otherwise ``rule`` (default ``SlowStepRule()``) over the whole frame);
    - ``slowest_*``: the longest step (first one in frame order on ties);
    - ``tools``, ``operators``: distinct values in order of first appearance by start (ties: frame order);
    - ``span_ms`` is rounded to 3 decimals (microseconds), like every derived duration.
    """
    if "slow" in frame.columns:
        slow: pl.Expr | pl.Series = pl.col("slow").fill_null(False)
    else:
        slow = (rule or SlowStepRule()).slow_mask(frame)
    # The index frame is in time order already: then a group's rows are too (the group-by keeps row order
    # within a group), and sorting every group again is most of the work (1M rows: 0.33 -> 0.1 s without).
    in_time_order = frame.height < 2 or frame.get_column("ts").is_sorted()
    # Group every record (orphans included) and drop the orphan groups afterwards: filtering the small result
    # is much cheaper than copying every column of a million rows first. The slowest step is located by row
    # number inside the group and its columns gathered once at the end.
    groups = (
        frame.lazy()
        .with_columns(slow.alias("__av_slow"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("__av_row"))
        .group_by(pl.col("trace_id").cast(pl.String))
        .agg(
            pl.col("ts").min().alias("start"),
            end_expr().max().alias("end"),
            pl.len().cast(pl.UInt32).alias("steps"),
            failed_expr().sum().cast(pl.UInt32).alias("failed"),
            pl.col("__av_slow").sum().cast(pl.UInt32).alias("slow"),
            pl.col("duration_ms").max().alias("slowest_ms"),
            pl.col("__av_row").get(pl.col("duration_ms").arg_max()).alias("__av_slowest_row"),
            # Order of first appearance by start time (ties: frame order), whatever the frame's order and
            # however the group-by splits the work; the lists are cast to String once they are small.
            _first_seen("tool", in_time_order).alias("tools"),
            _first_seen("operator", in_time_order).alias("operators"),
        )
        .filter(has_trace_id())
        .with_columns(
            ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1000.0).round(3).alias("span_ms"),
            pl.col("tools").cast(pl.List(pl.String)),
            pl.col("operators").cast(pl.List(pl.String)),
        )
        .sort("start", "trace_id")
        .collect()
    )
    # gathered, then cast: a Categorical column becomes text for one row per trace, not for every record
    slowest = frame.select("tool", "command", "request_id")[groups.get_column("__av_slowest_row")].select(
        pl.col("tool").cast(pl.String).alias("slowest_tool"),
        pl.col("command").cast(pl.String).alias("slowest_command"),
        pl.col("request_id").cast(pl.String).alias("slowest_request_id"),
    )
    summary = pl.concat([groups, slowest], how="horizontal").select(list(TRACE_SUMMARY_SCHEMA))
    return summary.cast(TRACE_SUMMARY_SCHEMA)  # type: ignore[arg-type]

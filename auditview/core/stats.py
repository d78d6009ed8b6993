"""Per-command statistics: for each tool and command, how often it ran, how often it failed, how long it took.

Owns ``command_stats``: one polars group-by over the index frame (count, errors, error rate, mean, p50/p95/p99
with linear interpolation, max and total of ``duration_ms``). It must not import a UI library and never reads
files.
"""

from __future__ import annotations

import polars as pl

from auditview.core.traces import failed_expr

__all__ = ["STATS_SCHEMA", "command_stats"]

#: Columns and dtypes of ``command_stats``' result, in order.
STATS_SCHEMA: dict[str, pl.DataType] = {
    "tool": pl.String(),
    "command": pl.String(),
    "count": pl.UInt32(),
    "errors": pl.UInt32(),
    "error_rate": pl.Float64(),
    "mean_ms": pl.Float64(),
    "p50_ms": pl.Float64(),
    "p95_ms": pl.Float64(),
    "p99_ms": pl.Float64(),
    "max_ms": pl.Float64(),
    "total_ms": pl.Float64(),
}


def command_stats(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (tool, command), sorted by tool then command (columns: ``STATS_SCHEMA``).

    ``errors`` counts records with ``exit_code != 0``; ``error_rate = errors / count``; percentiles
    interpolate linearly between the two nearest durations (as numpy's default does); mean, percentiles and
    total are rounded to 3 decimals.
    """
    duration = pl.col("duration_ms")
    result = (
        frame.lazy()
        .group_by(pl.col("tool").cast(pl.String), pl.col("command").cast(pl.String))
        .agg(
            pl.len().alias("count"),
            failed_expr().sum().alias("errors"),
            duration.mean().alias("mean_ms"),
            duration.quantile(0.50, interpolation="linear").alias("p50_ms"),
            duration.quantile(0.95, interpolation="linear").alias("p95_ms"),
            duration.quantile(0.99, interpolation="linear").alias("p99_ms"),
            duration.max().alias("max_ms"),
            duration.sum().alias("total_ms"),
        )
        .with_columns(
            (pl.col("errors") / pl.col("count")).alias("error_rate"),
            # derived durations to 3 decimals (whole microseconds), like traces and timelines
            pl.col("mean_ms", "p50_ms", "p95_ms", "p99_ms", "total_ms").round(3),
        )
        .sort("tool", "command")
        .select(list(STATS_SCHEMA))
        .collect()
    )
    return result.cast(STATS_SCHEMA)  # type: ignore[arg-type]

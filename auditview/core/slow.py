"""Slow-step rules: when a step counts as slow, and the one-line reason shown next to it.

Owns ``SlowStepRule``: a step is slow when its ``duration_ms`` passes an absolute threshold, **or** when it
is well above the usual duration of the same tool and command in the loaded data (more than ``p95_factor``
times the p95 of that tool+command, given at least ``min_samples`` samples). Everything is computed with
polars (the p95 with one group-by per tool+command, joined back to the rows); no per-row Python.

This module must not import a UI library, and it never reads files: it works on the index frame described in
``INTERFACES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from auditview.text.humanize import format_duration

__all__ = ["SlowBaseline", "SlowStepRule"]

_P95_COLUMN = "__av_p95"
_COUNT_COLUMN = "__av_samples"
_KEY_COLUMN = "__av_pair"


@dataclass(frozen=True)
class SlowBaseline:
    """What "usual" means for the relative rule: the p95 and sample count of each tool+command.

    ``table`` has the columns ``tool``, ``command`` (String), ``p95_ms`` (Float64), ``samples`` (UInt32).
    Build it with ``SlowStepRule.baseline(reference)``; pass it to ``annotate(frame, baseline=...)`` to mark
    newly appended rows against the loaded data without recomputing the percentiles.
    """

    table: pl.DataFrame

    @property
    def samples(self) -> int:
        """The number of records the baseline was computed from."""
        return int(self.table.get_column("samples").sum())


@dataclass(frozen=True)
class SlowStepRule:
    """When a step is slow.

    - ``threshold_ms``: a step longer than this is slow ("over 5s"); ``None`` disables it.
    - ``p95_factor``: a step longer than ``p95_factor`` × the p95 of the same tool+command in the loaded data
      is slow ("4.2× the p95 of deployctl/apply"); ``None`` disables the relative rule.
    - ``min_samples``: the relative rule applies only to tool+command pairs with at least this many records.
    - ``min_ms``: the relative rule ignores steps shorter than this (a 3 ms step is not "slow" because its
      command usually takes 1 ms).
    """

    threshold_ms: float | None = 5000.0
    p95_factor: float | None = 2.0
    min_samples: int = 20
    min_ms: float = 100.0

    def threshold_reason(self) -> str | None:
        """The reason given to a step over the absolute threshold, e.g. ``"over 5s"``."""
        return None if self.threshold_ms is None else f"over {format_duration(self.threshold_ms)}"

    def baseline(self, reference: pl.DataFrame) -> SlowBaseline:
        """The p95 and sample count of each tool+command in ``reference`` (one group-by), for ``annotate``."""
        table = (
            reference.lazy()
            .group_by("tool", "command")
            .agg(
                pl.col("duration_ms").quantile(0.95, interpolation="linear").alias("p95_ms"),
                pl.len().cast(pl.UInt32).alias("samples"),
            )
            .select(
                pl.col("tool").cast(pl.String),
                pl.col("command").cast(pl.String),
                pl.col("p95_ms").cast(pl.Float64),
                "samples",
            )
            .collect()
        )
        return SlowBaseline(table)

    def annotate(
        self,
        frame: pl.DataFrame,
        *,
        reference: pl.DataFrame | None = None,
        baseline: SlowBaseline | None = None,
    ) -> pl.DataFrame:
        """Return ``frame`` with ``slow`` (Boolean, never null) and ``slow_reason`` (String, null if not slow)

        The p95 of each tool+command comes from ``baseline`` when given (see ``baseline()``; the cheap way to
        annotate rows appended while following), else from ``reference``, else from ``frame`` itself. Pass the
        whole loaded frame as ``reference`` (or its baseline) when annotating a slice of it (one trace, a
        filtered view), so that "usual" means usual in all the loaded data.
        """
        slow, reason = self.slow_columns(frame, reference=reference, baseline=baseline)
        return frame.with_columns(slow, reason)

    def slow_columns(
        self,
        frame: pl.DataFrame,
        *,
        reference: pl.DataFrame | None = None,
        baseline: SlowBaseline | None = None,
    ) -> tuple[pl.Series, pl.Series]:
        """The ``slow`` and ``slow_reason`` series for ``frame`` (as ``annotate`` adds them)."""
        stats = self._row_stats(frame, reference=reference, baseline=baseline)
        slow = stats.select(self._slow_expr().alias("slow")).to_series()
        reason = pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias("slow_reason")
        if slow.any():
            rows = slow.arg_true()
            reason = reason.scatter(rows, stats[rows].select(self._reason_expr()).to_series())
        return slow, reason

    def slow_mask(
        self,
        frame: pl.DataFrame,
        *,
        reference: pl.DataFrame | None = None,
        baseline: SlowBaseline | None = None,
    ) -> pl.Series:
        """Just the ``slow`` series of ``slow_columns`` (no reasons are formatted)."""
        stats = self._row_stats(frame, reference=reference, baseline=baseline)
        return stats.select(self._slow_expr().alias("slow")).to_series()

    def slow_expr(self) -> pl.Expr:
        """A Boolean expression (never null), true for slow steps; the p95 is over the frame it runs on.

        A window over ``tool, command``: fine for small frames; ``slow_mask`` is much faster on large ones.
        """
        return self._slow_expr(p95=self._p95_window(), samples=self._count_window())

    @staticmethod
    def _p95_window() -> pl.Expr:
        return pl.col("duration_ms").quantile(0.95, interpolation="linear").over("tool", "command")

    @staticmethod
    def _count_window() -> pl.Expr:
        return pl.len().over("tool", "command")

    def _row_stats(
        self,
        frame: pl.DataFrame,
        *,
        reference: pl.DataFrame | None,
        baseline: SlowBaseline | None,
    ) -> pl.DataFrame:
        """``tool, command, duration_ms`` of ``frame`` plus the p95 and sample count of each row's pair.

        The (few) distinct pairs of ``frame`` are matched to the baseline by name, then each row finds its
        pair with a join on the frame's own key columns (physical codes when they are Categorical).
        """
        base = frame.select("tool", "command", "duration_ms")
        if self.p95_factor is None:
            return base.with_columns(
                pl.lit(None, dtype=pl.Float64).alias(_P95_COLUMN),
                pl.lit(None, dtype=pl.UInt32).alias(_COUNT_COLUMN),
            )
        if baseline is None:
            baseline = self.baseline(frame if reference is None else _relevant(reference, frame))
        categorical = all(isinstance(frame.schema[name], pl.Categorical) for name in ("tool", "command"))
        if categorical:
            # One UInt64 per row from the two physical codes: joining on it is several times faster than
            # joining on the Categorical columns themselves.
            key = (
                pl.col("tool").to_physical().cast(pl.UInt64) * (1 << 32)
                + pl.col("command").to_physical().cast(pl.UInt64)
            ).alias(_KEY_COLUMN)
            keyed = base.lazy().with_columns(key)
            pairs = keyed.group_by(_KEY_COLUMN).agg(pl.col("tool").first(), pl.col("command").first())
            on = [_KEY_COLUMN]
        else:
            keyed = base.lazy()
            pairs = keyed.select("tool", "command").unique()
            on = ["tool", "command"]
        matched = (
            pairs.with_columns(
                pl.col("tool").cast(pl.String).alias("__av_tool"),
                pl.col("command").cast(pl.String).alias("__av_command"),
            )
            .join(
                baseline.table.lazy().rename({"p95_ms": _P95_COLUMN, "samples": _COUNT_COLUMN}),
                left_on=["__av_tool", "__av_command"],
                right_on=["tool", "command"],
                how="left",
            )
            .select(*on, _P95_COLUMN, _COUNT_COLUMN)
        )
        out = keyed.join(matched, on=on, how="left", maintain_order="left", nulls_equal=True)
        return (out.drop(_KEY_COLUMN) if categorical else out).collect()

    def _over_threshold(self) -> pl.Expr:
        if self.threshold_ms is None:
            return pl.lit(False)
        return (pl.col("duration_ms") > self.threshold_ms).fill_null(False)

    def _relative(self, p95: pl.Expr, samples: pl.Expr) -> pl.Expr:
        if self.p95_factor is None:
            return pl.lit(False)
        duration = pl.col("duration_ms")
        return (
            (samples >= self.min_samples)
            & (p95 > 0)
            & (duration >= self.min_ms)
            & (duration > p95 * self.p95_factor)
        ).fill_null(False)

    def _slow_expr(self, p95: pl.Expr | None = None, samples: pl.Expr | None = None) -> pl.Expr:
        p95 = pl.col(_P95_COLUMN) if p95 is None else p95
        samples = pl.col(_COUNT_COLUMN) if samples is None else samples
        return self._over_threshold() | self._relative(p95, samples)

    def _reason_expr(self) -> pl.Expr:
        p95 = pl.col(_P95_COLUMN)
        relative_text = pl.format(
            "{}× the p95 of {}/{}",
            (pl.col("duration_ms") / p95).round(1).cast(pl.String),
            pl.col("tool").cast(pl.String),
            pl.col("command").cast(pl.String),
        )
        over = self._over_threshold()
        relative = self._relative(p95, pl.col(_COUNT_COLUMN))
        threshold_text = pl.lit(self.threshold_reason() or "", dtype=pl.String)
        return (
            pl.when(over & relative)
            .then(pl.concat_str(threshold_text, pl.lit("; "), relative_text))
            .when(over)
            .then(threshold_text)
            .when(relative)
            .then(relative_text)
            .otherwise(pl.lit(None, dtype=pl.String))
        )


def _relevant(reference: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """``reference`` cut to the tools and commands of ``frame`` when that is a small slice (one trace, say).

    The p95 of a tool+command depends only on its own records, so the cut changes no result; it spares the
    group-by over a million rows when a timeline annotates a dozen steps.
    """
    if frame.height * 4 > reference.height:
        return reference
    keep: list[pl.Expr] = []
    for name in ("tool", "command"):
        if reference.schema[name] != frame.schema[name]:
            return reference
        keep.append(pl.col(name).is_in(frame.get_column(name).unique().implode()))
    return reference.lazy().select("tool", "command", "duration_ms").filter(*keep).collect()

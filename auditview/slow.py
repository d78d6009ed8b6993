"""Slow-step rules: when a step counts as slow, and the one-line reason shown next to it.

Owns ``SlowStepRule``: a step is slow when its ``duration_ms`` passes an absolute threshold, **or** when it
is well above the usual duration of the same tool and command in the loaded data (more than ``p95_factor``
times the p95 of that tool+command, given at least ``min_samples`` samples). Everything is computed with
polars expressions (the p95 with a window over ``tool, command``); no per-row Python.

This module must not import a UI library, and it never reads files: it works on the index frame described in
``INTERFACES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["SlowStepRule", "format_ms"]

_P95_COLUMN = "__av_p95"
_COUNT_COLUMN = "__av_samples"


def format_ms(ms: float) -> str:
    """Format milliseconds for humans: ``250 ms``, ``1.5 s``, ``5 s``, ``2 min``, ``1 h 30 min``."""
    if ms < 1000:
        return f"{ms:g} ms"
    if ms < 60_000:
        return f"{ms / 1000:.3g} s" if ms % 1000 else f"{ms / 1000:.0f} s"
    minutes, rest_ms = divmod(ms, 60_000)
    if minutes < 60:
        seconds = rest_ms / 1000
        return f"{minutes:.0f} min" if seconds < 0.5 else f"{minutes:.0f} min {seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours:.0f} h" if minutes == 0 else f"{hours:.0f} h {minutes:.0f} min"


@dataclass(frozen=True)
class SlowStepRule:
    """When a step is slow.

    - ``threshold_ms``: a step longer than this is slow ("over 5 s"); ``None`` disables it.
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
        """The reason given to a step over the absolute threshold, e.g. ``"over 5 s"``."""
        return None if self.threshold_ms is None else f"over {format_ms(self.threshold_ms)}"

    def annotate(self, frame: pl.DataFrame, *, reference: pl.DataFrame | None = None) -> pl.DataFrame:
        """Return ``frame`` with ``slow`` (Boolean, never null) and ``slow_reason`` (String, null if not slow)

        The p95 of each tool+command comes from ``reference`` (default: ``frame`` itself). Pass the whole
        loaded frame as ``reference`` when annotating a slice of it (one trace, a filtered view), so that
        "usual" means usual in all the loaded data.
        """
        if reference is None:
            out = frame.lazy().with_columns(*self._window_stats())
        else:
            out = self._join_stats(frame, reference)
        return (
            out.with_columns(slow=self._slow_expr(), slow_reason=self._reason_expr())
            .drop(_P95_COLUMN, _COUNT_COLUMN)
            .collect()
        )

    def slow_expr(self) -> pl.Expr:
        """A Boolean expression (never null), true for slow steps; the p95 is over the frame it runs on."""
        return self._slow_expr(p95=self._p95_window(), samples=self._count_window())

    def _window_stats(self) -> list[pl.Expr]:
        return [self._p95_window().alias(_P95_COLUMN), self._count_window().alias(_COUNT_COLUMN)]

    @staticmethod
    def _p95_window() -> pl.Expr:
        return pl.col("duration_ms").quantile(0.95, interpolation="linear").over("tool", "command")

    @staticmethod
    def _count_window() -> pl.Expr:
        return pl.len().over("tool", "command")

    def _join_stats(self, frame: pl.DataFrame, reference: pl.DataFrame) -> pl.LazyFrame:
        keys = [pl.col("tool").cast(pl.String), pl.col("command").cast(pl.String)]
        pairs = frame.lazy().select(*keys).unique()
        stats = (
            reference.lazy()
            .with_columns(*keys)
            .join(pairs, on=["tool", "command"], how="semi")
            .group_by("tool", "command")
            .agg(
                pl.col("duration_ms").quantile(0.95, interpolation="linear").alias(_P95_COLUMN),
                pl.len().alias(_COUNT_COLUMN),
            )
        )
        return (
            frame.lazy()
            .with_columns(
                pl.col("tool").cast(pl.String).alias("__av_tool"),
                pl.col("command").cast(pl.String).alias("__av_command"),
            )
            .join(
                stats,
                left_on=["__av_tool", "__av_command"],
                right_on=["tool", "command"],
                how="left",
                maintain_order="left",
            )
            .drop("__av_tool", "__av_command")
        )

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

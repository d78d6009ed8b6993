"""Per-command statistics: counts, errors, error rate and duration percentiles per tool and command."""

from __future__ import annotations

import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from auditview.core.stats import STATS_SCHEMA, command_stats
from tests.engine.frames import make_frame


def linear_quantile(values: list[float], q: float) -> float:
    """The quantile with linear interpolation between closest ranks (numpy's default method)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_known_figures_per_tool_and_command() -> None:
    """Counts, errors, rate and percentiles for a hand-built set of records."""
    rows = [
        {"tool": "deployctl", "command": "apply", "duration_ms": float(ms), "exit_code": 0}
        for ms in range(1, 101)
    ]
    rows += [
        {"tool": "deployctl", "command": "apply", "duration_ms": 500.0, "exit_code": 1} for _ in range(4)
    ]
    rows += [{"tool": "verifyctl", "command": "apply", "duration_ms": 7.0, "exit_code": 0}]
    stats = command_stats(make_frame(rows))
    assert stats.schema == pl.Schema(STATS_SCHEMA)
    assert stats.select("tool", "command", "count", "errors").rows() == [
        ("deployctl", "apply", 104, 4),
        ("verifyctl", "apply", 1, 0),
    ]
    deploy = stats.row(0, named=True)
    durations = [float(ms) for ms in range(1, 101)] + [500.0] * 4
    assert deploy["error_rate"] == 4 / 104
    assert deploy["p50_ms"] == linear_quantile(durations, 0.5)
    assert deploy["p95_ms"] == linear_quantile(durations, 0.95)
    assert deploy["p99_ms"] == linear_quantile(durations, 0.99)
    assert deploy["max_ms"] == 500.0
    assert deploy["total_ms"] == sum(durations)
    single = stats.row(1, named=True)
    assert (single["p50_ms"], single["p99_ms"], single["error_rate"]) == (7.0, 7.0, 0.0)


def test_categorical_and_empty_frames() -> None:
    """Categorical columns give the same result; an empty frame gives an empty table with the schema."""
    rows = [
        {"tool": "a", "command": "x", "duration_ms": 1.0},
        {"tool": "b", "command": "y", "duration_ms": 2.0, "exit_code": 3},
    ]
    assert command_stats(make_frame(rows)).equals(command_stats(make_frame(rows, categorical=True)))
    empty = command_stats(make_frame([]))
    assert empty.height == 0
    assert empty.schema == pl.Schema(STATS_SCHEMA)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]), st.floats(min_value=0, max_value=1e6), st.sampled_from([0, 1])
        ),
        min_size=1,
        max_size=40,
    )
)
def test_percentiles_match_a_reference(rows: list[tuple[str, float, int]]) -> None:
    """p50/p95/p99 equal linear-interpolation quantiles computed in plain Python, to 3 decimals."""
    frame = make_frame([{"command": c, "duration_ms": d, "exit_code": e} for c, d, e in rows])
    for row in command_stats(frame).iter_rows(named=True):
        values = [d for c, d, _ in rows if c == row["command"]]
        for q, column in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
            # rounded to whole microseconds (3 decimals), so within half a microsecond of the exact value
            # (plus the float error of a value that lies exactly halfway: 2.9775 -> 2.978)
            assert math.isclose(row[column], linear_quantile(values, q), rel_tol=1e-9, abs_tol=5e-4 + 1e-9)
            assert row[column] == round(row[column], 3)
        assert row["errors"] == sum(e for c, _, e in rows if c == row["command"])

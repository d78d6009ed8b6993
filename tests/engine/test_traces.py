"""Trace grouping: per-trace summaries across tools and files, and orphans listed rather than lost."""

from __future__ import annotations

import polars as pl
import pytest

from auditview.core.slow import SlowStepRule
from auditview.core.traces import TRACE_SUMMARY_SCHEMA, orphans, summarize_traces
from tests.engine.frames import at, make_frame, synthetic_frame

RECORDS = [
    # One agent run across three tools and two log files: deploy -> verify (fails) -> rollback.
    {
        "request_id": "d",
        "trace_id": "run-1",
        "tool": "deployctl",
        "command": "apply",
        "start_ms": 0,
        "duration_ms": 4000,
        "operator": "agent-7",
        "file_id": 0,
    },
    {
        "request_id": "v",
        "trace_id": "run-1",
        "tool": "verifyctl",
        "command": "check",
        "start_ms": 5000,
        "duration_ms": 1000,
        "exit_code": 2,
        "operator": "agent-7",
        "file_id": 1,
    },
    {
        "request_id": "r",
        "trace_id": "run-1",
        "tool": "deployctl",
        "command": "rollback",
        "start_ms": 7000,
        "duration_ms": 9000,
        "operator": "alice",
        "file_id": 0,
    },
    {
        "request_id": "s",
        "trace_id": "run-2",
        "tool": "deployctl",
        "command": "status",
        "start_ms": 1000,
        "duration_ms": 10,
        "operator": "bob",
        "file_id": 2,
    },
    {"request_id": "o1", "trace_id": "", "start_ms": 2000},
    {"request_id": "o2", "trace_id": " \t", "start_ms": 3000},
    {"request_id": "w", "trace_id": " run-2", "start_ms": 4000},
]


def test_one_row_per_trace_across_tools_and_files() -> None:
    """Records of several tools and files with one trace id form one trace with the right figures."""
    summary = summarize_traces(make_frame(RECORDS), SlowStepRule(threshold_ms=5000))
    assert summary.schema == pl.Schema(TRACE_SUMMARY_SCHEMA)
    assert summary["trace_id"].to_list() == ["run-1", "run-2", " run-2"]
    run = summary.row(0, named=True)
    assert run["start"] == at(0)
    assert run["end"] == at(16_000)
    assert run["span_ms"] == 16_000.0
    assert run["steps"] == 3
    assert run["failed"] == 1
    assert run["slow"] == 1
    assert (run["slowest_ms"], run["slowest_tool"], run["slowest_command"], run["slowest_request_id"]) == (
        9000.0,
        "deployctl",
        "rollback",
        "r",
    )
    assert run["tools"] == ["deployctl", "verifyctl"]
    assert run["operators"] == ["agent-7", "alice"]


def test_end_is_the_latest_end_not_the_last_start() -> None:
    """A long early step defines the trace's end when it finishes after later short ones."""
    frame = make_frame(
        [
            {"request_id": "a", "start_ms": 0, "duration_ms": 10_000},
            {"request_id": "b", "start_ms": 1000, "duration_ms": 5},
        ]
    )
    row = summarize_traces(frame).row(0, named=True)
    assert row["end"] == at(10_000)
    assert row["span_ms"] == 10_000.0


def test_existing_slow_column_is_used() -> None:
    """A frame already annotated with `slow` is counted as is."""
    frame = make_frame(RECORDS).with_columns(slow=pl.col("request_id").is_in(["d", "v"]))
    assert summarize_traces(frame).row(0, named=True)["slow"] == 2


def test_orphans_are_listed_not_lost() -> None:
    """Empty or whitespace-only trace ids make orphans; every record is in a trace or an orphan."""
    frame = make_frame(RECORDS)
    lost = orphans(frame)
    assert lost["request_id"].to_list() == ["o1", "o2"]
    assert summarize_traces(frame)["steps"].sum() + lost.height == frame.height


def test_null_trace_id_is_an_orphan() -> None:
    """A null trace id (should the index ever produce one) counts as an orphan."""
    frame = make_frame(RECORDS).with_columns(
        trace_id=pl.when(pl.col("request_id") == "s").then(None).otherwise(pl.col("trace_id"))
    )
    assert "s" in orphans(frame)["request_id"].to_list()
    assert "run-2" not in summarize_traces(frame)["trace_id"].to_list()


def test_categorical_frames_give_the_same_summary() -> None:
    """Categorical low-cardinality columns do not change the summary."""
    plain = make_frame(RECORDS)
    categorical = make_frame(RECORDS, categorical=True)
    assert summarize_traces(plain).equals(summarize_traces(categorical))


def test_empty_frame_gives_an_empty_summary_with_the_schema() -> None:
    """No records: no traces, but the columns are all there."""
    summary = summarize_traces(make_frame([]))
    assert summary.height == 0
    assert summary.schema == pl.Schema(TRACE_SUMMARY_SCHEMA)


def test_large_frame_totals_are_consistent() -> None:
    """On 50k synthetic records the per-trace step counts add up to every non-orphan record."""
    frame = synthetic_frame(50_000)
    summary = summarize_traces(frame)
    assert summary["steps"].sum() + orphans(frame).height == frame.height
    assert summary["trace_id"].n_unique() == summary.height
    assert (summary["span_ms"] >= summary["slowest_ms"]).all()


def test_span_is_rounded_and_lists_follow_start_time_whatever_the_frame_order() -> None:
    """span_ms has 3 decimals; tools/operators list first appearance by start even in a shuffled frame."""
    rows = [
        {"request_id": "a", "tool": "zeta", "operator": "op-z", "start_ms": 0.001, "duration_ms": 15516.942},
        {"request_id": "b", "tool": "alpha", "operator": "op-a", "start_ms": 10.0, "duration_ms": 1.0},
        {"request_id": "c", "tool": "mid", "operator": "op-a", "start_ms": 20.0, "duration_ms": 1.0},
        {"request_id": "d", "tool": "zeta", "operator": "op-m", "start_ms": 30.0, "duration_ms": 1.0},
    ]
    frame = make_frame(rows, categorical=True)
    for candidate in (frame, frame.reverse(), frame[[2, 0, 3, 1]]):
        row = summarize_traces(candidate).row(0, named=True)
        assert row["tools"] == ["zeta", "alpha", "mid"]
        assert row["operators"] == ["op-z", "op-a", "op-m"]
        assert row["span_ms"] == 15516.942
        assert repr(row["span_ms"]) == "15516.942"


def test_summaries_are_identical_across_runs_on_a_large_frame() -> None:
    """The parallel group-by gives the same summaries, list orders included, run after run."""
    frame = synthetic_frame(60_000)
    first = summarize_traces(frame)
    for _ in range(3):
        assert summarize_traces(frame).equals(first)


def test_a_time_ordered_frame_skips_the_per_group_sort_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a frame already in time order (the index's), the lists come from row order; forcing the sorting
    path on the same frame, ties included, gives the identical summary."""
    frame = (
        synthetic_frame(60_000).with_columns(pl.col("ts").dt.truncate("1s")).sort("ts", maintain_order=True)
    )
    assert frame.get_column("ts").is_sorted()
    assert frame.get_column("ts").is_duplicated().any()  # ties, decided by row order either way
    fast = summarize_traces(frame)
    monkeypatch.setattr(pl.Series, "is_sorted", lambda self, *args, **kwargs: False)
    assert summarize_traces(frame).equals(fast)

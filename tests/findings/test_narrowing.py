"""The detectors' narrowing in polars is only a shortcut: on random traces (ties, instants, failures, several
tools), walking the narrowed rows finds exactly what walking every candidate row finds, and a frame without
``params`` (with ``params_of``) gives exactly the findings of the frame with its ``params`` column."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from auditview.core import findings
from tests.findings.cases import frame, step

COMMANDS = ("deploy", "verify", "rollback", "build", "release api", "health", "undo")
TOOLS = ("deployctl", "kubectl")
PARAMS: tuple[dict[str, Any], ...] = (
    {"env": "prod", "service": "api"},
    {"env": "prod", "service": "api", "version": 2},
    {"service": "api", "env": "prod"},
    {"env": "dev"},
    {"service": "api"},
    {},
)

_STEP = st.builds(
    lambda at, command, tool, trace, code, duration, params, rid: step(
        at,
        command,
        tool=tool,
        trace_id=f"t{trace}",
        exit_code=code,
        duration_s=duration,
        params=params,
        request_id=f"r{rid}",
    ),
    st.integers(0, 50),
    st.sampled_from(COMMANDS),
    st.sampled_from(TOOLS),
    st.integers(0, 2),
    st.sampled_from((0, 0, 0, 1, 2, None)),
    st.sampled_from((0.0, 0.0, 1.0, 2.0, 5.0, 10.0)),
    st.sampled_from(PARAMS),
    st.integers(0, 60),
)
THRESHOLDS = (findings.FindingThresholds(), findings.FindingThresholds(retry_runs=2))


def _walk(base: pl.DataFrame, flapping: pl.DataFrame, after_verify: pl.DataFrame) -> pl.DataFrame:
    walked = findings._walked(base, flapping, after_verify, findings.FindingThresholds())
    if walked is None:
        return pl.DataFrame(schema={"trace_id": pl.String(), "name": pl.String(), "reason": pl.String()})
    return walked.select("trace_id", "name", "reason").sort(pl.all())


@settings(max_examples=300, deadline=None)
@given(st.lists(_STEP, min_size=1, max_size=40))
def test_narrowed_walks_find_what_full_walks_find(records: list[dict[str, Any]]) -> None:
    base = findings._base(frame(*records), findings.FindingThresholds())
    own = base.lazy()
    flapping_rows = findings._flapping_rows(own).collect()
    after_rows = findings._rollback_after_verify_rows(own).collect()
    narrowed = _walk(base, findings._flapping_calls(flapping_rows), findings._after_verify_traces(after_rows))
    assert_frame_equal(narrowed, _walk(base, flapping_rows, after_rows.drop("first_verified")))


@settings(max_examples=200, deadline=None)
@given(st.lists(_STEP, min_size=1, max_size=40))
def test_params_of_gives_the_findings_of_the_params_column(records: list[dict[str, Any]]) -> None:
    full = frame(*records)
    by_place = dict(
        zip(
            zip(full["file_id"].to_list(), full["offset"].to_list(), strict=True),
            full["params"].to_list(),
            strict=True,
        )
    )

    def params_of(rows: pl.DataFrame) -> pl.Series:
        places = zip(rows["file_id"].to_list(), rows["offset"].to_list(), strict=True)
        return pl.Series([by_place[place] for place in places], dtype=pl.String())

    for thresholds in THRESHOLDS:
        expected = findings.detect_findings(full, thresholds)
        lean = findings.detect_findings(full.drop("params"), thresholds, params_of=params_of)
        assert_frame_equal(lean, expected)


# -- the detectors' polars shortcuts against their plain window formulations ------------------------------

_ANY_STEP = st.builds(
    lambda at, command, tool, trace, code, duration, rid: step(
        at, command, tool=tool, trace_id=trace, exit_code=code, duration_s=duration, request_id=rid
    ),
    st.integers(0, 400),
    st.sampled_from(COMMANDS),
    st.sampled_from(TOOLS),
    st.sampled_from(("t0", "t1", "t2", "t3", "", " ")),
    st.sampled_from((0, 0, 0, 1, 2, None)),
    # negative durations (an end before the start) too: a gap's opener need not be the step before it
    st.sampled_from((0.0, 0.0, 1.0, 2.0, 5.0, 60.0, 150.0, -3.0, -100.0)),
    st.sampled_from(("r1", "r2", "r3", " ", "", "r4", "r5", "r6", "r7")),
)


def _usable() -> pl.Expr:
    return pl.col("usable")


def _retry_calls_by_window(base: pl.LazyFrame, th: findings.FindingThresholds) -> pl.LazyFrame:
    key = ["trace_id", "tool", "command"]
    failed = pl.col("failed")
    return (
        base.filter(_usable())
        .with_columns(pl.len().over(key).alias("calls"), failed.sum().over(key).alias("call_failures"))
        .filter((pl.col("calls") >= th.retry_runs) & (pl.col("call_failures") >= th.retry_runs - 1))
        .drop("calls", "call_failures")
    )


def _flapping_rows_by_window(base: pl.LazyFrame) -> pl.LazyFrame:
    kind, start = pl.col("kind"), pl.col("start_us")
    deploy_start = pl.when(kind == "deploy").then(start)
    between = (start > deploy_start.min().over("trace_id")) & (start < deploy_start.max().over("trace_id"))
    rows = base.filter(_usable() & kind.is_in(["deploy", "rollback"]))
    return rows.filter(((kind == "rollback") & between).any().over("trace_id"))


def _after_verify_rows_by_window(base: pl.LazyFrame) -> pl.LazyFrame:
    kind = pl.col("kind")
    verified = pl.when((kind == "verify") & (pl.col("exit_code") == 0)).then(pl.col("end_us"))
    return (
        base.filter(_usable() & (kind.is_not_null() | pl.col("failed")))
        .with_columns(verified.min().over("trace_id").alias("first_verified"))
        .filter(
            ((kind == "rollback") & (pl.col("start_us") >= pl.col("first_verified"))).any().over("trace_id")
        )
    )


def _unverified_by_window(base: pl.LazyFrame) -> pl.DataFrame:
    kind = pl.col("kind")
    last_verify = pl.when(kind == "verify").then(pl.col("start_us")).max().over("trace_id")
    return (
        base.filter(_usable() & kind.is_not_null())
        .with_columns(last_verify.alias("last_verify"))
        .filter(
            (kind == "deploy")
            & (pl.col("exit_code") == 0)
            & (pl.col("last_verify").is_null() | (pl.col("last_verify") < pl.col("start_us")))
        )
        .select("trace_id", "ts", pl.concat_list(findings._STEP).alias("steps"))
        .collect()
    )


def _long_gaps_by_window(base: pl.LazyFrame, th: findings.FindingThresholds) -> pl.DataFrame:
    """The long gaps as (trace, opener step, gap step, gap, median), by windows over the trace id."""
    trace, covered = "trace_id", pl.col("covered")
    steps = (
        base.filter(_usable())
        .with_columns(pl.col("end_us").cum_max().shift(1).over(trace).alias("covered"))
        .with_columns(
            pl.when(covered.is_null() | (pl.col("end_us") >= covered)).then(pl.col("row")).alias("ender"),
            (pl.col("start_us") - covered).alias("gap_us"),
        )
        .with_columns(pl.col("ender").forward_fill().shift(1).over(trace).alias("opener"))
        .filter(pl.col("gap_us") > 0)
        .with_columns(pl.col("gap_us").median().over(trace).alias("median_us"))
    )
    limit = pl.max_horizontal(pl.lit(th.gap_min_ms * 1000.0), pl.col("median_us") * th.gap_median_factor)
    return steps.filter(pl.col("gap_us") > limit).select("trace_id", "opener", "row").collect()


def _by_trace(found: pl.DataFrame) -> pl.DataFrame:
    """Findings trace by trace, each trace's in the order found (what the final stable sort keeps on ties)."""
    return found.sort("trace_id", maintain_order=True)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_ANY_STEP, min_size=1, max_size=40),
    st.sampled_from(
        (
            findings.FindingThresholds(),
            findings.FindingThresholds(retry_runs=2, gap_min_ms=0.0, gap_median_factor=0.0),
            findings.FindingThresholds(gap_min_ms=1000.0, gap_median_factor=1.5),
        )
    ),
)
def test_narrowed_detectors_equal_their_window_formulations(
    records: list[dict[str, Any]], th: findings.FindingThresholds
) -> None:
    base = findings._base(frame(*records), th).lazy()
    assert_frame_equal(findings._retry_calls(base, th).collect(), _retry_calls_by_window(base, th).collect())
    assert_frame_equal(findings._flapping_rows(base).collect(), _flapping_rows_by_window(base).collect())
    assert_frame_equal(
        findings._rollback_after_verify_rows(base).collect(), _after_verify_rows_by_window(base).collect()
    )
    unverified = findings._deploy_without_verify(base).collect().select("trace_id", "ts", "steps")
    assert_frame_equal(_by_trace(unverified), _by_trace(_unverified_by_window(base)))
    gaps = findings._long_think_gap(base, th).collect()
    expected = _long_gaps_by_window(base, th)
    rows = base.collect().select("row", findings._STEP.alias("step"))
    expected_steps = (
        expected.join(rows.rename({"row": "opener", "step": "first"}), on="opener", maintain_order="left")
        .join(rows, on="row", maintain_order="left")
        .select("trace_id", pl.concat_list("first", "step").alias("steps"))
    )
    assert_frame_equal(_by_trace(gaps.select("trace_id", "steps")), _by_trace(expected_steps))
    duplicates = findings._duplicate_request_id(base).collect()
    rid = pl.col("request_id")
    plain = (
        base.filter((rid.str.strip_chars().str.len_bytes().fill_null(0) > 0) & rid.is_duplicated())
        .filter(_usable())
        .group_by("trace_id", "request_id", maintain_order=True)
        .agg(findings._STEP.alias("steps"))
        .collect()
    )
    assert_frame_equal(_by_trace(duplicates.select("trace_id", "steps")), _by_trace(plain.drop("request_id")))

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

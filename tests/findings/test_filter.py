"""``trace.finding`` in the filter language: what it selects, its errors, its columns, and no pushdown."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from auditview.core.findings import DETECTORS, FINDING_COLUMNS, FindingThresholds
from auditview.core.pushdown import line_prefilter
from auditview.core.query import FilterError, compile_filter, complete
from tests.engine.frames import synthetic_frame
from tests.findings.cases import frame, step


def _data() -> pl.DataFrame:
    """t-loop: a retry loop; t-gap: a long think gap; t-clean: nothing; one orphan."""
    return frame(
        step(0, "apply", exit_code=1, trace_id="t-loop", request_id="l1"),
        step(10, "apply", exit_code=1, trace_id="t-loop", request_id="l2"),
        step(20, "apply", exit_code=1, trace_id="t-loop", request_id="l3"),
        *(step(at, "status", trace_id="t-gap", request_id=f"g{at}") for at in (0, 2, 4, 200)),
        step(0, "status", trace_id="t-clean", request_id="c1"),
        step(1, "status", trace_id="", request_id="o1"),
    )


def _ids(text: str, data: pl.DataFrame | None = None) -> list[str]:
    """The request ids a filter keeps, checked against the plain expression (``prepare`` + ``predicate``)."""
    data = _data() if data is None else data
    compiled = compile_filter(text)
    kept = compiled.apply(data)
    plain = (
        compiled.prepare(data.lazy(), data.schema)
        .filter(compiled.predicate(data.schema))
        .select(data.columns)
        .collect()
    )
    assert kept.equals(plain), text
    return sorted(kept.get_column("request_id").to_list())


LOOP = ["l1", "l2", "l3"]
GAP = ["g0", "g2", "g200", "g4"]


def test_trace_finding_selects_the_records_of_traces_with_findings() -> None:
    assert _ids("trace.finding") == sorted(LOOP + GAP)
    assert _ids("trace.finding=retry-loop") == LOOP
    assert _ids("trace.finding=RETRY-LOOP") == LOOP
    assert _ids("trace.finding=long-think-gap and request_id=g4") == ["g4"]
    assert _ids("trace.finding in (retry-loop, long-think-gap)") == sorted(LOOP + GAP)
    assert _ids("trace.finding~gap") == GAP
    assert _ids("trace.finding=flapping") == []


def test_negations_and_null_are_exact_complements_with_orphans_having_none() -> None:
    everyone = sorted(LOOP + GAP + ["c1", "o1"])
    for positive, negative in (
        ("trace.finding", "not trace.finding"),
        ("trace.finding=retry-loop", "trace.finding!=retry-loop"),
        ("trace.finding~gap", "trace.finding!~gap"),
        ("trace.finding in (retry-loop, null)", "trace.finding not in (retry-loop, null)"),
    ):
        assert sorted(_ids(positive) + _ids(negative)) == everyone, positive
    assert _ids("trace.finding=null") == ["c1", "o1"]
    assert _ids("not trace.finding") == ["c1", "o1"]


def test_trace_finding_uses_the_filters_thresholds() -> None:
    data = _data()
    lenient = compile_filter("trace.finding=long-think-gap", findings=FindingThresholds(gap_min_ms=500_000))
    assert lenient.apply(data).height == 0
    assert compile_filter("trace.finding=long-think-gap").apply(data).height == len(GAP)


def test_trace_finding_on_a_large_frame_agrees_with_the_plain_expression() -> None:
    """Over the per-frame helpers' threshold (and again, when the findings are cached per frame)."""
    data = synthetic_frame(30_000, traces=300)
    failed = pl.col("exit_code") != 0
    data = data.with_columns(
        pl.when(failed).then(pl.int_range(pl.len()) % 3 + 1).otherwise(0).alias("exit_code")
    )
    for text in ("trace.finding=new-error-code", "not trace.finding", "trace.finding and failed"):
        first = _ids(text, data)
        assert _ids(text, data) == first
        assert _ids(text, data) == first  # third filter: the helpers are built and hold the findings
    assert _ids("trace.finding=new-error-code", data)  # its failures change their exit codes


def test_trace_finding_errors() -> None:
    with pytest.raises(FilterError, match=r"unknown finding 'retry'.*did you mean 'retry-loop'") as err:
        compile_filter("trace.finding=retry")
    assert err.value.suggestion == "retry-loop"
    assert err.value.position == len("trace.finding=")
    with pytest.raises(FilterError, match=r"'>' does not apply to 'trace\.finding'"):
        compile_filter("trace.finding>flapping")
    with pytest.raises(FilterError, match=r"did you mean 'trace\.finding'"):
        compile_filter("trace.findings=flapping")
    with pytest.raises(FilterError, match=r"cannot be used inside trace\.has"):
        compile_filter("trace.has(trace.finding)")


def test_trace_finding_reads_the_detectors_columns_and_completes_names() -> None:
    compiled = compile_filter("trace.finding=flapping")
    assert compiled.uses_trace
    assert compiled.columns >= FINDING_COLUMNS
    data = _data()
    assert complete("trace.finding=", len("trace.finding="), data) == list(DETECTORS)
    assert complete("trace.fin", len("trace.fin"), data) == ["trace.finding"]


SINCE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_trace_finding_is_never_pushed_down() -> None:
    """Like every ``trace.*`` predicate, its value for a record depends on other records: nothing of the
    filter is read off the lines, a trace id selector beside it is not either, only a time range is."""
    for text in (
        "trace.finding",
        "trace.finding=retry-loop",
        "not trace.finding=retry-loop",
        "trace.finding in (flapping, null)",
        "command=deploy and trace.finding=flapping",
        "command=deploy or trace.finding",
    ):
        compiled = compile_filter(text)
        assert line_prefilter(compiled) is None, text
        assert line_prefilter(compiled, equals={"trace_id": "t-1"}) is None, text
        with_time = line_prefilter(compiled, since=SINCE, equals={"trace_id": "t-1"})
        assert with_time is not None
        assert with_time.fields == {"__av_ts_text"}, text
    assert line_prefilter(compile_filter("command=deploy")) is not None  # the same filter without it is

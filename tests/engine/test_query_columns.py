"""``CompiledFilter.columns``: a frame projected to them (plus locations) filters like the full frame."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditview.core.parse import LOCATION_COLUMNS
from auditview.core.query import TEXT_COLUMNS, compile_filter
from tests.engine.frames import make_frame
from tests.engine.test_query_reference import Leaf, Row, expressions, records

#: Terms the reference generator does not produce, touching every other kind of column.
EXTRA_TERMS = [
    "slow",
    "not slow",
    "trace.slow",
    "trace.slow_steps>0",
    "trace.tools>1",
    "trace.failures>=1",
    "trace.start>=2026-11-20T09:00:01Z",
    "trace.end<2026-11-20T09:01:00Z",
    "pid>0",
    "pid=null",
    "schema_version=1",
    "truncated=true",
    "host=h1",
    "host=null",
    "ok=false",
    "version=1.0.0",
    "team=payments",
    "extra.team!=payments",
    "params.env=null",
    "params.env in (prod, null)",
    "error_type=Timeout",
    "error_message~time",
    "ts>2026-11-20T09:00:01Z",
    "parent_request_id=null",
    "request_id=r1",
    "line>2",
    "file_id=0",
    "payments",
    "trace.has(slow or team=payments)",
]


@st.composite
def decorated_records(draw: st.DrawFn) -> list[Row]:
    """Reference records with some extra fields, contract extras (``pid``...) and null hosts."""
    rows = draw(records())
    for row in rows:
        extra: dict[str, Any] = {}
        if draw(st.booleans()):
            extra["team"] = draw(st.sampled_from(["payments", "search"]))
        if draw(st.booleans()):
            extra["pid"] = draw(st.sampled_from([0, 1234]))
            extra["schema_version"] = 1
            extra["truncated"] = draw(st.booleans())
        row["extra"] = extra or None
        row["host"] = draw(st.sampled_from(["h1", None]))
        row["ok"] = draw(st.sampled_from([True, False, None]))
    return rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    decorated_records(),
    expressions(),
    st.sampled_from(EXTRA_TERMS),
    st.sampled_from(["and", "or", "and not", ""]),
    st.booleans(),
)
def test_projected_frame_filters_like_the_full_frame(
    rows: list[Row],
    expression: tuple[str, str, list[Leaf]],
    term: str,
    joiner: str,
    categorical: bool,
) -> None:
    """For generated filters, the mask over columns ∪ locations equals the mask over every column."""
    text = f"({expression[0]}) {joiner} {term}" if joiner else expression[0]
    frame = make_frame(rows, categorical=categorical)
    compiled = compile_filter(text)
    projected = frame.select(
        [name for name in frame.columns if name in compiled.columns | set(LOCATION_COLUMNS)]
    )
    assert compiled.mask(projected).to_list() == compiled.mask(frame).to_list(), text


def test_columns_name_what_each_kind_of_term_reads() -> None:
    """Each kind of term asks for its own columns and no others (a duration filter loads one column)."""
    assert compile_filter("duration_ms>10s").columns == {"duration_ms"}
    assert compile_filter("command=deploy and exit>0").columns == {"command", "exit_code"}
    assert compile_filter("params.env=prod").columns == {"params"}
    assert compile_filter("team=payments").columns == {"extra"}
    assert compile_filter("failed").columns == {"exit_code"}
    assert compile_filter("slow").columns == {"tool", "command", "duration_ms"}
    assert compile_filter("timeout").columns == set(TEXT_COLUMNS)
    assert compile_filter("trace.steps>2").columns == {"trace_id", "ts", "duration_ms", "exit_code"}
    assert compile_filter("trace.has(operator=bob)").columns == {
        "trace_id",
        "ts",
        "duration_ms",
        "exit_code",
        "operator",
    }
    assert compile_filter("pid>0").columns == {"pid", "extra"}
    assert compile_filter("").columns == frozenset()


def test_projection_without_the_needed_column_would_differ() -> None:
    """The property above has teeth: dropping a column the filter reads changes the result."""
    frame = make_frame([{"command": "deploy"}, {"command": "plan"}])
    compiled = compile_filter("command=deploy")
    assert compiled.columns == {"command"}
    assert compiled.mask(frame).to_list() == [True, False]
    assert compiled.mask(frame.drop("command")).to_list() == [False, False]

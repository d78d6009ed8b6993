"""Lines in the writer's layout, read off their text for small projections, against the contract.

``parse_chunk`` reads a few scalar fields straight off lines in the writer's layout
(``auditview.core.writer_layout``).
These tests hold that path to ``parse_chunk_exact`` (``contract.parse_line`` per line) on writer-shaped lines
whose ``params`` repeat the top-level keys, with optional fields, odd dates, odd numbers and odd strings.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditview.core import writer_layout as layout
from auditview.core.parse import _light, _projected, parse_chunk, parse_chunk_exact
from auditview.source.types import Chunk, SourceFile
from auditview.writer import Auditor

SOURCE = SourceFile(Path("audit.jsonl"), "audit.jsonl")
PROJECTIONS = [
    {"ts", "duration_ms"},
    {"ts", "exit_code", "command"},
    {"ts", "trace_id"},
    {"ts", "tool", "ok", "pid"},
    {"ts", "request_id", "version", "operator"},
    {"ts", "host", "schema_version"},
]
#: Projections decoded by the reader for lines in the layout (more fields, or fields not read off the text).
DECODED_PROJECTIONS = [
    {"ts", "tool", "command", "exit_code", "duration_ms", "request_id", "trace_id", "operator"},
    {"ts", "parent_request_id", "error_type", "error_message", "truncated"},
    {"ts", "host", "pid", "schema_version", "version", "ok"},
]
TOP_KEYS = [
    "timestamp", "tool", "command", "params", "request_id", "trace_id", "parent_request_id", "version",
    "exit_code", "ok", "duration_ms", "error", "operator", "host", "pid", "schema_version", "truncated",
]  # fmt: skip
STRINGS = st.one_of(
    st.sampled_from(["deployctl", "", " ", "a b", ":x", "é", 'say "hi"', "a\\b", "\x01", "\x7f", "ü-tool"]),
    st.text(max_size=6),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(1 << 64), max_value=1 << 64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1e-7, 1e99, 1e300, 12.5, 10000, 10000.5]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*TOP_KEYS, "a", "b"]), inner, max_size=3),
    ),
    max_leaves=8,
)
TIMESTAMPS = st.sampled_from(
    [
        "2026-11-27T10:00:00.123456Z",
        "2026-02-30T10:00:00.000000Z",
        "2026-11-27T24:00:00.000000Z",
        "2026-11-27T10:60:00.000000Z",
        "2026-11-27T10:00:60.000000Z",
        "0000-01-01T00:00:00.000000Z",
        "2026-11-27T10:00:00Z",
        "2026-11-27T10:00:00.123456+01:00",
    ]
)


@st.composite
def writer_records(draw: st.DrawFn) -> dict[str, Any]:
    """A record in the writer's key order; params often repeat top-level keys; some values are odd."""
    params = draw(st.dictionaries(st.sampled_from([*TOP_KEYS, "env", "a"]), VALUES, max_size=4))
    record: dict[str, Any] = {
        "timestamp": draw(TIMESTAMPS),
        "tool": draw(st.one_of(st.just("deployctl"), STRINGS)),
        "command": draw(st.one_of(st.just("deploy"), STRINGS)),
        "params": params,
        "request_id": "req-1",
        "trace_id": draw(st.one_of(st.just("t-1"), STRINGS)),
    }
    if draw(st.booleans()):
        record["parent_request_id"] = draw(st.one_of(st.just("req-0"), STRINGS))
    record["version"] = "1.2.3"
    record["exit_code"] = draw(st.one_of(st.sampled_from([0, 1, 75]), NUMBERS))
    record["ok"] = draw(st.one_of(st.booleans(), SCALARS))
    record["duration_ms"] = draw(st.one_of(st.sampled_from([0, 12.5, 20000, 131.6]), NUMBERS))
    if draw(st.booleans()):
        record["error"] = {"type": draw(STRINGS), "message": draw(STRINGS)}
    record["operator"] = draw(st.one_of(st.just("alice"), STRINGS))
    record["host"] = draw(st.one_of(st.just("h1"), SCALARS))
    record["pid"] = draw(st.one_of(st.just(4242), NUMBERS))
    record["schema_version"] = draw(st.one_of(st.just(1), NUMBERS))
    if draw(st.booleans()):
        record["truncated"] = draw(st.one_of(st.booleans(), SCALARS))
    if draw(st.integers(0, 5)) == 0:
        record[draw(st.sampled_from(["retry", "tool", "duration_ms"]))] = draw(VALUES)
    return record


def _line(record: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError:  # integers beyond 64 bits
        import json

        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def _comparable(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String)).to_dicts()


def assert_projection_like_contract(lines: list[bytes], columns: set[str]) -> None:
    chunk = Chunk(SOURCE, 7, 3, b"".join(line + b"\n" for line in lines))
    fast, fast_rejects = parse_chunk(chunk, 1, columns)
    exact, exact_rejects = parse_chunk_exact(chunk, 1, columns)
    assert [(r.line, r.offset, r.reason) for r in fast_rejects] == [
        (r.line, r.offset, r.reason) for r in exact_rejects
    ]
    assert fast.schema == exact.schema
    assert _comparable(fast) == _comparable(exact)


@pytest.mark.parametrize("columns", PROJECTIONS)
def test_light_projections_are_read_off_the_layout(columns: set[str]) -> None:
    """Each projection used here takes the layout path (else these tests would test the general one)."""
    assert _light(columns)


@pytest.mark.parametrize("columns", DECODED_PROJECTIONS)
def test_other_projections_are_decoded_for_layout_lines(columns: set[str]) -> None:
    assert not _light(columns)
    assert _projected(columns)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(writer_records(), min_size=1, max_size=16), st.sampled_from(PROJECTIONS + DECODED_PROJECTIONS)
)
def test_layout_path_equals_contract(records: list[dict[str, Any]], columns: set[str]) -> None:
    """Writer-shaped lines with hostile params, odd dates, numbers and strings: decided as the contract."""
    assert_projection_like_contract([_line(record) for record in records], columns)


def test_params_repeating_top_level_keys_do_not_shadow_them() -> None:
    """A top-level field after params is its last occurrence, one before params its first."""
    record = {
        "timestamp": "2026-11-27T10:00:00.000001Z",
        "tool": "t",
        "command": "c",
        "params": {"tool": "p", "command": "p", "trace_id": "p", "exit_code": 9, "duration_ms": 99999},
        "request_id": "r",
        "trace_id": "real",
        "version": "1",
        "exit_code": 3,
        "ok": False,
        "duration_ms": 12.5,
        "operator": "o",
        "host": "h",
        "pid": 1,
        "schema_version": 1,
    }
    line = orjson.dumps(record)
    assert re.fullmatch(layout.LAYOUT_RE, line.decode())
    chunk = Chunk(SOURCE, 0, 1, line + b"\n")
    frame, rejects = parse_chunk(chunk, 0, {"ts", "tool", "command", "trace_id"})
    assert not rejects
    assert frame.select(pl.col("tool", "command").cast(pl.String), "trace_id").row(0) == ("t", "c", "real")
    frame, _ = parse_chunk(chunk, 0, {"ts", "exit_code", "duration_ms", "ok"})
    assert frame.select("exit_code", "duration_ms", "ok").row(0) == (3, 12.5, False)
    every = {"ts", "tool", "command", "trace_id", "exit_code", "duration_ms", "ok", "request_id"}
    frame, _ = parse_chunk(chunk, 0, every)  # decoded by the reader
    assert frame.select(
        pl.col("tool", "command").cast(pl.String), "trace_id", "exit_code", "duration_ms"
    ).row(0) == ("t", "c", "real", 3, 12.5)


def test_the_writer_writes_the_layout(tmp_path: Path) -> None:
    """The real writer's records (with nested params, with an error) match ``LAYOUT_RE``; one with an extra
    field does not (it takes the general path)."""
    log = tmp_path / "audit.jsonl"
    auditor = Auditor("deployctl", version="1.0.0", log_path=log)
    with auditor.invocation("deploy", {"env": "prod", "replicas": 3, "checks": ["a", "b"]}):
        pass
    with pytest.raises(RuntimeError), auditor.invocation("verify", {"env": "prod"}):
        raise RuntimeError("boom")
    with auditor.invocation("status", {}) as inv:
        inv.annotate(ticket="OPS-1")
    lines = log.read_text().splitlines()
    assert [re.fullmatch(layout.LAYOUT_RE, line) is not None for line in lines] == [True, True, False]
    assert '"error":{' in lines[1]

"""parse_chunk: typed rows for valid lines, exact rejects for the rest, offsets giving the bytes back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditview.contract import MAX_LINE_BYTES
from auditview.core.parse import SCHEMA, parse_chunk
from auditview.source.types import Chunk, SourceFile
from tests.engine.spies import exact_lines

SOURCE = SourceFile(Path("audit.jsonl"), "audit.jsonl")


def record(**overrides: Any) -> dict[str, Any]:
    """A valid record; ``overrides`` replace fields (a value of ``...`` removes the field)."""
    base: dict[str, Any] = {
        "timestamp": "2026-11-27T10:00:00.123456Z",
        "tool": "deployctl",
        "command": "apply",
        "params": {"env": "prod", "replicas": 3},
        "exit_code": 0,
        "duration_ms": 12.5,
        "request_id": "req-1",
        "trace_id": "t-1",
        "version": "1.0.0",
        "operator": "alice",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


def chunk_of(lines: list[bytes], *, offset: int = 0, first_line: int = 1) -> Chunk:
    """A chunk holding ``lines``, each terminated by ``\\n``."""
    return Chunk(SOURCE, offset, first_line, b"".join(line + b"\n" for line in lines))


def test_valid_line_becomes_typed_row() -> None:
    """A valid record gives one row with the schema's dtypes and its values, timestamp in UTC."""
    frame, rejects = parse_chunk(chunk_of([orjson.dumps(record(timestamp="2026-11-27T12:00:00+02:00"))]), 3)
    assert rejects == []
    assert dict(frame.schema) == SCHEMA
    row = frame.row(0, named=True)
    assert row["ts"] == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert row["tool"] == "deployctl"
    assert row["exit_code"] == 0
    assert row["duration_ms"] == 12.5
    assert orjson.loads(row["params"]) == {"env": "prod", "replicas": 3}
    assert row["extra"] is None
    assert (row["file_id"], row["offset"], row["line"]) == (3, 0, 1)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json", "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"", "invalid JSON"),
        (orjson.dumps(record(timestamp=...)), "no time"),
        (orjson.dumps(record(timestamp=None)), "no time"),
        (orjson.dumps(record(timestamp=True)), "must be a string or an epoch number"),
        (orjson.dumps(record(timestamp="2026-13-01T00:00:00Z")), "timestamp out of range"),
        (orjson.dumps(record(timestamp="yesterday")), "not ISO 8601 / RFC 3339"),
        (orjson.dumps(record(timestamp="0001-01-01T00:00:00+01:00")), "timestamp out of range"),
        (orjson.dumps(record())[:-1] + b"\xff}", "invalid JSON"),
    ],
)
def test_bad_line_becomes_reject_with_reason(line: bytes, reason: str) -> None:
    """A line that is not JSON, not an object or has no usable time is a reject with its place, raw bytes and
    a reason, never a row."""
    good = orjson.dumps(record())
    frame, rejects = parse_chunk(chunk_of([good, line, good], offset=100, first_line=7), 0)
    assert frame.height == 2
    assert len(rejects) == 1
    reject = rejects[0]
    assert reason in reject.reason
    assert (reject.line, reject.offset, reject.raw) == (8, 100 + len(good) + 1, line)


@pytest.mark.parametrize(
    ("overrides", "column", "value", "derived", "warning"),
    [
        ({"tool": ...}, "tool", "audit", "tool<-path", None),
        ({"tool": None}, "tool", "audit", "tool<-path", None),
        ({"tool": 3}, "tool", None, None, "tool must be a string, not a number 3"),
        ({"exit_code": 1.0}, "exit_code", 1, None, None),
        ({"exit_code": 1.5}, "exit_code", None, None, "exit_code must be an integer, not a number 1.5"),
        ({"exit_code": True}, "exit_code", None, None, "exit_code must be an integer, not a boolean true"),
        ({"exit_code": 1 << 63}, "exit_code", None, None, "exit_code is outside the signed 64-bit range"),
        ({"exit_code": "3"}, "exit_code", 3, None, None),
        ({"exit_code": ..., "ok": False}, "exit_code", 1, "exit_code<-ok", None),
        (
            {"duration_ms": -1},
            "duration_ms",
            None,
            None,
            "duration_ms must be a finite number of milliseconds >= 0, not -1",
        ),
        ({"params": []}, "params", "[]", None, None),
        (
            {"timestamp": "2026-11-27T10:00:00"},
            "ts",
            datetime(2026, 11, 27, 10, tzinfo=UTC),
            "timestamp<-naive-utc",
            None,
        ),
    ],
)
def test_odd_field_is_kept_with_a_warning_or_a_derived_entry(
    overrides: dict[str, Any], column: str, value: Any, derived: str | None, warning: str | None
) -> None:
    """A missing field, or one of the wrong type, costs that field, not the record: the line is a row whose
    field is derived (and named in ``derived``) or null with the reason in ``warnings``."""
    good = orjson.dumps(record())
    line = orjson.dumps(record(**overrides))
    frame, rejects = parse_chunk(chunk_of([good, line, good], offset=100, first_line=7), 0)
    assert rejects == []
    assert frame["line"].to_list() == [7, 8, 9]
    row = frame.row(1, named=True)
    assert row[column] == value
    assert (row["derived"], row["warnings"]) == (derived, warning)
    assert row["request_id"] == "req-1"
    assert frame.row(0, named=True)["derived"] is None


def test_over_long_line_is_rejected() -> None:
    """A line over MAX_LINE_BYTES is rejected even when it is valid JSON."""
    line = orjson.dumps(record(params={"blob": "x" * MAX_LINE_BYTES}))
    frame, rejects = parse_chunk(chunk_of([line]), 0)
    assert frame.height == 0
    assert "longer than" in rejects[0].reason


def test_unknown_fields_are_kept_in_extra() -> None:
    """Unknown top-level fields are kept as compact JSON in ``extra``; known optional ones fill columns."""
    line = orjson.dumps(record(zone="eu", ok=False, error={"type": "E", "message": "m"}, host="h"))
    frame, _ = parse_chunk(chunk_of([line]), 0)
    row = frame.row(0, named=True)
    assert orjson.loads(row["extra"]) == {"zone": "eu"}
    assert (row["ok"], row["error_type"], row["error_message"], row["host"]) == (False, "E", "m", "h")


def test_offsets_and_lengths_give_back_the_bytes() -> None:
    """offset/length of every row and reject point at exactly its line inside the chunk's data."""
    lines = [orjson.dumps(record(request_id=f"r{i}", params={"n": "é" * i})) for i in range(5)] + [b"{bad"]
    chunk = chunk_of(lines, offset=1000, first_line=50)
    frame, rejects = parse_chunk(chunk, 0)
    for offset, length, number in frame.select("offset", "length", "line").iter_rows():
        start = offset - 1000
        assert chunk.data[start : start + length] == lines[number - 50]
        assert chunk.data[start + length : start + length + 1] == b"\n"
    assert rejects[0].offset - 1000 == chunk.data.index(b"{bad")


def test_projection_keeps_rejects_identical() -> None:
    """A projected parse returns fewer columns but the same rows and the same rejects."""
    lines = [orjson.dumps(record()), orjson.dumps(record(tool=3)), orjson.dumps(record(timestamp=...)), b"x"]
    full, full_rejects = parse_chunk(chunk_of(lines), 0)
    part, part_rejects = parse_chunk(chunk_of(lines), 0, columns={"duration_ms"})
    assert part.columns == ["duration_ms", "file_id", "offset", "length", "line"]
    assert part.height == full.height == 2  # a tool of the wrong type is a warning, not a reject
    assert [r.reason for r in part_rejects] == [r.reason for r in full_rejects]
    assert [r.line for r in full_rejects] == [3, 4]


def test_ordinary_lines_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writer-shaped lines (params naming contract fields, an error object) never reach the per-line path."""
    seen = exact_lines(monkeypatch)
    lines = [
        orjson.dumps(record(params={"env": "prod", "version": "1.2"}, ok=True, host="h", pid=7)),
        orjson.dumps(record(exit_code=2, ok=False, error={"type": "E", "message": "failed: x"})),
        orjson.dumps(record(parent_request_id="req-0", schema_version=1, params={"checks": ["a", "b"]})),
    ] * 50
    for columns in (None, {"duration_ms"}, {"ts", "trace_id", "error_type"}):
        frame, rejects = parse_chunk(chunk_of(lines), 0, columns=columns)
        assert frame.height == 150
        assert rejects == []
    assert seen == []

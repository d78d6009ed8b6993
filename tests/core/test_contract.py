"""The contract module: what counts as a valid record, and timestamp handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditview.contract import (
    META_FIELDS,
    REQUIRED_FIELDS,
    ContractError,
    check_record,
    format_timestamp,
    meta_of,
    parse_line,
    parse_timestamp,
    tool_env_prefix,
)


def _record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "timestamp": "2026-11-20T09:00:00.123456Z",
        "tool": "deployctl",
        "command": "deploy",
        "params": {"env": "staging"},
        "exit_code": 0,
        "duration_ms": 12.5,
        "request_id": "req-0001",
        "trace_id": "test-123",
        "version": "1.2.3",
        "operator": "alice",
    }
    record.update(overrides)
    return record


def test_valid_record_passes() -> None:
    """A record with every required field of the right type is accepted."""
    check_record(_record())


@pytest.mark.parametrize("field", sorted(REQUIRED_FIELDS))
def test_missing_required_field_is_named(field: str) -> None:
    """Dropping any required field is rejected with a reason naming that field."""
    record = _record()
    del record[field]
    with pytest.raises(ContractError, match=field):
        check_record(record)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("exit_code", 1.5),
        ("exit_code", True),
        ("duration_ms", "12"),
        ("duration_ms", False),
        ("params", []),
        ("trace_id", None),
        ("timestamp", "yesterday"),
        ("ok", "yes"),
        ("pid", 1.0),
    ],
)
def test_wrong_types_are_rejected(field: str, value: object) -> None:
    """Ill-typed values (booleans are not numbers) are rejected, never coerced."""
    with pytest.raises(ContractError):
        check_record(_record(**{field: value}))


def test_negative_duration_rejected() -> None:
    """A negative duration cannot come from a monotonic clock and is rejected."""
    with pytest.raises(ContractError, match="negative"):
        check_record(_record(duration_ms=-1))


def test_unknown_fields_and_null_optionals_allowed() -> None:
    """Unknown fields and optional fields set to null are accepted."""
    check_record(_record(custom={"a": 1}, ok=None, error=None))


def test_parse_line_reasons() -> None:
    """parse_line explains invalid JSON, non-objects and invalid UTF-8."""
    with pytest.raises(ContractError, match="invalid JSON"):
        parse_line(b'{"timestamp": ')
    with pytest.raises(ContractError, match="not a JSON object but an array"):
        parse_line(b"[1, 2]")
    with pytest.raises(ContractError, match="invalid JSON"):
        parse_line(b'{"tool": "\xff"}')
    assert parse_line(orjson.dumps(_record()) + b"\n")["trace_id"] == "test-123"


def test_timestamp_offsets_normalised_to_utc() -> None:
    """Any UTC offset is converted to UTC; nanoseconds are truncated to microseconds."""
    assert parse_timestamp("2026-11-20T11:00:00+02:00") == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert parse_timestamp("2026-11-20T09:00:00.123456789Z").microsecond == 123456
    with pytest.raises(ContractError):
        parse_timestamp("2026-11-20T09:00:00")  # no offset: cannot be placed
    with pytest.raises(ContractError):
        parse_timestamp("2026-02-30T09:00:00Z")


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1)))
def test_format_parse_roundtrip(moment: datetime) -> None:
    """format_timestamp and parse_timestamp are inverse at microsecond precision."""
    text = format_timestamp(moment)
    assert text.endswith("Z")
    assert parse_timestamp(text) == moment


@given(st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_format_converts_any_offset(minutes: int) -> None:
    """Formatting an aware time in any zone yields the same instant in UTC."""
    moment = datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(minutes=minutes)))
    assert parse_timestamp(format_timestamp(moment)) == moment


def test_tool_env_prefix_and_meta() -> None:
    """Tool names map to env prefixes; meta carries exactly the META_FIELDS."""
    assert tool_env_prefix("my-tool.v2") == "MY_TOOL_V2"
    assert list(meta_of(_record())) == list(META_FIELDS)


def test_line_cap_ignores_the_newline() -> None:
    """The line-length cap counts the line's bytes without its newline, as the source layer does."""
    from auditview.contract import MAX_LINE_BYTES

    body = orjson.dumps(_record(pad="x"))
    padded = body[:-2] + b"x" * (MAX_LINE_BYTES - len(body)) + body[-2:]
    assert len(padded) == MAX_LINE_BYTES
    assert parse_line(padded + b"\n")["tool"] == "deployctl"
    with pytest.raises(ContractError, match="longer than"):
        parse_line(padded[:-2] + b"x" + padded[-2:])


@pytest.mark.parametrize(
    "text",
    [
        "２026-11-20T09:00:00Z",  # non-ASCII digits
        "2026-11-20T09:00:00Z\n",  # trailing newline inside the string
        "0001-01-01T00:30:00+01:00",  # before year 1 once converted to UTC
        "9999-12-31T23:30:00-01:00",  # after year 9999 once converted to UTC
    ],
)
def test_timestamp_edge_cases_are_contract_errors(text: str) -> None:
    """Unicode digits, a trailing newline and out-of-range conversions are rejects, never other exceptions."""
    with pytest.raises(ContractError):
        parse_timestamp(text)


@pytest.mark.parametrize("field", ["exit_code", "pid", "schema_version"])
def test_integers_must_fit_in_64_bits(field: str) -> None:
    """Integers an index column cannot hold are rejected rather than wrapped or lost."""
    with pytest.raises(ContractError, match="64-bit"):
        check_record(_record(**{field: 1 << 63}))
    check_record(_record(**{field: (1 << 63) - 1}))

"""The WHEN grammar shared by every --since/--until, and duration parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditview.text.timeparse import TimeParseError, parse_duration_ms, parse_when

NOW = datetime(2026, 11, 27, 15, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("1h", NOW - timedelta(hours=1)),
        ("2d", NOW - timedelta(days=2)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("1h ago", NOW - timedelta(hours=1)),
        ("now", NOW),
        ("2026-11-20T09:00:00Z", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("2026-11-20T11:00:00+02:00", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("@1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
)
def test_when_forms(text: str, expected: datetime) -> None:
    """Each documented WHEN form resolves against a pinned clock."""
    assert parse_when(text, now=NOW) == expected


def test_today_and_yesterday_are_local_midnights(monkeypatch: pytest.MonkeyPatch) -> None:
    """today/yesterday are local midnights, a day apart, at or before now."""
    monkeypatch.setenv("TZ", "UTC")
    today = parse_when("today", now=NOW)
    assert today == datetime(2026, 11, 27, tzinfo=UTC)
    assert today - parse_when("yesterday", now=NOW) == timedelta(days=1)


@pytest.mark.parametrize("bad", ["", "banana", "1x", "2026-13-45", "@x", "-1h", "h1"])
def test_bad_when_says_what_is_accepted(bad: str) -> None:
    """A bad WHEN raises with a message listing the accepted forms."""
    with pytest.raises(TimeParseError, match="epoch seconds"):
        parse_when(bad, now=NOW)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("250ms", 250.0),
        ("5s", 5000.0),
        ("1m", 60000.0),
        ("1h30m", 5_400_000.0),
        ("1.5s", 1500.0),
        ("42", 42.0),
    ],
)
def test_durations(text: str, ms: float) -> None:
    """Durations with units (and bare numbers as ms) convert to milliseconds."""
    assert parse_duration_ms(text) == ms


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=59))
def test_relative_when_matches_arithmetic(hours: int, minutes: int) -> None:
    """'<h>h<m>m' is exactly that long before now."""
    got = parse_when(f"{hours}h{minutes}m", now=NOW)
    assert got == NOW - timedelta(hours=hours, minutes=minutes)

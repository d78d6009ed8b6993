"""The ``WHEN`` grammar shared by ``--since``/``--until`` everywhere in auditview, duration parsing, and
``TimeRange`` (a since/until pair as resolved and as the user wrote it).

Accepted ``WHEN`` forms (case-insensitive):

- a relative duration before now: ``30s``, ``30m``, ``1h``, ``2d``, ``1w``, ``1h30m`` (``ago`` optional);
- ``now``, ``today`` (local midnight), ``yesterday`` (local midnight of the day before);
- RFC 3339 / ISO 8601 date or date-time; a naive value means local time;
- epoch seconds as ``@1700000000`` (fractions allowed).

Calendar arithmetic (local midnight, DST) is done by pendulum. This module imports no UI library and no
polars; the writer imports it lazily, only when its ``audit-log`` subcommand runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

__all__ = ["WHEN_HELP", "TimeParseError", "TimeRange", "parse_duration_ms", "parse_when"]

WHEN_HELP: Final = (
    "a duration ago (30m, 1h, 2d, 1h30m), now, today, yesterday, "
    "an RFC 3339 / ISO 8601 time (naive means local), or epoch seconds as @1700000000"
)

_UNIT_MS: Final = {
    "ms": 1.0,
    "s": 1_000.0,
    "sec": 1_000.0,
    "m": 60_000.0,
    "min": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
    "w": 604_800_000.0,
}
_PART_RE: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|sec|min|s|m|h|d|w)")
_DURATION_RE: Final = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|sec|min|s|m|h|d|w))+$")


class TimeParseError(ValueError):
    """A ``WHEN`` or duration that auditview does not understand; the message says what is accepted."""


def parse_duration_ms(text: str, *, default_unit: str = "ms") -> float:
    """Parse ``1h30m``, ``5s``, ``250ms`` or a bare number (in ``default_unit``) into milliseconds."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise TimeParseError("empty duration; expected e.g. 250ms, 5s, 1m, 1h30m")
    try:
        return float(cleaned) * _UNIT_MS[default_unit]
    except ValueError:
        pass
    if not _DURATION_RE.match(cleaned):
        raise TimeParseError(f"bad duration {text!r}; expected e.g. 250ms, 5s, 1m, 1h30m")
    return sum(float(number) * _UNIT_MS[unit] for number, unit in _PART_RE.findall(cleaned))


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """Resolve a ``WHEN`` expression into an aware UTC datetime.

    ``now`` (aware) pins the clock for tests. Raises ``TimeParseError`` naming the accepted forms.
    """
    # here, not at the top: ~13 ms of imports that commands without a time never need
    import pendulum
    from pendulum.tz import local_timezone

    raw = text.strip()
    lowered = raw.lower()
    current = pendulum.instance(now) if now is not None else pendulum.now()
    if not raw:
        raise TimeParseError(f"empty time; expected {WHEN_HELP}")
    if lowered == "now":
        return _utc(current)
    local = current.in_timezone(local_timezone())
    if lowered == "today":
        return _utc(local.start_of("day"))
    if lowered == "yesterday":
        return _utc(local.subtract(days=1).start_of("day"))
    if lowered.startswith("@"):
        try:
            return datetime.fromtimestamp(float(lowered[1:]), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise TimeParseError(f"bad epoch time {text!r}; expected {WHEN_HELP}") from None
    relative = lowered.removesuffix("ago").strip().replace(" ", "")
    if relative and _DURATION_RE.match(relative):
        return _utc(current.subtract(microseconds=int(parse_duration_ms(relative) * 1000)))
    if raw[:1].isdigit():
        try:
            parsed = pendulum.parse(raw, tz=local_timezone(), strict=False)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            raise TimeParseError(f"bad time {text!r}; expected {WHEN_HELP}") from None
        if isinstance(parsed, pendulum.DateTime):
            return _utc(parsed)
        if isinstance(parsed, pendulum.Date):
            return _utc(pendulum.datetime(parsed.year, parsed.month, parsed.day, tz=local_timezone()))
    raise TimeParseError(f"bad time {text!r}; expected {WHEN_HELP}")


@dataclass(frozen=True)
class TimeRange:
    """A resolved time range and how the user wrote it (empty text = open end)."""

    since: datetime | None
    until: datetime | None
    since_text: str = ""
    until_text: str = ""

    def describe(self) -> str:
        """``since 1h · until now`` or ``all time``."""
        parts = []
        if self.since_text:
            parts.append(f"since {self.since_text}")
        if self.until_text:
            parts.append(f"until {self.until_text}")
        return " · ".join(parts) if parts else "all time"


def _utc(moment: datetime) -> datetime:
    converted = moment.astimezone(UTC)
    return datetime(
        converted.year,
        converted.month,
        converted.day,
        converted.hour,
        converted.minute,
        converted.second,
        converted.microsecond,
        tzinfo=UTC,
    )

"""Figures for people: one way to show a duration, a size and a count, shared by the CLI, the app and reports.

Every front end shows the same duration the same way (``850ms``, ``4.21s``, ``1.5s``, ``3m12s``, ``1h02m``)
and an unknown value as ``UNKNOWN``, never as 0. Standard library only, so the writer and the core may use
it too.
"""

from __future__ import annotations

import math
from typing import Final

UNKNOWN: Final = "-"
"""What any front end shows for a value the record does not give (a missing or unusable field)."""


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def _trim(number: float, digits: int) -> str:
    """``number`` with at most ``digits`` decimals and no trailing zeros (``5``, ``1.5``, ``4.21``)."""
    text = f"{number:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_duration(ms: float | None) -> str:
    """A short duration: ``0.35ms``, ``850ms``, ``4.21s``, ``12.5s``, ``3m12s``, ``1h02m``; ``UNKNOWN`` if
    unknown.

    Three significant figures below a minute, trailing zeros dropped (``5s``, not ``5.00s``), so a threshold
    and a measured value read alike. Negative durations (a clock step between two records) keep their sign.
    """
    if not _known(ms):
        return UNKNOWN
    assert ms is not None
    if ms < 0:
        return "-" + format_duration(-ms)
    if ms < 1:
        return _trim(ms, 2) + "ms"
    if ms < 10:
        return _trim(ms, 1) + "ms"
    if ms < 1_000:
        return f"{ms:.0f}ms" if round(ms) < 1_000 else "1s"
    seconds = ms / 1_000
    if seconds < 10:
        return _trim(seconds, 2) + "s"
    if seconds < 60:
        return _trim(seconds, 1) + "s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours}h{minutes:02d}m"


def format_size(size: int | None) -> str:
    """A byte count: ``812 B``, ``4.0 KiB``, ``1.5 MiB``, ``2.3 GiB``; ``UNKNOWN`` if unknown."""
    if size is None:
        return UNKNOWN
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def format_count(count: int | None) -> str:
    """A count with thousands separators (``1,000,000``); ``UNKNOWN`` if unknown."""
    return UNKNOWN if count is None else f"{count:,}"

"""Helpers for the tests of tools that embed the writer (like structlog's ``capture_logs``).

``capture_records()`` collects the records every ``Auditor`` would write, fully processed (redacted, capped),
and writes no file while it is open. Nothing here is used by the writer at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from auditview.writer import capture

__all__ = ["capture_records"]


@contextmanager
def capture_records() -> Iterator[list[dict[str, Any]]]:
    """Collect the records of all invocations that finish inside the block, instead of writing them.

    >>> with capture_records() as records:
    ...     with auditor.invocation("deploy", {"env": "prod"}):
    ...         pass
    >>> records[0]["command"]
    'deploy'
    """
    records: list[dict[str, Any]] = []
    capture.push(records)
    try:
        yield records
    finally:
        capture.pop(records)

"""Test data for the app's tests: records as exact JSONL bytes and a small in-memory index over them.

``MemoryIndex`` parses lines with the engine's own ``parse_chunk`` (so the frame has the real index schema)
and serves ``raw_line`` from memory, which lets Pilot tests drive the app without files or a loader thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from textual.worker import WorkerCancelled

from auditview.core.index import field_warning_count
from auditview.core.live import IndexChanged
from auditview.core.parse import parse_chunk
from auditview.launch import AppOptions
from auditview.source.types import Chunk, Reject, SourceFile
from auditview.tui.app import AuditViewApp, create_app
from auditview.tui.messages import RecordsAppended

FROZEN_NOW = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


def frozen_clock() -> datetime:
    """The tests' fixed "now"."""
    return FROZEN_NOW


def record(
    number: int,
    *,
    tool: str = "deployctl",
    command: str = "apply",
    exit_code: int = 0,
    duration_ms: float = 120.0,
    trace_id: str | None = None,
    operator: str = "alice",
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A valid record starting ``number`` seconds after ``START``."""
    moment = START + timedelta(seconds=number)
    data: dict[str, Any] = {
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tool": tool,
        "command": command,
        "params": params if params is not None else {"env": "prod", "n": number},
        "exit_code": exit_code,
        "duration_ms": duration_ms,
        "request_id": f"req-{number:04d}",
        "trace_id": trace_id if trace_id is not None else f"trace-{number // 3:03d}",
        "version": "1.0.0",
        "operator": operator,
        "ok": exit_code == 0,
    }
    data.update(extra)
    return data


def lines_of(records: Sequence[dict[str, Any]]) -> list[bytes]:
    """Each record as one compact JSON line (no newline)."""
    return [orjson.dumps(item) for item in records]


def standard_records(count: int = 60) -> list[dict[str, Any]]:
    """A mix of ok, failed (every 7th) and slow (every 11th, 9 s) records."""
    out = []
    for number in range(count):
        failed = number % 7 == 3
        slow = number % 11 == 5
        out.append(
            record(
                number,
                tool=("deployctl", "verifyctl", "dbctl")[number % 3],
                command=("apply", "check", "migrate", "status")[number % 4],
                exit_code=1 if failed else 0,
                duration_ms=9_000.0 if slow else 40.0 + number * 3,
                operator=("alice", "agent-7", "ci")[number % 3],
            )
        )
    return out


class MemoryIndex:
    """The ``RawIndex`` the app needs, over lines held in memory (one pseudo file)."""

    def __init__(self, lines: Sequence[bytes], path: str = "mem/audit.jsonl") -> None:
        self.source = SourceFile(Path(path), log_key=path)
        self.files = [self.source]
        self.data = b"".join(line + b"\n" for line in lines)
        frame, rejects = parse_chunk(Chunk(self.source, 0, 1, self.data), 0)
        self.frame = frame.sort("ts", "file_id", "offset")
        self.rejects: list[Reject] = rejects

    def raw_line(self, file_id: int, offset: int, length: int) -> bytes:
        """The exact bytes of one line."""
        assert file_id == 0
        return self.data[offset : offset + length]

    def append(self, lines: Sequence[bytes]) -> None:
        """Add lines at the end, as a writer would."""
        start = len(self.data)
        extra = b"".join(line + b"\n" for line in lines)
        self.data += extra
        frame, rejects = parse_chunk(Chunk(self.source, start, 1, extra), 0)
        self.frame = pl.concat([self.frame, frame]).sort("ts", "file_id", "offset")
        self.rejects.extend(rejects)


def memory_app(index: MemoryIndex, **options: Any) -> AuditViewApp:
    """An app that loads nothing itself; the test feeds it ``index``."""
    return create_app(AppOptions(**options), clock=frozen_clock, load=False)


def feed(app: AuditViewApp, index: MemoryIndex) -> None:
    """Post the index to the app as the loader would."""
    app.post_message(
        RecordsAppended(
            IndexChanged(
                index.frame, index, rejects=len(index.rejects), warnings=field_warning_count(index.frame)
            )
        )
    )


async def wait_for_workers(app: AuditViewApp) -> None:
    """Wait for the app's workers; one cancelled meanwhile (an exclusive worker replaced by a newer one, which
    the next round waits for) is not an error."""
    with contextlib.suppress(WorkerCancelled):
        await app.workers.wait_for_complete()


async def settle(app: AuditViewApp, pilot: Any) -> None:
    """Wait until every worker that can finish has finished and the messages they posted are handled."""
    for _ in range(5):
        await wait_for_workers(app)
        await pilot.pause()
    await wait_for_workers(app)
    await pilot.pause()

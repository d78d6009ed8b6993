"""Hand-built runs for the diff tests: each trace a list of steps laid out one after another in time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

BASE = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


@dataclass
class S:
    """One step: it starts ``gap`` ms after the steps before it ended (a child: ``at`` ms into its parent)."""

    tool: str
    command: str
    ms: float = 100.0
    gap: float = 1000.0
    exit: int = 0
    params: dict[str, Any] | None = None
    version: str = "1.0.0"
    operator: str | None = None
    host: str = "runner-1"
    children: list[S] = field(default_factory=list)
    at: float = 0.0


def run(
    trace_id: str, steps: list[S], *, start_s: float = 0.0, operator: str = "alice"
) -> list[dict[str, Any]]:
    """The records of one trace (in completion order, as a writer appends them: children before parents)."""
    records: list[dict[str, Any]] = []
    counter = [0]

    def emit(step: S, start_ms: float, parent: str | None) -> None:
        counter[0] += 1
        request_id = f"{trace_id}-r{counter[0]:02d}"
        for child in step.children:
            emit(child, start_ms + child.at, request_id)
        moment = BASE + timedelta(seconds=start_s, milliseconds=start_ms)
        rec: dict[str, Any] = {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "tool": step.tool,
            "command": step.command,
            "params": step.params if step.params is not None else {"env": "prod"},
            "exit_code": step.exit,
            "duration_ms": step.ms,
            "request_id": request_id,
            "trace_id": trace_id,
            "version": step.version,
            "operator": step.operator or operator,
            "host": step.host,
            "ok": step.exit == 0,
        }
        if parent is not None:
            rec["parent_request_id"] = parent
        records.append(rec)

    clock = 0.0
    for step in steps:
        clock += step.gap if records else 0.0
        emit(step, clock, None)
        clock += step.ms
    return records


def write_log(directory: Path, *runs: list[dict[str, Any]], name: str = "audit.jsonl") -> Path:
    """Write the records of ``runs`` as one JSONL log; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"".join(orjson.dumps(rec) + b"\n" for records in runs for rec in records))
    return path


def load_frame(path: Path) -> pl.DataFrame:
    """The index frame of one log, as the CLI loads it."""
    from auditview.core.index import AuditIndex
    from auditview.source.discover import discover

    return AuditIndex.load(discover([str(path)]), cache=False).frame


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed width and no inherited colour setting."""
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TZ", "UTC")

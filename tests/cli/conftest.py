"""Fixtures for the CLI tests: an isolated environment and small, hand-built multi-tool audit logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

BASE = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)

#: Hostile strings: ANSI colour, OSC title (BEL-terminated), C1 CSI, bidi override, Rich markup.
HOSTILE_COMMAND = "\x1b[31mred\x1b]0;pwned\x07cmd"
HOSTILE_OPERATOR = "[@click=app.quit]\u009b2J"
HOSTILE_PARAM = "[bold]x[/bold] \u202eevil"


def record(
    *,
    at_s: float,
    tool: str = "deployctl",
    command: str = "apply",
    duration_ms: float = 100.0,
    exit_code: int = 0,
    trace_id: str = "trace-a",
    request_id: str,
    parent_request_id: str | None = None,
    operator: str = "alice",
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One contract-valid record starting ``at_s`` seconds after ``BASE``."""
    moment = BASE + timedelta(seconds=at_s)
    rec: dict[str, Any] = {
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tool": tool,
        "command": command,
        "params": params or {},
        "exit_code": exit_code,
        "duration_ms": duration_ms,
        "request_id": request_id,
        "trace_id": trace_id,
        "version": "1.0.0",
        "operator": operator,
        "ok": exit_code == 0,
    }
    if parent_request_id is not None:
        rec["parent_request_id"] = parent_request_id
    if exit_code != 0:
        rec["error"] = {"type": "CheckFailed", "message": "health check failed"}
    rec.update(extra)
    return rec


def line_of(rec: dict[str, Any], *, spaced: bool = False) -> bytes:
    """The JSONL line of ``rec``; ``spaced`` uses non-compact JSON so byte-exactness is really tested."""
    if spaced:
        return b"{" + b", ".join(orjson.dumps(k) + b": " + orjson.dumps(v) for k, v in rec.items()) + b"}"
    return orjson.dumps(rec)


DEPLOY_RECORDS = [
    # Written in completion order (so not in timestamp order), like a real writer.
    record(at_s=0.0, command="plan", duration_ms=1200, request_id="req-01", params={"env": "prod"}),
    record(
        at_s=2.0,
        command="apply",
        duration_ms=9000,
        request_id="req-02",
        params={"env": "prod", "version": "2.4.1"},
        hostname_extra="kept",
    ),
    record(at_s=3.0, command="push", duration_ms=400, request_id="req-03", parent_request_id="req-02"),
    record(
        at_s=0.5, command="plan", duration_ms=300, request_id="req-10", trace_id="trace-b", operator="bob"
    ),
    record(at_s=20.0, command="status", duration_ms=50, request_id="req-20", trace_id=""),
]
VERIFY_RECORDS = [
    record(
        at_s=12.0,
        tool="verifier",
        command="check",
        duration_ms=700,
        exit_code=3,
        request_id="req-04",
    ),
    record(at_s=14.0, command="rollback", duration_ms=2500, request_id="req-05", tool="verifier"),
]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG dirs in tmp_path (never the real home), no inherited trace ids, no colour, a fixed width."""
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("HOME", str(home))
    for name in (
        "TOOL_TRACE_ID",
        "TOOL_PARENT_REQUEST_ID",
        "TRACEPARENT",
        "AUDITVIEW_TRACE_ID",
        "AUDITVIEW_AUDIT",
        "AUDITVIEW_AUDIT_LOG",
        "NO_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("TZ", "UTC")
    return home


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A directory with two tools' logs sharing ``trace-a``, one orphan and one malformed line."""
    root = tmp_path / "logs"
    (root / "deployctl").mkdir(parents=True)
    (root / "verifier").mkdir(parents=True)
    deploy = b"".join(line_of(r, spaced=i == 1) + b"\n" for i, r in enumerate(DEPLOY_RECORDS))
    (root / "deployctl" / "audit.jsonl").write_bytes(deploy)
    verify = line_of(VERIFY_RECORDS[0]) + b"\n" + b"this is not json\n" + line_of(VERIFY_RECORDS[1]) + b"\n"
    (root / "verifier" / "audit.jsonl").write_bytes(verify)
    return root


@pytest.fixture
def clean_log(tmp_path: Path) -> Path:
    """A single log without malformed lines."""
    path = tmp_path / "clean" / "audit.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(line_of(r) + b"\n" for r in DEPLOY_RECORDS[:4]))
    return path


@pytest.fixture
def hostile_log(tmp_path: Path) -> Path:
    """A log whose record fields carry escape sequences, bidi overrides and Rich markup."""
    path = tmp_path / "hostile" / "audit.jsonl"
    path.parent.mkdir(parents=True)
    rec = record(
        at_s=1.0,
        tool="evil\x1b[2Jtool",
        command=HOSTILE_COMMAND,
        operator=HOSTILE_OPERATOR,
        request_id="req-h1",
        trace_id="trace-\x1b]8;;http://x\x07h",
        params={"note": HOSTILE_PARAM},
        exit_code=1,
    )
    path.write_bytes(line_of(rec) + b"\n" + b"\x1b[5mblink not json\x1b]0;t\x07\n")
    return path


def audit_records(home: Path) -> list[dict[str, Any]]:
    """The records auditview wrote about itself under the isolated XDG data home."""
    path = home / "data" / "auditview" / "audit.jsonl"
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]

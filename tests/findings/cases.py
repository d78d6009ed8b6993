"""Hand-built traces for the findings tests: records by start time in seconds, one trace per helper."""

from __future__ import annotations

from typing import Any

import polars as pl

from tests.engine.frames import make_frame


def step(
    at_s: float,
    command: str,
    *,
    tool: str = "deployctl",
    trace_id: str = "t1",
    exit_code: int | None = 0,
    duration_s: float = 1.0,
    params: dict[str, Any] | None = None,
    request_id: str = "",
    parent: str | None = None,
) -> dict[str, Any]:
    """One record of the index frame, starting ``at_s`` seconds after the tests' base time."""
    return {
        "start_ms": at_s * 1000.0,
        "tool": tool,
        "command": command,
        "trace_id": trace_id,
        "exit_code": exit_code,
        "ok": exit_code == 0 if exit_code is not None else None,
        "duration_ms": duration_s * 1000.0,
        "params": {"env": "prod", "service": "api"} if params is None else params,
        "request_id": request_id,
        "parent_request_id": parent,
    }


def frame(*records: dict[str, Any], categorical: bool = False) -> pl.DataFrame:
    """An index-shaped frame of ``records`` (request ids ``r0``, ``r1``... where not given)."""
    return make_frame(list(records), categorical=categorical)

"""Raw record lines for the engine tests: one valid contract record, with fields overridable."""

from __future__ import annotations

from typing import Any

import orjson


def record(ts: str, request_id: str, **overrides: Any) -> bytes:
    """One valid record line (without ``\\n``) at ``ts``."""
    base: dict[str, Any] = {
        "timestamp": ts,
        "tool": "t",
        "command": "c",
        "params": {},
        "exit_code": 0,
        "duration_ms": 1,
        "request_id": request_id,
        "trace_id": "tr",
        "version": "1",
        "operator": "op",
    }
    base.update(overrides)
    return orjson.dumps(base)

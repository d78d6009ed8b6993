"""Fixtures for the writer tests: a clean propagation environment and a log path under ``tmp_path``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from auditview.writer import Auditor

TOOL = "wtest"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No inherited trace/operator variables, and XDG_DATA_HOME inside tmp_path (never the real home)."""
    for name in (
        "TOOL_TRACE_ID",
        "TOOL_PARENT_REQUEST_ID",
        "TRACEPARENT",
        "TOOL_OPERATOR",
        "WTEST_TRACE_ID",
        "WTEST_AUDIT_LOG",
        "WTEST_AUDIT",
        "WTEST_AUDIT_FLUSH",
        "WTEST_AUDIT_STRICT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """Where the test auditor writes."""
    return tmp_path / "logs" / "audit.jsonl"


@pytest.fixture
def auditor(log_path: Path) -> Auditor:
    """An auditor for the tool ``wtest`` writing to ``log_path``."""
    return Auditor(TOOL, "9.9.9", log_path=log_path)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Decode every line of ``path`` (each must be valid JSON)."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]

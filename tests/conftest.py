"""Test-wide isolation: no test may read or write the real home's audit logs or caches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _isolated_xdg_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point XDG data/state/cache dirs at a fresh temporary tree for every test.

    auditview audits itself and caches indexes; without this a test run would append to the developer's own
    ``~/.local/share/auditview/audit.jsonl`` and fill ``~/.cache/auditview``. Tests needing other dirs set
    them again themselves.
    """
    root: Path = tmp_path_factory.mktemp("xdg")
    for name in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        path = root / name.lower()
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    monkeypatch.delenv("TOOL_TRACE_ID", raising=False)
    monkeypatch.delenv("TOOL_PARENT_REQUEST_ID", raising=False)
    monkeypatch.delenv("TRACEPARENT", raising=False)


@pytest.fixture
def parsed_offsets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The stream offsets of every chunk the index parses (to see what a load had to read; empty = warm)."""
    import auditview.core.index as index_module
    from auditview.source.types import Chunk

    seen: list[int] = []
    from auditview.core.parse import parse_chunk as real
    from auditview.core.parse import parse_chunk_prefiltered as real_prefiltered

    def spy(chunk: Chunk, file_id: int, columns: Any = None) -> Any:
        seen.append(chunk.offset)
        return real(chunk, file_id, columns)

    def spy_prefiltered(chunk: Chunk, file_id: int, columns: Any, prefilter: Any) -> Any:
        seen.append(chunk.offset)
        return real_prefiltered(chunk, file_id, columns, prefilter)

    monkeypatch.setattr(index_module, "parse_chunk", spy)
    monkeypatch.setattr(index_module, "parse_chunk_prefiltered", spy_prefiltered)
    return seen

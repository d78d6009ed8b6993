"""Fixtures shared by the engine tests."""

from __future__ import annotations

from typing import Any

import pytest

import auditview.index as index_module
from auditview.source.types import Chunk


@pytest.fixture
def parsed_offsets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The stream offsets of every chunk the index parses (to see what a load had to read; empty = warm)."""
    seen: list[int] = []
    real = index_module.parse_chunk

    def spy(chunk: Chunk, file_id: int, columns: Any = None) -> Any:
        seen.append(chunk.offset)
        return real(chunk, file_id, columns)

    monkeypatch.setattr(index_module, "parse_chunk", spy)
    return seen

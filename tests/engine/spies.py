"""A spy on the parser's per-line reference step, for tests that prove which lines stay on the fast paths."""

from __future__ import annotations

from typing import Any

import pytest

import auditview.core.parse as parse_module


def exact_lines(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The lines handed to ``parse.parse_lines_exact`` from now on (the list fills as the parser runs; the
    step itself still runs)."""
    seen: list[bytes] = []
    real = parse_module.parse_lines_exact

    def spy(lines: list[bytes], *args: Any, **kwargs: Any) -> Any:
        seen.extend(lines)
        return real(lines, *args, **kwargs)

    monkeypatch.setattr(parse_module, "parse_lines_exact", spy)
    return seen

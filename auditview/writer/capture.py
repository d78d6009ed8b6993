"""The hook behind ``testing.capture_records()``: while a capture is open, records go to it.

Kept separate from ``testing`` so the auditor can check it cheaply; it holds state only and writes nothing.
Captures are process-wide (a test may drive invocations from threads), and nest: the innermost one receives.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["active", "deliver", "pop", "push"]

_lock = threading.Lock()
_stack: list[list[dict[str, Any]]] = []


def active() -> bool:
    """True while at least one capture is open."""
    return bool(_stack)


def deliver(record: dict[str, Any]) -> None:
    """Hand a finished record to the innermost open capture."""
    with _lock:
        if _stack:
            _stack[-1].append(record)


def push(target: list[dict[str, Any]]) -> None:
    """Open a capture that appends to ``target``."""
    with _lock:
        _stack.append(target)


def pop(target: list[dict[str, Any]]) -> None:
    """Close the capture that appends to ``target``."""
    with _lock:
        for index in range(len(_stack) - 1, -1, -1):
            if _stack[index] is target:
                del _stack[index]
                return

"""The cache writes in flight in this process, so that a reader or an eviction can wait for them.

Owns: ``start_write`` (run a cache write in a background thread) and ``wait_pending`` (join them all). A
lookup, a prune and a clear wait first, so that this process never misses or removes what it is writing.
Must not: know what a write does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["start_write", "wait_pending"]

_pending: list[threading.Thread] = []
_pending_lock = threading.Lock()


def start_write(target: Callable[..., object], args: tuple[Any, ...]) -> None:
    """Run ``target(*args)`` in a background thread that ``wait_pending`` joins."""
    thread = threading.Thread(target=target, args=args, name="auditview-cache-write")
    with _pending_lock:  # started under the lock: ``wait_pending`` in another thread never joins it unstarted
        _pending.append(thread)
        thread.start()


def wait_pending() -> None:
    """Wait until every cache write started by this process has finished."""
    while True:
        with _pending_lock:
            if not _pending:
                return
            thread = _pending.pop()
        thread.join()

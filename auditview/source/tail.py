"""The one follow loop, shared by every reader that follows logs: ``auditview audit-log -f``, the writer's own
``<tool> audit-log -f`` and the terminal app.

Owns:

* ``tail(follower, *, initial=True, stop=None, wait=0.25)``: a generator over a ``Follower``. With
  ``initial`` it first yields ``follower.initial()`` (every complete line there now, as ``Chunk``s) and then
  ``CaughtUp(initial=True)``; after that, round after round, what ``follower.poll()`` found — ``Chunk``s
  (lines appended, with their file, offset and line number) and ``SourceEvent``s (``FileRotated``,
  ``FileTruncated``, ``FileAppeared``, ``LineRejected``...) in the order they happened — each round closed
  by ``CaughtUp()``, then ``follower.wait(wait)``. It ends when ``stop()`` returns true (checked before each
  round); callers that run until Ctrl-C pass none. The follower is the caller's to close. Because the
  follower reads every file through descriptors it keeps (by inode) from the first read on, following
  continues at the exact byte where the initial read stopped, on the same inode, across rotation and
  truncation.
* ``CaughtUp``: the marker that closes a round: the moment to print or post what the round brought.

What each item does to an index (rows added, rotations re-pointed, truncated rows dropped) is the core's
business: ``auditview.core.live.apply_to_index``.

Must not: import polars, the index or any UI library at run time (the writer's ``audit-log`` uses ``tail``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from auditview.source.events import SourceEvent
from auditview.source.follow import Follower
from auditview.source.types import Chunk

__all__ = ["DEFAULT_WAIT", "CaughtUp", "tail"]

#: The longest ``tail`` blocks between two rounds when nothing happens (inotify wakes it sooner).
DEFAULT_WAIT: Final = 0.25


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """Everything found so far was yielded; ``initial``: the end of what was there when following started."""

    initial: bool = False


def tail(
    follower: Follower,
    *,
    initial: bool = True,
    stop: Callable[[], bool] | None = None,
    wait: float = DEFAULT_WAIT,
) -> Iterator[Chunk | SourceEvent | CaughtUp]:
    """Follow: the initial lines (with ``initial``), then each round's lines and events, each closed by a
    ``CaughtUp``, until ``stop()`` (never when ``None``). See the module docstring."""
    if initial:
        yield from follower.initial()
        yield CaughtUp(initial=True)
    while stop is None or not stop():
        yield from follower.poll()
        yield CaughtUp()
        if stop is not None and stop():
            return
        follower.wait(wait)

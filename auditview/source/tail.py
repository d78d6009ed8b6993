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
* ``apply_to_index(index, item)``: what an ``AuditIndex`` must do for each item (the CLI's and the app's
  follow share it): a chunk is parsed and added (its rows returned), a rejected line recorded, a rotation
  re-points the rows read from the old name (``file_moved``), a truncation re-points them to copytruncate's
  copy or drops them (``file_truncated``; the count is returned). Without that, reading a record's bytes
  back by path after a rotation reads the new file (``RawLineChanged``).

Must not: import polars, the index or any UI library at run time (the writer's ``audit-log`` uses ``tail``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auditview.source.events import FileRotated, FileTruncated, LineRejected, SourceEvent
from auditview.source.follow import Follower
from auditview.source.types import Chunk

if TYPE_CHECKING:
    import polars as pl

    from auditview.core.index import AuditIndex

__all__ = ["DEFAULT_WAIT", "CaughtUp", "IndexChange", "apply_to_index", "tail"]

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


@dataclass(frozen=True, slots=True)
class IndexChange:
    """What ``apply_to_index`` did: the rows a chunk added (sorted), or how many rows a truncation dropped."""

    rows: pl.DataFrame | None = None
    dropped: int = 0


_NO_CHANGE: Final = IndexChange()


def apply_to_index(index: AuditIndex, item: Chunk | SourceEvent) -> IndexChange:
    """Bring ``index`` up to date with one item from ``tail`` (``CaughtUp`` excluded)."""
    if isinstance(item, Chunk):
        return IndexChange(rows=index.add_chunk(item))
    if isinstance(item, LineRejected):
        index.add_rejects([item.reject])
    elif isinstance(item, FileRotated):
        # Rows read from the old file keep their raw bytes reachable under its new name.
        index.file_moved(item.source, item.moved_to)
    elif isinstance(item, FileTruncated):
        return IndexChange(dropped=index.file_truncated(item.source, item.copied_to))
    return _NO_CHANGE

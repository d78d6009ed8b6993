"""The app's loader worker: the core's loading and following, its events posted as Textual messages.

The engine lives in the core: ``auditview.core.live.load_and_follow`` loads and follows the sources and tells
what happens as plain events, and ``auditview.core.view`` keeps the filtered view. The app runs
``load_and_follow`` here in a thread worker; this module only turns each core event into the message of
``auditview.tui.messages`` that wraps it (``loader_message``). Nothing here touches a widget.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from auditview.core import live
from auditview.core.live import (
    BytesIndexed,
    Cancelled,
    IndexBuilt,
    IndexChanged,
    LiveEvent,
    LoaderOptions,
    StatusNoted,
)
from auditview.tui.messages import (
    IndexingFinished,
    IndexingProgressed,
    LoadFailed,
    RecordsAppended,
    SourceEventHappened,
)

__all__ = ["load_and_follow", "loader_message"]

Post = Callable[[Message], object]


def loader_message(event: LiveEvent) -> Message:
    """The message that carries a loader event to the app."""
    if isinstance(event, IndexChanged):
        return RecordsAppended(event)
    if isinstance(event, BytesIndexed):
        return IndexingProgressed(event)
    if isinstance(event, IndexBuilt):
        return IndexingFinished(event)
    if isinstance(event, StatusNoted):
        return SourceEventHappened(event)
    return LoadFailed(event)


def load_and_follow(options: LoaderOptions, post: Post, cancelled: Cancelled) -> None:
    """``core.live.load_and_follow``, each event posted as its message (see ``loader_message``)."""
    live.load_and_follow(options, lambda event: post(loader_message(event)), cancelled)

"""The one rows view of the app: a line-API ``ScrollView`` with a cursor on one row, under a fixed header.

``RowsView`` owns what the records table, the traces list and the two waterfalls share: the cursor (a
position among ``row_count`` rows), moving it (clamped) and announcing it when it lands on another row, a
screenful up or down, the first and the last row, keeping the cursor's row on screen (after every move and
every change of size), and jumping to the nearest target row after or before the cursor (``jump``, given the
sorted target positions; ``next_target`` is the pure search). ``cursor_bindings`` are the shared keys.

A subclass keeps what is its own: what a row is and how it renders (``render_line``), ``row_count``, where
the cursor's row lies when rows are not one line each (``cursor_lines``), what a jump target is and what to
say when there is none, and what it announces (``announce_cursor``). This module knows no row's data.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.binding import Binding
from textual.scroll_view import ScrollView

__all__ = ["RowsView", "cursor_bindings", "next_target"]


def cursor_bindings(noun: str) -> list[Binding]:
    """The keys that move a rows view's cursor (↑ k, ↓ j, page up/down, home g, end G); the help names each
    row a ``noun`` ("step", "trace")."""
    return [
        Binding("up,k", "cursor_up", "Up", show=False, tooltip=f"previous {noun}"),
        Binding("down,j", "cursor_down", "Down", show=False, tooltip=f"next {noun}"),
        Binding("pageup", "page_up", "Page up", show=False, tooltip="a page up"),
        Binding("pagedown", "page_down", "Page down", show=False, tooltip="a page down"),
        Binding("home,g", "first", "First", show=False, tooltip=f"first {noun}"),
        Binding("end,G", "last", "Last", show=False, tooltip=f"last {noun}"),
    ]


def next_target(targets: Sequence[int], cursor: int, forward: bool) -> int | None:
    """The first of ``targets`` (ascending positions) after ``cursor``, or with ``forward=False`` the last one
    before it; ``None`` when there is none."""
    if forward:
        index = bisect.bisect_right(targets, cursor)
        return targets[index] if index < len(targets) else None
    index = bisect.bisect_left(targets, cursor) - 1
    return targets[index] if index >= 0 else None


class RowsView(ScrollView, can_focus=True):
    """A virtual list of rows under ``HEADER_LINES`` of header, with a cursor on one row."""

    #: Lines of fixed header above the rows (the rows scroll under it).
    HEADER_LINES: ClassVar[int] = 1
    #: Lines each row takes (``cursor_lines`` says otherwise when rows differ).
    LINES_PER_ROW: ClassVar[int] = 1

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        """Start with the cursor on the first row."""
        super().__init__(name=name, id=id, classes=classes)
        #: The cursor's position among the rows (0 when there is none).
        self.cursor = 0

    # --- what a subclass says -------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many rows the cursor can be on."""
        raise NotImplementedError

    def announce_cursor(self) -> None:
        """Tell the app which row the cursor is on (posted on mount and whenever the cursor changes row)."""

    def cursor_lines(self) -> tuple[int, int] | None:
        """The first line of the cursor's row (0 is the line under the header) and how many lines it takes;
        ``None`` when there is no row to show."""
        return self.cursor * self.LINES_PER_ROW, self.LINES_PER_ROW

    def page_rows(self) -> int:
        """How many rows page up / page down move: a screenful."""
        return max(1, self.body_height() // self.LINES_PER_ROW)

    def page_target(self, pages: int) -> int:
        """The position ``pages`` screenfuls below the cursor (above it when negative)."""
        return self.cursor + pages * self.page_rows()

    def resized(self) -> None:
        """What a change of size does: bring the cursor's row back on screen."""
        self.scroll_to_cursor()

    # --- the cursor -----------------------------------------------------------------------------------

    def body_height(self) -> int:
        """How many lines under the header show rows (never less than one row)."""
        return max(self.LINES_PER_ROW, self.scrollable_content_region.height - self.HEADER_LINES)

    def line_at(self, y: int) -> int | None:
        """The line of the rows shown on screen line ``y`` (``None`` on the header)."""
        return None if y < self.HEADER_LINES else round(self.scroll_y) + y - self.HEADER_LINES

    def scroll_to_cursor(self) -> None:
        """Scroll the least that shows all of the cursor's row."""
        lines = self.cursor_lines()
        if lines is None:
            return
        first, count = lines
        top = round(self.scroll_y)
        height = self.body_height()
        if first < top:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif first + count > top + height:
            self.scroll_to(y=first + count - height, animate=False, immediate=True)

    def move_cursor(self, position: int, *, scroll: bool = True) -> None:
        """Put the cursor on row ``position`` (clamped; 0 when there are no rows), scroll it into view (unless
        not ``scroll``) and announce it when it changed row."""
        count = self.row_count
        position = max(0, min(count - 1, position)) if count else 0
        changed = position != self.cursor
        self.cursor = position
        if scroll:
            self.scroll_to_cursor()
        self.refresh()
        if changed:
            self.announce_cursor()

    def jump(self, targets: Sequence[int], forward: bool) -> bool:
        """Move to the nearest of ``targets`` (ascending positions) after the cursor, or before it when not
        ``forward``; ``False`` when there is none (the caller says so, in its own words)."""
        target = next_target(targets, self.cursor, forward)
        if target is None:
            return False
        self.move_cursor(target)
        return True

    def on_mount(self) -> None:
        """Announce the row the cursor starts on."""
        self.announce_cursor()

    def on_resize(self, event: events.Resize) -> None:
        """Keep the cursor's row on screen when the widget changes size (``resized``)."""
        self.resized()

    # --- the shared keys ------------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        """Move up one row."""
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        """Move down one row."""
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        """Move up a screenful."""
        self.move_cursor(self.page_target(-1))

    def action_page_down(self) -> None:
        """Move down a screenful."""
        self.move_cursor(self.page_target(1))

    def action_first(self) -> None:
        """Move to the first row."""
        self.move_cursor(0)

    def action_last(self) -> None:
        """Move to the last row."""
        self.move_cursor(self.row_count - 1)

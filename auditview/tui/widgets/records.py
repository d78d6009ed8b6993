"""The records table: a virtual, line-API widget that renders only the visible rows of the view frame.

It never builds a Python object per record: ``render_line`` slices the polars frame for the visible window
(cached per scroll position), formats those few rows, and turns each cell into a ``Segment`` of *sanitized*
text (``sanitize.printable``), so hostile field values reach the terminal as inert, visible characters.

The cursor, paging and jumping are ``RowsView``'s (shared with the traces list and the waterfalls). Data comes
down as an attribute (``show_frame``); the widget tells the app about the cursor through messages.
It follows new records while the cursor is on the last row and otherwise stays on the same record and counts
"N new" until the user jumps to the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

import polars as pl
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.sanitize import printable
from auditview.tui.widgets.rows import RowsView

__all__ = ["NO_TRACE", "RecordKey", "RecordsTable", "fit_tail"]

#: How a record that belongs to no trace shows its trace, dimmed (an unknown field is ``humanize.UNKNOWN``).
NO_TRACE: Final = "-"

#: Display cap for one cell; anything longer is cut before it is measured.
_CELL_CAP: Final = 200
_BAR_BLOCKS: Final = " ▏▎▍▌▋▊▉█"
_GLYPH_FAILED: Final = "✗"
_GLYPH_SLOW: Final = "◷"
_GLYPH_MARKED: Final = "●"
_GLYPH_MATCH: Final = "›"


@dataclass(frozen=True, slots=True)
class RecordKey:
    """Where a record lives in its source; stable across index rebuilds, so it identifies a row."""

    file_id: int
    offset: int


def _duration_bar(ms: float | None, width: int) -> str:
    """A log-scaled bar from 10 ms (empty) to 100 s (full) in eighth blocks."""
    if ms is None or math.isnan(ms) or ms <= 10:
        return " " * width
    fraction = min(math.log10(ms / 10) / 4, 1.0)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    bar = "█" * full + (_BAR_BLOCKS[rest] if rest and full < width else "")
    return bar.ljust(width)[:width]


def _fit(text: str, width: int, *, right: bool = False) -> str:
    """Sanitize, cut and pad ``text`` to exactly ``width`` cells (``…`` when cut)."""
    if width <= 0:
        return ""
    safe = printable(text[:_CELL_CAP])
    if cell_len(safe) > width:
        return set_cell_size(safe, width - 1) + "…"
    pad = width - cell_len(safe)
    return " " * pad + safe if right else safe + " " * pad


def fit_tail(text: str, width: int) -> str:
    """Sanitize, cut and pad ``text`` to exactly ``width`` cells, keeping its *end* (``…`` first when cut).

    For identifiers whose distinguishing part is at the end (``agent-session-66-step-4``,
    ``agent-session-66-step-5``): cut at the end they would all read ``agent-session-6…``.
    """
    if width <= 0:
        return ""
    safe = printable(text[-_CELL_CAP:] if len(text) > _CELL_CAP else text)
    if cell_len(safe) <= width:
        return safe + " " * (width - cell_len(safe))
    kept = ""
    for char in reversed(safe):
        if cell_len(kept) + cell_len(char) > width - 1:
            break
        kept = char + kept
    cut = "…" + kept
    return cut + " " * (width - cell_len(cut))


#: The glyph gutter: failed, slow (both can show) and marked / match, then a separator.
GUTTER: Final = 3
#: Below this content width the table drops the duration bar and the operator column ("narrow" layout) so
#: that tool names and the end of trace ids stay readable.
NARROW_BELOW: Final = 100


@dataclass(frozen=True, slots=True)
class _Columns:
    """Cell widths for one terminal width (0 = the column is not shown). Each shown column is followed by
    one space; the header and the rows are built from the same widths."""

    time: int
    tool: int
    command: int
    duration: int
    bar: int
    exit: int
    operator: int
    trace: int

    @classmethod
    def for_width(cls, width: int) -> _Columns:
        """Give the fixed columns their size and share the rest among the text columns."""
        time = 23 if width >= 150 else 12
        exit_ = 4
        if width < NARROW_BELOW:
            duration = 8
            fixed = GUTTER + 1 + (time + 1) + (duration + 1) + (exit_ + 1) + 2  # + tool/command separators
            rest = max(width - fixed, 18)
            tool = max(min(rest * 30 // 100, 12), 5)
            command = max(min(rest * 25 // 100, 12), 5)
            trace = max(rest - tool - command, 6)
            return cls(time, tool, command, duration, 0, exit_, 0, trace)
        duration, bar = 7, 6
        fixed = GUTTER + 1 + (time + 1) + (duration + 1) + (bar + 1) + (exit_ + 1) + 3
        rest = max(width - fixed, 16)
        tool = max(rest * 18 // 100, 4)
        command = max(rest * 22 // 100, 4)
        operator = max(rest * 21 // 100, 4)
        trace = max(rest - tool - command - operator, 4)
        return cls(time, tool, command, duration, bar, exit_, operator, trace)


_ROW_COLUMNS: Final[tuple[str, ...]] = (
    "ts",
    "tool",
    "command",
    "duration_ms",
    "exit_code",
    "operator",
    "trace_id",
    "file_id",
    "offset",
)


class RecordsTable(RowsView):
    """A virtual table of audit records: time, tool, command, duration, exit, operator, trace."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "records--header",
        "records--cursor",
        "records--failed",
        "records--slow",
        "records--marked",
        "records--match",
        "records--bar",
        "records--dim",
    }

    HELP_TITLE: ClassVar[str] = "Records"
    HELP_NOTES: ClassVar[tuple[str, ...]] = (
        "✗ failed · ◷ slow · ● marked · › search match (a failed and slow record shows ✗◷)",
        "At the newest record the view follows new records (● following); scrolled up it stays put and "
        "counts ⏸ N new until G.",
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Down", show=False, tooltip="next record"),
        Binding("k,up", "cursor_up", "Up", show=False, tooltip="previous record"),
        Binding("pagedown,ctrl+f", "page_down", "PgDn", show=False, tooltip="a page down"),
        Binding("pageup,ctrl+b", "page_up", "PgUp", show=False, tooltip="a page up"),
        Binding("g,home", "first", "Top", show=False, tooltip="oldest record"),
        Binding("G,end", "last", "End", show=False, tooltip="newest record, and follow new ones"),
        Binding("e", "next_failed", "Next failure", tooltip="next failed record (✗)"),
        Binding("E", "previous_failed", "Prev fail", show=False, tooltip="previous failed record"),
        Binding("s", "next_slow", "Next slow", tooltip="next slow record (◷)"),
        Binding("S", "previous_slow", "Prev slow", show=False, tooltip="previous slow record"),
        Binding(
            "n", "next_match", "Next match", show=False, tooltip="next search match (›), wrapping around"
        ),
        Binding("N", "previous_match", "Prev match", show=False, tooltip="previous search match"),
        Binding("space", "toggle_mark", "Mark", show=False, tooltip="mark the record (●) for export"),
        Binding("enter", "open_detail", "Detail", tooltip="the record: pretty JSON, file:line, raw line"),
    ]

    @dataclass
    class CursorMoved(Message):
        """The cursor is on row ``row`` of the view (``-1`` when the view is empty)."""

        row: int

    @dataclass
    class DetailWanted(Message):
        """The user pressed enter on ``row``."""

        row: int

    @dataclass
    class FollowChanged(Message):
        """Following switched on or off, or the count of unseen new records changed."""

        following: bool
        unseen: int

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._frame: pl.DataFrame = pl.DataFrame()
        self._window_start = -1
        self._window: list[tuple[object, ...]] = []
        self._failed_rows: pl.Series = pl.Series("r", [], dtype=pl.UInt32)
        self._slow_rows: pl.Series = pl.Series("r", [], dtype=pl.UInt32)
        self._match_rows: Sequence[int] = ()
        self._match_set: frozenset[int] = frozenset()
        self.marked: set[RecordKey] = set()
        self.following = True
        self.unseen = 0
        #: What the table says when the view has no rows (the app words it: loading, no match, ...).
        self.empty_text = "loading…"

    # ----------------------------------------------------------------------------------------------- data dow
    @property
    def frame(self) -> pl.DataFrame:
        """The view frame currently shown."""
        return self._frame

    @property
    def row_count(self) -> int:
        """Number of rows in the view."""
        return self._frame.height

    def show_frame(
        self,
        frame: pl.DataFrame,
        *,
        appended: bool = False,
        failed_rows: pl.Series | None = None,
        slow_rows: pl.Series | None = None,
    ) -> None:
        """Show ``frame``; keep the cursor on the same record unless following (then go to the new end).

        ``appended`` says the change is new records arriving (counted as unseen while not following), not a
        new filter.
        """
        old_key = self.key_at(self.cursor)
        old_height = self._frame.height
        old_offset_in_view = self.cursor - round(self.scroll_y) + 1
        self._frame = frame
        self._window_start = -1
        self._failed_rows = failed_rows if failed_rows is not None else self.rows_where(frame, "failed")
        self._slow_rows = slow_rows if slow_rows is not None else self.rows_where(frame, "slow")
        self._match_rows, self._match_set = (), frozenset()
        self.virtual_size = Size(self.size.width, frame.height + 1)
        if frame.height == 0:
            self.move_cursor(0, scroll=False)
        elif self.following or old_key is None:
            self.move_cursor(frame.height - 1 if self.following else 0, scroll=True)
        else:
            row = self.row_of(old_key)
            new_row = row if row is not None else min(self.cursor, frame.height - 1)
            if appended:
                self.unseen += max(frame.height - old_height, 0)
                self.post_message(self.FollowChanged(self.following, self.unseen))
            self.move_cursor(new_row, scroll=False)
            self.scroll_to(y=max(new_row + 1 - old_offset_in_view, 0), animate=False, immediate=True)
        self.refresh()

    def set_matches(self, rows: Sequence[int]) -> None:
        """Highlight ``rows`` (sorted row numbers of the current view) as search matches."""
        self._match_rows = rows
        self._match_set = frozenset(rows)
        self.refresh()

    @staticmethod
    def rows_where(frame: pl.DataFrame, column: str) -> pl.Series:
        """Row numbers of ``frame`` where ``column`` ("failed" or "slow") is true (callable from a worker)."""
        if column == "failed" and "exit_code" in frame.columns:
            mask = frame["exit_code"].fill_null(0) != 0
        elif column in frame.columns:
            mask = frame[column].fill_null(False)
        else:
            return pl.Series("r", [], dtype=pl.UInt32)
        return mask.arg_true().cast(pl.UInt32)

    def key_at(self, row: int) -> RecordKey | None:
        """The source location of the record on ``row`` (``None`` outside the view)."""
        if not 0 <= row < self._frame.height or "file_id" not in self._frame.columns:
            return None
        return RecordKey(int(self._frame["file_id"][row]), int(self._frame["offset"][row]))

    def row_of(self, key: RecordKey) -> int | None:
        """The row of the record at ``key`` in the view, or ``None``."""
        if self._frame.height == 0:
            return None
        hits = ((self._frame["file_id"] == key.file_id) & (self._frame["offset"] == key.offset)).arg_true()
        return int(hits[0]) if hits.len() else None

    # ------------------------------------------------------------------------------------------------ cursor
    def move_cursor(self, position: int, *, scroll: bool = True) -> None:
        """Move the cursor to row ``position`` (clamped) and scroll it into view (again once the table is laid
        out for a new frame); on the last row the table follows new records."""
        super().move_cursor(position, scroll=scroll)
        if scroll:
            self.call_after_refresh(self.scroll_to_cursor)
        last = self._frame.height - 1
        at_end = last < 0 or self.cursor == last
        if at_end != self.following or (at_end and self.unseen):
            self.following = at_end
            if at_end:
                self.unseen = 0
            self.post_message(self.FollowChanged(self.following, self.unseen))

    def announce_cursor(self) -> None:
        """Post ``CursorMoved`` for the cursor row."""
        self.post_message(self.CursorMoved(self.cursor if self._frame.height else -1))

    def page_rows(self) -> int:
        """A screenful less one row: the row at the edge of the page stays in view."""
        return max(self.body_height() - 1, 1)

    def _jump(self, rows: pl.Series | Sequence[int], forward: bool, what: str, *, wrap: bool = False) -> bool:
        """Move to the next (previous) row of ``rows`` after (before) the cursor; say so when there is none.

        ``what`` names the rows in the messages ("failed record"); with ``wrap`` the search goes on from the
        other end of the view (and says that it did).
        """
        values = rows.to_list() if isinstance(rows, pl.Series) else list(rows)
        if not values:
            hint = " (f searches)" if wrap else ""
            self.notify(f"no {what} in this view{hint}", timeout=3)
            return False
        if self.jump(values, forward):
            return True
        if not wrap:
            self.notify(f"no {what} {'below' if forward else 'above'}", timeout=3)
            return False
        where, again = ("last", "first") if forward else ("first", "last")
        self.notify(f"past the {where} {what}: wrapped to the {again}", timeout=3)
        self.move_cursor(values[0] if forward else values[-1])
        return True

    def action_next_failed(self) -> None:
        """Jump to the next failed record."""
        self._jump(self._failed_rows, True, "failed record")

    def action_previous_failed(self) -> None:
        """Jump to the previous failed record."""
        self._jump(self._failed_rows, False, "failed record")

    def action_next_slow(self) -> None:
        """Jump to the next slow record."""
        self._jump(self._slow_rows, True, "slow record")

    def action_previous_slow(self) -> None:
        """Jump to the previous slow record."""
        self._jump(self._slow_rows, False, "slow record")

    def action_next_match(self) -> None:
        """Jump to the next search match (after the last one: the first, with a message)."""
        self._jump(self._match_rows, True, "search match", wrap=True)

    def action_previous_match(self) -> None:
        """Jump to the previous search match (before the first one: the last, with a message)."""
        self._jump(self._match_rows, False, "search match", wrap=True)

    def action_toggle_mark(self) -> None:
        """Mark or unmark the record under the cursor (for exporting marked records) and move down."""
        key = self.key_at(self.cursor)
        if key is None:
            return
        if key in self.marked:
            self.marked.discard(key)
        else:
            self.marked.add(key)
        self.refresh()
        self.move_cursor(self.cursor + 1)

    def action_open_detail(self) -> None:
        """Ask for the detail of the record under the cursor."""
        if self._frame.height:
            self.post_message(self.DetailWanted(self.cursor))

    def on_click(self, event: events.Click) -> None:
        """Put the cursor on the clicked row."""
        row = self.line_at(event.y)
        if row is not None:
            self.move_cursor(row, scroll=False)

    # --------------------------------------------------------------------------------------------- rendering
    def _load_window(self, top: int, height: int) -> None:
        """Format the rows ``top .. top+height`` (plus some margin) into plain tuples, once per scroll
        position."""
        start = max(top - height, 0)
        if (
            self._window_start >= 0
            and self._window_start <= top
            and top + height <= self._window_start + len(self._window)
        ):
            return
        columns = [c for c in _ROW_COLUMNS if c in self._frame.columns]
        part = self._frame.slice(start, height * 3).select(columns)
        if "ts" in part.columns:
            part = part.with_columns(pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S%.3f").alias("ts"))
        cast = [pl.col(c).cast(pl.String) for c in ("tool", "command", "operator") if c in part.columns]
        part = part.with_columns(cast)
        self._window = list(part.iter_rows())
        self._window_start = start
        self._window_columns = columns

    def render_line(self, y: int) -> Strip:
        """Render screen line ``y``: the header on line 0, then one record per line."""
        width = self.scrollable_content_region.width
        base = self.rich_style
        columns = _Columns.for_width(width)
        if y == 0:
            return self._header(columns, width)
        row = round(self.scroll_y) + y - 1
        if self._frame.height == 0 and y == 1:
            dim = self.get_component_rich_style("records--dim")
            indent = GUTTER + 1  # under the first column
            return Strip([Segment(" " * indent + _fit(self.empty_text, width - indent), dim)], width)
        if row >= self._frame.height:
            return Strip.blank(width, base)
        self._load_window(round(self.scroll_y), self.scrollable_content_region.height)
        values: dict[str, object] = dict(
            zip(self._window_columns, self._window[row - self._window_start], strict=True)
        )
        return self._row_strip(row, values, columns, width)

    def _header(self, columns: _Columns, width: int) -> Strip:
        style = self.get_component_rich_style("records--header")
        duration = columns.duration + (columns.bar + 1 if columns.bar else 0)
        cells = [
            " " * GUTTER,
            _fit("time (UTC)", columns.time),
            _fit("tool", columns.tool),
            _fit("command", columns.command),
            _fit("duration", duration),
            _fit("exit", columns.exit, right=True),
        ]
        if columns.operator:
            cells.append(_fit("operator", columns.operator))
        cells.append(_fit("trace", columns.trace))
        return Strip([Segment(" ".join(cells), style)]).crop_extend(0, width, style)

    def _layer(self, name: str) -> Style:
        """The part of component ``name``'s style that its rule sets (blended with the background), to lay
        *over* a cell's own style: a row state (cursor, match, mark) must win over every cell's colours."""
        full = self.get_component_rich_style(name)
        own = self.get_component_rich_style(name, partial=True)
        return Style(
            color=full.color if own.color is not None else None,
            bgcolor=full.bgcolor if own.bgcolor is not None else None,
            bold=own.bold,
            dim=own.dim,
            italic=own.italic,
            underline=own.underline,
            reverse=own.reverse,
            strike=own.strike,
        )

    def _row_strip(self, row: int, values: dict[str, object], columns: _Columns, width: int) -> Strip:
        exit_code = values.get("exit_code")
        failed = isinstance(exit_code, int) and exit_code != 0
        slow = self._is_slow(row)
        key = RecordKey(int(str(values.get("file_id", -1))), int(str(values.get("offset", -1))))
        marked = key in self.marked
        matched = row in self._match_set
        text = self.rich_style
        if failed:
            text += self.get_component_rich_style("records--failed")
        elif slow:
            text += self.get_component_rich_style("records--slow")
        # Row states go over the cells' own styles (the dim, bar and text colours each carry the background).
        over = Style()
        if matched:
            over += self._layer("records--match")
        if marked:
            over += self._layer("records--marked")
        if row == self.cursor:
            over += self._layer("records--cursor")
            if not self.has_focus:
                over += Style(dim=True)
        base = text + over
        dim = text + self.get_component_rich_style("records--dim") + over
        bar_style = text + self.get_component_rich_style("records--bar") + over
        glyphs = (_GLYPH_FAILED if failed else "") + (_GLYPH_SLOW if slow else "")
        third = _GLYPH_MARKED if marked else _GLYPH_MATCH if matched else " "
        gutter = glyphs.ljust(GUTTER - 1) + third + " "
        ts = str(values.get("ts") or "")
        if columns.time < 23:
            ts = ts[11:]
        duration = values.get("duration_ms")
        duration_ms = float(duration) if isinstance(duration, int | float) else None

        def cell(value: object, size: int, *, right: bool = False, missing: str = UNKNOWN) -> Segment:
            """One text cell and its separator; an unknown value is ``missing``, dimmed."""
            if value is None:
                return Segment(_fit(missing, size, right=right) + " ", dim)
            return Segment(_fit(str(value), size, right=right) + " ", base)

        segments = [
            Segment(gutter, base),
            Segment(_fit(ts, columns.time) + " ", dim),
            cell(values.get("tool"), columns.tool),
            cell(values.get("command"), columns.command),
            cell(None if duration_ms is None else format_duration(duration_ms), columns.duration, right=True),
        ]
        if columns.bar:
            segments.append(Segment(_duration_bar(duration_ms, columns.bar) + " ", bar_style))
        segments.append(cell(exit_code, columns.exit, right=True))
        if columns.operator:
            segments.append(cell(values.get("operator"), columns.operator))
        segments.append(Segment(fit_tail(str(values.get("trace_id") or NO_TRACE), columns.trace), dim))
        return Strip(segments).crop_extend(0, width, base)

    def _is_slow(self, row: int) -> bool:
        if "slow" not in self._frame.columns:
            return False
        value = self._frame["slow"][row]
        return bool(value)

    def resized(self) -> None:
        """Keep the virtual size in step with the width, and the cursor visible while following."""
        self.virtual_size = Size(self.size.width, self._frame.height + 1)
        self._window_start = -1
        if self.following and self._frame.height:
            self.scroll_to_cursor()

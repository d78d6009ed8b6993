"""The traces list: a virtual, line-API table over the trace summaries, sortable, surviving live growth.

``TraceList`` is a ``RowsView`` (the cursor, paging and jumping shared with the other lists) that renders only
the rows on screen (1M records make ~87k traces; no Python object per trace is built): ``render_line`` reads
the visible rows from the sorted polars frame, a block at a time, and turns each cell into a ``Segment`` of
``printable()`` text, never markup. Columns: start, span, steps, failed, slow, slowest step, tools and trace
id, plus the findings when the frame has them (``finding_marks``: a ⚑ in the gutter, and a findings column
when wide enough); ``o`` cycles the sort column and ``O`` reverses it. ``m`` marks one trace (● in the gutter)
to compare another with. ``update_summaries`` takes a newer summaries frame (open traces grow) and keeps the
cursor on the same trace id.

The widget computes nothing about traces itself (``auditview.core.traces.summarize_traces`` does) and opens
nothing: it is handed a frame (attributes down) and posts ``TraceSelected`` / ``TraceHighlighted`` /
``MarkChanged`` (messages up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final

import polars as pl
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.sanitize import printable
from auditview.tui.finding_marks import FINDING_GLYPH
from auditview.tui.widgets.records import fit_tail
from auditview.tui.widgets.rows import RowsView, cursor_bindings
from auditview.tui.widgets.waterfall import CURSOR_GLYPH, FAILED_GLYPH, SLOW_GLYPH

__all__ = [
    "MARK_GLYPH",
    "SORT_COLUMNS",
    "ColumnLayout",
    "SortColumn",
    "TraceList",
    "column_layout",
    "sort_summaries",
]

HEADER_LINES: Final = 1
_BLOCK: Final = 64
_FIELD_CAP: Final = 200


@dataclass(frozen=True)
class SortColumn:
    """A column the list can be sorted by: its header ``label``, the key expression, its natural direction."""

    label: str
    key: str
    descending: bool


#: The sort columns ``o`` cycles through, in order; "start" (newest first) is the default.
SORT_COLUMNS: Final = (
    SortColumn("start", "start", True),
    SortColumn("span", "span_ms", True),
    SortColumn("steps", "steps", True),
    SortColumn("fail", "failed", True),
    SortColumn("slow", "slow", True),
    SortColumn("slowest", "slowest_ms", True),
    SortColumn("tools", "tools", False),
    SortColumn("trace", "trace_id", False),
)


def sort_summaries(summaries: pl.DataFrame, column: SortColumn, descending: bool) -> pl.DataFrame:
    """Sort the summaries by ``column`` (ties broken by trace id, ascending) — stable and deterministic."""
    if summaries.is_empty():
        return summaries
    key: pl.Expr = pl.col(column.key)
    if column.key == "tools":
        key = pl.col("tools").list.join(", ")
    return summaries.sort([key, pl.col("trace_id")], descending=[descending, False], nulls_last=True)


@dataclass(frozen=True)
class ColumnLayout:
    """Widths of the columns for a given total width (0 means the column is hidden).

    Every header fits its label *and* the sort arrow (``steps▼``, ``fail▼``). ``start`` is 14 cells
    (``11-20 09:18:06``) or, narrow, 8 (``09:18:06``: the info line under the list has the whole trace) and
    ``span`` 7 or, narrow, 6.
    """

    start: int = 14
    span: int = 7
    steps: int = 6
    failed: int = 5
    slow: int = 5
    slowest: int = 20
    tools: int = 16
    trace: int = 12
    #: The findings column (0: hidden, as in the narrow layout or when no trace has a finding).
    findings: int = 0


#: The gutter: the cursor (▶) or the mark (●), ✗ for a trace with failed steps and ◷ for one with slow steps
#: (both show), ⚑ for one with findings, a space.
_GUTTER: Final = 5
#: The mark of the trace marked for comparing.
MARK_GLYPH: Final = "●"
#: Below this width the list drops the date from ``start`` and the tools column, and gives the trace id the
#: room to show its distinguishing end.
NARROW_BELOW: Final = 100


def column_layout(width: int, *, findings: bool = False) -> ColumnLayout:
    """Share ``width`` cells among the columns: fixed numeric columns, then slowest, trace id and tools (and,
    with ``findings`` and in the wide layout, a findings column first)."""
    narrow = width < NARROW_BELOW
    start, span = (8, 6) if narrow else (14, 7)
    base = ColumnLayout(start=start, span=span)
    fixed = (
        _GUTTER + (base.start + 1) + (base.span + 1) + (base.steps + 1) + (base.failed + 1) + (base.slow + 1)
    )
    rest = max(0, width - fixed)
    if narrow:
        # trace id first (up to 24 cells: "agent-session-66-step-4"), then the slowest step; no tools
        trace = max(10, min(24, rest - 15))
        slowest = max(0, rest - trace - 1)
        return ColumnLayout(start=start, span=span, slowest=slowest, tools=0, trace=trace)
    found = min(28, max(10, int(rest * 0.3))) if findings else 0
    rest -= found + 1 if found else 0
    slowest = max(14, min(34, int(rest * 0.3)))
    trace = max(10, min(36, int(rest * 0.35)))
    tools = rest - slowest - trace - 3
    if tools < 7:
        tools = 0
        trace = max(0, rest - slowest - 2)
    return ColumnLayout(start=start, slowest=slowest, tools=max(0, tools), trace=trace, findings=found)


def _fit(text: str, width: int, *, right: bool = False) -> str:
    """Sanitize, cut (with ``…``) and pad ``text`` to exactly ``width`` terminal cells."""
    if width <= 0:
        return ""
    safe = printable(text[:_FIELD_CAP])
    if cell_len(safe) > width:
        return set_cell_size(safe, width - 1) + "…"
    if right:
        return " " * (width - cell_len(safe)) + safe
    return set_cell_size(safe, width)


def _format_start(value: object, width: int) -> str:
    if isinstance(value, datetime):
        return value.strftime("%m-%d %H:%M:%S" if width >= 14 else "%H:%M:%S")
    return UNKNOWN


def _known(value: object) -> str:
    """A name the records may not have given (a step's tool or command): ``UNKNOWN`` then, cut to size."""
    return UNKNOWN if value is None else str(value)[:_FIELD_CAP]


class TraceList(RowsView):
    """The list of traces, one line each, under a fixed header line."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trace-list--header",
        "trace-list--cursor",
        "trace-list--failed",
        "trace-list--slow",
        "trace-list--dim",
        "trace-list--marked",
        "trace-list--finding-error",
        "trace-list--finding-warning",
        "trace-list--finding-info",
    }

    HELP_TITLE: ClassVar[str] = "Traces"
    HELP_NOTES: ClassVar[tuple[str, ...]] = (
        "✗ a failed step · ◷ a slow step · ⚑ a finding (retry-loop, flapping...) · ● the trace marked to "
        "compare; the line under the list names the whole trace, its operators, tools and first finding.",
    )
    HEADER_LINES: ClassVar[int] = HEADER_LINES
    BINDINGS: ClassVar[list[BindingType]] = [
        *cursor_bindings("trace"),
        Binding("enter", "select", "Timeline", tooltip="the trace's timeline (waterfall)"),
        Binding(
            "o",
            "next_sort",
            "Sort",
            tooltip="sort by the next column: start span steps fail slow slowest tools trace",
        ),
        Binding("O", "reverse_sort", "Reverse", tooltip="reverse the sort order"),
        Binding("e", "next_failed", "Next failed", tooltip="next trace with a failed step (✗)"),
        Binding(
            "E", "previous_failed", "Prev failed", show=False, tooltip="previous trace with a failed step"
        ),
        Binding("s", "next_slow", "Next slow", tooltip="next trace with a slow step (◷)"),
        Binding("S", "previous_slow", "Prev slow", show=False, tooltip="previous trace with a slow step"),
        Binding("n", "next_finding", "Next finding", show=False, tooltip="next trace with a finding (⚑)"),
        Binding("N", "previous_finding", "Prev finding", show=False, tooltip="previous trace with a finding"),
        Binding(
            "m",
            "toggle_mark",
            "Mark",
            tooltip="mark the trace (●) to compare another one with it; again to unmark",
        ),
    ]

    @dataclass
    class TraceSelected(Message):
        """Enter was pressed on the trace ``trace_id``: open its timeline."""

        trace_id: str

    @dataclass
    class TraceHighlighted(Message):
        """The cursor moved to a trace; ``summary`` is its row of the summaries frame."""

        summary: Mapping[str, Any]

        def can_replace(self, message: Message) -> bool:
            """Only the latest cursor position matters."""
            return isinstance(message, TraceList.TraceHighlighted)

    @dataclass
    class MarkChanged(Message):
        """The trace marked for comparing is now ``trace_id`` (``None``: no trace is marked)."""

        trace_id: str | None

    def __init__(
        self,
        summaries: pl.DataFrame | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Show ``summaries`` (``summarize_traces`` output); ``None`` shows "summarizing" until data comes."""
        super().__init__(name=name, id=id, classes=classes)
        self._raw: pl.DataFrame | None = summaries
        self._sorted: pl.DataFrame = pl.DataFrame()
        self._blocks: dict[int, list[tuple[Any, ...]]] = {}
        self._columns: list[str] = []
        self.sort_index = 0
        self.descending = SORT_COLUMNS[0].descending
        #: The trace marked for comparing (kept while it leaves and re-enters the list).
        self.marked_trace: str | None = None
        self._has_findings = False
        if summaries is not None:
            self._resort(keep=None)

    # --- data ---------------------------------------------------------------------------------------------

    @property
    def sort_column(self) -> SortColumn:
        """The column the list is sorted by."""
        return SORT_COLUMNS[self.sort_index]

    @property
    def row_count(self) -> int:
        """The number of traces shown."""
        return self._sorted.height

    @property
    def loaded(self) -> bool:
        """Whether a summaries frame has been given yet."""
        return self._raw is not None

    @property
    def trace_ids(self) -> list[str]:
        """The trace ids in display order (for tests and small lists; it materialises the column)."""
        if self._sorted.is_empty():
            return []
        return [str(value) for value in self._sorted.get_column("trace_id").to_list()]

    @property
    def has_findings(self) -> bool:
        """Whether some trace of the list has a finding (the findings column is shown, when wide enough)."""
        return self._has_findings

    @property
    def cached_row_count(self) -> int:
        """How many rows are held as Python tuples right now (only blocks around what was shown)."""
        return sum(len(rows) for rows in self._blocks.values())

    @property
    def selected_trace_id(self) -> str | None:
        """The trace id under the cursor."""
        row = self.row(self.cursor)
        return None if row is None else str(row["trace_id"])

    def row(self, index: int) -> dict[str, Any] | None:
        """The summary row at display position ``index`` as a dict, or ``None``."""
        values = self._row_values(index)
        return None if values is None else dict(zip(self._columns, values, strict=True))

    def update_summaries(self, summaries: pl.DataFrame) -> None:
        """Show a newer summaries frame; the cursor stays on the same trace (and at the same screen line)."""
        keep = self.selected_trace_id
        screen_line = self.cursor - round(self.scroll_y)
        self._raw = summaries
        self._resort(keep=keep)
        if keep is not None and self.selected_trace_id == keep:
            self.scroll_to(y=max(0, self.cursor - screen_line), animate=False, immediate=True)
        self.scroll_to_cursor()
        self.refresh()
        self.announce_cursor()

    def _resort(self, keep: str | None) -> None:
        raw = self._raw if self._raw is not None else pl.DataFrame()
        self._sorted = sort_summaries(raw, self.sort_column, self.descending) if raw.width else raw
        self._columns = self._sorted.columns
        self._blocks.clear()
        self._has_findings = "finding_count" in self._columns and bool(
            (self._sorted.get_column("finding_count") > 0).any()
        )
        self.cursor = min(self.cursor, max(0, self._sorted.height - 1))
        if keep is not None and not self._sorted.is_empty():
            position = self._sorted.get_column("trace_id").index_of(keep)
            if position is not None:
                self.cursor = int(position)
        self.virtual_size = Size(0, self._sorted.height + HEADER_LINES)

    def _row_values(self, index: int) -> tuple[Any, ...] | None:
        if not 0 <= index < self._sorted.height:
            return None
        block = index // _BLOCK
        rows = self._blocks.get(block)
        if rows is None:
            if len(self._blocks) > 64:
                self._blocks.clear()
            rows = self._sorted.slice(block * _BLOCK, _BLOCK).rows()
            self._blocks[block] = rows
        return rows[index - block * _BLOCK]

    # --- sorting ------------------------------------------------------------------------------------------

    def set_sort(self, index: int, descending: bool | None = None) -> None:
        """Sort by ``SORT_COLUMNS[index]`` (its natural direction unless ``descending`` is given)."""
        keep = self.selected_trace_id
        self.sort_index = index % len(SORT_COLUMNS)
        self.descending = self.sort_column.descending if descending is None else descending
        self._resort(keep=keep)
        self.scroll_to_cursor()
        self.refresh()

    def action_next_sort(self) -> None:
        """Sort by the next column."""
        self.set_sort(self.sort_index + 1)

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self.set_sort(self.sort_index, not self.descending)

    # --- cursor -------------------------------------------------------------------------------------------

    def announce_cursor(self) -> None:
        """Post ``TraceHighlighted`` for the cursor trace."""
        row = self.row(self.cursor)
        if row is not None:
            self.post_message(self.TraceHighlighted(row))

    def select_trace(self, trace_id: str) -> bool:
        """Put the cursor on ``trace_id`` (in the middle of the screen when it has to scroll); ``False``
        when the list does not hold that trace."""
        if self._sorted.is_empty():
            return False
        position = self._sorted.get_column("trace_id").index_of(trace_id)
        if position is None:
            return False
        self.cursor = int(position)
        self._center_cursor()
        # a list just given its rows has not been laid out for them yet (the scroll would be clamped to the
        # old size): scroll again once it has
        self.call_after_refresh(self._center_cursor)
        self.refresh()
        self.announce_cursor()
        return True

    def _center_cursor(self) -> None:
        """Scroll the cursor to the middle of the screen when it is not on it."""
        top = round(self.scroll_y)
        height = self.body_height()
        if not top <= self.cursor < top + height:
            self.scroll_to(y=max(0, self.cursor - height // 2), animate=False, immediate=True)

    def _jump(self, column: str, forward: bool) -> None:
        """Move to the next (previous) trace whose ``column`` count is above 0; say so when there is none."""
        if self._sorted.is_empty():
            return
        if column not in self._columns:  # findings not computed (yet)
            self.notify("No findings known yet.", timeout=2)
            return
        targets = (self._sorted.get_column(column) > 0).arg_true().to_list()
        if not self.jump(targets, forward):
            what = {"failed": "failed steps", "slow": "slow steps"}.get(column, "findings")
            self.notify(f"No trace with {what} {'below' if forward else 'above'}.", timeout=2)

    def action_next_failed(self) -> None:
        """Jump to the next trace with a failed step."""
        self._jump("failed", True)

    def action_previous_failed(self) -> None:
        """Jump to the previous trace with a failed step."""
        self._jump("failed", False)

    def action_next_slow(self) -> None:
        """Jump to the next trace with a slow step."""
        self._jump("slow", True)

    def action_previous_slow(self) -> None:
        """Jump to the previous trace with a slow step."""
        self._jump("slow", False)

    def action_next_finding(self) -> None:
        """Jump to the next trace with a finding."""
        self._jump("finding_count", True)

    def action_previous_finding(self) -> None:
        """Jump to the previous trace with a finding."""
        self._jump("finding_count", False)

    def action_toggle_mark(self) -> None:
        """Mark the trace under the cursor for comparing (unmark it when it is the marked one)."""
        trace_id = self.selected_trace_id
        if trace_id is None:
            return
        self.marked_trace = None if self.marked_trace == trace_id else trace_id
        self.refresh()
        self.post_message(self.MarkChanged(self.marked_trace))

    def action_select(self) -> None:
        """Open the trace under the cursor."""
        trace_id = self.selected_trace_id
        if trace_id is not None:
            self.post_message(self.TraceSelected(trace_id))

    def on_click(self, event: events.Click) -> None:
        """A click moves the cursor to the row; a double click opens it; a click on the header sorts."""
        index = self.line_at(event.y)
        if index is None:
            return
        if 0 <= index < self._sorted.height:
            self.move_cursor(index)
            if event.chain >= 2:
                self.action_select()

    # --- rendering ----------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Render screen line ``y``: the header, then the rows from the scroll offset."""
        width = self.scrollable_content_region.width
        if width <= 0:
            return Strip.blank(0)
        layout = column_layout(width, findings=self._has_findings)
        if y < HEADER_LINES:
            return self._render_header(layout, width)
        base = self.rich_style
        index = round(self.scroll_y) + y - HEADER_LINES
        if self._sorted.is_empty():
            if y != HEADER_LINES:
                return Strip.blank(width, base)
            text = "  no traces in the current view" if self.loaded else "  summarizing traces…"
            return Strip(
                [Segment(_fit(text, width), self.get_component_rich_style("trace-list--dim"))], width
            )
        values = self.row(index)
        if values is None:
            return Strip.blank(width, base)
        return self._render_row(values, index == self.cursor, layout, width)

    def _render_header(self, layout: ColumnLayout, width: int) -> Strip:
        style = self.get_component_rich_style("trace-list--header")
        arrow = "▼" if self.descending else "▲"
        sort_label = self.sort_column.label

        def head(label: str, size: int, *, right: bool = False) -> str:
            text = f"{label}{arrow}" if label == sort_label else label
            return _fit(text, size, right=right) + " " if size else ""

        trace_head = "trace"
        if sort_label == "tools" and not layout.tools:  # sorted by a column not shown at this width: say so
            by = f"by {sort_label}{arrow}"
            trace_head = f"trace · {by}" if cell_len(f"trace · {by}") <= layout.trace else by
        line = (
            " " * _GUTTER
            + head("start", layout.start)
            + head("span", layout.span, right=True)
            + head("steps", layout.steps, right=True)
            + head("fail", layout.failed, right=True)
            + head("slow", layout.slow, right=True)
            + head("findings", layout.findings)
            + head("slowest", layout.slowest)
            + head("tools", layout.tools)
            + head(trace_head, layout.trace)
        )
        return Strip([Segment(_fit(line.rstrip(), width), style)], width)

    def _render_row(self, row: Mapping[str, Any], is_cursor: bool, layout: ColumnLayout, width: int) -> Strip:
        base = self.rich_style
        cursor_style = self.get_component_rich_style("trace-list--cursor")
        line_style = cursor_style if is_cursor else base
        failed = int(row.get("failed") or 0)
        slow = int(row.get("slow") or 0)
        dim = self.get_component_rich_style("trace-list--dim")
        failed_style = self.get_component_rich_style("trace-list--failed")
        slow_style = self.get_component_rich_style("trace-list--slow")
        marked = self.marked_trace is not None and row.get("trace_id") == self.marked_trace
        if marked:
            line_style = line_style + self.get_component_rich_style("trace-list--marked", partial=True)
        finding_count = int(row.get("finding_count") or 0)
        severity = str(row.get("finding_severity"))
        severity = severity if severity in ("error", "warning") else "info"
        finding_style = self.get_component_rich_style(f"trace-list--finding-{severity}", partial=True)
        finding_style = (cursor_style if is_cursor else base) + finding_style
        if is_cursor:
            dim = failed_style = slow_style = cursor_style
        slowest_ms = row.get("slowest_ms")
        slowest = UNKNOWN  # no step of the trace has a known duration
        if isinstance(slowest_ms, (int, float)):
            tool = _known(row.get("slowest_tool"))
            command = _known(row.get("slowest_command"))
            slowest = f"{format_duration(float(slowest_ms))} {tool} {command}".rstrip()
        tools_value = row.get("tools")
        tools = ", ".join(_known(t) for t in tools_value[:20]) if isinstance(tools_value, Sequence) else ""
        span = row.get("span_ms")
        span_text = format_duration(float(span)) if isinstance(span, (int, float)) else UNKNOWN
        segments: list[Segment] = [
            Segment(CURSOR_GLYPH if is_cursor else MARK_GLYPH if marked else " ", line_style),
            Segment(FAILED_GLYPH, failed_style) if failed else Segment(" ", line_style),
            Segment(SLOW_GLYPH, slow_style) if slow else Segment(" ", line_style),
            Segment(FINDING_GLYPH, finding_style) if finding_count else Segment(" ", line_style),
            Segment(" ", line_style),
            Segment(_fit(_format_start(row.get("start"), layout.start), layout.start) + " ", line_style),
            Segment(_fit(span_text, layout.span, right=True) + " ", line_style),
            Segment(_fit(str(row.get("steps", "")), layout.steps, right=True) + " ", line_style),
            Segment(
                _fit(str(failed) if failed else "·", layout.failed, right=True) + " ",
                failed_style if failed else dim,
            ),
            Segment(
                _fit(str(slow) if slow else "·", layout.slow, right=True) + " ", slow_style if slow else dim
            ),
        ]
        if layout.findings:
            label = str(row.get("finding_label") or "") if finding_count else "·"
            style = finding_style if finding_count else dim
            segments.append(Segment(_fit(label, layout.findings) + " ", style))
        segments.append(Segment(_fit(slowest, layout.slowest) + " ", line_style))
        if layout.tools:
            segments.append(Segment(_fit(tools, layout.tools) + " ", line_style))
        if layout.trace:
            segments.append(Segment(fit_tail(str(row.get("trace_id", "")), layout.trace), line_style))
        return Strip(segments).crop_extend(0, width, line_style)

"""The trace waterfall: one row per step on the trace's time axis, with idle gaps, nesting, slow and failures.

``Waterfall`` is a ``RowsView`` (a line-API ``ScrollView``): it renders only the rows on screen, under a fixed
two-line time axis. Each step row shows a gutter (cursor, a failure/slow glyph, a critical-path dot), the
indented ``tool command`` label, and a bar placed and scaled on the visible time window in eighths of a cell,
followed by its duration (``humanize.format_duration``) and, for slow steps, the reason; a step involved in a
finding (``set_findings``) shows ⚑ in its gutter and the finding's name after its bar. Gap rows (time spent
outside any tool) are hatched.

The rows are ``auditview.core.timeline.display_rows`` (the layout every front end shares); the drawing is
done by pure functions (``bar_glyphs``, ``axis_ticks``, ``place_label``) that the tests call directly. The
cursor, paging and the keys that move it come from ``RowsView``; the cursor is a position among the steps in
display order (gap rows are skipped). Every field of a step is untrusted: it goes through ``printable()`` and
becomes plain ``Segment`` text, never markup. The widget owns no data source: it is handed a ``Timeline``
(attributes down) and posts ``StepSelected`` / ``StepHighlighted`` (messages up).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.cells import cell_len, get_character_cell_size, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from auditview.core.timeline import DisplayRow, Gap, Timeline, TimelineStep, display_rows
from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.sanitize import printable
from auditview.tui.finding_marks import FINDING_GLYPH, StepFinding, step_finding_names, worst_severity
from auditview.tui.widgets.rows import RowsView, cursor_bindings

__all__ = [
    "AxisTick",
    "BarGlyphs",
    "LabelPlacement",
    "Waterfall",
    "axis_ticks",
    "bar_glyphs",
    "draw_label",
    "exit_text",
    "format_offset",
    "label_cells",
    "label_width",
    "merge_cells",
    "place_label",
    "step_label",
]

# Left-aligned blocks of 1/8 .. 7/8 of a cell; index = eighths.
_LEFT_BLOCKS: Final = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")
_FULL: Final = "█"
_HATCH: Final = "░"
FAILED_GLYPH: Final = "✗"
SLOW_GLYPH: Final = "◷"
CRITICAL_GLYPH: Final = "●"
CURSOR_GLYPH: Final = "▶"
HEADER_LINES: Final = 2
_FIELD_CAP: Final = 200  # a field is cut to this many characters before anything measures it
GUTTER: Final = 4
MAX_INDENT_DEPTH: Final = 6
# "Nice" tick steps in milliseconds.
_TICK_STEPS: Final[tuple[float, ...]] = (
    *(m * 10**e for e in range(-2, 3) for m in (1, 2, 5)),
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
)  # fmt: skip


# --- pure layout ----------------------------------------------------------------------------------


def format_offset(ms: float, step_ms: float) -> str:
    """Return an axis label for the offset ``ms`` on an axis whose ticks are ``step_ms`` apart."""
    if ms <= 0:
        return "0"
    if ms < 1000:
        decimals = 0 if step_ms >= 1 else (1 if step_ms >= 0.1 else 2)
        return f"{ms:.{decimals}f}ms"
    if ms < 60_000:
        decimals = 0 if step_ms % 1000 == 0 else (1 if step_ms % 100 == 0 else 2)
        return f"{ms / 1000:.{decimals}f}s"
    if ms < 3_600_000 and step_ms < 1000:  # zoomed into a long trace: keep the sub-second digits
        minutes = int(ms // 60_000)
        decimals = 1 if step_ms >= 100 else 2
        return f"{minutes}m{(ms - minutes * 60_000) / 1000:0{3 + decimals}.{decimals}f}s"
    if ms < 3_600_000:
        minutes, secs = divmod(round(ms / 1000), 60)
        return f"{minutes}m" if secs == 0 else f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(round(ms / 60_000), 60)
    return f"{hours}h" if minutes == 0 else f"{hours}h{minutes:02d}m"


@dataclass(frozen=True)
class BarGlyphs:
    """A bar drawn from cell ``start`` on, one character per cell (the first reversed if ``lead_reversed``).

    A reversed left block paints the *right* part of its cell in the bar's colour, which is how a bar that
    starts inside a cell gets its eighth-of-a-cell precision. ``clipped_left`` / ``clipped_right`` say the bar
    continues outside the window; ``before`` / ``after`` say it lies wholly outside it (``text`` is an arrow).
    """

    start: int
    text: str
    lead_reversed: bool = False
    clipped_left: bool = False
    clipped_right: bool = False
    before: bool = False
    after: bool = False

    @property
    def end(self) -> int:
        """The cell just after the bar."""
        return self.start + len(self.text)


def bar_glyphs(start_ms: float, end_ms: float, view_start: float, view_end: float, width: int) -> BarGlyphs:
    """Lay out the bar of ``[start_ms, end_ms]`` on ``width`` cells showing ``[view_start, view_end]``.

    Positions are rounded to eighths of a cell; a bar shorter than an eighth still shows as one eighth, so no
    step is invisible. A bar wholly outside the window becomes an arrow at the edge it lies beyond.
    """
    if width <= 0:
        return BarGlyphs(0, "")
    span = max(view_end - view_start, 1e-9)
    if end_ms < view_start or (end_ms == view_start and start_ms < view_start):
        return BarGlyphs(0, "◂", before=True)
    if start_ms > view_end:
        return BarGlyphs(width - 1, "▸", after=True)
    total = width * 8
    scale = total / span
    s8 = max(0, min(total, round((start_ms - view_start) * scale)))
    e8 = max(0, min(total, round((end_ms - view_start) * scale)))
    if e8 <= s8:
        if s8 >= total:
            s8 = total - 1
        e8 = s8 + 1
    first, last = s8 // 8, (e8 - 1) // 8
    chars: list[str] = []
    lead_reversed = False
    for cell in range(first, last + 1):
        lo = max(s8, cell * 8) - cell * 8
        hi = min(e8, cell * 8 + 8) - cell * 8
        if lo == 0 and hi == 8:
            chars.append(_FULL)
        elif lo == 0:
            chars.append(_LEFT_BLOCKS[hi])
        elif hi == 8:
            chars.append(_LEFT_BLOCKS[lo])  # drawn reversed: the right (8 - lo) eighths show the bar
            lead_reversed = True
        else:
            chars.append(_LEFT_BLOCKS[max(1, hi - lo)])  # both ends inside one cell: keep the length
    return BarGlyphs(
        first,
        "".join(chars),
        lead_reversed=lead_reversed,
        clipped_left=start_ms < view_start,
        clipped_right=end_ms > view_end,
    )


@dataclass(frozen=True)
class AxisTick:
    """A tick of the time axis: its cell in the bar area and its label."""

    cell: int
    offset_ms: float
    label: str


def tick_step(view_span: float, width: int, min_spacing: int = 10) -> float:
    """Return the smallest "nice" step (ms) that keeps ticks at least ``min_spacing`` cells apart."""
    if width <= 0 or view_span <= 0:
        return float(_TICK_STEPS[-1])
    for step in _TICK_STEPS:
        if step * width / view_span >= min_spacing:
            return float(step)
    return float(_TICK_STEPS[-1])


def axis_ticks(view_start: float, view_end: float, width: int, min_spacing: int = 10) -> list[AxisTick]:
    """Return the ticks of ``[view_start, view_end]`` over ``width`` cells (offsets from the trace start)."""
    span = view_end - view_start
    if width <= 0 or span <= 0:
        return [AxisTick(0, view_start, format_offset(view_start, 1.0))] if width > 0 else []
    step = tick_step(span, width, min_spacing)
    ticks: list[AxisTick] = []
    index = math.ceil(view_start / step - 1e-9)
    while (offset := index * step) <= view_end + 1e-9:
        cell = min(width - 1, int((offset - view_start) * width / span))
        ticks.append(AxisTick(cell, offset, format_offset(offset, step)))
        index += 1
    return ticks


@dataclass(frozen=True)
class LabelPlacement:
    """Where a label goes in the bar area: from ``cell``, ``length`` cells; ``inside`` when over the bar."""

    cell: int
    length: int
    inside: bool = False


def place_label(bar_start: int, bar_end: int, label_len: int, width: int) -> LabelPlacement:
    """Place a label of ``label_len`` cells next to the bar ``[bar_start, bar_end)`` within ``width`` cells.

    After the bar (one space between) if it fits, else before it, else inside the bar (over it, from its
    start) when the bar is the larger room, else truncated to the larger of the two sides.
    """
    room_after = max(0, width - bar_end - 1)
    room_before = max(0, bar_start - 1)
    if label_len <= room_after:
        return LabelPlacement(bar_end + 1, label_len)
    if label_len <= room_before:
        return LabelPlacement(bar_start - 1 - label_len, label_len)
    bar_len = bar_end - bar_start
    if bar_len >= max(room_after, room_before) and bar_len >= min(label_len, 4):
        return LabelPlacement(bar_start, min(label_len, bar_len), inside=True)
    if room_after >= room_before:
        return LabelPlacement(bar_end + 1, room_after)
    return LabelPlacement(0, room_before)


def label_width(total_width: int) -> int:
    """Return the width of the step-label column for a widget ``total_width`` cells wide."""
    return max(12, min(40, int(total_width * 0.3)))


def _known(value: str | None) -> str:
    """A text field of a step, ``UNKNOWN`` when the record did not say (cut before anything measures it)."""
    return UNKNOWN if value is None else value[:_FIELD_CAP]


def step_label(step: TimelineStep) -> str:
    """Return the printable ``tool command`` label of a step (an unknown one is ``UNKNOWN``)."""
    return printable(f"{_known(step.tool)} {_known(step.command)}".strip())


def exit_text(exit_code: int | None) -> str:
    """``exit 3``, or ``exit -`` (``UNKNOWN``) when the exit code is unknown (never a made-up 0)."""
    return f"exit {UNKNOWN if exit_code is None else exit_code}"


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal cells (ending with ``…`` when cut) and pad it to ``width``."""
    if width <= 0:
        return ""
    text = text[: width * 2 + 8]  # never measure a megabyte
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


# --- the widget -----------------------------------------------------------------------------------


class Waterfall(RowsView):
    """A Jaeger-like waterfall of one trace: axis, one bar per step, idle gaps, zoom and pan."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "waterfall--axis",
        "waterfall--bar",
        "waterfall--bar-critical",
        "waterfall--bar-slow",
        "waterfall--bar-failed",
        "waterfall--gap",
        "waterfall--cursor",
        "waterfall--reason",
        "waterfall--failed",
        "waterfall--slow",
        "waterfall--critical",
        "waterfall--dim",
        "waterfall--finding-error",
        "waterfall--finding-warning",
        "waterfall--finding-info",
    }

    HELP_TITLE: ClassVar[str] = "Timeline"
    HELP_NOTES: ClassVar[tuple[str, ...]] = (
        "✗ failed · ◷ slow · ● critical path · ⚑ in a finding (named after the bar; all of them under the "
        "title) · ┄ idle (time between steps); └ hangs a step off its parent.",
    )
    HEADER_LINES: ClassVar[int] = HEADER_LINES
    BINDINGS: ClassVar[list[BindingType]] = [
        *cursor_bindings("step"),
        Binding("enter", "select", "Detail", tooltip="the step's record (detail)"),
        Binding("plus,equals_sign", "zoom_in", "Zoom +", tooltip="zoom in around the cursor step"),
        Binding("minus", "zoom_out", "Zoom −", tooltip="zoom out"),
        Binding("h,left", "pan_left", "Pan ←", show=False, tooltip="pan to earlier time"),
        Binding("l,right", "pan_right", "Pan →", show=False, tooltip="pan to later time"),
        Binding("0", "reset_zoom", "Whole trace", tooltip="the whole trace (no zoom)"),
        Binding("z", "zoom_step", "Zoom to step", show=False, tooltip="zoom to the cursor step"),
        Binding("s", "next_slow", "Next slow", tooltip="next slow step (◷)"),
        Binding("S", "previous_slow", "Prev slow", show=False, tooltip="previous slow step"),
        Binding("e", "next_failed", "Next failed", tooltip="next failed step (✗)"),
        Binding("E", "previous_failed", "Prev failed", show=False, tooltip="previous failed step"),
        Binding("n", "next_finding", "Next finding", show=False, tooltip="next step in a finding (⚑)"),
        Binding("N", "previous_finding", "Prev finding", show=False, tooltip="previous step in a finding"),
    ]

    @dataclass
    class StepSelected(Message):
        """Enter was pressed on a step: open the record stored at ``file_id``/``offset``/``length``."""

        request_id: str | None
        file_id: int
        offset: int
        length: int

    @dataclass
    class StepHighlighted(Message):
        """The cursor moved to ``step``."""

        step: TimelineStep

        def can_replace(self, message: Message) -> bool:
            """Only the latest cursor position matters."""
            return isinstance(message, Waterfall.StepHighlighted)

    def __init__(
        self,
        timeline: Timeline,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Show ``timeline`` as a whole, with the cursor on its first step."""
        super().__init__(name=name, id=id, classes=classes)
        self._timeline = timeline
        self._rows: list[DisplayRow] = []
        self._order: list[int] = []  # step indices in display order; the cursor is a position in it
        self._position: dict[int, int] = {}
        self._step_row: list[int] = []
        self._full_end = 1.0
        self.view_start = 0.0
        self.view_end = 1.0
        #: The findings each step is involved in, by its place ``(file_id, offset)``.
        self._findings: dict[tuple[int, int], tuple[StepFinding, ...]] = {}
        self._set_timeline(timeline, keep_view=False)

    # --- data -----------------------------------------------------------------------------------------

    @property
    def timeline(self) -> Timeline:
        """The trace shown."""
        return self._timeline

    @property
    def rows(self) -> list[DisplayRow]:
        """The rows below the axis, in display order."""
        return list(self._rows)

    @property
    def row_count(self) -> int:
        """How many steps the cursor can be on (gap rows are not among them)."""
        return len(self._order)

    @property
    def cursor_step(self) -> TimelineStep | None:
        """The step under the cursor (``None`` for a trace without steps)."""
        if not 0 <= self.cursor < len(self._order):
            return None
        return self._timeline.steps[self._order[self.cursor]]

    @property
    def step_order(self) -> list[TimelineStep]:
        """The steps in display order (tree order: children under their parent)."""
        return [self._timeline.steps[i] for i in self._order]

    @property
    def full_span(self) -> float:
        """The length (ms) of the whole trace's axis."""
        return self._full_end

    @property
    def zoom(self) -> float:
        """How many times the window is narrower than the whole trace."""
        return self._full_end / max(self.view_end - self.view_start, 1e-9)

    def set_findings(self, findings: dict[tuple[int, int], tuple[StepFinding, ...]]) -> None:
        """Mark the steps involved in findings (``finding_marks.step_findings``), by place."""
        self._findings = dict(findings)
        self.refresh()

    def findings_of(self, step: TimelineStep) -> tuple[StepFinding, ...]:
        """The findings ``step`` is involved in."""
        return self._findings.get((step.file_id, step.offset), ())

    def update_timeline(self, timeline: Timeline) -> None:
        """Show a newer version of the same trace: keep the cursor's step and, if zoomed, the window."""
        self._set_timeline(timeline, keep_view=True)
        self.refresh()
        self.scroll_to_cursor()
        self.announce_cursor()

    def _set_timeline(self, timeline: Timeline, *, keep_view: bool) -> None:
        # the cursor's step by its place in the logs: request ids may be missing or repeat
        step = self.cursor_step if self._rows else None
        previous = (step.file_id, step.offset) if step is not None else None
        was_whole = self.view_start <= 0 and self.view_end >= self._full_end
        self._timeline = timeline
        self._rows = display_rows(timeline.steps, timeline.gaps)
        self._order = [row.step for row in self._rows if row.kind == "step"]
        self._position = {step: position for position, step in enumerate(self._order)}
        self._step_row = [row_index for row_index, row in enumerate(self._rows) if row.kind == "step"]
        ends = [step.end_ms for step in timeline.steps]
        self._full_end = max([float(timeline.span_ms), *ends, 1e-3])
        if not keep_view or was_whole:
            self.view_start, self.view_end = 0.0, self._full_end
        else:
            self._clamp_view()
        self.cursor = 0
        if previous is not None:
            for position, i in enumerate(self._order):
                if (timeline.steps[i].file_id, timeline.steps[i].offset) == previous:
                    self.cursor = position
                    break
        self.virtual_size = Size(0, len(self._rows) + HEADER_LINES)

    # --- view window ----------------------------------------------------------------------------------

    def set_view(self, start: float, end: float) -> None:
        """Show the window ``[start, end]`` (ms from the trace start), clamped to the trace."""
        self.view_start, self.view_end = start, end
        self._clamp_view()
        self.refresh()

    def _min_span(self) -> float:
        return min(self._full_end, max(self._full_end / 4096, 0.01))

    def _clamp_view(self) -> None:
        span = min(max(self.view_end - self.view_start, self._min_span()), self._full_end)
        start = min(max(self.view_start, 0.0), self._full_end - span)
        self.view_start, self.view_end = start, start + span

    def _zoom_around(self, centre: float, factor: float) -> None:
        span = (self.view_end - self.view_start) / factor
        self.set_view(centre - span / 2, centre + span / 2)

    def _cursor_centre(self) -> float:
        step = self.cursor_step
        if step is None:
            return (self.view_start + self.view_end) / 2
        centre = (step.start_ms + step.end_ms) / 2
        return min(max(centre, self.view_start), self.view_end)

    def action_zoom_in(self) -> None:
        """Halve the window, around the cursor step."""
        self._zoom_around(self._cursor_centre(), 2.0)

    def action_zoom_out(self) -> None:
        """Double the window, around its centre (never wider than the trace)."""
        self._zoom_around((self.view_start + self.view_end) / 2, 0.5)

    def action_reset_zoom(self) -> None:
        """Show the whole trace."""
        self.set_view(0.0, self._full_end)

    def action_pan_left(self) -> None:
        """Move the window a quarter of its width towards the trace start."""
        shift = (self.view_end - self.view_start) / 4
        self.set_view(self.view_start - shift, self.view_end - shift)

    def action_pan_right(self) -> None:
        """Move the window a quarter of its width towards the trace end."""
        shift = (self.view_end - self.view_start) / 4
        self.set_view(self.view_start + shift, self.view_end + shift)

    def action_zoom_step(self) -> None:
        """Fit the window to the cursor step (with a small margin)."""
        step = self.cursor_step
        if step is None:
            return
        margin = max((step.end_ms - step.start_ms) * 0.05, self._min_span() / 2)
        self.set_view(step.start_ms - margin, step.end_ms + margin)

    def _bring_into_view(self, step: TimelineStep) -> None:
        """Pan (keeping the zoom) so that the start of ``step`` is in the window."""
        if self.view_start <= step.start_ms <= self.view_end or (
            step.start_ms < self.view_start and step.end_ms > self.view_start
        ):
            return
        span = self.view_end - self.view_start
        self.set_view(step.start_ms - span / 4, step.start_ms + span * 3 / 4)

    # --- cursor ---------------------------------------------------------------------------------------

    def move_cursor(self, position: int, *, scroll: bool = True) -> None:
        """Put the cursor on the ``position``-th step in display order (clamped), show it (panning the window
        to its start when it lies outside) and announce it."""
        super().move_cursor(position, scroll=scroll)
        step = self.cursor_step
        if step is not None:
            self._bring_into_view(step)

    def announce_cursor(self) -> None:
        """Post ``StepHighlighted`` for the cursor step."""
        step = self.cursor_step
        if step is not None:
            self.post_message(self.StepHighlighted(step))

    def cursor_lines(self) -> tuple[int, int] | None:
        """The cursor step's row among the rows (gap rows included)."""
        if not self._step_row:
            return None
        return self._step_row[self.cursor], 1

    def page_target(self, pages: int) -> int:
        """The step whose row is nearest ``pages`` screenfuls of rows from the cursor's."""
        if not self._step_row:
            return 0
        target = self._step_row[self.cursor] + pages * self.body_height()
        return min(range(len(self._step_row)), key=lambda i: abs(self._step_row[i] - target))

    def _jump(self, hit: Callable[[TimelineStep], bool], forward: bool, what: str) -> None:
        """Move to the next (previous) step that is a ``hit``; say so when there is none."""
        steps = self._timeline.steps
        targets = [position for position, i in enumerate(self._order) if hit(steps[i])]
        if not self.jump(targets, forward):
            self.notify(f"No {what} {'after' if forward else 'before'} this one.", timeout=2)

    def action_next_finding(self) -> None:
        """Jump to the next step involved in a finding."""
        self._jump(self._in_finding, True, "step in a finding")

    def action_previous_finding(self) -> None:
        """Jump to the previous step involved in a finding."""
        self._jump(self._in_finding, False, "step in a finding")

    def action_next_slow(self) -> None:
        """Jump to the next slow step."""
        self._jump(_is_slow, True, "slow step")

    def action_previous_slow(self) -> None:
        """Jump to the previous slow step."""
        self._jump(_is_slow, False, "slow step")

    def action_next_failed(self) -> None:
        """Jump to the next failed step."""
        self._jump(_is_failed, True, "failed step")

    def action_previous_failed(self) -> None:
        """Jump to the previous failed step."""
        self._jump(_is_failed, False, "failed step")

    def _in_finding(self, step: TimelineStep) -> bool:
        return bool(self.findings_of(step))

    def action_select(self) -> None:
        """Ask for the detail of the cursor step."""
        step = self.cursor_step
        if step is not None:
            self.post_message(self.StepSelected(step.request_id, step.file_id, step.offset, step.length))

    def on_click(self, event: events.Click) -> None:
        """A click on a step row moves the cursor there; a double click opens it."""
        row_index = self.line_at(event.y)
        if row_index is None or not 0 <= row_index < len(self._rows):
            return
        row = self._rows[row_index]
        if row.kind == "step":
            self.move_cursor(self._position[row.step])
            if event.chain >= 2:
                self.action_select()

    # --- rendering ------------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name)

    def render_line(self, y: int) -> Strip:
        """Render screen line ``y``: the axis on the first two lines, then rows from the scroll offset."""
        width = self.scrollable_content_region.width
        base = self.rich_style
        if width <= 0:
            return Strip.blank(0)
        if y < HEADER_LINES:
            return self._render_axis(y, width)
        row_index = round(self.scroll_y) + y - HEADER_LINES
        if not self._rows:
            text = " (no steps in this trace)" if y == HEADER_LINES else ""
            return Strip([Segment(fit(text, width), base + self._style("waterfall--dim"))], width)
        if row_index >= len(self._rows):
            return Strip.blank(width, base)
        row = self._rows[row_index]
        if row.kind == "gap" and row.gap is not None:
            return self._render_gap(row.gap, width)
        return self._render_step(row.step, width)

    def _layout(self, width: int) -> tuple[int, int]:
        labels = label_width(width)
        bar_width = max(0, width - GUTTER - labels - 1)
        return labels, bar_width

    def _render_axis(self, y: int, width: int) -> Strip:
        labels, bar_width = self._layout(width)
        axis = self._style("waterfall--axis")
        ticks = axis_ticks(self.view_start, self.view_end, bar_width)
        cells = [" "] * bar_width
        if y == 0:
            left = fit(" step", GUTTER + labels) + " "
            next_free = 0
            for tick in ticks:
                start = tick.cell if tick.cell + len(tick.label) <= bar_width else bar_width - len(tick.label)
                if start < next_free or start < 0:
                    continue
                cells[start : start + len(tick.label)] = list(tick.label)
                next_free = start + len(tick.label) + 1
        else:
            if self.zoom > 1.0001:
                window = f" {format_duration(self.view_start)} … {format_duration(self.view_end)}"
                left = fit(f" zoom {self.zoom:.3g}×{window}", GUTTER + labels) + "┼"
            else:
                left = fit(f" whole trace, {format_duration(self._full_end)}", GUTTER + labels) + "┼"
            cells = ["─"] * bar_width
            for tick in ticks:
                cells[tick.cell] = "┬"
        return Strip([Segment(left + "".join(cells), axis)], width).crop_extend(0, width, axis)

    def _gutter_and_label(self, step: TimelineStep, is_cursor: bool, labels: int) -> list[Segment]:
        base = self.rich_style
        cursor_style = self._style("waterfall--cursor") if is_cursor else base
        segments = [Segment(CURSOR_GLYPH if is_cursor else " ", cursor_style)]
        if step.failed:
            segments.append(Segment(FAILED_GLYPH, self._style("waterfall--failed")))
        elif step.slow_reason:
            segments.append(Segment(SLOW_GLYPH, self._style("waterfall--slow")))
        else:
            segments.append(Segment(" ", base))
        if step.on_critical_path:
            segments.append(Segment(CRITICAL_GLYPH, self._style("waterfall--critical")))
        else:
            segments.append(Segment(" ", base))
        findings = self.findings_of(step)
        if findings:
            segments.append(Segment(FINDING_GLYPH, self._finding_style(findings)))
        else:
            segments.append(Segment(" ", base))
        depth = max(0, int(step.depth))
        # A child hangs off its parent with "└ " (the nesting reads without colour and in any SVG renderer).
        indent = "  " * (min(depth, MAX_INDENT_DEPTH) - 1) + "└ " if depth else ""
        if depth > MAX_INDENT_DEPTH:
            indent = indent[:-2] + "» "
        label_style = cursor_style
        if step.failed and not is_cursor:
            label_style = self._style("waterfall--failed")
        segments.append(Segment(fit(indent + step_label(step), labels), label_style))
        segments.append(Segment("│", self._style("waterfall--dim")))
        return segments

    def _finding_style(self, findings: tuple[StepFinding, ...]) -> Style:
        severity = worst_severity(finding.severity for finding in findings)
        severity = severity if severity in ("error", "warning") else "info"
        return self._style(f"waterfall--finding-{severity}")

    def _bar_style(self, step: TimelineStep) -> Style:
        if step.failed:
            return self._style("waterfall--bar-failed")
        if step.slow_reason:
            return self._style("waterfall--bar-slow")
        if step.on_critical_path:
            return self._style("waterfall--bar-critical")
        return self._style("waterfall--bar")

    def _render_step(self, index: int, width: int) -> Strip:
        step = self._timeline.steps[index]
        labels, bar_width = self._layout(width)
        is_cursor = 0 <= self.cursor < len(self._order) and self._order[self.cursor] == index
        segments = self._gutter_and_label(step, is_cursor, labels)
        base = self.rich_style
        cells: list[tuple[str, Style]] = [(" ", base)] * bar_width
        bar_style = self._bar_style(step)
        glyphs = bar_glyphs(step.start_ms, step.end_ms, self.view_start, self.view_end, bar_width)
        for i, char in enumerate(glyphs.text):
            style = bar_style + Style(reverse=True) if i == 0 and glyphs.lead_reversed else bar_style
            if 0 <= glyphs.start + i < bar_width:
                cells[glyphs.start + i] = (char, style)
        pieces: list[tuple[str, Style]] = [(format_duration(step.duration_ms), self._style("waterfall--dim"))]
        if step.failed:
            pieces.append((f" {FAILED_GLYPH} {exit_text(step.exit_code)}", self._style("waterfall--failed")))
        if step.slow_reason:
            reason = printable(step.slow_reason[:_FIELD_CAP])
            pieces.append((f" {SLOW_GLYPH} {reason}", self._style("waterfall--reason")))
        findings = self.findings_of(step)
        if findings:
            names = step_finding_names(findings)
            pieces.append((f" {FINDING_GLYPH} {names}", self._finding_style(findings)))
        draw_label(cells, glyphs, pieces, bar_style, bar_width)
        segments.extend(merge_cells(cells))
        return Strip(segments, width).crop_extend(0, width, base)

    def _render_gap(self, gap: Gap, width: int) -> Strip:
        labels, bar_width = self._layout(width)
        base = self.rich_style
        dim = self._style("waterfall--dim")
        gap_style = self._style("waterfall--gap")
        segments = [Segment(" " * GUTTER, base), Segment(fit("┄ idle", labels), gap_style), Segment("│", dim)]
        cells: list[tuple[str, Style]] = [(" ", base)] * bar_width
        glyphs = bar_glyphs(gap.start_ms, gap.end_ms, self.view_start, self.view_end, bar_width)
        text = glyphs.text if glyphs.before or glyphs.after else _HATCH * len(glyphs.text)
        for i, char in enumerate(text):
            if 0 <= glyphs.start + i < bar_width:
                cells[glyphs.start + i] = (char, gap_style)
        hatched = BarGlyphs(glyphs.start, text, before=glyphs.before, after=glyphs.after)
        draw_label(
            cells, hatched, [(format_duration(gap.duration_ms) + " idle", gap_style)], gap_style, bar_width
        )
        segments.extend(merge_cells(cells))
        return Strip(segments, width).crop_extend(0, width, base)


def _is_slow(step: TimelineStep) -> bool:
    return bool(step.slow_reason)


def _is_failed(step: TimelineStep) -> bool:
    return bool(step.failed)


def draw_label(
    cells: list[tuple[str, Style]],
    glyphs: BarGlyphs,
    pieces: list[tuple[str, Style]],
    bar_style: Style,
    bar_width: int,
) -> None:
    """Write the styled ``pieces`` into the bar area ``cells`` next to (or over) the bar ``glyphs``, where
    ``place_label`` puts them (cut with ``…`` when there is not room for all)."""
    chars = label_cells(pieces)
    placement = place_label(glyphs.start, glyphs.end, len(chars), bar_width)
    if placement.length <= 0:
        return
    if placement.length < len(chars):
        chars = [*chars[: placement.length - 1], ("…", chars[placement.length - 1][1])]
    for i, (char, style) in enumerate(chars):
        cell = placement.cell + i
        if 0 <= cell < bar_width:
            cells[cell] = (char, bar_style + Style(reverse=True) if placement.inside else style)


def label_cells(pieces: Iterable[tuple[str, Style]]) -> list[tuple[str, Style]]:
    """Split styled text into one entry per terminal cell (a wide character is followed by an empty entry)."""
    cells: list[tuple[str, Style]] = []
    for piece, style in pieces:
        for char in piece:
            size = get_character_cell_size(char)
            if size == 1:
                cells.append((char, style))
            elif size == 2:
                cells.extend(((char, style), ("", style)))
    return cells


def merge_cells(cells: list[tuple[str, Style]]) -> list[Segment]:
    """Join runs of cells with the same style into segments."""
    segments: list[Segment] = []
    run: list[str] = []
    run_style: Style | None = None
    for char, style in cells:
        if style is not run_style and style != run_style:
            if run:
                segments.append(Segment("".join(run), run_style))
            run, run_style = [], style
        run.append(char)
    if run:
        segments.append(Segment("".join(run), run_style))
    return segments

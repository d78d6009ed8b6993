"""Two runs on one time axis: the aligned steps of a ``RunDiff``, each pair as a "then" and a "now" line.

``CompareWaterfall`` is a ``RowsView`` like ``Waterfall`` (whose pure layout functions it uses), one row per
aligned pair: a two-line time axis of offsets from each run's own start, shared by both runs, then two lines
per aligned pair of ``auditview.core.diff.diff_runs``: *then* (the step of run A) and *now* (the step of run
B), each with its bar on the shared axis, its duration and exit code; the now line adds the duration change
(``Δ+1.2s ×2.00``, the texts of ``auditview.core.render.diff_summary``) and an exit code that changed
(``exit 0→1``). The gutter marks each pair as the CLI's ``auditview diff`` does — ``+`` only now (inserted),
``-`` only then (deleted), ``~`` paired with a changed exit code, params, version, operator or host (but not
one changed alike in every pair: ``row_changed``), ``=`` paired and alike — and the label takes that mark's
colour; a step notably slower (×1.5 or more) or faster shows its Δ in the slow or the ok colour.

Every field is untrusted: it goes through ``printable()`` into plain ``Segment`` text, never markup. The
widget is handed a ``RunDiff`` (attributes down) and posts ``PairHighlighted`` (messages up).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from auditview.core.diff import DiffPair, DiffStep, RunDiff
from auditview.core.render.diff_summary import ratio_text, row_changed, shared_field_changes, signed_duration
from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.plain import Palette
from auditview.text.sanitize import printable
from auditview.tui.widgets.rows import RowsView, cursor_bindings
from auditview.tui.widgets.waterfall import (
    CURSOR_GLYPH,
    FAILED_GLYPH,
    MAX_INDENT_DEPTH,
    axis_ticks,
    bar_glyphs,
    draw_label,
    fit,
    label_cells,
    label_width,
    merge_cells,
)

__all__ = [
    "HEADER_LINES",
    "LINES_PER_PAIR",
    "MARK_GLYPHS",
    "NOTABLE_RATIO",
    "CompareWaterfall",
    "PairMark",
    "axis_end",
    "delta_text",
    "is_difference",
    "pair_label",
    "pair_mark",
    "speed_change",
]

HEADER_LINES: Final = 2
#: Each pair takes two lines: then, now.
LINES_PER_PAIR: Final = 2
#: Gutter: cursor, mark, a space.
GUTTER: Final = 3
#: The then / now column.
SIDE: Final = 5
_FIELD_CAP: Final = 200
#: A duration at least this many times the one before (or at most its inverse) is notably slower (faster).
NOTABLE_RATIO: Final = 1.5

PairMark = Literal["insert", "delete", "changed", "same"]
#: The gutter glyph of each kind of pair (as ``auditview diff`` marks its rows).
MARK_GLYPHS: Final[dict[PairMark, str]] = {"insert": "+", "delete": "-", "changed": "~", "same": "="}
#: The app draws Unicode glyphs (``×``, ``→``) whatever the colours.
_GLYPHS: Final = Palette(colour=False, unicode=True)


# --- pure helpers ---------------------------------------------------------------------------------


def pair_mark(pair: DiffPair, shared: Container[str] = ()) -> PairMark:
    """How a pair differs: only now (``insert``), only then (``delete``), ``changed`` or the ``same``.

    ``changed`` as ``auditview diff`` marks a row ``~`` (``row_changed``): the fields in ``shared`` (those
    changed alike in every pair, ``shared_field_changes``; none by default) do not count.
    """
    if pair.op == "insert":
        return "insert"
    if pair.op == "delete":
        return "delete"
    in_every_pair = {name: None for name in pair.fields if name in shared}
    return "changed" if row_changed(pair, in_every_pair) else "same"


def speed_change(pair: DiffPair) -> Literal["slower", "faster"] | None:
    """``slower`` / ``faster`` when a paired step's duration changed by ``NOTABLE_RATIO`` or more."""
    if pair.ratio is None:
        return None
    if pair.ratio >= NOTABLE_RATIO:
        return "slower"
    if pair.ratio <= 1 / NOTABLE_RATIO:
        return "faster"
    return None


def is_difference(pair: DiffPair, shared: Container[str] = ()) -> bool:
    """Whether ``n`` stops on the pair: inserted, deleted, changed (``pair_mark`` with ``shared``), or
    notably slower or faster."""
    return pair_mark(pair, shared) != "same" or speed_change(pair) is not None


def delta_text(pair: DiffPair) -> str:
    """``Δ+1.2s ×2.00`` (the ratio when known), ``Δ-300ms``; empty when the change is unknown. The signed
    duration and the ratio are the CLI diff's (``signed_duration``, ``ratio_text``)."""
    if pair.delta_ms is None:
        return ""
    ratio = ratio_text(pair.ratio, _GLYPHS)
    return f"Δ{signed_duration(pair.delta_ms)}" + (f" {ratio}" if ratio else "")


def _known(value: str | None) -> str:
    return UNKNOWN if value is None else value[:_FIELD_CAP]


def pair_label(pair: DiffPair) -> str:
    """The printable ``tool command`` of a pair (an unknown one is ``UNKNOWN``)."""
    return printable(f"{_known(pair.tool)} {_known(pair.command)}".strip())


def _exit(code: int | None) -> str:
    return UNKNOWN if code is None else str(code)


def axis_end(diff: RunDiff) -> float:
    """The end (ms) of the shared axis: the longer run, or the latest step end of either."""
    ends = [step.end_ms for side in (diff.a, diff.b) for step in side.steps]
    return max([float(diff.a.span_ms), float(diff.b.span_ms), *ends, 1e-3])


# --- the widget -----------------------------------------------------------------------------------


class CompareWaterfall(RowsView):
    """Both runs' steps, aligned pair by pair, on one time axis."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "compare--axis",
        "compare--bar-then",
        "compare--bar-now",
        "compare--bar-failed",
        "compare--cursor",
        "compare--insert",
        "compare--delete",
        "compare--changed",
        "compare--same",
        "compare--slower",
        "compare--faster",
        "compare--failed",
        "compare--dim",
    }

    HELP_TITLE: ClassVar[str] = "Compare"
    HELP_NOTES: ClassVar[tuple[str, ...]] = (
        "Each step shows two lines on one time axis (offsets from each run's start): then (the earlier "
        "run) and now. + only now · - only then · ~ changed (exit code, params, version, operator or host) · "
        "= alike; Δ is now − then, × now / then.",
    )
    HEADER_LINES: ClassVar[int] = HEADER_LINES
    LINES_PER_ROW: ClassVar[int] = LINES_PER_PAIR
    BINDINGS: ClassVar[list[BindingType]] = [
        *cursor_bindings("step"),
        Binding(
            "n",
            "next_difference",
            "Next difference",
            tooltip="next step added, removed, changed, or notably slower or faster",
        ),
        Binding("N", "previous_difference", "Prev difference", show=False, tooltip="previous difference"),
    ]

    @dataclass
    class PairHighlighted(Message):
        """The cursor moved to ``pair`` (its place ``index`` in ``RunDiff.pairs``)."""

        index: int
        pair: DiffPair

        def can_replace(self, message: Message) -> bool:
            """Only the latest cursor position matters."""
            return isinstance(message, CompareWaterfall.PairHighlighted)

    def __init__(
        self,
        diff: RunDiff,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Show ``diff``, the cursor on its first pair."""
        super().__init__(name=name, id=id, classes=classes)
        self.diff = diff
        #: The fields changed alike in every pair: said once by the screen, no pair's change (as in the CLI).
        self.shared = frozenset(shared_field_changes(diff))
        self._end = axis_end(diff)
        self.virtual_size = Size(0, len(diff.pairs) * LINES_PER_PAIR + HEADER_LINES)

    @property
    def row_count(self) -> int:
        """How many aligned pairs there are (the rows the cursor can be on)."""
        return len(self.diff.pairs)

    @property
    def cursor_pair(self) -> DiffPair | None:
        """The pair under the cursor (``None`` when neither run has a step)."""
        pairs = self.diff.pairs
        return pairs[self.cursor] if 0 <= self.cursor < len(pairs) else None

    # --- cursor ---------------------------------------------------------------------------------------

    def announce_cursor(self) -> None:
        """Post ``PairHighlighted`` for the cursor pair."""
        pair = self.cursor_pair
        if pair is not None:
            self.post_message(self.PairHighlighted(self.cursor, pair))

    def _jump(self, forward: bool) -> None:
        """Move to the next (previous) pair that differs; say so when there is none."""
        targets = [
            position for position, pair in enumerate(self.diff.pairs) if is_difference(pair, self.shared)
        ]
        if not self.jump(targets, forward):
            self.notify(f"No difference {'after' if forward else 'before'} this step.", timeout=2)

    def action_next_difference(self) -> None:
        """Jump to the next pair that differs."""
        self._jump(True)

    def action_previous_difference(self) -> None:
        """Jump to the previous pair that differs."""
        self._jump(False)

    def on_click(self, event: events.Click) -> None:
        """A click on a pair's lines moves the cursor there."""
        line = self.line_at(event.y)
        if line is None:
            return
        index = line // LINES_PER_PAIR
        if 0 <= index < len(self.diff.pairs):
            self.move_cursor(index)

    # --- rendering ------------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name)

    def _layout(self, width: int) -> tuple[int, int]:
        labels = label_width(width)
        bar_width = max(0, width - GUTTER - labels - SIDE - 1)
        return labels, bar_width

    def render_line(self, y: int) -> Strip:
        """Render screen line ``y``: the axis on the first two lines, then two lines per pair."""
        width = self.scrollable_content_region.width
        base = self.rich_style
        if width <= 0:
            return Strip.blank(0)
        if y < HEADER_LINES:
            return self._render_axis(y, width)
        line = round(self.scroll_y) + y - HEADER_LINES
        if not self.diff.pairs:
            text = " (neither run has a step)" if line == 0 else ""
            return Strip([Segment(fit(text, width), base + self._style("compare--dim"))], width)
        index, side = divmod(line, LINES_PER_PAIR)
        if index >= len(self.diff.pairs):
            return Strip.blank(width, base)
        return self._render_pair_line(self.diff.pairs[index], index == self.cursor, side == 1, width)

    def _render_axis(self, y: int, width: int) -> Strip:
        labels, bar_width = self._layout(width)
        axis = self._style("compare--axis")
        left_width = GUTTER + labels + SIDE
        ticks = axis_ticks(0.0, self._end, bar_width)
        if y == 0:
            left = fit(" step", left_width) + " "
            cells = [" "] * bar_width
            next_free = 0
            for tick in ticks:
                start = tick.cell if tick.cell + len(tick.label) <= bar_width else bar_width - len(tick.label)
                if start < next_free or start < 0:
                    continue
                cells[start : start + len(tick.label)] = list(tick.label)
                next_free = start + len(tick.label) + 1
        else:
            spans = (
                f"then {format_duration(self.diff.a.span_ms)} · now {format_duration(self.diff.b.span_ms)}"
            )
            left = fit(f" {spans}", left_width) + "┼"
            cells = ["─"] * bar_width
            for tick in ticks:
                cells[tick.cell] = "┬"
        return Strip([Segment(left + "".join(cells), axis)], width).crop_extend(0, width, axis)

    def _mark_style(self, mark: PairMark) -> Style:
        return self._style(f"compare--{mark}")

    def _render_pair_line(self, pair: DiffPair, is_cursor: bool, now: bool, width: int) -> Strip:
        labels, bar_width = self._layout(width)
        base = self.rich_style
        dim = self._style("compare--dim")
        cursor_style = self._style("compare--cursor") if is_cursor else base
        mark = pair_mark(pair, self.shared)
        mark_style = self._mark_style(mark)
        step = pair.b if now else pair.a
        segments = [Segment(CURSOR_GLYPH if is_cursor else " ", cursor_style)]
        if now:
            segments += [Segment(" ", cursor_style), Segment(" ", cursor_style)]
            segments.append(Segment(fit("", labels), cursor_style))
        else:
            segments += [Segment(MARK_GLYPHS[mark], mark_style), Segment(" ", cursor_style)]
            shown = pair.b if pair.b is not None else pair.a
            depth = max(0, int(shown.depth)) if shown is not None else 0
            indent = "  " * (min(depth, MAX_INDENT_DEPTH) - 1) + "└ " if depth else ""
            if depth > MAX_INDENT_DEPTH:
                indent = indent[:-2] + "» "
            label_style = cursor_style if is_cursor or mark == "same" else mark_style
            segments.append(Segment(fit(indent + pair_label(pair), labels), label_style))
        side_style = cursor_style if is_cursor else dim
        segments.append(Segment(fit("now" if now else "then", SIDE), side_style))
        segments.append(Segment("│", dim))
        cells: list[tuple[str, Style]] = [(" ", base)] * bar_width
        if step is None:
            missing = "· not in now" if now else "· not in then"
            for i, (char, style) in enumerate(label_cells([(missing, dim)])):
                if i < bar_width:
                    cells[i] = (char, style)
        else:
            self._draw_step(cells, step, pair, now, bar_width)
        segments.extend(merge_cells(cells))
        return Strip(segments, width).crop_extend(0, width, base)

    def _draw_step(
        self, cells: list[tuple[str, Style]], step: DiffStep, pair: DiffPair, now: bool, bar_width: int
    ) -> None:
        if step.failed:
            bar_style = self._style("compare--bar-failed")
        else:
            bar_style = self._style("compare--bar-now" if now else "compare--bar-then")
        glyphs = bar_glyphs(step.start_ms, step.end_ms, 0.0, self._end, bar_width)
        for i, char in enumerate(glyphs.text):
            style = bar_style + Style(reverse=True) if i == 0 and glyphs.lead_reversed else bar_style
            if 0 <= glyphs.start + i < bar_width:
                cells[glyphs.start + i] = (char, style)
        failed = self._style("compare--failed")
        pieces: list[tuple[str, Style]] = [(format_duration(step.duration_ms), self._style("compare--dim"))]
        if now and pair.exit_changed and pair.a is not None:
            exit_style = failed if step.failed else self._style("compare--faster")
            prefix = f" {FAILED_GLYPH}" if step.failed else ""
            pieces.append((f"{prefix} exit {_exit(pair.a.exit_code)}→{_exit(step.exit_code)}", exit_style))
        elif step.failed:
            pieces.append((f" {FAILED_GLYPH} exit {_exit(step.exit_code)}", failed))
        if now and pair.op == "match":
            delta = delta_text(pair)
            speed = speed_change(pair)
            if delta:
                style = self._style(f"compare--{speed}") if speed else self._style("compare--dim")
                pieces.append((f" {delta}", style))
        draw_label(cells, glyphs, pieces, bar_style, bar_width)

"""A trace as a fixed-width text waterfall, shared by the CLI (``auditview trace``) and the report.

Owns ``render_waterfall``; its rows are laid out by ``auditview.core.timeline.display_rows``, the row layout
of every front end (steps in tree order, each idle gap just before the step that ends it). Every string from a
record passes through ``sanitize.printable`` and is cut to its column, so nothing from a record can emit a
terminal control sequence; colour is opt-in through a ``Palette``. Must not import a UI library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auditview.core.timeline import display_rows
from auditview.text.humanize import format_duration
from auditview.text.plain import Palette, display_width, format_local_time, pad, truncate_width
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    from auditview.core.timeline import Gap, Timeline, TimelineStep

__all__ = ["render_waterfall"]

_OFFSET_W: Final = 8
_DURATION_W: Final = 8
_MARKS_W: Final = 3
_MIN_BAR: Final = 10


@dataclass(frozen=True, slots=True)
class _Row:
    """One line below the axis: a step or a gap, its texts, its bar and its style."""

    is_gap: bool
    marks: str
    offset: str
    duration: str
    label: str
    bar_start: float
    bar_end: float
    style: str | None
    note: str


def _or_unknown(value: str | None) -> str:
    """A field's text, or ``?`` when the record does not say."""
    return "?" if value is None else value


def _step_row(step: TimelineStep, cross: str) -> _Row:
    marks = (
        ("*" if step.on_critical_path else " ")
        + (cross if step.failed else " ")
        + ("!" if step.slow_reason else " ")
    )
    label = "  " * max(int(step.depth), 0) + printable(
        f"{_or_unknown(step.tool)} {_or_unknown(step.command)}"
    )
    notes = []
    if step.failed:
        notes.append(f"exit {step.exit_code}")
    elif step.exit_code is None:
        notes.append("exit ?")
    if step.slow_reason:
        notes.append(f"slow: {printable(step.slow_reason)}")
    return _Row(
        is_gap=False,
        marks=marks,
        offset=format_duration(step.start_ms),
        duration=format_duration(step.duration_ms),
        label=label,
        bar_start=float(step.start_ms),
        bar_end=float(step.end_ms),
        style="red" if step.failed else ("yellow" if step.slow_reason else None),
        note="; ".join(notes),
    )


def _gap_row(gap: Gap, label: str) -> _Row:
    return _Row(
        is_gap=True,
        marks="   ",
        offset=format_duration(gap.start_ms),
        duration=format_duration(gap.duration_ms),
        label=label,
        bar_start=float(gap.start_ms),
        bar_end=float(gap.end_ms),
        style="dim",
        note="",
    )


def render_waterfall(timeline: Timeline, *, width: int, palette: Palette) -> list[str]:
    """Render a trace as a text waterfall: one row per step and per gap, bars on the trace's time axis.

    Columns: marks (``*`` critical path, ``✗`` failed, ``!`` slow), offset from the trace start, duration,
    the step (indented by nesting depth), its bar scaled to ``width``, and a note (exit, slow reason). A gap
    gets a row when it is at least one bar cell wide; the idle line above the axis counts every gap.
    """
    steps = list(timeline.steps)
    failed = sum(1 for s in steps if s.failed)
    slow = sum(1 for s in steps if s.slow_reason)
    span = max(float(timeline.span_ms), 0.0)
    cross = palette.glyph("✗", "x")
    title = (
        f"trace {truncate_width(printable(timeline.trace_id), 80)}  "
        f"{format_local_time(timeline.start)} {palette.glyph('→', '->')} "
        f"{format_local_time(timeline.end, date=False)}  "
        f"span {format_duration(span)}  {len(steps)} step{'s' if len(steps) != 1 else ''}"
    )
    if failed:
        title += f"  {failed} failed"
    if slow:
        title += f"  {slow} slow"
    lines = [palette.paint(truncate_width(title, width), "bold")]

    step_rows = [_step_row(step, cross) for step in steps]
    gap_label = palette.glyph("┄ gap (outside any tool)", "- gap (outside any tool)")
    gaps = [g for g in timeline.gaps if g.duration_ms > 0]
    fixed = _MARKS_W + 1 + _OFFSET_W + 1 + _DURATION_W + 2
    label_w = min(
        max([display_width(r.label) for r in step_rows] + [display_width(gap_label) if gaps else 4]), 40
    )
    note_w = min(max([display_width(r.note) for r in step_rows] + [0]), 32)
    bar_w = width - fixed - label_w - 2 - (note_w + 2 if note_w else 0)
    if bar_w < _MIN_BAR:
        label_w = max(label_w - (_MIN_BAR - bar_w), 12)
        bar_w = width - fixed - label_w - 2 - (note_w + 2 if note_w else 0)
    if bar_w < _MIN_BAR:
        note_w = max(note_w - (_MIN_BAR - bar_w), 0)
        bar_w = max(width - fixed - label_w - 2 - (note_w + 2 if note_w else 0), _MIN_BAR)

    # A gap gets its own row when it is at least one bar cell wide: visible at this scale.
    cell_ms = span / bar_w if bar_w else 0.0
    drawn = [gap for gap in gaps if gap.duration_ms >= cell_ms]
    rows = [
        step_rows[row.step] if row.gap is None else _gap_row(row.gap, gap_label)
        for row in display_rows(steps, drawn)
    ]
    if gaps:
        idle = sum(float(g.duration_ms) for g in gaps)
        summary = f"idle {format_duration(idle)} in {len(gaps)} gap{'s' if len(gaps) != 1 else ''}"
        hidden = len(gaps) - len(drawn)
        if hidden:
            summary += f" ({hidden} shorter than one cell of {format_duration(cell_ms)}: not drawn)"
        lines.append(palette.paint(truncate_width(summary, width), "dim"))

    axis_left = "0"
    axis_right = format_duration(span)
    axis = axis_left + " " * max(bar_w - len(axis_left) - len(axis_right), 1) + axis_right
    header = (
        " " * _MARKS_W
        + " "
        + pad("offset", _OFFSET_W, "right")
        + " "
        + pad("duration", _DURATION_W, "right")
        + "  "
        + pad("step", label_w, "left")
        + "  "
        + axis
    )
    lines.append(palette.paint(header.rstrip(), "bold"))

    block = palette.glyph("█", "#")
    dot = palette.glyph("·", ".")
    for row in rows:
        first, last = _bar_cells(row.bar_start, row.bar_end, span, bar_w)
        fill = dot if row.is_gap else block
        bar = " " * first + palette.paint(fill * (last - first), row.style) + " " * (bar_w - last)
        marks_style = "red" if cross in row.marks else ("yellow" if "!" in row.marks else None)
        line = (
            palette.paint(row.marks, marks_style)
            + " "
            + pad(row.offset, _OFFSET_W, "right")
            + " "
            + pad(row.duration, _DURATION_W, "right")
            + "  "
            + palette.paint(
                pad(truncate_width(row.label, label_w), label_w, "left"), "dim" if row.is_gap else None
            )
            + "  "
            + bar
        )
        if row.note and note_w:
            line += "  " + palette.paint(truncate_width(row.note, note_w), row.style)
        lines.append(line.rstrip())
    lines.append(palette.paint(f"* critical path   {cross} failed   ! slow", "dim"))
    return lines


def _bar_cells(start_ms: float, end_ms: float, span_ms: float, cells: int) -> tuple[int, int]:
    """The first and one-past-last cell of a bar from ``start_ms`` to ``end_ms`` on a ``span_ms`` axis."""
    if span_ms <= 0:
        return 0, 1
    first = min(max(int(start_ms / span_ms * cells), 0), cells - 1)
    last = min(max(math.ceil(end_ms / span_ms * cells), first + 1), cells)
    return first, last

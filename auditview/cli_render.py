"""Plain-text rendering for the headless CLI: aligned tables, durations, times and the trace waterfall.

Everything here works on plain Python values (no polars, no Rich, no Textual), so that a headless command pays
nothing for rendering it does not do. Every string that comes from a record is untrusted: it passes
through ``sanitize.printable`` (control characters, ESC, C1 and bidi overrides become visible escapes) and is
cut to its column's display width, so nothing from a record can emit a terminal control sequence. Colour is
opt-in through a ``Palette`` and only ever wraps text that has already been sanitized.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TextIO

from auditview.text.sanitize import printable

if TYPE_CHECKING:
    from auditview.core.diff import DiffPair, RunDiff

__all__ = [
    "Cell",
    "Column",
    "GapLike",
    "Palette",
    "StepLike",
    "TimelineLike",
    "diff_summary_line",
    "display_width",
    "findings_cell",
    "format_duration_ms",
    "format_local_time",
    "render_diff",
    "render_findings",
    "render_table",
    "render_waterfall",
    "terminal_palette",
    "truncate_width",
    "truncate_width_left",
]

_RESET: Final = "\x1b[0m"
STYLES: Final[dict[str, str]] = {
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "green": "\x1b[32m",
    "cyan": "\x1b[36m",
    "magenta": "\x1b[35m",
}


@dataclass(frozen=True, slots=True)
class Palette:
    """How to decorate output: ``colour`` adds SGR colour codes, ``unicode`` allows block and mark glyphs."""

    colour: bool = False
    unicode: bool = True

    def paint(self, text: str, style: str | None) -> str:
        """Wrap already-sanitized ``text`` in the SGR codes of ``style`` when colour is on."""
        if not self.colour or not style or not text:
            return text
        return f"{STYLES[style]}{text}{_RESET}"

    def glyph(self, fancy: str, plain: str) -> str:
        """Pick the Unicode glyph when the output encoding can carry it, else its ASCII stand-in."""
        return fancy if self.unicode else plain


def terminal_palette(stream: TextIO, environ: os._Environ[str] | dict[str, str] | None = None) -> Palette:
    """Colour only on a terminal and never when ``NO_COLOR`` is non-empty; Unicode glyphs when UTF-8."""
    env = os.environ if environ is None else environ
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return Palette(colour=tty and not env.get("NO_COLOR"), unicode=encoding.startswith("utf"))


def display_width(text: str) -> int:
    """Terminal cells taken by ``text``: wide East Asian characters count 2, combining marks 0."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def truncate_width(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` terminal cells, ending with ``…`` when cut."""
    if limit <= 0:
        return ""
    if display_width(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    for char in text:
        cells = (
            0
            if unicodedata.combining(char)
            else (2 if unicodedata.east_asian_width(char) in ("W", "F") else 1)
        )
        if used + cells > limit - 1:
            break
        out.append(char)
        used += cells
    return "".join(out) + "…"


def truncate_width_left(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` cells keeping its end (for paths), starting with ``…`` when cut."""
    if display_width(text) <= limit:
        return text
    kept = truncate_width(text[::-1], limit)
    return "…" + kept[:-1][::-1] if kept.endswith("…") else kept[::-1]


def _pad(text: str, width: int, align: Literal["left", "right"]) -> str:
    gap = max(width - display_width(text), 0)
    return (" " * gap + text) if align == "right" else (text + " " * gap)


def format_duration_ms(ms: float | None) -> str:
    """A short human duration: ``850ms``, ``4.21s``, ``3m12s``, ``1h02m``; ``-`` when unknown."""
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return "-"
    if ms < 0:
        return "-" + format_duration_ms(-ms)
    if ms < 1_000:
        return f"{ms:.0f}ms" if ms >= 10 or ms == int(ms) else f"{ms:.1f}ms"
    seconds = ms / 1_000
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_local_time(moment: datetime | None, *, date: bool = True) -> str:
    """An aware time shown in the local zone with milliseconds (``2026-11-27 10:03:12.345``)."""
    if moment is None:
        return "-"
    local = moment.astimezone()
    text = local.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")
    return f"{text}.{local.microsecond // 1000:03d}"


#: A table cell: plain text, or text with a palette style name applied when colour is on.
Cell = str | tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: ``flex`` columns give up width first when the table is too wide for the terminal.

    ``keep_end`` truncates from the left, keeping the end of the text visible (file paths); ``fixed`` takes
    ``max_width`` whatever the rows hold (tables printed in batches line up).
    """

    header: str
    align: Literal["left", "right"] = "left"
    min_width: int = 3
    max_width: int = 60
    flex: bool = False
    keep_end: bool = False
    fixed: bool = False


def render_table(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, width: int, palette: Palette
) -> list[str]:
    """Lay out ``rows`` under ``columns`` within ``width`` cells; every cell is sanitized and truncated."""
    texts: list[list[tuple[str, str | None]]] = []
    for row in rows:
        cells: list[tuple[str, str | None]] = []
        for cell in row:
            text, style = (cell, None) if isinstance(cell, str) else cell
            cells.append((printable(text), style))
        texts.append(cells)
    widths = []
    for i, column in enumerate(columns):
        natural = max([display_width(column.header)] + [display_width(r[i][0]) for r in texts])
        widths.append(column.max_width if column.fixed else min(natural, column.max_width))
    _shrink(columns, widths, width - 2 * (len(columns) - 1))
    lines = []
    header = "  ".join(
        _pad(truncate_width(c.header, w), w, c.align) for c, w in zip(columns, widths, strict=True)
    )
    lines.append(palette.paint(header.rstrip(), "bold"))
    lines.append("  ".join(palette.glyph("─", "-") * w for w in widths))
    for cells in texts:
        parts = []
        for (text, style), column, w in zip(cells, columns, widths, strict=True):
            cut = truncate_width_left(text, w) if column.keep_end else truncate_width(text, w)
            parts.append(palette.paint(_pad(cut, w, column.align), style))
        lines.append("  ".join(parts).rstrip())
    return lines


def _shrink(columns: Sequence[Column], widths: list[int], budget: int) -> None:
    """Narrow columns (flex ones first, widest first) until they fit ``budget`` or reach their minimum."""
    excess = sum(widths) - budget
    for flex_only in (True, False):
        while excess > 0:
            candidates = [
                i for i, c in enumerate(columns) if (c.flex or not flex_only) and widths[i] > c.min_width
            ]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            others = [widths[i] for i in candidates if i != widest]
            target = max(max(others, default=0), columns[widest].min_width, widths[widest] - excess)
            step = max(widths[widest] - target, 1)
            widths[widest] -= step
            excess -= step


class StepLike(Protocol):
    """What the waterfall needs of a timeline step (``auditview.core.timeline.TimelineStep`` has it)."""

    @property
    def request_id(self) -> str | None: ...
    @property
    def depth(self) -> int: ...
    @property
    def tool(self) -> str | None: ...
    @property
    def command(self) -> str | None: ...
    @property
    def start_ms(self) -> float: ...
    @property
    def duration_ms(self) -> float | None: ...
    @property
    def end_ms(self) -> float: ...
    @property
    def exit_code(self) -> int | None: ...
    @property
    def failed(self) -> bool: ...
    @property
    def slow_reason(self) -> str | None: ...
    @property
    def on_critical_path(self) -> bool: ...


class GapLike(Protocol):
    """What the waterfall needs of a gap between steps."""

    @property
    def start_ms(self) -> float: ...
    @property
    def end_ms(self) -> float: ...
    @property
    def duration_ms(self) -> float: ...


class TimelineLike(Protocol):
    """What the waterfall needs of a timeline."""

    @property
    def trace_id(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def span_ms(self) -> float: ...
    @property
    def steps(self) -> Sequence[StepLike]: ...
    @property
    def gaps(self) -> Sequence[GapLike]: ...


_OFFSET_W: Final = 8
_DURATION_W: Final = 8
_MARKS_W: Final = 3
_MIN_BAR: Final = 10


def _or_unknown(value: str | None) -> str:
    """A field's text, or ``?`` when the record does not say."""
    return "?" if value is None else value


def render_waterfall(timeline: TimelineLike, *, width: int, palette: Palette) -> list[str]:
    """Render a trace as a text waterfall: one row per step and per gap, bars on the trace's time axis.

    Columns: marks (``*`` critical path, ``✗`` failed, ``!`` slow), offset from the trace start, duration, the
    step (indented by nesting depth), its bar scaled to the terminal width, and a note (exit, slow reason).
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
        f"span {format_duration_ms(span)}  {len(steps)} step{'s' if len(steps) != 1 else ''}"
    )
    if failed:
        title += f"  {failed} failed"
    if slow:
        title += f"  {slow} slow"
    lines = [palette.paint(truncate_width(title, width), "bold")]

    rows: list[tuple[float, int, str, str, str, str, float, float, str | None, str]] = []
    # (sort start, order, marks, offset, duration, label, bar start, bar end, style, note)
    for order, step in enumerate(steps):
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
        style = "red" if step.failed else ("yellow" if step.slow_reason else None)
        rows.append(
            (
                float(step.start_ms),
                order * 2,
                marks,
                format_duration_ms(step.start_ms),
                format_duration_ms(step.duration_ms),
                label,
                float(step.start_ms),
                float(step.end_ms),
                style,
                "; ".join(notes),
            )
        )
    gap_label = palette.glyph("┄ gap (outside any tool)", "- gap (outside any tool)")
    gaps = [g for g in timeline.gaps if g.duration_ms > 0]
    fixed = _MARKS_W + 1 + _OFFSET_W + 1 + _DURATION_W + 2
    label_w = min(max([display_width(r[5]) for r in rows] + [display_width(gap_label) if gaps else 4]), 40)
    note_w = min(max([display_width(r[9]) for r in rows] + [0]), 32)
    bar_w = width - fixed - label_w - 2 - (note_w + 2 if note_w else 0)
    if bar_w < _MIN_BAR:
        label_w = max(label_w - (_MIN_BAR - bar_w), 12)
        bar_w = width - fixed - label_w - 2 - (note_w + 2 if note_w else 0)
    if bar_w < _MIN_BAR:
        note_w = max(note_w - (_MIN_BAR - bar_w), 0)
        bar_w = max(width - fixed - label_w - 2 - (note_w + 2 if note_w else 0), _MIN_BAR)

    # A gap gets its own row when it is at least one bar cell wide: visible at this scale.
    cell_ms = span / bar_w if bar_w else 0.0
    for gap in gaps:
        if gap.duration_ms < cell_ms:
            continue
        rows.append(
            (
                float(gap.start_ms),
                -1,
                "   ",
                format_duration_ms(gap.start_ms),
                format_duration_ms(gap.duration_ms),
                gap_label,
                float(gap.start_ms),
                float(gap.end_ms),
                "dim",
                "",
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    if gaps:
        idle = sum(float(g.duration_ms) for g in gaps)
        summary = f"idle {format_duration_ms(idle)} in {len(gaps)} gap{'s' if len(gaps) != 1 else ''}"
        hidden = sum(1 for g in gaps if g.duration_ms < cell_ms)
        if hidden:
            summary += f" ({hidden} shorter than one cell of {format_duration_ms(cell_ms)}: not drawn)"
        lines.append(palette.paint(truncate_width(summary, width), "dim"))

    axis_left = "0"
    axis_right = format_duration_ms(span)
    axis = axis_left + " " * max(bar_w - len(axis_left) - len(axis_right), 1) + axis_right
    header = (
        " " * _MARKS_W
        + " "
        + _pad("offset", _OFFSET_W, "right")
        + " "
        + _pad("duration", _DURATION_W, "right")
        + "  "
        + _pad("step", label_w, "left")
        + "  "
        + axis
    )
    lines.append(palette.paint(header.rstrip(), "bold"))

    block = palette.glyph("█", "#")
    dot = palette.glyph("·", ".")
    for _, order, marks, offset, duration, label, bar_start, bar_end, style, note in rows:
        is_gap = order < 0
        first, last = _bar_cells(bar_start, bar_end, span, bar_w)
        fill = dot if is_gap else block
        bar = " " * first + palette.paint(fill * (last - first), style) + " " * (bar_w - last)
        line = (
            (palette.paint(marks, "red" if cross in marks else ("yellow" if "!" in marks else None)))
            + " "
            + _pad(offset, _OFFSET_W, "right")
            + " "
            + _pad(duration, _DURATION_W, "right")
            + "  "
            + palette.paint(_pad(truncate_width(label, label_w), label_w, "left"), "dim" if is_gap else None)
            + "  "
            + bar
        )
        if note and note_w:
            line += "  " + palette.paint(truncate_width(note, note_w), style)
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


# ----------------------------------------------------------------------------------------------------
# auditview diff

#: A pair's duration counts as notably slower (faster) at this ratio (its inverse) or beyond.
_NOTABLE_RATIO: Final = 1.5
_DIFF_VALUE_W: Final = 32


def _signed_ms(ms: float | None) -> str:
    """A duration change with its sign: ``+1.20s``, ``-300ms``, ``0ms``."""
    if ms is None:
        return "-"
    return ("+" if ms > 0 else "") + format_duration_ms(ms)


def _ratio_text(ratio: float | None, palette: Palette) -> str:
    if ratio is None:
        return ""
    digits = 2 if ratio < 10 else (1 if ratio < 100 else 0)
    return f"{palette.glyph('×', 'x')}{ratio:.{digits}f}"


def _value_text(value: Any) -> str:
    """A params value for a table cell: strings bare, anything else as compact JSON, cut short."""
    import json

    text = value if isinstance(value, str) and value else json.dumps(value, ensure_ascii=False)
    return truncate_width(text.replace("\n", " "), _DIFF_VALUE_W)


#: How the record fields a diff compares are named in the changes column.
_FIELD_LABELS: Final = {"version": "tool version", "host": "host", "operator": "operator"}


def _field_change(name: str, then: Any, now: Any, arrow: str) -> str:
    old = "?" if then is None else then
    new = "?" if now is None else now
    return f"{_FIELD_LABELS.get(name, name)} {old}{arrow}{new}"


def _diff_changes(pair: DiffPair, arrow: str, shared: set[str]) -> str:
    """Tool version, params (``key: then→now``, ``+key=value``, ``-key=value``), host, operator; the fields in
    ``shared`` (changed alike in every pair, said once above the table) are left out."""
    parts: list[str] = []
    if "version" in pair.fields and "version" not in shared:
        change = pair.fields["version"]
        parts.append(_field_change("version", change.then, change.now, arrow))
    for key, value in pair.params.changed.items():
        parts.append(f"{key}: {_value_text(value.then)}{arrow}{_value_text(value.now)}")
    parts.extend(f"+{key}={_value_text(value)}" for key, value in pair.params.added.items())
    parts.extend(f"-{key}={_value_text(value)}" for key, value in pair.params.removed.items())
    for name in ("host", "operator"):
        if name in pair.fields and name not in shared:
            change = pair.fields[name]
            parts.append(_field_change(name, change.then, change.now, arrow))
    return "; ".join(parts)


def _shared_field_changes(diff: RunDiff) -> dict[str, tuple[Any, Any]]:
    """The fields (version, operator, host) changed the same way in every pair, when there are two or more
    pairs: ``{name: (then, now)}``."""
    matched = [pair for pair in diff.pairs if pair.op == "match"]
    if len(matched) < 2:
        return {}
    shared: dict[str, tuple[Any, Any]] = {}
    for name in _FIELD_LABELS:
        changes = {(p.fields[name].then, p.fields[name].now) if name in p.fields else None for p in matched}
        if len(changes) == 1:
            (change,) = changes
            if change is not None:
                shared[name] = change
    return shared


def _diff_gap(then: float | None, now: float | None, arrow: str) -> str:
    if then is None and now is None:
        return "-"
    a, b = format_duration_ms(then), format_duration_ms(now)
    return a if a == b else f"{a} {arrow} {b}"


def _exit_text(code: int | None) -> str:
    return "?" if code is None else str(code)


def render_diff(diff: RunDiff, *, width: int, palette: Palette) -> list[str]:
    """Render ``auditview diff``: the two runs, one row per aligned pair, and a summary line.

    Marks: ``=`` paired and alike, ``~`` paired with a changed exit code, params, version, operator or host,
    ``+`` only in B (now), ``-`` only in A (then). Timing is in the then / now / Δ / × columns. A field
    changed the same way in every pair (another operator or host ran B) is said once above the table and
    left out of the rows (``-o json`` keeps it in every pair).
    """
    arrow = palette.glyph("→", "->")
    lines: list[str] = []
    id_w = min(max(display_width(printable(side.trace_id)) for side in (diff.a, diff.b)), 60)
    for label, side in (("then", diff.a), ("now", diff.b)):
        steps = len(side.steps)
        text = (
            f"{label:<4}  {_pad(truncate_width(printable(side.trace_id), id_w), id_w, 'left')}  "
            f"{format_local_time(side.start)}  span {format_duration_ms(side.span_ms)}  "
            f"{steps} step{'s' if steps != 1 else ''}"
        )
        if side.failed:
            text += f"  {side.failed} failed"
        lines.append(palette.paint(truncate_width(text, width), "bold"))
    if diff.previous is not None:
        lines.append(
            palette.paint(
                truncate_width(f"then = the previous similar run of now ({diff.previous.rule})", width), "dim"
            )
        )
    shared = _shared_field_changes(diff)
    if shared:
        said = ", ".join(_field_change(name, then, now, arrow) for name, (then, now) in shared.items())
        lines.append(truncate_width(printable(f"in every paired step: {said}"), width))
    columns = [
        Column("", min_width=1, max_width=1),
        Column("step", min_width=8, max_width=40, flex=True),
        Column("then", align="right", min_width=6),
        Column("now", align="right", min_width=6),
        Column(palette.glyph("Δ", "delta"), align="right", min_width=7),
        Column(palette.glyph("×", "x"), align="right", min_width=6),
        Column("exit", min_width=4, max_width=12),
        Column("gap before", align="right", min_width=6, max_width=24),
        Column("changes", min_width=8, max_width=100, flex=True),
    ]
    marks = {"insert": ("+", "green"), "delete": ("-", "red")}
    rows: list[list[Cell]] = []
    for pair in diff.pairs:
        a, b = pair.a, pair.b
        step = b if b is not None else a
        assert step is not None
        label = "  " * max(step.depth, 0) + f"{step.tool or '?'} {step.command or '?'}"
        if a is not None and b is not None:
            mark: tuple[str, str | None] = ("~", "yellow") if _row_changed(pair, shared) else ("=", "dim")
            exit_text = (
                _exit_text(b.exit_code)
                if not pair.exit_changed
                else f"{_exit_text(a.exit_code)} {arrow} {_exit_text(b.exit_code)}"
            )
            exit_style = "red" if b.failed else ("green" if a.failed else None)
            gap = _diff_gap(a.gap_before_ms, b.gap_before_ms, arrow)
        else:
            mark = marks[pair.op]
            exit_text = _exit_text(step.exit_code)
            exit_style = "red" if step.failed else None
            gap = _diff_gap(step.gap_before_ms, step.gap_before_ms, arrow)
        delta_style = None
        if pair.ratio is not None and pair.ratio >= _NOTABLE_RATIO:
            delta_style = "yellow"
        elif pair.ratio is not None and pair.ratio <= 1 / _NOTABLE_RATIO:
            delta_style = "green"
        rows.append(
            [
                mark,
                label,
                format_duration_ms(a.duration_ms) if a is not None else "-",
                format_duration_ms(b.duration_ms) if b is not None else "-",
                (_signed_ms(pair.delta_ms), delta_style),
                _ratio_text(pair.ratio, palette),
                (exit_text, exit_style),
                gap,
                _diff_changes(pair, arrow, set(shared)),
            ]
        )
    lines.extend(render_table(columns, rows, width=width, palette=palette))
    lines.append(diff_summary_line(diff, palette=palette))
    return lines


def _row_changed(pair: DiffPair, shared: Mapping[str, Any]) -> bool:
    """A pair's row is marked changed: exit code, params, or a field not changed alike in every pair."""
    return pair.exit_changed or bool(pair.params) or bool(set(pair.fields) - set(shared))


def diff_summary_line(diff: RunDiff, *, palette: Palette) -> str:
    """``span 2m21s → 32.0s (-1m49s, ×0.23); failed 2 → 0; steps 7 → 20: ...; most: deployctl deploy ...``.

    The changed pairs are counted as the table marks them (``~``).
    """
    arrow = palette.glyph("→", "->")
    s = diff.summary
    shared = _shared_field_changes(diff)
    changed = sum(1 for pair in diff.pairs if pair.op == "match" and _row_changed(pair, shared))
    change = _signed_ms(s.delta_ms)
    if s.ratio is not None:
        change += f", {_ratio_text(s.ratio, palette)}"
    parts = [
        f"span {format_duration_ms(s.span_then_ms)} {arrow} {format_duration_ms(s.span_now_ms)} ({change})",
        palette.paint(
            f"failed {s.failed_then} {arrow} {s.failed_now}",
            "red" if s.failed_now > s.failed_then else ("green" if s.failed_now < s.failed_then else None),
        ),
        f"steps {s.steps_then} {arrow} {s.steps_now}: {s.matched} paired ({changed} changed), "
        f"{s.inserted} added, {s.deleted} removed",
    ]
    if s.biggest is not None:
        what = "duration" if s.biggest.what == "duration" else "gap before"
        name = printable(f"{s.biggest.tool or '?'} {s.biggest.command or '?'}")
        parts.append(f"most: {name} {_signed_ms(s.biggest.delta_ms)} ({what})")
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------------------
# Findings about agent behaviour (``auditview.core.findings``): plain dicts with name, severity, reason, steps

_SEVERITY_STYLE: Final[dict[str, str | None]] = {"error": "red", "warning": "yellow", "info": "dim"}
_SEVERITY_RANK: Final[dict[str, int]] = {"error": 0, "warning": 1, "info": 2}


def _worst_style(findings: Sequence[Mapping[str, Any]]) -> str | None:
    severities = [str(f.get("severity")) for f in findings]
    worst = min(severities, key=lambda s: _SEVERITY_RANK.get(s, 3), default=None)
    return _SEVERITY_STYLE.get(worst) if worst is not None else None


def findings_cell(findings: Sequence[Mapping[str, Any]], palette: Palette) -> Cell:
    """The findings of a trace as a table cell: their names in order, once each with a count when repeated
    (``retry-loop,new-error-code×2``), in the colour of the most severe; ``-`` for none."""
    if not findings:
        return "-"
    counts: dict[str, int] = {}
    for finding in findings:
        name = str(finding.get("name"))
        counts[name] = counts.get(name, 0) + 1
    times = palette.glyph("×", "x")
    text = ",".join(name if n == 1 else f"{name}{times}{n}" for name, n in counts.items())
    return (text, _worst_style(findings))


def render_findings(findings: Sequence[Mapping[str, Any]], *, width: int, palette: Palette) -> list[str]:
    """The findings of one trace: a heading line, then one line per finding (mark, name, severity and the
    reason, cut to ``width``); the single line ``findings: none`` when there are none."""
    if not findings:
        return [palette.paint("findings: none", "dim")]
    marks = {"error": palette.glyph("✗", "x"), "warning": "!", "info": palette.glyph("·", ".")}
    by_severity = dict.fromkeys(_SEVERITY_RANK, 0)
    for finding in findings:
        severity = str(finding.get("severity"))
        by_severity[severity] = by_severity.get(severity, 0) + 1
    counted = ", ".join(f"{n} {severity}" for severity, n in by_severity.items() if n)
    lines = [palette.paint(f"findings: {len(findings)} ({counted})", "bold")]
    name_w = min(max(display_width(printable(str(f.get("name")))) for f in findings), 24)
    for finding in findings:
        severity = str(finding.get("severity"))
        mark = marks.get(severity, "?")
        name = _pad(truncate_width(printable(str(finding.get("name"))), name_w), name_w, "left")
        text = truncate_width(f"{mark} {name}  {printable(str(finding.get('reason') or ''))}", width - 2)
        lines.append("  " + palette.paint(text, _SEVERITY_STYLE.get(severity)))
    return lines

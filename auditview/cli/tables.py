"""The CLI's plain-text tables: aligned columns that fit the terminal, the record table, the findings.

Owns ``Column`` and ``render_table`` (every cell made printable and cut to its column's display width, flex
columns narrowed first), ``records_table`` (``export`` and ``audit-log`` as a table), and the findings as a
table cell (``traces``) or a listing (``trace``). Plain Python values only (no polars at import, no Rich, no
Textual); colour comes from a ``Palette`` and only wraps sanitized text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.plain import (
    Palette,
    display_width,
    format_local_time,
    pad,
    truncate_width,
    truncate_width_left,
)
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "RECORD_TABLE_COLUMNS",
    "Cell",
    "Column",
    "findings_cell",
    "records_table",
    "render_findings",
    "render_table",
]

#: A table cell: plain text, or text with a palette style name applied when colour is on.
Cell = str | tuple[str, str | None]

#: The index columns of the record table.
RECORD_TABLE_COLUMNS: Final = frozenset(
    {"ts", "tool", "command", "duration_ms", "exit_code", "operator", "trace_id", "params"}
)


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
        pad(truncate_width(c.header, w), w, c.align) for c, w in zip(columns, widths, strict=True)
    )
    lines.append(palette.paint(header.rstrip(), "bold"))
    lines.append("  ".join(palette.glyph("─", "-") * w for w in widths))
    for cells in texts:
        parts = []
        for (text, style), column, w in zip(cells, columns, widths, strict=True):
            cut = truncate_width_left(text, w) if column.keep_end else truncate_width(text, w)
            parts.append(palette.paint(pad(cut, w, column.align), style))
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


def _text(value: object) -> str:
    return UNKNOWN if value is None else str(value)


def records_table(
    frame: pl.DataFrame, *, width: int, palette: Palette, fixed: bool = False, header: bool = True
) -> list[str]:
    """A table of records: time, tool, command, duration, exit, operator, trace, params.

    ``fixed`` gives every column its full width whatever the rows hold, so that batches printed while
    following line up under one header; ``header=False`` leaves the header lines out.
    """
    columns = [
        Column("time", min_width=10, max_width=23, fixed=fixed),
        Column("tool", max_width=20, flex=True, fixed=fixed),
        Column("command", max_width=24, flex=True, fixed=fixed),
        Column("duration", align="right", max_width=8, fixed=fixed),
        Column("exit", align="right", max_width=4, fixed=fixed),
        Column("operator", max_width=16, flex=True, fixed=fixed),
        Column("trace", max_width=32, flex=True, fixed=fixed),
        Column("params", max_width=80, flex=True, fixed=fixed),
    ]
    rows: list[list[Cell]] = []
    for rec in frame.select(
        "ts", "tool", "command", "duration_ms", "exit_code", "operator", "trace_id", "params"
    ).iter_rows(named=True):
        failed = rec["exit_code"] is not None and rec["exit_code"] != 0
        rows.append(
            [
                format_local_time(rec["ts"]),
                _text(rec["tool"]),
                _text(rec["command"]),
                format_duration(rec["duration_ms"]),
                (_text(rec["exit_code"]), "red" if failed else None),
                _text(rec["operator"]),
                _text(rec["trace_id"]),
                _text(rec["params"]),
            ]
        )
    lines = render_table(columns, rows, width=width, palette=palette)
    return lines if header else lines[2:]


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
        return UNKNOWN
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
        name = pad(truncate_width(printable(str(finding.get("name"))), name_w), name_w, "left")
        text = truncate_width(f"{mark} {name}  {printable(str(finding.get('reason') or ''))}", width - 2)
        lines.append("  " + palette.paint(text, _SEVERITY_STYLE.get(severity)))
    return lines

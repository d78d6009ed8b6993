"""``auditview diff A B``: two runs aligned step by step (``auditview.core.diff``), as a table, JSON or JSON
lines; ``diff B --previous`` compares B with its previous similar run.

Owns ``render_diff``, the diff table: marks ``=`` paired and alike, ``~`` paired and changed, ``+`` only in B
(now), ``-`` only in A (then); the summary line and the field changes shared by every pair are the ones every
front end shows (``auditview.core.render.diff_summary``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from auditview.cli.errors import EXIT_FAILURE, EXIT_OK, CliError, usage_error
from auditview.cli.loading import load
from auditview.cli.output import Run
from auditview.cli.tables import Cell, Column, render_table
from auditview.cli.trace_lookup import find_trace_id
from auditview.core.diff import DIFF_COLUMNS, diff_runs, previous_run
from auditview.core.render.diff_summary import (
    SHARED_LABEL,
    diff_summary_line,
    field_change,
    ratio_text,
    row_changed,
    shared_field_changes,
    signed_duration,
    summary_parts,
)
from auditview.core.timeline import TraceNotFoundError
from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.plain import Palette, display_width, format_local_time, pad, truncate_width
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    from auditview.core.diff import DiffPair, RunDiff

__all__ = ["execute", "render_diff"]

#: A pair's duration counts as notably slower (faster) at this ratio (its inverse) or beyond.
_NOTABLE_RATIO: Final = 1.5
_DIFF_VALUE_W: Final = 32


def execute(run: Run) -> int:
    """Resolve A and B (or B and its previous similar run), diff them, render."""
    ns = run.ns
    previous_wanted = ns.previous or ns.a == "prev"
    if ns.previous:
        if ns.a == "prev":
            raise usage_error("give either 'prev' or --previous")
        b_text = ns.a
        if ns.b is not None:  # with --previous the second word is the first PATH
            ns.paths = [ns.b, *ns.paths]
    else:
        b_text = ns.b
    if b_text is None:
        raise usage_error(
            "two trace ids are needed: auditview diff A B [PATH...] (or: auditview diff B --previous)"
        )
    selected = load(run, DIFF_COLUMNS)
    frame = selected.frame
    previous = None
    if previous_wanted:
        b_id = find_trace_id(frame, b_text, side="B")
        previous = previous_run(frame, b_id)
        if previous is None:
            raise CliError(
                f"no earlier trace with the same first step or operator as {b_id!r} in the selected records",
                exit_code=EXIT_FAILURE,
                error_type="TraceNotFound",
            )
        a_id = previous.trace_id
    else:
        a_id = find_trace_id(frame, ns.a, side="A")
        b_id = find_trace_id(frame, b_text, side="B")
    try:
        diff = diff_runs(frame, a_id, b_id, previous=previous)
    except TraceNotFoundError as exc:
        raise CliError(
            f"no usable trace {exc.args[0]!r}", exit_code=EXIT_FAILURE, error_type="TraceNotFound"
        ) from None
    if run.output == "json":
        run.emit_json(diff.to_json())
    elif run.output == "jsonl":
        run.emit_jsonl(pair.to_json() for pair in diff.pairs)
    else:
        run.emit_lines(render_diff(diff, width=run.width(), palette=run.palette()))
    return EXIT_OK


def _value_text(value: object) -> str:
    """A params value for a table cell: strings bare, anything else as compact JSON, cut short."""
    text = value if isinstance(value, str) and value else json.dumps(value, ensure_ascii=False)
    return truncate_width(text.replace("\n", " "), _DIFF_VALUE_W)


def _diff_changes(pair: DiffPair, arrow: str, shared: set[str]) -> str:
    """Tool version, params (``key: then→now``, ``+key=value``, ``-key=value``), host, operator; the fields in
    ``shared`` (changed alike in every pair, said once above the table) are left out."""
    parts: list[str] = []
    if "version" in pair.fields and "version" not in shared:
        change = pair.fields["version"]
        parts.append(field_change("version", change.then, change.now, arrow))
    for key, value in pair.params.changed.items():
        parts.append(f"{key}: {_value_text(value.then)}{arrow}{_value_text(value.now)}")
    parts.extend(f"+{key}={_value_text(value)}" for key, value in pair.params.added.items())
    parts.extend(f"-{key}={_value_text(value)}" for key, value in pair.params.removed.items())
    for name in ("host", "operator"):
        if name in pair.fields and name not in shared:
            change = pair.fields[name]
            parts.append(field_change(name, change.then, change.now, arrow))
    return "; ".join(parts)


def _diff_gap(then: float | None, now: float | None, arrow: str) -> str:
    if then is None and now is None:
        return UNKNOWN
    a, b = format_duration(then), format_duration(now)
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
            f"{label:<4}  {pad(truncate_width(printable(side.trace_id), id_w), id_w, 'left')}  "
            f"{format_local_time(side.start)}  span {format_duration(side.span_ms)}  "
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
    shared = shared_field_changes(diff)
    said = summary_parts(diff, palette=palette).shared
    if said:
        lines.append(truncate_width(printable(f"{SHARED_LABEL} {', '.join(said)}"), width))
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
            mark: tuple[str, str | None] = ("~", "yellow") if row_changed(pair, shared) else ("=", "dim")
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
                format_duration(a.duration_ms) if a is not None else UNKNOWN,
                format_duration(b.duration_ms) if b is not None else UNKNOWN,
                (signed_duration(pair.delta_ms), delta_style),
                ratio_text(pair.ratio, palette),
                (exit_text, exit_style),
                gap,
                _diff_changes(pair, arrow, set(shared)),
            ]
        )
    lines.extend(render_table(columns, rows, width=width, palette=palette))
    lines.append(diff_summary_line(diff, palette=palette))
    return lines

"""``auditview traces``: one row per trace (span, steps, failures, slow steps, the slowest step, tools,
operators), sorted and limited, with its findings."""

from __future__ import annotations

from typing import Final

import polars as pl

from auditview.cli.errors import EXIT_OK
from auditview.cli.loading import load
from auditview.cli.output import Run, frame_json, frame_ndjson
from auditview.cli.tables import Cell, Column, findings_cell, render_table
from auditview.cli.trace_lookup import trace_findings
from auditview.core.findings import FINDING_COLUMNS_WITHOUT_PARAMS
from auditview.core.selection import slow_rule
from auditview.core.traces import orphans, summarize_traces
from auditview.text.humanize import format_duration
from auditview.text.plain import format_local_time

__all__ = ["TRACE_SUMMARY_COLUMNS", "execute"]

#: The index columns a trace summary reads.
TRACE_SUMMARY_COLUMNS: Final = frozenset(
    {"ts", "tool", "command", "exit_code", "duration_ms", "request_id", "trace_id", "operator"}
)
#: The summary column each ``--sort`` orders by.
_SORT_KEYS: Final = {
    "start": "start",
    "span": "span_ms",
    "steps": "steps",
    "failed": "failed",
    "slowest": "slowest_ms",
}


def _sorted_traces(run: Run, summary: pl.DataFrame) -> pl.DataFrame:
    key = _SORT_KEYS[run.ns.sort]
    descending = not run.ns.reverse
    ties = ["start", "trace_id"] if key != "start" else ["trace_id"]
    summary = summary.sort([key, *ties], descending=[descending] + [descending] * len(ties), nulls_last=True)
    if run.ns.limit is not None:
        summary = summary.head(run.ns.limit)
    return summary


def execute(run: Run) -> int:
    """Summarize the selected traces; ``-o json``/``jsonl`` straight from polars, else a table."""
    with_findings = not run.ns.no_findings
    # the detectors read the params of a few steps only: ``trace_findings`` reads those from their lines
    finding_columns = FINDING_COLUMNS_WITHOUT_PARAMS if with_findings else frozenset()
    selected = load(run, TRACE_SUMMARY_COLUMNS | finding_columns)
    rule = slow_rule(selected.selection)
    frame = selected.frame
    if selected.narrowed:
        # "Usually" means in all the loaded data, not in the slice the filter left.
        frame = rule.annotate(frame, reference=selected.index.frame)
    summary = _sorted_traces(run, summarize_traces(frame, rule))
    if with_findings:
        chosen = selected.narrowed or run.ns.limit is not None
        wanted = summary.get_column("trace_id").to_list() if chosen else None
        grouped = trace_findings(selected, wanted)
        summary = summary.join(grouped, on="trace_id", how="left", maintain_order="left").with_columns(
            pl.col("findings").fill_null(pl.lit([], dtype=grouped.schema["findings"]))
        )
    run.fields["orphans"] = orphans(selected.frame).height
    if run.output == "json":
        run.emit_json(frame_json(summary))
    elif run.output == "jsonl":
        run.write_bytes(frame_ndjson(summary))
    else:
        run.emit_lines(_table(run, summary, with_findings=with_findings))
    return EXIT_OK


def _table(run: Run, summary: pl.DataFrame, *, with_findings: bool) -> list[str]:
    palette = run.palette()
    columns = [
        Column("trace", min_width=23, max_width=40, keep_end=True),
        Column("start", min_width=10, max_width=23),
        Column("span", align="right"),
        Column("steps", align="right"),
        Column("failed", align="right"),
        Column("slow", align="right"),
        *([Column("findings", min_width=8, max_width=32)] if with_findings else []),
        Column("slowest step", min_width=8, max_width=40, flex=True),
        Column("tools", min_width=8, max_width=60, flex=True),
        Column("operators", min_width=8, max_width=40, flex=True),
    ]
    rows: list[list[Cell]] = []
    for t in summary.iter_rows(named=True):
        failed = int(t.get("failed") or 0)
        slow = int(t.get("slow") or 0)
        rows.append(
            [
                str(t["trace_id"]),
                format_local_time(t["start"]),
                format_duration(t["span_ms"]),
                str(t["steps"]),
                (str(failed), "red" if failed else None),
                (str(slow), "yellow" if slow else None),
                *([findings_cell(t.get("findings") or [], palette)] if with_findings else []),
                f"{t.get('slowest_command') or '-'} {format_duration(t.get('slowest_ms'))}",
                ",".join(str(x) for x in (t.get("tools") or [])),
                ",".join(str(x) for x in (t.get("operators") or [])),
            ]
        )
    lines = render_table(columns, rows, width=run.width(), palette=palette)
    total = summary.height
    lines.append(f"{total} trace{'s' if total != 1 else ''}, {run.fields['orphans']} orphan records")
    return lines

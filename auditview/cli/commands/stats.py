"""``auditview stats``: per tool and command, the count, errors, error rate and p50/p95/p99/max duration."""

from __future__ import annotations

from typing import Final

from auditview.cli.errors import EXIT_OK
from auditview.cli.loading import load
from auditview.cli.output import Run, frame_json, frame_ndjson
from auditview.cli.tables import Cell, Column, render_table
from auditview.core.stats import command_stats
from auditview.text.humanize import UNKNOWN, format_duration

__all__ = ["STATS_COLUMNS", "execute"]

#: The index columns the statistics read.
STATS_COLUMNS: Final = frozenset({"ts", "tool", "command", "exit_code", "duration_ms"})


def execute(run: Run) -> int:
    """The statistics of the selected records (a one-shot listing: filter pushdown), rendered."""
    selected = load(run, STATS_COLUMNS, pushdown=True)
    stats = command_stats(selected.frame)
    if run.output == "json":
        run.emit_json(frame_json(stats))
        return EXIT_OK
    if run.output == "jsonl":
        run.write_bytes(frame_ndjson(stats))
        return EXIT_OK
    columns = [
        Column("tool", max_width=24, flex=True),
        Column("command", max_width=30, flex=True),
        Column("count", align="right"),
        Column("errors", align="right"),
        Column("error rate", align="right"),
        Column("p50", align="right"),
        Column("p95", align="right"),
        Column("p99", align="right"),
        Column("max", align="right"),
    ]
    rows: list[list[Cell]] = []
    for s in stats.iter_rows(named=True):
        errors = int(s.get("errors") or 0)
        rate = s.get("error_rate")
        rows.append(
            [
                UNKNOWN if s["tool"] is None else str(s["tool"]),
                UNKNOWN if s["command"] is None else str(s["command"]),
                str(s["count"]),
                (str(errors), "red" if errors else None),
                f"{rate * 100:.1f}%" if rate is not None else UNKNOWN,
                format_duration(s.get("p50_ms")),
                format_duration(s.get("p95_ms")),
                format_duration(s.get("p99_ms")),
                format_duration(s.get("max_ms")),
            ]
        )
    run.emit_lines(render_table(columns, rows, width=run.width(), palette=run.palette()))
    return EXIT_OK

"""``auditview trace ID``: the timeline of one trace as a text waterfall (``core.render.waterfall``),
or as JSON with each step's params, error, path and findings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from auditview.cli.errors import EXIT_OK
from auditview.cli.loading import load
from auditview.cli.output import Run
from auditview.cli.tables import render_findings
from auditview.cli.trace_lookup import find_trace_id, trace_findings, trace_timeline
from auditview.core.render.waterfall import render_waterfall
from auditview.core.step_details import step_details

__all__ = ["execute"]


def execute(run: Run) -> int:
    """Show one trace: a waterfall and its findings (table), the steps (``jsonl``) or all of it (``json``)."""
    selected = load(run)
    trace_id = find_trace_id(selected.frame, run.ns.trace_id)
    _, timeline = trace_timeline(selected, trace_id)
    grouped = trace_findings(selected, [trace_id])
    findings: list[dict[str, Any]] = grouped.get_column("findings")[0].to_list() if grouped.height else []
    if run.output == "table":
        palette = run.palette()
        lines = render_waterfall(timeline, width=run.width(), palette=palette)
        # the findings go above the legend, which stays the last line
        lines[-1:-1] = render_findings(findings, width=run.width(), palette=palette)
        run.emit_lines(lines)
        return EXIT_OK
    involved: dict[tuple[int, int], list[str]] = {}
    for finding in findings:
        for place in finding["steps"]:
            names = involved.setdefault((place["file_id"], place["offset"]), [])
            if finding["name"] not in names:
                names.append(finding["name"])
    details = step_details(selected.frame, trace_id)
    steps = []
    for step in timeline.steps:
        item = asdict(step)
        item["path"] = selected.index.files[step.file_id].display
        item.update(details.get((step.file_id, step.offset), {}))
        item["findings"] = involved.get((step.file_id, step.offset), [])
        steps.append(item)
    if run.output == "jsonl":
        run.emit_jsonl(steps)
    else:
        data = asdict(timeline)
        data["steps"] = steps
        data["findings"] = findings
        run.emit_json(data)
    return EXIT_OK

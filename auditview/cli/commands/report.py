"""``auditview report ID``: one trace as a Markdown or HTML report (``auditview.core.exporters.report``),
printed, or written with the trace's records and their manifest into ``--export DIR``."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from auditview.cli.errors import EXIT_OK, EXIT_USAGE, CliError, usage_error, write_errors
from auditview.cli.loading import load, selection_text
from auditview.cli.output import Run
from auditview.cli.trace_lookup import find_trace_id, step_details, trace_findings, trace_timeline
from auditview.core.diff import diff_runs, previous_run
from auditview.core.exporters.jsonl import ExportResult, build_manifest, export_lines
from auditview.core.exporters.report import TraceReport, check_export_dir, render, write_export_dir
from auditview.core.timeline import TraceNotFoundError
from auditview.text.sanitize import printable
from auditview.text.timeparse import TimeParseError, parse_duration_ms

__all__ = ["execute"]


def execute(run: Run) -> int:
    """Build the report of one trace: its timeline, step details, findings, the diff against its previous
    similar run and the manifest of its records; print it or write the ``--export`` directory."""
    ns = run.ns
    try:
        gap_ms = parse_duration_ms(ns.gap, default_unit="ms")
    except TimeParseError as exc:
        raise CliError(str(exc), exit_code=EXIT_USAGE, error_type="TimeParseError") from None
    if ns.force and not ns.export:
        raise usage_error("--force needs --export DIR")
    target = Path(ns.export) if ns.export else None
    if target is not None:
        with write_errors(ns.export):  # before the load: a bad target fails at once
            check_export_dir(target, force=ns.force)
    selected = load(run)
    trace_id = find_trace_id(selected.frame, ns.trace_id)
    rows, timeline = trace_timeline(selected, trace_id)
    grouped = trace_findings(selected, [trace_id])
    findings: list[dict[str, Any]] = grouped.get_column("findings")[0].to_list() if grouped.height else []
    diff = None
    previous = previous_run(selected.frame, trace_id)
    if previous is not None:
        with contextlib.suppress(TraceNotFoundError):
            diff = diff_runs(selected.frame, previous.trace_id, trace_id, previous=previous)
    buffer = io.BytesIO()
    result = export_lines(selected.index, rows, buffer)
    if target is not None:
        result = ExportResult(result.count, result.bytes, result.sha256, target / "trace.jsonl")
    manifest = build_manifest(
        selected.index,
        rows,
        result,
        filter_text=selection_text(ns.filter, trace_id),
        since=run.since,
        until=run.until,
    )
    report = TraceReport(
        timeline=timeline,
        details=step_details(selected.frame, trace_id),
        paths=[source.display for source in selected.index.files],
        findings=findings,
        diff=diff,
        manifest=manifest,
        gap_threshold_ms=gap_ms,
    )
    text = render(report, ns.format)
    if target is None:
        run.emit_lines(text.rstrip("\n").split("\n"))
        return EXIT_OK
    with write_errors(ns.export):
        written = write_export_dir(
            target,
            report_text=text,
            fmt=ns.format,
            jsonl=buffer.getvalue(),
            manifest=manifest,
            force=ns.force,
        )
    run.emit_lines(
        [f"wrote {printable(str(path))}" for path in written]
        + [f"{result.count} record{'s' if result.count != 1 else ''}, {result.bytes} bytes"]
        + [f"sha256 {result.sha256}"]
    )
    return EXIT_OK

"""``auditview report ID``: one trace as a Markdown or HTML report (``auditview.core.exporters.report``),
printed, or written with the trace's records and their manifest into ``--export DIR``."""

from __future__ import annotations

from pathlib import Path

from auditview.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError, usage_error, write_errors
from auditview.cli.loading import load, selection_text
from auditview.cli.output import Run
from auditview.cli.trace_lookup import find_trace_id
from auditview.core.exporters.report import build_report, check_export_dir, render, write_export_dir
from auditview.core.selection import slow_rule
from auditview.core.timeline import TraceNotFoundError
from auditview.text.sanitize import printable
from auditview.text.timeparse import TimeParseError, parse_duration_ms

__all__ = ["execute"]


def execute(run: Run) -> int:
    """Build the report of one trace (``build_report``: its timeline, step details, findings, the diff against
    its previous similar run and the manifest of its records); print it or write the ``--export``
    directory."""
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
    try:
        report = build_report(
            selected.index,
            trace_id,
            records=selected.index.frame,
            selected=selected.frame,
            slow_rule=slow_rule(selected.selection),
            since=selected.selection.since,
            until=selected.selection.until,
            manifest_filter=selection_text(ns.filter, trace_id),
            gap_threshold_ms=gap_ms,
            export_dir=target,
        )
    except TraceNotFoundError:
        raise CliError(
            f"no usable trace {trace_id!r}", exit_code=EXIT_FAILURE, error_type="TraceNotFound"
        ) from None
    if target is None:
        run.emit_lines(render(report, ns.format).rstrip("\n").split("\n"))
        return EXIT_OK
    with write_errors(ns.export):
        written = write_export_dir(target, report, ns.format, force=ns.force)
    manifest = report.manifest
    assert manifest is not None  # write_export_dir refuses a report without one
    count = manifest["count"]
    run.emit_lines(
        [f"wrote {printable(str(path))}" for path in written]
        + [f"{count} record{'s' if count != 1 else ''}, {manifest['bytes']} bytes"]
        + [f"sha256 {manifest['sha256']}"]
    )
    return EXIT_OK

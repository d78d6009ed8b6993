"""The app's trace report: the Markdown of ``auditview report TRACE``, written as a file next to the exports.

Owns ``build_trace_report`` (a ``TraceReport`` of one trace over the loaded records: its timeline, each
step's params and error, its findings, the diff against its previous similar run and the manifest of its
records), ``report_file_name`` (``report-<trace>.md``, the trace id made safe as a file name) and
``write_trace_report`` (the whole thing, rendered by ``auditview.core.exporters.report.render`` — the
renderer the CLI uses — and written to a new file, never over an existing one). It runs in a thread worker
of the app; nothing here touches the UI.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl

from auditview.core.diff import diff_runs, previous_run
from auditview.core.exporters.jsonl import build_manifest, export_lines
from auditview.core.exporters.report import TraceReport, render
from auditview.core.index import AuditIndex
from auditview.core.slow import SlowStepRule
from auditview.core.timeline import TraceNotFoundError, build_timeline
from auditview.tui.finding_marks import trace_findings
from auditview.tui.screens.export import trace_selection

__all__ = ["REPORT_FORMAT", "build_trace_report", "report_file_name", "write_trace_report"]

#: The app writes Markdown reports (``auditview report --format html`` makes the HTML one).
REPORT_FORMAT: Final = "md"
_UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_CAP: Final = 80
#: How many numbered names (``report-X-2.md``...) are tried before giving up.
_ATTEMPTS: Final = 100


def report_file_name(trace_id: str, attempt: int = 1) -> str:
    """``report-<trace>.md``: the id's letters, digits, ``.``, ``_`` and ``-`` (anything else becomes ``_``,
    so no path separator, control character or leading dot survives), cut to 80; ``-2``, ``-3``... for the
    later ``attempt``\\ s."""
    safe = _UNSAFE_NAME.sub("_", trace_id)[:_NAME_CAP].strip("._") or "trace"
    suffix = "" if attempt <= 1 else f"-{attempt}"
    return f"report-{safe}{suffix}.{REPORT_FORMAT}"


def _step_details(rows: pl.DataFrame) -> dict[tuple[int, int], dict[str, Any]]:
    """Per step place ``(file_id, offset)``: its parsed params and its error (what the report shows)."""
    wanted = [name for name in ("file_id", "offset", "params", "error_type", "error_message") if name in rows]
    details: dict[tuple[int, int], dict[str, Any]] = {}
    for row in rows.select(wanted).iter_rows(named=True):
        params: Any = row.get("params")
        if params is not None:
            with contextlib.suppress(orjson.JSONDecodeError):
                params = orjson.loads(params)
        error = None
        if row.get("error_type") is not None or row.get("error_message") is not None:
            error = {"type": row.get("error_type"), "message": row.get("error_message")}
        details[(int(row["file_id"]), int(row["offset"]))] = {"params": params, "error": error}
    return details


def build_trace_report(index: Any, frame: pl.DataFrame, trace_id: str, rule: SlowStepRule) -> TraceReport:
    """The report of ``trace_id`` over ``frame`` (the loaded records; raises ``TraceNotFoundError``).

    The manifest (and its sha256 of the records' bytes) needs the real index (``AuditIndex``); with any
    other index the report says it has none.
    """
    rows = frame.filter(pl.col("trace_id").cast(pl.String) == trace_id)
    timeline = build_timeline(frame, trace_id, rule)
    findings = trace_findings(frame, trace_id)
    listed = findings.select("name", "severity", "reason").to_dicts() if findings.height else []
    diff = None
    previous = previous_run(frame, trace_id)
    if previous is not None:
        with contextlib.suppress(TraceNotFoundError):
            diff = diff_runs(frame, previous.trace_id, trace_id, previous=previous)
    manifest = None
    if isinstance(index, AuditIndex):
        result = export_lines(index, rows, io.BytesIO())
        manifest = build_manifest(index, rows, result, filter_text=trace_selection(trace_id))
    files = getattr(index, "files", [])
    return TraceReport(
        timeline=timeline,
        details=_step_details(rows),
        paths=[str(getattr(source, "display", source)) for source in files],
        findings=listed,
        diff=diff,
        manifest=manifest,
    )


def write_trace_report(
    index: Any, frame: pl.DataFrame, trace_id: str, rule: SlowStepRule, directory: Path
) -> Path:
    """Write the Markdown report of ``trace_id`` to a new ``report-<trace>.md`` in ``directory`` (numbered
    when the name is taken; an existing file is never replaced) and return its path. Raises
    ``TraceNotFoundError`` and ``OSError``."""
    text = render(build_trace_report(index, frame, trace_id, rule), REPORT_FORMAT)
    for attempt in range(1, _ATTEMPTS + 1):
        path = directory / report_file_name(trace_id, attempt)
        try:
            with path.open("x", encoding="utf-8") as out:
                out.write(text)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(
        f"{directory / report_file_name(trace_id)} and {_ATTEMPTS - 1} numbered names exist"
    )

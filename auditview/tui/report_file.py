"""The app's trace report: the Markdown of ``auditview report TRACE``, written as a file next to the exports.

Owns ``report_file_name`` (``report-<trace>.md``, the trace id made safe as a file name) and
``write_trace_report`` (the report assembled by ``auditview.core.exporters.report.build_report`` and
rendered by its ``render`` — what the CLI does — written to a new file, never over an existing one). It runs
in a thread worker of the app; nothing here touches the UI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import polars as pl

from auditview.core.exporters.report import ReportSources, build_report, render
from auditview.core.slow import SlowStepRule
from auditview.tui.screens.export import trace_selection

__all__ = ["REPORT_FORMAT", "report_file_name", "write_trace_report"]

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


def write_trace_report(
    index: ReportSources, frame: pl.DataFrame, trace_id: str, rule: SlowStepRule, directory: Path
) -> Path:
    """Write the Markdown report of ``trace_id`` over ``frame`` (the loaded records) to a new
    ``report-<trace>.md`` in ``directory`` (numbered when the name is taken; an existing file is never
    replaced) and return its path. The manifest is that of ``auditview export --trace ID``. Raises
    ``TraceNotFoundError`` and ``OSError``."""
    report = build_report(
        index, trace_id, records=frame, slow_rule=rule, manifest_filter=trace_selection(trace_id)
    )
    text = render(report, REPORT_FORMAT)
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

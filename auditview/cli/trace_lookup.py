"""One trace of a selection, for ``trace``, ``report`` and ``diff``: its id from a prefix, its timeline, its
findings.

Owns ``find_trace_id`` (``core.selection.resolve_trace_id`` with its failures as ``CliError``: an ambiguous
prefix is exit 2, an unknown trace exit 1), ``trace_timeline`` and ``trace_findings``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from auditview.cli.errors import EXIT_FAILURE, CliError, usage_error
from auditview.core.findings import detect_findings, group_findings
from auditview.core.index import RawLineChanged
from auditview.core.query import time_range
from auditview.core.selection import AmbiguousTraceId, resolve_trace_id, slow_rule
from auditview.core.timeline import Timeline, TraceNotFoundError, build_timeline
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    from auditview.core.selection import Selected

__all__ = ["find_trace_id", "trace_findings", "trace_timeline"]


def find_trace_id(frame: pl.DataFrame, wanted: str, *, side: str | None = None) -> str:
    """``wanted`` when it is a trace id in ``frame``, else the one trace id it is a unique prefix of.

    ``side`` (``A``/``B`` of a diff) prefixes the message.
    """
    said = f"{side}: " if side is not None else ""
    try:
        return resolve_trace_id(frame, wanted)
    except AmbiguousTraceId as exc:
        shown = ", ".join(printable(c) for c in exc.candidates[:5])
        more = f" and {len(exc.candidates) - 5} more" if len(exc.candidates) > 5 else ""
        raise usage_error(f"{said}trace id prefix {wanted!r} is ambiguous: {shown}{more}") from None
    except TraceNotFoundError:
        raise CliError(
            f"{said}no trace {wanted!r} in the selected records",
            exit_code=EXIT_FAILURE,
            error_type="TraceNotFound",
        ) from None


def trace_findings(selected: Selected, trace_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """The findings of each trace with any (``auditview.core.findings.group_findings``: ``trace_id``,
    ``findings``; steps with their ``path``), detected over the loaded records in --since/--until (the frame
    ``--filter`` runs on, so they agree with ``trace.finding``), whatever the filter left; only ``trace_ids``
    when given. An index loaded without ``params`` (``FINDING_COLUMNS_WITHOUT_PARAMS``) has the few params
    the detectors read parsed again from their lines; a line changed since is exit 1."""
    frame = time_range(selected.index.frame, selected.selection.since, selected.selection.until)
    try:
        findings = detect_findings(frame, trace_ids=trace_ids, params_of=selected.index.params_of)
    except RawLineChanged as exc:
        raise CliError(
            f"{exc}: cannot read the params of the findings",
            exit_code=EXIT_FAILURE,
            error_type="RawLineChanged",
        ) from None
    return group_findings(findings, [source.display for source in selected.index.files])


def trace_timeline(selected: Selected, trace_id: str) -> tuple[pl.DataFrame, Timeline]:
    """The records of trace ``trace_id`` in the selection and its timeline; slow means slow compared with all
    the loaded data, whatever slice the filter left. An unusable trace is exit 1."""
    rule = slow_rule(selected.selection)
    rows = selected.frame.filter(pl.col("trace_id").cast(pl.String) == trace_id)
    try:
        timeline = build_timeline(rule.annotate(rows, reference=selected.index.frame), trace_id, rule)
    except TraceNotFoundError:
        raise CliError(
            f"no usable trace {trace_id!r}", exit_code=EXIT_FAILURE, error_type="TraceNotFound"
        ) from None
    return rows, timeline

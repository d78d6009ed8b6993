"""How the app shows findings (``auditview.core.findings``): a label per trace, marks per step, one line each.

Owns the shapes the widgets are handed: ``trace_finding_columns`` (per trace: how many findings, a short
label like the CLI's ``retry-loop,new-error-code×2``, the most severe severity and the first reason — the
``SUMMARY_FINDING_COLUMNS`` joined onto the trace summaries by ``with_findings`` / ``join_findings``),
``StepFinding`` and ``step_findings`` (a trace's findings, and the ones each step of its timeline is involved
in, by the step's place ``(file_id, offset)``), and ``finding_line`` (one finding as ``Content``).
Detecting is the core's job; ``with_findings`` and ``trace_findings`` call it and are meant for thread
workers (they cost a pass over the records). Every name and reason is record-derived text: it is
shown through ``printable()`` as plain ``Content``, never markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
from textual.content import Content

from auditview.core.findings import SEVERITIES, detect_findings
from auditview.text.sanitize import printable, truncate_display

__all__ = [
    "FINDING_GLYPH",
    "SUMMARY_FINDING_COLUMNS",
    "StepFinding",
    "finding_columns_of",
    "finding_line",
    "finding_style",
    "join_findings",
    "step_finding_names",
    "step_findings",
    "trace_finding_columns",
    "trace_findings",
    "with_findings",
    "worst_severity",
]

#: The mark of a trace or a step involved in a finding.
FINDING_GLYPH: Final = "⚑"
#: The columns ``with_findings`` adds to the trace summaries.
SUMMARY_FINDING_COLUMNS: Final[dict[str, pl.DataType]] = {
    "finding_count": pl.UInt32(),
    "finding_label": pl.String(),
    "finding_severity": pl.String(),
    "finding_reason": pl.String(),
}
_RANK: Final = {severity: rank for rank, severity in enumerate(SEVERITIES)}
#: The app's theme style of each severity (the same colours as failures and slow steps).
_SEVERITY_STYLE: Final = {"error": "$text-error", "warning": "$text-warning", "info": "$text-accent"}
_REASON_CAP: Final = 400


@dataclass(frozen=True)
class StepFinding:
    """One finding as the waterfall and the info lines show it."""

    name: str
    severity: str
    reason: str


def worst_severity(severities: Iterable[str]) -> str | None:
    """The most severe of ``severities`` (``error`` > ``warning`` > ``info``), ``None`` for none."""
    return min(severities, key=lambda severity: _RANK.get(severity, len(_RANK)), default=None)


def finding_style(severity: str | None) -> str:
    """The theme style of a finding of ``severity`` (for ``Content``)."""
    return _SEVERITY_STYLE.get(severity or "", "$text-muted")


def trace_finding_columns(findings: pl.DataFrame) -> pl.DataFrame:
    """Per trace with findings (``detect_findings`` rows): ``trace_id`` and ``SUMMARY_FINDING_COLUMNS``.

    The label names each detector once, the most severe first (then in the order found), with a count when
    it fired more than once: ``retry-loop,new-error-code×2``; the reason is the one of the first of the most
    severe findings.
    """
    schema = {"trace_id": pl.String(), **SUMMARY_FINDING_COLUMNS}
    if findings.is_empty():
        return pl.DataFrame(schema=schema)
    ranked = findings.select(
        "trace_id",
        "name",
        "severity",
        "reason",
        pl.col("severity").replace_strict(_RANK, default=len(_RANK), return_dtype=pl.UInt8()).alias("rank"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("order"),
    )
    names = (
        ranked.group_by("trace_id", "name")
        .agg(pl.len().alias("times"), pl.col("rank").min(), pl.col("order").min())
        .sort("trace_id", "rank", "order")
        .with_columns(
            pl.when(pl.col("times") > 1)
            .then(pl.format("{}×{}", pl.col("name"), pl.col("times")))
            .otherwise(pl.col("name"))
            .alias("part")
        )
        .group_by("trace_id", maintain_order=True)
        .agg(
            pl.col("times").sum().cast(pl.UInt32).alias("finding_count"),
            pl.col("part").str.join(",").alias("finding_label"),
        )
    )
    first = (
        ranked.sort("trace_id", "rank", "order")
        .group_by("trace_id", maintain_order=True)
        .agg(
            pl.col("severity").first().alias("finding_severity"),
            pl.col("reason").first().alias("finding_reason"),
        )
    )
    return names.join(first, on="trace_id", how="left").select(list(schema)).cast(schema)  # type: ignore[arg-type]


def with_findings(summaries: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """``summaries`` (``summarize_traces``) with ``SUMMARY_FINDING_COLUMNS``: the findings detected over
    ``records`` (the cross-record detectors see all of them) for the traces listed; ``finding_count`` 0 for
    the rest.

    A pass over ``records``: call it from a worker.
    """
    if summaries.is_empty() or "trace_id" not in summaries.columns:
        return summaries
    found = pl.DataFrame()
    if records.height and "trace_id" in records.columns:
        wanted = summaries.get_column("trace_id").cast(pl.String).to_list()
        found = detect_findings(records, trace_ids=wanted)
    return join_findings(summaries, trace_finding_columns(found))


def join_findings(summaries: pl.DataFrame, per_trace: pl.DataFrame) -> pl.DataFrame:
    """``summaries`` with the ``SUMMARY_FINDING_COLUMNS`` of ``per_trace`` (``trace_finding_columns``), in
    place of any it had; ``finding_count`` 0 for the traces without findings."""
    if summaries.is_empty() or "trace_id" not in summaries.columns:
        return summaries
    kept = summaries.drop([name for name in SUMMARY_FINDING_COLUMNS if name in summaries.columns])
    return kept.join(per_trace, on="trace_id", how="left", maintain_order="left").with_columns(
        pl.col("finding_count").fill_null(0)
    )


def finding_columns_of(summaries: pl.DataFrame) -> pl.DataFrame | None:
    """The ``trace_finding_columns`` rows held by ``summaries`` (``with_findings`` output), ``None`` when
    it has none: what a newer summary shows until its own findings are known."""
    if "finding_count" not in summaries.columns:
        return None
    return summaries.filter(pl.col("finding_count") > 0).select("trace_id", *SUMMARY_FINDING_COLUMNS)


def trace_findings(records: pl.DataFrame, trace_id: str) -> pl.DataFrame:
    """The findings (``detect_findings`` rows) of one trace, detected over ``records``; call it from a
    worker."""
    if records.height == 0 or "trace_id" not in records.columns:
        return pl.DataFrame()
    return detect_findings(records, trace_ids=[trace_id])


def _step_finding(row: Mapping[str, Any]) -> StepFinding:
    return StepFinding(
        name=str(row.get("name") or ""),
        severity=str(row.get("severity") or ""),
        reason=str(row.get("reason") or "")[:_REASON_CAP],
    )


def step_findings(
    findings: pl.DataFrame | None,
) -> tuple[tuple[StepFinding, ...], dict[tuple[int, int], tuple[StepFinding, ...]]]:
    """The findings in ``findings`` (``detect_findings`` rows), in order, and the ones each step is
    involved in, by the step's place ``(file_id, offset)``."""
    if findings is None or findings.is_empty() or "steps" not in findings.columns:
        return (), {}
    every: list[StepFinding] = []
    by_step: dict[tuple[int, int], list[StepFinding]] = {}
    for row in findings.iter_rows(named=True):
        finding = _step_finding(row)
        every.append(finding)
        for place in row.get("steps") or ():
            file_id, offset = place.get("file_id"), place.get("offset")
            if file_id is None or offset is None:
                continue
            listed = by_step.setdefault((int(file_id), int(offset)), [])
            if finding not in listed:
                listed.append(finding)
    return tuple(every), {place: tuple(items) for place, items in by_step.items()}


def finding_line(finding: StepFinding, *, reason_limit: int = 160) -> Content:
    """``⚑ retry-loop (error): deployctl apply ran 3 times…`` as plain, styled ``Content``."""
    style = finding_style(finding.severity)
    name = truncate_display(printable(finding.name), 40)
    severity = truncate_display(printable(finding.severity), 10)
    reason = truncate_display(printable(finding.reason), reason_limit)
    return Content.assemble(
        (f"{FINDING_GLYPH} {name}", f"bold {style}"),
        (f" ({severity})", style),
        ": ",
        reason,
    )


def step_finding_names(findings: Sequence[StepFinding]) -> str:
    """The names of a step's findings, each once: ``retry-loop, new-error-code``."""
    return ", ".join(dict.fromkeys(printable(finding.name) for finding in findings))

"""The traces screen: every trace of the current view, one line each, sortable, growing live.

It turns the records frame it is given into trace summaries with ``auditview.core.traces.summarize_traces``
in an
exclusive thread worker (a newer frame cancels an older summary), hands them to its ``TraceList``, and shows
the highlighted trace in full on an info line. The same worker then detects the findings of the listed
traces (``finding_marks.with_findings``, over the ``records`` the app hands down: all loaded records in the
time range, as ``trace.finding`` sees them) and hands the list its summaries again with them. Enter posts
``TraceOpened``, ``x`` ``ExportRequested``, ``c`` / ``p`` ``CompareRequested`` (the marked trace against the
one under the cursor, the earlier one as *then*; or a trace against its previous similar run) and ``r``
``ReportRequested``; the app does the work. Nothing here reads files; every string shown is sanitized.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from auditview.core.slow import SlowStepRule
from auditview.core.traces import summarize_traces
from auditview.text.humanize import UNKNOWN
from auditview.text.sanitize import printable, truncate_display
from auditview.tui.finding_marks import (
    FINDING_GLYPH,
    finding_columns_of,
    finding_style,
    join_findings,
    with_findings,
)
from auditview.tui.messages import CompareRequested, ExportRequested, ReportRequested, TraceOpened
from auditview.tui.widgets.trace_list import MARK_GLYPH, TraceList
from auditview.tui.widgets.waterfall import FAILED_GLYPH, SLOW_GLYPH

__all__ = ["TracesScreen"]


def _names(value: object, limit: int = 8) -> str:
    if not isinstance(value, list | tuple):
        return ""
    names = [
        UNKNOWN if item is None else truncate_display(printable(str(item)[:200]), 40)
        for item in value[:limit]
    ]
    more = f" +{len(value) - limit}" if len(value) > limit else ""
    return ", ".join(names) + more


class TracesScreen(Screen[None]):
    """The list of traces over the records frame handed down by the app."""

    HELP_TITLE: ClassVar[str] = "Traces"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="back to the records"),
        Binding("x", "export_trace", "Export trace", tooltip="export the trace under the cursor"),
        Binding(
            "c",
            "compare",
            "Compare",
            tooltip="compare the marked trace (●) with the one under the cursor; with none marked, the trace "
            "with its previous similar run",
        ),
        Binding(
            "p",
            "compare_previous",
            "Compare previous",
            show=False,
            tooltip="compare the trace under the cursor with its previous similar run",
        ),
        Binding(
            "r",
            "report",
            "Report",
            tooltip="write the trace's report (report-<trace>.md) next to the exports and show its path",
        ),
    ]

    @dataclass
    class SummariesComputed(Message):
        """The summary worker finished the summaries of frame number ``generation``."""

        generation: int
        summaries: pl.DataFrame

    @dataclass
    class FindingsComputed(Message):
        """The summary worker found the findings of frame number ``generation``: ``summaries`` has them."""

        generation: int
        summaries: pl.DataFrame

    def __init__(
        self,
        frame: pl.DataFrame,
        rule: SlowStepRule | None = None,
        *,
        trace_id: str | None = None,
        records: pl.DataFrame | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Show the traces of ``frame`` (the index frame, usually already slow-annotated by the app), the
        cursor on ``trace_id`` when given (the trace of the record the user was on), else on the first.
        Findings are detected over ``records`` (default: ``frame``)."""
        super().__init__(name=name, id=id, classes=classes)
        self.frame = frame
        self.records = frame if records is None else records
        self._wanted = trace_id
        self.rule = rule or SlowStepRule()
        self._generation = 0
        self.summaries: pl.DataFrame | None = None

    @property
    def trace_list(self) -> TraceList:
        """The list widget."""
        return self.query_one(TraceList)

    def compose(self) -> ComposeResult:
        """Title, list, info line about the highlighted trace, footer."""
        yield Static(Content("Traces"), id="traces-title")
        yield TraceList(id="trace-list")
        yield Static(Content(""), id="traces-info")
        yield Footer()

    def on_mount(self) -> None:
        """Start summarizing the frame."""
        self.trace_list.focus()
        self._start_summary()

    def update_frame(self, frame: pl.DataFrame, records: pl.DataFrame | None = None) -> None:
        """Show the traces of a newer frame (the view was filtered again, or records arrived); findings over
        ``records`` when given (else over ``frame``)."""
        self.frame = frame
        self.records = frame if records is None else records
        self._start_summary()

    def _start_summary(self) -> None:
        self._generation += 1
        known = None if self.summaries is None else finding_columns_of(self.summaries)
        self.summarize(self._generation, self.frame, self.records, known)

    @work(
        thread=True,
        exclusive=True,
        group="trace-summaries",
        description="summarizing traces",
        exit_on_error=True,
    )
    def summarize(
        self, generation: int, frame: pl.DataFrame, records: pl.DataFrame, known: pl.DataFrame | None
    ) -> None:
        """Summarize ``frame`` off the UI thread and post the result (with the ``known`` findings of the
        previous summaries, so that the list does not blink while growing live); then detect the findings,
        and post again."""
        summaries = _summaries(frame, self.rule)
        worker = get_current_worker()
        if worker.is_cancelled:
            return
        shown = summaries if known is None else join_findings(summaries, known)
        self.post_message(self.SummariesComputed(generation, shown))
        if summaries.is_empty():
            return
        found = with_findings(summaries, records)
        if not worker.is_cancelled:
            self.post_message(self.FindingsComputed(generation, found))

    def on_traces_screen_summaries_computed(self, message: SummariesComputed) -> None:
        """Show the newest summaries (an older worker's late result is dropped)."""
        if message.generation != self._generation:
            return
        self.summaries = message.summaries
        self.trace_list.update_summaries(message.summaries)
        wanted, self._wanted = self._wanted, None
        if wanted is not None and not self.trace_list.select_trace(wanted):
            shown = truncate_display(printable(wanted[:200]), 60)
            self.notify(f"trace {shown} is not in this view", severity="warning", timeout=4, markup=False)
        self._update_title(message.summaries)

    def on_traces_screen_findings_computed(self, message: FindingsComputed) -> None:
        """Show the findings of the newest summaries (the cursor stays on its trace)."""
        if message.generation != self._generation:
            return
        self.summaries = message.summaries
        self.trace_list.update_summaries(message.summaries)
        self._update_title(message.summaries)

    def _update_title(self, summaries: pl.DataFrame) -> None:
        count = summaries.height
        parts = [("Traces", "bold"), (f"  {count:,} trace{'s' if count != 1 else ''}", "")]
        if count:
            failed = int((summaries.get_column("failed") > 0).sum())
            slow = int((summaries.get_column("slow") > 0).sum())
            parts.append((f"  {FAILED_GLYPH} {failed:,} with failures", "$text-error" if failed else ""))
            parts.append((f"  {SLOW_GLYPH} {slow:,} with slow steps", "$text-warning" if slow else ""))
            if "finding_count" in summaries.columns:
                found = int((summaries.get_column("finding_count") > 0).sum())
                parts.append((f"  {FINDING_GLYPH} {found:,} with findings", "$text-accent" if found else ""))
        marked = self.trace_list.marked_trace
        if marked is not None:
            parts.append((f"  {MARK_GLYPH} marked {truncate_display(printable(marked[:200]), 40)}", "bold"))
        self.query_one("#traces-title", Static).update(Content.assemble(*parts))

    @on(TraceList.MarkChanged)
    def _mark_changed(self, message: TraceList.MarkChanged) -> None:
        message.stop()
        if self.summaries is not None:
            self._update_title(self.summaries)

    @on(TraceList.TraceHighlighted)
    def _show_highlighted(self, message: TraceList.TraceHighlighted) -> None:
        self.query_one("#traces-info", Static).update(describe_trace(message.summary))

    @on(TraceList.TraceSelected)
    def _open_trace(self, message: TraceList.TraceSelected) -> None:
        message.stop()
        self.post_message(TraceOpened(message.trace_id))

    def action_back(self) -> None:
        """Return to the previous screen."""
        self.dismiss()

    def action_export_trace(self) -> None:
        """Ask the app to export the highlighted trace."""
        trace_id = self.trace_list.selected_trace_id
        if trace_id is not None:
            self.post_message(ExportRequested(trace_id))

    def action_compare(self) -> None:
        """Ask the app to compare the marked trace with the one under the cursor (the earlier one is *then*);
        with no other trace marked, the one under the cursor with its previous similar run."""
        current = self.trace_list.selected_trace_id
        if current is None:
            return
        marked = self.trace_list.marked_trace
        if marked is None or marked == current:
            self.post_message(CompareRequested(current))
            return
        then, now = _chronological(self.summaries, marked, current)
        self.post_message(CompareRequested(now, then))

    def action_compare_previous(self) -> None:
        """Ask the app to compare the trace under the cursor with its previous similar run."""
        current = self.trace_list.selected_trace_id
        if current is not None:
            self.post_message(CompareRequested(current))

    def action_report(self) -> None:
        """Ask the app to write the report of the trace under the cursor."""
        trace_id = self.trace_list.selected_trace_id
        if trace_id is not None:
            self.post_message(ReportRequested(trace_id))


def _chronological(summaries: pl.DataFrame | None, first: str, second: str) -> tuple[str, str]:
    """``(then, now)``: the trace that started earlier first (ties, or a start not known: as given)."""
    if summaries is None or summaries.is_empty():
        return first, second
    starts = dict(
        summaries.filter(pl.col("trace_id").is_in([first, second])).select("trace_id", "start").iter_rows()
    )
    a, b = starts.get(first), starts.get(second)
    if a is not None and b is not None and b < a:
        return second, first
    return first, second


def _summaries(frame: pl.DataFrame, rule: SlowStepRule) -> pl.DataFrame:
    """Summaries of ``frame``, or an empty frame when it has no records (no columns yet)."""
    if frame.is_empty() or "trace_id" not in frame.columns:
        return pl.DataFrame()
    return summarize_traces(frame, rule)


def describe_trace(summary: Mapping[str, Any]) -> Content:
    """One line about a trace: its full id, its first finding and why, its operators and tools (all
    sanitized, cut when very long)."""
    trace_id = truncate_display(printable(str(summary.get("trace_id", ""))[:400]), 80)
    parts: list[tuple[str, str] | str] = [("trace ", "$text-muted"), (trace_id, "bold")]
    count = summary.get("finding_count")
    if isinstance(count, int) and count > 0:
        style = finding_style(str(summary.get("finding_severity")))
        label = truncate_display(printable(str(summary.get("finding_label") or "")[:400]), 60)
        reason = truncate_display(printable(str(summary.get("finding_reason") or "")[:400]), 160)
        parts.extend([(f"  {FINDING_GLYPH} {label}", f"bold {style}"), (": ", style), reason])
    operators = _names(summary.get("operators"))
    if operators:
        parts.extend([("  operators ", "$text-muted"), operators])
    tools = _names(summary.get("tools"))
    if tools:
        parts.extend([("  tools ", "$text-muted"), tools])
    return Content.assemble(*parts)

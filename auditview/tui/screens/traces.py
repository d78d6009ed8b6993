"""The traces screen: every trace of the current view, one line each, sortable, growing live.

It turns the records frame it is given into trace summaries with ``auditview.core.traces.summarize_traces``
in an
exclusive thread worker (a newer frame cancels an older summary), hands them to its ``TraceList``, and shows
the highlighted trace in full on an info line. Enter posts ``TraceOpened`` and ``x`` posts
``ExportRequested``; the app builds the timeline or opens the export dialog. Nothing here reads files; every
string shown is sanitized.
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
from auditview.text.sanitize import printable, truncate_display
from auditview.tui.messages import ExportRequested, TraceOpened
from auditview.tui.widgets.records import UNKNOWN
from auditview.tui.widgets.trace_list import TraceList
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
    ]

    @dataclass
    class SummariesComputed(Message):
        """The summary worker finished the summaries of frame number ``generation``."""

        generation: int
        summaries: pl.DataFrame

    def __init__(
        self,
        frame: pl.DataFrame,
        rule: SlowStepRule | None = None,
        *,
        trace_id: str | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Show the traces of ``frame`` (the index frame, usually already slow-annotated by the app), the
        cursor on ``trace_id`` when given (the trace of the record the user was on), else on the first."""
        super().__init__(name=name, id=id, classes=classes)
        self.frame = frame
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

    def update_frame(self, frame: pl.DataFrame) -> None:
        """Show the traces of a newer frame (the view was filtered again, or records arrived)."""
        self.frame = frame
        self._start_summary()

    def _start_summary(self) -> None:
        self._generation += 1
        self.summarize(self._generation, self.frame)

    @work(
        thread=True,
        exclusive=True,
        group="trace-summaries",
        description="summarizing traces",
        exit_on_error=True,
    )
    def summarize(self, generation: int, frame: pl.DataFrame) -> None:
        """Summarize ``frame`` off the UI thread and post the result."""
        summaries = _summaries(frame, self.rule)
        if not get_current_worker().is_cancelled:
            self.post_message(self.SummariesComputed(generation, summaries))

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

    def _update_title(self, summaries: pl.DataFrame) -> None:
        count = summaries.height
        parts = [("Traces", "bold"), (f"  {count:,} trace{'s' if count != 1 else ''}", "")]
        if count:
            failed = int((summaries.get_column("failed") > 0).sum())
            slow = int((summaries.get_column("slow") > 0).sum())
            parts.append((f"  {FAILED_GLYPH} {failed:,} with failures", "$text-error" if failed else ""))
            parts.append((f"  {SLOW_GLYPH} {slow:,} with slow steps", "$text-warning" if slow else ""))
        self.query_one("#traces-title", Static).update(Content.assemble(*parts))

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


def _summaries(frame: pl.DataFrame, rule: SlowStepRule) -> pl.DataFrame:
    """Summaries of ``frame``, or an empty frame when it has no records (no columns yet)."""
    if frame.is_empty() or "trace_id" not in frame.columns:
        return pl.DataFrame()
    return summarize_traces(frame, rule)


def describe_trace(summary: Mapping[str, Any]) -> Content:
    """One line about a trace: its full id, operators and tools (all sanitized, cut when very long)."""
    trace_id = truncate_display(printable(str(summary.get("trace_id", ""))[:400]), 80)
    parts: list[tuple[str, str] | str] = [("trace ", "$text-muted"), (trace_id, "bold")]
    operators = _names(summary.get("operators"))
    if operators:
        parts.extend([("  operators ", "$text-muted"), operators])
    tools = _names(summary.get("tools"))
    if tools:
        parts.extend([("  tools ", "$text-muted"), tools])
    return Content.assemble(*parts)

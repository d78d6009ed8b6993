"""The timeline screen: one trace as a waterfall, with a title line and an info line for the cursor step.

The app builds the ``Timeline`` (``auditview.core.timeline.build_timeline``, in a worker) and hands it down;
this
screen shows it in a ``Waterfall``, describes the cursor step (offsets, duration, exit code, operator, slow
reason, critical path) and translates the waterfall's ``StepSelected`` into the app's
``RecordDetailRequested``. ``x`` posts ``ExportRequested`` for the trace and ``r`` ``ReportRequested``. The
trace's findings (detected by the app in its worker after the screen is up, handed down with
``show_findings`` as ``detect_findings`` rows) are listed under the title, one line each with the reason,
and marked ⚑ on the steps involved. Nothing here reads
files; every string shown is sanitized.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

import polars as pl
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from auditview.core.timeline import Timeline, TimelineStep
from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.sanitize import printable, truncate_display
from auditview.tui.finding_marks import (
    FINDING_GLYPH,
    StepFinding,
    finding_line,
    finding_style,
    step_findings,
)
from auditview.tui.messages import ExportRequested, RecordDetailRequested, ReportRequested
from auditview.tui.widgets.waterfall import (
    CRITICAL_GLYPH,
    FAILED_GLYPH,
    SLOW_GLYPH,
    Waterfall,
    exit_text,
    step_label,
)

__all__ = ["TimelineScreen", "describe_findings", "describe_step", "describe_timeline"]

LEGEND = (
    f"{FAILED_GLYPH} failed  {SLOW_GLYPH} slow  {CRITICAL_GLYPH} critical path  {FINDING_GLYPH} finding"
    "  ░ idle"
)
#: The findings listed under the title before "+N more".
FINDING_LINES: Final = 3


def _safe(value: object, limit: int) -> str:
    return truncate_display(printable(str(value)[: limit * 2]), limit)


def _offset(ms: float) -> str:
    return "0" if ms <= 0 else "+" + format_duration(ms)


def describe_timeline(timeline: Timeline) -> Content:
    """The title line: trace id, start (UTC), span, step count, failures, slow steps."""
    steps = timeline.steps
    failed = sum(1 for step in steps if step.failed)
    slow = sum(1 for step in steps if step.slow_reason)
    start = timeline.start.strftime("%Y-%m-%d %H:%M:%S UTC")
    parts: list[tuple[str, str] | str] = [
        ("Trace ", "bold"),
        (_safe(timeline.trace_id, 48), "bold"),
        f"  {start}  span {format_duration(float(timeline.span_ms))}",
        f"  {len(steps)} step{'s' if len(steps) != 1 else ''}",
    ]
    if failed:
        parts.append((f"  {FAILED_GLYPH} {failed} failed", "$text-error"))
    if slow:
        parts.append((f"  {SLOW_GLYPH} {slow} slow", "$text-warning"))
    return Content.assemble(*parts)


def describe_findings(findings: Sequence[StepFinding]) -> Content:
    """The trace's findings, one line each (``FINDING_LINES`` at most, then how many more)."""
    lines = [finding_line(finding) for finding in findings[:FINDING_LINES]]
    more = len(findings) - FINDING_LINES
    if more > 0:
        lines.append(Content.styled(f"  +{more} more (n / N go from step to step)", "$text-muted"))
    return Content("\n").join(lines)


def describe_step(step: TimelineStep, findings: Sequence[StepFinding] = ()) -> Content:
    """The info line for one step: what ran, when, how long, how it ended and why it is marked (slow, in a
    finding)."""
    label = _safe(step_label(step), 60)
    parts: list[tuple[str, str] | str] = [
        (label, "bold"),
        f"  {_offset(step.start_ms)} → {_offset(step.end_ms)}",
        f"  ({format_duration(step.duration_ms)})",
    ]
    if step.failed:
        parts.append((f"  {FAILED_GLYPH} {exit_text(step.exit_code)}", "$text-error"))
    elif step.exit_code is None:
        parts.extend(["  exit ", (UNKNOWN, "$text-muted")])
    else:
        parts.append(f"  {exit_text(step.exit_code)}")
    if step.operator:
        parts.append(f"  by {_safe(step.operator, 24)}")
    if step.slow_reason:
        parts.append((f"  {SLOW_GLYPH} slow: {_safe(step.slow_reason, 80)}", "$text-warning"))
    if step.on_critical_path:
        parts.append(f"  {CRITICAL_GLYPH} on the critical path")
    for finding in findings:
        style = finding_style(finding.severity)
        parts.append((f"  {FINDING_GLYPH} {_safe(finding.name, 30)}", f"bold {style}"))
        parts.append((f": {_safe(finding.reason, 120)}", style))
    request = UNKNOWN if step.request_id is None else step.request_id
    parts.append((f"  request {_safe(request, 40)}", "$text-muted"))
    return Content.assemble(*parts)


class TimelineScreen(Screen[None]):
    """One trace's waterfall, its title and the cursor step's details."""

    HELP_TITLE: ClassVar[str] = "Timeline"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="back"),
        Binding("x", "export_trace", "Export trace", tooltip="export this trace (byte-exact JSONL)"),
        Binding(
            "r",
            "report",
            "Report",
            tooltip="write this trace's report (report-<trace>.md) next to the exports and show its path",
        ),
    ]

    def __init__(
        self,
        timeline: Timeline,
        *,
        findings: pl.DataFrame | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Show ``timeline`` and its ``findings`` (``detect_findings`` rows of the trace; ``None``: none)."""
        super().__init__(name=name, id=id, classes=classes)
        self.timeline = timeline
        self.findings, self._step_findings = step_findings(findings)

    @property
    def waterfall(self) -> Waterfall:
        """The waterfall widget."""
        return self.query_one(Waterfall)

    def compose(self) -> ComposeResult:
        """Title, waterfall, step info, legend, footer."""
        yield Static(describe_timeline(self.timeline), id="timeline-title")
        found = Static(Content(""), id="timeline-findings")
        found.display = False
        yield found
        yield Waterfall(self.timeline, id="waterfall")
        yield Static(Content(""), id="timeline-step")
        yield Static(Content(LEGEND), id="timeline-legend")
        yield Footer()

    def on_mount(self) -> None:
        """Show the findings known so far and focus the waterfall."""
        self._show_findings()
        self.waterfall.focus()

    def show_findings(self, findings: pl.DataFrame | None) -> None:
        """Show ``findings`` (``detect_findings`` rows of the trace) in place of the ones shown: the app
        pushes the waterfall first and hands the findings down once its worker has them."""
        self.findings, self._step_findings = step_findings(findings)
        if self.is_mounted:
            self._show_findings()

    def _show_findings(self) -> None:
        shown = self.query_one("#timeline-findings", Static)
        shown.update(describe_findings(self.findings))
        shown.display = bool(self.findings)
        waterfall = self.waterfall
        waterfall.set_findings(self._step_findings)
        step = waterfall.cursor_step
        if step is not None:
            self.query_one("#timeline-step", Static).update(describe_step(step, waterfall.findings_of(step)))

    def update_timeline(self, timeline: Timeline, findings: pl.DataFrame | None = None) -> None:
        """Show a newer version of the trace (new steps arrived); cursor and zoom are kept. ``findings``
        replace the ones shown when given."""
        self.timeline = timeline
        self.query_one("#timeline-title", Static).update(describe_timeline(timeline))
        if findings is not None:
            self.show_findings(findings)
        self.waterfall.update_timeline(timeline)

    @on(Waterfall.StepHighlighted)
    def _show_step(self, message: Waterfall.StepHighlighted) -> None:
        findings = self.waterfall.findings_of(message.step)
        self.query_one("#timeline-step", Static).update(describe_step(message.step, findings))

    @on(Waterfall.StepSelected)
    def _open_step(self, message: Waterfall.StepSelected) -> None:
        message.stop()
        self.post_message(RecordDetailRequested(message.file_id, message.offset, message.length))

    def action_back(self) -> None:
        """Return to the previous screen."""
        self.dismiss()

    def action_export_trace(self) -> None:
        """Ask the app to export this trace."""
        self.post_message(ExportRequested(self.timeline.trace_id))

    def action_report(self) -> None:
        """Ask the app to write this trace's report."""
        self.post_message(ReportRequested(self.timeline.trace_id))

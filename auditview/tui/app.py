"""The auditview terminal app: the shell (records, filter bar, volume strip, status bar) and its wiring.

Owns: ``run_app`` (what ``auditview.main`` runs with the CLI's ``AppOptions``), ``create_app`` (the one
factory shared by the program, the tests and the benchmark), and ``AuditViewApp``, which keeps the state —
the whole index frame, the filtered view, the filter and time range — and hands it *down* to widgets and
screens, which send messages *up*.

Must not: open a log file or parse a record on the UI thread. The loader worker (``workers.load_and_follow``,
the core's ``live.load_and_follow``) owns the index and the follower; filtering (``core.view``), raw-line
reads and timelines run in thread workers too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import get_current_worker

from auditview.core.diff import diff_runs, previous_run
from auditview.core.live import LoaderOptions, LoadStopped, RawIndex, line_number_at
from auditview.core.query import FilterError, compile_filter, completions, warm_filter_helpers
from auditview.core.slow import SlowStepRule
from auditview.core.timeline import TraceNotFoundError, build_timeline
from auditview.core.view import FilterState, update_view, volume_buckets
from auditview.launch import AppOptions
from auditview.source.types import Reject
from auditview.text.humanize import UNKNOWN
from auditview.text.sanitize import printable
from auditview.text.timeparse import TimeRange
from auditview.tui.finding_marks import trace_findings
from auditview.tui.messages import (
    CompareRequested,
    ExportRequested,
    FilterApplied,
    FilterFailed,
    IndexingFinished,
    IndexingProgressed,
    LoadFailed,
    RecordDetailRequested,
    RecordsAppended,
    ReportRequested,
    SearchApplied,
    SourceEventHappened,
    TraceOpened,
)
from auditview.tui.report_file import write_trace_report
from auditview.tui.screens.compare import CompareScreen
from auditview.tui.screens.detail import DetailScreen
from auditview.tui.screens.export import ExportDialog, ExportScope, default_export_name, trace_selection
from auditview.tui.screens.help import HelpScreen
from auditview.tui.screens.rejects import RejectsScreen, field_warning_rows
from auditview.tui.screens.time_range import TimeRangeDialog
from auditview.tui.screens.timeline import TimelineScreen
from auditview.tui.screens.traces import TracesScreen
from auditview.tui.widgets.filter_bar import FilterBar
from auditview.tui.widgets.records import RecordsTable
from auditview.tui.widgets.status import StatusBar
from auditview.tui.widgets.volume import VolumeStrip
from auditview.tui.workers import load_and_follow

__all__ = ["AuditViewApp", "create_app", "run_app"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _describe_moment(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AuditViewApp(App[int]):
    """Records of every tool, live: filter, jump to failures and slow steps, open traces, export."""

    CSS_PATH = "auditview.tcss"
    TITLE = "auditview"
    ENABLE_COMMAND_PALETTE = True

    HELP_TITLE: ClassVar[str] = "Views"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="quit auditview"),
        Binding("question_mark", "help", "Help", tooltip="the keys of the screen you are on"),
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="filter: command=deploy and exit_code!=0, duration_ms>5s, trace.failed",
        ),
        Binding(
            "f", "search", "Search", show=False, tooltip="search: highlight matches (filter language), n / N"
        ),
        Binding(
            "w",
            "time_range",
            "Time range",
            show=False,
            tooltip="time range: since / until (1h, 30m, today, 2026-11-27T10:00)",
        ),
        Binding("t", "traces", "Traces", tooltip="traces, the cursor on the record's trace"),
        Binding("T", "trace_timeline", "Timeline", show=False, tooltip="the record's trace as a waterfall"),
        Binding(
            "x",
            "export",
            "Export",
            tooltip="export filtered / marked records or a trace (byte-exact JSONL or OTLP/JSON)",
        ),
        Binding("r", "rejects", "Rejects", show=False, tooltip="rejected lines and field warnings"),
    ]

    def __init__(self, options: AppOptions, *, clock: Clock = _utc_now, load: bool = True) -> None:
        super().__init__()
        self.options = options
        self.clock = clock
        self.load = load
        self.rule = SlowStepRule(threshold_ms=options.slow_ms)
        self.frame: pl.DataFrame = pl.DataFrame()
        self.view: pl.DataFrame = pl.DataFrame()
        self.index: RawIndex | None = None
        self.preview = False
        self.filter_text = options.filter_text
        self.search_text = ""
        self.range = TimeRange(
            options.since,
            options.until,
            _describe_moment(options.since),
            _describe_moment(options.until),
        )
        self._generation = 0
        #: What the last filter run produced (the base that appended rows are merged into).
        self._filtered: FilterState | None = None
        #: Rows appended since the frame of the last filter run started; ``None`` = the frame was replaced.
        self._pending_added: list[pl.DataFrame] | None = None
        self._last_sequence: int | None = None
        self._filter_running = False
        self._filter_dirty = False
        self._pending_appended = False
        self.loaded = False
        self.indexing_seconds: float | None = None
        #: Where the last export of this session went (reports are written next to it); ``None``: none yet.
        self.export_dir: Path | None = None

    # ------------------------------------------------------------------------------------------- children
    @property
    def records(self) -> RecordsTable:
        """The records table (on the main view, whichever screen is on top)."""
        return self._main.query_one(RecordsTable)

    @property
    def status(self) -> StatusBar:
        """The status bar."""
        return self._main.query_one(StatusBar)

    @property
    def filter_bar(self) -> FilterBar:
        """The filter bar."""
        return self._main.query_one(FilterBar)

    @property
    def volume(self) -> VolumeStrip:
        """The volume strip."""
        return self._main.query_one(VolumeStrip)

    @property
    def _main(self) -> Screen[Any]:
        return self.screen_stack[0]

    def compose(self) -> ComposeResult:
        """Filter bar, volume strip, records, status bar, footer."""
        yield FilterBar(completions, id="filter-bar")
        yield VolumeStrip(id="volume")
        yield RecordsTable(id="records")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Show the starting filter and range, focus the table and start loading."""
        self.filter_bar.input.value = self.filter_text
        self.filter_bar.applied = self.filter_text
        self.filter_bar.show_range(self.range.describe())
        self.status.live = self.options.follow
        self.records.focus()
        if self.load:
            self.load_sources()

    # -------------------------------------------------------------------------------------------- loading
    @work(thread=True, exclusive=True, group="loader", description="index and follow", exit_on_error=False)
    def load_sources(self) -> None:
        """Preview, index and follow the sources (see ``workers.load_and_follow``)."""
        worker = get_current_worker()
        options = LoaderOptions(self.options.paths, follow=self.options.follow, cache=self.options.cache)
        try:
            load_and_follow(options, self.post_message, lambda: worker.is_cancelled)
        except Exception as exc:  # an engine bug must be shown, not swallowed by the worker
            self.post_message(LoadFailed(LoadStopped(f"loading stopped: {type(exc).__name__}: {exc}")))

    def on_records_appended(self, message: RecordsAppended) -> None:
        """Take the new index snapshot and refresh the view."""
        if not self.screen_stack:  # shutting down
            return
        event = message.event
        contiguous = (
            event.added is not None
            and self._last_sequence is not None
            and event.sequence == self._last_sequence + 1
            and event.index is self.index
        )
        if contiguous and self._pending_added is not None and event.added is not None:
            self._pending_added.append(event.added)
        else:
            self._pending_added = None
        self._last_sequence = event.sequence if event.sequence >= 0 else None
        self.frame = event.frame
        self.index = event.index
        self.preview = event.preview
        self.status.total = event.frame.height
        self.status.rejects = event.rejects
        self.status.field_warnings = event.warnings
        self.status.sources = event.sources if event.sources is not None else len(event.index.files)
        self.loaded = True
        self._request_filter(appended=True)

    def on_indexing_progressed(self, message: IndexingProgressed) -> None:
        """Show indexing progress."""
        if not self.screen_stack:  # shutting down
            return
        done, total = message.event.done, message.event.total
        self.status.progress = done / total if total else None

    def on_indexing_finished(self, message: IndexingFinished) -> None:
        """Hide the progress."""
        if not self.screen_stack:  # shutting down
            return
        self.status.progress = None
        self.indexing_seconds = message.event.seconds

    def on_source_event_happened(self, message: SourceEventHappened) -> None:
        """Show rotations, truncations and new files in the status bar."""
        if not self.screen_stack:  # shutting down
            return
        self.status.event = message.event.text

    def on_load_failed(self, message: LoadFailed) -> None:
        """Show why nothing could be loaded."""
        self.status.event = message.event.error
        error = printable(message.event.error)
        self.notify(error, title="cannot read the logs", severity="error", timeout=10, markup=False)

    # ------------------------------------------------------------------------------------------ filtering
    def _request_filter(self, *, appended: bool = False) -> None:
        """Run the filter worker now, or once the running one finishes (never two at once)."""
        self._pending_appended = self._pending_appended or appended
        if self._filter_running:
            self._filter_dirty = True
            return
        self._filter_running = True
        self._filter_dirty = False
        self._generation += 1
        self.status.filter_busy = True
        added, self._pending_added = self._pending_added, []
        self.run_filter(self._generation, self.frame, added, self.filter_text, self.range)

    @work(thread=True, group="filter", description="filter", exit_on_error=False)
    def run_filter(
        self,
        generation: int,
        frame: pl.DataFrame,
        added: list[pl.DataFrame] | None,
        text: str,
        span: TimeRange,
    ) -> None:
        """Filter and annotate in a thread (only the appended rows when that is exact); post view or error."""
        previous = self._filtered
        try:
            state = update_view(previous, frame, added, text, span.since, span.until, self.rule)
        except FilterError as exc:
            self._filtered = None
            self.post_message(FilterFailed(text, exc.message, exc.position))
            return
        except Exception as exc:  # a filter bug must not kill the app: show it and keep the old view
            self._filtered = None
            self.post_message(FilterFailed(text, f"filter failed: {exc}", 0))
            return
        self._filtered = state
        view = state.view
        failed = RecordsTable.rows_where(view, "failed")
        slow = RecordsTable.rows_where(view, "slow")
        self.post_message(FilterApplied(generation, view, volume_buckets(view), text, failed, slow))
        asked = previous is None or (previous.filter_text, previous.since, previous.until) != (
            text,
            span.since,
            span.until,
        )
        if state.fresh or asked:
            # After the view is shown, for a newly built frame or when the user changed the filter or range
            # (not on every append while following): the per-frame helpers that make the next new filters on
            # this frame fast (~0.4 s once for a million rows, here in the worker; see warm_filter_helpers).
            warm_filter_helpers(state.ranged, self.rule)

    def on_filter_applied(self, message: FilterApplied) -> None:
        """Show the new view (new records are counted as unseen while the user is scrolled up)."""
        if not self.screen_stack:  # shutting down
            return
        self._filter_done()
        if message.filter_text != self.filter_text:
            return
        self.view = message.view
        appended = self._pending_appended
        self._pending_appended = False
        self.records.empty_text = self._empty_text()
        self.records.show_frame(
            message.view, appended=appended, failed_rows=message.failed_rows, slow_rows=message.slow_rows
        )
        self.volume.show(message.volume)
        self.status.shown = message.view.height
        self._update_open_screens()
        if self.search_text:
            self.run_search(self.search_text, message.view)

    def _empty_text(self) -> str:
        """What the records table says when the view is empty: why, and how to widen it."""
        if self.frame.height == 0:
            return "no records in the sources"
        reasons: list[str] = []
        keys: list[str] = []
        if self.filter_text.strip():
            reasons.append(f"the filter {self.filter_text.strip()}")
            keys.append("/ changes the filter")
        if self.range.since is not None or self.range.until is not None:
            reasons.append(f"the time range {self.range.describe()}")
            keys.append("w the time range")
        if not reasons:
            return "no records"
        return f"no records match {' and '.join(reasons)} ({', '.join(keys)})"

    def on_filter_failed(self, message: FilterFailed) -> None:
        """Point at the error in the filter bar and keep the previous view."""
        if not self.screen_stack:  # shutting down
            return
        self._filter_done()
        self.filter_bar.show_error(message.text, message.message, message.position)
        if message.text == self.filter_text:
            self.filter_text = self.filter_bar.applied
            if self.filter_text != message.text:
                self._request_filter()

    def _filter_done(self) -> None:
        self._filter_running = False
        self.status.filter_busy = False
        if self._filter_dirty:
            self._request_filter()

    def action_filter(self) -> None:
        """Open the filter bar."""
        self.filter_bar.mode = "filter"
        self.filter_bar.input.value = self.filter_text
        self.filter_bar.input.focus()

    def action_search(self) -> None:
        """Open the filter bar in search mode (highlight and jump with n/N)."""
        self.filter_bar.mode = "search"
        self.filter_bar.input.value = self.search_text
        self.filter_bar.input.focus()

    @on(FilterBar.Submitted)
    def _filter_submitted(self, message: FilterBar.Submitted) -> None:
        if self.filter_bar.mode == "search":
            self._search_submitted(message.text)
            return
        try:
            if message.text:
                compile_filter(message.text, slow_rule=self.rule)
        except FilterError as exc:
            self.filter_bar.show_error(message.text, exc.message, exc.position)
            return
        self.filter_bar.applied = message.text
        self.filter_bar.clear_message()
        self.filter_text = message.text
        self.records.following = True
        self.records.focus()
        self._request_filter()

    @on(FilterBar.Cancelled)
    def _filter_cancelled(self) -> None:
        if self.filter_bar.mode == "search":
            self.filter_bar.mode = "filter"
            self.filter_bar.input.value = self.filter_text
        self.records.focus()

    def _search_submitted(self, text: str) -> None:
        try:
            if text:
                compile_filter(text, slow_rule=self.rule)
        except FilterError as exc:
            self.filter_bar.show_error(text, exc.message, exc.position)
            return
        self.search_text = text
        self.filter_bar.mode = "filter"
        self.filter_bar.input.value = self.filter_text
        self.filter_bar.clear_message()
        self.records.focus()
        if text:
            self.run_search(text, self.view)
        else:
            self.records.set_matches(())

    @work(thread=True, exclusive=True, group="search", description="search", exit_on_error=False)
    def run_search(self, text: str, view: pl.DataFrame) -> None:
        """Find the rows of ``view`` matching ``text``."""
        try:
            numbered = view.with_row_index("__row")
            rows = compile_filter(text, slow_rule=self.rule).apply(numbered)["__row"].to_list()
        except Exception as exc:
            self.post_message(FilterFailed(text, f"search failed: {exc}", 0))
            return
        self.post_message(SearchApplied(text, rows, view.height))

    def on_search_applied(self, message: SearchApplied) -> None:
        """Highlight the matches and jump to the first one after the cursor."""
        if not self.screen_stack:  # shutting down
            return
        if message.text != self.search_text or message.view_height != self.view.height:
            return
        self.records.set_matches(message.rows)
        self.status.event = f"search: {len(message.rows):,} matches (n/N)"
        if message.rows and self.records.cursor not in message.rows:
            self.records.action_next_match()

    def action_time_range(self) -> None:
        """Change since/until from inside the app."""

        def apply(result: TimeRange | None) -> None:
            if result is None:
                return
            self.range = result
            self.filter_bar.show_range(result.describe())
            self._request_filter()

        self.push_screen(TimeRangeDialog(self.range, self.clock), apply)

    # ----------------------------------------------------------------------------------------- the table
    @on(RecordsTable.FollowChanged)
    def _follow_changed(self, message: RecordsTable.FollowChanged) -> None:
        if not self.screen_stack:  # shutting down
            return
        self.status.following = message.following
        self.status.unseen = message.unseen

    @on(RecordsTable.DetailWanted)
    def _detail_wanted(self, message: RecordsTable.DetailWanted) -> None:
        row = self.view.row(message.row, named=True)
        self.open_detail(int(row["file_id"]), int(row["offset"]), int(row["length"]))

    def on_record_detail_requested(self, message: RecordDetailRequested) -> None:
        """A screen asked for a record's detail."""
        self.open_detail(message.file_id, message.offset, message.length)

    def open_detail(self, file_id: int, offset: int, length: int) -> None:
        """Read the raw line in a worker, then push the detail screen."""
        if self.index is None:
            return
        self.read_detail(self.index, self.frame, file_id, offset, length, self.preview)

    @work(thread=True, exclusive=True, group="detail", description="read record", exit_on_error=False)
    def read_detail(
        self, index: RawIndex, frame: pl.DataFrame, file_id: int, offset: int, length: int, preview: bool
    ) -> None:
        """Read the exact bytes and the line number, then show them."""
        try:
            raw = index.raw_line(file_id, offset, length)
        except OSError as exc:
            text = printable(f"cannot read the record: {exc}")
            self.call_from_thread(self.notify, text, severity="error", markup=False)
            return
        match = frame.filter((pl.col("file_id") == file_id) & (pl.col("offset") == offset))
        line = None if preview or match.height == 0 else int(match["line"][0])
        if preview and 0 <= file_id < len(index.files):
            line = line_number_at(index.files[file_id], offset)  # the preview started mid-file: count
        reason = None
        row = match.row(0, named=True) if match.height else None
        if row is not None:
            reason = row.get("slow_reason")
        view_match = self.view.filter((pl.col("file_id") == file_id) & (pl.col("offset") == offset))
        if view_match.height and "slow_reason" in view_match.columns:
            reason = view_match["slow_reason"][0]
        source = index.files[file_id].display if 0 <= file_id < len(index.files) else UNKNOWN
        self.call_from_thread(self.push_screen, DetailScreen(raw, source, line, reason, row=row))

    # ------------------------------------------------------------------------------------------- screens
    _MAIN_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"filter", "search", "time_range", "traces", "trace_timeline", "export", "rejects"}
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Main-view actions only work (and only show in the footer) on the main view."""
        return not (action in self._MAIN_ONLY and len(self.screen_stack) > 1)

    def action_help(self) -> None:
        """Show the keys of the screen on top (generated from its bindings)."""
        self.push_screen(HelpScreen.for_screen(self.screen))

    def action_rejects(self) -> None:
        """List the rejected lines and the field warnings."""
        rejects: list[Reject] = list(self.index.rejects) if self.index is not None else []
        files = self.index.files if self.index is not None else []
        warnings = field_warning_rows(self.frame, files)
        screen = RejectsScreen(
            rejects, warnings, warning_count=self.status.field_warnings, lines_known=not self.preview
        )
        self.push_screen(screen)

    def _cursor_trace(self) -> str | None:
        """The trace id of the record under the cursor (``None``: no record, or it belongs to no trace)."""
        if not self.view.height or not 0 <= self.records.cursor < self.view.height:
            return None
        if "trace_id" not in self.view.columns:
            return None
        value = self.view["trace_id"][self.records.cursor]
        return value if isinstance(value, str) and value.strip() else None

    def action_traces(self) -> None:
        """Open the traces list (tui-traces' screen) on the current view, the cursor on the record's trace."""
        trace_id = self._cursor_trace()
        if trace_id is None and self.view.height:
            self.notify("this record belongs to no trace: the list opens at the newest trace", timeout=4)
        records = self._finding_records()
        self.push_screen(TracesScreen(self.view, self.rule, trace_id=trace_id, records=records))

    def _finding_records(self) -> pl.DataFrame:
        """The records the traces list detects findings over: all loaded ones in the time range (the frame
        the filter's ``trace.finding`` sees), whatever the filter left."""
        state = self._filtered
        return state.ranged if state is not None else self.frame

    def action_trace_timeline(self) -> None:
        """Open the waterfall of the trace of the record under the cursor."""
        trace_id = self._cursor_trace()
        if trace_id is None:
            text = "this record belongs to no trace" if self.view.height else "no record here"
            self.notify(text, severity="warning", timeout=4)
            return
        self.build_trace_timeline(trace_id, self.frame)

    def on_trace_opened(self, message: TraceOpened) -> None:
        """Build the timeline in a worker and push it."""
        self.build_trace_timeline(message.trace_id, self.frame)

    @work(thread=True, exclusive=True, group="timeline", description="timeline", exit_on_error=False)
    def build_trace_timeline(self, trace_id: str, frame: pl.DataFrame) -> None:
        """Timeline of one trace, over all loaded records (not only the filtered ones)."""
        try:
            timeline = build_timeline(frame, trace_id, self.rule)
        except (TraceNotFoundError, ValueError) as exc:
            text = printable(f"cannot build the timeline: {exc}")
            self.call_from_thread(self.notify, text, severity="error", markup=False)
            return
        except Exception as exc:  # an engine bug (a value it did not expect) must be shown, not swallowed
            text = printable(f"cannot build the timeline: {type(exc).__name__}: {exc}")
            self.call_from_thread(self.notify, text, severity="error", markup=False)
            return
        screen = TimelineScreen(timeline)
        self.call_from_thread(self.push_screen, screen)
        # then the findings (a pass over every record; the waterfall does not wait for it)
        try:
            findings = trace_findings(frame, trace_id)
        except Exception as exc:  # the waterfall is still worth showing; say why its findings are missing
            text = printable(f"cannot detect the trace's findings: {type(exc).__name__}: {exc}")
            self.call_from_thread(self.notify, text, severity="warning", markup=False)
            return
        self.call_from_thread(screen.show_findings, findings)

    def _update_open_screens(self) -> None:
        """Hand the new view down to screens that show live data."""
        for screen in self.screen_stack:
            if isinstance(screen, TracesScreen):
                screen.update_frame(self.view, self._finding_records())
            elif isinstance(screen, TimelineScreen):
                self.refresh_timeline(screen, self.frame)

    @work(thread=True, group="timeline-live", description="timeline update", exit_on_error=False)
    def refresh_timeline(self, screen: TimelineScreen, frame: pl.DataFrame) -> None:
        """Rebuild an open timeline with the records that arrived (open traces grow live)."""
        shown = screen.timeline
        try:
            timeline = build_timeline(frame, shown.trace_id, self.rule)
            grown = len(timeline.steps) != len(shown.steps) or timeline.end != shown.end
            findings = trace_findings(frame, shown.trace_id) if grown else None
        except Exception:  # the trace as shown stays (the error was shown when it was opened)
            return
        self.call_from_thread(screen.update_timeline, timeline, findings)

    def on_export_requested(self, message: ExportRequested) -> None:
        """A screen asked for the export dialog."""
        self.open_export(trace_id=message.trace_id)

    def action_export(self) -> None:
        """Export the filtered records, the marked ones, or the trace of the record under the cursor."""
        self.open_export(trace_id=self._cursor_trace(), prefer_trace=False)

    def open_export(self, *, trace_id: str | None, prefer_trace: bool = True) -> None:
        """Push the export dialog with the scopes that make sense now."""
        if self.index is None:
            self.notify("nothing loaded yet", severity="warning")
            return
        # Each scope says in the manifest what chose its records, as `auditview export` would.
        scopes: dict[str, ExportScope] = {
            "filtered": ExportScope(
                "filtered records",
                self.view,
                selection=self.filter_text or None,
                since=self.range.since,
                until=self.range.until,
            )
        }
        marked = self.records.marked
        if marked:
            keys = pl.DataFrame(
                {"file_id": [k.file_id for k in marked], "offset": [k.offset for k in marked]},
                schema={"file_id": self.frame.schema["file_id"], "offset": self.frame.schema["offset"]},
            )
            # hand-picked: no filter chose them (the manifest's sources and byte ranges say which they are)
            scopes["marked"] = ExportScope("marked records", self.frame.join(keys, on=["file_id", "offset"]))
        if trace_id:
            # the whole trace, over every loaded record (not only the filtered ones): `export --trace ID`
            trace_frame = self.frame.filter(pl.col("trace_id") == trace_id)
            label = f"trace {trace_id[:40]}"
            scopes["trace"] = ExportScope(label, trace_frame, selection=trace_selection(trace_id))
        default = "trace" if prefer_trace and trace_id else "marked" if marked else "filtered"
        dialog = ExportDialog(
            self.index,
            scopes,
            default_scope=default,
            default_path=Path(default_export_name(self.clock())),
        )

        def done(result: Any) -> None:
            if result is not None:
                if result.path is not None:
                    self.export_dir = Path(result.path).parent
                text = printable(f"exported {result.count:,} records to {result.path}")
                self.notify(text, title="export", timeout=6, markup=False)

        self.push_screen(dialog, done)

    # ----------------------------------------------------------------------------- compare runs, report
    def on_compare_requested(self, message: CompareRequested) -> None:
        """Compare two runs (or a run with its previous similar run) in a worker, then show them."""
        self.compare_runs(message.then_id, message.now_id, self.frame)

    @work(thread=True, exclusive=True, group="compare", description="compare runs", exit_on_error=False)
    def compare_runs(self, then_id: str | None, now_id: str, frame: pl.DataFrame) -> None:
        """``diff_runs`` over all loaded records; with no ``then_id``, against the previous similar run."""
        try:
            previous = None
            if then_id is None:
                previous = previous_run(frame, now_id)
                if previous is None:
                    shown = printable(now_id[:80])
                    why = "no earlier trace with its first step or operator"
                    text = f"no previous similar run of {shown} ({why})"
                    self.call_from_thread(self.notify, text, severity="warning", timeout=6, markup=False)
                    return
                then_id = previous.trace_id
            diff = diff_runs(frame, then_id, now_id, previous=previous)
        except Exception as exc:  # a trace that vanished, or an engine bug: say so, keep the app
            text = printable(f"cannot compare the runs: {type(exc).__name__}: {exc}")
            self.call_from_thread(self.notify, text, severity="error", markup=False)
            return
        self.call_from_thread(self.push_screen, CompareScreen(diff))

    def report_directory(self) -> Path:
        """Where reports go: next to the last export of this session, else where the export dialog proposes
        to write (the working directory)."""
        if self.export_dir is not None:
            return self.export_dir
        return Path(default_export_name(self.clock())).resolve().parent

    def on_report_requested(self, message: ReportRequested) -> None:
        """Write the trace's report in a worker, then show its path."""
        if self.index is None:
            self.notify("nothing loaded yet", severity="warning")
            return
        self.write_report(message.trace_id, self.index, self.frame, self.report_directory())

    @work(thread=True, group="report", description="trace report", exit_on_error=False)
    def write_report(self, trace_id: str, index: RawIndex, frame: pl.DataFrame, directory: Path) -> None:
        """Render the report as ``auditview report`` does and write ``report-<trace>.md`` in ``directory``."""
        try:
            path = write_trace_report(index, frame, trace_id, self.rule, directory)
        except Exception as exc:  # a full disk, a trace that vanished: say so, keep the app
            text = printable(f"cannot write the report: {type(exc).__name__}: {exc}")
            self.call_from_thread(self.notify, text, title="report", severity="error", markup=False)
            return
        text = printable(f"wrote the report of {trace_id[:80]} to {path}")
        self.call_from_thread(self.notify, text, title="report", timeout=8, markup=False)

    # ------------------------------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The main actions, searchable in the command palette (ctrl+p)."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Filter records", "Open the filter bar (/)", self.action_filter)
        yield SystemCommand("Search records", "Highlight matches, jump with n/N (f)", self.action_search)
        yield SystemCommand("Time range", "Change since / until (w)", self.action_time_range)
        yield SystemCommand("Traces", "List traces and open their timelines (t)", self.action_traces)
        yield SystemCommand(
            "Trace timeline", "The waterfall of the record's trace (T)", self.action_trace_timeline
        )
        yield SystemCommand(
            "Export", "Write records as byte-exact JSONL or OTLP/JSON (x)", self.action_export
        )
        yield SystemCommand("Rejects", "List malformed lines and field warnings (r)", self.action_rejects)
        yield SystemCommand(
            "Next failure", "Jump to the next failed record (e)", self.records.action_next_failed
        )
        yield SystemCommand(
            "Next slow step", "Jump to the next slow record (s)", self.records.action_next_slow
        )
        yield SystemCommand("Newest record", "Jump to the end and follow (G)", self.records.action_last)
        yield SystemCommand("Help", "All keys (?)", self.action_help)


def create_app(options: AppOptions, *, clock: Clock = _utc_now, load: bool = True) -> AuditViewApp:
    """The one factory used by the CLI, the tests and the benchmark."""
    return AuditViewApp(options, clock=clock, load=load)


def run_app(options: AppOptions) -> int:
    """Run the app until the user quits (on live demo traffic for ``--demo``); returns the exit code."""
    if options.demo:
        from auditview.tui.demo import demo_traffic

        with demo_traffic() as directory:
            return _run(replace(options, paths=[str(directory)], demo=False, follow=True))
    return _run(options)


def _run(options: AppOptions) -> int:
    app = create_app(options)
    result = app.run()
    return int(result or app.return_code or 0)

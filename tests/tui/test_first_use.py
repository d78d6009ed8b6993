"""What a new user ran into (issue #11, items 10–15): the cursor row, narrow terminals, ``t`` / ``T``,
per-screen help, the traces header, empty views, glyphs, the rejects screen, search wrap-around, the trace
export's manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rich.segment import Segment
from textual.binding import Binding
from textual.widgets import DataTable, Static

from auditview.launch import AppOptions
from auditview.main import main as cli_main
from auditview.tui.app import AuditViewApp, create_app
from auditview.tui.screens.export import ExportDialog, trace_selection
from auditview.tui.screens.help import HelpScreen
from auditview.tui.screens.rejects import RejectDetailScreen, RejectsScreen
from auditview.tui.screens.timeline import TimelineScreen
from auditview.tui.screens.traces import TracesScreen
from auditview.tui.screenshots import ScreenHost
from auditview.tui.widgets.records import fit_tail
from auditview.tui.widgets.trace_list import SORT_COLUMNS, TraceList, column_layout
from auditview.tui.widgets.waterfall import Waterfall
from tests.engine.frames import make_frame
from tests.tui.app_fixtures import (
    MemoryIndex,
    feed,
    frozen_clock,
    lines_of,
    memory_app,
    record,
    settle,
    standard_records,
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


def _notes(app: AuditViewApp) -> list[str]:
    """The texts of the notifications shown so far."""
    return [note.message for note in app._notifications]


def _painted(segments: list[Segment]) -> list[Segment]:
    """The segments of a strip that show something (control segments have no text)."""
    return [segment for segment in segments if segment.text]


async def _loaded(app: AuditViewApp, pilot: Any, index: MemoryIndex) -> None:
    feed(app, index)
    await settle(app, pilot)


# ------------------------------------------------------------------------------------- 10: the cursor row
async def test_the_cursor_row_has_its_own_background_in_every_cell() -> None:
    """Every cell of the cursor row — dim time, bar, failed text, trace — takes the cursor's background; the
    other rows keep the table's (it used to be only bold, each cell keeping its own background)."""
    index = MemoryIndex(lines_of(standard_records(12)))
    app = memory_app(index)
    async with app.run_test(size=(120, 30)) as pilot:
        await _loaded(app, pilot, index)
        table = app.records
        await pilot.press("g", "j", "j", "j")  # record 3 failed: red text, a dim time and trace, a bar
        assert table.cursor == 3
        cursor_bg = table.get_component_rich_style("records--cursor").bgcolor
        surface_bg = table.rich_style.bgcolor
        assert cursor_bg is not None
        assert cursor_bg != surface_bg
        row = _painted(list(table.render_line(1 + 3)))
        assert {segment.style.bgcolor for segment in row if segment.style} == {cursor_bg}
        other = _painted(list(table.render_line(1 + 4)))
        assert cursor_bg not in {segment.style.bgcolor for segment in other if segment.style}
        # the failed colour is kept under the cursor
        failed = table.get_component_rich_style("records--failed").color
        assert any(segment.style and segment.style.color == failed for segment in row)


async def test_the_cursor_row_is_reversed_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``NO_COLOR`` a background cannot show: the cursor row is reversed (as in the traces list)."""
    monkeypatch.setenv("NO_COLOR", "1")
    index = MemoryIndex(lines_of(standard_records(12)))
    app = memory_app(index)
    async with app.run_test(size=(120, 30)) as pilot:
        await _loaded(app, pilot, index)
        table = app.records
        await pilot.press("g")
        row = _painted(list(table.render_line(1)))
        assert all(segment.style is not None and segment.style.reverse for segment in row)
        assert not any(
            segment.style and segment.style.reverse for segment in _painted(list(table.render_line(2)))
        )


# ---------------------------------------------------------------------------------- 11: narrow terminals
def _sessions() -> list[dict[str, Any]]:
    """Records of traces told apart only by their end, with 12-character tool names."""
    tools = ("featureflags", "rollbackctl", "healthcheck", "verifyctl")
    return [
        record(
            number,
            tool=tools[number % 4],
            trace_id=f"agent-session-66-step-{number % 5}",
            operator="agent-session-66",
        )
        for number in range(20)
    ] + [record(20, trace_id="778e6176e500bddf37b003074f0f4c3c")]


async def test_narrow_records_keep_tool_names_and_the_end_of_trace_ids() -> None:
    """At 80 columns the records show whole tool names and whole ``agent-session-66-step-N`` trace ids (the
    bar and the operator column go); a longer id keeps its end."""
    index = MemoryIndex(lines_of(_sessions()))
    app = memory_app(index)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app, pilot, index)
        table = app.records
        await pilot.press("g")
        header = table.render_line(0).text
        assert "operator" not in header
        lines = [table.render_line(y).text for y in range(1, 6)]
        for number, line in enumerate(lines):
            assert ("featureflags", "rollbackctl", "healthcheck", "verifyctl")[number % 4] in line
            assert f"agent-session-66-step-{number % 5}" in line
        await pilot.press("G")
        last = table.render_line(table.scrollable_content_region.height - 1).text
        assert "…" in last
        assert last.rstrip().endswith("b003074f0f4c3c")


def test_header_and_rows_line_up() -> None:
    """Each column starts at the same cell in the header as in the rows (the gutter used to differ by one)."""
    from auditview.tui.widgets.records import _Columns

    for width in (79, 99, 119, 199):
        columns = _Columns.for_width(width)
        shown = [columns.time, columns.tool, columns.command, columns.duration, columns.bar, columns.exit]
        shown += [columns.operator, columns.trace]
        used = 3 + 1 + sum(size + 1 for size in shown if size) - 1
        assert used == width, (width, columns)


def test_fit_tail_keeps_the_end() -> None:
    """``fit_tail`` cuts at the start, so ids that share a prefix stay apart; it escapes like ``_fit``."""
    assert fit_tail("agent-session-66-step-4", 12) == "…n-66-step-4"
    assert fit_tail("abc", 5) == "abc  "
    assert fit_tail("x\x1b[2J", 20).startswith("x\\x1b[2J")
    assert len(fit_tail("é" * 300, 10)) == 10


def test_narrow_trace_columns_leave_room_for_the_trace_id() -> None:
    """At 80 columns the traces list drops the tools and the date, and the trace id column holds 24 cells."""
    layout = column_layout(79)
    assert layout.tools == 0
    assert layout.start == 8
    assert layout.trace >= 24
    wide = column_layout(119)
    assert wide.tools > 0
    assert wide.start == 14


async def test_narrow_traces_list_tells_traces_apart() -> None:
    """At 80×24 every trace of the list shows its whole id (they differ only by the step number)."""
    frame = make_frame(
        [
            {
                "trace_id": f"agent-session-66-step-{n}",
                "start_ms": n * 1000,
                "duration_ms": 10,
                "tool": "verifyctl",
            }
            for n in range(10, 16)
        ]
    )
    app = ScreenHost(TracesScreen(frame))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)  # type: ignore[arg-type]
        traces = app.screen.query_one(TraceList)
        rows = [traces.render_line(y).text for y in range(1, 7)]
        assert [
            f"agent-session-66-step-{n}" in row for n, row in zip(range(15, 9, -1), rows, strict=True)
        ] == [True] * 6


# ----------------------------------------------------------------------------------------- 12: t and T
async def test_t_opens_the_traces_on_the_records_trace() -> None:
    """``t`` on a record puts the traces list's cursor on that record's trace, not on the newest trace, and
    scrolls the list to it."""
    index = MemoryIndex(lines_of(standard_records(300)))
    app = memory_app(index)
    async with app.run_test(size=(120, 30)) as pilot:
        await _loaded(app, pilot, index)
        await pilot.press("g", *["j"] * 7)  # record 7: trace-002 (the newest trace is trace-099)
        assert app.view["trace_id"][app.records.cursor] == "trace-002"
        await pilot.press("t")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        traces = screen.trace_list
        assert traces.selected_trace_id == "trace-002"
        assert "trace-002" in str(screen.query_one("#traces-info", Static).content)
        shown = [traces.render_line(y).text for y in range(1, traces.scrollable_content_region.height)]
        assert any(line.startswith("▶") and "trace-002" in line for line in shown), shown


async def test_shift_t_opens_the_records_waterfall() -> None:
    """``T`` goes from a record straight to its trace's timeline; a record without a trace says so."""
    records = [*standard_records(30), record(40, trace_id="")]
    index = MemoryIndex(lines_of(records))
    app = memory_app(index)
    async with app.run_test(size=(120, 30)) as pilot:
        await _loaded(app, pilot, index)
        await pilot.press("g", "j", "j", "j", "j")  # record 4: trace-001
        await pilot.press("T")
        await settle(app, pilot)
        assert isinstance(app.screen, TimelineScreen)
        assert app.screen.timeline.trace_id == "trace-001"
        await pilot.press("escape")
        await pilot.press("G", "T")
        await settle(app, pilot)
        assert app.screen is app.screen_stack[0]
        assert "this record belongs to no trace" in _notes(app)


# ------------------------------------------------------------------------------------ 13: per-screen help
def _declared(node: Any) -> list[tuple[str, str]]:
    """(key, description) of every binding auditview declares on ``node``'s classes."""
    found = []
    for cls in type(node).__mro__:
        if cls.__module__.startswith("auditview"):
            for binding in cls.__dict__.get("BINDINGS", ()):
                found += [
                    (key.strip(), binding.tooltip or binding.description) for key in binding.key.split(",")
                ]
    return found


def _help_rows(app: AuditViewApp) -> dict[str, str]:
    """The help screen's rows: each key shown → its text."""
    screen = app.screen
    assert isinstance(screen, HelpScreen)
    rows: dict[str, str] = {}
    for section in screen.sections:
        for row in section.rows:
            for key in row.keys.split(" "):
                rows.setdefault(key, row.text)
    return rows


async def test_help_is_per_screen_and_made_from_the_bindings() -> None:
    """``?`` lists the keys of the screen it is pressed on: the records' keys on the main view, ``o`` / ``O``
    on the traces, ``+`` ``-`` ``h`` ``l`` ``z`` ``0`` on the timeline — each with its binding's text."""
    app = create_app(AppOptions(paths=[str(SAMPLES)], follow=False), clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        main = _help_rows(app)
        for key, text in _declared(app.records) + [(k, t) for k, t in _declared(app) if k != "question_mark"]:
            assert main.get(app.get_key_display(Binding(key, "any"))) == text, (key, text)
        assert "o" not in main
        await pilot.press("escape", "t")
        await settle(app, pilot)
        await pilot.press("question_mark")
        traces = _help_rows(app)
        assert traces["o"].startswith("sort by the next column")
        assert traces["O"] == "reverse the sort order"
        assert traces["x"] == "export the trace under the cursor"
        assert "space" not in traces
        assert "/" not in traces
        await pilot.press("escape", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TimelineScreen)
        await pilot.press("question_mark")
        timeline = _help_rows(app)
        for key in ("+", "-", "h", "l", "z", "0", "s", "e", "⏎", "x", "esc"):
            assert key in timeline, key
        for _key, text in _declared(app.screen_stack[-2].query_one(Waterfall)):
            assert text in timeline.values()
        assert "o" not in timeline


async def test_help_texts_wrap_in_their_own_column() -> None:
    """A long help text wraps under its own start, never back to the box's left edge."""
    app = create_app(AppOptions(paths=[str(SAMPLES)], follow=False), clock=frozen_clock)
    async with app.run_test(size=(60, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        texts = list(app.screen.query(".help-text"))
        keys = list(app.screen.query(".help-keys"))
        assert texts
        assert len(texts) == len(keys)
        lefts = {widget.region.x for widget in texts}
        assert len(lefts) == 1
        assert lefts.pop() > max(widget.region.x for widget in keys)
        assert any(widget.region.height > 1 for widget in texts)  # some did wrap


# -------------------------------------------------------------------- 14: headers, empty views, glyphs, ...
@pytest.mark.parametrize("width", [60, 80, 120, 200])
async def test_the_sort_arrow_is_never_cut(width: int) -> None:
    """Each sort column's header shows its arrow whole (``steps▼`` used to be ``step…``) at any width."""
    frame = make_frame([{"trace_id": "a", "start_ms": 0, "duration_ms": 10, "tool": "dbctl"}])
    app = ScreenHost(TracesScreen(frame))
    async with app.run_test(size=(width, 12)) as pilot:
        await settle(app, pilot)  # type: ignore[arg-type]
        traces = app.screen.query_one(TraceList)
        for column in SORT_COLUMNS:
            for descending in (True, False):
                traces.set_sort(SORT_COLUMNS.index(column), descending)
                header = traces.render_line(0).text
                arrow = "▼" if descending else "▲"
                assert f"{column.label}{arrow}" in header, (width, header)
                assert "…" not in header


async def test_an_empty_filter_result_says_so() -> None:
    """A filter that matches nothing leaves a line saying so (and how to widen it), not a blank table."""
    index = MemoryIndex(lines_of(standard_records(10)))
    app = memory_app(index)
    async with app.run_test(size=(100, 20)) as pilot:
        await _loaded(app, pilot, index)
        await pilot.press("slash")
        app.filter_bar.input.value = "tool=nosuchtool"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.view.height == 0
        line = app.records.render_line(1).text
        assert "no records match the filter tool=nosuchtool" in line
        assert "/ changes the filter" in line


async def test_a_failed_and_slow_row_shows_both_glyphs() -> None:
    """A record that failed *and* was slow starts with ✗◷, and so does a trace with both kinds of steps."""
    records = [record(0, exit_code=2, duration_ms=9_000.0, trace_id="both"), record(1, trace_id="ok")]
    index = MemoryIndex(lines_of(records))
    app = memory_app(index)
    async with app.run_test(size=(120, 20)) as pilot:
        await _loaded(app, pilot, index)
        assert app.records.render_line(1).text.startswith("✗◷")
        assert app.records.render_line(2).text.startswith("   ")
        await pilot.press("t")
        await settle(app, pilot)
        traces = app.screen.query_one(TraceList)
        rows = {traces.row(i)["trace_id"]: traces.render_line(1 + i).text for i in range(2)}  # type: ignore[index]
        assert rows["both"][1:3] == "✗◷"
        assert rows["ok"][1:3] == "  "


async def test_rejects_rows_move_and_enter_shows_the_whole_reject() -> None:
    """``j`` / ``k`` move through the rejects; Enter shows the whole reason and the raw line escaped (bytes
    that are not UTF-8, controls and markup stay visible text); the field warnings open the same way."""
    long_line = b'{"tool": "[b]x[/]", "pad": "' + b"y" * 3000 + b'", \xff\x1b[2J'
    lines = [
        *lines_of(standard_records(3)),
        b"{not json",
        long_line,
        b"[1, 2]",
        *lines_of([record(9, exit_code="one")]),  # type: ignore[arg-type]
    ]
    index = MemoryIndex(lines)
    app = memory_app(index)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app, pilot, index)
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, RejectsScreen)
        table = app.screen.query_one("#rejects-table", DataTable)
        assert table.has_focus
        assert table.cursor_row == 0
        await pilot.press("j", "j", "k")
        assert table.cursor_row == 1
        await pilot.press("enter")
        await settle(app, pilot)
        detail = app.screen
        assert isinstance(detail, RejectDetailScreen)
        raw = str(detail.query_one("#reject-raw", Static).content)
        assert raw.startswith('{"tool": "[b]x[/]", "pad": "yyy')
        assert raw.endswith('", \\xff\\x1b[2J')
        assert "y" * 3000 in raw  # the whole line, not an excerpt
        reason = str(detail.query_one("#reject-reason", Static).content)
        assert reason == next(r.reason for r in index.rejects if r.raw == long_line)
        assert "mem/audit.jsonl:5" in str(detail.query_one("#reject-header", Static).content)
        await pilot.press("escape")
        assert isinstance(app.screen, RejectsScreen)
        await pilot.press("G")
        assert table.cursor_row == 2
        await pilot.press("tab", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RejectDetailScreen)
        assert "exit_code must be an integer" in str(app.screen.query_one("#reject-reason", Static).content)
        assert not app.screen.query("#reject-raw")


async def test_n_past_the_last_match_wraps_and_says_so() -> None:
    """``n`` on the last search match goes to the first and says so; ``e`` past the last failure says so."""
    index = MemoryIndex(lines_of(standard_records(60)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(app, pilot, index)
        await pilot.press("f")
        app.filter_bar.input.value = "command=migrate"
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("G", "N")
        assert app.records.cursor == 58  # the last migrate (2, 6, ..., 58)
        await pilot.press("n")
        assert app.records.cursor == 2
        assert "past the last search match: wrapped to the first" in _notes(app)
        await pilot.press("N")
        assert app.records.cursor == 58
        await pilot.press("G", "e")
        assert app.records.cursor == 59
        assert "no failed record below" in _notes(app)


# ------------------------------------------------------------------------ 15: the trace export's manifest
async def test_a_trace_export_manifest_names_the_trace_as_the_cli_does(tmp_path: Path) -> None:
    """A trace exported from the app writes a manifest whose ``filter`` selects that trace — the same
    manifest (selection, count, bytes, sha256, sources) as ``auditview export --trace ID --manifest``."""
    app = create_app(
        AppOptions(paths=[str(SAMPLES)], follow=False, filter_text="exit_code!=0"), clock=frozen_clock
    )
    target = tmp_path / "app.jsonl"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "t")
        await settle(app, pilot)
        assert isinstance(app.screen, TracesScreen)
        trace_id = app.screen.trace_list.selected_trace_id
        assert trace_id is not None
        await pilot.press("x")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        assert dialog.scope == "trace"
        dialog.query_one("#export-path").value = str(target)  # type: ignore[attr-defined]
        dialog.query_one("#export-manifest").value = True  # type: ignore[attr-defined]
        await pilot.click("#export-write")
        await settle(app, pilot)
    ours = json.loads((tmp_path / "app.jsonl.manifest.json").read_text())
    assert ours["filter"] == trace_selection(trace_id) == f'trace_id="{trace_id}"'
    assert ours["since"] is None
    assert ours["until"] is None
    cli_target, cli_manifest = tmp_path / "cli.jsonl", tmp_path / "cli.manifest.json"
    argv = [
        "export",
        str(SAMPLES),
        "--trace",
        trace_id,
        "--to",
        str(cli_target),
        "--manifest",
        str(cli_manifest),
    ]
    assert cli_main([*argv, "-o", "json"]) == 0
    theirs = json.loads(cli_manifest.read_text())
    for key in ("filter", "since", "until", "count", "bytes", "sha256", "sources", "first_timestamp"):
        assert ours[key] == theirs[key], key
    assert target.read_bytes() == cli_target.read_bytes()


async def test_filtered_and_marked_exports_say_what_chose_them(tmp_path: Path) -> None:
    """The filtered scope's manifest has the filter and the time range; marked records have no filter (they
    were picked by hand, the byte ranges say which)."""
    app = create_app(
        AppOptions(paths=[str(SAMPLES)], follow=False, filter_text="exit_code!=0"), clock=frozen_clock
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for scope, name in (("filtered", "f.jsonl"), ("marked", "m.jsonl")):
            if scope == "marked":
                await pilot.press("g", "space")
            await pilot.press("x")
            dialog = app.screen
            assert isinstance(dialog, ExportDialog)
            assert dialog.scope == scope
            dialog.query_one("#export-path").value = str(tmp_path / name)  # type: ignore[attr-defined]
            dialog.query_one("#export-manifest").value = True  # type: ignore[attr-defined]
            await pilot.click("#export-write")
            await settle(app, pilot)
            assert not isinstance(app.screen, ExportDialog)
    filtered = json.loads((tmp_path / "f.jsonl.manifest.json").read_text())
    marked = json.loads((tmp_path / "m.jsonl.manifest.json").read_text())
    assert filtered["filter"] == "exit_code!=0"
    assert marked["filter"] is None
    assert marked["count"] == 1


def test_trace_selection_is_a_filter_that_selects_the_trace() -> None:
    """The manifest's selection for a trace is a valid filter that picks exactly that trace's records, even
    for an id with quotes, backslashes and markup."""
    from auditview.core.query import compile_filter

    hostile = 'a"b\\c[bold]x[/]'
    frame = make_frame([{"trace_id": hostile, "start_ms": 0}, {"trace_id": "other", "start_ms": 1}])
    picked = compile_filter(trace_selection(hostile)).apply(frame)
    assert picked.height == 1
    assert picked["trace_id"][0] == hostile
    assert isinstance(frame, pl.DataFrame)

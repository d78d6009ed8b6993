"""The traces screen and its virtual list: sorting, cursor keys, opening a trace, live growth, hostile ids."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
from textual.widgets import Static

from auditview.core.traces import TRACE_SUMMARY_SCHEMA
from auditview.tui.messages import ExportRequested, TraceOpened
from auditview.tui.screens.traces import TracesScreen
from auditview.tui.screenshots import ScreenHost
from auditview.tui.widgets.trace_list import TraceList
from tests.engine.frames import BASE, make_frame
from tests.tui.app_fixtures import wait_for_workers

HOSTILE_TRACE = "[red]t[/]\x1b[2J\u202eevil"


def _records() -> list[dict[str, Any]]:
    """Three traces: "short" (newest, 1 step), "long" (2 min, a failure), "mid" (20 s, a slow step)."""
    return [
        {"trace_id": "long", "start_ms": 0, "duration_ms": 1_000, "tool": "deployctl", "command": "apply"},
        {"trace_id": "long", "start_ms": 110_000, "duration_ms": 10_000, "tool": "verifyctl", "exit_code": 1},
        {"trace_id": "mid", "start_ms": 5_000, "duration_ms": 20_000, "tool": "dbctl", "command": "migrate"},
        {"trace_id": "short", "start_ms": 9_000, "duration_ms": 50, "tool": "featureflags", "command": "get"},
    ]


async def _settled(pilot: Any) -> None:
    await pilot.pause()
    await wait_for_workers(pilot.app)
    await pilot.pause()


async def test_sort_cycles_and_reverses() -> None:
    """Newest first by default; ``o`` sorts by span (longest first), ``O`` reverses it."""
    app = ScreenHost(TracesScreen(make_frame(_records())))
    async with app.run_test(size=(100, 20)) as pilot:
        await _settled(pilot)
        traces = app.screen.query_one(TraceList)
        assert traces.trace_ids == ["short", "mid", "long"]
        await pilot.press("o")
        assert traces.sort_column.label == "span"
        assert traces.trace_ids == ["long", "mid", "short"]
        assert "span▼" in traces.render_line(0).text
        await pilot.press("O")
        assert traces.trace_ids == ["short", "mid", "long"]
        assert "span▲" in traces.render_line(0).text
        await pilot.press("o", "o")  # steps, then failures
        assert traces.sort_column.label == "fail"
        assert traces.trace_ids[0] == "long"


async def test_cursor_keys_enter_and_export() -> None:
    """Down/up/end/home move the cursor; enter posts ``TraceOpened`` and ``x`` ``ExportRequested`` for it."""
    app = ScreenHost(TracesScreen(make_frame(_records())))
    async with app.run_test(size=(100, 20)) as pilot:
        await _settled(pilot)
        traces = app.screen.query_one(TraceList)
        assert traces.selected_trace_id == "short"
        await pilot.press("down")
        assert traces.selected_trace_id == "mid"
        await pilot.press("end")
        assert traces.selected_trace_id == "long"
        await pilot.press("up", "enter", "home", "x")
        await pilot.pause()
        assert [m.trace_id for m in app.received if isinstance(m, TraceOpened)] == ["mid"]
        assert [m.trace_id for m in app.received if isinstance(m, ExportRequested)] == ["short"]
        info = str(app.screen.query_one("#traces-info", Static).content)
        assert "short" in info
        assert "featureflags" in info


async def test_jump_to_failed_and_slow_traces() -> None:
    """``e`` jumps to the next trace with a failed step, ``s`` to the next one with a slow step."""
    app = ScreenHost(TracesScreen(make_frame(_records())))
    async with app.run_test(size=(100, 20)) as pilot:
        await _settled(pilot)
        traces = app.screen.query_one(TraceList)
        await pilot.press("e")
        assert traces.selected_trace_id == "long"
        await pilot.press("E")  # nothing above "long" failed: the cursor stays
        assert traces.selected_trace_id == "long"
        await pilot.press("home", "s")
        assert traces.selected_trace_id == "mid"  # 20 s is over the 5 s threshold


async def test_live_refresh_keeps_the_selected_trace() -> None:
    """A newer frame with new traces and steps keeps the cursor on the same trace id, wherever it moved."""
    records = _records()
    app = ScreenHost(TracesScreen(make_frame(records)))
    async with app.run_test(size=(100, 20)) as pilot:
        await _settled(pilot)
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        traces = screen.trace_list
        await pilot.press("down")
        assert traces.selected_trace_id == "mid"
        grown = [
            *records,
            {"trace_id": "newer-1", "start_ms": 50_000, "duration_ms": 10},
            {"trace_id": "newer-2", "start_ms": 60_000, "duration_ms": 10},
            {"trace_id": "mid", "start_ms": 30_000, "duration_ms": 10},
        ]
        screen.update_frame(make_frame(grown))
        await _settled(pilot)
        assert traces.trace_ids[:2] == ["newer-2", "newer-1"]
        assert traces.selected_trace_id == "mid"
        assert traces.cursor == 3
        assert traces.row(traces.cursor) is not None
        assert "5 traces" in str(screen.query_one("#traces-title", Static).content)


async def test_hostile_trace_id_is_shown_literally() -> None:
    """Markup, escape sequences and a bidi override in a trace id reach the screen as visible text."""
    records = [{"trace_id": HOSTILE_TRACE, "start_ms": 0, "duration_ms": 10, "tool": "[b]tool[/]"}]
    app = ScreenHost(TracesScreen(make_frame(records)))
    async with app.run_test(size=(140, 20)) as pilot:
        await _settled(pilot)
        traces = app.screen.query_one(TraceList)
        row = traces.render_line(1).text
        assert "[red]t[/]\\x1b[2J\\u{202e}evil" in row
        assert "[b]tool[/]" in row
        assert "\x1b" not in row
        await pilot.press("enter")
        assert [m.trace_id for m in app.received if isinstance(m, TraceOpened)] == [HOSTILE_TRACE]
        assert app.is_running


async def test_empty_view_says_so() -> None:
    """A view without records shows a message instead of rows, and enter does nothing."""
    app = ScreenHost(TracesScreen(pl.DataFrame()))
    async with app.run_test(size=(80, 10)) as pilot:
        await _settled(pilot)
        traces = app.screen.query_one(TraceList)
        assert "no traces" in traces.render_line(1).text
        await pilot.press("enter", "down", "o", "e")
        assert not [m for m in app.received if isinstance(m, TraceOpened)]


async def test_large_list_renders_only_visible_rows() -> None:
    """90k traces mount and scroll to the end while the list holds only a few blocks of rows in Python."""
    count = 90_000
    summaries = pl.DataFrame(
        {
            "trace_id": [f"trace-{i:06d}" for i in range(count)],
            "start": pl.datetime_range(
                BASE, BASE + timedelta(seconds=count - 1), "1s", eager=True, time_zone="UTC"
            ),
            "end": pl.datetime_range(
                BASE, BASE + timedelta(seconds=count - 1), "1s", eager=True, time_zone="UTC"
            ),
            "span_ms": [float(i % 1000) for i in range(count)],
            "steps": [3] * count,
            "failed": [1 if i % 100 == 0 else 0 for i in range(count)],
            "slow": [0] * count,
            "slowest_ms": [1.0] * count,
            "slowest_tool": ["deployctl"] * count,
            "slowest_command": ["apply"] * count,
            "slowest_request_id": ["r"] * count,
            "tools": [["deployctl"]] * count,
            "operators": [["alice"]] * count,
        }
    ).cast(TRACE_SUMMARY_SCHEMA)  # type: ignore[arg-type]
    traces = TraceList(summaries)
    app = ScreenHost(TracesScreen(pl.DataFrame()))
    async with app.run_test(size=(100, 30)) as pilot:
        await _settled(pilot)
        await app.screen.mount(traces, before="#traces-info")
        traces.focus()
        await pilot.pause()
        await pilot.press("end")
        assert traces.selected_trace_id == "trace-000000"  # newest first: the oldest is last
        await pilot.press("E")
        assert traces.selected_trace_id == "trace-000100"
        assert traces.cached_row_count <= 4 * 64

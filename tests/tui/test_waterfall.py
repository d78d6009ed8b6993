"""The trace waterfall: pure layout functions at known widths, then the widget driven with Pilot."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static

from auditview.core.timeline import (
    Gap,
    Timeline,
    TimelineStep,
    build_timeline,
    display_order,
    display_rows,
)
from auditview.text.humanize import format_duration
from auditview.tui.messages import ExportRequested, RecordDetailRequested
from auditview.tui.screens.timeline import TimelineScreen
from auditview.tui.screenshots import ScreenHost
from auditview.tui.widgets.waterfall import (
    HEADER_LINES,
    Waterfall,
    axis_ticks,
    bar_glyphs,
    place_label,
)
from tests.engine.frames import make_frame

HOSTILE_TOOL = "[b]x[/]"
HOSTILE_COMMAND = "\x1b[31m[@click=app.quit]q\x1b]0;t\x07\u202eevil"


def _records() -> list[dict[str, Any]]:
    """One trace: a root run with nested steps, a failure, a slow step, an idle gap, then a late step."""
    common = {"trace_id": "t1"}
    return [
        {**common, "start_ms": 0, "duration_ms": 60_000, "tool": "agent", "command": "run",
         "request_id": "root"},
        {**common, "start_ms": 1_000, "duration_ms": 12_000, "tool": "deployctl", "command": "apply",
         "request_id": "apply", "parent_request_id": "root"},
        {**common, "start_ms": 2_000, "duration_ms": 3_000, "tool": "deployctl", "command": "render",
         "request_id": "render", "parent_request_id": "apply"},
        {**common, "start_ms": 15_000, "duration_ms": 4_000, "tool": "verifyctl", "command": "check",
         "request_id": "check", "parent_request_id": "root", "exit_code": 2, "ok": False},
        {**common, "start_ms": 20_000, "duration_ms": 500, "tool": HOSTILE_TOOL, "command": HOSTILE_COMMAND,
         "request_id": "hostile", "parent_request_id": "root"},
        {**common, "start_ms": 70_000, "duration_ms": 10_000, "tool": "rollbackctl", "command": "undo",
         "request_id": "undo", "exit_code": 1, "ok": False},
    ]  # fmt: skip


def _timeline() -> Timeline:
    return build_timeline(make_frame(_records()), "t1")


def _step(
    request_id: str, start: float, end: float, *, depth: int = 0, parent: str | None = None
) -> TimelineStep:
    return TimelineStep(
        request_id=request_id, parent_request_id=parent, depth=depth, tool="t", command=request_id,
        start_ms=start, duration_ms=end - start, end_ms=end, exit_code=0, ok=True, failed=False,
        slow_reason=None, on_critical_path=False, operator="op", file_id=0, offset=0, length=1,
    )  # fmt: skip


def _lines(waterfall: Waterfall) -> list[str]:
    return [waterfall.render_line(y).text for y in range(waterfall.size.height)]


# --- pure layout ---------------------------------------------------------------------------------------


def test_bar_glyphs_whole_cells() -> None:
    """A bar over the first half of the window fills the first half of the cells with full blocks."""
    bar = bar_glyphs(0, 50, 0, 100, 10)
    assert (bar.start, bar.text, bar.lead_reversed) == (0, "█████", False)


def test_bar_glyphs_eighth_precision_at_both_ends() -> None:
    """A bar starting 2/8 into a cell starts reversed-2/8; one ending 3/8 in ends with a 3/8 block."""
    start = bar_glyphs(12.5, 50, 0, 100, 10)
    assert (start.start, start.text, start.lead_reversed) == (1, "▎███", True)
    end = bar_glyphs(0, 43.75, 0, 100, 10)
    assert (end.start, end.text, end.lead_reversed) == (0, "████▍", False)


def test_bar_glyphs_tiny_step_stays_visible() -> None:
    """A step far shorter than a cell still shows as one eighth block at its start."""
    bar = bar_glyphs(50, 50.001, 0, 100, 10)
    assert (bar.start, bar.text) == (5, "▏")


def test_bar_glyphs_outside_and_clipped() -> None:
    """Bars outside the window become edge arrows; bars wider than the window are clipped on both sides."""
    before = bar_glyphs(0, 10, 50, 100, 10)
    assert (before.start, before.text, before.before) == (0, "◂", True)
    after = bar_glyphs(120, 130, 50, 100, 10)
    assert (after.start, after.text, after.after) == (9, "▸", True)
    clipped = bar_glyphs(0, 100, 25, 75, 8)
    assert (clipped.start, clipped.text, clipped.clipped_left, clipped.clipped_right) == (
        0,
        "█" * 8,
        True,
        True,
    )


def test_axis_ticks_pick_a_nice_step() -> None:
    """A minute over 60 cells gets a tick every 10 s, labelled, at the matching cells."""
    ticks = axis_ticks(0, 60_000, 60)
    assert [tick.label for tick in ticks] == ["0", "10s", "20s", "30s", "40s", "50s", "1m"]
    assert [tick.cell for tick in ticks] == [0, 10, 20, 30, 40, 50, 59]


def test_axis_ticks_follow_the_zoom_window() -> None:
    """A zoomed window [1 s, 2 s] over 50 cells gets 200 ms ticks labelled from the trace start."""
    ticks = axis_ticks(1_000, 2_000, 50)
    assert [tick.label for tick in ticks] == ["1.0s", "1.2s", "1.4s", "1.6s", "1.8s", "2.0s"]
    assert [tick.cell for tick in ticks] == [0, 10, 20, 30, 40, 49]
    late = axis_ticks(90_000, 91_000, 50)
    assert [tick.label for tick in late][:3] == ["1m30.0s", "1m30.2s", "1m30.4s"]


def test_place_label_after_before_inside_and_cut() -> None:
    """A label goes after the bar, else before it, else over a wide bar, else cut to the larger side."""
    assert (place_label(0, 5, 4, 20).cell, place_label(0, 5, 4, 20).inside) == (6, False)
    assert place_label(10, 18, 5, 20).cell == 4
    inside = place_label(0, 20, 6, 20)
    assert (inside.cell, inside.length, inside.inside) == (0, 6, True)
    cut = place_label(3, 6, 30, 20)
    assert (cut.cell, cut.length) == (7, 13)


def test_format_duration_units() -> None:
    """Durations read like the records table's: ms below a second, seconds, then minutes and hours."""
    assert [format_duration(ms) for ms in (0.35, 4.25, 850, 4_210, 12_400, 192_000, 3_900_000)] == [
        "0.35ms", "4.2ms", "850ms", "4.21s", "12.4s", "3m12s", "1h05m",
    ]  # fmt: skip


def test_display_order_puts_children_under_their_parent() -> None:
    """A child that starts after an unrelated top-level step is still listed right under its parent."""
    steps = [
        _step("parent", 0, 100),
        _step("other", 10, 20),
        _step("child", 30, 40, depth=1, parent="parent"),
    ]
    assert [steps[i].request_id for i in display_order(steps)] == ["parent", "child", "other"]


def test_display_rows_places_gaps_before_the_step_that_ends_them() -> None:
    """Each gap row sits just before the step named by its ``before_request_id``."""
    steps = [_step("a", 0, 10), _step("b", 15, 20), _step("c", 30, 40)]
    gaps = [Gap(10, 15, 5, "a", "b"), Gap(20, 30, 10, "b", "c")]
    rows = display_rows(steps, gaps)
    kinds = [
        (row.kind, row.step if row.kind == "step" else row.gap.duration_ms if row.gap else None)
        for row in rows
    ]
    assert kinds == [("step", 0), ("gap", 5), ("step", 1), ("gap", 10), ("step", 2)]


# --- the widget ------------------------------------------------------------------------------------------


async def test_rows_show_gaps_nesting_and_markers() -> None:
    """The rendered rows show the idle gap with its duration, indented children and failure glyphs."""
    app = ScreenHost(TimelineScreen(_timeline()))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        waterfall = app.screen.query_one(Waterfall)
        lines = _lines(waterfall)
        body = lines[HEADER_LINES:]
        assert any("┄ idle" in line and "10s idle" in line for line in body)  # 60 s → 70 s
        apply_line = next(line for line in body if "deployctl apply" in line)
        render_line = next(line for line in body if "deployctl render" in line)
        root_line = next(line for line in body if "agent run" in line)
        label_column = root_line.index("agent run")
        assert apply_line.index("deployctl apply") == label_column + 2
        assert render_line.index("deployctl render") == label_column + 4
        check_line = next(line for line in body if "verifyctl check" in line)
        assert check_line[1] == "✗"
        assert "✗ exit 2" in check_line
        assert "┬" in lines[1]
        assert lines[0].split()[:2] == ["step", "0"]


async def test_hostile_fields_render_literally() -> None:
    """Markup, escape sequences and bidi overrides in a step are shown as visible text; the app stays up."""
    app = ScreenHost(TimelineScreen(_timeline()))
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.pause()
        text = "\n".join(_lines(app.screen.query_one(Waterfall)))
        assert "[b]x[/] \\x1b[31m[@click=app.quit]q\\x1" in text  # the label column cuts the rest
        assert "\x1b" not in text
        assert "\u202e" not in text
        await pilot.press("down", "down", "down", "down")
        info = str(app.screen.query_one("#timeline-step", Static).content)
        assert "[b]x[/] \\x1b[31m[@click=app.quit]q\\x1b]0;t\\x07\\u{202e}evil" in info
        await pilot.press("enter")
        assert app.is_running


async def test_zoom_and_pan_change_the_window() -> None:
    """``+`` halves the window around the cursor step, ``l``/``h`` pan by a quarter, ``-`` and ``0`` widen."""
    app = ScreenHost(TimelineScreen(_timeline()))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        waterfall = app.screen.query_one(Waterfall)
        full = waterfall.full_span
        assert (waterfall.view_start, waterfall.view_end) == (0.0, full)
        await pilot.press("plus")
        assert waterfall.view_end - waterfall.view_start == pytest.approx(full / 2)
        assert waterfall.view_start == pytest.approx(30_000 - full / 4)  # around the root step's centre
        await pilot.press("l")
        assert waterfall.view_start == pytest.approx(30_000 - full / 4 + full / 8)
        await pilot.press("h", "h", "h", "h")
        assert waterfall.view_start == 0.0  # clamped at the trace start
        header = waterfall.render_line(0).text
        await pilot.press("minus")
        assert (waterfall.view_start, waterfall.view_end) == (0.0, full)
        assert waterfall.render_line(0).text != header  # the axis follows the window
        await pilot.press("plus", "plus", "0")
        assert (waterfall.view_start, waterfall.view_end) == (0.0, full)


async def test_zoom_to_step_and_off_window_arrows() -> None:
    """``z`` fits the window to the cursor step; steps outside the window are shown as edge arrows."""
    app = ScreenHost(TimelineScreen(_timeline()))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        waterfall = app.screen.query_one(Waterfall)
        await pilot.press("down", "down", "z")  # deployctl render: 2 s → 5 s
        assert waterfall.cursor_step is not None
        assert waterfall.cursor_step.request_id == "render"
        assert waterfall.view_start < 2_000 < 5_000 < waterfall.view_end
        assert waterfall.view_end - waterfall.view_start < 4_000
        undo_line = next(line for line in _lines(waterfall) if "rollbackctl undo" in line)
        assert "▸" in undo_line


async def test_jump_to_slow_and_failed_steps() -> None:
    """``s``/``S`` and ``e``/``E`` move the cursor to the next and previous slow or failed step."""
    app = ScreenHost(TimelineScreen(_timeline()))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        waterfall = app.screen.query_one(Waterfall)

        def at() -> str:
            assert waterfall.cursor_step is not None
            return str(waterfall.cursor_step.request_id)

        await pilot.press("s")  # root (60 s) is slow itself; the next slow step is apply (12 s)
        assert at() == "apply"
        await pilot.press("s")
        assert at() == "undo"
        await pilot.press("S")
        assert at() == "apply"
        await pilot.press("e")
        assert at() == "check"
        await pilot.press("e")
        assert at() == "undo"
        await pilot.press("E")
        assert at() == "check"


async def test_enter_asks_for_the_step_detail_and_x_for_an_export() -> None:
    """Enter posts ``RecordDetailRequested`` with the step's location; ``x`` asks to export the trace."""
    timeline = _timeline()
    app = ScreenHost(TimelineScreen(timeline))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter", "x")
        await pilot.pause()
        apply = next(step for step in timeline.steps if step.request_id == "apply")
        details = [m for m in app.received if isinstance(m, RecordDetailRequested)]
        assert [(m.file_id, m.offset, m.length) for m in details] == [
            (apply.file_id, apply.offset, apply.length)
        ]
        assert [m.trace_id for m in app.received if isinstance(m, ExportRequested)] == ["t1"]


async def test_live_update_keeps_the_cursor_step() -> None:
    """When the trace grows, the cursor stays on the same request and the new step appears."""
    records = _records()
    app = ScreenHost(TimelineScreen(build_timeline(make_frame(records), "t1")))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        await pilot.press("e")
        grown = [*records, {"trace_id": "t1", "start_ms": 500, "duration_ms": 100, "request_id": "early"}]
        screen.update_timeline(build_timeline(make_frame(grown), "t1"))
        await pilot.pause()
        assert screen.waterfall.cursor_step is not None
        assert screen.waterfall.cursor_step.request_id == "check"
        assert any(step.request_id == "early" for step in screen.waterfall.step_order)


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_small_and_large_terminals_without_colour(
    size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80×24 and 200×50 under NO_COLOR the rows fit the width and failures still read by their glyph."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = ScreenHost(TimelineScreen(_timeline()))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert app.no_color
        waterfall = app.screen.query_one(Waterfall)
        lines = _lines(waterfall)
        assert all(len(line) == waterfall.scrollable_content_region.width for line in lines)
        failed_rows = [line for line in lines if line[1:2] == "✗"]
        assert len(failed_rows) == 2

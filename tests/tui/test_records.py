"""The records table widget: durations, marks, cursor bookkeeping and rendering only what is visible."""

from __future__ import annotations

import polars as pl

from auditview.text.humanize import format_duration
from auditview.tui.widgets.records import RecordKey, _duration_bar, _fit
from tests.tui.app_fixtures import MemoryIndex, feed, lines_of, memory_app, settle, standard_records


def test_format_duration_picks_a_readable_unit() -> None:
    """Durations read as ms, seconds, minutes or hours."""
    assert format_duration(850) == "850ms"
    assert format_duration(4210) == "4.21s"
    assert format_duration(123_000) == "2m03s"
    assert format_duration(3_900_000) == "1h05m"
    assert format_duration(None) == "-"


def test_duration_bar_is_log_scaled_and_bounded() -> None:
    """Longer durations get longer bars, never wider than the column."""
    bars = [_duration_bar(ms, 6) for ms in (5, 100, 1_000, 10_000, 10_000_000)]
    widths = [len(bar.rstrip()) for bar in bars]
    assert widths == sorted(widths)
    assert widths[0] == 0
    assert widths[-1] == 6
    assert all(len(bar) == 6 for bar in bars)


def test_fit_sanitizes_cuts_and_pads() -> None:
    """Cells are exactly as wide as asked, cut with an ellipsis, and free of control characters."""
    assert _fit("abc", 5) == "abc  "
    assert _fit("abc", 5, right=True) == "  abc"
    assert _fit("abcdefgh", 5) == "abcd…"
    assert "\x1b" not in _fit("\x1b[31m", 10)


async def test_only_visible_rows_are_formatted() -> None:
    """With 5,000 records the table formats a window around the screen, not the whole frame."""
    index = MemoryIndex(lines_of(standard_records(5_000)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        table = app.records
        assert table.row_count == 5_000
        assert len(table._window) <= 3 * table.scrollable_content_region.height
        assert table.render_line(table.scrollable_content_region.height - 1).text.strip()


async def test_marks_toggle_and_survive_new_frames() -> None:
    """Space marks and unmarks by source location, so marks survive a refiltered frame."""
    index = MemoryIndex(lines_of(standard_records(10)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        await pilot.press("g", "space")
        first = app.records.key_at(0)
        assert first is not None
        assert app.records.marked == {first}
        assert "●" in app.records.render_line(1).text
        app.records.show_frame(app.view.filter(pl.col("exit_code") == 0))
        assert isinstance(first, RecordKey)
        assert first in app.records.marked
        await pilot.press("g", "space")
        assert app.records.marked == set()


async def test_failed_and_slow_rows_are_marked_with_glyphs() -> None:
    """Failed rows start with ✗ and slow rows with ◷, so they read without colour."""
    index = MemoryIndex(lines_of(standard_records(12)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        app.records.move_cursor(0)
        assert app.records.render_line(1 + 3).text.startswith("✗")
        assert app.records.render_line(1 + 5).text.startswith("◷")
        assert app.records.render_line(1 + 0).text.startswith(" ")

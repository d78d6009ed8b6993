"""Pilot tests of the main view: keys, filter, search, detail, rejects, help, export, time range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditview.launch import AppOptions
from auditview.tui.app import create_app
from auditview.tui.screens.detail import DetailScreen
from auditview.tui.screens.export import ExportDialog
from auditview.tui.screens.help import HelpScreen
from auditview.tui.screens.rejects import RejectsScreen
from auditview.tui.screens.timeline import TimelineScreen
from auditview.tui.screens.traces import TracesScreen
from tests.tui.app_fixtures import (
    MemoryIndex,
    feed,
    frozen_clock,
    lines_of,
    memory_app,
    settle,
    standard_records,
)

SAMPLES = str(Path(__file__).resolve().parents[2] / "sample_logs")


async def test_cursor_keys_move_through_records() -> None:
    """g/G/j/k and PgDn move the cursor; the view follows the newest record by default."""
    index = MemoryIndex(lines_of(standard_records(60)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        table = app.records
        assert table.row_count == 60
        assert table.cursor == 59
        assert table.following
        await pilot.press("g")
        assert table.cursor == 0
        assert not table.following
        await pilot.press("j", "j", "k")
        assert table.cursor == 1
        await pilot.press("pagedown")
        assert table.cursor > 10
        await pilot.press("G")
        assert table.cursor == 59
        assert table.following


async def test_failure_and_slow_jumps() -> None:
    """e/E jump between failed records and s/S between slow ones."""
    index = MemoryIndex(lines_of(standard_records(60)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        table = app.records
        await pilot.press("g", "e")
        assert table.cursor == 3  # number % 7 == 3 fails
        await pilot.press("e")
        assert table.cursor == 10
        await pilot.press("E")
        assert table.cursor == 3
        await pilot.press("s")
        assert table.cursor == 5  # number % 11 == 5 takes 9 s
        assert bool(app.view["slow"][5])
        await pilot.press("s", "S")
        assert table.cursor == 5


async def test_filter_narrows_the_view_and_errors_point_at_the_position() -> None:
    """A valid filter narrows the records; an invalid one shows an error with a caret and keeps the view."""
    index = MemoryIndex(lines_of(standard_records(60)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        await pilot.press("slash")
        assert app.filter_bar.input.has_focus
        app.filter_bar.input.value = "exit_code!=0"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.view.height == sum(1 for n in range(60) if n % 7 == 3)
        assert app.status.shown == app.view.height
        assert app.status.total == 60
        assert app.records.has_focus
        await pilot.press("slash")
        app.filter_bar.input.value = "exit_code!=0 and ("
        await pilot.press("enter")
        await settle(app, pilot)
        message = str(app.filter_bar.query_one("#filter-message").render())
        assert "^" in message
        assert app.filter_bar.has_class("-error")
        assert app.view.height == 9
        assert app.filter_text == "exit_code!=0"


async def test_search_highlights_matches_and_n_jumps() -> None:
    """f searches without narrowing; n/N move between the matches."""
    index = MemoryIndex(lines_of(standard_records(60)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        await pilot.press("g", "f")
        app.filter_bar.input.value = "command=migrate"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.view.height == 60
        assert app.records.cursor == 2  # numbers 2, 6, 10 ... run migrate
        await pilot.press("n")
        assert app.records.cursor == 6
        await pilot.press("N")
        assert app.records.cursor == 2


async def test_detail_shows_the_raw_line_and_source() -> None:
    """Enter opens the record's JSON with file and line; c copies the exact raw line."""
    lines = lines_of(standard_records(10))
    index = MemoryIndex(lines)
    app = memory_app(index)
    async with app.run_test(size=(100, 40)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        await pilot.press("g", "j", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.raw == lines[1]
        assert "mem/audit.jsonl:2" in str(app.screen.query_one("#detail-header").render())
        assert '"request_id": "req-0001"' in str(app.screen.query_one("#detail-json").render())
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign,assignment]
        await pilot.press("c")
        assert copied == [lines[1].decode()]
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_rejects_and_help_screens_open() -> None:
    """r lists the malformed lines with their reason; ? shows the keys."""
    lines = [*lines_of(standard_records(5)), b"{not json", b'{"tool": "x"}']
    index = MemoryIndex(lines)
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        assert app.status.rejects == 2
        await pilot.press("r")
        assert isinstance(app.screen, RejectsScreen)
        table = app.screen.query_one("#rejects-table")
        assert table.row_count == 2  # type: ignore[attr-defined]
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "next failed record (✗)" in app.screen.text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_time_range_dialog_narrows_and_rejects_bad_input() -> None:
    """w opens the time range; a bad WHEN is reported, a good one narrows the view."""
    index = MemoryIndex(lines_of(standard_records(60)))
    app = memory_app(index)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        await pilot.press("w")
        app.screen.query_one("#since").value = "yesterdayish"  # type: ignore[attr-defined]
        await pilot.press("enter")
        assert "bad time" in str(app.screen.query_one("#range-message").render())
        app.screen.query_one("#since").value = "2026-11-20T09:00:30Z"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.view.height == 30
        assert "since 2026-11-20T09:00:30Z" in str(app.filter_bar.query_one("#filter-range").render())


async def test_export_writes_the_selected_lines_byte_for_byte(tmp_path: Path) -> None:
    """x exports the filtered records through the engine, byte-identical, and will not overwrite silently."""
    app = create_app(
        AppOptions(paths=[SAMPLES], follow=False, filter_text="exit_code!=0"), clock=frozen_clock
    )
    target = tmp_path / "out.jsonl"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.view.height > 0
        await pilot.press("x")
        assert isinstance(app.screen, ExportDialog)
        assert app.screen.query_one("#export-path").value == "auditview-export-20261120T100000Z.jsonl"  # type: ignore[attr-defined]
        app.screen.query_one("#export-path").value = str(target)  # type: ignore[attr-defined,unused-ignore]
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert not isinstance(app.screen, ExportDialog)
        assert app.index is not None
        expected = b"".join(
            app.index.raw_line(f, o, n) + b"\n"
            for f, o, n in app.view.select("file_id", "offset", "length").iter_rows()
        )
        assert target.read_bytes() == expected
        assert all(json.loads(line)["exit_code"] != 0 for line in target.read_bytes().splitlines())
        await pilot.press("x")
        app.screen.query_one("#export-path").value = str(target)
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert isinstance(app.screen, ExportDialog)
        assert "exists" in str(app.screen.query_one("#export-message").render())


async def test_marked_records_export(tmp_path: Path) -> None:
    """Space marks records; the export dialog then offers (and defaults to) just those."""
    app = create_app(AppOptions(paths=[SAMPLES], follow=False), clock=frozen_clock)
    target = tmp_path / "marked.jsonl"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("g", "space", "space", "j", "space")
        assert len(app.records.marked) == 3
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        assert dialog.scope == "marked"
        dialog.query_one("#export-path").value = str(target)  # type: ignore[attr-defined]
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert app.index is not None
        rows = app.view.slice(0, 2).vstack(app.view.slice(3, 1))
        expected = b"".join(
            app.index.raw_line(f, o, n) + b"\n"
            for f, o, n in rows.select("file_id", "offset", "length").iter_rows()
        )
        assert target.read_bytes() == expected


async def test_traces_screen_and_timeline_open_from_the_app() -> None:
    """t opens the traces list; enter on a trace opens its timeline; escape goes back."""
    app = create_app(AppOptions(paths=[SAMPLES], follow=False), clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        assert isinstance(app.screen, TracesScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TimelineScreen)
        await pilot.press("escape", "escape")
        assert app.screen is app.screen_stack[0]


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_loads_the_samples_at_small_and_large_sizes(size: tuple[int, int]) -> None:
    """The samples load completely (607 records, 5 rejects, 1 field warning) and the status bar says so at
    80×24 and 200×50."""
    app = create_app(AppOptions(paths=[SAMPLES], follow=False), clock=frozen_clock)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        assert app.status.total == 607
        assert app.status.rejects == 5
        assert app.status.field_warnings == 1
        assert "607 / 607 records" in str(app.status.render())


async def test_quit_key_exits() -> None:
    """q quits the app."""
    index = MemoryIndex(lines_of(standard_records(3)))
    app = memory_app(index)
    async with app.run_test() as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)
    assert not app.is_running


async def test_export_toggles_show_their_state_as_text(tmp_path: Path) -> None:
    """The export scopes read "(•)" / "( )" and the manifest checkbox "[ ]" / "[x]", not by colour alone."""
    from auditview.tui.widgets.toggles import TextCheckbox, TextRadioButton

    index = MemoryIndex(lines_of(standard_records(12)))
    app = memory_app(index)
    async with app.run_test(size=(100, 40)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        await pilot.press("space", "x")
        await settle(app, pilot)
        buttons = {str(b.id): str(b.render()) for b in app.screen.query(TextRadioButton)}
        assert buttons["scope-marked"].startswith("(•)")
        assert buttons["scope-filtered"].startswith("( )")
        box = app.screen.query_one(TextCheckbox)
        assert str(box.render()).startswith("[ ]")
        box.value = True
        assert str(box.render()).startswith("[x]")

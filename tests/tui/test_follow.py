"""Live follow: appended records arrive on screen; scrolled up, the view stays put and counts them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from auditview.launch import AppOptions
from auditview.tui.app import AuditViewApp, create_app
from tests.tui.app_fixtures import frozen_clock, lines_of, record, standard_records


async def _wait_for(pilot: Any, condition: Any, timeout: float = 5.0) -> None:
    """Let the app run until ``condition()`` holds (the loader polls the file in a thread)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("ab") as out:
        out.write(b"".join(line + b"\n" for line in lines_of(records)))


async def test_appended_records_arrive_and_are_followed(tmp_path: Path) -> None:
    """Lines appended to the log show up in the table, and the cursor stays on the newest record."""
    log = tmp_path / "audit.jsonl"
    _write(log, standard_records(20))
    app: AuditViewApp = create_app(AppOptions(paths=[str(log)]), clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await _wait_for(pilot, lambda: app.records.row_count == 20)
        _write(log, [record(100 + n, command="late-arrival") for n in range(5)])
        await _wait_for(pilot, lambda: app.records.row_count == 25)
        assert app.records.cursor == 24
        assert app.records.following
        assert app.view["command"].cast(str).to_list()[-5:] == ["late-arrival"] * 5
        assert "● following" in str(app.status.render())


async def test_scrolled_up_view_stays_put_and_counts_new(tmp_path: Path) -> None:
    """Scrolled up, new records do not move the cursor off its record; the status says N new until G."""
    log = tmp_path / "audit.jsonl"
    _write(log, standard_records(40))
    app = create_app(AppOptions(paths=[str(log)]), clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await _wait_for(pilot, lambda: app.records.row_count == 40)
        await pilot.press("g", "j", "j")
        key = app.records.key_at(app.records.cursor)
        _write(log, [record(200 + n) for n in range(7)])
        await _wait_for(pilot, lambda: app.records.row_count == 47)
        assert app.records.key_at(app.records.cursor) == key
        assert not app.records.following
        assert app.records.unseen == 7
        assert "7 new" in str(app.status.render())
        await pilot.press("G")
        assert app.records.following
        assert app.records.cursor == 46
        assert "following" in str(app.status.render())


async def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    """A line written in two pieces appears once, when its newline arrives."""
    log = tmp_path / "audit.jsonl"
    _write(log, standard_records(3))
    app = create_app(AppOptions(paths=[str(log)]), clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await _wait_for(pilot, lambda: app.records.row_count == 3)
        line = lines_of([record(50, command="split")])[0]
        with log.open("ab") as out:
            out.write(line[:20])
        await pilot.pause(0.4)
        assert app.records.row_count == 3
        assert app.status.rejects == 0
        with log.open("ab") as out:
            out.write(line[20:] + b"\n")
        await _wait_for(pilot, lambda: app.records.row_count == 4)
        assert app.status.rejects == 0


async def test_rotation_is_followed_and_shown_in_the_status_bar(tmp_path: Path) -> None:
    """After a rename rotation the new file's records arrive and the status bar names the event."""
    log = tmp_path / "audit.jsonl"
    _write(log, standard_records(10))
    app = create_app(AppOptions(paths=[str(tmp_path)]), clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await _wait_for(pilot, lambda: app.records.row_count == 10)
        log.rename(tmp_path / "audit.jsonl.1")
        _write(log, [record(300 + n, command="after-rotation") for n in range(4)])
        await _wait_for(pilot, lambda: app.records.row_count == 14)
        await _wait_for(pilot, lambda: "rotated" in app.status.event or "new file" in app.status.event)
        assert app.view["command"].cast(str).to_list().count("after-rotation") == 4

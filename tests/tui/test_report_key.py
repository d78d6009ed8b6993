"""The report key: ``r`` on a trace writes ``report-<trace>.md`` next to the exports and shows its path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditview.launch import AppOptions
from auditview.main import main
from auditview.tui.app import AuditViewApp, create_app
from auditview.tui.report_file import report_file_name
from auditview.tui.screens.export import ExportDialog
from auditview.tui.screens.timeline import TimelineScreen
from auditview.tui.screens.traces import TracesScreen
from tests.tui.app_fixtures import frozen_clock, settle

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
#: Failed and slow steps, a previous similar run and findings: every section of the report has content.
WITH_PREVIOUS = "agent-session-56-step-7"
_CREATED = re.compile(r'"created": "[^"]*"')


def _notes(app: AuditViewApp) -> list[str]:
    return [str(note.message) for note in app._notifications]


def test_report_file_names_are_safe() -> None:
    """A trace id becomes a file name without path separators, controls or a leading dot."""
    assert report_file_name("agent-session-55-step-8") == "report-agent-session-55-step-8.md"
    assert report_file_name("../../etc/passwd") == "report-etc_passwd.md"
    assert report_file_name("\x1b[2J/..") == "report-2J.md"
    assert report_file_name("...") == "report-trace.md"
    assert report_file_name("a", 3) == "report-a-3.md"
    assert len(report_file_name("x" * 500)) < 100


async def test_r_writes_the_report_and_shows_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no export yet, ``r`` on the traces list writes the Markdown report in the working directory
    (where the export dialog proposes to write), says where, and never overwrites: a second ``r`` on the
    timeline writes ``-2``."""
    monkeypatch.chdir(tmp_path)
    app = create_app(AppOptions(paths=[str(SAMPLES)], follow=False), clock=frozen_clock)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        trace_id = screen.trace_list.selected_trace_id
        assert trace_id is not None
        await pilot.press("r")
        await settle(app, pilot)
        path = tmp_path / report_file_name(trace_id)
        assert path.is_file()
        text = path.read_text(encoding="utf-8")
        assert trace_id in text
        for section in ("## Waterfall", "## Findings", "## Export manifest"):
            assert section in text
        assert any(str(path) in note for note in _notes(app))
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TimelineScreen)
        await pilot.press("r")
        await settle(app, pilot)
        assert (tmp_path / report_file_name(trace_id, 2)).is_file()
        assert path.read_text(encoding="utf-8") == text


async def test_the_report_goes_next_to_the_last_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an export to another directory, ``r`` writes the report there."""
    monkeypatch.chdir(tmp_path)
    target_dir = tmp_path / "exports"
    target_dir.mkdir()
    app = create_app(AppOptions(paths=[str(SAMPLES)], follow=False), clock=frozen_clock)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#export-path").value = str(target_dir / "out.jsonl")  # type: ignore[attr-defined]
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert app.export_dir == target_dir
        await pilot.press("t")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        trace_id = screen.trace_list.selected_trace_id
        assert trace_id is not None
        await pilot.press("r")
        await settle(app, pilot)
        assert (target_dir / report_file_name(trace_id)).is_file()
        assert not (tmp_path / report_file_name(trace_id)).exists()


async def test_the_report_file_is_what_auditview_report_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """The app's report of a trace is, byte for byte, the Markdown ``auditview report TRACE`` prints over the
    same logs (but the manifest's ``created`` time)."""
    monkeypatch.chdir(tmp_path)
    app = create_app(AppOptions(paths=[str(SAMPLES)], follow=False), clock=frozen_clock)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        assert screen.trace_list.select_trace(WITH_PREVIOUS)
        await pilot.press("r")
        await settle(app, pilot)
    written = (tmp_path / report_file_name(WITH_PREVIOUS)).read_text(encoding="utf-8")
    capsysbinary.readouterr()
    assert main(["report", WITH_PREVIOUS, str(SAMPLES)]) == 0
    printed = capsysbinary.readouterr().out.decode()
    for section in ("## Failed and slow steps", "then ", "## Findings", "## Export manifest"):
        assert section in printed
    assert _CREATED.sub("", written) == _CREATED.sub("", printed)

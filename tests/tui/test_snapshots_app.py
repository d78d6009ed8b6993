"""SVG snapshots of the app's own screens on ``sample_logs/``: fixed size, frozen clock, workers awaited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from auditview.launch import AppOptions
from auditview.tui.app import AuditViewApp, create_app
from tests.tui.app_fixtures import frozen_clock, settle

REPO = Path(__file__).resolve().parents[2]
#: Relative on purpose: screens show source paths, and snapshots must not depend on where the repo is cloned.
SAMPLES = "sample_logs"


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each snapshot from the repository root so that ``sample_logs`` resolves the same everywhere."""
    monkeypatch.chdir(REPO)


SnapCompare = Callable[..., bool]


def _app(**options: Any) -> AuditViewApp:
    return create_app(AppOptions(paths=[SAMPLES], follow=False, **options), clock=frozen_clock)


def _steady(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the index, press ``keys`` (waiting after each), stop cursor blinking."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AuditViewApp)
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
        for field in app.screen.query(Input):
            field.cursor_blink = False
        for field in app.screen_stack[0].query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run_before


class TestMainView:
    """The records view."""

    def test_samples_120x35(self, snap_compare: SnapCompare) -> None:
        """The samples open at the newest record with volume strip, glyphs and status bar."""
        assert snap_compare(_app(), terminal_size=(120, 35), run_before=_steady())

    def test_samples_80x24(self, snap_compare: SnapCompare) -> None:
        """At 80×24 the columns shrink but every column stays readable."""
        assert snap_compare(_app(), terminal_size=(80, 24), run_before=_steady("g", "e"))

    def test_samples_200x50(self, snap_compare: SnapCompare) -> None:
        """At 200×50 the time column shows the date too."""
        assert snap_compare(_app(), terminal_size=(200, 50), run_before=_steady("g", "s"))

    def test_filtered_failures(self, snap_compare: SnapCompare) -> None:
        """A filter from the command line narrows the view and the volume strip."""
        assert snap_compare(_app(filter_text="exit_code!=0"), terminal_size=(120, 35), run_before=_steady())

    def test_no_match_80x24(self, snap_compare: SnapCompare) -> None:
        """A filter that matches nothing says so in the table (not a blank table), at 80×24."""
        assert snap_compare(_app(filter_text="tool=nosuchtool"), terminal_size=(80, 24), run_before=_steady())

    def test_filter_error(self, snap_compare: SnapCompare) -> None:
        """An invalid filter shows a caret and the reason under the input."""

        async def run_before(pilot: Pilot[Any]) -> None:
            await _steady("slash")(pilot)
            app = pilot.app
            assert isinstance(app, AuditViewApp)
            app.filter_bar.input.value = "duration_ms > and"
            await pilot.press("enter")
            await settle(app, pilot)

        assert snap_compare(_app(), terminal_size=(120, 35), run_before=run_before)


class TestScreens:
    """Detail, help, rejects and the dialogs."""

    def test_detail(self, snap_compare: SnapCompare) -> None:
        """Enter shows the record's pretty JSON with file and line."""
        assert snap_compare(_app(), terminal_size=(120, 40), run_before=_steady("g", "enter"))

    def test_help(self, snap_compare: SnapCompare) -> None:
        """? lists the keys."""
        assert snap_compare(_app(), terminal_size=(120, 40), run_before=_steady("question_mark"))

    def test_help_timeline_80x24(self, snap_compare: SnapCompare) -> None:
        """? on a timeline lists the timeline's keys (zoom, pan, whole trace), long texts wrapping in their
        column."""
        assert snap_compare(
            _app(), terminal_size=(80, 24), run_before=_steady("t", "enter", "question_mark", "pagedown")
        )

    def test_rejects(self, snap_compare: SnapCompare) -> None:
        """r lists the six malformed sample lines."""
        assert snap_compare(_app(), terminal_size=(120, 35), run_before=_steady("r"))

    def test_reject_detail_80x24(self, snap_compare: SnapCompare) -> None:
        """Enter on a reject shows its whole reason and the raw line, escaped (here: not UTF-8)."""
        assert snap_compare(_app(), terminal_size=(80, 24), run_before=_steady("r", "j", "enter"))

    def test_export_dialog(self, snap_compare: SnapCompare) -> None:
        """x proposes a file name from the (frozen) clock and the scopes."""
        assert snap_compare(_app(), terminal_size=(120, 35), run_before=_steady("x"))

    def test_time_range_dialog(self, snap_compare: SnapCompare) -> None:
        """w opens since/until."""
        assert snap_compare(_app(), terminal_size=(120, 35), run_before=_steady("w"))


class TestNoColor:
    """Under ``NO_COLOR`` every state still reads as text: glyphs, markers, toggles."""

    def test_samples_no_color(self, snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch) -> None:
        """Failed (✗) and slow (◷) rows, the volume markers and the status bar read without colour."""
        monkeypatch.setenv("NO_COLOR", "1")
        assert snap_compare(_app(), terminal_size=(120, 35), run_before=_steady("g", "e"))

    def test_export_dialog_no_color(self, snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch) -> None:
        """The chosen export scope reads "(•)" and the others "( )"; the manifest box "[ ]"."""
        monkeypatch.setenv("NO_COLOR", "1")
        assert snap_compare(_app(), terminal_size=(120, 35), run_before=_steady("space", "x"))

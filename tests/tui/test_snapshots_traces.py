"""Snapshots of the traces list and the trace timeline on ``sample_logs/`` at fixed terminal sizes."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditview.core.timeline import build_timeline
from auditview.tui.screens.timeline import TimelineScreen
from auditview.tui.screens.traces import TracesScreen
from auditview.tui.screenshots import ScreenHost, load_samples
from tests.tui.app_fixtures import wait_for_workers

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
LONG_TRACE = "agent-session-55-step-8"  # 6m48s: a 5-minute failed deploy, slow steps, idle gaps, nesting


@cache
def _frame() -> pl.DataFrame:
    return load_samples(SAMPLES)


async def _settle(pilot: Any) -> None:
    await pilot.pause()
    await wait_for_workers(pilot.app)
    await pilot.pause()


class TestTracesSnapshots:
    """The traces list."""

    def test_traces_by_span(self, snap_compare: Any) -> None:
        """All sample traces, sorted by span (longest first), cursor on the top row."""

        async def run_before(pilot: Any) -> None:
            await _settle(pilot)
            await pilot.press("o", "g")
            await _settle(pilot)

        assert snap_compare(
            ScreenHost(TracesScreen(_frame())), terminal_size=(120, 30), run_before=run_before
        )

    def test_traces_small_terminal(self, snap_compare: Any) -> None:
        """The list at 80×24, newest first: the narrow layout keeps whole trace ids (no tools, no date)."""
        assert snap_compare(ScreenHost(TracesScreen(_frame())), terminal_size=(80, 24), run_before=_settle)

    def test_traces_small_terminal_by_failures(self, snap_compare: Any) -> None:
        """Sorted by failed steps at 80×24: the header shows ``fail▼`` whole, rows with failed and slow steps
        show ✗◷."""

        async def run_before(pilot: Any) -> None:
            await _settle(pilot)
            await pilot.press("o", "o", "o", "g")
            await _settle(pilot)

        assert snap_compare(ScreenHost(TracesScreen(_frame())), terminal_size=(80, 24), run_before=run_before)


class TestTimelineSnapshots:
    """The waterfall of the longest sample trace."""

    def test_timeline_whole_trace(self, snap_compare: Any) -> None:
        """The whole trace at 120×35 with the cursor on the 5-minute deploy (second slow step)."""
        screen = TimelineScreen(build_timeline(_frame(), LONG_TRACE))

        async def run_before(pilot: Any) -> None:
            await _settle(pilot)
            await pilot.press("s", "s")

        assert snap_compare(ScreenHost(screen), terminal_size=(120, 35), run_before=run_before)

    def test_timeline_zoomed(self, snap_compare: Any) -> None:
        """Zoomed in twice around the first failed step at 200×50: ticks in seconds, arrows for far steps."""
        screen = TimelineScreen(build_timeline(_frame(), LONG_TRACE))

        async def run_before(pilot: Any) -> None:
            await _settle(pilot)
            await pilot.press("e", "z")

        assert snap_compare(ScreenHost(screen), terminal_size=(200, 50), run_before=run_before)

    def test_timeline_no_color_small(self, snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """At 80×24 with NO_COLOR the glyphs carry the meaning."""
        monkeypatch.setenv("NO_COLOR", "1")
        screen = TimelineScreen(build_timeline(_frame(), LONG_TRACE))
        assert snap_compare(ScreenHost(screen), terminal_size=(80, 24), run_before=_settle)

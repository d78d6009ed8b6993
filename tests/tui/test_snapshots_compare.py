"""Snapshots of the incident views on ``sample_logs/``: runs compared, findings in list and waterfall."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditview.core.diff import RunDiff, diff_runs, previous_run
from auditview.core.timeline import build_timeline
from auditview.tui.finding_marks import trace_findings
from auditview.tui.screens.compare import CompareScreen
from auditview.tui.screens.timeline import TimelineScreen
from auditview.tui.screens.traces import TracesScreen
from auditview.tui.screenshots import ScreenHost, load_samples
from tests.tui.app_fixtures import wait_for_workers

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
#: 2m19s with a 2-minute failed deploy and a rollback; its previous similar run is carol's, 41.5 s, all ok.
COMPARED = "agent-session-56-step-7"
#: A long think gap and a new error code.
WITH_FINDINGS = "agent-session-56-step-1"


@cache
def _frame() -> pl.DataFrame:
    return load_samples(SAMPLES)


def _diff() -> RunDiff:
    previous = previous_run(_frame(), COMPARED)
    assert previous is not None
    return diff_runs(_frame(), previous.trace_id, COMPARED, previous=previous)


async def _settle(pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_for_workers(pilot.app)
    await pilot.pause()


class TestCompareSnapshots:
    """The compare screen."""

    def test_compare_with_previous_run(self, snap_compare: Any) -> None:
        """At 120×35, the cursor on the deploy (``n`` four times): 42× slower, exit 0 → 1, params changed."""

        async def run_before(pilot: Any) -> None:
            await _settle(pilot)
            await pilot.press("n", "n", "n", "n")
            await _settle(pilot)

        assert snap_compare(
            ScreenHost(CompareScreen(_diff())), terminal_size=(120, 35), run_before=run_before
        )

    def test_compare_no_color_small(self, snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """At 80×24 with NO_COLOR the marks (+ - ~ =) and glyphs carry the differences."""
        monkeypatch.setenv("NO_COLOR", "1")
        assert snap_compare(ScreenHost(CompareScreen(_diff())), terminal_size=(80, 24), run_before=_settle)


class TestFindingsSnapshots:
    """Findings in the traces list and in the waterfall."""

    def test_traces_with_findings(self, snap_compare: Any) -> None:
        """At 140×30 by span: ⚑ and the findings column; the cursor on the second trace with findings, whose
        first finding and reason the info line shows."""

        async def run_before(pilot: Any) -> None:
            await _settle(pilot)
            await pilot.press("o", "g", "n", "n")
            await _settle(pilot)

        assert snap_compare(
            ScreenHost(TracesScreen(_frame())), terminal_size=(140, 30), run_before=run_before
        )

    def test_timeline_with_findings(self, snap_compare: Any) -> None:
        """At 120×35: the findings listed under the title, ⚑ on their steps, the cursor on the first one."""
        screen = TimelineScreen(
            build_timeline(_frame(), WITH_FINDINGS), findings=trace_findings(_frame(), WITH_FINDINGS)
        )

        async def run_before(pilot: Any) -> None:
            await _settle(pilot)
            await pilot.press("n")

        assert snap_compare(ScreenHost(screen), terminal_size=(120, 35), run_before=run_before)

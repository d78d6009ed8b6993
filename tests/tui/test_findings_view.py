"""Findings in the app: the traces list's ⚑ and findings column, the waterfall's marks, the findings lines."""

from __future__ import annotations

from typing import Any

import polars as pl
from textual.widgets import Static

from auditview.core.findings import detect_findings
from auditview.core.timeline import build_timeline
from auditview.tui.finding_marks import (
    FINDING_GLYPH,
    finding_columns_of,
    join_findings,
    step_findings,
    trace_finding_columns,
    trace_findings,
)
from auditview.tui.screens.timeline import TimelineScreen
from auditview.tui.screens.traces import TracesScreen
from auditview.tui.screenshots import ScreenHost
from auditview.tui.widgets.trace_list import TraceList, column_layout
from auditview.tui.widgets.waterfall import Waterfall
from tests.engine.frames import make_frame
from tests.tui.app_fixtures import MemoryIndex, feed, lines_of, memory_app, record, settle, wait_for_workers

HOSTILE_COMMAND = "[@click=app.quit]q[/]\x1b[2J"


def _records(command: str = "apply") -> list[dict[str, Any]]:
    """ "loop": the same deploy failing twice, then succeeding (a retry loop), then a status; "calm": one
    status; "late": a newer, calm trace."""
    loop = [
        {"trace_id": "loop", "start_ms": i * 1_000, "duration_ms": 100, "tool": "deployctl",
         "command": command, "params": {"env": "prod"}, "exit_code": 1 if i < 2 else 0, "ok": i == 2}
        for i in range(3)
    ]  # fmt: skip
    return [
        *loop,
        {"trace_id": "loop", "start_ms": 3_500, "duration_ms": 50, "tool": "dbctl", "command": "status"},
        {"trace_id": "calm", "start_ms": 5_000, "duration_ms": 10, "tool": "dbctl", "command": "status"},
        {"trace_id": "late", "start_ms": 9_000, "duration_ms": 10, "tool": "dbctl", "command": "status"},
    ]


async def _settled(pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause()
        await wait_for_workers(pilot.app)
    await pilot.pause()


def test_trace_finding_columns_label_the_most_severe_first() -> None:
    """Per trace: the count, each detector once (×n when repeated), the most severe first, its reason."""
    findings = pl.DataFrame(
        {
            "trace_id": ["t", "t", "t", "u"],
            "name": ["long-think-gap", "retry-loop", "long-think-gap", "deploy-without-verify"],
            "severity": ["info", "error", "info", "warning"],
            "reason": ["gap 1", "loop", "gap 2", "unverified"],
        }
    )
    rows = {row["trace_id"]: row for row in trace_finding_columns(findings).iter_rows(named=True)}
    assert rows["t"]["finding_count"] == 3
    assert rows["t"]["finding_label"] == "retry-loop,long-think-gap×2"
    assert rows["t"]["finding_severity"] == "error"
    assert rows["t"]["finding_reason"] == "loop"
    assert rows["u"]["finding_label"] == "deploy-without-verify"
    assert trace_finding_columns(findings.clear()).is_empty()


def test_join_and_carry_findings() -> None:
    """``join_findings`` replaces the findings columns; ``finding_columns_of`` gives them back for reuse."""
    summaries = pl.DataFrame({"trace_id": ["a", "b"], "steps": [1, 2]})
    per_trace = trace_finding_columns(
        pl.DataFrame({"trace_id": ["b"], "name": ["retry-loop"], "severity": ["error"], "reason": ["r"]})
    )
    joined = join_findings(summaries, per_trace)
    assert joined.get_column("finding_count").to_list() == [0, 1]
    carried = finding_columns_of(joined)
    assert carried is not None
    assert carried.get_column("trace_id").to_list() == ["b"]
    assert join_findings(joined, carried).equals(joined)
    assert finding_columns_of(summaries) is None


def test_the_narrow_layout_has_no_findings_column() -> None:
    """The findings column shows only when wide enough and when some trace has findings."""
    assert column_layout(79, findings=True).findings == 0
    assert column_layout(119, findings=False).findings == 0
    wide = column_layout(119, findings=True)
    assert wide.findings >= 21  # "deploy-without-verify" whole
    assert wide.tools > 0


async def test_the_traces_list_marks_traces_with_findings() -> None:
    """Once the findings are in, a trace with one shows ⚑ and its label in the findings column, the title
    counts them, the info line gives the reason, and ``n`` jumps to the next trace with a finding."""
    app = ScreenHost(TracesScreen(make_frame(_records())))
    async with app.run_test(size=(140, 20)) as pilot:
        await _settled(pilot)
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        traces = screen.query_one(TraceList)
        assert traces.trace_ids == ["late", "calm", "loop"]
        assert traces.has_findings
        header = traces.render_line(0).text
        assert "findings" in header
        rows = {traces.row(i)["trace_id"]: traces.render_line(1 + i).text for i in range(3)}  # type: ignore[index]
        assert rows["loop"][3] == FINDING_GLYPH
        assert "retry-loop" in rows["loop"]
        assert rows["calm"][3] == " "
        assert "1 with findings" in str(screen.query_one("#traces-title", Static).content)
        await pilot.press("n")
        assert traces.selected_trace_id == "loop"
        info = str(screen.query_one("#traces-info", Static).content)
        assert f"{FINDING_GLYPH} retry-loop" in info
        assert "deployctl apply ran 3 times" in info


async def test_the_waterfall_marks_the_steps_of_a_finding() -> None:
    """Each step involved in a finding has ⚑ in its gutter and the finding's name after its bar; the
    findings line under the title gives name and reason; ``n`` goes to a step in a finding and the step line
    names it with its reason."""
    frame = make_frame(_records())
    screen = TimelineScreen(build_timeline(frame, "loop"), findings=trace_findings(frame, "loop"))
    app = ScreenHost(screen)
    async with app.run_test(size=(140, 20)) as pilot:
        await _settled(pilot)
        waterfall = screen.query_one(Waterfall)
        lines = [waterfall.render_line(y).text for y in range(2, 2 + len(waterfall.rows))]
        marked = [line for line in lines if FINDING_GLYPH in line]
        assert len(marked) == 3
        assert all(line[3] == FINDING_GLYPH and "retry-loop" in line for line in marked)
        assert not any(FINDING_GLYPH in line for line in lines if "dbctl status" in line)
        found = str(screen.query_one("#timeline-findings", Static).content)
        assert "retry-loop (error): deployctl apply ran 3 times" in found
        await pilot.press("end", "n")  # nothing after the last step
        await pilot.press("N")
        step = waterfall.cursor_step
        assert step is not None
        assert step.command == "apply"
        assert "retry-loop: deployctl apply ran 3 times" in str(
            screen.query_one("#timeline-step", Static).content
        )


async def test_a_timeline_without_findings_hides_the_findings_line() -> None:
    """No findings (or none given) leave the title and the waterfall as they were."""
    frame = make_frame(_records())
    screen = TimelineScreen(build_timeline(frame, "calm"), findings=trace_findings(frame, "calm"))
    app = ScreenHost(screen)
    async with app.run_test(size=(100, 12)) as pilot:
        await _settled(pilot)
        assert not screen.query_one("#timeline-findings", Static).display
        assert FINDING_GLYPH not in screen.query_one(Waterfall).render_line(2).text


def test_step_findings_by_place() -> None:
    """Every finding once, and per step place the findings it is involved in."""
    frame = make_frame(_records())
    every, by_step = step_findings(detect_findings(frame))
    assert [finding.name for finding in every] == ["retry-loop"]
    assert len(by_step) == 3
    assert step_findings(None) == ((), {})


async def test_the_app_computes_findings_for_the_traces_and_the_timeline() -> None:
    """In the app, the traces list gets the findings from its worker, and ``T`` opens a waterfall with the
    trace's findings marked; a hostile command in a finding's reason stays literal."""
    records = [
        record(i, tool="deployctl", command=HOSTILE_COMMAND, trace_id="loop", exit_code=1 if i < 2 else 0,
               params={"env": "prod"})
        for i in range(3)
    ]  # fmt: skip
    records.append(record(10, trace_id="calm"))
    index = MemoryIndex(lines_of(records))
    app = memory_app(index)
    async with app.run_test(size=(140, 24)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        traces = app.screen.query_one(TraceList)
        assert traces.has_findings
        await pilot.press("escape", "g", "T")  # the first record: the loop's
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        assert [finding.name for finding in screen.findings] == ["retry-loop"]
        found = str(screen.query_one("#timeline-findings", Static).content)
        assert "[@click=app.quit]q[/]\\x1b[2J" in found
        assert "\x1b" not in found

"""Comparing two runs in the app: marking a trace, comparing it with another or with its previous similar run,
the compare screen's rows and details, and hostile text shown literally."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from auditview.core.diff import diff_runs
from auditview.core.render.diff_summary import diff_summary_line, summary_parts
from auditview.text.plain import Palette
from auditview.tui.app import AuditViewApp
from auditview.tui.screens.compare import CompareScreen, describe_pair, describe_summary
from auditview.tui.screens.traces import TracesScreen
from auditview.tui.screenshots import ScreenHost
from auditview.tui.widgets.compare_waterfall import (
    CompareWaterfall,
    delta_text,
    is_difference,
    pair_mark,
    speed_change,
)
from auditview.tui.widgets.trace_list import MARK_GLYPH, TraceList
from tests.engine.frames import make_frame
from tests.tui.app_fixtures import MemoryIndex, feed, lines_of, memory_app, record, settle

HOSTILE_COMMAND = "[@click=app.quit]q[/]\x1b[31m\u202eevil"
HOSTILE_PARAM = "[b]x[/]\x1b]0;title\x07"


def _runs() -> list[dict[str, Any]]:
    """Three traces: run-a (three steps), run-b (run-a again: a flag set added, ``force`` added to the apply,
    the migrate failing and much slower), other (a different first step and operator: no previous run)."""
    same = {"env": "prod"}
    return [
        record(0, tool="deployctl", command="apply", trace_id="run-a", duration_ms=100.0, params=same),
        record(1, tool="verifyctl", command="check", trace_id="run-a", duration_ms=200.0, params=same),
        record(2, tool="dbctl", command="migrate", trace_id="run-a", duration_ms=300.0, params=same),
        record(
            10, tool="deployctl", command="apply", trace_id="run-b", duration_ms=110.0,
            params={"env": "prod", "force": True},
        ),
        record(11, tool="featureflags", command="set", trace_id="run-b", duration_ms=20.0, params=same),
        record(12, tool="verifyctl", command="check", trace_id="run-b", duration_ms=200.0, params=same),
        record(
            13, tool="dbctl", command="migrate", trace_id="run-b", duration_ms=2000.0, exit_code=4,
            params=same,
        ),
        record(20, tool="rollbackctl", command="plan", trace_id="other", operator="bob"),
    ]  # fmt: skip


def _notes(app: AuditViewApp) -> list[str]:
    return [str(note.message) for note in app._notifications]


async def _traces(app: AuditViewApp, pilot: Any, index: MemoryIndex) -> TraceList:
    feed(app, index)
    await settle(app, pilot)
    await pilot.press("t")
    await settle(app, pilot)
    assert isinstance(app.screen, TracesScreen)
    return app.screen.trace_list


async def test_mark_then_compare_opens_both_runs_earlier_first() -> None:
    """``m`` marks the trace under the cursor (● in the gutter, named in the title); ``c`` on another trace
    compares the two, the one that started earlier as *then*, whichever was marked."""
    index = MemoryIndex(lines_of(_runs()))
    app = memory_app(index)
    async with app.run_test(size=(120, 30)) as pilot:
        traces = await _traces(app, pilot, index)
        assert traces.select_trace("run-b")
        await pilot.press("m")
        assert traces.marked_trace == "run-b"
        assert "marked run-b" in str(app.screen.query_one("#traces-title", Static).content)
        assert traces.select_trace("run-a")
        marked_row = traces.trace_ids.index("run-b")
        assert traces.render_line(1 + marked_row).text.startswith(MARK_GLYPH)
        await pilot.press("c")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert (screen.diff.a.trace_id, screen.diff.b.trace_id) == ("run-a", "run-b")
        assert screen.diff.previous is None
        marks = [pair_mark(pair) for pair in screen.diff.pairs]
        assert marks == ["changed", "insert", "same", "changed"]
        then_line = str(screen.query_one("#compare-then", Static).content)
        assert then_line.startswith("then")
        assert "run-a" in then_line
        await pilot.press("escape")
        assert isinstance(app.screen, TracesScreen)
        await pilot.press("m")  # on run-a: the mark moves to it
        assert traces.marked_trace == "run-a"
        await pilot.press("m")
        assert traces.marked_trace is None


async def test_compare_with_the_previous_similar_run() -> None:
    """``p`` (and ``c`` with nothing marked) compares the trace under the cursor with its previous similar
    run, and the screen says which rule chose it."""
    index = MemoryIndex(lines_of(_runs()))
    app = memory_app(index)
    async with app.run_test(size=(120, 30)) as pilot:
        traces = await _traces(app, pilot, index)
        assert traces.select_trace("run-b")
        for key in ("p", "c"):
            await pilot.press(key)
            await settle(app, pilot)
            screen = app.screen
            assert isinstance(screen, CompareScreen), key
            assert screen.diff.previous is not None
            assert (screen.diff.a.trace_id, screen.diff.b.trace_id) == ("run-a", "run-b")
            assert "previous similar run: same first step and operator" in str(
                screen.query_one("#compare-then", Static).content
            )
            await pilot.press("escape")
            await settle(app, pilot)


async def test_compare_without_a_previous_run_says_so() -> None:
    """A trace with no earlier similar run stays on the list, and a notification says why."""
    index = MemoryIndex(lines_of(_runs()))
    app = memory_app(index)
    async with app.run_test(size=(120, 30)) as pilot:
        traces = await _traces(app, pilot, index)
        assert traces.select_trace("other")
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, TracesScreen)
        assert any("no previous similar run of other" in note for note in _notes(app))


async def test_the_compare_screen_shows_changes_on_one_axis() -> None:
    """Each pair is a then and a now line on the shared axis; ``n`` goes to the next difference and the
    pair line under the waterfall shows the duration (absolute and ×), the exit code and the gap, then → now;
    the summary names the span, the failures and the step contributing most."""
    diff = diff_runs(index_frame(), "run-a", "run-b")
    app = ScreenHost(CompareScreen(diff))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        waterfall = app.screen.query_one(CompareWaterfall)
        lines = [waterfall.render_line(y).text for y in range(2, 2 + 2 * len(diff.pairs))]
        assert lines[0].startswith("▶~ deployctl apply")
        assert "then" in lines[0]
        assert "now" in lines[1]
        assert "· not in then" in lines[2]  # featureflags set: only in run-b
        assert "+ featureflags set" in lines[2]
        assert "Δ+1.7s ×6.67" in lines[7]
        assert "exit 0→4" in lines[7]
        await pilot.press("n", "n")  # skip the unchanged verifyctl check
        assert waterfall.cursor == 3
        pair_text = str(app.screen.query_one("#compare-pair", Static).content)
        assert "duration 300ms → 2s (Δ+1.7s ×6.67)" in pair_text
        assert "exit 0 → 4" in pair_text
        assert "gap before" in pair_text
        summary = str(describe_summary(summary_parts(diff)))
        assert "failed 0 → 1" in summary
        assert "most: dbctl migrate +1.7s (duration)" in summary
        await pilot.press("n")  # no difference after the last pair: the cursor stays
        assert waterfall.cursor == 3


def index_frame() -> Any:
    """The records of ``_runs`` as an index frame."""
    return MemoryIndex(lines_of(_runs())).frame


def test_pair_helpers() -> None:
    """Marks, speed and Δ text of the pairs of run-a against run-b."""
    diff = diff_runs(index_frame(), "run-a", "run-b")
    apply, flags, check, migrate = diff.pairs
    assert [pair_mark(p) for p in diff.pairs] == ["changed", "insert", "same", "changed"]
    assert speed_change(migrate) == "slower"
    assert speed_change(check) is None
    assert [is_difference(p) for p in diff.pairs] == [True, True, False, True]
    assert delta_text(migrate) == "Δ+1.7s ×6.67"
    assert delta_text(flags) == "Δ+20ms"
    assert "+force=true" in str(describe_pair(apply))


def _handed_over() -> list[dict[str, Any]]:
    """run-a again as run-c, but by bob on another host: the operator and host changed in every pair, and the
    check's params changed too."""
    steps = [("deployctl", "apply"), ("verifyctl", "check"), ("dbctl", "migrate")]
    then = [
        record(n, tool=t, command=c, trace_id="run-a", host="runner-1", params={"env": "prod"})
        for n, (t, c) in enumerate(steps)
    ]
    now = [
        record(
            30 + n,
            tool=t,
            command=c,
            trace_id="run-c",
            operator="bob",
            host="runner-9",
            params={"env": "staging" if c == "check" else "prod"},
        )
        for n, (t, c) in enumerate(steps)
    ]
    return then + now


async def test_the_summary_says_what_the_cli_says_and_shared_changes_once() -> None:
    """The compare screen's summary is the CLI's summary line, clause by clause (``summary_parts``, styled),
    and a field changed alike in every pair is said once above it, left out of the pair lines and of the
    changed count, as ``auditview diff`` does."""
    diff = diff_runs(MemoryIndex(lines_of(_handed_over())).frame, "run-a", "run-c")
    app = ScreenHost(CompareScreen(diff))
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        summary = str(app.screen.query_one("#compare-summary", Static).content)
        for clause in diff_summary_line(diff, palette=Palette(colour=False, unicode=True)).split("; "):
            assert clause in summary, clause
        assert "3 paired (1 changed)" in summary
        shared = str(app.screen.query_one("#compare-shared", Static).content)
        assert shared == "in every paired step: host runner-1→runner-9, operator alice→bob"
        check = str(describe_pair(diff.pairs[1], app.screen.shared))  # type: ignore[attr-defined]
        assert "env: prod → staging" in check
        assert "operator" not in check
        assert "host" not in check
    assert "operator alice → bob" in str(describe_pair(diff.pairs[1]))
    alone = ScreenHost(CompareScreen(diff_runs(index_frame(), "run-a", "run-b")))
    async with alone.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        assert not alone.screen.query("#compare-shared")


async def test_hostile_text_is_shown_literally_in_the_compare_screen() -> None:
    """Markup, escape sequences and a bidi override in a command and in params reach the compare screen as
    visible text: nothing is interpreted, no control character survives."""
    records = [
        {"trace_id": "t1", "start_ms": 0, "tool": "[b]tool[/]", "command": HOSTILE_COMMAND,
         "params": {"key": "safe"}},
        {"trace_id": "t2", "start_ms": 60_000, "tool": "[b]tool[/]", "command": HOSTILE_COMMAND,
         "params": {"key": HOSTILE_PARAM, "[i]new[/]": 1}, "exit_code": 1, "ok": False},
    ]  # fmt: skip
    diff = diff_runs(make_frame(records), "t1", "t2")
    app = ScreenHost(CompareScreen(diff))
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        waterfall = app.screen.query_one(CompareWaterfall)
        line = waterfall.render_line(2).text
        assert "[b]tool[/] [@click=app.quit]q[/]\\x1b" in line  # the label column cuts the rest
        pair_text = str(app.screen.query_one("#compare-pair", Static).content)
        assert "[b]tool[/] [@click=app.quit]q[/]\\x1b[31m\\u{202e}evil" in pair_text
        assert "[b]x[/]\\x1b]0;title\\x07" in pair_text
        assert "[i]new[/]" in pair_text
        shown = "\n".join(
            str(app.screen.query_one(f"#{name}", Static).content)
            for name in ("compare-then", "compare-now", "compare-summary", "compare-pair")
        )
        for text in (line, shown):
            for char in "\x1b\x07\u202e":
                assert char not in text
        assert app.is_running


async def test_the_help_lists_the_compare_and_report_keys() -> None:
    """``?`` on the traces list names m, c, p, r and n; on the compare screen, its keys and its marks."""
    index = MemoryIndex(lines_of(_runs()))
    app = memory_app(index)
    async with app.run_test(size=(120, 40)) as pilot:
        traces = await _traces(app, pilot, index)
        await pilot.press("question_mark")
        help_text = app.screen.text  # type: ignore[attr-defined]
        for words in ("mark the trace (●)", "compare the marked trace", "previous similar run",
                      "report-<trace>.md", "next trace with a finding"):  # fmt: skip
            assert words in help_text, words
        await pilot.press("escape")
        assert traces.select_trace("run-b")
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("question_mark")
        help_text = app.screen.text  # type: ignore[attr-defined]
        assert "next step added, removed, changed" in help_text
        assert "+ only now" in help_text
        assert "esc" in help_text

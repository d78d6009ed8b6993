"""The compare waterfall marks pairs and words their Δ and × as ``auditview diff`` does: a field changed
alike in every pair (another operator or host ran the later run) makes no pair ``~``; the texts are the
CLI's."""

from __future__ import annotations

from typing import Any

from auditview.cli.commands.diff import render_diff
from auditview.core.diff import RunDiff, diff_runs
from auditview.core.render.diff_summary import ratio_text, signed_duration, summary_parts
from auditview.text.plain import Palette
from auditview.tui.screens.compare import CompareScreen, describe_pair
from auditview.tui.screenshots import ScreenHost
from auditview.tui.widgets.compare_waterfall import (
    HEADER_LINES,
    LINES_PER_PAIR,
    MARK_GLYPHS,
    CompareWaterfall,
    delta_text,
    is_difference,
    pair_mark,
)
from tests.tui.app_fixtures import MemoryIndex, lines_of, record

UNICODE = Palette(colour=False, unicode=True)
#: tool, command, the duration then, and how many times as long it takes now.
STEPS = [
    ("deployctl", "apply", 100.0, 1.2),
    ("verifyctl", "check", 200.0, 11.5),
    ("dbctl", "migrate", 300.0, 21.5),
]


def _handed_over() -> RunDiff:
    """run-a, then run-c by bob on another host (operator and host changed in every pair): the check's params
    changed too, and each step is slower (×1.2, ×11.5, ×21.5)."""
    then = [
        record(n, tool=t, command=c, trace_id="run-a", host="runner-1", duration_ms=d, params={"env": "prod"})
        for n, (t, c, d, _times) in enumerate(STEPS)
    ]
    now = [
        record(
            30 + n,
            tool=t,
            command=c,
            trace_id="run-c",
            operator="bob",
            host="runner-9",
            duration_ms=d * times,
            params={"env": "staging" if c == "check" else "prod"},
        )
        for n, (t, c, d, times) in enumerate(STEPS)
    ]
    return diff_runs(MemoryIndex(lines_of(then + now)).frame, "run-a", "run-c")


def _cli_marks(diff: RunDiff) -> list[str]:
    """The mark column of ``auditview diff``'s table, one per pair."""
    lines = render_diff(diff, width=160, palette=UNICODE)
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    return [line[0] for line in lines[rule + 1 : rule + 1 + len(diff.pairs)]]


async def test_the_marks_are_the_cli_diffs_when_a_field_changed_in_every_pair() -> None:
    """Only the check (its params changed) is ``~``; the others changed nothing but the operator and host
    every pair shares, so they are ``=`` in the gutter, the pair line, the CLI's table and the summary's
    count; ``n`` stops on such a pair only when it is notably slower."""
    diff = _handed_over()
    assert _cli_marks(diff) == ["=", "~", "="]
    assert "3 paired (1 changed)" in summary_parts(diff).steps
    app = ScreenHost(CompareScreen(diff))
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        waterfall = app.screen.query_one(CompareWaterfall)
        gutter = [
            waterfall.render_line(HEADER_LINES + LINES_PER_PAIR * i).text[1] for i in range(len(diff.pairs))
        ]
        assert gutter == _cli_marks(diff)
        shared: Any = app.screen.shared  # type: ignore[attr-defined]
        assert [str(describe_pair(pair, shared))[0] for pair in diff.pairs] == gutter
    assert [MARK_GLYPHS[pair_mark(pair, waterfall.shared)] for pair in diff.pairs] == gutter
    assert [pair_mark(pair) for pair in diff.pairs] == ["changed"] * 3  # no shared fields named: all count
    assert not is_difference(diff.pairs[0], waterfall.shared)  # alike, and ×1.20 is not notably slower
    assert is_difference(diff.pairs[2], waterfall.shared)  # alike, but ×21.5


def test_the_delta_text_is_the_cli_diffs() -> None:
    """Δ is the CLI's signed duration and × its ratio text (three figures at most), in every pair."""
    diff = _handed_over()
    for pair in diff.pairs:
        assert delta_text(pair) == f"Δ{signed_duration(pair.delta_ms)} {ratio_text(pair.ratio, UNICODE)}"
    assert [delta_text(pair) for pair in diff.pairs] == ["Δ+20ms ×1.20", "Δ+2.1s ×11.5", "Δ+6.15s ×21.5"]

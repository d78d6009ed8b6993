"""The summary of a diff as data (``summary_parts``): the clauses every front end words and styles alike."""

from __future__ import annotations

from pathlib import Path

from auditview.core.diff import diff_runs
from auditview.core.render.diff_summary import BiggestChange, diff_summary_line, summary_parts
from auditview.text.plain import Palette
from tests.diff.conftest import S, load_frame, run, write_log

THEN = [S("deployctl", "plan", ms=1000), S("deployctl", "apply", ms=2000), S("verifyctl", "verify", ms=500)]


def test_the_clauses_of_a_slower_failing_run_handed_to_another_operator(tmp_path: Path) -> None:
    """Span, failures (worse), steps with the changed count a table marks, the biggest contribution, and the
    operator changed in every pair said once, not counted as a change."""
    now = [
        S("deployctl", "plan", ms=1000, operator="bob"),
        S("deployctl", "apply", ms=6000, operator="bob", exit=1),
        S("verifyctl", "verify", ms=500, operator="bob"),
    ]
    frame = load_frame(write_log(tmp_path, run("a", THEN), run("b", now, start_s=60)))
    parts = summary_parts(diff_runs(frame, "a", "b"))
    assert parts.span == "5.5s → 9.5s"
    assert parts.span_change == "+4s, ×1.73"
    assert parts.span_trend == "worse"
    assert (parts.failed, parts.failed_trend) == ("0 → 1", "worse")
    assert parts.steps == "3 → 3: 3 paired (1 changed), 0 added, 0 removed"
    assert parts.most == BiggestChange(name="deployctl apply", change="+4s", what="duration")
    assert parts.shared == ("operator alice→bob",)


def test_the_text_line_is_the_clauses_joined(tmp_path: Path) -> None:
    """``diff_summary_line`` is the clauses with their labels, in ASCII for a plain palette; a faster run
    with fewer failures trends better; nothing shared, nothing said."""
    then = [S("deployctl", "plan", ms=1000), S("deployctl", "apply", ms=6000, exit=1)]
    now = [S("deployctl", "plan", ms=1000), S("deployctl", "apply", ms=2000)]
    frame = load_frame(write_log(tmp_path, run("a", then), run("b", now, start_s=60)))
    diff = diff_runs(frame, "a", "b")
    ascii_parts = summary_parts(diff, palette=Palette(colour=False, unicode=False))
    assert (ascii_parts.span_trend, ascii_parts.failed_trend) == ("better", "better")
    assert ascii_parts.shared == ()
    assert diff_summary_line(diff, palette=Palette(colour=False, unicode=False)) == (
        f"span {ascii_parts.span} ({ascii_parts.span_change}); failed {ascii_parts.failed}; "
        f"steps {ascii_parts.steps}; most: deployctl apply -4s (duration)"
    )
    assert "->" in ascii_parts.span
    assert "x0." in ascii_parts.span_change

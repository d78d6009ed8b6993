"""The CLI's plain-text rendering: tables, durations and the waterfall, with hostile text kept inert."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from auditview.cli.output import terminal_palette
from auditview.cli.tables import Column, render_table
from auditview.core.render.waterfall import render_waterfall
from auditview.text.humanize import format_duration
from auditview.text.plain import Palette, display_width, truncate_width, truncate_width_left

if TYPE_CHECKING:
    from auditview.core.timeline import Gap, Timeline

_SGR = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class FakeStep:
    """A timeline step with the attributes the waterfall reads."""

    request_id: str
    tool: str
    command: str
    start_ms: float
    duration_ms: float
    depth: int = 0
    exit_code: int = 0
    slow_reason: str | None = None
    on_critical_path: bool = False
    parent_request_id: str | None = None

    @property
    def end_ms(self) -> float:
        """End offset of the step."""
        return self.start_ms + self.duration_ms

    @property
    def failed(self) -> bool:
        """Whether the step failed."""
        return self.exit_code != 0


@dataclass
class FakeGap:
    """A gap between steps."""

    start_ms: float
    end_ms: float
    before_request_id: str | None = None

    @property
    def duration_ms(self) -> float:
        """Length of the gap."""
        return self.end_ms - self.start_ms


@dataclass
class FakeTimeline:
    """A timeline with the attributes the waterfall reads."""

    trace_id: str
    span_ms: float
    steps: list[FakeStep]
    gaps: list[FakeGap] = field(default_factory=list)
    start: datetime = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """End of the trace."""
        return self.start + timedelta(milliseconds=self.span_ms)


def _timeline() -> Timeline:
    """A fake with the attributes the waterfall reads, typed as the ``Timeline`` it stands in for."""
    return cast(
        "Timeline",
        FakeTimeline(
            trace_id="trace-a",
            span_ms=10_000,
            steps=[
                FakeStep("r1", "deployctl", "plan", 0, 1_000, on_critical_path=True),
                FakeStep(
                    "r2", "deployctl", "apply", 2_000, 6_000, on_critical_path=True, slow_reason="over 5 s"
                ),
                FakeStep("r3", "deployctl", "push", 3_000, 500, depth=1, parent_request_id="r2"),
                FakeStep("r4", "verifier", "check", 9_000, 1_000, exit_code=3, on_critical_path=True),
            ],
            gaps=[FakeGap(1_000, 2_000), FakeGap(8_000, 9_000)],
        ),
    )


def test_durations_are_short_and_human() -> None:
    """Durations use ms below a second, then seconds, minutes and hours."""
    assert [format_duration(v) for v in (5, 850, 4210, 42_000, 192_000, 3_720_000)] == [
        "5ms",
        "850ms",
        "4.21s",
        "42s",
        "3m12s",
        "1h02m",
    ]
    assert format_duration(None) == "-"


def test_width_counts_wide_characters_twice() -> None:
    """East Asian wide characters take two cells and truncation respects that."""
    assert display_width("abc") == 3
    assert display_width("日本") == 4
    assert truncate_width("日本語テキスト", 5) == "日本…"
    assert truncate_width("short", 10) == "short"
    assert truncate_width_left("/very/long/path/audit.jsonl:2", 16) == "…h/audit.jsonl:2"


def test_table_escapes_control_characters_and_markup_stays_literal() -> None:
    """A cell with ESC, OSC, C1 and bidi characters is shown as visible escapes; markup is left as text."""
    lines = render_table(
        [Column("a"), Column("b", max_width=80)],
        [["\x1b[31mred\x1b]0;t\x07", "[bold]x[/bold]\u202e\u009b"]],
        width=120,
        palette=Palette(colour=True),
    )
    text = "\n".join(lines)
    assert "\\x1b[31mred\\x1b]0;t\\x07" in text
    assert "[bold]x[/bold]\\u{202e}\\x9b" in text
    assert "\u202e" not in text
    assert "\x07" not in text
    assert "\x9b" not in text
    assert not _SGR.sub("", text).count("\x1b")


def test_table_fits_the_width_by_shrinking_flex_columns() -> None:
    """A table wider than the terminal shrinks its flex columns and never exceeds the width."""
    rows = [["2026-11-20 09:00:00.000", "x" * 200, "y" * 50, "42"]]
    columns = [
        Column("time"),
        Column("params", max_width=200, flex=True),
        Column("op", flex=True),
        Column("n"),
    ]
    lines = render_table(columns, rows, width=60, palette=Palette())
    assert all(display_width(line) <= 60 for line in lines)
    assert "2026-11-20 09:00:00.000" in lines[2]
    assert lines[2].rstrip().endswith("42")
    assert "…" in lines[2]


def test_table_without_colour_has_no_escape_sequences() -> None:
    """With colour off no SGR code is emitted, even for styled cells."""
    lines = render_table([Column("exit")], [[("3", "red")]], width=40, palette=Palette(colour=False))
    assert "\x1b" not in "".join(lines)


def test_palette_honours_no_color_and_terminals() -> None:
    """Colour needs a terminal and an empty NO_COLOR."""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert terminal_palette(Tty(), {}).colour
    assert not terminal_palette(Tty(), {"NO_COLOR": "1"}).colour
    assert not terminal_palette(io.StringIO(), {}).colour


def test_waterfall_places_bars_on_the_time_axis() -> None:
    """Each step's bar starts and ends in proportion to its offset and duration; the gap rows are dotted."""
    lines = render_waterfall(_timeline(), width=100, palette=Palette())
    assert "span 10s" in lines[0]
    assert "4 steps" in lines[0]
    assert "1 failed" in lines[0]
    assert "1 slow" in lines[0]
    assert lines[1] == "idle 2s in 2 gaps"
    header = lines[2]
    body = lines[3:-1]
    plan = next(line for line in body if "deployctl plan" in line)
    apply = next(line for line in body if "deployctl apply" in line)
    check = next(line for line in body if "verifier check" in line)
    bar_col = header.index("0", header.index("step"))
    plan_bar = plan[bar_col:].split("  ")[0]
    apply_start = apply.index("█") - bar_col
    check_start = check.index("█") - bar_col
    bar_width = len(header) - bar_col
    assert plan[bar_col] == "█"
    assert 0.05 < len(plan_bar.strip()) / bar_width < 0.15
    assert abs(apply_start / bar_width - 0.2) < 0.05
    assert abs(check_start / bar_width - 0.9) < 0.05
    assert sum(1 for line in lines if "gap (outside any tool)" in line) == 2


def test_waterfall_marks_failures_slow_steps_critical_path_and_nesting() -> None:
    """Marks and notes say which steps failed, were slow or are on the critical path; children indent."""
    lines = render_waterfall(_timeline(), width=140, palette=Palette())
    check = next(line for line in lines if "verifier check" in line)
    apply = next(line for line in lines if "deployctl apply" in line)
    push = next(line for line in lines if "deployctl push" in line)
    assert check.startswith("*✗ ")
    assert "exit 3" in check
    assert apply.startswith("* !")
    assert "slow: over 5 s" in apply
    assert push.startswith("   ")
    assert push.index("deployctl push") == apply.index("deployctl apply") + 2


def test_waterfall_fits_narrow_terminals_and_ascii() -> None:
    """At 60 columns with an ASCII-only output the waterfall stays within width and uses ASCII glyphs."""
    lines = render_waterfall(_timeline(), width=60, palette=Palette(unicode=False))
    assert all(display_width(line) <= 60 for line in lines)
    assert all(line.replace("…", "").isascii() for line in lines)
    assert any("#" in line for line in lines)


def test_waterfall_escapes_hostile_names() -> None:
    """Tool, command and trace id with escape sequences are printed as visible escapes."""
    timeline = FakeTimeline(
        trace_id="t\x1b]0;x\x07",
        span_ms=100,
        steps=[FakeStep("r", "to\x1b[2Jol", "[bold]c\u202e", 0, 100, exit_code=1)],
    )
    text = "\n".join(render_waterfall(cast("Timeline", timeline), width=120, palette=Palette(colour=True)))
    assert "\\x1b[2J" in text
    assert "[bold]c\\u{202e}" in text
    assert "t\\x1b]0;x\\x07" in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert "\x1b" not in _SGR.sub("", text)


def test_waterfall_folds_gaps_too_short_to_draw() -> None:
    """Gaps narrower than one bar cell get no row of their own but are counted in the idle summary."""
    timeline = _timeline()
    timeline.gaps.append(cast("Gap", FakeGap(8_500, 8_510)))
    lines = render_waterfall(timeline, width=100, palette=Palette())
    assert lines[1].startswith("idle 2.01s in 3 gaps (1 shorter than one cell")
    assert sum(1 for line in lines if "gap (outside any tool)" in line) == 2

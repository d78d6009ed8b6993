"""The compare screen: two runs of the same work side by side, aligned step by step on one time axis.

It is handed a ``RunDiff`` (``auditview.core.diff.diff_runs``, built by the app in a worker: a marked trace
against the one under the cursor, or a trace against its previous similar run) and shows a line per run
(trace, start, span, steps, failures, operators), the field changes shared by every pair (said once, as the
CLI's diff says them), the summary (span then → now, failures, steps, the step that contributed most: the
clauses of ``auditview.core.render.diff_summary.summary_parts``, styled), the ``CompareWaterfall`` and, for
the cursor pair, everything else that changed: the duration (absolute and ×), the exit code then → now, the
gap before the step then → now, params key by key, version, operator and host. Escape goes back. Nothing here
reads files; every string shown is sanitized and built as ``Content``, never markup.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, ClassVar, Final

import orjson
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from auditview.core.diff import DiffPair, RunDiff, RunSide
from auditview.core.render.diff_summary import (
    SHARED_LABEL,
    SummaryParts,
    Trend,
    shared_field_changes,
    summary_parts,
)
from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.sanitize import printable, truncate_display
from auditview.tui.widgets.compare_waterfall import (
    MARK_GLYPHS,
    CompareWaterfall,
    delta_text,
    pair_label,
    pair_mark,
    speed_change,
)
from auditview.tui.widgets.waterfall import FAILED_GLYPH

__all__ = ["CompareScreen", "describe_pair", "describe_shared", "describe_side", "describe_summary"]

LEGEND: Final = "+ only now  - only then  ~ changed  = alike   then ▬ earlier run  now ▬ later run  ✗ failed"
_VALUE_CAP: Final = 60
#: The theme style of each kind of pair (as the widget's component classes colour them).
_MARK_STYLE: Final = {
    "insert": "$text-success",
    "delete": "$text-muted",
    "changed": "$text-accent",
    "same": "",
}
#: The theme style of a summary clause that got worse or better (more time is a warning, more failures an
#: error).
_SPAN_STYLE: Final[dict[Trend, str]] = {"worse": "$text-warning", "better": "$text-success", None: ""}
_FAILED_STYLE: Final[dict[Trend, str]] = {"worse": "$text-error", "better": "$text-success", None: ""}

Part = tuple[str, str] | str


def _safe(value: object, limit: int) -> str:
    return truncate_display(printable(str(value)[: limit * 2]), limit)


def _value(value: Any) -> str:
    """A params or field value: a string bare, anything else as compact JSON, sanitized and cut short."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return _safe(text.replace("\n", " "), _VALUE_CAP)


def describe_side(label: str, side: RunSide, note: str = "") -> Content:
    """``then  <trace>  <note>  2026-11-20 09:08:58 UTC  span 41.5s  8 steps  ✗ 1 failed  by carol``."""
    steps = len(side.steps)
    parts: list[Part] = [
        (f"{label:<5}", "bold"),
        (_safe(side.trace_id, 60), "bold"),
        (f"  {note}" if note else "", "$text-accent"),
        f"  {side.start.strftime('%Y-%m-%d %H:%M:%S UTC')}  span {format_duration(side.span_ms)}",
        f"  {steps} step{'s' if steps != 1 else ''}",
    ]
    if side.failed:
        parts.append((f"  {FAILED_GLYPH} {side.failed} failed", "$text-error"))
    if side.operators:
        names = ", ".join(_safe(name, 24) for name in side.operators[:4])
        more = f" +{len(side.operators) - 4}" if len(side.operators) > 4 else ""
        parts.append((f"  by {names}{more}", "$text-muted"))
    return Content.assemble(*parts)


def describe_summary(parts: SummaryParts) -> Content:
    """``span 41.5s → 2m19s (+1m38s, ×3.36)  failed 0 → 4  steps 8 → 14: 5 paired (5 changed), 9 added,
    3 removed  most: deployctl deploy +2m01s (duration)``: the clauses of ``summary_parts``, coloured by what
    got worse or better."""
    content: list[Part] = [
        ("span ", "$text-muted"),
        f"{parts.span} ",
        (f"({parts.span_change})", _SPAN_STYLE[parts.span_trend]),
        ("  failed ", "$text-muted"),
        (parts.failed, _FAILED_STYLE[parts.failed_trend]),
        ("  steps ", "$text-muted"),
        parts.steps,
    ]
    if parts.most is not None:
        most = parts.most
        content += [
            ("  most: ", "$text-muted"),
            (_safe(most.name, 48), "bold"),
            f" {most.change} ({most.what})",
        ]
    return Content.assemble(*content)


def describe_shared(parts: SummaryParts) -> Content:
    """``in every paired step: operator carol→agent-session-56``: field changes said once, not per pair."""
    return Content.assemble((f"{SHARED_LABEL} ", "$text-muted"), _safe(", ".join(parts.shared), 200))


def _then_now(then: str, now: str) -> str:
    return then if then == now else f"{then} → {now}"


def _exit(code: int | None) -> str:
    return UNKNOWN if code is None else str(code)


def describe_pair(pair: DiffPair, shared: Container[str] = ()) -> Content:
    """Everything that changed in one pair, up to three lines: timing and exit code; params; fields, but
    those in ``shared`` (changed alike in every pair, said once above)."""
    mark = pair_mark(pair, shared)
    style = _MARK_STYLE[mark]
    first: list[Part] = [(f"{MARK_GLYPHS[mark]} ", style), (pair_label(pair), f"bold {style}".strip())]
    a, b = pair.a, pair.b
    if a is not None and b is not None:
        speed = speed_change(pair)
        first.append(f"  duration {format_duration(a.duration_ms)} → {format_duration(b.duration_ms)}")
        delta = delta_text(pair)
        if delta:
            speed_style = (
                "$text-warning" if speed == "slower" else ("$text-success" if speed == "faster" else "")
            )
            first.append((f" ({delta})", speed_style))
        exit_style = "$text-error" if b.failed else ("$text-success" if pair.exit_changed else "")
        first.append(("  exit " + _then_now(_exit(a.exit_code), _exit(b.exit_code)), exit_style))
        gap = _then_now(format_duration(a.gap_before_ms), format_duration(b.gap_before_ms))
        first.append(f"  gap before {gap}")
    else:
        step = b if b is not None else a
        assert step is not None
        where = "only now (added)" if b is not None else "only then (removed)"
        first.append((f"  {where}", style))
        first.append(f"  duration {format_duration(step.duration_ms)}")
        first.append(("  exit " + _exit(step.exit_code), "$text-error" if step.failed else ""))
        first.append(f"  gap before {format_duration(step.gap_before_ms)}")
    lines = [Content.assemble(*first)]
    params: list[Part] = []
    for key, change in pair.params.changed.items():
        params += [(_safe(key, 40), "bold"), f": {_value(change.then)} → {_value(change.now)}", "; "]
    for key, value in pair.params.added.items():
        params += [("+", "$text-success"), (_safe(key, 40), "bold"), f"={_value(value)}", "; "]
    for key, value in pair.params.removed.items():
        params += [("-", "$text-muted"), (_safe(key, 40), "bold"), f"={_value(value)}", "; "]
    if params:
        lines.append(Content.assemble(("params ", "$text-muted"), *params[:-1]))
    fields: list[Part] = []
    for name, change in pair.fields.items():
        if name not in shared:
            fields += [(f"{name} ", "$text-muted"), f"{_value(change.then)} → {_value(change.now)}", "  "]
    if fields:
        lines.append(Content.assemble(*fields[:-1]))
    return Content("\n").join(lines)


class CompareScreen(Screen[None]):
    """Two runs aligned: a line per run, the summary, the shared-axis waterfall and the cursor pair."""

    HELP_TITLE: ClassVar[str] = "Compare"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back", tooltip="back")]

    def __init__(
        self,
        diff: RunDiff,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Show ``diff`` (A = then, B = now)."""
        super().__init__(name=name, id=id, classes=classes)
        self.diff = diff
        self.summary = summary_parts(diff)
        self.shared = frozenset(shared_field_changes(diff))

    @property
    def waterfall(self) -> CompareWaterfall:
        """The shared-axis waterfall."""
        return self.query_one(CompareWaterfall)

    def compose(self) -> ComposeResult:
        """Both runs, the changes shared by every pair (when any), the summary, the waterfall, the cursor
        pair's changes, the legend, the footer."""
        diff = self.diff
        note = ""
        if diff.previous is not None:
            note = f"(previous similar run: {diff.previous.rule})"
        yield Static(describe_side("then", diff.a, note), id="compare-then", classes="compare-line")
        yield Static(describe_side("now", diff.b), id="compare-now", classes="compare-line")
        if self.summary.shared:
            yield Static(describe_shared(self.summary), id="compare-shared", classes="compare-line")
        yield Static(describe_summary(self.summary), id="compare-summary")
        yield CompareWaterfall(diff, id="compare-waterfall")
        yield Static(Content(""), id="compare-pair")
        yield Static(Content(LEGEND), id="compare-legend")
        yield Footer()

    def on_mount(self) -> None:
        """Focus the waterfall."""
        self.waterfall.focus()

    @on(CompareWaterfall.PairHighlighted)
    def _show_pair(self, message: CompareWaterfall.PairHighlighted) -> None:
        self.query_one("#compare-pair", Static).update(describe_pair(message.pair, self.shared))

    def action_back(self) -> None:
        """Return to the previous screen."""
        self.dismiss()

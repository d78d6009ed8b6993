"""The words of a run diff shared by the front ends: the summary and the pieces every diff view uses.

Owns ``summary_parts`` (the summary's clauses as data: span then → now, failures, steps, the step that
contributed most, the field changes shared by every pair; worded but not styled), ``diff_summary_line`` (those
clauses as one plain or ANSI line), the signed duration and ratio texts, and which field changes count:
``shared_field_changes`` (version, operator or host changed alike in every pair, said once) and
``row_changed`` (a pair shown as changed). The CLI's diff table, the report and the app's compare screen use
these, so a diff reads the same everywhere. Must not import a UI library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.plain import Palette
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    from auditview.core.diff import DiffPair, RunDiff

__all__ = [
    "FIELD_LABELS",
    "SHARED_LABEL",
    "BiggestChange",
    "SummaryParts",
    "Trend",
    "diff_summary_line",
    "field_change",
    "ratio_text",
    "row_changed",
    "shared_field_changes",
    "signed_duration",
    "summary_parts",
]

#: How the record fields a diff compares are named in a changes column.
FIELD_LABELS: Final = {"version": "tool version", "host": "host", "operator": "operator"}
#: What precedes the field changes shared by every pair, said once.
SHARED_LABEL: Final = "in every paired step:"
_UNICODE: Final = Palette(colour=False, unicode=True)
#: The ANSI colour of a clause that got worse or better.
_TREND_COLOUR: Final = {"worse": "red", "better": "green"}

#: Whether a clause of the summary got worse (more time, more failures) or better; ``None``: unchanged.
Trend = Literal["worse", "better"] | None


@dataclass(frozen=True)
class BiggestChange:
    """The step that contributed most to the change of span: its ``tool command`` (record text, not yet
    made printable; ``?`` for an unknown part), the signed change and what changed (``duration`` or
    ``gap before``)."""

    name: str
    change: str
    what: str


@dataclass(frozen=True)
class SummaryParts:
    """The clauses of a diff's summary, worded but not styled: each front end adds the labels (``span``,
    ``failed``, ``steps``, ``most:``, ``SHARED_LABEL``), makes the record text printable and styles the
    trends its own way.

    ``span`` ``2m21s → 32s``; ``span_change`` ``-1m49s, ×0.23``; ``failed`` ``2 → 0``; ``steps`` ``7 → 20: 5
    paired (2 changed), 3 added, 1 removed`` (changed as a diff table marks rows, ``row_changed``); ``shared``
    each field changed alike in every pair (``operator carol→bob``, record text), said once instead of in
    every row.
    """

    span: str
    span_change: str
    span_trend: Trend
    failed: str
    failed_trend: Trend
    steps: str
    most: BiggestChange | None
    shared: tuple[str, ...]


def signed_duration(ms: float | None) -> str:
    """A duration change with its sign: ``+1.2s``, ``-300ms``, ``0ms``; ``-`` when unknown."""
    if ms is None:
        return UNKNOWN
    return ("+" if ms > 0 else "") + format_duration(ms)


def ratio_text(ratio: float | None, palette: Palette) -> str:
    """``×1.52``, ``×12.3``, ``×140``: three figures at most; empty when unknown."""
    if ratio is None:
        return ""
    digits = 2 if ratio < 10 else (1 if ratio < 100 else 0)
    return f"{palette.glyph('×', 'x')}{ratio:.{digits}f}"


def field_change(name: str, then: Any, now: Any, arrow: str) -> str:
    """``tool version 1.2→1.3``: a compared record field, then and now (``?`` when a side does not say)."""
    old = "?" if then is None else then
    new = "?" if now is None else now
    return f"{FIELD_LABELS.get(name, name)} {old}{arrow}{new}"


def shared_field_changes(diff: RunDiff) -> dict[str, tuple[Any, Any]]:
    """The fields (version, operator, host) changed the same way in every pair, when there are two or more
    pairs: ``{name: (then, now)}``."""
    matched = [pair for pair in diff.pairs if pair.op == "match"]
    if len(matched) < 2:
        return {}
    shared: dict[str, tuple[Any, Any]] = {}
    for name in FIELD_LABELS:
        changes = {(p.fields[name].then, p.fields[name].now) if name in p.fields else None for p in matched}
        if len(changes) == 1:
            (change,) = changes
            if change is not None:
                shared[name] = change
    return shared


def row_changed(pair: DiffPair, shared: Mapping[str, Any]) -> bool:
    """A pair's row is marked changed: exit code, params, or a field not changed alike in every pair."""
    return pair.exit_changed or bool(pair.params) or bool(set(pair.fields) - set(shared))


def _trend(delta: float) -> Trend:
    return "worse" if delta > 0 else ("better" if delta < 0 else None)


def summary_parts(diff: RunDiff, *, palette: Palette = _UNICODE) -> SummaryParts:
    """The clauses of ``diff``'s summary (arrows and ``×`` as ``palette`` draws them; Unicode by default).

    The changed pairs are counted as a diff table marks them (``~``): a field changed alike in every pair is
    said once in ``shared`` and makes no pair changed.
    """
    arrow = palette.glyph("→", "->")
    s = diff.summary
    shared = shared_field_changes(diff)
    changed = sum(1 for pair in diff.pairs if pair.op == "match" and row_changed(pair, shared))
    span_change = signed_duration(s.delta_ms)
    if s.ratio is not None:
        span_change += f", {ratio_text(s.ratio, palette)}"
    most = None
    if s.biggest is not None:
        most = BiggestChange(
            name=f"{s.biggest.tool or '?'} {s.biggest.command or '?'}",
            change=signed_duration(s.biggest.delta_ms),
            what="duration" if s.biggest.what == "duration" else "gap before",
        )
    return SummaryParts(
        span=f"{format_duration(s.span_then_ms)} {arrow} {format_duration(s.span_now_ms)}",
        span_change=span_change,
        span_trend=_trend(s.delta_ms),
        failed=f"{s.failed_then} {arrow} {s.failed_now}",
        failed_trend=_trend(s.failed_now - s.failed_then),
        steps=f"{s.steps_then} {arrow} {s.steps_now}: {s.matched} paired ({changed} changed), "
        f"{s.inserted} added, {s.deleted} removed",
        most=most,
        shared=tuple(field_change(name, then, now, arrow) for name, (then, now) in shared.items()),
    )


def diff_summary_line(diff: RunDiff, *, palette: Palette) -> str:
    """``span 2m21s → 32s (-1m49s, ×0.23); failed 2 → 0; steps 7 → 20: ...; most: deployctl deploy ...``:
    ``summary_parts`` on one line, the failures red when more, green when fewer (colour palettes only)."""
    parts = summary_parts(diff, palette=palette)
    clauses = [
        f"span {parts.span} ({parts.span_change})",
        palette.paint(f"failed {parts.failed}", _TREND_COLOUR.get(parts.failed_trend or "")),
        f"steps {parts.steps}",
    ]
    if parts.most is not None:
        most = parts.most
        clauses.append(f"most: {printable(most.name)} {most.change} ({most.what})")
    return "; ".join(clauses)

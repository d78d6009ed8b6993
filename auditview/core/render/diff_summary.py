"""The words of a run diff shared by the front ends: the summary line and the pieces every diff view uses.

Owns ``diff_summary_line`` (span, failures, steps and the biggest contributor, on one line), the signed
duration and ratio texts, and which field changes count: ``shared_field_changes`` (version, operator or host
changed alike in every pair, said once) and ``row_changed`` (a pair shown as changed). The CLI's diff table
and the report use these, so a diff reads the same everywhere. Must not import a UI library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.plain import Palette
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    from auditview.core.diff import DiffPair, RunDiff

__all__ = [
    "FIELD_LABELS",
    "diff_summary_line",
    "field_change",
    "ratio_text",
    "row_changed",
    "shared_field_changes",
    "signed_duration",
]

#: How the record fields a diff compares are named in a changes column.
FIELD_LABELS: Final = {"version": "tool version", "host": "host", "operator": "operator"}


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


def diff_summary_line(diff: RunDiff, *, palette: Palette) -> str:
    """``span 2m21s → 32s (-1m49s, ×0.23); failed 2 → 0; steps 7 → 20: ...; most: deployctl deploy ...``.

    The changed pairs are counted as a diff table marks them (``~``).
    """
    arrow = palette.glyph("→", "->")
    s = diff.summary
    shared = shared_field_changes(diff)
    changed = sum(1 for pair in diff.pairs if pair.op == "match" and row_changed(pair, shared))
    change = signed_duration(s.delta_ms)
    if s.ratio is not None:
        change += f", {ratio_text(s.ratio, palette)}"
    parts = [
        f"span {format_duration(s.span_then_ms)} {arrow} {format_duration(s.span_now_ms)} ({change})",
        palette.paint(
            f"failed {s.failed_then} {arrow} {s.failed_now}",
            "red" if s.failed_now > s.failed_then else ("green" if s.failed_now < s.failed_then else None),
        ),
        f"steps {s.steps_then} {arrow} {s.steps_now}: {s.matched} paired ({changed} changed), "
        f"{s.inserted} added, {s.deleted} removed",
    ]
    if s.biggest is not None:
        what = "duration" if s.biggest.what == "duration" else "gap before"
        name = printable(f"{s.biggest.tool or '?'} {s.biggest.command or '?'}")
        parts.append(f"most: {name} {signed_duration(s.biggest.delta_ms)} ({what})")
    return "; ".join(parts)

"""``auditview rejects``: the malformed lines of the inputs (file:line, byte offset, reason, an excerpt), or
with ``--warnings`` the field warnings (records kept with a field whose value was unusable)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from auditview.cli.errors import EXIT_DATAERR, EXIT_OK
from auditview.cli.loading import load_index, selection_of
from auditview.cli.output import Run
from auditview.cli.tables import Cell, Column, render_table

if TYPE_CHECKING:
    from auditview.source.types import Reject

__all__ = ["execute"]

_EXCERPT_CHARS: Final = 200


def _reject_item(reject: Reject) -> dict[str, object]:
    raw: bytes = reject.raw
    text = raw[: _EXCERPT_CHARS * 4].decode("utf-8", "backslashreplace")[:_EXCERPT_CHARS]
    return {
        "path": str(reject.path),
        "line": reject.line,
        "offset": reject.offset,
        "reason": reject.reason,
        "excerpt": text,
        "length": len(raw),
    }


def execute(run: Run) -> int:
    """List the rejects (exit 65 with ``--strict`` when there are any) or the field warnings."""
    index = load_index(run, selection_of(run), frozenset({"ts"}))
    if run.ns.warnings:
        warnings = index.field_warnings()
        items: list[dict[str, object]] = [
            {"path": w.path, "line": w.line, "offset": w.offset, "reason": w.reason} for w in warnings
        ]
        _emit_places(run, items, ("warning", 100), None, f"{len(items)} field warning")
        return EXIT_OK
    rejects = sorted(index.rejects, key=lambda r: (str(r.path), r.offset))
    items = [_reject_item(r) for r in rejects]
    _emit_places(run, items, ("reason", 60), "excerpt", f"{len(items)} malformed line")
    if index.rejects and run.ns.strict:
        return EXIT_DATAERR
    return EXIT_OK


def _emit_places(
    run: Run, items: list[dict[str, object]], reason: tuple[str, int], extra: str | None, total: str
) -> None:
    """Rejects or field warnings (``path``, ``line``, ``offset``, ``reason``...), the first ``--limit`` of
    them, as JSON, JSON lines or a table whose last line is ``total`` (pluralised by its count)."""
    count = len(items)
    if run.ns.limit is not None:
        items = items[: run.ns.limit]
    if run.output == "json":
        run.emit_json(items)
        return
    if run.output == "jsonl":
        run.emit_jsonl(items)
        return
    columns = [
        Column("where", min_width=20, max_width=60, keep_end=True),
        Column("offset", align="right"),
        Column(reason[0], max_width=reason[1], flex=True),
        *([Column(extra, max_width=80, flex=True)] if extra else []),
    ]
    rows: list[list[Cell]] = [
        [f"{i['path']}:{i['line']}", str(i["offset"]), str(i["reason"]), *([str(i[extra])] if extra else [])]
        for i in items
    ]
    lines = render_table(columns, rows, width=run.width(), palette=run.palette())
    lines.append(total + ("s" if count != 1 else ""))
    run.emit_lines(lines)

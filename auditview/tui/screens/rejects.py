"""The rejects screen: malformed lines with file, line, reason and a sanitized excerpt; then field warnings.

A rejected line is not a record. A field warning belongs to a record that was kept with one field it could
not use (``"exit_code": "one"``): that field is unknown, and the warning says where and why
(``field_warning_rows`` reads them off the index frame's ``warnings`` column). Both are few in practice; each
table holds at most ``REJECTS_SHOWN`` rows and says so when there are more (``auditview rejects`` lists all
rejects). Every file name and reason is untrusted: plain ``Text`` cells through ``printable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from auditview.sanitize import printable, truncate_display
from auditview.source.types import FieldWarning, Reject, SourceFile
from auditview.tui.widgets.records import UNKNOWN

__all__ = ["REJECTS_SHOWN", "RejectsScreen", "field_warning_rows"]

REJECTS_SHOWN: Final = 2_000


def field_warning_rows(
    frame: pl.DataFrame,
    files: Sequence[SourceFile],
    *,
    limit: int = REJECTS_SHOWN,
) -> list[FieldWarning]:
    """The first ``limit`` field warnings of ``frame``'s records, by file name then place in the file (like
    ``AuditIndex.field_warnings``, but over the frame the app holds: the loader thread owns the index).

    ``files`` maps ``file_id`` to its source (the index's ``files``).
    """
    if frame.is_empty() or "warnings" not in frame.columns:
        return []
    warned = frame.filter(pl.col("warnings").is_not_null())
    if warned.is_empty():
        return []
    names = {file_id: source.display for file_id, source in enumerate(files)}
    ranks = {file_id: rank for rank, file_id in enumerate(sorted(names, key=lambda key: (names[key], key)))}
    rows = (
        warned.select("file_id", "offset", "line", "warnings")
        .with_columns(
            pl.col("file_id").replace_strict(ranks, default=len(ranks), return_dtype=pl.Int64).alias("rank")
        )
        .sort("rank", "file_id", "offset")
        .head(limit)
    )
    found: list[FieldWarning] = []
    for file_id, offset, line, text in rows.select("file_id", "offset", "line", "warnings").iter_rows():
        path = names.get(int(file_id), UNKNOWN)
        found += [FieldWarning(path, int(line), int(offset), reason) for reason in str(text).split("\n")]
    return found[:limit]


def _path_cell(path: str, limit: int = 40) -> str:
    """A file name for a cell: sanitized, cut at its start when long (the end names the file)."""
    safe = printable(path)
    return safe if len(safe) <= limit else "…" + safe[-(limit - 1) :]


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' if count != 1 else ''}"


class RejectsScreen(Screen[None]):
    """A table of rejected lines and, when there are any, a table of field warnings."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,r", "app.pop_screen", "Back")]

    def __init__(
        self,
        rejects: Sequence[Reject],
        warnings: Sequence[FieldWarning] = (),
        *,
        warning_count: int | None = None,
        lines_known: bool = True,
    ) -> None:
        """``warnings`` are the field warnings to list, ``warning_count`` how many there are in all (when
        ``warnings`` holds only the first ones); ``lines_known`` is false while the app shows a preview (its
        records' line numbers are not known yet)."""
        super().__init__()
        self.rejects = rejects
        self.warnings = warnings
        self.lines_known = lines_known
        self.warning_count = len(warnings) if warning_count is None else max(warning_count, len(warnings))

    def compose(self) -> ComposeResult:
        """Title, table, then the field warnings' title and table (when there are any), footer."""
        count = len(self.rejects)
        title = _plural(count, "rejected line")
        if count > REJECTS_SHOWN:
            title += f" (first {REJECTS_SHOWN:,} shown; `auditview rejects` lists all)"
        if not count:
            title += " — every line is a valid record"
        yield Static(Content.styled(title, "bold"), id="rejects-title")
        yield DataTable(id="rejects-table", cursor_type="row", zebra_stripes=True)
        if self.warning_count:
            about = " — records kept, each of these fields read as unknown"
            shown = len(self.warnings)
            if shown < self.warning_count:
                about = f" (first {shown:,} shown){about}"
            yield Static(
                Content.styled(_plural(self.warning_count, "field warning"), "bold") + Content(about),
                id="warnings-title",
            )
            yield DataTable(id="warnings-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Fill the tables with plain ``Text`` cells."""
        table = self.query_one("#rejects-table", DataTable)
        table.add_columns("file", "line", "reason", "excerpt")
        for reject in self.rejects[:REJECTS_SHOWN]:
            excerpt = truncate_display(printable(reject.raw[:400].decode("utf-8", errors="replace")), 80)
            table.add_row(
                Text(_path_cell(reject.path)),
                Text(str(reject.line), justify="right"),
                Text(truncate_display(printable(reject.reason), 60)),
                Text(excerpt),
            )
        if self.warning_count:
            warnings = self.query_one("#warnings-table", DataTable)
            warnings.add_columns("file", "line", "field warning")
            for warning in self.warnings[:REJECTS_SHOWN]:
                warnings.add_row(
                    Text(_path_cell(warning.path)),
                    Text(str(warning.line) if self.lines_known else UNKNOWN, justify="right"),
                    Text(truncate_display(printable(warning.reason), 120)),
                )
        (table if self.rejects or not self.warning_count else self.query_one("#warnings-table")).focus()

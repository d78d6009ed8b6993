"""The rejects screen: malformed lines with file, line, reason and a sanitized excerpt; then field warnings.

A rejected line is not a record. Both tables are navigable (``j``/``k``, arrows, ``g``/``G``) and Enter opens
``RejectDetailScreen``: the whole reason, and for a rejected line its raw bytes escaped, however long.

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
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from auditview.source.types import FieldWarning, Reject, SourceFile
from auditview.text.humanize import UNKNOWN
from auditview.text.sanitize import printable, truncate_display

__all__ = ["REJECTS_SHOWN", "RejectDetailScreen", "RejectsScreen", "RejectsTable", "field_warning_rows"]

REJECTS_SHOWN: Final = 2_000
#: The most characters of a rejected line the detail shows (the reader keeps at most its first bytes anyway).
RAW_SHOWN: Final = 64_000


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


def escaped_raw(raw: bytes, limit: int = RAW_SHOWN) -> str:
    """A rejected line as plain visible text: bytes that are not UTF-8 as ``\\xNN``, controls escaped."""
    text = raw.decode("utf-8", errors="backslashreplace")
    return truncate_display(printable(text[: limit * 2]), limit)


class RejectsTable(DataTable[Text]):
    """A rejects / field warnings table: one row per item, moved with vi keys too, Enter opens the detail."""

    HELP_TITLE: ClassVar[str] = "Rejects"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Down", show=False, tooltip="next line"),
        Binding("k,up", "cursor_up", "Up", show=False, tooltip="previous line"),
        Binding("g,home", "scroll_top", "First", show=False, tooltip="first line"),
        Binding("G,end", "scroll_bottom", "Last", show=False, tooltip="last line"),
        Binding("enter", "select_cursor", "Detail", tooltip="the whole reason and the escaped raw line"),
    ]


class RejectDetailScreen(Screen[None]):
    """One rejected line (or field warning) in full: where, the whole reason, the raw line escaped."""

    HELP_TITLE: ClassVar[str] = "Reject"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", tooltip="back to the list"),
    ]

    def __init__(self, item: Reject | FieldWarning, *, line_known: bool = True) -> None:
        """Show ``item``; ``line_known`` is false for a warning listed while the app shows a preview."""
        super().__init__()
        self.item = item
        self.line_known = line_known

    def compose(self) -> ComposeResult:
        """Header (file:line, offset, size), reason, raw line (rejects only), footer."""
        item = self.item
        line = str(item.line) if self.line_known else UNKNOWN
        kind = "rejected line " if isinstance(item, Reject) else "field warning "
        header = Content.styled(kind, "bold") + Content(f"{printable(item.path)}:{line}")
        header += Content(f" · byte offset {item.offset:,}")
        if isinstance(item, Reject):
            size = item.length if item.length is not None else len(item.raw)
            header += Content(f" · {size:,} bytes")
        yield Static(header, id="reject-header")
        with VerticalScroll(id="reject-body"):
            yield Static(Content.styled("reason", "bold"), classes="reject-section")
            yield Static(Content(printable(item.reason)), id="reject-reason")
            if isinstance(item, Reject):
                title = "raw line (escaped)"
                if item.length is not None and item.length > len(item.raw):
                    title += f" — its first {len(item.raw):,} of {item.length:,} bytes"
                yield Static(Content.styled(title, "bold"), classes="reject-section")
                yield Static(Content(escaped_raw(item.raw)), id="reject-raw")
        yield Footer()


class RejectsScreen(Screen[None]):
    """A table of rejected lines and, when there are any, a table of field warnings."""

    HELP_TITLE: ClassVar[str] = "Rejects"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,r", "app.pop_screen", "Back", tooltip="back to the records"),
    ]

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
        yield RejectsTable(id="rejects-table", cursor_type="row", zebra_stripes=True)
        if self.warning_count:
            about = " — records kept, each of these fields read as unknown"
            shown = len(self.warnings)
            if shown < self.warning_count:
                about = f" (first {shown:,} shown){about}"
            yield Static(
                Content.styled(_plural(self.warning_count, "field warning"), "bold") + Content(about),
                id="warnings-title",
            )
            yield RejectsTable(id="warnings-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Fill the tables with plain ``Text`` cells."""
        table = self.query_one("#rejects-table", RejectsTable)
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
            warnings = self.query_one("#warnings-table", RejectsTable)
            warnings.add_columns("file", "line", "field warning")
            for warning in self.warnings[:REJECTS_SHOWN]:
                warnings.add_row(
                    Text(_path_cell(warning.path)),
                    Text(str(warning.line) if self.lines_known else UNKNOWN, justify="right"),
                    Text(truncate_display(printable(warning.reason), 120)),
                )
        (table if self.rejects or not self.warning_count else self.query_one("#warnings-table")).focus()

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        """Enter on a row: show that reject (or field warning) in full."""
        message.stop()
        row = message.cursor_row
        if message.data_table.id == "rejects-table" and 0 <= row < min(len(self.rejects), REJECTS_SHOWN):
            self.app.push_screen(RejectDetailScreen(self.rejects[row]))
        elif message.data_table.id == "warnings-table" and 0 <= row < len(self.warnings):
            self.app.push_screen(RejectDetailScreen(self.warnings[row], line_known=self.lines_known))

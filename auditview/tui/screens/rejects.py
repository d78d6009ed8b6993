"""The rejects screen: malformed lines with file, line, reason and a sanitized excerpt.

Rejects are few in practice; the table holds at most ``REJECTS_SHOWN`` of them and says so when there are more
(``auditview rejects`` lists all of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from auditview.sanitize import printable, truncate_display
from auditview.source.types import Reject

__all__ = ["REJECTS_SHOWN", "RejectsScreen"]

REJECTS_SHOWN: Final = 2_000


class RejectsScreen(Screen[None]):
    """A table of rejected lines."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,r", "app.pop_screen", "Back")]

    def __init__(self, rejects: Sequence[Reject]) -> None:
        super().__init__()
        self.rejects = rejects

    def compose(self) -> ComposeResult:
        """Title, table, footer."""
        count = len(self.rejects)
        title = f"{count:,} rejected line{'s' if count != 1 else ''}"
        if count > REJECTS_SHOWN:
            title += f" (first {REJECTS_SHOWN:,} shown; `auditview rejects` lists all)"
        if not count:
            title += " — every line is a valid record"
        yield Static(Content.styled(title, "bold"), id="rejects-title")
        yield DataTable(id="rejects-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Fill the table with plain ``Text`` cells."""
        table = self.query_one(DataTable)
        table.add_columns("file", "line", "reason", "excerpt")
        for reject in self.rejects[:REJECTS_SHOWN]:
            excerpt = truncate_display(printable(reject.raw[:400].decode("utf-8", errors="replace")), 80)
            table.add_row(
                Text(truncate_display(printable(reject.path), 40)),
                Text(str(reject.line), justify="right"),
                Text(truncate_display(printable(reject.reason), 60)),
                Text(excerpt),
            )
        table.focus()

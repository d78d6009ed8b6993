"""The detail screen: one record's full JSON, pretty and highlighted, with its source file and line.

It receives the raw bytes from the app (which read them in a worker) and renders them inert; ``c`` copies the
exact raw line to the clipboard with OSC 52 (``App.copy_to_clipboard``). Given the record's index row, it
first lists the fields as read when that differs from the line (derived, unknown or unusable values; see
``widgets.detail.fields_as_read``) and the record's field warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from auditview.text.sanitize import printable, truncate_display
from auditview.tui.widgets.detail import (
    field_warnings,
    fields_as_read,
    needs_fields_as_read,
    pretty_record,
    raw_preview,
    warnings_block,
)

__all__ = ["DetailScreen"]


class DetailScreen(Screen[None]):
    """The record's JSON with a header line naming where it came from."""

    HELP_TITLE: ClassVar[str] = "Record"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", tooltip="back"),
        Binding(
            "c", "copy_raw", "Copy raw line", tooltip="copy the exact raw line to the clipboard (OSC 52)"
        ),
    ]

    def __init__(
        self,
        raw: bytes,
        source: str,
        line: int | None,
        slow_reason: str | None = None,
        *,
        row: Mapping[str, Any] | None = None,
    ) -> None:
        """``row``: the record's index row (its values as read, ``derived`` and ``warnings``), when known."""
        super().__init__()
        self.raw = raw
        self.source = source
        self.line = line
        self.slow_reason = slow_reason
        self.row = row

    def compose(self) -> ComposeResult:
        """Header, fields as read and field warnings (when they differ from the line), pretty JSON, raw line,
        footer."""
        where = f"{self.source}:{self.line}" if self.line else f"{self.source} (line number not known)"
        header = Content.styled("record ", "bold") + Content(truncate_display(printable(where), 300))
        header += Content(f" · {len(self.raw):,} bytes")
        warnings = field_warnings(self.row.get("warnings")) if self.row is not None else []
        if warnings:
            count = len(warnings)
            header += Content.styled(f" · {count} field warning{'s' if count != 1 else ''}", "$warning")
        if self.slow_reason:
            header += Content.styled(" · ◷ slow: ", "$warning") + Content(printable(self.slow_reason))
        yield Static(header, id="detail-header")
        with VerticalScroll(id="detail-body"):
            if self.row is not None and needs_fields_as_read(self.row):
                yield Static(fields_as_read(self.row), id="detail-fields")
                block = warnings_block(self.row.get("warnings"))
                if block is not None:
                    yield Static(block, id="detail-warnings")
                yield Static(Content.styled("as written", "bold"), id="detail-written")
            yield Static(pretty_record(self.raw), id="detail-json")
            yield Static(Content.styled("raw line", "bold"), classes="detail-section")
            yield Static(Content(raw_preview(self.raw)), id="detail-raw")
        yield Footer()

    def action_copy_raw(self) -> None:
        """Copy the exact raw line (OSC 52)."""
        self.app.copy_to_clipboard(self.raw.decode("utf-8", errors="replace"))
        self.notify(f"copied the raw line ({len(self.raw):,} bytes)", timeout=3)

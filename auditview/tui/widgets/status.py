"""The status bar: sources, record counts, rejects and field warnings, follow state, indexing progress and the
last source event.

Attributes down: the app sets the reactives; the bar only renders them (as a ``Content`` built from plain
strings).
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from auditview.text.sanitize import printable, truncate_display

__all__ = ["StatusBar"]


class StatusBar(Widget):
    """One line of state: ``3 sources · 1,204 / 52,311 records · 2 rejects · 3 field warnings (r) ·
    following · indexing 41%``."""

    sources: reactive[int] = reactive(0)
    shown: reactive[int] = reactive(0)
    total: reactive[int] = reactive(0)
    rejects: reactive[int] = reactive(0)
    #: Unusable field values of the loaded records (each read as unknown; listed with the rejects).
    field_warnings: reactive[int] = reactive(0)
    following: reactive[bool] = reactive(True)
    live: reactive[bool] = reactive(True)
    unseen: reactive[int] = reactive(0)
    progress: reactive[float | None] = reactive(None)
    event: reactive[str] = reactive("")
    filter_busy: reactive[bool] = reactive(False)
    marked: reactive[int] = reactive(0)

    def render(self) -> Content:
        """Build the line from plain strings; the event text is sanitized (it may quote a file name)."""
        parts: list[tuple[str, str]] = [
            (f"{self.sources} source{'s' if self.sources != 1 else ''}", ""),
            (f"{self.shown:,} / {self.total:,} records", ""),
        ]
        if self.rejects:
            parts.append((f"{self.rejects:,} rejects" + ("" if self.field_warnings else " (r)"), "$warning"))
        if self.field_warnings:
            plural = "s" if self.field_warnings != 1 else ""
            parts.append((f"{self.field_warnings:,} field warning{plural} (r)", "$warning"))
        if self.marked:
            parts.append((f"{self.marked} marked", "$accent"))
        if not self.live:
            follow = ("static", "")
        elif self.following:
            follow = ("● following", "$success")
        elif self.unseen:
            follow = (f"⏸ {self.unseen:,} new (G)", "$warning")
        else:
            follow = ("⏸ paused (G)", "")
        parts.append(follow)
        if self.progress is not None:
            parts.append((f"indexing {self.progress:.0%}", "$accent"))
        if self.filter_busy:
            parts.append(("filtering…", "$accent"))
        if self.event:
            parts.append((truncate_display(printable(self.event), 60), "$text-muted"))
        content = Content("")
        for number, (text, style) in enumerate(parts):
            if number:
                content += Content(" · ")
            content += Content.styled(text, style) if style else Content(text)
        return content

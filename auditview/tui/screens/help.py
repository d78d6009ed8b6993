"""The help screen: every key of the app, grouped by screen, as plain text."""

from __future__ import annotations

from typing import ClassVar, Final

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HELP_SECTIONS", "HelpScreen"]

HELP_SECTIONS: Final[tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = (
    (
        "Records",
        (
            ("j k ↑ ↓", "move the cursor"),
            ("PgUp PgDn", "page up / down"),
            ("g / G (Home / End)", "first record / newest record (and follow)"),
            ("e / E", "next / previous failure (✗)"),
            ("s / S", "next / previous slow step (◷)"),
            ("f", "search (highlight matches, same language as the filter)"),
            ("n / N", "next / previous search match (›)"),
            ("space", "mark a record (●) for export"),
            ("enter", "record detail (JSON, source file and line)"),
        ),
    ),
    (
        "Views",
        (
            ("/", "filter: command=deploy and exit_code!=0, duration_ms>5s, trace.failed"),
            ("w", "time range (since / until: 1h, 30m, today, 2026-11-27T10:00)"),
            ("t", "traces; enter on a trace opens its timeline"),
            ("x", "export filtered / marked records or a trace (byte-exact JSONL)"),
            ("r", "rejected lines and field warnings (file, line, reason)"),
            ("ctrl+p", "command palette"),
            ("?", "this help"),
            ("escape", "back"),
            ("q", "quit"),
        ),
    ),
    (
        "Detail",
        (("c", "copy the raw line to the clipboard (OSC 52)"),),
    ),
    (
        "Live",
        (
            ("", "At the newest record the view follows new records (● following)."),
            ("", "Scrolled up it stays put and counts ⏸ N new; G jumps to the end."),
        ),
    ),
)


def _help_content() -> Content:
    content = Content("")
    for title, rows in HELP_SECTIONS:
        content += Content.styled(title + "\n", "bold $accent")
        for keys, what in rows:
            content += Content.styled(f"  {keys:<20}", "bold") + Content(f" {what}\n")
        content += Content("\n")
    return content


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        """The key list in a scrollable box."""
        with VerticalScroll(id="help-box"):
            yield Static(Content.styled("auditview — keys", "bold"), id="help-title")
            yield Static(_help_content(), id="help-text")

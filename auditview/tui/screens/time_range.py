"""The time-range dialog: ``since`` and ``until`` in the shared WHEN grammar (``1h``, ``today``, ISO times).

Dismisses with a ``TimeRange`` (``auditview.text.timeparse``: parsed, with the texts the user typed) or
``None`` when cancelled. Invalid input is reported inline with the accepted forms.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from auditview.text.sanitize import printable
from auditview.text.timeparse import TimeParseError, TimeRange, parse_when

__all__ = ["TimeRangeDialog"]


class TimeRangeDialog(ModalScreen[TimeRange | None]):
    """Two inputs and Apply / Clear / Cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: TimeRange, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.current = current
        self.clock = clock

    def compose(self) -> ComposeResult:
        """The form."""
        with Vertical(id="range-box"):
            yield Static(Content.styled("Time range", "bold"), id="range-title")
            yield Label("since")
            yield Input(
                self.current.since_text, placeholder="e.g. 1h, 30m, today, 2026-11-27T10:00", id="since"
            )
            yield Label("until")
            yield Input(self.current.until_text, placeholder="empty = now, following", id="until")
            yield Static("", id="range-message")
            with Horizontal(id="range-buttons"):
                yield Button("Apply", variant="primary", id="range-apply")
                yield Button("Clear", id="range-clear")
                yield Button("Cancel", id="range-cancel")

    @on(Button.Pressed, "#range-cancel")
    def action_cancel(self) -> None:
        """Keep the current range."""
        self.dismiss(None)

    @on(Button.Pressed, "#range-clear")
    def _clear(self) -> None:
        self.dismiss(TimeRange(None, None))

    @on(Button.Pressed, "#range-apply")
    @on(Input.Submitted)
    def _apply(self) -> None:
        since_text = self.query_one("#since", Input).value.strip()
        until_text = self.query_one("#until", Input).value.strip()
        now = self.clock()
        try:
            since = parse_when(since_text, now=now) if since_text else None
            until = parse_when(until_text, now=now) if until_text else None
        except TimeParseError as exc:
            self.query_one("#range-message", Static).update(Content(printable(str(exc))).stylize("$error"))
            return
        if since and until and since > until:
            self.query_one("#range-message", Static).update(Content("since is after until").stylize("$error"))
            return
        self.dismiss(TimeRange(since, until, since_text, until_text))

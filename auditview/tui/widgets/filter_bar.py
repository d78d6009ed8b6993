"""The filter bar: an input for the engine's filter language, with completion and an inline error marker.

It owns no data: the app hands it the frame to complete against (``completion_frame``) and the current time
range text, and it posts ``FilterBar.Submitted`` / ``FilterBar.Cancelled`` up. Completion runs in a thread
(values of a column over a large frame are not free) so typing never blocks the UI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import polars as pl
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Input, Static

from auditview.core.query import Completion
from auditview.text.sanitize import printable, truncate_display

__all__ = ["FilterBar", "FilterSuggester", "apply_completion"]

Completer = Callable[[str, int, pl.DataFrame], Completion]


def apply_completion(text: str, completion: Completion, candidate: str) -> str:
    """``text`` with ``text[start:end]`` replaced by ``candidate``."""
    return text[: completion.start] + candidate + text[completion.end :]


class FilterSuggester(Suggester):
    """Suggest the first engine completion (``query.completions``) for the text before the cursor."""

    def __init__(self, completer: Completer | None, frame_getter: Callable[[], pl.DataFrame]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._completer = completer
        self._frame_getter = frame_getter
        self.last: list[str] = []

    async def get_suggestion(self, value: str) -> str | None:
        """Ask the engine in a thread; return the full suggested input text."""
        if self._completer is None or not value:
            self.last = []
            return None
        completer = self._completer
        frame = self._frame_getter()
        try:
            completion = await asyncio.to_thread(completer, value, len(value), frame)
        except Exception:  # completion is a convenience; a bug in it must not break typing
            self.last = []
            return None
        self.last = list(completion.candidates)
        for candidate in completion.candidates:
            suggestion = apply_completion(value, completion, candidate)
            if suggestion != value and suggestion.startswith(value):
                return suggestion
        return None


class FilterBar(Widget):
    """``filter ▸ [input]`` plus a message line for errors and completions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close filter", show=True),
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed enter on ``text`` (empty text clears the filter)."""

        text: str

    @dataclass
    class Cancelled(Message):
        """The user left the filter bar without applying."""

    def __init__(self, completer: Completer | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.completion_frame: pl.DataFrame = pl.DataFrame()
        self._suggester = FilterSuggester(completer, lambda: self.completion_frame)
        self.applied = ""
        self._mode = "filter"

    @property
    def mode(self) -> str:
        """``filter`` (enter narrows the view) or ``search`` (enter highlights matches)."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = value
        self.query_one("#filter-label", Static).update(f"{value} ▸")
        self.set_class(value == "search", "-search")

    def compose(self) -> ComposeResult:
        """A label, the input, and a message line under them."""
        with Horizontal(id="filter-row"):
            yield Static("filter ▸", id="filter-label")
            yield Input(
                placeholder="/ to filter: command=deploy and exit_code!=0, duration_ms>5s, trace.failed …",
                suggester=self._suggester,
                id="filter-input",
                select_on_focus=False,
            )
            yield Static("", id="filter-range")
        yield Static("", id="filter-message")

    @property
    def input(self) -> Input:
        """The text input."""
        return self.query_one("#filter-input", Input)

    def show_range(self, text: str) -> None:
        """Show the active time range (``since 1h`` …) at the right of the bar."""
        self.query_one("#filter-range", Static).update(Content(truncate_display(printable(text), 40)))

    def show_error(self, text: str, message: str, position: int) -> None:
        """Show ``message`` under the input with a caret under ``position`` of ``text``."""
        label_width = len("filter ▸") + 2
        caret = " " * (label_width + max(position, 0)) + "^ "
        line = Content.styled(caret + truncate_display(printable(message), 200), "$error")
        widget = self.query_one("#filter-message", Static)
        widget.update(line)
        widget.display = True
        self.add_class("-error")

    def show_hint(self, text: str) -> None:
        """Show a neutral hint (completions, counts) under the input; empty hides the line."""
        widget = self.query_one("#filter-message", Static)
        widget.update(Content.styled(truncate_display(printable(text), 300), "$text-muted"))
        widget.display = bool(text)
        self.remove_class("-error")

    def clear_message(self) -> None:
        """Hide the message line."""
        self.show_hint("")

    def on_mount(self) -> None:
        """Start without a message line."""
        self.query_one("#filter-message", Static).display = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Send the text up."""
        event.stop()
        self.post_message(self.Submitted(event.value.strip()))

    def on_input_changed(self, event: Input.Changed) -> None:
        """Show the candidate completions under the input while typing."""
        event.stop()
        options = self._suggester.last[:8]
        self.show_hint(("tab/→ completes · " + "  ".join(options)) if options and event.value else "")

    def action_cancel(self) -> None:
        """Restore the applied filter text and leave."""
        self.input.value = self.applied
        self.clear_message()
        self.post_message(self.Cancelled())

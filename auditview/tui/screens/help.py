"""The help screen: the keys of the screen the user is on, generated from its bindings.

``help_sections(screen)`` walks the screen's active bindings (the focused widget, its screen, the app: what
the keys do right now) and lists, per node, every binding that auditview itself declares, in the order of its
``BINDINGS``, with the binding's ``tooltip`` (or its footer ``description``). A class names its section with
``HELP_TITLE`` and may add lines of prose with ``HELP_NOTES``. So the help cannot drift from the keys: a
binding added to a widget shows up in its screen's help, and a key that does nothing on a screen does not.
Every row is a key column and a text column, and a long text wraps inside its own column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

__all__ = ["HelpRow", "HelpScreen", "HelpSection", "help_sections"]

#: Actions of Textual's own bindings that are worth listing (the rest — focus, scroll — go without saying).
_TEXTUAL_ACTIONS: Final = {"command_palette": "command palette: every action by name"}


@dataclass(frozen=True)
class HelpRow:
    """One line of help: the keys as the footer shows them (``j ↓``) and what they do."""

    keys: str
    text: str


@dataclass(frozen=True)
class HelpSection:
    """The keys one node (a widget, a screen, the app) handles, under its title, with optional prose."""

    title: str
    rows: tuple[HelpRow, ...]
    notes: tuple[str, ...] = ()


def _declared_bindings(node: DOMNode) -> Iterator[Binding]:
    """The bindings auditview's own classes declare for ``node``, base classes first, in declared order."""
    for cls in reversed(type(node).__mro__):
        if not cls.__module__.startswith("auditview"):
            continue
        for item in cls.__dict__.get("BINDINGS", ()):
            if isinstance(item, Binding):
                yield item
            elif isinstance(item, tuple):
                yield Binding(*item)


def _title(node: DOMNode, screen: Screen[Any]) -> str:
    title = getattr(type(node), "HELP_TITLE", None)
    if node is screen.app and screen is not screen.app.screen_stack[0]:
        return "Anywhere"
    return str(title) if title else type(node).__name__


def help_sections(screen: Screen[Any]) -> list[HelpSection]:
    """The help of ``screen`` as it is now: one section per node that handles keys, focused widget first."""
    active = screen.active_bindings
    app = screen.app
    nodes: list[DOMNode] = []
    for entry in active.values():
        if entry.node not in nodes:
            nodes.append(entry.node)
    sections: list[HelpSection] = []
    for node in nodes:
        rows: list[HelpRow] = []
        for binding in _declared_bindings(node):
            keys = []
            for key in (part.strip() for part in binding.key.split(",")):
                found = active.get(key)
                if found is not None and found.node is node and found.binding.action == binding.action:
                    keys += [app.get_key_display(found.binding)] if found.enabled else []
            if keys:
                rows.append(HelpRow(" ".join(keys), binding.tooltip or binding.description))
        for key, entry in active.items():
            text = _TEXTUAL_ACTIONS.get(entry.binding.action)
            if entry.node is node and text is not None and entry.enabled:
                rows.append(HelpRow(app.get_key_display(entry.binding) or key, text))
        notes = tuple(getattr(type(node), "HELP_NOTES", ()))
        if not rows and not notes:
            continue
        title = _title(node, screen)
        if sections and sections[-1].title == title:  # a screen and its main widget: one section
            last = sections.pop()
            rows, notes = [*last.rows, *rows], (*last.notes, *notes)
        sections.append(HelpSection(title, tuple(rows), notes))
    return sections


class HelpScreen(ModalScreen[None]):
    """A modal list of the keys of one screen; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, sections: list[HelpSection], title: str = "") -> None:
        """Show ``sections`` (see ``help_sections``) under ``title`` (the screen they belong to)."""
        super().__init__()
        self.sections = sections
        self.title_text = title

    @classmethod
    def for_screen(cls, screen: Screen[Any]) -> HelpScreen:
        """The help of ``screen``, titled with the screen's ``HELP_TITLE`` (or its first section's)."""
        sections = help_sections(screen)
        title = getattr(type(screen), "HELP_TITLE", None) or (sections[0].title if sections else "")
        return cls(sections, str(title))

    def compose(self) -> ComposeResult:
        """A title, then per section its name, its keys and what they do (two columns), and its notes."""
        with VerticalScroll(id="help-box"):
            heading = "auditview — keys" + (f": {self.title_text}" if self.title_text else "")
            yield Static(Content.styled(heading, "bold"), id="help-title")
            for section in self.sections:
                yield Static(Content.styled(section.title, "bold $accent"), classes="help-section")
                for row in section.rows:
                    with Horizontal(classes="help-row"):
                        yield Static(Content.styled(row.keys, "bold"), classes="help-keys")
                        yield Static(Content(row.text), classes="help-text")
                for note in section.notes:
                    yield Static(Content(note), classes="help-note")
            yield Static(Content.styled("escape, q or ? closes this help", "$text-muted"), id="help-close")

    @property
    def text(self) -> str:
        """Everything the help says, as plain text (one row per line), for tests and searches."""
        lines = []
        for section in self.sections:
            lines.append(section.title)
            lines.extend(f"  {row.keys}  {row.text}" for row in section.rows)
            lines.extend(f"  {note}" for note in section.notes)
        return "\n".join(lines)

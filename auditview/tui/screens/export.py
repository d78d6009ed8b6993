"""The export dialog: choose what to export, propose a file name, write it through the engine's byte-exact
export.

``ExportDialog`` is a ``ModalScreen`` that dismisses with the engine's ``ExportResult`` (or ``None`` when
cancelled). The write runs in a thread worker that calls ``auditview.core.exporters.jsonl.export_to_file``
(atomic, refuses
to overwrite): the dialog itself never opens a file. An existing file is only replaced after a second,
explicit confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson
import polars as pl
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, RadioSet, Static

from auditview.core.exporters.jsonl import ExportResult
from auditview.text.sanitize import printable, truncate_display
from auditview.tui.widgets.toggles import TextCheckbox, TextRadioButton

__all__ = ["ExportDialog", "ExportScope", "default_export_name", "trace_selection"]


def default_export_name(now: datetime) -> str:
    """``auditview-export-20261127T101500Z.jsonl`` for an aware ``now``."""
    return f"auditview-export-{now.strftime('%Y%m%dT%H%M%SZ')}.jsonl"


def trace_selection(trace_id: str) -> str:
    """The manifest's ``filter`` for one trace, worded as ``auditview export --trace ID`` words it: a filter
    (``trace_id="…"``, the id as a JSON string) that selects exactly that trace's records."""
    return f"trace_id={orjson.dumps(trace_id).decode()}"


@dataclass(frozen=True)
class ExportScope:
    """One choice in the dialog: a label, the records it would export, and what chose them for the manifest.

    ``selection`` is written as the manifest's ``filter`` (a filter expression selecting the records, or
    ``None`` when no filter chose them); ``since`` / ``until`` as its time range.
    """

    label: str
    frame: pl.DataFrame
    selection: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class ExportDialog(ModalScreen[ExportResult | None]):
    """Scope, path, manifest checkbox, Write / Cancel; reports errors inline."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        index: Any,
        scopes: Mapping[str, ExportScope],
        *,
        default_scope: str,
        default_path: Path,
    ) -> None:
        super().__init__()
        self.index = index
        self.scopes = dict(scopes)
        self.scope = default_scope if default_scope in scopes else next(iter(scopes))
        self.default_path = default_path
        self._confirm_overwrite: Path | None = None

    def compose(self) -> ComposeResult:
        """The form."""
        with Vertical(id="export-box"):
            yield Static(Content.styled("Export records (byte-exact JSONL)", "bold"), id="export-title")
            with RadioSet(id="export-scope"):
                for key, scope in self.scopes.items():
                    count = scope.frame.height
                    label = f"{printable(scope.label)} — {count:,} record{'' if count == 1 else 's'}"
                    yield TextRadioButton(Content(label), value=key == self.scope, id=f"scope-{key}")
            yield Input(str(self.default_path), id="export-path")
            yield TextCheckbox(
                "also write a manifest (sources, byte ranges, sha256, filter)", id="export-manifest"
            )
            yield Static("", id="export-message")
            with Horizontal(id="export-buttons"):
                yield Button("Write", variant="primary", id="export-write")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        """Start in the file name: enter writes straight away."""
        self.query_one("#export-path", Input).focus()

    @on(RadioSet.Changed, "#export-scope")
    def _scope_changed(self, event: RadioSet.Changed) -> None:
        button_id = event.pressed.id or ""
        self.scope = button_id.removeprefix("scope-")

    @on(Input.Changed, "#export-path")
    def _path_changed(self) -> None:
        self._confirm_overwrite = None
        self.query_one("#export-write", Button).label = "Write"

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        """Close without writing."""
        self.dismiss(None)

    @on(Button.Pressed, "#export-write")
    @on(Input.Submitted, "#export-path")
    def _write_pressed(self) -> None:
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self._say("enter a file name", error=True)
            return
        path = Path(raw).expanduser()
        force = self._confirm_overwrite == path
        manifest = path.with_name(path.name + ".manifest.json") if self.query_one(Checkbox).value else None
        self._say("writing…")
        self.write_export(path, force, manifest)

    def _say(self, text: str, *, error: bool = False) -> None:
        content = Content(truncate_display(printable(text), 300))
        if error:
            content = content.stylize("$error")
        self.query_one("#export-message", Static).update(content)

    @work(thread=True, exclusive=True, group="export", description="export", exit_on_error=False)
    def write_export(self, path: Path, force: bool, manifest: Path | None) -> None:
        """Write in a thread; report back on the UI thread."""
        from auditview.core.exporters.jsonl import export_to_file

        scope = self.scopes[self.scope]
        try:
            result = export_to_file(
                self.index,
                scope.frame,
                path,
                force=force,
                manifest=manifest,
                filter_text=scope.selection,
                since=scope.since,
                until=scope.until,
            )
        except FileExistsError:
            self.app.call_from_thread(self._exists, path)
            return
        except OSError as exc:
            self.app.call_from_thread(self._say, f"could not write {path}: {exc.strerror or exc}", error=True)
            return
        self.app.call_from_thread(self.dismiss, result)

    def _exists(self, path: Path) -> None:
        self._confirm_overwrite = path
        self.query_one("#export-write", Button).label = "Overwrite"
        self._say(f"{path} exists — press Overwrite to replace it", error=True)

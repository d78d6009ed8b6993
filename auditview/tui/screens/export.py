"""The export dialog: choose what to export and how, propose a file name, write it through the engine's
exporters.

``ExportDialog`` is a ``ModalScreen`` that dismisses with the engine's ``ExportResult`` (or ``None`` when
cancelled). Two formats, as ``auditview export --format`` names them: ``jsonl``, each record byte-identical to
its source line (``auditview.core.exporters.jsonl.export_to_file``), and ``otlp-json``, the records as
OpenTelemetry spans (``ExportTraceServiceRequest`` JSON lines, optionally with the GenAI conventions: the
bytes ``auditview export --format otlp-json [--semconv genai]`` writes, built by
``auditview.core.exporters.otlp``). The write runs in a thread worker, atomically, and refuses to overwrite:
the dialog itself never opens a file. An existing file is only replaced after a second, explicit
confirmation; every failure is shown in the dialog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

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
from auditview.core.exporters.otlp import Semconv
from auditview.text.sanitize import printable, truncate_display
from auditview.tui.widgets.toggles import TextCheckbox, TextRadioButton

__all__ = [
    "EXPORT_FORMATS",
    "ExportDialog",
    "ExportFormat",
    "ExportScope",
    "default_export_name",
    "export_file_name",
    "trace_selection",
]

#: The formats of the dialog, named as ``auditview export --format`` names them.
ExportFormat = Literal["jsonl", "otlp-json"]
#: Each format's label in the dialog, its title and the suffix of the file name it proposes (OTLP/JSON is
#: JSON lines, one ``ExportTraceServiceRequest`` a line, as the OpenTelemetry file exporter writes it).
EXPORT_FORMATS: Final[dict[ExportFormat, tuple[str, str, str]]] = {
    "jsonl": ("byte-exact JSONL", "Export records (byte-exact JSONL)", ".jsonl"),
    "otlp-json": ("OTLP/JSON spans", "Export records as OpenTelemetry spans (OTLP/JSON)", ".otlp.jsonl"),
}


def default_export_name(now: datetime, export_format: ExportFormat = "jsonl") -> str:
    """``auditview-export-20261127T101500Z.jsonl`` (``.otlp.jsonl`` for OTLP/JSON) for an aware ``now``."""
    return f"auditview-export-{now.strftime('%Y%m%dT%H%M%SZ')}{EXPORT_FORMATS[export_format][2]}"


def export_file_name(name: str, export_format: ExportFormat) -> str:
    """``name`` with the suffix of ``export_format`` instead of another format's (``out.jsonl`` →
    ``out.otlp.jsonl`` and back); a name with neither suffix is the user's own and stays as it is."""
    for suffix in sorted((entry[2] for entry in EXPORT_FORMATS.values()), key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + EXPORT_FORMATS[export_format][2]
    return name


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
    """Scope, format (with the GenAI conventions for OTLP), path, manifest checkbox, Write / Cancel; reports
    errors inline."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        index: Any,
        scopes: Mapping[str, ExportScope],
        *,
        default_scope: str,
        default_path: Path,
        default_format: ExportFormat = "jsonl",
    ) -> None:
        super().__init__()
        self.index = index
        self.scopes = dict(scopes)
        self.scope = default_scope if default_scope in scopes else next(iter(scopes))
        self.export_format: ExportFormat = default_format
        self.default_path = Path(export_file_name(str(default_path), default_format))
        self._confirm_overwrite: Path | None = None

    def compose(self) -> ComposeResult:
        """The form."""
        with Vertical(id="export-box"):
            title = EXPORT_FORMATS[self.export_format][1]
            yield Static(Content.styled(title, "bold"), id="export-title")
            with RadioSet(id="export-scope"):
                for key, scope in self.scopes.items():
                    count = scope.frame.height
                    label = f"{printable(scope.label)} — {count:,} record{'' if count == 1 else 's'}"
                    yield TextRadioButton(Content(label), value=key == self.scope, id=f"scope-{key}")
            with Horizontal(id="export-format-row"):
                with RadioSet(id="export-format"):
                    for name, (label, _title, _suffix) in EXPORT_FORMATS.items():
                        yield TextRadioButton(label, value=name == self.export_format, id=f"format-{name}")
                yield TextCheckbox(
                    "GenAI conventions",
                    id="export-semconv",
                    disabled=self.export_format != "otlp-json",
                    tooltip="OTLP spans as GenAI execute_tool spans (auditview export --semconv genai)",
                )
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

    @property
    def semconv(self) -> Semconv:
        """The semantic conventions of an OTLP export: ``genai`` when ticked, else ``cli``."""
        return "genai" if self.query_one("#export-semconv", Checkbox).value else "cli"

    @on(RadioSet.Changed, "#export-scope")
    def _scope_changed(self, event: RadioSet.Changed) -> None:
        button_id = event.pressed.id or ""
        self.scope = button_id.removeprefix("scope-")

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        """Another format: its title, the GenAI toggle only for OTLP, the file name's suffix."""
        chosen = (event.pressed.id or "").removeprefix("format-")
        self.export_format = "otlp-json" if chosen == "otlp-json" else "jsonl"
        self.query_one("#export-title", Static).update(
            Content.styled(EXPORT_FORMATS[self.export_format][1], "bold")
        )
        self.query_one("#export-semconv", Checkbox).disabled = self.export_format != "otlp-json"
        path = self.query_one("#export-path", Input)
        path.value = export_file_name(path.value, self.export_format)

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
        wanted = self.query_one("#export-manifest", Checkbox).value
        manifest = path.with_name(path.name + ".manifest.json") if wanted else None
        semconv = self.semconv if self.export_format == "otlp-json" else None
        self._say("writing…")
        self.write_export(self.scopes[self.scope], path, force, manifest, semconv)

    def _say(self, text: str, *, error: bool = False) -> None:
        content = Content(truncate_display(printable(text), 300))
        if error:
            content = content.stylize("$error")
        self.query_one("#export-message", Static).update(content)

    @work(thread=True, exclusive=True, group="export", description="export", exit_on_error=False)
    def write_export(
        self, scope: ExportScope, path: Path, force: bool, manifest: Path | None, semconv: Semconv | None
    ) -> None:
        """Write in a thread (byte-exact JSONL, or OTLP/JSON with ``semconv``); report back on the UI
        thread."""
        from auditview.core.exporters.jsonl import export_to_file

        try:
            if semconv is None:
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
            else:
                from auditview.core.exporters.otlp import export_otlp_to_file

                written = export_otlp_to_file(
                    self.index,
                    scope.frame,
                    path,
                    semconv=semconv,
                    force=force,
                    manifest=manifest,
                    filter_text=scope.selection,
                    since=scope.since,
                    until=scope.until,
                )
                result = ExportResult(written.spans, written.bytes, written.sha256, path)
        except FileExistsError:
            self.app.call_from_thread(self._exists, path)
            return
        except OSError as exc:
            # the engine's own refusals name the path and the reason; a system error gets the path added
            reason = f"could not write {path}: {exc.strerror}" if exc.strerror else str(exc)
            self.app.call_from_thread(self._say, reason, error=True)
            return
        except Exception as exc:  # an engine bug or a frame it cannot map: say so, keep the dialog
            self.app.call_from_thread(self._say, f"could not export: {type(exc).__name__}: {exc}", error=True)
            return
        self.app.call_from_thread(self.dismiss, result)

    def _exists(self, path: Path) -> None:
        self._confirm_overwrite = path
        self.query_one("#export-write", Button).label = "Overwrite"
        self._say(f"{path} exists — press Overwrite to replace it", error=True)

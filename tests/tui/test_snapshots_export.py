"""SVG snapshots of the export dialog's format choice on ``sample_logs/``: a trace chosen on the traces list,
exported as OTLP/JSON spans with the GenAI conventions (fixed size, frozen clock, workers awaited)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from auditview.launch import AppOptions
from auditview.tui.app import AuditViewApp, create_app
from auditview.tui.screens.export import ExportDialog
from tests.tui.app_fixtures import frozen_clock, settle

REPO = Path(__file__).resolve().parents[2]
#: Relative on purpose: the dialog shows no source path, but the app is loaded as in the other snapshots.
SAMPLES = "sample_logs"

SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each snapshot from the repository root so that ``sample_logs`` resolves the same everywhere."""
    monkeypatch.chdir(REPO)


def _app() -> AuditViewApp:
    return create_app(
        AppOptions(paths=[SAMPLES], follow=False, filter_text="exit_code!=0"), clock=frozen_clock
    )


async def _otlp_trace_export(pilot: Pilot[Any]) -> None:
    """On the traces list of the failures, ``x`` on the first trace, then by keys alone: back from the file
    name to the format, OTLP/JSON, then the GenAI conventions ticked."""
    app = pilot.app
    assert isinstance(app, AuditViewApp)
    await settle(app, pilot)
    for keys in (("t",), ("x",), ("shift+tab", "right", "enter"), ("tab", "space")):
        await pilot.press(*keys)
        await settle(app, pilot)
    dialog = app.screen
    assert isinstance(dialog, ExportDialog)
    assert (dialog.scope, dialog.export_format, dialog.semconv) == ("trace", "otlp-json", "genai")
    for field in dialog.query(Input):
        field.cursor_blink = False
    await pilot.pause()


class TestExportFormat:
    """The format row: JSONL or OTLP/JSON, and the GenAI toggle for OTLP."""

    def test_otlp_export_of_a_trace(self, snap_compare: SnapCompare) -> None:
        """The whole failing trace as OTLP/JSON with the GenAI conventions: the title says spans, the file
        name ends in ``.otlp.jsonl``, the toggle is ticked."""
        assert snap_compare(_app(), terminal_size=(120, 35), run_before=_otlp_trace_export)

    def test_otlp_export_80x24_no_color(
        self, snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """At 80×24 without colour the dialog still fits, and the chosen format reads "(•)", the toggle
        "[x]"."""
        monkeypatch.setenv("NO_COLOR", "1")
        assert snap_compare(_app(), terminal_size=(80, 24), run_before=_otlp_trace_export)

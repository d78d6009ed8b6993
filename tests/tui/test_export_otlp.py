"""OTLP out from the app: the export dialog's format choice writes the spans ``auditview export --format
otlp-json`` prints for the same records, atomically, refusing to overwrite, and says what went wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, Static

from auditview.launch import AppOptions
from auditview.main import main as cli_main
from auditview.tui.app import AuditViewApp, create_app
from auditview.tui.screens.export import ExportDialog, default_export_name, export_file_name
from auditview.tui.screens.traces import TracesScreen
from tests.otlp.conftest import attributes, read_lines, spans_of
from tests.tui.app_fixtures import FROZEN_NOW, frozen_clock, settle

REPO = Path(__file__).resolve().parents[2]
#: Relative, as a user types it: the spans of records without a request id are placed by absolute path.
SAMPLES = "sample_logs"
#: The retry loop of the incident samples (nine records: the same deploy again and again).
TRACE = "incident-retry"


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the repository root, as the CLI below does, so ``sample_logs`` is the same directory."""
    monkeypatch.chdir(REPO)


def _cli_otlp(*argv: str) -> bytes:
    """What ``python -m auditview export --format otlp-json --trace TRACE sample_logs ARGV`` prints."""
    command = [sys.executable, "-m", "auditview", "export", "--format", "otlp-json", "--trace", TRACE]
    done = subprocess.run([*command, *argv, SAMPLES], cwd=REPO, capture_output=True, check=True)
    return done.stdout


async def _trace_dialog(app: AuditViewApp, pilot: Pilot[Any]) -> ExportDialog:
    """Filter to ``TRACE``, open the traces list (unless on it) and press ``x`` there: the dialog with the
    trace's scope."""
    await settle(app, pilot)
    if not isinstance(app.screen, TracesScreen):
        await pilot.press("slash", *f'trace_id="{TRACE}"', "enter")
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
    assert isinstance(app.screen, TracesScreen)
    await pilot.press("x")
    await settle(app, pilot)
    dialog = app.screen
    assert isinstance(dialog, ExportDialog)
    assert dialog.scope == "trace"
    return dialog


@pytest.mark.parametrize("semconv", ["cli", "genai"])
async def test_a_trace_as_otlp_json_is_what_the_cli_prints(tmp_path: Path, semconv: str) -> None:
    """Choosing OTLP/JSON (and the GenAI conventions) writes the very document ``auditview export --format
    otlp-json [--semconv genai] --trace ID`` prints: the same spans, ids and attributes, byte for byte, read
    by the OpenTelemetry protobuf definitions; the file name proposed gets the ``.otlp.jsonl`` suffix."""
    app = create_app(AppOptions(paths=[SAMPLES], follow=False), clock=frozen_clock)
    target = tmp_path / f"{TRACE}.otlp.jsonl"
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _trace_dialog(app, pilot)
        await pilot.click("#format-otlp-json")
        assert dialog.export_format == "otlp-json"
        assert dialog.query_one("#export-path", Input).value == default_export_name(FROZEN_NOW, "otlp-json")
        if semconv == "genai":
            await pilot.click("#export-semconv")
        assert dialog.semconv == semconv
        dialog.query_one("#export-path", Input).value = str(target)
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert not isinstance(app.screen, ExportDialog)
        notes = [str(note.message) for note in app._notifications]
    written = target.read_bytes()
    printed = _cli_otlp(*(["--semconv", "genai"] if semconv == "genai" else []))
    ours, theirs = read_lines(written), read_lines(printed)
    assert ours == theirs
    assert written == printed
    spans = spans_of(ours)
    assert len(spans) == 9
    assert {attributes(span)["auditview.trace_id"] for _resource, span in spans} == {TRACE}
    assert any("gen_ai.operation.name" in attributes(span) for _r, span in spans) == (semconv == "genai")
    assert any(f"exported {len(spans)} records to {target}" in note for note in notes)


async def test_otlp_manifest_and_no_silent_overwrite(tmp_path: Path) -> None:
    """An OTLP/JSON export with a manifest writes the manifest ``export --format otlp-json --to --manifest``
    writes (counts, bytes, sha256, sources, the trace's filter); a second export to the same file is refused
    until Overwrite is pressed, then replaces it."""
    app = create_app(AppOptions(paths=[SAMPLES], follow=False), clock=frozen_clock)
    target = tmp_path / "app.otlp.jsonl"
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _trace_dialog(app, pilot)
        await pilot.click("#format-otlp-json")
        dialog.query_one("#export-path", Input).value = str(target)
        dialog.query_one("#export-manifest", Checkbox).value = True
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert not isinstance(app.screen, ExportDialog)
        first = target.read_bytes()
        target.write_bytes(b"keep me\n")
        dialog = await _trace_dialog(app, pilot)
        await pilot.click("#format-otlp-json")
        dialog.query_one("#export-path", Input).value = str(target)
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert app.screen is dialog
        assert "exists" in str(dialog.query_one("#export-message", Static).render())
        assert target.read_bytes() == b"keep me\n"
        assert str(dialog.query_one("#export-write", Button).label) == "Overwrite"
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert not isinstance(app.screen, ExportDialog)
        assert target.read_bytes() == first
    assert not [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")]
    ours = json.loads((tmp_path / "app.otlp.jsonl.manifest.json").read_text())
    cli_target, cli_manifest = tmp_path / "cli.otlp.jsonl", tmp_path / "cli.manifest.json"
    argv = ["export", SAMPLES, "--trace", TRACE, "--format", "otlp-json", "--to", str(cli_target)]
    assert cli_main([*argv, "--manifest", str(cli_manifest), "-o", "json"]) == 0
    theirs = json.loads(cli_manifest.read_text())
    assert cli_target.read_bytes() == first
    for key in ("filter", "since", "until", "count", "bytes", "sha256", "sources", "first_timestamp"):
        assert ours[key] == theirs[key], key
    assert ours["count"] == 9


async def test_a_failed_otlp_write_is_shown(tmp_path: Path) -> None:
    """A file name in a directory that does not exist: the dialog stays open and says why; nothing is
    written."""
    app = create_app(AppOptions(paths=[SAMPLES], follow=False), clock=frozen_clock)
    target = tmp_path / "missing" / "out.otlp.jsonl"
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _trace_dialog(app, pilot)
        await pilot.click("#format-otlp-json")
        dialog.query_one("#export-path", Input).value = str(target)
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert app.screen is dialog
        message = str(dialog.query_one("#export-message", Static).render())
        assert message.startswith("cannot write")
        assert message.endswith("missing does not exist")
    assert not target.parent.exists()


async def test_an_engine_error_is_shown_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception the mapping raises (here a stand-in) is shown in the dialog with its type, which stays
    open; no file and no temporary file are left."""
    from auditview.core.exporters import otlp

    def broken(*_args: object, **_kwargs: object) -> Iterator[dict[str, object]]:
        raise ValueError("a frame the mapping cannot read")
        yield {}

    monkeypatch.setattr(otlp, "build_requests", broken)
    app = create_app(AppOptions(paths=[SAMPLES], follow=False), clock=frozen_clock)
    target = tmp_path / "out.otlp.jsonl"
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _trace_dialog(app, pilot)
        await pilot.click("#format-otlp-json")
        dialog.query_one("#export-path", Input).value = str(target)
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert app.screen is dialog
        message = str(dialog.query_one("#export-message", Static).render())
        assert message == "could not export: ValueError: a frame the mapping cannot read"
    assert list(tmp_path.iterdir()) == []


async def test_the_format_choice_sets_the_title_the_toggle_and_the_suffix() -> None:
    """JSONL is the default (GenAI toggle disabled); OTLP/JSON retitles the dialog, enables the toggle and
    renames ``….jsonl`` to ``….otlp.jsonl``; back to JSONL undoes both; a name of the user's own stays."""
    app = create_app(AppOptions(paths=[SAMPLES], follow=False), clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        path = dialog.query_one("#export-path", Input)
        semconv = dialog.query_one("#export-semconv", Checkbox)
        title = dialog.query_one("#export-title", Static)
        assert dialog.export_format == "jsonl"
        assert semconv.disabled
        assert path.value == "auditview-export-20261120T100000Z.jsonl"
        await pilot.click("#format-otlp-json")
        assert not semconv.disabled
        assert path.value == "auditview-export-20261120T100000Z.otlp.jsonl"
        assert "OTLP/JSON" in str(title.render())
        await pilot.click("#format-jsonl")
        assert dialog.export_format == "jsonl"
        assert semconv.disabled
        assert path.value == "auditview-export-20261120T100000Z.jsonl"
        assert "byte-exact JSONL" in str(title.render())
        path.value = "spans.json"
        await pilot.click("#format-otlp-json")
        assert path.value == "spans.json"


@pytest.mark.parametrize(
    ("name", "otlp", "jsonl"),
    [
        ("out.jsonl", "out.otlp.jsonl", "out.jsonl"),
        ("out.otlp.jsonl", "out.otlp.jsonl", "out.jsonl"),
        ("dir.jsonl/out", "dir.jsonl/out", "dir.jsonl/out"),
        (".jsonl", ".jsonl", ".jsonl"),
        ("out.json", "out.json", "out.json"),
    ],
)
def test_export_file_name(name: str, otlp: str, jsonl: str) -> None:
    """Only a format's own suffix is swapped for the other's; anything else is the user's name."""
    assert export_file_name(name, "otlp-json") == otlp
    assert export_file_name(name, "jsonl") == jsonl

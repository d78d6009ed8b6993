"""Logs of other producers, read under the reader contract: unknown fields are a dim ``-`` (never a made-up
0), derived values say where they came from, field warnings are counted and listed, and nothing crashes on
the way from the records through the detail, the rejects, the traces and a trace's waterfall to an export."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from rich.style import Style
from textual.widgets import DataTable

from auditview.core.index import field_warning_count
from auditview.core.parse import SCHEMA
from auditview.core.timeline import Timeline, TimelineStep
from auditview.launch import AppOptions
from auditview.source.types import SourceFile
from auditview.tui.app import AuditViewApp, create_app
from auditview.tui.screens.detail import DetailScreen
from auditview.tui.screens.export import ExportDialog
from auditview.tui.screens.rejects import RejectsScreen, field_warning_rows
from auditview.tui.screens.timeline import TimelineScreen, describe_step
from auditview.tui.screens.traces import TracesScreen
from auditview.tui.widgets.detail import derived_sources, describe_source, fields_as_read
from auditview.tui.widgets.waterfall import Waterfall
from tests.tui.app_fixtures import frozen_clock, record, settle

#: One line per producer, oldest first (``ts`` order is the table's row order); the last one is no record.
FOREIGN: list[bytes] = [
    # the seed's hand-written shape: no tool (the directory names it), no ids, no version
    b'{"timestamp": "2024-03-11T14:30:00Z", "command": "deploy", "params": {"env": "staging"}, '
    b'"exit_code": 0, "duration_ms": 4521, "operator": "agent-session-42"}',
    # an error string, a +02:00 offset (14:30:05 UTC), no version
    b'{"timestamp": "2024-03-11T16:30:05+02:00", "tool": "policyd", "command": "check", '
    b'"error": "policy denied", "exit_code": 3, "duration_ms": 12, "request_id": "req-b", "trace_id": "t-1", '
    b'"operator": "bob"}',
    # no trace (an orphan), no exit code, no operator
    b'{"timestamp": "2024-03-11T14:30:06Z", "tool": "runner", "command": "exec", "request_id": "req-c", '
    b'"trace_id": null, "duration_ms": 50}',
    # a logged response: time, command and ids in meta, the exit code from ok, the tool from the directory
    b'{"ok": false, "meta": {"timestamp": "2024-03-11T14:30:07Z", "command": "submit", '
    b'"request_id": "req-d", "trace_id": "t-1", "duration_ms": 80}}',
    # unusable exit code and duration (two field warnings), nested under req-b
    b'{"timestamp": "2024-03-11T14:30:08Z", "tool": "runner", "command": "step", "exit_code": "one", '
    b'"duration_ms": "fast", "request_id": "req-e", "parent_request_id": "req-b", "trace_id": "t-1"}',
    # an epoch time under an alias, and an unusable exit code that looks like markup
    b'{"ts": 1710167409, "tool": "[bold red]evil[/]", "command": "x", "exit_code": "[bold]one[/]"}',
    # a line of our own writer, in the same trace
    orjson.dumps(
        record(0, tool="deployctl", command="apply", trace_id="t-1", timestamp="2024-03-11T14:30:10.000000Z")
    ),
    b"not json",
]


def _write_log(tmp_path: Path, lines: list[bytes]) -> Path:
    log = tmp_path / "gatekeeper" / "audit.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(b"".join(line + b"\n" for line in lines))
    return log


def _screen_text(app: Any) -> str:
    """Everything the compositor would paint on the top screen, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def _cells(app: AuditViewApp, row: int) -> list[tuple[str, Style | None]]:
    """The records table's segments of view row ``row`` as (text, style)."""
    strip = app.records.render_line(row + 1 - round(app.records.scroll_y))
    return [(segment.text, segment.style) for segment in strip]


def _shows(text: str, *parts: str) -> None:
    """Every one of ``parts`` is in ``text``."""
    missing = [part for part in parts if part not in text]
    assert not missing, (missing, text)


def _by_field(fields: str) -> dict[str, str]:
    """The lines of the detail's fields as read, by field name, blanks collapsed."""
    return {line.split()[0]: " ".join(line.split()) for line in fields.splitlines()[1:]}


def _table_rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def _wait_for(pilot: Any, condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


async def test_foreign_lines_walk_through_every_screen(tmp_path: Path) -> None:
    """Records, detail, rejects, traces, a trace's waterfall and an export over a log of foreign lines."""
    log = _write_log(tmp_path, FOREIGN)
    app = create_app(AppOptions(paths=[str(log)], follow=False), clock=frozen_clock)
    async with app.run_test(size=(160, 36)) as pilot:
        await settle(app, pilot)

        # -- the status bar: rejects and field warnings, counted by the loader
        assert app.status.total == 7
        assert app.status.rejects == 1
        assert app.status.field_warnings == 3
        status = str(app.status.render())
        assert "1 rejects · 3 field warnings (r)" in status

        # -- the records: unknown values are a dim "-" (no trace a dim "-" too), never a 0
        dim = app.records.get_component_rich_style("records--dim")
        rows = [app.records.render_line(y).text for y in range(1, 8)]
        seed, policy, orphan, response, unusable, hostile, ours = rows
        _shows(seed, "gatekeeper", "deploy", "4.52s", "agent-session-42")
        assert seed.rstrip().endswith(" -")  # no trace
        _shows(policy, "policyd", " 3 ", "t-1")
        assert policy.lstrip().startswith("✗")
        _shows(response, "gatekeeper", "submit", " 1 ")
        _shows(orphan, "runner", "exec", "50ms")
        assert "[bold red]evil[/]" in hostile
        _shows(ours, "deployctl", "alice")
        for row, unknown in ((orphan, 3), (unusable, 3), (hostile, 4)):
            cells = _cells(app, rows.index(row))
            shown = [(text.strip(), style) for text, style in cells if text.strip() in ("?", "-")]
            assert len(shown) == unknown, (row, shown)
            assert all(style is not None and style.color == dim.color for _, style in shown)
            assert not any(text.strip() == "0" for text, _ in cells)
        assert not orphan.lstrip().startswith("✗")  # an unknown exit code is not a failure

        # -- the detail of the logged response: derived values say where they came from
        await pilot.press("g", "j", "j", "j", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailScreen)
        fields = str(app.screen.query_one("#detail-fields").render())
        read = _by_field(fields)
        assert read["tool"] == "tool gatekeeper (from the file name)"
        assert read["exit_code"] == "exit_code 1 (from ok)"
        assert read["command"] == "command submit (from meta.command)"
        assert read["timestamp"] == "timestamp 2024-03-11 14:30:07.000000 UTC (from meta.timestamp)"
        assert read["operator"] == "operator -"
        assert read["ok"] == "ok false"  # written: no note
        assert not app.screen.query("#detail-warnings")
        assert '"ok": false' in str(app.screen.query_one("#detail-json").render())
        await pilot.press("escape")

        # -- the detail of the line with unusable values: its warnings, the fields unknown
        await pilot.press("j", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailScreen)
        header = str(app.screen.query_one("#detail-header").render())
        _shows(header, "audit.jsonl:5", "2 field warnings")
        fields = str(app.screen.query_one("#detail-fields").render())
        read = _by_field(fields)
        assert read["exit_code"] == "exit_code - (unusable: see the field warnings)"
        assert read["duration_ms"] == "duration_ms - (unusable: see the field warnings)"
        assert read["parent_request_id"] == "parent_request_id req-b"
        warnings = str(app.screen.query_one("#detail-warnings").render())
        assert "exit_code must be an integer, not a string 'one'" in warnings
        assert "duration_ms must be a number, not a string 'fast'" in warnings
        await pilot.press("escape")

        # -- a line of our writer shows just its JSON
        await pilot.press("G", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailScreen)
        assert not app.screen.query("#detail-fields")
        await pilot.press("escape")

        # -- the rejects screen lists the field warnings with file:line, markup kept literal
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, RejectsScreen)
        assert "3 field warnings" in _screen_text(app)
        listed = _table_rows(app.screen.query_one("#warnings-table", DataTable))
        assert [(Path(path).name, line) for path, line, _ in listed] == [("audit.jsonl", "5")] * 2 + [
            ("audit.jsonl", "6")
        ]
        assert listed[2][2] == "exit_code must be an integer, not a string '[bold]one[/]'"
        assert _table_rows(app.screen.query_one("#rejects-table", DataTable))[0][1] == "8"
        await pilot.press("escape")

        # -- the traces: the one trace, with a tool the producer did not name (none shown as "None")
        await pilot.press("t")
        await settle(app, pilot)
        assert isinstance(app.screen, TracesScreen)
        await settle(app, pilot)
        assert app.screen.trace_list.trace_ids == ["t-1"]
        listing = _screen_text(app)
        assert "None" not in listing
        assert "policyd, gatekeeper, runner, deployctl" in listing

        # -- its waterfall: the unknown exit code and duration are "-", never 0
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TimelineScreen)
        waterfall = app.screen.waterfall
        steps = {step.command: step for step in app.screen.timeline.steps}
        assert (steps["step"].exit_code, steps["step"].duration_ms) == (None, None)
        painted = _screen_text(app)
        assert "None" not in painted
        _shows(painted, "✗ exit 3", "✗ exit 1")
        assert "exit 0" not in painted
        step_row = next(line for line in painted.splitlines() if "runner step" in line)
        assert "└ runner step" in step_row  # nested under policyd check (req-b)
        assert step_row.rstrip().endswith("-")  # the duration
        position = next(
            p for p, i in enumerate(waterfall._order) if waterfall._timeline.steps[i].command == "step"
        )
        waterfall.move_cursor(position)
        await settle(app, pilot)
        info = str(app.screen.query_one("#timeline-step").render())
        _shows(info, "runner step", "(-)", "exit -", "request req-e")

        # -- the step's record from the waterfall
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailScreen)
        assert "audit.jsonl:5" in str(app.screen.query_one("#detail-header").render())
        await pilot.press("escape", "escape", "escape")
        assert app.screen is app.screen_stack[0]

        # -- the export writes every record byte for byte
        target = tmp_path / "out.jsonl"
        await pilot.press("x")
        assert isinstance(app.screen, ExportDialog)
        app.screen.query_one("#export-path").value = str(target)  # type: ignore[attr-defined]
        await pilot.click("#export-write")
        await settle(app, pilot)
        assert not isinstance(app.screen, ExportDialog)
        records = [line for line in FOREIGN if line != b"not json"]
        assert sorted(target.read_bytes().splitlines()) == sorted(records)


async def test_field_warnings_count_grows_while_following(tmp_path: Path) -> None:
    """Lines appended with unusable values add to the status bar's field warnings, like rejects."""
    log = _write_log(tmp_path, FOREIGN[:2])
    app = create_app(AppOptions(paths=[str(log)]), clock=frozen_clock)
    async with app.run_test(size=(140, 30)) as pilot:
        await _wait_for(pilot, lambda: app.records.row_count == 2)
        assert app.status.field_warnings == 0
        assert "field warning" not in str(app.status.render())
        _write_log(tmp_path, [FOREIGN[4]])
        await _wait_for(pilot, lambda: app.records.row_count == 3)
        await _wait_for(pilot, lambda: app.status.field_warnings == 2)
        _write_log(tmp_path, [FOREIGN[5], b"{broken"])
        await _wait_for(pilot, lambda: app.status.field_warnings == 3 and app.status.rejects == 1)
        assert "1 rejects · 3 field warnings (r)" in str(app.status.render())


def test_field_warning_count_counts_each_unusable_value() -> None:
    """One per reason: the column holds them newline-separated, null for a record without any."""
    frame = pl.DataFrame({"warnings": [None, "a", None, "b\nc"]}, schema={"warnings": pl.String})
    assert field_warning_count(frame) == 3
    assert field_warning_count(frame.clear()) == 0
    assert field_warning_count(pl.DataFrame({"warnings": [None, None]}, schema={"warnings": pl.String})) == 0
    assert field_warning_count(pl.DataFrame({"tool": ["x"]})) == 0


def test_field_warning_rows_sort_by_file_and_place() -> None:
    """Each reason on its own row, files by name, records by place; capped at ``limit``."""
    frame = pl.DataFrame(
        {"file_id": [1, 0, 1], "offset": [90, 10, 5], "line": [9, 2, 1], "warnings": ["z", "x\ny", None]},
        schema={"file_id": pl.UInt32, "offset": pl.Int64, "line": pl.UInt32, "warnings": pl.String},
    )
    files = [SourceFile(Path("b.jsonl"), log_key="b.jsonl"), SourceFile(Path("a.jsonl"), log_key="a.jsonl")]
    rows = field_warning_rows(frame, files)
    assert [(w.path, w.line, w.reason) for w in rows] == [
        ("a.jsonl", 9, "z"),
        ("b.jsonl", 2, "x"),
        ("b.jsonl", 2, "y"),
    ]
    assert len(field_warning_rows(frame, files, limit=2)) == 2
    assert field_warning_rows(frame.clear(), files) == []


def test_derived_sources_read_in_words() -> None:
    """``field<-source`` entries grouped by field; every kind of source has its words."""
    sources = derived_sources("timestamp<-ts,timestamp<-naive-utc,exit_code<-rc,exit_code<-text,tool<-path")
    assert sources == {"timestamp": ["ts", "naive-utc"], "exit_code": ["rc", "text"], "tool": ["path"]}
    assert derived_sources(None) == {}
    assert [describe_source(s) for s in ("path", "ok", "text", "naive-utc", "meta.command")] == [
        "from the file name",
        "from ok",
        "written as text",
        "no offset: read as UTC",
        "from meta.command",
    ]


def test_fields_as_read_escapes_untrusted_values() -> None:
    """Values and derivation sources reach the screen escaped, as plain text."""
    row: dict[str, Any] = dict.fromkeys(SCHEMA)
    row.update(tool="\x1b[31m\u202e[b]x[/b]", derived="tool<-\x1bkey", command=None)
    text = str(fields_as_read(row))
    assert "[b]x[/b]" in text
    assert not {"\x1b", "\u202e"} & set(text)
    assert "(from \\x1bkey)" in text


def test_describe_step_of_a_step_that_says_little() -> None:
    """A step without tool, command, exit code, duration, operator or request id still describes itself."""
    step = TimelineStep(
        request_id=None,
        parent_request_id=None,
        depth=0,
        tool=None,
        command=None,
        start_ms=0.0,
        duration_ms=None,
        end_ms=0.0,
        exit_code=None,
        ok=None,
        failed=False,
        slow_reason=None,
        on_critical_path=True,
        operator=None,
        file_id=0,
        offset=0,
        length=1,
    )
    text = str(describe_step(step))
    assert text.startswith("- -")
    _shows(text, "(-)", "exit -", "request -")
    assert "None" not in text
    from datetime import UTC, datetime

    timeline = Timeline(
        "t", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), 0.0, [step], [], [None]
    )
    widget = Waterfall(timeline)
    assert widget._order == [0]

"""Hostile record content is printed inert in every table, and no subcommand means the terminal app."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import auditview.cli.commands.app as app_command
from auditview.main import main
from tests.cli.conftest import HOSTILE_COMMAND, HOSTILE_PARAM

_SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize(
    "argv",
    [
        ["traces", "-o", "table"],
        ["audit-log", "-o", "table"],
        ["export", "-o", "table"],
        ["stats", "-o", "table"],
        ["rejects", "-o", "table"],
    ],
)
def test_tables_never_emit_control_sequences_from_records(
    argv: list[str], hostile_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ESC, OSC, C1, BEL and bidi overrides in a record come out as visible escapes, never raw."""
    assert main([*argv, str(hostile_log)]) == 0
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream
        assert "\x07" not in stream
        assert "\u009b" not in stream
        assert "\u202e" not in stream
    assert "\\x1b" in captured.out


def test_record_table_shows_markup_and_escapes_literally(
    hostile_log: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a wide terminal, Rich markup stays as literal brackets and escape sequences are spelled out."""
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["audit-log", str(hostile_log), "-o", "table"]) == 0
    out = capsys.readouterr().out
    assert "[@click=app.qui…" in out
    assert HOSTILE_COMMAND.replace("\x1b", "\\x1b")[:22] in out
    assert HOSTILE_PARAM.replace("\u202e", "\\u{202e}") in out


def test_trace_waterfall_of_a_hostile_trace_is_inert(
    hostile_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trace id and names carrying OSC 8 hyperlinks and screen clears are drawn as escaped text."""
    assert main(["trace", "trace-", str(hostile_log), "-o", "table"]) == 0
    out = capsys.readouterr().out
    assert "trace-\\x1b]8;;http://x\\x07h" in out
    assert "\x1b" not in out


@pytest.fixture
def app_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace the terminal app's entry point and pretend to run on a terminal; collect the options passed."""
    import auditview.tui.app as app

    calls: list[Any] = []

    def fake_run_app(options: Any) -> int:
        calls.append(options)
        return 0

    monkeypatch.setattr(app, "run_app", fake_run_app)
    monkeypatch.setattr(app_command, "_interactive_terminal", lambda: True)
    return calls


def test_no_arguments_opens_the_app_on_all_logs(app_calls: list[Any]) -> None:
    """``auditview`` alone opens the app with no paths and following on."""
    assert main([]) == 0
    (options,) = app_calls
    assert options.paths == []
    assert options.follow is True
    assert options.demo is False
    assert options.since is None


def test_paths_and_options_go_to_the_app(app_calls: list[Any], logs: Path) -> None:
    """``auditview PATH --since 1h --filter ... --slow 2s --no-follow`` passes everything through parsed."""
    argv = [str(logs), "--since", "1h", "--filter", "exit_code!=0", "--slow", "2s", "--no-follow"]
    assert main(argv) == 0
    (options,) = app_calls
    assert options.paths == [str(logs)]
    assert isinstance(options.since, datetime)
    assert options.since.tzinfo is not None
    assert options.filter_text == "exit_code!=0"
    assert options.slow_ms == 2000.0
    assert options.follow is False


def test_no_cache_reaches_the_app_as_an_option(app_calls: list[Any]) -> None:
    """``auditview --no-cache`` hands ``cache=False`` to the app (the CLI sets no environment variable)."""
    assert main([]) == 0
    assert main(["--no-cache"]) == 0
    assert [options.cache for options in app_calls] == [True, False]


def test_a_path_named_like_nothing_special_is_a_path(app_calls: list[Any]) -> None:
    """A first argument that is not a subcommand name is a path for the app (e.g. ``sample_logs/``)."""
    assert main(["sample_logs/", "--demo"]) == 0
    assert app_calls[0].paths == ["sample_logs/"]
    assert app_calls[0].demo is True


def test_app_options_are_validated_before_the_app_starts(
    app_calls: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad WHEN or filter exits 2 without opening the app."""
    assert main(["--since", "sometime"]) == 2
    assert main(["--filter", "command="]) == 2
    assert app_calls == []
    assert "bad filter" in capsys.readouterr().err


def test_without_a_terminal_the_app_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run from a script (no tty), ``auditview`` exits 2 and points at the headless subcommands."""
    monkeypatch.setattr(app_command, "_interactive_terminal", lambda: False)
    assert main(["--since", "1h"]) == 2
    assert "auditview traces -o json" in capsys.readouterr().err

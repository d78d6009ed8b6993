"""Argument handling without the engine: help, usage errors, bad WHEN/DURATION, missing inputs, self-audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditview.cli.errors import EXIT_CODES
from auditview.cli.parser import SUBCOMMANDS
from auditview.main import main
from tests.cli.conftest import audit_records


def test_top_level_help_lists_every_subcommand_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """``auditview --help`` names every subcommand and documents every exit code."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f"auditview {name}" in out
    for code in EXIT_CODES:
        assert f"\n  {code:<3} " in out
    assert "--demo" in out
    assert "--no-follow" in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_has_help_with_exit_codes(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every subcommand's ``--help`` exits 0 and documents the exit codes and WHEN."""
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"auditview {command}" in out
    assert "exit codes:" in out
    assert "65" in out
    assert "66" in out


def test_help_writes_no_audit_record(isolated_env: Path) -> None:
    """Showing help is not an invocation worth recording."""
    main(["traces", "--help"])
    assert audit_records(isolated_env) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["traces", "--since", "last tuesday-ish"],
        ["stats", "--until", "13:99"],
        ["export", "--since", "@notanumber"],
        ["audit-log", "--since", "soon"],
        ["traces", "--slow", "fast"],
    ],
)
def test_bad_when_or_duration_exits_2_and_says_what_is_accepted(
    argv: list[str], logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A WHEN or DURATION the grammar does not accept is a usage error (2) naming the accepted forms."""
    assert main([*argv, str(logs)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err
    assert "expected" in err


def test_until_before_since_is_a_usage_error(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty time window given backwards is refused with 2."""
    assert main(["traces", str(logs), "--since", "2026-11-20T10:00Z", "--until", "2026-11-20T09:00Z"]) == 2
    assert "--until is before --since" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error_with_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option exits 2 and prints the command's usage."""
    assert main(["traces", "--frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "usage: auditview traces" in err
    assert "unrecognized arguments: --frobnicate" in err


def test_usage_error_in_json_mode_is_an_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    """With ``-o json`` even a parse error comes back as ``{"ok": false, "error": ..., "meta": ...}``."""
    assert main(["traces", "-o", "json", "--limit", "many"]) == 2
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is False
    assert body["error"]["type"] == "UsageError"
    assert "--limit" in body["error"]["message"]
    assert set(body["meta"]) >= {"request_id", "trace_id", "duration_ms", "timestamp", "command", "version"}


def test_missing_named_input_exits_66(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A named path that does not exist is exit 66, in table and json modes."""
    missing = str(tmp_path / "nope" / "audit.jsonl")
    assert main(["traces", missing, "-o", "jsonl"]) == 66
    assert "nope" in capsys.readouterr().err
    assert main(["stats", missing, "-o", "json"]) == 66
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is False
    assert body["error"]["type"] == "SourceMissing"


def test_usage_errors_are_audited_with_their_exit_code(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed invocation of auditview is recorded by the writer with exit code 2 and the error."""
    main(["stats", "--since", "whenever"])
    (rec,) = audit_records(isolated_env)
    assert rec["tool"] == "auditview"
    assert rec["command"] == "stats"
    assert rec["exit_code"] == 2
    assert rec["error"]["type"] == "TimeParseError"
    assert rec["params"]["since"] == "whenever"

"""The adapters' helpers: ``respond`` (the JSON response with meta), the ``-o`` options, the child probe,
and the click ``audit-log`` as a real click command."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner

from auditview.writer import Auditor, Invocation
from auditview.writer.argparse_support import add_output_option, run_command
from auditview.writer.auditlog import build_parser
from auditview.writer.click_support import AuditedGroup, audit_log_command, output_option
from auditview.writer.click_support import respond as click_respond
from auditview.writer.response import envelope, respond
from auditview.writer.support import ENV_CHILD_PROBE, run_child_probe

from .conftest import read_records


def test_respond_prints_the_envelope_and_meta_matches_the_record(
    auditor: Auditor, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o json: {"ok": true, "data": ..., "meta": {...}} on one line; meta is the record's (same request id,
    same frozen duration); the exit code is 0."""
    with auditor.invocation("deploy", {"env": "prod"}, trace_id="test-123"):
        assert respond({"env": "prod", "n": 1}, output="json") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    body = orjson.loads(out)
    (record,) = read_records(log_path)
    assert list(body) == ["ok", "data", "meta"]
    assert (body["ok"], body["data"]) == (True, {"env": "prod", "n": 1})
    assert body["meta"]["trace_id"] == "test-123"
    assert (body["meta"]["request_id"], body["meta"]["duration_ms"]) == (
        record["request_id"],
        record["duration_ms"],
    )


def test_respond_error_records_the_failure(
    auditor: Auditor, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """error= marks the invocation failed (type, message, exit code) and prints {"ok": false, "error"}."""
    with auditor.invocation("verify"):
        code = respond({"partial": True}, error="smoke test failed", error_type="VerifyFailed", exit_code=4)
    assert code == 4
    body = orjson.loads(capsys.readouterr().out)
    assert list(body) == ["ok", "error", "meta"]
    assert body["error"] == {"type": "VerifyFailed", "message": "smoke test failed"}
    (record,) = read_records(log_path)
    assert (record["exit_code"], record["error"]) == (4, body["error"])
    with auditor.invocation("verify"):
        assert respond(error=ValueError("bad input")) == 1
    assert orjson.loads(capsys.readouterr().out)["error"] == {"type": "ValueError", "message": "bad input"}


def test_respond_text_output(auditor: Auditor, capsys: pytest.CaptureFixture[str]) -> None:
    """Any other output prints the text (else data as indented JSON); a failure's message goes to stderr."""
    with auditor.invocation("status") as inv:
        assert respond({"a": 1}, output="text", text="all good") == 0
        assert respond({"a": 1}, output="text") == 0
        assert respond("plain", output=None) == 0
        assert respond(output="text", text="half done", error="step 3 failed") == 1
    out, err = capsys.readouterr()
    assert out == 'all good\n{\n  "a": 1\n}\nplain\nhalf done\n'
    assert err == "error: step 3 failed\n"
    assert envelope(inv)["error"]["message"] == "step 3 failed"


def test_respond_needs_an_invocation() -> None:
    with pytest.raises(RuntimeError, match="outside an audited invocation"):
        respond({"x": 1})


def test_argparse_output_option_and_run_command(
    auditor: Auditor, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """add_output_option gives -o text|json (default text); a handler returning respond(...) is done."""

    def deploy(args: argparse.Namespace, inv: Invocation) -> int:
        return respond({"env": args.env}, output=args.output, text=f"deployed {args.env}")

    parser = argparse.ArgumentParser(prog="wtest")
    parser.add_argument("--env")
    add_output_option(parser)
    assert parser.parse_args([]).output == "text"
    args = parser.parse_args(["--env", "prod", "-o", "json"])
    assert run_command(auditor, args, deploy, command="deploy") == 0
    assert orjson.loads(capsys.readouterr().out)["data"] == {"env": "prod"}
    args = parser.parse_args(["--env", "prod"])
    assert run_command(auditor, args, deploy, command="deploy") == 0
    assert capsys.readouterr().out == "deployed prod\n"
    assert [r["params"] for r in read_records(log_path)] == [
        {"env": "prod", "output": "json"},
        {"env": "prod", "output": "text"},
    ]


def test_click_respond_exits_with_the_failure_code(auditor: Auditor, log_path: Path) -> None:
    """click ignores return values, so click_support.respond ends a failed command with its exit code; the
    record keeps the error respond recorded."""

    @click.group(cls=AuditedGroup, auditor=auditor)
    def cli() -> None:
        """A click tool."""

    @cli.command()
    @click.option("--fail", is_flag=True)
    @output_option()
    def deploy(fail: bool, output: str) -> None:
        click_respond({"done": True}, output=output, error="quota exceeded" if fail else None, exit_code=5)

    runner = CliRunner()
    ok = runner.invoke(cli, ["deploy", "-o", "json"])
    failed = runner.invoke(cli, ["deploy", "--fail", "-o", "json"])
    text = runner.invoke(cli, ["deploy"])
    assert (ok.exit_code, failed.exit_code, text.exit_code) == (0, 5, 0)
    assert orjson.loads(ok.stdout)["data"] == {"done": True}
    assert orjson.loads(failed.stdout)["error"] == {"type": "Error", "message": "quota exceeded"}
    assert text.stdout == '{\n  "done": true\n}\n'
    records = read_records(log_path)
    assert [(r["exit_code"], r.get("error")) for r in records] == [
        (0, None),
        (5, {"type": "Error", "message": "quota exceeded"}),
        (0, None),
    ]
    assert "[default: text]" in runner.invoke(cli, ["deploy", "--help"]).output


def test_child_probe_shows_the_trace_children_see(
    auditor: Auditor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under AUDITVIEW_CHILD_PROBE, run_command starts one child that writes its TOOL_TRACE_ID and
    TOOL_PARENT_REQUEST_ID; the variable is then unset (grandchildren do not probe again)."""
    probe = tmp_path / "probe"
    monkeypatch.setenv(ENV_CHILD_PROBE, str(probe))
    monkeypatch.setenv("TOOL_TRACE_ID", "test-123")
    seen: list[str] = []

    def handler(args: argparse.Namespace, inv: Invocation) -> int:
        seen.append(inv.request_id)
        assert ENV_CHILD_PROBE not in os.environ
        return 0

    assert run_command(auditor, argparse.Namespace(), handler, command="deploy") == 0
    written = json.loads(probe.read_text())
    assert written["TOOL_TRACE_ID"] == "test-123"
    assert written["TOOL_PARENT_REQUEST_ID"] == seen[0]
    assert written["TRACEPARENT"].startswith("00-")


def test_child_probe_never_overwrites_and_is_off_without_the_variable(
    auditor: Auditor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = tmp_path / "probe"
    probe.write_text("kept")
    monkeypatch.setenv(ENV_CHILD_PROBE, str(probe))
    with auditor.invocation("x"):
        assert run_child_probe() is False
    assert probe.read_text() == "kept"
    with auditor.invocation("x"):
        assert run_child_probe() is False  # the variable is gone now


def test_click_child_probe(auditor: Auditor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The click adapter probes too."""
    probe = tmp_path / "probe"
    monkeypatch.setenv(ENV_CHILD_PROBE, str(probe))
    monkeypatch.setenv("TOOL_TRACE_ID", "click-trace")

    @click.group(cls=AuditedGroup, auditor=auditor)
    def cli() -> None:
        """A click tool."""

    @cli.command()
    def deploy() -> None:
        """Deploy."""

    assert CliRunner().invoke(cli, ["deploy"]).exit_code == 0
    assert json.loads(probe.read_text())["TOOL_TRACE_ID"] == "click-trace"


def _click_cli(auditor: Auditor) -> click.Group:
    @click.group(cls=AuditedGroup, auditor=auditor)
    def cli() -> None:
        """A click tool."""

    @cli.command()
    @click.option("--env")
    def deploy(env: str | None) -> None:
        """Deploy."""

    cli.add_command(audit_log_command(auditor))
    return cli


def test_click_audit_log_has_click_help(auditor: Auditor) -> None:
    """`audit-log --help` / `-h` is click's help, listing every option of the writer's audit-log."""
    runner = CliRunner()
    for flag in ("--help", "-h"):
        result = runner.invoke(_click_cli(auditor), ["audit-log", flag])
        assert result.exit_code == 0
        assert result.output.startswith("Usage: cli audit-log [OPTIONS]\n")
        assert "Options:" in result.output
        assert "WHEN is a duration ago (30m, 1h, 2d, 1h30m)" in result.output
    assert "Show this tool's audit log." in runner.invoke(_click_cli(auditor), ["--help"]).output
    command = audit_log_command(auditor)
    click_options = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
    argparse_options = {
        opt for action in build_parser("x")._actions for opt in action.option_strings if opt.startswith("--")
    }
    assert click_options | {"--help"} == argparse_options


def test_click_audit_log_lists_and_filters(auditor: Auditor, log_path: Path) -> None:
    """The options reach the writer's audit-log: jsonl byte for byte, filters, -n; errors exit 2."""
    runner = CliRunner()
    cli = _click_cli(auditor)
    runner.invoke(cli, ["deploy", "--env", "a"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOOL_TRACE_ID", "wanted")
        runner.invoke(cli, ["deploy", "--env", "b"])
    result = runner.invoke(cli, ["audit-log", "--since", "1h", "-o", "jsonl"])
    assert (result.exit_code, result.stdout_bytes) == (0, log_path.read_bytes())
    result = runner.invoke(cli, ["audit-log", "--trace-id", "wanted", "--output", "json"])
    assert [r["params"] for r in orjson.loads(result.stdout)["data"]] == [{"env": "b"}]
    result = runner.invoke(cli, ["audit-log", "-n", "1", "-o", "jsonl", "--command", "deploy"])
    assert orjson.loads(result.stdout)["params"] == {"env": "b"}
    bad = runner.invoke(cli, ["audit-log", "--since", "nonsense"])
    assert bad.exit_code == 2
    assert "bad --since value" in bad.output
    assert runner.invoke(cli, ["audit-log", "-n", "-1"]).exit_code == 2
    assert len(read_records(log_path)) == 2

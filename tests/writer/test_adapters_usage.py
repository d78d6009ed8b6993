"""A call the tool's parser rejects (exit 2) is recorded too, by the argparse and the click adapters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from auditview.contract import check_record
from auditview.writer import Auditor, Invocation
from auditview.writer.argparse_support import (
    add_audit_log_command,
    add_trace_id_option,
    parse_args,
    run_command,
)
from auditview.writer.click_support import AuditedGroup, audit_log_command, trace_id_option

from .conftest import read_records


def _records(log_path: Path) -> list[dict[str, Any]]:
    return read_records(log_path) if log_path.exists() else []


def _argparse_tool(auditor: Auditor) -> argparse.ArgumentParser:
    def deploy(args: argparse.Namespace, inv: Invocation) -> int:
        return 0

    parser = argparse.ArgumentParser(prog="wtest")
    add_trace_id_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("deploy", aliases=["dep"])
    cmd.add_argument("--env", required=True)
    cmd.add_argument("--password")
    cmd.set_defaults(handler=deploy)
    db = sub.add_parser("db")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    migrate = db_sub.add_parser("migrate")
    migrate.add_argument("--to", type=int)
    add_audit_log_command(sub, auditor)
    return parser


@pytest.mark.parametrize(
    ("argv", "command", "message"),
    [
        (["deploy"], "deploy", "the following arguments are required: --env"),
        (["dep", "--password", "hunter2"], "deploy", "the following arguments are required: --env"),
        (["deploy", "--env", "x", "--bogus"], "deploy", "unrecognized arguments: --bogus"),
        ([], "main", "the following arguments are required: command"),
        (["deplyo"], "main", "argument command: invalid choice: 'deplyo'"),
        (["db", "migrate", "--to", "ten"], "db migrate", "argument --to: invalid int value: 'ten'"),
        (["db"], "db", "the following arguments are required: db_command"),
    ],
)
def test_argparse_usage_error_is_recorded(
    auditor: Auditor,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    command: str,
    message: str,
) -> None:
    """parse_args() records a rejected call: exit_code 2, error UsageError with argparse's message, the
    sub-command that rejected it (main at the top level), the argv (redacted); argparse still prints and
    exits 2 as before."""
    with pytest.raises(SystemExit) as exit_info:
        parse_args(auditor, _argparse_tool(auditor), argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    (record,) = _records(log_path)
    check_record(record)
    assert (record["command"], record["exit_code"], record["ok"]) == (command, 2, False)
    assert record["error"]["type"] == "UsageError"
    assert message in record["error"]["message"]
    expected_argv = ["dep", "--password", "[REDACTED]"] if "hunter2" in argv else argv
    assert record["params"] == {"argv": expected_argv}


def test_argparse_usage_error_keeps_the_trace(auditor: Auditor, log_path: Path) -> None:
    """--trace-id in the rejected argv, else TOOL_TRACE_ID, is the record's trace id."""
    with pytest.raises(SystemExit):
        parse_args(auditor, _argparse_tool(auditor), ["--trace-id", "T-1", "deploy"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOOL_TRACE_ID", "agent-7")
        with pytest.raises(SystemExit):
            parse_args(auditor, _argparse_tool(auditor), ["deploy"])
    assert [r["trace_id"] for r in _records(log_path)] == ["T-1", "agent-7"]


def test_argparse_good_calls_and_help_write_no_usage_record(auditor: Auditor, log_path: Path) -> None:
    """A parsed call is recorded once by run_command; --help (exit 0) is not recorded; the parsers are left
    as they were (no instance hook stays behind)."""
    parser = _argparse_tool(auditor)
    args = parse_args(auditor, parser, ["deploy", "--env", "prod"])
    assert run_command(auditor, args, args.handler) == 0
    with pytest.raises(SystemExit) as exit_info:
        parse_args(auditor, parser, ["deploy", "--help"])
    assert exit_info.value.code == 0
    assert [(r["command"], r["exit_code"]) for r in _records(log_path)] == [("deploy", 0)]
    assert "error" not in vars(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["deploy"])  # plain argparse: still no record, as before
    assert len(_records(log_path)) == 1


def test_argparse_audit_log_usage_error_is_not_recorded(auditor: Auditor, log_path: Path) -> None:
    """audit-log writes no record, not even for its own bad usage."""
    with pytest.raises(SystemExit) as exit_info:
        parse_args(auditor, _argparse_tool(auditor), ["audit-log", "--since", "nonsense"])
    assert exit_info.value.code == 2
    assert _records(log_path) == []


def _click_tool(auditor: Auditor) -> click.Group:
    @click.group(cls=AuditedGroup, auditor=auditor)
    @trace_id_option()
    def cli(trace_id: str | None) -> None:
        """A click tool."""

    @cli.command()
    @click.option("--env", required=True)
    @click.option("--count", type=int, default=1)
    def deploy(env: str, count: int) -> None:
        if env == "conflict":
            raise click.UsageError("--env conflict is not allowed here")
        if env.startswith("exit"):
            click.get_current_context().exit(int(env[4:]))

    @cli.group()
    def db() -> None:
        """Database commands."""

    @db.command()
    @click.option("--to", type=int, required=True)
    def migrate(to: int) -> None:
        click.echo(f"migrated to {to}")

    cli.add_command(audit_log_command(auditor))
    return cli


@pytest.mark.parametrize(
    ("argv", "command", "message"),
    [
        (["deploy"], "deploy", "Missing option '--env'."),
        (["deploy", "--env", "x", "--count", "many"], "deploy", "'many' is not a valid integer"),
        (["deploy", "--env", "x", "--nope"], "deploy", "No such option '--nope'."),
        (["deplyo"], "main", "No such command 'deplyo'."),
        (["--nope", "deploy"], "main", "No such option '--nope'."),
        (["db", "migrate"], "db migrate", "Missing option '--to'."),
        (["db", "rollback"], "db", "No such command 'rollback'."),
    ],
)
def test_click_usage_error_is_recorded(
    auditor: Auditor, log_path: Path, argv: list[str], command: str, message: str
) -> None:
    """AuditedGroup records a call click rejects: exit_code 2, UsageError with click's message, the command
    whose parameters were rejected (main at the top level), the whole argv."""
    result = CliRunner().invoke(_click_tool(auditor), argv)
    assert result.exit_code == 2
    assert message in result.output
    (record,) = _records(log_path)
    check_record(record)
    assert (record["command"], record["exit_code"], record["error"]["type"]) == (command, 2, "UsageError")
    assert message in record["error"]["message"]
    assert record["params"] == {"argv": argv}


def test_click_usage_error_keeps_the_trace(auditor: Auditor, log_path: Path) -> None:
    """The group's --trace-id in the rejected argv is the record's trace id."""
    CliRunner().invoke(_click_tool(auditor), ["--trace-id", "C-9", "deploy"])
    assert [r["trace_id"] for r in _records(log_path)] == ["C-9"]


def test_click_usage_error_inside_a_command_is_recorded_once(auditor: Auditor, log_path: Path) -> None:
    """A UsageError the command raises itself is recorded by its invocation (with its params), not twice."""
    result = CliRunner().invoke(_click_tool(auditor), ["deploy", "--env", "conflict"])
    assert result.exit_code == 2
    (record,) = _records(log_path)
    assert (record["params"], record["exit_code"]) == ({"env": "conflict", "count": 1}, 2)
    assert record["error"] == {"type": "UsageError", "message": "--env conflict is not allowed here"}


def test_click_help_and_audit_log_errors_write_no_record(auditor: Auditor, log_path: Path) -> None:
    """--help is no usage error; audit-log is never recorded, not even for its own bad usage."""
    runner = CliRunner()
    assert runner.invoke(_click_tool(auditor), ["deploy", "--help"]).exit_code == 0
    assert runner.invoke(_click_tool(auditor), ["audit-log", "--output", "xml"]).exit_code == 2
    assert runner.invoke(_click_tool(auditor), ["audit-log", "--since", "nonsense"]).exit_code == 2
    assert _records(log_path) == []


def test_click_ctx_exit_is_an_exit_code_not_an_error(auditor: Auditor, log_path: Path) -> None:
    """ctx.exit(n) records exit code n and no error (it used to record error {"type": "Exit"})."""
    runner = CliRunner()
    assert runner.invoke(_click_tool(auditor), ["deploy", "--env", "exit0"]).exit_code == 0
    assert runner.invoke(_click_tool(auditor), ["deploy", "--env", "exit3"]).exit_code == 3
    records = _records(log_path)
    assert [(r["exit_code"], r["ok"], r.get("error")) for r in records] == [(0, True, None), (3, False, None)]

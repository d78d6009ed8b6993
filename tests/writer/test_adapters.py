"""argparse and click adapters: instrumenting in a few lines, mounting audit-log in one."""

from __future__ import annotations

import argparse
from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner

from auditview.writer import Auditor, Invocation, add_audit_log_command, add_trace_id_option, run_command
from auditview.writer.click_support import AuditedGroup, audit_log_command, trace_id_option

from .conftest import read_records


def _argparse_tool(auditor: Auditor) -> argparse.ArgumentParser:
    def deploy(args: argparse.Namespace, inv: Invocation) -> int:
        print(orjson.dumps({"ok": True, "meta": inv.meta()}).decode())
        return 0 if args.env != "bad" else 5

    parser = argparse.ArgumentParser(prog="wtest")
    add_trace_id_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("deploy")
    cmd.add_argument("--env")
    cmd.set_defaults(handler=deploy)
    add_audit_log_command(sub, auditor)
    return parser


def test_argparse_run_command_records_params_and_exit_code(
    auditor: Auditor, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run_command() records the sub-command, its params (not trace_id/handler) and the returned exit code."""
    parser = _argparse_tool(auditor)
    args = parser.parse_args(["--trace-id", "T-9", "deploy", "--env", "bad"])
    assert run_command(auditor, args, args.handler) == 5
    (record,) = read_records(log_path)
    assert (record["command"], record["params"], record["exit_code"], record["trace_id"]) == (
        "deploy",
        {"env": "bad"},
        5,
        "T-9",
    )
    meta = orjson.loads(capsys.readouterr().out)["meta"]
    assert meta["request_id"] == record["request_id"]


def test_argparse_audit_log_is_mounted_in_one_line(
    auditor: Auditor, log_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """`tool audit-log --since 1h -o jsonl` runs through argparse and exits with the audit-log code."""
    with auditor.invocation("deploy"):
        pass
    with pytest.raises(SystemExit) as exit_info:
        _argparse_tool(auditor).parse_args(["audit-log", "--since", "1h", "-o", "jsonl"])
    assert exit_info.value.code == 0
    assert capsysbinary.readouterr().out == log_path.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        _argparse_tool(auditor).parse_args(["audit-log", "--since", "nonsense"])
    assert exit_info.value.code == 2


def _click_tool(auditor: Auditor) -> click.Group:
    @click.group(cls=AuditedGroup, auditor=auditor)
    def cli() -> None:
        """A click tool."""

    @cli.command()
    @click.option("--env", required=True)
    @click.option("--password")
    @trace_id_option()
    def deploy(env: str, password: str | None, trace_id: str | None) -> None:
        if env == "fail":
            raise click.ClickException("deploy failed")
        if env == "exit3":
            click.get_current_context().exit(3)
        click.echo("deployed")

    @cli.group()
    def db() -> None:
        """Database commands."""

    @db.command()
    def migrate() -> None:
        click.echo("migrated")

    cli.add_command(audit_log_command(auditor))
    return cli


def test_click_group_audits_every_command(auditor: Auditor, log_path: Path) -> None:
    """AuditedGroup records each command, params redacted, exit codes of click exceptions included."""
    cli = _click_tool(auditor)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["deploy", "--env", "prod", "--password", "pw", "--trace-id", "c-1"]).exit_code
        == 0
    )
    assert runner.invoke(cli, ["deploy", "--env", "fail"]).exit_code == 1
    assert runner.invoke(cli, ["deploy", "--env", "exit3"]).exit_code == 3
    assert runner.invoke(cli, ["db", "migrate"]).exit_code == 0
    records = read_records(log_path)
    assert [(r["command"], r["exit_code"]) for r in records] == [
        ("deploy", 0),
        ("deploy", 1),
        ("deploy", 3),
        ("db migrate", 0),
    ]
    assert records[0]["params"] == {"env": "prod", "password": "[REDACTED]"}
    assert records[0]["trace_id"] == "c-1"
    assert records[1]["error"]["message"] == "deploy failed"


def test_click_audit_log_command(auditor: Auditor, log_path: Path) -> None:
    """The mounted click audit-log prints the log and exits 2 on a bad --since; it is not itself recorded."""
    cli = _click_tool(auditor)
    runner = CliRunner()
    runner.invoke(cli, ["deploy", "--env", "prod"])
    result = runner.invoke(cli, ["audit-log", "--since", "1h", "-o", "jsonl"])
    assert result.exit_code == 0
    assert result.stdout_bytes == log_path.read_bytes()
    assert runner.invoke(cli, ["audit-log", "--since", "nope"]).exit_code == 2
    assert len(read_records(log_path)) == 1


def test_writer_import_does_not_load_click_or_argparse_adapters() -> None:
    """The adapters are lazy attributes of auditview.writer, resolved on first use."""
    import subprocess
    import sys

    code = (
        "import sys, auditview.writer\n"
        "print('click' in sys.modules, 'auditview.writer.argparse_support' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_click_current_meta_joins_response_and_record(auditor: Auditor, log_path: Path) -> None:
    """current_meta() inside an audited click command gives the meta whose request_id is in the record."""
    from auditview.writer.click_support import current_meta

    @click.group(cls=AuditedGroup, auditor=auditor)
    def cli() -> None:
        """A click tool."""

    @cli.command()
    def status() -> None:
        click.echo(orjson.dumps({"ok": True, "meta": current_meta()}).decode())

    result = CliRunner().invoke(cli, ["status"])
    meta = orjson.loads(result.stdout)["meta"]
    (record,) = read_records(log_path)
    assert (meta["request_id"], meta["duration_ms"]) == (record["request_id"], record["duration_ms"])
    with pytest.raises(RuntimeError):
        current_meta()

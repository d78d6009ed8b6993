"""Redaction of argv, ``--json-meta``, ``--audit-log``, the ``--wrapper`` rule and the recursion guard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from auditview.contract import META_FIELDS, check_record
from auditview.writer import REDACTED
from auditview.writer.wrap import (
    MAX_DEPTH,
    UsageError,
    command_name,
    parse_args,
    redact_secret_opts,
    resolve_command,
    with_meta,
)
from tests.wrap.conftest import RUN, only_record, records, wrapped

# -- redaction -----------------------------------------------------------------------------------------------


def test_secret_options_are_redacted(log: Path) -> None:
    """--password=x and --token x by the writer's rules, -p x and -pxyz only as --secret-opt -p says, URLs."""
    argv = [
        "--password=hunter2",
        "--token",
        "abc123",
        "-p",
        "s3cret",
        "-pglued",
        "--db-pass",
        "pw",
        "https://user:pa55@example.com/x",
        "deploy",
    ]
    result = wrapped(["--log", str(log), "--secret-opt", "-p", "--secret-opt=--db-pass"], ["true", *argv])
    assert result.returncode == 0
    record = only_record(log)
    check_record(record)
    assert record["params"]["argv"] == [
        f"--password={REDACTED}",
        "--token",
        REDACTED,
        "-p",
        REDACTED,
        f"-p{REDACTED}",
        "--db-pass",
        REDACTED,
        f"https://user:{REDACTED}@example.com/x",
        "deploy",
    ]
    assert record["command"] == "deploy"
    text = log.read_text()
    for secret in ("hunter2", "abc123", "s3cret", "glued", 'pw"', "pa55"):
        assert secret not in text


def test_short_option_is_not_a_secret_unless_named(log: Path) -> None:
    """Without --secret-opt, ``-p 8080`` is an ordinary option and kept."""
    wrapped(["--log", str(log)], ["true", "-p", "8080", "serve"])
    record = only_record(log)
    assert record["params"]["argv"] == ["-p", "8080", "serve"]
    assert record["command"] == "8080"  # the documented rule: the first argument not starting with '-'


def test_a_secret_is_never_the_command_name(log: Path) -> None:
    """The value of a secret option is not taken as the command name even though it is not an option."""
    wrapped(["--log", str(log), "--secret-opt", "-k"], ["true", "-k", "key", "--token", "t0k", "apply"])
    assert only_record(log)["command"] == "apply"


def test_redact_secret_opts_unit() -> None:
    """The forms of a named secret option: OPT VALUE, OPT=VALUE and, for one letter, -pVALUE."""
    args = ["-p", "a", "-pb", "--key=c", "--key", "d", "-P", "e", "--keyring", "f", "-p"]
    assert redact_secret_opts(args, ["-p", "--key"]) == [
        "-p",
        REDACTED,
        f"-p{REDACTED}",
        f"--key={REDACTED}",
        "--key",
        REDACTED,
        "-P",
        "e",
        "--keyring",
        "f",
        "-p",
    ]


def test_command_name_unit() -> None:
    """First non-option argument that redaction left alone, else the default."""
    assert command_name(["-v", "get", "pods"], ["-v", "get", "pods"], "kubectl") == "get"
    assert command_name(["--x", "-"], ["--x", "-"], "tool") == "tool"
    assert command_name(["secret", "run"], [REDACTED, "run"], "tool") == "run"


# -- --json-meta ---------------------------------------------------------------------------------------------


def test_json_meta_adds_meta_to_one_object(log: Path) -> None:
    """One JSON object on stdout: printed with ``meta`` (contract fields, the record's values)."""
    code = 'import json, sys; print(json.dumps({"ok": True, "n": 2})); print("note", file=sys.stderr)'
    result = wrapped(["--log", str(log), "--json-meta", "--command", "count"], [sys.executable, "-c", code])
    assert result.returncode == 0
    assert result.stderr == "note\n"
    body = orjson.loads(result.stdout)
    record = only_record(log)
    assert list(body) == ["ok", "n", "meta"]
    assert list(body["meta"]) == list(META_FIELDS)
    assert body["meta"] == {name: record[name] for name in META_FIELDS}
    assert body["meta"]["command"] == "count"
    assert result.stdout.count("\n") == 1  # a one-line object stays one line


def test_json_meta_on_a_failing_command_and_pretty_output(log: Path) -> None:
    """Exit status is kept; a multi-line object is printed indented; an existing ``meta`` is replaced."""
    code = 'import json; print(json.dumps({"ok": False, "meta": {"old": 1}}, indent=4)); raise SystemExit(5)'
    result = wrapped(["--log", str(log), "--json-meta"], [sys.executable, "-c", code])
    assert result.returncode == 5
    body = orjson.loads(result.stdout)
    assert body["meta"]["request_id"] == only_record(log)["request_id"]
    assert "old" not in body["meta"]
    assert result.stdout.startswith('{\n  "ok": false,\n  "meta": {\n')


@pytest.mark.parametrize("output", ["hello\nworld\n", "[1, 2]\n", '{"a": 1}\n{"b": 2}\n', ""])
def test_json_meta_passes_other_output_unchanged(output: str, log: Path) -> None:
    """Anything but exactly one JSON object is printed byte for byte, with a warning on stderr."""
    code = f"import sys; sys.stdout.write({output!r})"
    result = wrapped(["--log", str(log), "--json-meta"], [sys.executable, "-c", code])
    assert result.returncode == 0
    assert result.stdout == output
    what = "the output is not one JSON object" if output else "there was no output"
    assert f"warning: --json-meta: {what}; printed unchanged" in result.stderr
    assert only_record(log)["exit_code"] == 0


def test_with_meta_unit() -> None:
    """``with_meta`` accepts one object (whitespace around it allowed) and nothing else."""
    meta = {"request_id": "r"}
    assert with_meta(b'  {"a":1}\n', meta) == b'{"a":1,"meta":{"request_id":"r"}}\n'
    assert with_meta(b'{"a":1} x', meta) is None
    assert with_meta(b"null", meta) is None
    assert with_meta(b"\xff", meta) is None


# -- --audit-log ---------------------------------------------------------------------------------------------


def test_audit_log_is_answered_from_the_tools_log(tmp_path: Path) -> None:
    """``--audit-log``: ``tool audit-log --since 1h --output jsonl`` prints the tool's log (the writer's
    reader), and writes no record of its own; without ``--audit-log`` the command itself runs."""
    data = Path(os.environ["XDG_DATA_HOME"])
    for status in (0, 2):
        wrapped(["--tool", "mytool"], ["sh", "-c", f"exit {status}"])
    log = data / "mytool" / "audit.jsonl"
    stored = log.read_bytes()
    result = subprocess.run(
        [
            *RUN,
            "--audit-log",
            "--tool",
            "mytool",
            "--",
            "mytool",
            "audit-log",
            "--since",
            "1h",
            "--output",
            "jsonl",
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(stored.splitlines())
    assert log.read_bytes() == stored  # no record for answering audit-log
    as_json = subprocess.run(
        [
            *RUN,
            "--audit-log",
            "--tool",
            "mytool",
            "--",
            "mytool",
            "audit-log",
            "-o",
            "json",
            "--command",
            "exit 2",
        ],
        capture_output=True,
        check=True,
    )
    body = orjson.loads(as_json.stdout)
    assert [record["exit_code"] for record in body["data"]] == [2]
    bad = subprocess.run(
        [*RUN, "--audit-log", "--", "mytool", "audit-log", "--bogus"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "mytool audit-log" in bad.stderr
    plain = wrapped(["--log", str(tmp_path / "x.jsonl")], ["sh", "-c", 'echo "ran $0"', "audit-log"])
    assert plain.stdout == "ran audit-log\n"


def test_audit_log_reads_the_log_option(tmp_path: Path) -> None:
    """``--log`` is where ``audit-log`` reads, as it is where records go."""
    log = tmp_path / "custom.jsonl"
    wrapped(["--log", str(log), "--tool", "kubectl"], ["true"])
    result = subprocess.run(
        [
            *RUN,
            "--audit-log",
            "--log",
            str(log),
            "--tool",
            "kubectl",
            "--",
            "kubectl",
            "audit-log",
            "-o",
            "jsonl",
        ],
        capture_output=True,
        check=True,
    )
    assert result.stdout == log.read_bytes()


# -- finding the command: the --wrapper rule and the recursion guard -----------------------------------------


def _write_script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_wrapper_script_on_path_skips_itself(tmp_path: Path, log: Path) -> None:
    """A wrapper script named like the tool, first on PATH, passing ``--wrapper "$0"``: the real tool runs,
    once, and one record is written."""
    run = " ".join(RUN)
    wrapper = _write_script(
        tmp_path / "shims" / "mytool",
        f'#!/bin/sh\nexec {run} --log {log} --tool mytool --wrapper "$0" -- mytool "$@"\n',
    )
    real = _write_script(tmp_path / "real" / "mytool", '#!/bin/sh\necho "real $*"\n')
    path = f"{wrapper.parent}:{real.parent}:{os.environ['PATH']}"
    result = subprocess.run(
        ["mytool", "deploy", "now"],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "real deploy now\n"
    record = only_record(log)
    assert record["executable"] == str(real)
    assert (record["tool"], record["command"]) == ("mytool", "deploy")


def test_resolve_command_skips_the_wrapper_file(tmp_path: Path) -> None:
    """The skip is by file identity (a symlink to the wrapper is skipped too); 127 when nothing is left."""
    shim = _write_script(tmp_path / "a" / "tool", "#!/bin/sh\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "tool").symlink_to(shim)
    real = _write_script(tmp_path / "c" / "tool", "#!/bin/sh\n")
    path = os.pathsep.join(str(tmp_path / d) for d in ("a", "b", "c"))
    assert resolve_command("tool", path).path == str(shim)
    assert resolve_command("tool", path, [str(shim)]).path == str(real)
    only_shims = os.pathsep.join(str(tmp_path / d) for d in "ab")
    assert resolve_command("tool", only_shims, [str(shim)]).exit_code == 127


def test_recursion_is_stopped(tmp_path: Path, log: Path) -> None:
    """A wrapper script that forgot ``--wrapper`` finds itself again and again: stopped at the depth limit
    with 126 and the reason, every level recorded."""
    run = " ".join(RUN)
    wrapper = _write_script(tmp_path / "shims" / "loop", f'#!/bin/sh\nexec {run} --log {log} -- loop "$@"\n')
    result = subprocess.run(
        ["loop"],
        env={**os.environ, "PATH": f"{wrapper.parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 126
    assert 'pass --wrapper "$0"' in result.stderr
    found = records(log)
    assert len(found) == MAX_DEPTH + 1
    assert sum(1 for record in found if record.get("error", {}).get("type") == "Recursion") == 1
    assert {record["exit_code"] for record in found} == {126}


# -- parsing -------------------------------------------------------------------------------------------------


def test_parse_args_unit() -> None:
    """Valued options in both spellings, repeated --secret-opt, flags, and where the command starts."""
    opts = parse_args(
        ["--tool=k", "--log", "L", "--secret-opt", "-p", "--secret-opt=--pw", "-v", "--", "-x", "y"]
    )
    assert (opts.tool, opts.log, opts.secret_opts) == ("k", "L", ["-p", "--pw"])
    assert (opts.verbose, opts.argv) == (True, ["-x", "y"])
    assert parse_args(["ls", "--tool", "x"]).argv == ["ls", "--tool", "x"]
    assert parse_args(["--help"]).help
    for bad in (["--tool"], [], ["--json-meta=1", "x"], ["--secret-opt", "p", "x"], ["-z", "x"]):
        with pytest.raises(UsageError):
            parse_args(bad)

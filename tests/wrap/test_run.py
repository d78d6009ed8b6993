"""``auditview run``: the command runs unchanged (stdio, cwd, exit status) and its record is written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditview.contract import check_record
from tests.wrap.conftest import RUN, only_record, records, wrapped


@pytest.mark.parametrize("status", [0, 3])
def test_exit_status_is_the_commands(status: int, log: Path) -> None:
    """The wrapper exits with the command's status, and the record says so."""
    result = wrapped(["--log", str(log)], ["sh", "-c", f"exit {status}"])
    assert result.returncode == status
    record = only_record(log)
    assert record["exit_code"] == status
    assert record["ok"] is (status == 0)
    assert "error" not in record


def test_signal_death_is_128_plus_n(log: Path) -> None:
    """A command killed by SIGTERM: the record says 143 and the wrapper dies of SIGTERM too ($? is 143)."""
    result = wrapped(["--log", str(log)], ["sh", "-c", "kill -TERM $$"])
    assert result.returncode == -15  # as subprocess reports a signal death
    record = only_record(log)
    assert record["exit_code"] == 143
    assert record["error"] == {"type": "Signal", "message": "killed by signal 15 (SIGTERM)"}
    shell = subprocess.run(
        [
            "sh",
            "-c",
            '"$@"; echo "status=$?"',
            "sh",
            *RUN,
            "--log",
            str(log),
            "--",
            "sh",
            "-c",
            "kill -TERM $$",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shell.stdout.strip() == "status=143"


def test_missing_command_is_127_and_recorded(log: Path) -> None:
    """A command that is not on PATH: 127, the reason on stderr, and a record with the reason as its error."""
    result = wrapped(["--log", str(log)], ["no-such-command-xyz", "arg"])
    assert result.returncode == 127
    assert "no-such-command-xyz: command not found" in result.stderr
    record = only_record(log)
    check_record(record)
    assert record["tool"] == "no-such-command-xyz"
    assert record["exit_code"] == 127
    assert record["error"] == {"type": "CommandNotFound", "message": "no-such-command-xyz: command not found"}
    missing = wrapped(["--log", str(log)], ["./not/there"])
    assert missing.returncode == 127
    assert records(log)[-1]["error"]["message"] == "./not/there: No such file or directory"


def test_not_executable_is_126_and_recorded(log: Path, tmp_path: Path) -> None:
    """A file without execute permission, and a directory: 126 with the reason, record written."""
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    result = wrapped(["--log", str(log)], [str(script)])
    assert result.returncode == 126
    assert f"{script}: Permission denied" in result.stderr
    record = only_record(log)
    check_record(record)
    assert record["exit_code"] == 126
    assert record["error"] == {"type": "CannotExecute", "message": f"{script}: Permission denied"}
    assert wrapped(["--log", str(log)], [str(tmp_path)]).returncode == 126
    assert records(log)[-1]["error"]["message"] == f"{tmp_path}: Is a directory"


def test_non_executable_file_on_path_is_126(log: Path, tmp_path: Path) -> None:
    """Found on PATH but not executable (and nothing executable after it): 126, as a shell says."""
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin" / "halfway"
    tool.write_text("echo hi\n")
    tool.chmod(0o644)
    result = wrapped(["--log", str(log)], ["halfway"], env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"})
    assert result.returncode == 126
    assert only_record(log)["error"]["type"] == "CannotExecute"


def test_bad_interpreter_is_126(log: Path, tmp_path: Path) -> None:
    """A script whose ``#!`` interpreter does not exist cannot be executed (126, as bash says)."""
    script = tmp_path / "bad"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    assert wrapped(["--log", str(log)], [str(script)]).returncode == 126
    assert "bad interpreter" in only_record(log)["error"]["message"]


def test_script_without_shebang_runs_with_sh(log: Path, tmp_path: Path) -> None:
    """An executable text file without ``#!`` is run by /bin/sh, as a shell and execvp do."""
    script = tmp_path / "plain"
    script.write_text('echo "plain $1"\nexit 4\n')
    script.chmod(0o755)
    result = wrapped(["--log", str(log)], [str(script), "arg"])
    assert (result.returncode, result.stdout) == (4, "plain arg\n")
    assert only_record(log)["exit_code"] == 4


def test_record_follows_the_contract(log: Path) -> None:
    """tool = basename, command = first non-option argument, params.argv, the origin fields, version."""
    result = wrapped(["--log", str(log), "--tool-version", "2.1.0"], ["/bin/sh", "-e", "-c", "true", "x"])
    assert result.returncode == 0
    record = only_record(log)
    check_record(record)
    assert record["tool"] == "sh"
    assert record["command"] == "true"
    assert record["params"] == {"argv": ["-e", "-c", "true", "x"]}
    assert record["version"] == "2.1.0"
    assert record["executable"] == "/bin/sh"
    assert record["pid"] != os.getpid()
    assert record["host"] == os.uname().nodename
    assert isinstance(record["operator"], str)
    assert record["operator"]
    assert record["duration_ms"] >= 0
    uuid7 = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(f"req-{uuid7}", record["request_id"])


def test_tool_command_and_defaults(log: Path) -> None:
    """--tool / --command override; version is "unknown"; without a positional argument command = tool."""
    wrapped(["--log", str(log), "--tool", "deployer", "--command", "ship"], ["true", "a"])
    wrapped(["--log", str(log)], ["true", "--flag"])
    first, second = records(log)
    assert (first["tool"], first["command"], first["version"]) == ("deployer", "ship", "unknown")
    assert (second["tool"], second["command"]) == ("true", "true")


def test_default_log_path_is_the_writers(tmp_path: Path) -> None:
    """Without --log: $XDG_DATA_HOME/<tool>/audit.jsonl, and <TOOL>_AUDIT_LOG wins, as for any writer."""
    data = Path(os.environ["XDG_DATA_HOME"])
    assert wrapped([], ["true"]).returncode == 0
    assert only_record(data / "true" / "audit.jsonl")["tool"] == "true"
    redirected = tmp_path / "elsewhere.jsonl"
    wrapped(["--tool", "my-tool"], ["true"], env={"MY_TOOL_AUDIT_LOG": str(redirected)})
    assert only_record(redirected)["tool"] == "my-tool"
    wrapped(["--tool", "quiet"], ["true"], env={"QUIET_AUDIT": "0"})
    assert not (data / "quiet").exists()


def test_stdio_and_cwd_are_inherited(log: Path, tmp_path: Path) -> None:
    """stdin is the wrapper's, stdout is the wrapper's own descriptor (no pipe in between), cwd the same."""
    out = tmp_path / "out.txt"
    code = (
        "import os, sys\n"
        "print(sys.stdin.read().upper(), os.getcwd(), os.readlink('/proc/self/fd/1'), sep='|')"
    )
    with out.open("w") as stdout:
        result = subprocess.run(
            [*RUN, "--log", str(log), "--", sys.executable, "-c", code],
            input="hello",
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert out.read_text().strip() == f"HELLO|{tmp_path}|{out}"


def test_stdout_and_stderr_interleave_unbuffered(log: Path) -> None:
    """Both streams go straight to the same descriptor: their order is the command's order."""
    code = "import os\nfor i in range(3):\n    os.write(1, b'out%d\\n' % i)\n    os.write(2, b'err%d\\n' % i)"
    result = subprocess.run(
        [*RUN, "--log", str(log), "--", sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    assert result.stdout == b"out0\nerr0\nout1\nerr1\nout2\nerr2\n"


def test_usage_errors_exit_2_without_a_record(log: Path) -> None:
    """No command, an unknown option, a bad --tool: usage error 2 and nothing is written."""
    no_command = subprocess.run([*RUN, "--log", str(log)], capture_output=True, text=True, check=False)
    assert no_command.returncode == 2
    assert "no command given" in no_command.stderr
    unknown = subprocess.run([*RUN, "--bogus", "true"], capture_output=True, text=True, check=False)
    assert unknown.returncode == 2
    assert "unknown option '--bogus'" in unknown.stderr
    bad_tool = wrapped(["--log", str(log), "--tool", "a/b"], ["true"])
    assert bad_tool.returncode == 2
    assert not log.exists()


def test_help_lists_the_options() -> None:
    """``auditview run --help`` exits 0 and documents every option and the exit codes."""
    result = subprocess.run([*RUN, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for option in (
        "--tool",
        "--command",
        "--tool-version",
        "--log",
        "--secret-opt",
        "--trace-id",
        "--wrapper",
    ):
        assert option in result.stdout
    for option in ("--json-meta", "--audit-log", "--verbose", "exit codes:", "126", "127"):
        assert option in result.stdout


def test_command_may_start_without_double_dash(log: Path) -> None:
    """Options end at ``--`` or at the first argument that is not an option."""
    result = subprocess.run(
        [*RUN, "--log", str(log), "sh", "-c", "echo $0 $1", "--tool", "x"], capture_output=True, text=True
    )
    assert result.stdout == "--tool x\n"
    assert only_record(log)["tool"] == "sh"


def test_start_path_imports_nothing_heavy(log: Path) -> None:
    """``auditview run`` never imports polars, Textual, Rich, pendulum or subprocess (``-X importtime``)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *RUN[1:], "--log", str(log), "--", "true"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "auditview.writer.wrap" in imported
    assert "auditview.writer" in imported
    top = {name.split(".")[0] for name in imported}
    assert not top & {"polars", "textual", "rich", "pendulum", "click", "subprocess"}
    assert (
        not {
            "auditview.core.index",
            "auditview.core.query",
            "auditview.core.allocator",
            "auditview.text.timeparse",
        }
        & imported
    )
    assert only_record(log)["exit_code"] == 0

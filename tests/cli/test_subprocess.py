"""The real ``python -m auditview`` process: trace id, startup imports, colour on a pty, pipes, follow."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import line_of, record

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_logs"
_SGR = re.compile(rb"\x1b\[[0-9;]*m")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOL_", "AUDITVIEW_", "NO_COLOR"))}
    env.update(XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"), HOME=str(home), TZ="UTC")
    env.update(extra)
    return env


def _run_on_pty(argv: list[str], env: dict[str, str], timeout: float = 30.0) -> tuple[int, bytes]:
    """Run ``python -m auditview argv`` with stdout on a pseudo-terminal; return exit code and output."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditview", *argv],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=timeout), b"".join(chunks)


def test_callers_trace_id_reaches_meta(isolated_env: Path) -> None:
    """``TOOL_TRACE_ID=test-123 auditview traces sample_logs -o json`` has ``meta.trace_id == "test-123"``."""
    proc = subprocess.run(
        [sys.executable, "-m", "auditview", "traces", "sample_logs", "-o", "json"],
        capture_output=True,
        env=_env(isolated_env, TOOL_TRACE_ID="test-123"),
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert body["meta"]["trace_id"] == "test-123"
    assert len(body["data"]) == 57
    assert body["rejects"] == 5
    assert body["warnings"] == 1
    assert b"5 malformed lines skipped; see 'auditview rejects sample_logs'" in proc.stderr
    assert b"1 field warning (unusable values read as unknown" in proc.stderr
    own = (isolated_env / "data" / "auditview" / "audit.jsonl").read_bytes().splitlines()
    assert json.loads(own[-1])["trace_id"] == "test-123"


def test_headless_startup_imports_no_ui_and_no_polars_for_help(isolated_env: Path) -> None:
    """``auditview export --help`` loads neither polars nor textual nor rich (measured with -X importtime)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "auditview", "export", "--help"],
        capture_output=True,
        text=True,
        env=_env(isolated_env),
        cwd=REPO,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    assert "auditview" in imported
    assert not imported & {"polars", "textual", "rich", "pendulum"}


def test_headless_commands_never_import_textual_or_rich(isolated_env: Path) -> None:
    """Even rendering a table on sample_logs, a headless command loads no Textual or Rich."""
    code = (
        "import sys\nfrom auditview.main import main\n"
        "main(['stats', 'sample_logs', '-o', 'table'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich'}), file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(isolated_env),
        cwd=REPO,
        check=True,
    )
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_tables_are_coloured_on_a_terminal_unless_no_color(isolated_env: Path) -> None:
    """On a pty the default output is a coloured table; with NO_COLOR set there is no escape sequence."""
    code, coloured = _run_on_pty(["stats", "sample_logs"], _env(isolated_env, COLUMNS="160"))
    assert code == 0
    assert _SGR.search(coloured)
    assert b"deployctl" in coloured
    code, plain = _run_on_pty(["stats", "sample_logs"], _env(isolated_env, COLUMNS="160", NO_COLOR="1"))
    assert code == 0
    assert b"\x1b" not in plain
    assert _SGR.sub(b"", coloured) == plain


def test_hostile_records_on_a_colour_terminal_emit_only_our_own_colours(
    isolated_env: Path, hostile_log: Path
) -> None:
    """With colour on, the only escape sequences on the terminal are auditview's own SGR codes."""
    code, out = _run_on_pty(["audit-log", str(hostile_log), "-o", "table"], _env(isolated_env, COLUMNS="200"))
    assert code == 0
    assert b"\\x1b[31mred" in out
    assert b"\x1b" not in _SGR.sub(b"", out)
    assert b"\x07" not in out
    assert "\u202e".encode() not in out


def test_missing_input_exit_code_in_a_real_process(isolated_env: Path, tmp_path: Path) -> None:
    """A real process exits 66 for a missing named input and 2 for a bad --since."""
    env = _env(isolated_env)
    missing = subprocess.run(
        [sys.executable, "-m", "auditview", "stats", str(tmp_path / "absent.jsonl")], env=env, check=False
    )
    assert missing.returncode == 66
    bad = subprocess.run(
        [sys.executable, "-m", "auditview", "stats", "sample_logs", "--since", "tomorrowish"],
        env=env,
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert bad.returncode == 2


def test_closed_pipe_ends_quietly(isolated_env: Path) -> None:
    """``auditview export sample_logs | head -1`` ends without a traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditview", "export", "sample_logs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(isolated_env),
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 0
    assert json.loads(first)["timestamp"].startswith("2026-11-20T09:00:")
    assert b"Traceback" not in err


@pytest.mark.skipif(not SAMPLES.exists(), reason="sample_logs not generated")
def test_every_subcommand_runs_on_sample_logs(isolated_env: Path) -> None:
    """Each subcommand succeeds on the bundled samples in json mode and returns the envelope."""
    trace_id = "agent-session-55-step-8"
    for argv in (
        ["traces"],
        ["trace", trace_id],
        ["stats"],
        ["rejects"],
        ["audit-log", "-n", "3"],
        ["export", "--trace", trace_id],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "auditview", *argv, "sample_logs", "-o", "json"],
            capture_output=True,
            env=_env(isolated_env),
            cwd=REPO,
            check=False,
        )
        assert proc.returncode == 0, (argv, proc.stderr)
        body = json.loads(proc.stdout)
        assert body["ok"] is True
        assert body["meta"]["command"] == argv[0]


def _read_lines_until(stream: Any, count: int, timeout: float) -> list[bytes]:
    """Read ``count`` lines from a pipe, giving up after ``timeout`` seconds."""
    lines: list[bytes] = []
    fd = stream.fileno()
    buffer = b""
    deadline = time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            data = os.read(fd, 65536)
            if not data:
                break
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            lines.extend(complete)
    return lines


def test_audit_log_follow_prints_new_matching_records(isolated_env: Path, clean_log: Path) -> None:
    """``audit-log -f`` prints what is there, then each appended matching record; Ctrl-C ends it with 0."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auditview",
            "audit-log",
            str(clean_log),
            "-f",
            "-o",
            "jsonl",
            "--trace-id",
            "t-new",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(isolated_env),
    )
    try:
        time.sleep(1.5)
        with clean_log.open("ab") as log:
            log.write(line_of(record(at_s=30, request_id="req-other", trace_id="t-other")) + b"\n")
            new = line_of(record(at_s=31, request_id="req-new", trace_id="t-new"))
            log.write(new + b"\n")
        assert proc.stdout is not None
        assert _read_lines_until(proc.stdout, 1, timeout=10) == [new]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
    assert code == 0


@pytest.mark.parametrize(
    "argv", [[], ["--filter", "duration_ms>1s"], ["--filter", "duration_ms>1s", "--check-all"]]
)
@pytest.mark.parametrize("name", ["audit.jsonl", "audit.jsonl.2.gz"])
def test_export_from_stdin_gives_the_file_s_bytes(isolated_env: Path, name: str, argv: list[str]) -> None:
    """``export -`` holds what it read from a pipe (it cannot be read twice), so the slice is byte-identical
    to the same export of the file, compressed or not, with or without pushdown."""
    path = SAMPLES / "deployctl" / name
    env = _env(isolated_env)
    from_file = subprocess.run(
        [sys.executable, "-m", "auditview", "export", str(path), *argv],
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    from_pipe = subprocess.run(
        [sys.executable, "-m", "auditview", "export", "-", *argv],
        env=env,
        input=path.read_bytes(),
        capture_output=True,
        check=True,
    ).stdout
    assert from_pipe == from_file
    assert from_file.count(b"\n") > 5

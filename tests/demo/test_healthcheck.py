"""The foreign producer in ``sample_logs/``: ``healthcheck/healthcheck.sh``, a shell script, not the writer.

Its committed lines must be what the script writes (the recipe's ``HealthCheck.line``, checked here by running
the script under ``sh`` with a fake ``date`` and ``curl``), read by the reader contract without rejects, and
share trace ids with the writer's tools.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from auditview.contract import ContractError
from auditview.demo.samples import HEALTHCHECK_SCRIPT, HEALTHCHECK_TOOL, HealthCheck, sample_files
from auditview.reader_contract import FieldMap, ReadRecord, read_line

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
LOG = SAMPLES / HEALTHCHECK_TOOL / "audit.jsonl"
SCRIPT = SAMPLES / HEALTHCHECK_TOOL / "healthcheck.sh"
#: The keys the script writes, in its order; ``trace_id`` and ``error`` only sometimes.
SCRIPT_KEYS = ["timestamp", "command", "params", "exit_code", "duration_ms", "operator"]
START = datetime(2026, 11, 20, 9, 5, 0, tzinfo=UTC)

needs_sh = pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")


def _read(path: Path) -> list[ReadRecord]:
    return [
        read_line(line, path=str(path), fields=FieldMap())
        for line in path.read_bytes().splitlines(keepends=True)
    ]


def _writer_records() -> list[ReadRecord]:
    records: list[ReadRecord] = []
    for sample in sample_files(SAMPLES):
        if sample.name.startswith(f"{HEALTHCHECK_TOOL}/"):
            continue
        for line in sample.lines:
            with contextlib.suppress(ContractError):
                records.append(read_line(line, path=str(SAMPLES / sample.name), fields=FieldMap()))
    return records


def test_every_line_is_a_record_of_the_healthcheck_tool_and_one_has_a_field_warning() -> None:
    """30 to 40 lines, no reject; the tool comes from the directory; exactly the hand-written line warns."""
    lines = LOG.read_bytes().splitlines()
    assert 30 <= len(lines) <= 40
    records = _read(LOG)
    assert all(r.values["tool"] == HEALTHCHECK_TOOL and "tool<-path" in r.derived for r in records)
    assert all(r.values["request_id"] is None and r.values["version"] is None for r in records)
    warned = [r for r in records if r.warnings]
    assert len(warned) == 1
    assert warned[0].values["duration_ms"] is None
    assert warned[0].warnings[0].startswith("duration_ms ")


def test_the_lines_have_the_scripts_shape() -> None:
    """Every line but the hand-written one has the script's keys in its order, ``", "``/``": "`` spacing,
    whole seconds with ``Z``, a duration in whole seconds, and a string ``error`` exactly when it failed."""
    script_lines = [line for line in LOG.read_bytes().splitlines() if b'"duration_ms": "' not in line]
    assert len(script_lines) == len(LOG.read_bytes().splitlines()) - 1
    for line in script_lines:
        record = orjson.loads(line)
        keys = list(record)
        optional = [key for key in ("trace_id", "error") if key in record]
        assert keys == SCRIPT_KEYS + optional
        assert line == orjson.dumps(record).replace(b'":', b'": ').replace(b',"', b', "')
        assert len(record["timestamp"]) == len("2026-11-20T09:00:00Z")
        assert record["timestamp"].endswith("Z")
        assert record["duration_ms"] % 1000 == 0
        assert ("error" in record) == (record["exit_code"] != 0)
        assert isinstance(record.get("error", ""), str)


def test_trace_ids_are_shared_with_the_writers_tools_inside_their_time_span() -> None:
    """Several checks carry a trace id of the writer's records and start inside that trace's span, after a
    verify of the same trace; the others are orphans."""
    spans: dict[str, list[datetime]] = defaultdict(list)
    tools: dict[str, set[str]] = defaultdict(set)
    for record in _writer_records():
        tid = record.values["trace_id"]
        if tid is not None:
            end = record.ts + timedelta(milliseconds=record.values["duration_ms"] or 0)
            spans[tid] += [record.ts, end]
            tools[tid].add(record.values["tool"])
    checks = _read(LOG)
    shared = [r for r in checks if r.values["trace_id"] is not None]
    assert len(shared) >= 5
    assert len({r.values["trace_id"] for r in shared}) == len(shared)
    for check in shared:
        tid = check.values["trace_id"]
        assert tid in spans, tid
        assert min(spans[tid]) <= check.ts <= max(spans[tid]), tid
        assert "verifyctl" in tools[tid]
    orphans = [r for r in checks if r.values["trace_id"] is None]
    assert len(orphans) >= 10


def test_a_couple_of_checks_fail_with_a_string_error() -> None:
    """Failed checks keep curl's message, read as the error's message."""
    failed = [r for r in _read(LOG) if r.values["exit_code"] not in (0, None)]
    assert len(failed) >= 2
    for record in failed:
        assert record.values["error"] is not None
        assert record.values["error"]["message"].startswith("curl: (")


def test_the_script_is_committed_executable_and_is_the_recipes() -> None:
    """The committed script is the recipe's text, and executable."""
    assert SCRIPT.read_text(encoding="utf-8") == HEALTHCHECK_SCRIPT
    assert os.access(SCRIPT, os.X_OK)


def _fake_bin(tmp_path: Path, *, curl_exit: int, curl_message: str, seconds: int) -> Path:
    """A ``date`` that says it is ``START`` (then ``seconds`` later) and a ``curl`` that fails as told."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    epoch = int(START.timestamp())
    (bin_dir / "date").write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f"  *%Y*) echo '{START:%Y-%m-%dT%H:%M:%SZ} {epoch}' ;;\n"
        f"  *) echo {epoch + seconds} ;;\n"
        "esac\n"
    )
    message = f"printf '%s\\n' '{curl_message}' >&2; " if curl_message else ""
    (bin_dir / "curl").write_text(f"#!/bin/sh\n{message}exit {curl_exit}\n")
    for tool in ("date", "curl"):
        (bin_dir / tool).chmod(0o755)
    return bin_dir


def _run_script(tmp_path: Path, bin_dir: Path, env: dict[str, str], *args: str) -> tuple[int, bytes]:
    log = tmp_path / "out" / "audit.jsonl"
    log.parent.mkdir(exist_ok=True)
    environment = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "AUDIT_LOG": str(log), **env}
    proc = subprocess.run(
        ["sh", str(SCRIPT), *args], env=environment, capture_output=True, timeout=30, check=False
    )
    return proc.returncode, log.read_bytes() if log.exists() else b""


@needs_sh
@pytest.mark.parametrize(
    ("env", "curl", "check"),
    [
        pytest.param(
            {
                "USER": "someone",
                "TOOL_OPERATOR": "agent-session-51",
                "TOOL_TRACE_ID": "agent-session-51-step-2",
            },
            (0, "", 1),
            HealthCheck(START, "staging", "payments", "agent-session-51", 0, 1, "agent-session-51-step-2"),
            id="in-a-trace",
        ),
        pytest.param(
            {"USER": "svc-health"},
            (22, "curl: (22) The requested URL returned error: 503", 0),
            HealthCheck(
                START,
                "staging",
                "payments",
                "svc-health",
                22,
                0,
                None,
                "curl: (22) The requested URL returned error: 503",
            ),
            id="orphan-failure",
        ),
        pytest.param(
            {"USER": "x", "TOOL_TRACE_ID": ""},
            (7, "", 0),
            HealthCheck(START, "staging", "payments", "x", 7, 0),
            id="empty-trace-id-and-no-message",
        ),
        pytest.param(
            {"USER": 'o"p\\e\tr\u00e9', "TOOL_TRACE_ID": 't\\1"\u2603'},
            (28, 'curl: (28) "slow" \\ at\tall', 10),
            HealthCheck(
                START,
                "staging",
                "payments",
                'o"p\\e\tr\u00e9',
                28,
                10,
                't\\1"\u2603',
                'curl: (28) "slow" \\ at\tall',
            ),
            id="escaping",
        ),
    ],
)
def test_the_script_writes_what_the_recipe_writes(
    tmp_path: Path, env: dict[str, str], curl: tuple[int, str, int], check: HealthCheck
) -> None:
    """Run under ``sh`` with a fixed clock and curl, the script appends exactly ``HealthCheck.line()`` (valid
    JSON even for quotes, backslashes, tabs and non-ASCII), exits with curl's status, and its line reads like
    the committed ones."""
    code, written = _run_script(
        tmp_path,
        _fake_bin(tmp_path, curl_exit=curl[0], curl_message=curl[1], seconds=curl[2]),
        env,
        "staging",
        "payments",
    )
    assert code == check.exit_code
    assert written == check.line()
    record = read_line(written, path=str(tmp_path / HEALTHCHECK_TOOL / "audit.jsonl"), fields=FieldMap())
    assert record.warnings == []
    assert record.ts == START
    assert record.values["exit_code"] == check.exit_code
    assert record.values["duration_ms"] == check.seconds * 1000
    sample = next(
        r
        for r in _read(LOG)
        if (r.values["trace_id"] is None) == (check.trace_id is None)
        and (r.values["error"] is None) == (check.exit_code == 0)
    )
    assert record.derived == sample.derived
    assert sorted(k for k, v in record.values.items() if v is not None) == sorted(
        k for k, v in sample.values.items() if v is not None
    )


@needs_sh
def test_the_script_appends_next_to_itself_by_default_and_refuses_bad_usage(tmp_path: Path) -> None:
    """Without ``$AUDIT_LOG`` it appends to ``audit.jsonl`` beside the script, one line per run; with a
    wrong number of arguments it prints its usage and writes nothing."""
    copy = tmp_path / "hc" / "healthcheck.sh"
    copy.parent.mkdir()
    copy.write_text(HEALTHCHECK_SCRIPT)
    bin_dir = _fake_bin(tmp_path, curl_exit=0, curl_message="", seconds=0)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "USER": "me"}
    for _ in range(2):
        subprocess.run(["sh", str(copy), "prod", "auth"], env=env, check=True, timeout=30)
    lines = (copy.parent / "audit.jsonl").read_bytes().splitlines(keepends=True)
    assert lines == [HealthCheck(START, "prod", "auth", "me").line()] * 2
    proc = subprocess.run(["sh", str(copy), "prod"], env=env, capture_output=True, timeout=30, check=False)
    assert proc.returncode == 2
    assert b"usage" in proc.stderr
    assert len((copy.parent / "audit.jsonl").read_bytes().splitlines()) == 2

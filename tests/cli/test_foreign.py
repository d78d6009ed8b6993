"""Logs from producers that do not use our writer, read end to end through ``main()``: the seed's own shape, a
tool with string errors and offsets, a tool with null trace ids and no exit codes, mixed with our writer's
records in one trace; field warnings listed and counted; ``--field`` and ``fields.toml`` mappings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditview.main import main
from auditview.reader_contract import ENV_FIELDS, reset_active_field_map
from tests.cli.conftest import line_of, record

#: The seed's own audit-log example line, byte for byte, plus a trace id (a script that passes it on).
SEED_LINES = [
    b'{"timestamp": "2026-11-20T09:00:01Z", "command": "deploy", "params": {"env": "staging"}, '
    b'"exit_code": 0, "duration_ms": 4521, "operator": "agent-session-42", "trace_id": "run-7"}',
    b'{"timestamp": "2026-11-20T09:00:09Z", "command": "smoke", "params": {"env": "staging"}, '
    b'"exit_code": 1, "duration_ms": 300, "operator": "agent-session-42", "trace_id": "run-7"}',
]
#: A gatekeeper that writes ``error`` as a string, ``+02:00`` offsets and no ``version``.
GATE_LINES = [
    b'{"timestamp":"2026-11-20T11:00:06.250+02:00","tool":"gate","command":"check","params":{},'
    b'"exit_code":3,"duration_ms":12,"request_id":"g-1","trace_id":"run-7","operator":"agent-session-42",'
    b'"error":"policy denied"}',
    b'{"timestamp":"2026-11-20T11:00:07+02:00","tool":"gate","command":"check","params":{},'
    b'"exit_code":"one","duration_ms":15,"request_id":"g-2","trace_id":"run-7","operator":"agent-session-42"}',
]
#: A Node CLI: camelCase, epoch-millisecond time, null trace id, no exit code on success (only ``ok``).
NODE_LINES = [
    b'{"time":1795165208000,"tool":"notify","cmd":"send","durationMs":80,"requestId":"n-1",'
    b'"traceId":"run-7","ok":true}',
    b'{"time":1795165300000,"tool":"notify","cmd":"send","durationMs":75,"requestId":"n-2","traceId":null}',
    b"[1, 2, 3]",
    b'{"message": "no time at all"}',
]


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Our writer's records of trace ``run-7`` beside three foreign producers' logs."""
    root = tmp_path / "logs"
    for name, lines in (("seedtool", SEED_LINES), ("gate", GATE_LINES), ("notify", NODE_LINES)):
        (root / name).mkdir(parents=True)
        (root / name / "audit.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    ours = [
        record(at_s=0.0, command="plan", request_id="req-1", trace_id="run-7"),
        record(at_s=10.0, command="rollback", request_id="req-2", trace_id="run-7", duration_ms=2000),
    ]
    (root / "deployctl").mkdir()
    (root / "deployctl" / "audit.jsonl").write_bytes(b"".join(line_of(r) + b"\n" for r in ours))
    return root


@pytest.fixture(autouse=True)
def _fresh_field_map(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each test starts from no ``--field`` mapping and no config file, and leaves none behind."""
    monkeypatch.delenv(ENV_FIELDS, raising=False)
    reset_active_field_map()
    yield
    reset_active_field_map()


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(capsys.readouterr().out)
    return body


def test_the_seeds_own_line_is_a_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The seed's example line (no tool, request_id, trace_id, version) is a record; its tool is its
    directory."""
    path = tmp_path / "deploy-script" / "audit.jsonl"
    path.parent.mkdir()
    path.write_bytes(
        b'{"timestamp": "2024-03-11T14:30:00Z", "command": "deploy", "params": {"env": "staging"}, '
        b'"exit_code": 0, "duration_ms": 4521, "operator": "agent-session-42"}\n'
    )
    assert main(["export", str(path), "-o", "json"]) == 0
    body = _json(capsys)
    assert body["rejects"] == 0
    assert body["warnings"] == 0
    assert len(body["data"]) == 1
    assert main(["traces", str(path), "-o", "json"]) == 0
    body = _json(capsys)
    assert body["data"] == []
    assert body["orphans"] == 1


def test_a_cross_tool_trace_mixes_writer_and_foreign_records(
    mixed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``trace run-7`` is one waterfall of our writer's, the seed-shaped, the gate's and the Node CLI's
    steps."""
    assert main(["trace", "run-7", str(mixed), "-o", "json"]) == 0
    body = _json(capsys)
    steps = body["data"]["steps"]
    assert [(s["tool"], s["command"]) for s in steps] == [
        ("deployctl", "plan"),
        ("seedtool", "deploy"),
        ("gate", "check"),
        ("gate", "check"),
        ("notify", "send"),
        ("seedtool", "smoke"),
        ("deployctl", "rollback"),
    ]
    by_tool = {(s["tool"], s["request_id"]): s for s in steps}
    seed = by_tool[("seedtool", None)]
    assert seed["derived"] == ["tool<-path"]
    gate = by_tool[("gate", "g-1")]
    assert gate["error"] == {"type": None, "message": "policy denied"}
    assert gate["failed"] is True
    assert gate["ts"] == "2026-11-20T09:00:06.250000Z"
    unusable = by_tool[("gate", "g-2")]
    assert unusable["exit_code"] is None
    assert unusable["failed"] is False
    assert unusable["warnings"] == ["exit_code must be an integer, not a string 'one'"]
    node = by_tool[("notify", "n-1")]
    assert node["exit_code"] == 0
    assert set(node["derived"]) == {
        "timestamp<-time",
        "command<-cmd",
        "duration_ms<-durationMs",
        "request_id<-requestId",
        "trace_id<-traceId",
        "exit_code<-ok",
    }
    assert body["data"]["tools"] == ["deployctl", "seedtool", "gate", "notify"]


def test_only_non_objects_and_timeless_lines_are_rejects(
    mixed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Of 10 lines, the array and the object without a time are the rejects; one record has a field
    warning."""
    assert main(["export", str(mixed), "-o", "json"]) == 0
    body = _json(capsys)
    assert len(body["data"]) == 8
    assert body["rejects"] == 2
    assert body["warnings"] == 1
    assert main(["rejects", str(mixed), "-o", "json"]) == 0
    reasons = sorted(item["reason"] for item in _json(capsys)["data"])
    assert reasons[0].startswith("no time")
    assert reasons[1] == "not a JSON object but an array"


def test_field_warnings_are_listed_and_noted(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``rejects --warnings`` lists file:line and reason; every other command notes the count on stderr."""
    assert main(["rejects", "--warnings", str(mixed), "-o", "json"]) == 0
    items = _json(capsys)["data"]
    assert [(Path(i["path"]).parent.name, i["line"], i["reason"]) for i in items] == [
        ("gate", 2, "exit_code must be an integer, not a string 'one'")
    ]
    assert main(["traces", str(mixed), "-o", "table"]) == 0
    err = capsys.readouterr().err
    assert "1 field warning (unusable values read as unknown, their records kept)" in err
    assert "rejects --warnings" in err


def test_export_of_foreign_records_is_byte_exact(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exported foreign lines are their source bytes (spaces, key order and all), in time order."""
    assert main(["export", str(mixed), "--filter", "failed"]) == 0
    out = capsys.readouterr().out.encode()
    assert out == GATE_LINES[0] + b"\n" + SEED_LINES[1] + b"\n"


def test_filters_read_derived_and_warning_columns(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``derived~...`` finds records whose tool came from the path; ``warnings~...`` those with a warning."""
    assert main(["export", str(mixed), "--filter", 'derived~"tool<-path"']) == 0
    assert capsys.readouterr().out.encode() == b"".join(line + b"\n" for line in SEED_LINES)
    assert main(["export", str(mixed), "--filter", "warnings~exit_code", "--check-all"]) == 0
    assert capsys.readouterr().out.encode() == GATE_LINES[1] + b"\n"


def test_unknown_exit_code_is_not_zero_in_tables(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A record without a usable exit code shows ``-`` in the records table and ``exit ?`` in the
    waterfall."""
    assert main(["export", str(mixed), "--filter", "request_id=g-2", "-o", "table"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert " - " in row
    assert " 0 " not in row
    assert main(["trace", "run-7", str(mixed), "-o", "table"]) == 0
    assert "exit ?" in capsys.readouterr().out


def test_field_option_maps_a_producers_own_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--field duration_ms=elapsed --field trace_id=corr`` reads those keys; without it they stay extra."""
    path = tmp_path / "legacy.log"
    path.write_bytes(
        b'{"timestamp":"2026-11-20T09:00:00Z","command":"sync","elapsed":1500,"corr":"c-1"}\n'
        b'{"timestamp":"2026-11-20T09:00:02Z","command":"sync","elapsed":500,"corr":"c-1"}\n'
    )
    assert main(["traces", str(path), "-o", "json"]) == 0
    assert _json(capsys)["data"] == []
    field_args = ["--field", "duration_ms=elapsed", "--field", "trace_id=corr"]
    assert main(["traces", str(path), "-o", "json", *field_args]) == 0
    (summary,) = _json(capsys)["data"]
    assert summary["trace_id"] == "c-1"
    assert summary["slowest_ms"] == 1500.0
    assert summary["tools"] == ["legacy"]


def test_field_option_refuses_an_unknown_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mapping to a field the reader does not know is a usage error (exit 2) that names the fields."""
    path = tmp_path / "a.log"
    path.write_bytes(b'{"timestamp":"2026-11-20T09:00:00Z"}\n')
    assert main(["traces", str(path), "--field", "durationz=elapsed"]) == 2
    assert "unknown field 'durationz'" in capsys.readouterr().err


def test_fields_toml_maps_without_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[fields]`` in ``$XDG_CONFIG_HOME/auditview/fields.toml`` maps keys for every run."""
    config = tmp_path / "config"
    (config / "auditview").mkdir(parents=True)
    (config / "auditview" / "fields.toml").write_text('[fields]\ntrace_id = ["corr"]\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    reset_active_field_map()
    path = tmp_path / "legacy.log"
    path.write_bytes(b'{"timestamp":"2026-11-20T09:00:00Z","corr":"c-9"}\n')
    assert main(["traces", str(path), "-o", "json"]) == 0
    assert [t["trace_id"] for t in _json(capsys)["data"]] == ["c-9"]


def test_the_cache_is_not_reused_across_field_maps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An index cached without a mapping is not served to a run with one (nor the other way round)."""
    path = tmp_path / "legacy.log"
    path.write_bytes(b'{"timestamp":"2026-11-20T09:00:00Z","elapsed":700}\n')
    for args, expected in (([], None), (["--field", "duration_ms=elapsed"], 700.0), ([], None)):
        reset_active_field_map()
        assert main(["stats", str(path), "-o", "json", *args]) == 0
        (row,) = _json(capsys)["data"]
        assert row["max_ms"] == expected, args
        # (the CLI left the mapping in the environment for child processes; a new run starts without it)
        os.environ.pop(ENV_FIELDS, None)


def test_logged_responses_give_their_meta(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A logged JSON response (``ok``, ``result``, ``meta``) is a record with meta's ids, time and command."""
    path = tmp_path / "responses" / "audit.jsonl"
    path.parent.mkdir()
    response = {
        "ok": False,
        "result": None,
        "error": {"type": "Timeout", "message": "verify timed out"},
        "meta": {
            "request_id": "r-1",
            "trace_id": "t-1",
            "duration_ms": 30000,
            "timestamp": "2026-11-20T09:00:00.5Z",
            "command": "verify",
            "version": "2.0",
        },
    }
    path.write_bytes(orjson.dumps(response) + b"\n")
    assert main(["trace", "t-1", str(path), "-o", "json"]) == 0
    (step,) = _json(capsys)["data"]["steps"]
    assert (step["request_id"], step["command"], step["duration_ms"], step["exit_code"]) == (
        "r-1",
        "verify",
        30000.0,
        1,
    )
    assert step["failed"] is True
    assert "exit_code<-ok" in step["derived"]

"""Each headless subcommand end to end through ``main()``: traces, trace, stats, rejects, audit-log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditview.main import main
from tests.cli.conftest import DEPLOY_RECORDS, VERIFY_RECORDS, audit_records, line_of, record

META_KEYS = ["request_id", "trace_id", "duration_ms", "timestamp", "command", "version"]


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = capsys.readouterr().out
    body: dict[str, Any] = json.loads(out)
    return body


def _jsonl(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_traces_json_has_summaries_and_the_callers_trace_id(
    logs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``traces -o json`` is an envelope whose meta carries TOOL_TRACE_ID and data sums up each trace."""
    monkeypatch.setenv("TOOL_TRACE_ID", "test-123")
    assert main(["traces", str(logs), "-o", "json"]) == 0
    body = _json(capsys)
    assert body["ok"] is True
    assert list(body["meta"]) == META_KEYS
    assert body["meta"]["trace_id"] == "test-123"
    assert body["meta"]["command"] == "traces"
    assert body["rejects"] == 1
    assert body["orphans"] == 1
    by_id = {t["trace_id"]: t for t in body["data"]}
    assert set(by_id) == {"trace-a", "trace-b"}
    a = by_id["trace-a"]
    assert (a["steps"], a["failed"], a["slow"], a["span_ms"]) == (5, 1, 1, 16_500.0)
    assert a["slowest_command"] == "apply"
    assert a["slowest_ms"] == 9000.0
    assert set(a["tools"]) == {"deployctl", "verifier"}
    assert a["start"] == "2026-11-20T09:00:00.000000Z"


def test_traces_sort_limit_and_reverse(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--sort span`` puts the longest first, ``--reverse`` flips it, ``--limit`` keeps the first N."""
    main(["traces", str(logs), "-o", "jsonl", "--sort", "span"])
    assert [t["trace_id"] for t in _jsonl(capsys)] == ["trace-a", "trace-b"]
    main(["traces", str(logs), "-o", "jsonl", "--sort", "span", "--reverse"])
    assert [t["trace_id"] for t in _jsonl(capsys)] == ["trace-b", "trace-a"]
    main(["traces", str(logs), "-o", "jsonl", "--sort", "start", "--limit", "1"])
    assert [t["trace_id"] for t in _jsonl(capsys)] == ["trace-b"]


def test_traces_filter_and_slow_threshold(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A filter narrows the records first; ``--slow`` moves the absolute threshold."""
    main(["traces", str(logs), "-o", "jsonl", "--filter", "operator=bob"])
    assert [t["trace_id"] for t in _jsonl(capsys)] == ["trace-b"]
    main(["traces", str(logs), "-o", "jsonl", "--slow", "1s"])
    slow = {t["trace_id"]: t["slow"] for t in _jsonl(capsys)}
    assert slow == {"trace-a": 3, "trace-b": 0}


def test_traces_table_has_a_row_per_trace(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table shows each trace with span, steps, failures and the slowest step, and a footer."""
    assert main(["traces", str(logs), "-o", "table"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:5] == ["trace", "start", "span", "steps", "failed"]
    row = next(line for line in lines if line.startswith("trace-a"))
    assert "16.5s" in row
    assert "apply 9s" in row
    assert "deployctl,verifier" in row
    assert lines[-1] == "2 traces, 1 orphan records"
    assert "\x1b" not in captured.out
    assert "1 malformed line skipped; see 'auditview rejects " in captured.err


def test_no_match_is_success_with_empty_data(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A filter that matches nothing exits 0 with empty data."""
    assert main(["traces", str(logs), "-o", "json", "--filter", "command=nothing-like-this"]) == 0
    assert _json(capsys)["data"] == []


def test_bad_filter_exits_2_with_a_caret(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid filter is a usage error; stderr points at the position with a caret line."""
    assert main(["traces", str(logs), "--filter", "exit_code>>1", "-o", "jsonl"]) == 2
    err = capsys.readouterr().err
    assert "bad filter:" in err
    assert "column" in err
    caret_line = next(line for line in err.splitlines() if line.strip().startswith("^"))
    text_line = next(line for line in err.splitlines() if "exit_code>>1" in line and "error" not in line)
    assert 0 < caret_line.index("^") - text_line.index("exit_code") <= len("exit_code>>1")


def test_bad_filter_in_json_mode_reports_position(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In json mode a bad filter gives ``ok: false`` with the type, message and position."""
    assert main(["stats", str(logs), "--filter", "(command=plan", "-o", "json"]) == 2
    body = _json(capsys)
    assert body["ok"] is False
    assert body["error"]["type"] == "FilterError"
    assert isinstance(body["error"]["position"], int)


def test_strict_makes_rejects_exit_65(
    logs: Path, clean_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--strict`` fails with 65 when a line is malformed, and passes on clean input."""
    assert main(["traces", str(logs), "--strict", "-o", "json"]) == 65
    body = _json(capsys)
    assert body["ok"] is False
    assert body["error"]["type"] == "RejectsPresent"
    assert main(["traces", str(clean_log), "--strict", "-o", "json"]) == 0


def test_trace_json_has_steps_gaps_params_and_critical_path(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``trace ID -o json`` gives the timeline: offsets, nesting, params, failures and the critical path."""
    assert main(["trace", "trace-a", str(logs), "-o", "json"]) == 0
    data = _json(capsys)["data"]
    assert data["trace_id"] == "trace-a"
    assert data["span_ms"] == 16_500.0
    steps = {s["request_id"]: s for s in data["steps"]}
    assert [s["request_id"] for s in data["steps"]] == ["req-01", "req-02", "req-03", "req-04", "req-05"]
    assert steps["req-02"]["start_ms"] == 2000.0
    assert steps["req-02"]["params"]["version"] == "2.4.1"
    assert steps["req-03"]["depth"] == 1
    assert steps["req-03"]["parent_request_id"] == "req-02"
    assert steps["req-04"]["failed"] is True
    assert steps["req-04"]["error"]["type"] == "CheckFailed"
    assert steps["req-02"]["slow_reason"]
    assert data["gaps"][0]["start_ms"] == 1200.0
    assert data["gaps"][0]["end_ms"] == 2000.0
    assert "req-05" in data["critical_path"]


def test_trace_table_is_a_waterfall(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In table mode the trace is drawn as a waterfall with marks and a legend."""
    assert main(["trace", "trace-a", str(logs), "-o", "table"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trace trace-a")
    check = next(line for line in out.splitlines() if "verifier check" in line)
    assert "✗" in check[:3]
    assert "exit 3" in check
    assert "█" in check
    assert "gap (outside any tool)" in out
    assert "critical path" in out.splitlines()[-1]


def test_trace_accepts_a_unique_prefix_and_rejects_unknown_ids(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A unique prefix selects the trace; an unknown id exits 1; an ambiguous prefix exits 2."""
    assert main(["trace", "trace-", str(logs), "-o", "jsonl"]) == 2
    assert "ambiguous: trace-a, trace-b" in capsys.readouterr().err
    assert main(["trace", "trace-", str(logs), "-o", "jsonl", "--filter", "operator=bob"]) == 0
    assert [s["request_id"] for s in _jsonl(capsys)] == ["req-10"]
    assert main(["trace", "nope", str(logs), "-o", "json"]) == 1
    body = _json(capsys)
    assert body["ok"] is False
    assert body["error"]["type"] == "TraceNotFound"


def test_trace_jsonl_is_one_step_per_line(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``trace ID -o jsonl`` prints the steps, one JSON object per line, by start."""
    assert main(["trace", "trace-b", str(logs), "-o", "jsonl"]) == 0
    (step,) = _jsonl(capsys)
    assert step["request_id"] == "req-10"
    assert step["operator"] == "bob"


def test_stats_per_tool_and_command(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``stats`` counts records, errors and error rate per tool and command, with percentiles."""
    assert main(["stats", str(logs), "-o", "json"]) == 0
    rows = {(r["tool"], r["command"]): r for r in _json(capsys)["data"]}
    assert rows[("deployctl", "plan")]["count"] == 2
    assert rows[("deployctl", "plan")]["max_ms"] == 1200.0
    assert rows[("verifier", "check")]["errors"] == 1
    assert rows[("verifier", "check")]["error_rate"] == 1.0
    assert rows[("deployctl", "apply")]["errors"] == 0
    assert main(["stats", str(logs), "-o", "table"]) == 0
    table = capsys.readouterr().out.splitlines()
    check = next(line for line in table if line.startswith("verifier") and "check" in line)
    assert "100.0%" in check
    assert "700ms" in check


def test_rejects_lists_place_reason_and_excerpt(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``rejects`` shows file:line, byte offset, reason and the line's start; ``--strict`` exits 65."""
    assert main(["rejects", str(logs), "-o", "json"]) == 0
    (item,) = _json(capsys)["data"]
    assert item["path"].endswith("verifier/audit.jsonl")
    assert item["line"] == 2
    assert item["offset"] == len(line_of(VERIFY_RECORDS[0])) + 1
    assert item["excerpt"] == "this is not json"
    assert item["reason"]
    assert main(["rejects", str(logs), "-o", "table"]) == 0
    out = capsys.readouterr().out
    assert "verifier/audit.jsonl:2" in out
    assert "this is not json" in out
    assert main(["rejects", str(logs), "--strict", "-o", "jsonl"]) == 65


def test_audit_log_is_byte_exact_oldest_first_over_all_tools(
    logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """``audit-log -o jsonl`` prints the stored lines byte for byte, from every tool, by start time."""
    assert main(["audit-log", str(logs), "-o", "jsonl"]) == 0
    out = capsysbinary.readouterr().out
    valid = DEPLOY_RECORDS + VERIFY_RECORDS
    ordered = sorted(valid, key=lambda r: r["timestamp"])
    expected = b"".join(line_of(r, spaced=r["request_id"] == "req-02") + b"\n" for r in ordered)
    assert out == expected


def test_audit_log_filters_and_last_n(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--trace-id``, ``--command`` and ``-n`` select records like the writer's audit-log does."""
    main(["audit-log", str(logs), "-o", "jsonl", "--trace-id", "trace-a", "--command", "plan"])
    assert [r["request_id"] for r in _jsonl(capsys)] == ["req-01"]
    main(["audit-log", str(logs), "-o", "jsonl", "-n", "2"])
    assert [r["request_id"] for r in _jsonl(capsys)] == ["req-05", "req-20"]
    main(
        ["audit-log", str(logs), "-o", "json", "--since", "2026-11-20T09:00:12Z", "--until", "@1795165213.5"]
    )
    body = _json(capsys)
    assert [r["request_id"] for r in body["data"]] == ["req-04"]
    assert body["data"][0]["error"]["type"] == "CheckFailed"


def test_audit_log_follow_with_json_is_a_usage_error(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--follow`` cannot produce one JSON document, so ``-f -o json`` is refused like the writer does."""
    assert main(["audit-log", str(logs), "-f", "-o", "json"]) == 2


def test_no_path_reads_every_log_under_the_xdg_roots(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no PATH, the logs of all tools under XDG_DATA_HOME and XDG_STATE_HOME are read together."""
    data_log = isolated_env / "data" / "deployctl" / "audit.jsonl"
    state_log = isolated_env / "state" / "verifier" / "audit.jsonl"
    for path, rec in (
        (data_log, record(at_s=1, request_id="req-x1", trace_id="t-x")),
        (state_log, record(at_s=2, tool="verifier", command="check", request_id="req-x2", trace_id="t-x")),
    ):
        path.parent.mkdir(parents=True)
        path.write_bytes(orjson.dumps(rec) + b"\n")
    assert main(["traces", "-o", "jsonl"]) == 0
    (trace,) = [t for t in _jsonl(capsys) if t["trace_id"] == "t-x"]
    assert trace["steps"] == 2
    assert set(trace["tools"]) == {"deployctl", "verifier"}


def test_each_query_is_audited_and_readable_back(
    logs: Path, isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command appends an auditview record whose request_id matches the response meta."""
    main(["stats", str(logs), "-o", "json", "--filter", "exit_code!=0"])
    meta = _json(capsys)["meta"]
    (rec,) = audit_records(isolated_env)
    assert rec["tool"] == "auditview"
    assert rec["command"] == "stats"
    assert rec["exit_code"] == 0
    assert rec["request_id"] == meta["request_id"]
    assert rec["duration_ms"] == meta["duration_ms"]
    assert rec["params"]["filter"] == "exit_code!=0"
    assert rec["params"]["output"] == "json"
    main(["audit-log", "-o", "jsonl", "--command", "stats"])
    assert [r["request_id"] for r in _jsonl(capsys)] == [meta["request_id"]]


def test_auditing_can_be_switched_off(
    logs: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``AUDITVIEW_AUDIT=0`` (the writer's switch) keeps auditview from writing its own record."""
    monkeypatch.setenv("AUDITVIEW_AUDIT", "0")
    assert main(["stats", str(logs), "-o", "json"]) == 0
    assert _json(capsys)["meta"]["command"] == "stats"
    assert audit_records(isolated_env) == []


def test_no_cache_parses_afresh_and_writes_no_cache(
    logs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--no-cache`` gives the same answer as a cached run and leaves the cache directory untouched."""
    cache_home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    assert main(["traces", str(logs), "-o", "jsonl", "--no-cache"]) == 0
    uncached = _jsonl(capsys)
    assert not (cache_home / "auditview").exists()
    assert main(["traces", str(logs), "-o", "jsonl"]) == 0
    first = _jsonl(capsys)
    assert any((cache_home / "auditview").rglob("*")), "a cached run writes the index cache"
    assert main(["traces", str(logs), "-o", "jsonl"]) == 0
    assert _jsonl(capsys) == first == uncached

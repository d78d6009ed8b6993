"""The demo log generator: deterministic, contract-valid, realistic in the ways readers depend on."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditview.contract import ContractError, format_timestamp, parse_line, parse_timestamp
from auditview.demo.generate import (
    DEFAULT_START,
    MALFORMED_KINDS,
    GeneratorConfig,
    GeneratorSummary,
    generate_lines,
    generate_records,
    invocation_record,
    main,
    write_log,
    write_log_dir,
)


def _records(n: int, seed: int = 0, **kwargs: Any) -> list[dict[str, Any]]:
    return [parse_line(line) for line in generate_records(n, seed, **kwargs)]


def _start_us(record: dict[str, Any]) -> int:
    moment = parse_timestamp(record["timestamp"])
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _end_us(record: dict[str, Any]) -> int:
    duration_us: int = round(record["duration_ms"] * 1000)
    return _start_us(record) + duration_us


def _by_trace(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        traces[record["trace_id"]].append(record)
    return traces


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    """Three thousand records from seed 7, parsed."""
    return _records(3000, seed=7)


def test_same_seed_gives_identical_bytes() -> None:
    """Two runs with the same seed produce byte-identical output; another seed produces other output."""
    first = b"".join(generate_records(1500, seed=11))
    assert first == b"".join(generate_records(1500, seed=11))
    assert first != b"".join(generate_records(1500, seed=12))


def test_every_line_is_a_contract_record_and_count_is_exact(records: list[dict[str, Any]]) -> None:
    """Without malformed lines every line passes ``parse_line``; exactly the requested number is written."""
    assert len(records) == 3000
    assert all(record["schema_version"] == 1 for record in records)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=0, max_value=70), seed=st.integers(min_value=0, max_value=2**32))
def test_any_size_gives_exactly_n_records_in_traces_of_3_to_20(n: int, seed: int) -> None:
    """For any small N exactly N records are written and (for N >= 3) every trace has 3 to 20 steps."""
    records = _records(n, seed)
    assert len(records) == n
    if n >= 3:
        assert all(3 <= len(steps) <= 20 for steps in _by_trace(records).values())


def test_traces_have_3_to_20_steps_and_span_several_tools(records: list[dict[str, Any]]) -> None:
    """Every trace has 3 to 20 steps and most traces involve at least three tools."""
    traces = _by_trace(records)
    sizes = [len(steps) for steps in traces.values()]
    assert min(sizes) >= 3
    assert max(sizes) <= 20
    multi_tool = sum(1 for steps in traces.values() if len({r["tool"] for r in steps}) >= 3)
    assert multi_tool > len(traces) / 2


def test_parents_are_in_the_same_trace_and_enclose_their_children(records: list[dict[str, Any]]) -> None:
    """Each parent_request_id names a record of the same trace whose run encloses the child's run."""
    by_id = {record["request_id"]: record for record in records}
    children = [record for record in records if record.get("parent_request_id")]
    assert len(children) > len(records) / 5
    for child in children:
        parent = by_id[child["parent_request_id"]]
        assert parent["trace_id"] == child["trace_id"]
        assert _start_us(parent) <= _start_us(child)
        assert _end_us(child) <= _end_us(parent)


def test_lines_are_in_completion_order_not_start_order(records: list[dict[str, Any]]) -> None:
    """Each record's end (timestamp + duration) is non-decreasing in line order; starts are not sorted."""
    ends = [_end_us(record) for record in records]
    assert ends == sorted(ends)
    starts = [_start_us(record) for record in records]
    assert starts != sorted(starts)


def test_request_ids_are_unique_and_time_ordered(records: list[dict[str, Any]]) -> None:
    """Request ids are unique, ``req-`` + a UUIDv7 whose millisecond prefix is the record's start."""
    ids = [record["request_id"] for record in records]
    assert len(set(ids)) == len(ids)
    for record in records:
        digits = record["request_id"].removeprefix("req-").replace("-", "")
        assert len(digits) == 32
        assert digits[12] == "7"
        assert int(digits[:12], 16) == _start_us(record) // 1000


def test_timestamps_are_formatted_exactly_like_the_contract(records: list[dict[str, Any]]) -> None:
    """Every timestamp is what ``contract.format_timestamp`` would write for that instant."""
    for record in records:
        assert format_timestamp(parse_timestamp(record["timestamp"])) == record["timestamp"]


def test_default_start_and_explicit_start() -> None:
    """Time starts at the fixed default start, or at ``start`` when given, never before it."""
    default = _records(50)
    assert min(_start_us(r) for r in default) >= _start_us({"timestamp": format_timestamp(DEFAULT_START)})
    start = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    later = _records(50, start=start)
    first = min(parse_timestamp(r["timestamp"]) for r in later)
    assert start <= first < start + timedelta(minutes=5)


def test_end_places_the_last_completion_exactly_at_end() -> None:
    """With ``end`` the last record completes exactly at ``end`` and the records are otherwise unchanged."""
    end = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)
    shifted = _records(400, seed=5, end=end)
    end_us = int(end.timestamp()) * 1_000_000 + end.microsecond
    assert max(_end_us(r) for r in shifted) == end_us
    assert _end_us(shifted[-1]) == end_us
    plain = _records(400, seed=5)
    assert [(r["trace_id"], r["command"], r["duration_ms"]) for r in shifted] == [
        (r["trace_id"], r["command"], r["duration_ms"]) for r in plain
    ]


def test_failures_carry_error_and_are_often_rolled_back(records: list[dict[str, Any]]) -> None:
    """A few percent of records fail (exit_code != 0, ok false, an error); failed traces often roll back."""
    failed = [r for r in records if r["exit_code"] != 0]
    assert 0.01 < len(failed) / len(records) < 0.1
    for record in failed:
        assert record["ok"] is False
        assert set(record["error"]) == {"type", "message"}
        assert record["error"]["type"]
        assert record["error"]["message"]
    assert all(r["ok"] is True and "error" not in r for r in records if r["exit_code"] == 0)
    traces = _by_trace(records)
    failed_traces = {r["trace_id"] for r in failed}
    rolled_back = [t for t in failed_traces if any(r["command"] == "rollback" for r in traces[t])]
    assert len(rolled_back) > len(failed_traces) / 2


def test_durations_are_skewed_with_rare_slow_outliers(records: list[dict[str, Any]]) -> None:
    """Durations are log-normal-like: the median is under a second, and a small share is over 10 seconds."""
    durations = sorted(r["duration_ms"] for r in records)
    assert durations[len(durations) // 2] < 1000
    slow = sum(1 for d in durations if d > 10_000)
    assert 0 < slow < len(durations) * 0.05


def test_actors_hosts_and_trace_id_forms_are_varied(records: list[dict[str, Any]]) -> None:
    """Agents, humans and CI run the traces on several hosts, with caller-supplied and generated trace ids."""
    operators = {r["operator"] for r in records}
    assert any(op.startswith("agent-session-") for op in operators)
    assert {"ci"} <= operators
    assert operators & {"alice", "bob", "carol"}
    assert len({r["host"] for r in records}) >= 4
    trace_ids = {r["trace_id"] for r in records}
    assert any(t.startswith("agent-session-") and "-step-" in t for t in trace_ids)
    assert any(len(t) == 32 and all(c in "0123456789abcdef" for c in t) for t in trace_ids)
    assert len({r["tool"] for r in records}) == 5


def test_secrets_in_params_are_already_redacted(records: list[dict[str, Any]]) -> None:
    """Params that carry a URL with a password or a token hold ``[REDACTED]``, as the writer would write."""
    dsns = [r["params"]["dsn"] for r in records if "dsn" in r["params"]]
    assert dsns
    assert all(":[REDACTED]@" in dsn for dsn in dsns)
    tokens = [r["params"]["api_token"] for r in records if "api_token" in r["params"]]
    assert tokens
    assert set(tokens) == {"[REDACTED]"}


def test_some_records_carry_unknown_fields(records: list[dict[str, Any]]) -> None:
    """A small share of records has top-level fields outside the contract."""
    known = {
        "timestamp", "tool", "command", "params", "exit_code", "duration_ms", "request_id", "trace_id",
        "version", "operator", "ok", "error", "parent_request_id", "host", "pid", "schema_version",
    }  # fmt: skip
    extra = [r for r in records if set(r) - known]
    assert 0 < len(extra) < len(records) * 0.1


def test_malformed_lines_are_rejected_at_the_requested_rate() -> None:
    """Malformed lines make up about the requested fraction, are all rejected, and cover every kind."""
    config = GeneratorConfig(records=3000, seed=3, malformed_rate=0.1)
    summary = GeneratorSummary()
    lines = [line for _, line in generate_lines(config, summary)]
    clean = list(generate_records(3000, seed=3))
    clean_set = set(clean)
    malformed = [line for line in lines if line not in clean_set]
    assert [line for line in lines if line in clean_set] == clean
    assert len(malformed) == summary.malformed
    assert abs(len(malformed) / len(lines) - 0.1) < 0.03
    for line in malformed:
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        with pytest.raises(ContractError):
            parse_line(line)
    assert set(summary.malformed_kinds) == set(MALFORMED_KINDS)


def test_malformed_lines_can_be_confined_to_some_tools() -> None:
    """With ``malformed_tools`` only those tools' lines are preceded by malformed lines."""
    config = GeneratorConfig(records=800, seed=4, malformed_rate=0.2, malformed_tools=frozenset({"dbctl"}))
    clean = set(generate_records(800, seed=4))
    tools_of_bad = {tool for tool, line in generate_lines(config) if line not in clean}
    assert tools_of_bad == {"dbctl"}


def test_write_log_dir_rotates_and_compresses_deterministically(tmp_path: Path) -> None:
    """Logs rotate into ``.1`` and gzip ``.N.gz`` (mtime 0) that, oldest first, hold that tool's lines."""
    config = GeneratorConfig(records=1200, seed=9)
    summary = write_log_dir(tmp_path, config, rotate_bytes=60_000)
    expected: dict[str, list[bytes]] = defaultdict(list)
    for tool, line in generate_lines(config):
        expected[tool].append(line)
    for tool, lines in expected.items():
        live = tmp_path / tool / "audit.jsonl"
        siblings = sorted(live.parent.glob("audit.jsonl.*"), key=lambda p: -int(p.name.split(".")[2]))
        assert (live.parent / "audit.jsonl.1").exists() == (sum(map(len, lines)) > 60_000)
        data = b""
        for path in [*siblings, live]:
            raw = path.read_bytes()
            if path.suffix == ".gz":
                assert raw[4:8] == b"\0\0\0\0"  # gzip header mtime
                raw = gzip.decompress(raw)
            assert len(raw) <= 60_000
            data += raw
        assert data == b"".join(lines)
    assert (tmp_path / "deployctl" / "audit.jsonl.2.gz").exists()
    assert summary.records == 1200


def test_write_log_dir_appends_then_records_after_the_workload(tmp_path: Path) -> None:
    """``then`` records go, serialized like the workload's, after the workload's lines of their tool, and
    count in the summary (records, failed, traces)."""
    config = GeneratorConfig(records=200, seed=5)
    workload = write_log_dir(tmp_path / "plain", config)
    scripted = [
        invocation_record(
            timestamp="2026-11-21T00:00:00.000000Z",
            tool=tool,
            command="deploy",
            params={"env": "prod"},
            request_id=f"req-{n}",
            trace_id="scripted-1",
            parent_request_id=None,
            version="1.0.0",
            duration_ms=12.5,
            error=("LockHeld", "held", 75) if n == 0 else None,
            operator="tester",
            host="h",
            pid=1,
        )
        for n, tool in enumerate(("deployctl", "newtool"))
    ]
    summary = write_log_dir(tmp_path / "both", config, then=scripted)
    plain = (tmp_path / "plain" / "deployctl" / "audit.jsonl").read_bytes()
    both = (tmp_path / "both" / "deployctl" / "audit.jsonl").read_bytes()
    assert both == plain + json.dumps(scripted[0], separators=(",", ":")).encode() + b"\n"
    assert parse_line((tmp_path / "both" / "newtool" / "audit.jsonl").read_bytes())["request_id"] == "req-1"
    assert (summary.records, summary.failed, summary.traces) == (
        workload.records + 2,
        workload.failed + 1,
        workload.traces + 1,
    )


def test_keep_bounds_the_rotated_files(tmp_path: Path) -> None:
    """With ``keep`` a tool keeps at most that many rotated siblings, like a writer's rotation."""
    write_log_dir(tmp_path, GeneratorConfig(records=1500, seed=2), rotate_bytes=20_000, keep=2)
    siblings = sorted(p.name for p in (tmp_path / "deployctl").glob("audit.jsonl.*"))
    assert siblings == ["audit.jsonl.1", "audit.jsonl.2.gz"]


def test_cli_writes_the_same_bytes_as_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``main`` with --records/--seed/--out writes what ``generate_records`` yields and one summary line."""
    out = tmp_path / "log.jsonl"
    assert main(["--records", "700", "--seed", "21", "--out", str(out), "--malformed-rate", "0.02"]) == 0
    assert out.read_bytes() == b"".join(generate_records(700, 21, malformed_rate=0.02))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "700 records" in captured.err


def test_cli_out_dir_and_start(tmp_path: Path) -> None:
    """--out-dir writes one log per tool and --start places the first trace."""
    assert (
        main(["-q", "--records", "300", "--out-dir", str(tmp_path), "--start", "2027-01-01T00:00:00Z"]) == 0
    )
    logs = sorted(p.parent.name for p in tmp_path.glob("*/audit.jsonl"))
    assert logs == ["dbctl", "deployctl", "featureflags", "rollbackctl", "verifyctl"]
    first = min(
        parse_line(line)["timestamp"] for p in tmp_path.glob("*/audit.jsonl") for line in p.open("rb")
    )
    assert first.startswith("2027-01-01T00:0")


def test_cli_end_now_ends_close_to_the_wall_clock(tmp_path: Path) -> None:
    """``--end now`` makes the last record complete at the current time (for ``--since 1h`` demos)."""
    out = tmp_path / "now.jsonl"
    before = datetime.now(UTC)
    assert main(["-q", "--records", "200", "--out", str(out), "--end", "now"]) == 0
    last = parse_line(out.read_bytes().splitlines()[-1])
    end = parse_timestamp(last["timestamp"]) + timedelta(milliseconds=last["duration_ms"])
    assert before - timedelta(seconds=1) <= end <= datetime.now(UTC)


@pytest.mark.parametrize(
    "argv",
    [
        ["--records", "10"],
        ["--records", "10", "--out", "x", "--malformed-rate", "1.5"],
        ["--records", "10", "--out", "x", "--start", "not a time"],
        ["--records", "10", "--out", "x", "--start", "2026-01-01T00:00:00Z", "--end", "now"],
        ["--records", "10", "--out", "x", "--agents", "-1"],
        ["--records", "-5", "--out", "x"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing target, a bad rate, time or count, or both --start and --end are usage errors."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert not (tmp_path / "x").exists()


def test_write_log_summary_counts_what_it_wrote(tmp_path: Path) -> None:
    """The summary's records, malformed lines and bytes match the file."""
    out = tmp_path / "a" / "log.jsonl"
    summary = write_log(out, GeneratorConfig(records=500, seed=1, malformed_rate=0.05))
    data = out.read_bytes()
    assert summary.bytes == len(data)
    assert summary.records + summary.malformed == data.count(b"\n")
    assert summary.paths == [out]


def test_generator_imports_no_polars_pendulum_or_ui() -> None:
    """Importing the generator loads neither polars, pendulum nor a UI library."""
    code = "import sys, json, auditview.demo.generate; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout)
    assert not {name.split(".")[0] for name in loaded} & {"polars", "pendulum", "textual", "rich", "click"}

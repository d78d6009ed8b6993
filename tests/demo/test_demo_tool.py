"""The demo tool end to end as subprocesses: acceptance check, child traces, failures, agent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditview.contract import META_FIELDS, parse_line


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    """Environment for demo runs: log under tmp_path, no sleeping, no inherited trace variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"TOOL_TRACE_ID", "TOOL_PARENT_REQUEST_ID", "TRACEPARENT", "DEMO_TRACE_ID", "DEMO_AUDIT"}
    }
    env.update(
        {
            "DEMO_AUDIT_LOG": str(tmp_path / "demo" / "audit.jsonl"),
            "XDG_DATA_HOME": str(tmp_path),
            "DEMO_SPEED": "0",
        }
    )
    return env


def _demo(
    env: dict[str, str], *argv: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "auditview.demo", *argv],
        env={**env, **(extra_env or {})},
        capture_output=True,
        timeout=60,
        check=False,
    )


def _log_lines(env: dict[str, str]) -> list[bytes]:
    return Path(env["DEMO_AUDIT_LOG"]).read_bytes().splitlines()


def _records(env: dict[str, str]) -> list[dict[str, Any]]:
    return [parse_line(line) for line in _log_lines(env)]


def test_acceptance_trace_id_meta_record_and_audit_log(demo_env: dict[str, str]) -> None:
    """TOOL_TRACE_ID=test-123 gives meta.trace_id test-123, a logged record, and audit-log prints it."""
    done = _demo(
        demo_env, "deploy", "--env", "staging", "-o", "json", extra_env={"TOOL_TRACE_ID": "test-123"}
    )
    assert done.returncode == 0, done.stderr
    response = orjson.loads(done.stdout)
    meta = response["meta"]
    assert response["ok"] is True
    assert meta["trace_id"] == "test-123"
    assert set(META_FIELDS) <= set(meta)
    assert (meta["command"], meta["version"]) == ("deploy", "0.1.0")
    (line,) = [x for x in _log_lines(demo_env) if parse_line(x)["request_id"] == meta["request_id"]]
    record = parse_line(line)
    assert {name: record[name] for name in META_FIELDS} == meta
    assert record["params"]["env"] == "staging"
    listed = _demo(demo_env, "audit-log", "--since", "1h", "-o", "jsonl")
    assert listed.returncode == 0
    assert line + b"\n" in listed.stdout
    assert listed.stdout == b"".join(x + b"\n" for x in _log_lines(demo_env))


def test_deploy_verify_runs_a_child_in_the_same_trace(demo_env: dict[str, str]) -> None:
    """deploy --verify runs verify as a child that records the parent's trace and request ids."""
    done = _demo(demo_env, "deploy", "--env", "prod", "--verify", "--seed", "7", "-o", "json")
    assert done.returncode == 0, done.stderr
    response = orjson.loads(done.stdout)
    records = {r["command"]: r for r in _records(demo_env)}
    parent, child = records["deploy"], records["verify"]
    assert parent["pid"] != child["pid"]
    assert child["trace_id"] == parent["trace_id"] == response["meta"]["trace_id"]
    assert child["parent_request_id"] == parent["request_id"]
    assert "parent_request_id" not in parent
    assert response["verify"]["meta"]["request_id"] == child["request_id"]


def test_trace_id_option_wins_over_environment(demo_env: dict[str, str]) -> None:
    """--trace-id beats DEMO_TRACE_ID which beats TOOL_TRACE_ID."""
    both = {"TOOL_TRACE_ID": "generic", "DEMO_TRACE_ID": "specific"}
    assert (
        orjson.loads(_demo(demo_env, "status", "-o", "json", extra_env=both).stdout)["meta"]["trace_id"]
        == "specific"
    )
    done = _demo(demo_env, "status", "-o", "json", "--trace-id", "opt-1", extra_env=both)
    assert orjson.loads(done.stdout)["meta"]["trace_id"] == "opt-1"


def test_failure_sets_exit_code_ok_and_error(demo_env: dict[str, str]) -> None:
    """With --fail-rate 1 a command exits 1; response and record carry ok=false and the error."""
    done = _demo(demo_env, "verify", "--fail-rate", "1", "--seed", "1", "-o", "json")
    assert done.returncode == 1
    response = orjson.loads(done.stdout)
    (record,) = _records(demo_env)
    assert response["ok"] is False
    assert record["exit_code"] == 1
    assert record["ok"] is False
    assert record["error"] == response["error"]
    assert record["error"]["type"] == "StepFailed"


def test_seeded_runs_are_reproducible(demo_env: dict[str, str]) -> None:
    """The same --seed gives the same release and simulated step durations."""
    first = orjson.loads(_demo(demo_env, "deploy", "--env", "dev", "--seed", "42", "-o", "json").stdout)
    second = orjson.loads(_demo(demo_env, "deploy", "--env", "dev", "--seed", "42", "-o", "json").stdout)
    assert (first["version"], first["steps"]) == (second["version"], second["steps"])
    assert first["meta"]["request_id"] != second["meta"]["request_id"]


def test_text_output_is_readable(demo_env: dict[str, str]) -> None:
    """Without -o json the tool prints a sentence with the outcome, request id and trace id."""
    done = _demo(demo_env, "rollback", "--env", "prod", "--to", "1.2.3")
    text = done.stdout.decode()
    (record,) = _records(demo_env)
    assert text.startswith("rollback checkout in prod to 1.2.3: ok in ")
    assert record["request_id"] in text


def test_agent_runs_one_trace_per_sequence(demo_env: dict[str, str]) -> None:
    """agent: each sequence is one trace of child processes: deploy, verify, rollback on failure."""
    done = _demo(
        demo_env,
        "agent",
        "--sequences",
        "3",
        "--pace",
        "0",
        "--seed",
        "11",
        "--fail-rate",
        "0.5",
        "-o",
        "json",
    )
    assert done.returncode == 0, done.stderr
    sequences = orjson.loads(done.stdout)["sequences"]
    records = _records(demo_env)
    assert len(sequences) == 3
    assert len({s["trace_id"] for s in sequences}) == 3
    for sequence in sequences:
        steps = [r for r in records if r["trace_id"] == sequence["trace_id"]]
        commands = [r["command"] for r in steps]
        assert commands[0] == "deploy"
        failed = any(r["exit_code"] != 0 for r in steps if r["command"] != "rollback")
        assert (commands[-1] == "rollback") is failed
        assert all("parent_request_id" not in r for r in steps)
        assert [s["request_id"] for s in sequence["steps"]] == [r["request_id"] for r in steps]
        assert sequence["trace_id"].startswith("agent-session-")
        assert {r["operator"] for r in steps} == {sequence["trace_id"].split("-seq-")[0]}


def test_bad_since_exits_2(demo_env: dict[str, str]) -> None:
    """demo audit-log --since with a bad WHEN exits 2 and explains the accepted forms."""
    done = _demo(demo_env, "audit-log", "--since", "last tuesday")
    assert done.returncode == 2
    assert b"epoch seconds" in done.stderr


def test_generate_dispatches_to_the_generator_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """`demo generate ARGS` calls auditview.demo.generate.main(ARGS) and returns its exit code."""
    import types

    from auditview.demo import tool

    seen: list[list[str]] = []
    fake = types.ModuleType("auditview.demo.generate")

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "auditview.demo.generate", fake)
    assert tool.main(["generate", "--records", "10"]) == 7
    assert seen == [["--records", "10"]]

"""Propagation: the command inherits this run's trace and request id, so wrapped tools nest in one trace."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import orjson

from auditview.contract import check_record
from auditview.writer.trace import traceparent_for
from tests.wrap.conftest import PRINT_ENV, only_record, records, wrapped


def test_trace_id_is_inherited_verbatim(log: Path) -> None:
    """TOOL_TRACE_ID is kept as is (not a hex id here) and handed on; the child's parent is this run."""
    result = wrapped(["--log", str(log)], PRINT_ENV, env={"TOOL_TRACE_ID": "test-123"})
    assert result.returncode == 0, result.stderr
    seen = orjson.loads(result.stdout)
    record = only_record(log)
    assert record["trace_id"] == "test-123"
    assert seen["TOOL_TRACE_ID"] == "test-123"
    assert seen["TOOL_PARENT_REQUEST_ID"] == record["request_id"]
    assert seen["TRACEPARENT"] == traceparent_for("test-123", record["request_id"])
    assert seen["AUDITVIEW_RUN_DEPTH"] == "1"


def test_trace_id_is_generated_and_shown_with_verbose(log: Path) -> None:
    """With nothing to inherit a new 32-hex trace id is made, given to the child and printed with -v."""
    result = wrapped(["--log", str(log), "-v"], PRINT_ENV)
    seen = orjson.loads(result.stdout)
    record = only_record(log)
    assert re.fullmatch(r"[0-9a-f]{32}", record["trace_id"])
    assert seen["TOOL_TRACE_ID"] == record["trace_id"]
    assert seen["TOOL_PARENT_REQUEST_ID"] == record["request_id"]
    assert f"trace_id={record['trace_id']} (new) request_id={record['request_id']} log={log}" in result.stderr
    inherited = wrapped(["--log", str(log), "-v"], ["true"], env={"TOOL_TRACE_ID": "abc"})
    assert "trace_id=abc (inherited)" in inherited.stderr


def test_trace_id_option_and_traceparent(log: Path) -> None:
    """--trace-id wins; otherwise a W3C TRACEPARENT's trace id is used (the writer's resolution order)."""
    wrapped(["--log", str(log), "--trace-id", "from-option"], ["true"], env={"TOOL_TRACE_ID": "env"})
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    wrapped(["--log", str(log)], ["true"], env={"TRACEPARENT": parent})
    first, second = records(log)
    assert first["trace_id"] == "from-option"
    assert second["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


def test_parent_request_id_is_inherited(log: Path) -> None:
    """A wrapped command started by an instrumented tool records that tool's request as its parent."""
    wrapped(["--log", str(log)], ["true"], env={"TOOL_TRACE_ID": "t", "TOOL_PARENT_REQUEST_ID": "req-parent"})
    record = only_record(log)
    assert record["parent_request_id"] == "req-parent"
    assert record["trace_id"] == "t"


def test_wrapped_demo_nests_in_one_trace(log: Path, tmp_path: Path) -> None:
    """Wrapping ``python -m auditview.demo deploy``: the demo's record is a child of the wrapper's record."""
    demo_log = tmp_path / "demo.jsonl"
    result = wrapped(
        ["--log", str(log), "--tool", "agent-step"],
        [sys.executable, "-m", "auditview.demo", "deploy", "--env", "dev", "-o", "json"],
        env={"DEMO_AUDIT_LOG": str(demo_log), "DEMO_SPEED": "0", "TOOL_TRACE_ID": "agent-session-1"},
    )
    assert result.returncode == 0, result.stderr
    step = only_record(log)
    demo = only_record(demo_log)
    check_record(step)
    check_record(demo)
    assert (step["tool"], step["command"]) == ("agent-step", "auditview.demo")
    assert (demo["tool"], demo["command"]) == ("demo", "deploy")
    assert demo["parent_request_id"] == step["request_id"]
    assert demo["trace_id"] == step["trace_id"] == "agent-session-1"
    assert orjson.loads(result.stdout)["meta"]["request_id"] == demo["request_id"]


def test_nested_wrappers_nest(log: Path) -> None:
    """``auditview run`` inside ``auditview run``: one trace, the inner run's parent is the outer run."""
    result = wrapped(
        ["--log", str(log), "--tool", "outer"],
        [sys.executable, "-m", "auditview", "run", "--log", str(log), "--tool", "inner", "--", *PRINT_ENV],
    )
    seen = orjson.loads(result.stdout)
    by_tool = {record["tool"]: record for record in records(log)}
    assert by_tool["inner"]["parent_request_id"] == by_tool["outer"]["request_id"]
    assert by_tool["inner"]["trace_id"] == by_tool["outer"]["trace_id"] == seen["TOOL_TRACE_ID"]
    assert seen["TOOL_PARENT_REQUEST_ID"] == by_tool["inner"]["request_id"]
    assert seen["AUDITVIEW_RUN_DEPTH"] == "2"

"""The invocation: meta, timing, exit codes, context variables, propagation to children, ids."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditview.contract import META_FIELDS, check_record, parse_timestamp
from auditview.writer import Auditor, current_invocation, current_request_id, current_trace_id, new_request_id

from .conftest import read_records

_UUID7 = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_meta_matches_the_record(auditor: Auditor, log_path: Path) -> None:
    """meta() has the contract's fields in order, and the record carries the very same values."""
    with auditor.invocation("deploy", {"env": "prod"}) as inv:
        meta = inv.meta()
    assert tuple(meta) == META_FIELDS
    (record,) = read_records(log_path)
    check_record(record)
    assert {name: record[name] for name in META_FIELDS} == meta
    assert record["params"] == {"env": "prod"}
    assert (record["tool"], record["version"], record["exit_code"], record["ok"]) == (
        "wtest",
        "9.9.9",
        0,
        True,
    )
    assert (record["pid"], record["schema_version"]) == (os.getpid(), 1)


def test_timestamp_is_the_start_and_duration_is_monotonic(auditor: Auditor, log_path: Path) -> None:
    """timestamp is when the invocation started (µs, Z) and duration_ms covers the body."""
    import time

    before = time.time()
    with auditor.invocation("slow"):
        time.sleep(0.05)
    (record,) = read_records(log_path)
    assert record["timestamp"].endswith("Z")
    assert len(record["timestamp"]) == len("2026-01-01T00:00:00.000000Z")
    assert abs(parse_timestamp(record["timestamp"]).timestamp() - before) < 0.04
    assert 50 <= record["duration_ms"] < 1000


@pytest.mark.parametrize(
    ("raise_", "expected_code", "error_type"),
    [
        (SystemExit(0), 0, None),
        (SystemExit(None), 0, None),
        (SystemExit(4), 4, None),
        (SystemExit("fatal: no config"), 1, "SystemExit"),
        (KeyboardInterrupt(), 130, "KeyboardInterrupt"),
        (ValueError("bad https://u:hunter2@db/x"), 1, "ValueError"),
    ],
)
def test_exit_code_from_how_the_body_ended(
    auditor: Auditor, log_path: Path, raise_: BaseException, expected_code: int, error_type: str | None
) -> None:
    """SystemExit keeps its code, Ctrl-C is 130, other exceptions are 1 with error {type, message}."""
    with pytest.raises(type(raise_)), auditor.invocation("x"):
        raise raise_
    (record,) = read_records(log_path)
    assert record["exit_code"] == expected_code
    assert record["ok"] is (expected_code == 0)
    assert (record.get("error") or {}).get("type") == error_type
    assert "hunter2" not in log_path.read_text()


def test_explicit_exit_code_and_fail(auditor: Auditor, log_path: Path) -> None:
    """inv.exit_code and inv.fail() are recorded without raising."""
    with auditor.invocation("a") as inv:
        inv.exit_code = 2
    with auditor.invocation("b") as inv:
        inv.fail("verification failed", error_type="VerifyFailed")
    first, second = read_records(log_path)
    assert (first["exit_code"], first["ok"], "error" in first) == (2, False, False)
    assert (second["exit_code"], second["error"]) == (
        1,
        {"type": "VerifyFailed", "message": "verification failed"},
    )


def test_meta_freezes_duration(auditor: Auditor, log_path: Path) -> None:
    """Work after meta() does not change the recorded duration_ms."""
    import time

    with auditor.invocation("x") as inv:
        meta = inv.meta()
        time.sleep(0.03)
    assert read_records(log_path)[0]["duration_ms"] == meta["duration_ms"]


def test_context_variables_are_bound_and_restored(auditor: Auditor) -> None:
    """Inside, current_*() give the ids; a nested invocation joins the trace; afterwards all is None."""
    assert current_invocation() is None
    with auditor.invocation("outer") as outer:
        assert (current_request_id(), current_trace_id()) == (outer.request_id, outer.trace_id)
        with auditor.invocation("inner") as inner:
            assert current_invocation() is inner
            assert inner.trace_id == outer.trace_id
            assert inner.parent_request_id == outer.request_id
        assert current_invocation() is outer
    assert current_invocation() is None


def test_environment_is_propagated_and_restored(auditor: Auditor, log_path: Path) -> None:
    """A child sees the trace id, the parent request id and a TRACEPARENT; the env is restored after."""
    os.environ["TRACEPARENT"] = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    before = dict(os.environ)
    with auditor.invocation("parent") as inv:
        names = "'TOOL_TRACE_ID', 'TOOL_PARENT_REQUEST_ID', 'TRACEPARENT'"
        code = f"import os; print(*(os.environ[n] for n in ({names})))"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    assert dict(os.environ) == before
    assert inv.trace_id == "ab" * 16  # taken from the incoming TRACEPARENT
    assert out[0] == inv.trace_id
    assert out[1] == inv.request_id
    assert out[2].startswith(f"00-{inv.trace_id}-")
    assert out[2].endswith("-01")
    assert out[2].split("-")[2] != "cd" * 8  # the parent span is now this request


def test_request_ids_are_time_ordered_uuid7(auditor: Auditor) -> None:
    """Request ids look like req-<UUIDv7> and sort in creation order within a process."""
    ids = [new_request_id() for _ in range(5000)]
    assert all(_UUID7.match(value) for value in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_operator_from_env_or_os_user(
    auditor: Auditor, log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """operator is TOOL_OPERATOR when set, else the OS user name."""
    with auditor.invocation("a"):
        pass
    monkeypatch.setenv("TOOL_OPERATOR", "agent:claude")
    with auditor.invocation("b"):
        pass
    first, second = read_records(log_path)
    assert first["operator"]
    assert first["operator"] != "agent:claude"
    assert second["operator"] == "agent:claude"


def test_decorator_records_keyword_params_and_int_result(auditor: Auditor, log_path: Path) -> None:
    """@auditor.audited() uses keyword arguments as params and an int return value as exit code."""

    @auditor.audited()
    def sync_repo(*, branch: str, trace_id: str | None = None) -> int:
        return 3

    assert sync_repo(branch="main", trace_id="t-1") == 3
    (record,) = read_records(log_path)
    assert (record["command"], record["params"], record["exit_code"], record["trace_id"]) == (
        "sync-repo",
        {"branch": "main"},
        3,
        "t-1",
    )


def test_record_false_writes_nothing(auditor: Auditor, log_path: Path) -> None:
    """invocation(record=False) still gives meta but appends no record."""
    with auditor.invocation("read-only", record=False) as inv:
        assert inv.meta()["command"] == "read-only"
    assert not log_path.exists()


@pytest.mark.parametrize(
    ("inherited", "expected"), [("req-abc", "req-abc"), ("bad\nid", None), ("x" * 300, None)]
)
def test_parent_request_id_from_environment(
    auditor: Auditor, log_path: Path, monkeypatch: pytest.MonkeyPatch, inherited: str, expected: str | None
) -> None:
    """TOOL_PARENT_REQUEST_ID becomes parent_request_id unless it has control characters or is too long."""
    monkeypatch.setenv("TOOL_PARENT_REQUEST_ID", inherited)
    with auditor.invocation("child"):
        pass
    assert read_records(log_path)[0].get("parent_request_id") == expected

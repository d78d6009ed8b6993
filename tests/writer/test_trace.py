"""trace_id resolution order, verbatim values, rejected values, W3C traceparent handling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditview.writer import Auditor
from auditview.writer.trace import parse_traceparent, resolve_trace_id, traceparent_for

from .conftest import read_records

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_resolution_order() -> None:
    """--trace-id beats <TOOL>_TRACE_ID beats TOOL_TRACE_ID beats TRACEPARENT beats a generated id."""
    env = {"MY_TOOL_TRACE_ID": "tool-specific", "TOOL_TRACE_ID": "generic", "TRACEPARENT": _TP}
    assert resolve_trace_id("my-tool", "opt", env).trace_id == "opt"
    assert resolve_trace_id("my-tool", None, env).trace_id == "tool-specific"
    del env["MY_TOOL_TRACE_ID"]
    assert resolve_trace_id("my-tool", None, env).trace_id == "generic"
    del env["TOOL_TRACE_ID"]
    assert resolve_trace_id("my-tool", None, env).trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    del env["TRACEPARENT"]
    generated = resolve_trace_id("my-tool", None, env)
    assert generated.source == "generated"
    assert _HEX32.match(generated.trace_id)


@pytest.mark.parametrize("value", ["test-123", "Trace With Spaces", "ünïcode-✓", "x" * 256])
def test_supplied_value_is_kept_verbatim(value: str) -> None:
    """Any value without control characters and at most 256 characters is used exactly as given."""
    assert resolve_trace_id("t", None, {"TOOL_TRACE_ID": value}).trace_id == value


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\x1b[31mred", "tab\there", "x" * 257, "c1\x85"])
def test_unusable_value_generates_and_warns_once(
    value: str, log_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trace id with control characters or over 256 characters is replaced (generated), warned once."""
    from auditview.writer import auditor as auditor_module

    monkeypatch.setattr(auditor_module, "_warned_trace_sources", set())
    monkeypatch.setenv("TOOL_TRACE_ID", value)
    auditor = Auditor("wtest", "1", log_path=log_path)
    for _ in range(2):
        with auditor.invocation("x"):
            pass
    records = read_records(log_path)
    assert all(_HEX32.match(r["trace_id"]) for r in records)
    assert len(log_path.read_bytes().splitlines()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "TOOL_TRACE_ID" in err
    assert "\x1b" not in err
    assert "\r" not in err


@pytest.mark.parametrize(
    "header",
    [
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "garbage",
    ],
)
def test_invalid_traceparent_is_ignored(header: str) -> None:
    """Invalid W3C traceparent values (bad version, zero ids, upper case, extra fields in v00) are ignored."""
    assert parse_traceparent(header) is None


def test_traceparent_is_consistent_for_any_trace_id() -> None:
    """A hex trace id is kept; any other is mapped by a stable hash; the span comes from the request."""
    assert traceparent_for("ab" * 16, "req-x").split("-")[1] == "ab" * 16
    first = traceparent_for("test-123", "req-1")
    assert parse_traceparent(first) is not None
    assert first.split("-")[1] == traceparent_for("test-123", "req-2").split("-")[1]
    assert first.split("-")[2] != traceparent_for("test-123", "req-2").split("-")[2]

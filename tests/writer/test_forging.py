"""One invocation is always exactly one physical line, whatever control characters the inputs carry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from auditview.contract import parse_line
from auditview.writer import Auditor

_NASTY = [
    "line1\nline2",
    'x"}\n{"tool":"forged","command":"rm -rf"}',
    "carriage\rreturn",
    "\x1b[2J\x1b[31mred\x1b[0m",
    "nul\x00byte",
    "unicode\u2028separator\u2029",
    "\r\n\r\n",
]


@pytest.mark.parametrize("value", _NASTY)
def test_control_characters_in_params_stay_inside_the_string(
    auditor: Auditor, log_path: Path, value: str
) -> None:
    """Newlines, CRs, ANSI escapes and NULs in params (keys and values) do not add physical lines."""
    with auditor.invocation(value, {"v": value, value: [value]}):
        pass
    data = log_path.read_bytes()
    assert data.count(b"\n") == 1
    assert b"\r" not in data
    assert b"\x1b" not in data
    record = parse_line(data)
    assert record["params"] == {"v": value, value: [value]}
    assert record["command"] == value


def test_pretty_printing_serializer_still_gives_one_line(log_path: Path) -> None:
    """An injected serializer that indents cannot split a record over several lines."""
    auditor = Auditor(
        "wtest", "1", log_path=log_path, serializer=lambda r: orjson.dumps(r, option=orjson.OPT_INDENT_2)
    )
    with auditor.invocation("x", {"a": {"b": "c\nd"}}):
        pass
    data = log_path.read_bytes()
    assert data.count(b"\n") == 1
    assert parse_line(data)["params"] == {"a": {"b": "c\nd"}}


@pytest.mark.parametrize("value", ["abc\ndef", "abc\rdef", "\x1b[31mred", "tab\tx"])
def test_control_characters_in_tool_trace_id_env(tmp_path: Path, value: str) -> None:
    """A TOOL_TRACE_ID with control characters is not used: one line, a generated id, no failure."""
    log = tmp_path / "audit.jsonl"
    code = (
        "from auditview.writer import Auditor\n"
        f"with Auditor('wtest', '1', log_path={str(log)!r}).invocation('x') as inv:\n"
        "    print(inv.meta()['trace_id'])\n"
    )
    env = {**os.environ, "TOOL_TRACE_ID": value}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    data = log.read_bytes()
    assert data.count(b"\n") == 1
    record = parse_line(data)
    assert record["trace_id"] == done.stdout.strip()
    assert len(record["trace_id"]) == 32
    assert done.stderr.count("\n") == 1

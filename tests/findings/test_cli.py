"""Findings in the headless CLI: ``traces`` (JSON list and table column), ``trace`` (JSON and a table line)
and ``--filter trace.finding``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditview.main import main
from tests.cli.conftest import HOSTILE_COMMAND, line_of, record


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("AUDITVIEW_AUDIT", "0")
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """``t-loop``: deployctl deploy retried after two failures, never verified; ``t-ok``: deploy and verify;
    ``t-hostile``: a hostile command name in a retry loop; one orphan."""
    loop = [
        record(at_s=0, command="deploy", exit_code=75, request_id="l1", trace_id="t-loop"),
        record(at_s=10, command="deploy", exit_code=75, request_id="l2", trace_id="t-loop"),
        record(at_s=20, command="deploy", request_id="l3", trace_id="t-loop"),
    ]
    fine = [
        record(at_s=0, command="deploy", request_id="k1", trace_id="t-ok"),
        record(at_s=5, tool="verifyctl", command="verify", request_id="k2", trace_id="t-ok"),
    ]
    hostile = [
        record(at_s=i, command=HOSTILE_COMMAND, exit_code=1, request_id=f"h{i}", trace_id="t-hostile")
        for i in range(3)
    ]
    orphan = [record(at_s=30, command="status", request_id="o1", trace_id="")]
    root = tmp_path / "logs"
    (root / "deployctl").mkdir(parents=True)
    (root / "verifyctl").mkdir(parents=True)
    lines = [*loop, fine[0], *hostile, *orphan]
    (root / "deployctl" / "audit.jsonl").write_bytes(b"".join(line_of(r) + b"\n" for r in lines))
    (root / "verifyctl" / "audit.jsonl").write_bytes(line_of(fine[1]) + b"\n")
    return root


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_traces_json_has_a_findings_list_per_trace(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["traces", str(logs), "-o", "json"]) == 0
    by_id = {t["trace_id"]: t for t in _json(capsys)["data"]}
    assert by_id["t-ok"]["findings"] == []
    loop = by_id["t-loop"]["findings"]
    assert [f["name"] for f in loop] == ["retry-loop", "deploy-without-verify"]
    retry = loop[0]
    assert retry["severity"] == "error"
    assert retry["reason"].startswith("deployctl deploy ran 3 times with the same params")
    assert [s["request_id"] for s in retry["steps"]] == ["l1", "l2", "l3"]
    assert {s["path"] for s in retry["steps"]} == {str(logs / "deployctl" / "audit.jsonl")}
    assert retry["steps"][0]["offset"] == 0
    assert set(retry["steps"][0]) == {"request_id", "file_id", "offset", "path"}


def test_traces_jsonl_and_limit_keep_the_findings(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["traces", str(logs), "-o", "jsonl", "--sort", "steps", "--limit", "1"]) == 0
    (only,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert only["trace_id"] in ("t-loop", "t-hostile")
    assert only["findings"][0]["name"] == "retry-loop"


def test_traces_filter_on_trace_finding(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--filter`` picks traces; the findings shown are the whole trace's, whatever the filter left."""
    assert main(["traces", str(logs), "-o", "json", "--filter", "trace.finding=retry-loop"]) == 0
    assert sorted(t["trace_id"] for t in _json(capsys)["data"]) == ["t-hostile", "t-loop"]
    assert main(["traces", str(logs), "-o", "json", "--filter", "not trace.finding"]) == 0
    assert [t["trace_id"] for t in _json(capsys)["data"]] == ["t-ok"]
    assert main(["traces", str(logs), "-o", "json", "--filter", "request_id=l3"]) == 0
    (loop,) = _json(capsys)["data"]
    assert loop["steps"] == 1
    assert [f["name"] for f in loop["findings"]] == ["retry-loop", "deploy-without-verify"]
    assert main(["traces", str(logs), "--filter", "trace.finding=retry"]) == 2
    assert "did you mean 'retry-loop'?" in capsys.readouterr().err


def test_traces_table_has_a_findings_column(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["traces", str(logs), "-o", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:7] == ["trace", "start", "span", "steps", "failed", "slow", "findings"]
    rows = {line.split()[0]: line for line in lines[2:-1]}
    assert "retry-loop,deploy-without-verify" in rows["t-loop"]
    assert " - " in rows["t-ok"]
    assert "\x1b" not in "\n".join(lines)


def test_trace_json_lists_findings_and_marks_their_steps(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "t-loop", str(logs), "-o", "json"]) == 0
    data = _json(capsys)["data"]
    assert [f["name"] for f in data["findings"]] == ["retry-loop", "deploy-without-verify"]
    marks = {s["request_id"]: s["findings"] for s in data["steps"]}
    assert marks == {
        "l1": ["retry-loop"],
        "l2": ["retry-loop"],
        "l3": ["retry-loop", "deploy-without-verify"],
    }
    assert main(["trace", "t-ok", str(logs), "-o", "jsonl"]) == 0
    steps = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [s["findings"] for s in steps] == [[], []]


def test_trace_table_has_a_findings_line_above_the_legend(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "t-loop", str(logs), "-o", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "critical path" in lines[-1]
    heading = lines.index("findings: 2 (1 error, 1 warning)")
    assert lines[heading + 1].startswith("  ✗ retry-loop")
    assert "deployctl deploy ran 3 times" in lines[heading + 1]
    assert lines[heading + 2].startswith("  ! deploy-without-verify")
    assert main(["trace", "t-ok", str(logs), "-o", "table"]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == "findings: none"


def test_a_hostile_name_in_a_finding_is_inert(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The reason carries the record's command: escaped like every other field in tables."""
    assert main(["trace", "t-hostile", str(logs), "-o", "table"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "✗ retry-loop  deployctl \\x1b[31mred" in out
    assert main(["traces", str(logs), "-o", "table"]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_no_findings_skips_them_and_says_nothing_about_them(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``traces --no-findings`` has no ``findings`` key and no findings column (absent, not an empty list)."""
    assert main(["traces", str(logs), "-o", "json", "--no-findings"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert {t["trace_id"] for t in data} == {"t-loop", "t-ok", "t-hostile"}
    assert all("findings" not in t for t in data)
    assert main(["traces", str(logs), "-o", "table", "--no-findings"]) == 0
    assert "findings" not in capsys.readouterr().out.splitlines()[0]

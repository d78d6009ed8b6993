"""``auditview check`` grades real tools: one small tool per level of the seed's table, the demo tool, tools
built on the writer's adapters, a hand-made one with switchable flaws, the demo through ``auditview run``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from auditview.grade import LEVELS, TRACE_ID, check, tool_words
from auditview.main import main

TOOLS = Path(__file__).parent / "tools"
PY = sys.executable


def _tool(name: str, *args: str) -> list[str]:
    return [PY, str(TOOLS / f"{name}.py"), *args]


def _grade(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """Run ``auditview check -o json ...`` in-process; the exit code and the envelope."""
    code = main(["check", "-o", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def _results(data: dict[str, Any]) -> dict[str, str]:
    return {row["id"]: row["result"] for row in data["conditions"]}


@pytest.fixture(autouse=True)
def _fast_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_SPEED", "0")
    monkeypatch.setenv("GRADE_PYTHON", PY)


def test_demo_tool_scores_3(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo tool: every condition passes, with the evidence of each; exit 0, ok true."""
    code, body = _grade(capsys, "--", PY, "-m", "auditview.demo", "deploy", "--env", "staging", "-o", "json")
    data = body["data"]
    assert (code, body["ok"], data["score"], data["passed"]) == (0, True, 3, True)
    assert set(_results(data).values()) == {"pass"}
    assert data["tool"] == [PY, "-m", "auditview.demo"]
    rows = {row["id"]: row for row in data["conditions"]}
    assert rows["trace_id"]["evidence"] == [
        f'run 1: meta.trace_id = "{TRACE_ID}"',
        f'run 2: meta.trace_id = "{TRACE_ID}"',
    ]
    assert "AUDITVIEW_CHILD_PROBE" in rows["propagation"]["evidence"][0]
    assert any("the first" in line and "unchanged" in line for line in rows["append_only"]["evidence"])
    runs = {run["name"]: run for run in data["runs"]}
    assert list(runs) == ["run 1", "audit-log 1", "run 2", "audit-log 2"]
    assert runs["audit-log 1"]["argv"][-5:] == ["audit-log", "--since", "1h", "--output", "jsonl"]
    assert runs["run 1"]["command"].startswith(f"TOOL_TRACE_ID={TRACE_ID} ")
    assert body["meta"]["command"] == "check"


@pytest.mark.parametrize(
    ("tool", "score", "failing"),
    [
        (
            "level0",
            0,
            {"request_id", "request_id_all", "request_id_unique", "duration_ms", "trace_id", "audit_log"},
        ),
        ("level1", 1, {"duration_ms", "trace_id", "audit_log", "one_record", "append_only"}),
        ("level2", 2, {"audit_log", "one_record", "append_only"}),
    ],
)
def test_each_level_has_a_tool_that_scores_it(
    capsys: pytest.CaptureFixture[str], tool: str, score: int, failing: set[str]
) -> None:
    """JSON without meta is 0; only a request id is 1; ids, duration and propagation without a log are 2."""
    code, body = _grade(capsys, "--", *_tool(tool, "deploy", "-o", "json"))
    data = body["data"]
    assert (code, body["ok"], data["score"], data["level"]) == (1, False, score, LEVELS[score])
    results = _results(data)
    assert failing <= {key for key, result in results.items() if result == "fail"}
    assert results["propagation"] == ("pass" if tool == "level2" else "skip")


def test_level_is_reached_with_min_score(capsys: pytest.CaptureFixture[str]) -> None:
    """--min-score sets the bar of the exit code: the level-2 tool passes --min-score 2."""
    code, body = _grade(capsys, "--min-score", "2", "--", *_tool("level2", "deploy"))
    assert (code, body["ok"], body["data"]["score"], body["data"]["min_score"]) == (0, True, 2, 2)


@pytest.mark.parametrize("tool", ["level3_argparse", "level3_click", "handmade"])
def test_tools_reach_3_without_response_code(capsys: pytest.CaptureFixture[str], tool: str) -> None:
    """The adapters' respond() (argparse and click) and a hand-made stdlib tool all score 3."""
    code, body = _grade(capsys, "--", *_tool(tool, "deploy", "--env", "staging", "-o", "json"))
    assert (code, body["data"]["score"]) == (0, 3), body["data"]["conditions"]
    assert set(_results(body["data"]).values()) == {"pass"}


@pytest.mark.parametrize(
    ("flaw", "failing", "score"),
    [
        ("same-id", {"request_id_unique", "one_record"}, 1),
        ("own-trace", {"trace_id", "propagation", "one_record"}, 1),
        ("no-duration", {"duration_ms"}, 1),
        ("hidden-trace", {"propagation"}, 1),
        ("twice", {"one_record"}, 2),
        ("rewrite", {"append_only"}, 2),
        ("no-log", {"one_record", "append_only"}, 2),
    ],
)
def test_each_flaw_fails_its_condition(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flaw: str,
    failing: set[str],
    score: int,
) -> None:
    """Every condition is really checked: one flaw fails exactly the conditions it breaks."""
    monkeypatch.setenv("HANDMADE_FLAW", flaw)
    code, body = _grade(capsys, "--", *_tool("handmade", "deploy"))
    results = _results(body["data"])
    assert {key for key, result in results.items() if result == "fail"} == failing
    assert (code, body["data"]["score"]) == (1, score)


def test_child_probe_option_requires_observed_propagation(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --child-probe unobserved propagation is 'skip'; with it 'fail', and the level stays below 2."""
    _, body = _grade(capsys, "--min-score", "0", "--", *_tool("level1"))
    assert _results(body["data"])["propagation"] == "skip"
    _, body = _grade(capsys, "--child-probe", "--", *_tool("level1"))
    assert _results(body["data"])["propagation"] == "fail"
    assert body["data"]["child_probe_required"] is True


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    """The default output is the table: the runs, one row per condition with its evidence, the score."""
    assert main(["check", "--", *_tool("level1", "deploy")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("auditview check: ")
    assert f"run 1        TOOL_TRACE_ID={TRACE_ID} " in out
    assert "  1    pass    meta.request_id present on some responses" in out
    assert (
        "  2    fail    meta.duration_ms on all responses\n               run 1: meta has no duration_ms"
        in out
    )
    assert out.rstrip().endswith("FAILED: score 1 is below --min-score 3")


def test_keep_env_uses_the_callers_data_home(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--keep-env runs in the caller's XDG_DATA_HOME: the records stay there; the listings are compared."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    code, body = _grade(capsys, "--keep-env", "--", *_tool("handmade", "deploy"))
    assert (code, body["data"]["score"], body["data"]["sandbox"]) == (0, 3, None)
    assert len((tmp_path / "handmade" / "audit.jsonl").read_text().splitlines()) == 2
    rows = {row["id"]: row for row in body["data"]["conditions"]}
    assert "not compared (--keep-env" in rows["append_only"]["evidence"][-1]


def test_sandbox_hides_the_callers_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """By default nothing is written to the caller's XDG_DATA_HOME, and inherited trace variables and
    *_AUDIT_LOG redirections are not passed on."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("DEMO_TRACE_ID", "inherited")  # it would win over TOOL_TRACE_ID
    monkeypatch.setenv("TRACEPARENT", "00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    monkeypatch.setenv("DEMO_AUDIT_LOG", str(tmp_path / "elsewhere.jsonl"))
    report = check([PY, "-m", "auditview.demo", "status", "-o", "json"])
    assert report.score == 3
    assert list(tmp_path.iterdir()) == []
    assert report.runs[0].env["XDG_DATA_HOME"] != str(tmp_path)


def test_errors_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """No COMMAND, or one that cannot start: exit 2 with the JSON error envelope."""
    code, body = _grade(capsys)
    assert (code, body["ok"], body["error"]["type"]) == (2, False, "UsageError")
    code, body = _grade(capsys, "--", "/nonexistent/tool", "deploy")
    assert (code, body["error"]["type"]) == (2, "CommandError")
    assert "cannot run /nonexistent/tool deploy" in body["error"]["message"]


def test_tool_words() -> None:
    """The tool is what comes before meta.command, else the program (with its script or module)."""
    assert tool_words(["mytool", "db", "migrate", "-o", "json"], "db migrate") == ["mytool"]
    assert tool_words(["python", "-m", "pkg.tool", "deploy"], "deploy") == ["python", "-m", "pkg.tool"]
    assert tool_words(["python", "-m", "pkg.tool", "deploy"], None) == ["python", "-m", "pkg.tool"]
    assert tool_words(["/usr/bin/python3", "-u", "tool.py", "x"], "other") == [
        "/usr/bin/python3",
        "-u",
        "tool.py",
    ]
    assert tool_words(["env", "A=1", "node", "cli.js", "x"], None) == ["env", "A=1", "node", "cli.js"]
    assert tool_words(["kubectl", "get", "pods"], None) == ["kubectl"]


def test_report_json_lists_every_seed_condition() -> None:
    """The JSON report carries the seed's levels, and each condition its level, result and evidence."""
    report = check(_tool("level0"))
    data = report.to_json()
    assert [row["level"] for row in data["conditions"]] == [1, 2, 2, 2, 2, 3, 3, 3, 3, None]
    assert (data["score"], data["level"]) == (0, LEVELS[0])
    assert all(row["evidence"] and row["result"] in {"pass", "fail", "skip"} for row in data["conditions"])


@pytest.mark.skipif(
    importlib.util.find_spec("auditview.writer.wrap") is None, reason="auditview run not there yet"
)
def test_demo_through_auditview_run_scores_3(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo tool run through `auditview run --json-meta --audit-log` still scores 3: the wrapper's meta
    and records, its log answering `audit-log`."""
    demo = str(TOOLS / "demo")
    wrapper = [PY, "-m", "auditview", "run", "--json-meta", "--audit-log", "--tool", "wrapped-demo", "--"]
    code, body = _grade(capsys, "--", *wrapper, demo, "deploy", "--env", "staging", "-o", "json")
    assert (code, body["data"]["score"]) == (0, 3), body["data"]["conditions"]
    assert body["data"]["tool"] == [*wrapper, demo]

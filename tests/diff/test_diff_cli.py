"""``auditview diff A B`` end to end through ``main()``: hand-built pairs of runs in small JSONL logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditview.cli.commands.diff import render_diff
from auditview.core.diff import diff_runs
from auditview.main import main
from auditview.text.plain import Palette
from tests.diff.conftest import S, load_frame, run, write_log

BASELINE = [
    S("deployctl", "plan", ms=1000),
    S("deployctl", "apply", ms=2000, gap=3000, params={"env": "prod", "replicas": 3}),
    S("verifyctl", "verify", ms=500, gap=1000),
    S("notifyctl", "notify", ms=100, gap=500),
]


def _diff_jsonl(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert main(["diff", *argv, "-o", "jsonl"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _diff_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["diff", *argv, "-o", "json"]) == 0
    body: dict[str, Any] = json.loads(capsys.readouterr().out)
    return body


def _table(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["diff", *argv, "-o", "table"]) == 0
    return capsys.readouterr().out.splitlines()


def _ops(pairs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(p["op"], p["command"]) for p in pairs]


def _pair(tmp_path: Path, now: list[S], then: list[S] | None = None) -> Path:
    """A log with run ``then`` (default BASELINE) and, a minute later, run ``now``."""
    return write_log(tmp_path / "logs", run("then-1", then or BASELINE), run("now-2", now, start_s=60))


def test_identical_runs_pair_every_step_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs of the same steps: every step paired, nothing changed, zero deltas, span unchanged."""
    log = _pair(tmp_path, BASELINE)
    pairs = _diff_jsonl(capsys, "then-1", "now-2", str(log))
    assert _ops(pairs) == [("match", "plan"), ("match", "apply"), ("match", "verify"), ("match", "notify")]
    assert all(p["changed"] is False and p["delta_ms"] == 0 and p["ratio"] == 1 for p in pairs)
    summary = _diff_json(capsys, "then-1", "now-2", str(log))["data"]["summary"]
    assert (summary["unchanged"], summary["changed"], summary["inserted"], summary["deleted"]) == (4, 0, 0, 0)
    assert summary["delta_ms"] == 0
    assert summary["biggest"] is None
    lines = _table(capsys, "then-1", "now-2", str(log))
    rows = [line for line in lines if line[:1] in "=~+-" and "  " in line and not line.startswith("─")]
    assert [row[0] for row in rows] == ["="] * 4
    assert lines[-1].startswith("span 8.1s → 8.1s (0ms, ×1.00); failed 0 → 0; steps 4 → 4: 4 paired")


def test_retried_step_is_one_insertion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A failed apply retried: the failed attempt is inserted, the good one pairs; later rows do not shift."""
    now = [
        BASELINE[0],
        S("deployctl", "apply", ms=400, gap=3000, exit=1, params={"env": "prod", "replicas": 3}),
        S("deployctl", "apply", ms=2000, gap=1000, params={"env": "prod", "replicas": 3}),
        *BASELINE[2:],
    ]
    pairs = _diff_jsonl(capsys, "then-1", "now-2", str(_pair(tmp_path, now)))
    assert _ops(pairs) == [
        ("match", "plan"),
        ("insert", "apply"),
        ("match", "apply"),
        ("match", "verify"),
        ("match", "notify"),
    ]
    assert pairs[1]["b"]["exit_code"] == 1
    assert pairs[1]["a"] is None
    assert pairs[1]["delta_ms"] == 400
    assert pairs[2]["exit_changed"] is False
    assert [p["changed"] for p in pairs] == [False, True, False, False, False]


def test_missing_step_is_one_deletion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A verify that did not run now: one deletion, notify still paired, the table marks it with -."""
    now = [BASELINE[0], BASELINE[1], BASELINE[3]]
    log = _pair(tmp_path, now)
    pairs = _diff_jsonl(capsys, "then-1", "now-2", str(log))
    assert _ops(pairs) == [("match", "plan"), ("match", "apply"), ("delete", "verify"), ("match", "notify")]
    assert pairs[2]["b"] is None
    assert pairs[2]["delta_ms"] == -500
    row = next(line for line in _table(capsys, "then-1", "now-2", str(log)) if "verifyctl verify" in line)
    assert row.startswith("-  verifyctl verify")
    assert row.split()[3:5] == ["500ms", "-"]  # no "now" duration


def test_slower_step_has_delta_ratio_and_is_the_biggest_contribution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """apply takes 3x as long: +4s, ×3, and the summary names it as the biggest contribution."""
    now = [BASELINE[0], S("deployctl", "apply", ms=6000, gap=3000, params={"env": "prod", "replicas": 3})]
    now += BASELINE[2:]
    log = _pair(tmp_path, now)
    data = _diff_json(capsys, "then-1", "now-2", str(log))["data"]
    apply = data["pairs"][1]
    assert (apply["delta_ms"], apply["ratio"], apply["changed"]) == (4000, 3.0, False)
    summary = data["summary"]
    assert (summary["span_then_ms"], summary["span_now_ms"], summary["delta_ms"]) == (8100, 12100, 4000)
    assert summary["biggest"] == {
        "pair": 1,
        "tool": "deployctl",
        "command": "apply",
        "what": "duration",
        "delta_ms": 4000,
    }
    lines = _table(capsys, "then-1", "now-2", str(log))
    row = next(line for line in lines if "deployctl apply" in line)
    assert row.split()[1:7] == ["deployctl", "apply", "2s", "6s", "+4s", "×3.00"]
    assert lines[-1].endswith("most: deployctl apply +4s (duration)")


def test_think_time_before_a_step_then_and_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The gap before a step (think time) is shown then → now and can be the biggest contribution."""
    now = [BASELINE[0], BASELINE[1], S("verifyctl", "verify", ms=500, gap=31_000), BASELINE[3]]
    log = _pair(tmp_path, now)
    pairs = _diff_jsonl(capsys, "then-1", "now-2", str(log))
    verify = pairs[2]
    assert (verify["a"]["gap_before_ms"], verify["b"]["gap_before_ms"], verify["gap_delta_ms"]) == (
        1000,
        31_000,
        30_000,
    )
    assert pairs[0]["a"]["gap_before_ms"] is None  # the first step has no gap before it
    lines = _table(capsys, "then-1", "now-2", str(log))
    assert "1s → 31s" in next(line for line in lines if "verifyctl verify" in line)
    assert lines[-1].endswith("most: verifyctl verify +30s (gap before)")


def test_changed_params_are_key_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Added, removed and changed params keys (nested by dotted path) on a paired step."""
    now = [
        BASELINE[0],
        S(
            "deployctl",
            "apply",
            ms=2000,
            gap=3000,
            params={"env": "staging", "force": True, "limits": {"cpu": 2}},
        ),
        *BASELINE[2:],
    ]
    then = [
        BASELINE[0],
        S(
            "deployctl",
            "apply",
            ms=2000,
            gap=3000,
            params={"env": "prod", "replicas": 3, "limits": {"cpu": 1}},
        ),
        *BASELINE[2:],
    ]
    log = _pair(tmp_path, now, then)
    apply = _diff_jsonl(capsys, "then-1", "now-2", str(log))[1]
    assert apply["params"] == {
        "added": {"force": True},
        "removed": {"replicas": 3},
        "changed": {"env": {"then": "prod", "now": "staging"}, "limits.cpu": {"then": 1, "now": 2}},
    }
    assert apply["changed"] is True
    row = next(line for line in _table(capsys, "then-1", "now-2", str(log)) if "deployctl apply" in line)
    assert row.startswith("~")
    assert "env: prod→staging; limits.cpu: 1→2; +force=true; -replicas=3" in row


def test_changed_version_operator_and_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A new tool version on one step is a change of that step; operator and host changes are per step."""
    now = [BASELINE[0], BASELINE[1], S("verifyctl", "verify", ms=500, gap=1000, version="2.0.0"), BASELINE[3]]
    now[3] = S("notifyctl", "notify", ms=100, gap=500, operator="bob", host="runner-9")
    log = _pair(tmp_path, now)
    pairs = _diff_jsonl(capsys, "then-1", "now-2", str(log))
    assert pairs[2]["fields"] == {"version": {"then": "1.0.0", "now": "2.0.0"}}
    assert pairs[3]["fields"] == {
        "operator": {"then": "alice", "now": "bob"},
        "host": {"then": "runner-1", "now": "runner-9"},
    }
    assert [p["changed"] for p in pairs] == [False, False, True, True]
    lines = _table(capsys, "then-1", "now-2", str(log))
    assert "tool version 1.0.0→2.0.0" in next(line for line in lines if "verifyctl verify" in line)
    assert "host runner-1→runner-9; operator alice→bob" in next(line for line in lines if "notifyctl" in line)


def test_operator_changed_in_every_pair_is_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another operator ran the whole thing: said once above the table, the rows stay '='."""
    log = write_log(
        tmp_path / "logs", run("then-1", BASELINE), run("now-2", BASELINE, start_s=60, operator="bob")
    )
    lines = _table(capsys, "then-1", "now-2", str(log))
    assert "in every paired step: operator alice→bob" in lines
    rows = [line for line in lines if "deployctl" in line or "ctl " in line]
    assert rows
    assert all(row.startswith("=") and "operator" not in row for row in rows)
    assert "4 paired (0 changed)" in lines[-1]


def test_runs_of_different_lengths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A short run against a long one: the common steps pair, the rest are insertions, counts add up."""
    now = [
        S("deployctl", "status"),
        BASELINE[0],
        S("dbctl", "backup", ms=3000),
        BASELINE[1],
        BASELINE[2],
        S("verifyctl", "smoke-test", ms=800),
        BASELINE[3],
    ]
    then = [BASELINE[0], BASELINE[3]]
    log = _pair(tmp_path, now, then)
    data = _diff_json(capsys, "then-1", "now-2", str(log))["data"]
    assert _ops(data["pairs"]) == [
        ("insert", "status"),
        ("match", "plan"),
        ("insert", "backup"),
        ("insert", "apply"),
        ("insert", "verify"),
        ("insert", "smoke-test"),
        ("match", "notify"),
    ]
    summary = data["summary"]
    assert (summary["steps_then"], summary["steps_now"], summary["matched"], summary["inserted"]) == (
        2,
        7,
        2,
        5,
    )
    # and the other way round: the same steps deleted
    back = _diff_jsonl(capsys, "now-2", "then-1", str(log))
    assert [p["op"] for p in back] == ["delete", "match", "delete", "delete", "delete", "delete", "match"]


def test_failures_in_the_summary_and_exit_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An exit code that changed shows then → now, coloured on a terminal; failures are counted."""
    now = [BASELINE[0], BASELINE[1], S("verifyctl", "verify", ms=500, gap=1000, exit=3), BASELINE[3]]
    log = _pair(tmp_path, now)
    lines = _table(capsys, "then-1", "now-2", str(log))
    assert "0 → 3" in next(line for line in lines if "verifyctl verify" in line)
    assert "failed 0 → 1" in lines[-1]
    assert lines[1].endswith("1 failed")
    result = diff_runs(load_frame(log), "then-1", "now-2")
    coloured = render_diff(result, width=160, palette=Palette(colour=True))
    row = next(line for line in coloured if "verifyctl verify" in line)
    assert "\x1b[31m0 → 3" in row  # red: failed now
    assert coloured[0].startswith("\x1b[1m")
    plain = render_diff(result, width=160, palette=Palette(colour=False, unicode=False))
    assert not any("\x1b" in line for line in plain)
    assert "0 -> 3" in next(line for line in plain if "verifyctl verify" in line)


def test_previous_similar_run_by_flag_and_by_prev(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``B --previous`` and ``prev B`` pick the latest earlier run with the same first step and operator."""
    log = write_log(
        tmp_path / "logs",
        run("old-alice", BASELINE, start_s=0),
        run("mid-bob", BASELINE, start_s=100, operator="bob"),
        run("other-alice", [S("dbctl", "status")], start_s=200),
        run("new-alice", BASELINE, start_s=300),
        run("later-alice", BASELINE, start_s=400),
    )
    data = _diff_json(capsys, "new-alice", "--previous", str(log))["data"]
    assert data["previous"] == {"trace_id": "old-alice", "rule": "same first step and operator"}
    assert (data["a"]["trace_id"], data["b"]["trace_id"]) == ("old-alice", "new-alice")
    assert _diff_json(capsys, "prev", "new-alice", str(log))["data"]["previous"]["trace_id"] == "old-alice"
    assert _diff_json(capsys, "--previous", "new", str(log))["data"]["a"]["trace_id"] == "old-alice"
    lines = _table(capsys, "new-alice", "--previous", str(log))
    assert lines[0].startswith("then  old-alice")
    assert lines[2] == "then = the previous similar run of now (same first step and operator)"
    pairs = _diff_jsonl(capsys, "new-alice", str(log), "--previous")
    assert pairs[0]["a"]["trace_id"] == "old-alice"


def test_no_previous_run_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first run has no earlier one: exit 1 with a message saying so."""
    log = _pair(tmp_path, BASELINE)
    assert main(["diff", "then-1", "--previous", str(log), "-o", "jsonl"]) == 1
    assert "no earlier trace with the same first step or operator as 'then-1'" in capsys.readouterr().err


def test_unique_prefixes_resolve_and_ambiguous_ones_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A and B may be unique prefixes; an ambiguous prefix is a usage error naming the candidates."""
    log = write_log(
        tmp_path / "logs",
        run("deploy-aaa", BASELINE),
        run("deploy-abb", BASELINE, start_s=60),
        run("rollout-x", BASELINE, start_s=120),
    )
    data = _diff_json(capsys, "deploy-aa", "roll", str(log))["data"]
    assert (data["a"]["trace_id"], data["b"]["trace_id"]) == ("deploy-aaa", "rollout-x")
    assert main(["diff", "deploy-a", "rollout-x", str(log), "-o", "json"]) == 2
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is False
    assert body["error"]["type"] == "UsageError"
    assert "A: trace id prefix 'deploy-a' is ambiguous: deploy-aaa, deploy-abb" in body["error"]["message"]


def test_unknown_ids_exit_1_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown A or B is exit 1 naming the side and the id, in table and json modes."""
    log = _pair(tmp_path, BASELINE)
    assert main(["diff", "nope", "now-2", str(log), "-o", "table"]) == 1
    assert "auditview diff: error: A: no trace 'nope' in the selected records" in capsys.readouterr().err
    assert main(["diff", "then-1", "missing", str(log), "-o", "json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["error"] == {
        "type": "TraceNotFound",
        "message": "B: no trace 'missing' in the selected records",
    }


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One id without --previous, or both prev and --previous, is a usage error (2)."""
    log = _pair(tmp_path, BASELINE)
    assert main(["diff", "then-1"]) == 2
    assert "two trace ids are needed" in capsys.readouterr().err
    assert main(["diff", "prev", "now-2", "--previous", str(log)]) == 2
    assert "either 'prev' or --previous" in capsys.readouterr().err


def test_json_envelope_and_jsonl_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``-o json``: the usual envelope with the two sides, summary and pairs; ``-o jsonl``: a pair a line."""
    log = _pair(tmp_path, BASELINE[:3])
    body = _diff_json(capsys, "then-1", "now-2", str(log))
    assert body["ok"] is True
    assert body["meta"]["command"] == "diff"
    assert body["rejects"] == 0
    assert set(body["data"]) == {"a", "b", "previous", "summary", "pairs"}
    assert body["data"]["a"] == {
        "trace_id": "then-1",
        "start": "2026-11-20T09:00:00Z",
        "end": "2026-11-20T09:00:08.100000Z",
        "span_ms": 8100.0,
        "steps": 4,
        "failed": 0,
        "operators": ["alice"],
    }
    lines = _diff_jsonl(capsys, "then-1", "now-2", str(log))
    assert len(lines) == len(body["data"]["pairs"]) == 4
    assert lines == body["data"]["pairs"]
    assert set(lines[0]) >= {"op", "tool", "command", "delta_ms", "ratio", "params", "fields", "a", "b"}
    assert set(lines[0]["a"]) >= {"trace_id", "index", "request_id", "duration_ms", "gap_before_ms", "params"}


def test_hostile_text_is_escaped_in_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Escape sequences, C1 controls and bidi overrides from records never reach the terminal raw."""
    evil_tool = "evil\x1b[2Jtool"
    evil_command = "\x1b]0;pwned\x07cmd"
    then = [S(evil_tool, evil_command, params={"note": "a"})]
    now = [
        S(evil_tool, evil_command, params={"note": "[bold]x\u202eevil", "k\x1b[31m": 1}, host="h\u009b2J"),
        S("t", "c\x1b[5m", operator="op\x07"),
    ]
    log = write_log(tmp_path / "logs", run("t\x1b[1m-then", then), run("t-now", now, start_s=60))
    assert main(["diff", "t\x1b[1m-then", "t-now", str(log), "-o", "table"]) == 0
    out = capsys.readouterr().out
    for raw in ("\x1b", "\x07", "\u009b", "\u202e"):
        assert raw not in out
    assert "evil\\x1b[2Jtool" in out
    assert "\\u{202e}" in out
    assert "t\\x1b[1m-then" in out


def test_readme_example_is_real_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's ``auditview diff`` example is what the command prints over sample_logs (120 columns)."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    command = "$ auditview diff agent-session-45-step-2 agent-session-55-step-5 sample_logs\n"
    block = readme[readme.index(command) + len(command) :]
    expected = block[: block.index("```")].splitlines()
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(root)
    assert (
        main(["diff", "agent-session-45-step-2", "agent-session-55-step-5", "sample_logs", "-o", "table"])
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out.splitlines() + captured.err.splitlines() == expected

"""Each detector of ``auditview.core.findings`` on hand-built traces: cases that must fire, cases that must
not."""

from __future__ import annotations

import random
from typing import Any

import polars as pl
import pytest

from auditview.core.findings import (
    DETECTORS,
    FINDINGS_SCHEMA,
    SEVERITY,
    FindingThresholds,
    detect_findings,
    group_findings,
    step_kind,
)
from auditview.core.timeline import build_timeline
from tests.findings.cases import frame, step

PROD_API = {"env": "prod", "service": "api"}


def found(data: pl.DataFrame, name: str, thresholds: FindingThresholds | None = None) -> list[dict[str, Any]]:
    """The findings called ``name`` in ``data``, as dicts (``steps`` reduced to their request ids)."""
    rows = detect_findings(data, thresholds).filter(pl.col("name") == name).to_dicts()
    for row in rows:
        row["steps"] = [place["request_id"] for place in row["steps"]]
    return rows


# -- retry-loop ---------------------------------------------------------------------------------------------


def test_retry_loop_fires_on_three_runs_each_after_a_failure() -> None:
    """fail, fail, ok of the same call: a loop that recovered; fail x3: one that never did."""
    recovered = frame(
        step(0, "deploy", exit_code=75, request_id="a"),
        step(5, "status", request_id="s"),  # another step in between does not break the loop
        step(10, "deploy", exit_code=75, request_id="b"),
        step(20, "deploy", request_id="c"),
    )
    (loop,) = found(recovered, "retry-loop")
    assert loop["steps"] == ["a", "b", "c"]
    assert loop["severity"] == "error"
    assert "ran 3 times with the same params" in loop["reason"]
    assert "exit 75, 75" in loop["reason"]
    assert "the last run succeeded" in loop["reason"]
    stuck = frame(*(step(i * 10, "apply", exit_code=1) for i in range(4)))
    (loop,) = found(stuck, "retry-loop")
    assert len(loop["steps"]) == 4
    assert "none succeeded" in loop["reason"]


def test_retry_loop_does_not_fire_on_polling_changed_params_or_broken_chains() -> None:
    """Repeats that succeed, a call whose params change, a success in the middle, two failures only, or the
    runs spread over traces are no loop."""
    cases = [
        [step(i * 10, "status") for i in range(5)],  # polling: all succeed
        [
            step(i * 10, "deploy", exit_code=1, params={**PROD_API, "version": f"v{i}"}) for i in range(4)
        ],  # a new version each time
        [
            step(0, "deploy", exit_code=1),
            step(10, "deploy"),
            step(20, "deploy", exit_code=1),
            step(30, "deploy"),
        ],  # chains of two
        [step(0, "deploy", exit_code=1), step(10, "deploy")],  # only two runs
        [step(i * 10, "deploy", exit_code=1, trace_id=f"t{i}") for i in range(4)],  # one run per trace
        [
            step(0, "deploy", exit_code=1, tool="a"),
            step(10, "deploy", exit_code=1, tool="b"),
            step(20, "deploy", exit_code=1, tool="c"),
        ],  # different tools
    ]
    for records in cases:
        assert found(frame(*records), "retry-loop") == [], records


def test_retry_loop_threshold_is_configurable() -> None:
    """``retry_runs=2``: one failure and its retry are a loop; at least two runs are needed."""
    data = frame(step(0, "deploy", exit_code=1, request_id="a"), step(10, "deploy", request_id="b"))
    assert found(data, "retry-loop") == []
    (loop,) = found(data, "retry-loop", FindingThresholds(retry_runs=2))
    assert loop["steps"] == ["a", "b"]
    with pytest.raises(ValueError, match="retry_runs"):
        FindingThresholds(retry_runs=1)


# -- flapping -----------------------------------------------------------------------------------------------


def test_flapping_fires_on_deploy_rollback_deploy_of_one_target() -> None:
    """The rollback (another tool, without the deploy's region and with its own version keys) covers the
    deploy's target; the second deploy has the same tool, command and target."""
    deploy = {**PROD_API, "region": "eu-1", "version": "v2", "replicas": 4}
    data = frame(
        step(0, "deploy", params=deploy, request_id="d1", exit_code=1),
        step(30, "rollback", tool="rollbackctl", params={**PROD_API, "to_version": "v1"}, request_id="r"),
        step(60, "deploy", params={**deploy, "version": "v3"}, request_id="d2"),
    )
    (flap,) = found(data, "flapping")
    assert flap["steps"] == ["d1", "r", "d2"]
    assert flap["severity"] == "error"
    assert flap["reason"] == (
        "deployctl deploy of env=prod, service=api, region=eu-1: deployed, rolled back "
        "(rollbackctl rollback) and deployed again"
    )


def test_flapping_counts_every_cycle_of_a_target_in_one_finding() -> None:
    data = frame(
        step(0, "deploy", request_id="d1"),
        step(10, "rollback", request_id="r1"),
        step(20, "deploy", request_id="d2"),
        step(30, "rollback", request_id="r2"),
        step(40, "deploy", request_id="d3"),
    )
    (flap,) = found(data, "flapping")
    assert flap["steps"] == ["d1", "r1", "d2", "r2", "d3"]
    assert flap["reason"].endswith("deployed again (2 times)")


def test_flapping_does_not_fire_without_a_full_cycle_of_one_target() -> None:
    other = {"env": "prod", "service": "web"}
    cases = [
        [step(0, "deploy"), step(10, "deploy")],  # no rollback
        [step(0, "rollback"), step(10, "deploy")],  # nothing deployed before the rollback
        [step(0, "deploy"), step(10, "rollback")],  # not deployed again
        [
            step(0, "deploy"),
            step(10, "rollback", params=other),
            step(20, "deploy"),
        ],  # another service rolled back
        [
            step(0, "deploy"),
            step(10, "rollback"),
            step(20, "deploy", params=other),
        ],  # another service deployed
        [
            step(0, "deploy", params={**PROD_API, "region": "eu-1"}),
            step(10, "rollback"),
            step(20, "deploy", params={**PROD_API, "region": "us-1"}),
        ],  # another region: another target
        [step(0, "deploy"), step(10, "rollback"), step(20, "deploy", tool="otherctl")],  # another tool
        [step(0, "deploy"), step(10, "rollback", trace_id="t2"), step(20, "deploy")],  # rollback elsewhere
    ]
    for records in cases:
        assert found(frame(*records), "flapping") == [], records


def test_flapping_target_keys_are_configurable() -> None:
    """Ignoring ``region`` makes deploys to two regions one target."""
    data = frame(
        step(0, "deploy", params={**PROD_API, "region": "eu-1"}),
        step(10, "rollback"),
        step(20, "deploy", params={**PROD_API, "region": "us-1"}),
    )
    assert found(data, "flapping") == []
    keys = (*FindingThresholds().target_ignore_keys, "region")
    assert len(found(data, "flapping", FindingThresholds(target_ignore_keys=keys))) == 1


# -- rollback-after-verify ----------------------------------------------------------------------------------


def test_rollback_after_verify_fires_when_a_successful_verify_is_the_last_word() -> None:
    data = frame(
        step(0, "deploy", request_id="d", duration_s=5),
        step(10, "verify", tool="verifyctl", request_id="v", duration_s=2),
        step(13, "status", request_id="s"),  # neither deploy, verify nor rollback, and it did not fail
        step(20, "rollback", tool="rollbackctl", request_id="r"),
    )
    (finding,) = found(data, "rollback-after-verify")
    assert finding["steps"] == ["v", "r"]
    assert finding["severity"] == "warning"
    assert finding["reason"] == (
        "rollbackctl rollback started 8s after verifyctl verify succeeded, with no failure in between"
    )


def test_rollback_after_verify_does_not_fire_after_a_failure() -> None:
    cases = [
        [step(0, "verify", exit_code=3), step(10, "rollback")],  # the verify failed
        [step(0, "verify"), step(5, "status", exit_code=69), step(10, "rollback")],  # a failure in between
        [step(0, "verify"), step(5, "deploy", exit_code=1), step(10, "rollback")],  # a deploy ended last
        [
            # the deploy ran the verify as its child and then failed itself: it ended last
            step(0, "deploy", exit_code=1, duration_s=20, request_id="d"),
            step(2, "verify", duration_s=3, parent="d"),
            step(30, "rollback"),
        ],
        [
            # a smoke test is a verify too: the last one to end failed
            step(0, "verify", duration_s=1),
            step(2, "smoke-test", exit_code=1, duration_s=1),
            step(10, "rollback"),
        ],
        [step(10, "rollback")],  # nothing before it
        [step(10, "rollback", duration_s=1), step(12, "verify")],  # the verify came after
    ]
    for records in cases:
        assert found(frame(*records), "rollback-after-verify") == [], records


# -- deploy-without-verify ----------------------------------------------------------------------------------


def test_deploy_without_verify_fires_on_an_unverified_successful_deploy() -> None:
    data = frame(
        step(0, "verify", request_id="v"),  # before the deploy: does not count
        step(10, "deploy", request_id="d"),
        step(20, "status", request_id="s"),
    )
    (finding,) = found(data, "deploy-without-verify")
    assert finding["steps"] == ["d"]
    assert (
        finding["reason"] == "deployctl deploy succeeded, but no verify step started after it in this trace"
    )
    # the words are the command's: ``release-canary`` is a deploy
    assert len(found(frame(step(0, "release-canary")), "deploy-without-verify")) == 1


def test_deploy_without_verify_does_not_fire_on_verified_or_failed_deploys() -> None:
    cases = [
        [step(0, "deploy", duration_s=10, request_id="d"), step(2, "verify", parent="d")],  # its own child
        [step(0, "deploy"), step(30, "smoke-test", tool="verifyctl")],  # a smoke test verifies
        [step(0, "deploy"), step(30, "check", tool="healthcheck", exit_code=22)],  # a failed check is a check
        [step(0, "deploy", exit_code=75)],  # a failed deploy needs no verify
        [step(0, "deploy", exit_code=None)],  # unknown outcome
        [step(0, "apply")],  # not a deploy word
    ]
    for records in cases:
        assert found(frame(*records), "deploy-without-verify") == [], records


def test_step_kinds_come_from_command_words_and_are_configurable() -> None:
    assert step_kind("deploy") == "deploy"
    assert step_kind("smoke-test") == "verify"
    assert step_kind("rollback-deploy") == "rollback"  # a rollback word wins
    assert step_kind("verify_release") == "verify"  # a verify word wins over a deploy word
    assert step_kind("Deploy.Prod") == "deploy"
    assert step_kind("deployment") is None  # whole words only
    assert step_kind(None) is None
    probe = FindingThresholds(verify_words=("probe",))
    assert step_kind("probe", probe) == "verify"
    assert step_kind("verify", probe) is None
    data = frame(step(0, "deploy"), step(10, "verify"))
    assert found(data, "deploy-without-verify") == []
    assert len(found(data, "deploy-without-verify", probe)) == 1


# -- long-think-gap -----------------------------------------------------------------------------------------


def _spaced(*gaps_s: float, trace_id: str = "t1") -> list[dict[str, Any]]:
    """Steps of one second with the given idle gaps between them."""
    records = []
    at = 0.0
    for i, gap in enumerate((0.0, *gaps_s)):
        at += gap
        records.append(step(at, "status", trace_id=trace_id, request_id=f"{trace_id}-s{i}"))
        at += 1.0
    return records


def test_long_think_gap_fires_far_above_the_usual_gaps() -> None:
    (gap,) = found(frame(*_spaced(1, 2, 60, 1)), "long-think-gap")
    assert gap["steps"] == ["t1-s2", "t1-s3"]  # the step that opened the gap, the one that closed it
    assert gap["severity"] == "info"
    assert gap["reason"] == (
        "1m00s idle between deployctl status and deployctl status, 40.0× the trace's median gap of 1.5s"
    )


def test_long_think_gap_does_not_fire_on_short_usual_or_lone_gaps() -> None:
    cases = [
        _spaced(1, 1, 20, 1),  # 20x the median, but under 30 s
        _spaced(60, 60, 60),  # long, but usual
        _spaced(1, 100, 101),  # not 5x the median (100 s)
        _spaced(600),  # a lone gap is its own median
        _spaced(1, 600),  # two gaps: the median is their mean
        [step(0, "deploy", duration_s=100), *_spaced(1, 1, 1)],  # the steps ran while the deploy did: no gap
    ]
    for records in cases:
        assert found(frame(*records), "long-think-gap") == [], records


def test_long_think_gap_thresholds_are_configurable() -> None:
    data = frame(*_spaced(1, 1, 20, 1))
    assert len(found(data, "long-think-gap", FindingThresholds(gap_min_ms=10_000))) == 1
    assert found(data, "long-think-gap", FindingThresholds(gap_min_ms=10_000, gap_median_factor=25)) == []


def test_long_think_gaps_are_the_timelines_gaps() -> None:
    """Random traces: the gaps the detector judges (threshold 0) are exactly ``build_timeline``'s, with the
    steps that opened and closed them, also with overlapping and nested steps and ties."""
    rng = random.Random(20261120)
    records = []
    for trace in range(40):
        at = 0.0
        for i in range(rng.randint(1, 12)):
            at += rng.choice([0.0, 0.0, 0.5, 1.0, 3.0, 40.0])
            records.append(
                step(
                    at,
                    "status",
                    trace_id=f"t{trace}",
                    duration_s=rng.choice([0.0, 0.2, 1.0, 5.0]),
                    request_id=f"t{trace}-{i}",
                )
            )
    data = frame(*records)
    everything = FindingThresholds(gap_min_ms=0, gap_median_factor=0, detectors=("long-think-gap",))
    detected = sorted(
        (row["trace_id"], tuple(place["request_id"] for place in row["steps"]))
        for row in detect_findings(data, everything).to_dicts()
    )
    expected = sorted(
        (trace_id, (gap.after_request_id, gap.before_request_id))
        for trace_id in data.get_column("trace_id").unique().to_list()
        for gap in build_timeline(data, trace_id).gaps
    )
    assert detected == expected
    assert detected  # the random traces do have gaps


# -- duplicate-request-id -----------------------------------------------------------------------------------


def test_duplicate_request_id_fires_in_each_trace_that_holds_it() -> None:
    data = frame(
        step(0, "deploy", request_id="req-1"),
        step(10, "deploy", request_id="req-1"),
        step(20, "status", request_id="req-2"),
        step(30, "status", request_id="req-2", trace_id="t2"),
        step(40, "status", request_id="req-3"),
    )
    by_trace = {(row["trace_id"], tuple(row["steps"])): row for row in found(data, "duplicate-request-id")}
    assert set(by_trace) == {("t1", ("req-1", "req-1")), ("t1", ("req-2",)), ("t2", ("req-2",))}
    assert by_trace[("t1", ("req-1", "req-1"))]["reason"].startswith(
        "request id req-1 is on 2 records of the loaded logs (2 in this trace)"
    )
    assert "(1 in this trace)" in by_trace[("t2", ("req-2",))]["reason"]


def test_duplicate_request_id_does_not_fire_on_distinct_or_missing_ids() -> None:
    data = frame(
        step(0, "check", request_id="a"),
        step(1, "check", request_id="b"),
        {**step(2, "check"), "request_id": None},
        {**step(3, "check"), "request_id": None},
        {**step(4, "check"), "request_id": "  "},
        {**step(5, "check"), "request_id": "  "},
    )
    assert found(data, "duplicate-request-id") == []


# -- new-error-code -----------------------------------------------------------------------------------------


def test_new_error_code_fires_when_a_failure_changes_its_exit_code() -> None:
    """Across traces and in time order, whatever the frame's order."""
    records = [
        step(0, "deploy", exit_code=75, request_id="a", trace_id="t1"),
        step(10, "deploy", request_id="ok", trace_id="t2"),
        step(20, "deploy", exit_code=1, request_id="b", trace_id="t3"),
    ]
    for data in (frame(*records), frame(*records).reverse()):
        (finding,) = found(data, "new-error-code")
        assert (finding["trace_id"], finding["steps"]) == ("t3", ["b"])
        assert finding["reason"] == (
            "deployctl deploy failed with exit 1; its previous failure "
            "(request a, 2026-11-20T09:00:00.000Z) exited 75"
        )


def test_new_error_code_does_not_fire_on_a_repeated_code_a_first_failure_or_another_command() -> None:
    cases = [
        [step(0, "deploy", exit_code=1), step(10, "deploy"), step(20, "deploy", exit_code=1)],
        [step(0, "deploy", exit_code=1)],
        [step(0, "deploy", exit_code=1), step(10, "apply", exit_code=2)],
        [step(0, "deploy", exit_code=1), step(10, "deploy", exit_code=2, tool="otherctl")],
        [step(0, "deploy", exit_code=1), step(10, "deploy", exit_code=None)],  # unknown is not a failure
    ]
    for records in cases:
        assert found(frame(*records), "new-error-code") == [], records


def test_an_orphans_failure_is_history_but_an_orphan_has_no_findings() -> None:
    data = frame(
        step(0, "deploy", exit_code=75, trace_id=""),
        step(10, "deploy", exit_code=1, request_id="b"),
        step(20, "deploy", exit_code=2, trace_id="  "),
    )
    findings = detect_findings(data)
    assert findings.get_column("trace_id").to_list() == ["t1"]
    assert found(data, "new-error-code")[0]["steps"] == ["b"]


# -- the whole run ------------------------------------------------------------------------------------------


def _busy_frame() -> pl.DataFrame:
    """Two traces with a finding of every detector."""
    return frame(
        # t1: retry-loop, flapping, deploy-without-verify, new-error-code
        step(0, "deploy", exit_code=1, request_id="a1"),
        step(10, "deploy", exit_code=1, request_id="a2"),
        step(20, "deploy", request_id="a3"),
        step(30, "rollback", tool="rollbackctl", request_id="a4"),
        step(40, "deploy", exit_code=75, request_id="a5"),
        step(50, "deploy", request_id="a6"),
        # t2: rollback-after-verify, long-think-gap, duplicate-request-id
        step(0, "status", trace_id="t2", request_id="b1"),
        step(2, "status", trace_id="t2", request_id="b2"),
        step(4, "verify", trace_id="t2", request_id="b3"),
        step(6, "rollback", trace_id="t2", request_id="b4"),
        step(300, "status", trace_id="t2", request_id="b4"),
    )


def test_every_detector_has_a_severity_and_the_result_its_schema() -> None:
    findings = detect_findings(_busy_frame())
    assert findings.schema == pl.Schema(FINDINGS_SCHEMA)
    assert set(findings.get_column("name")) == set(DETECTORS)
    assert all(SEVERITY[row["name"]] == row["severity"] for row in findings.to_dicts())
    assert findings.get_column("trace_id").is_sorted()
    assert detect_findings(_busy_frame().head(0)).schema == pl.Schema(FINDINGS_SCHEMA)
    assert detect_findings(_busy_frame().drop("trace_id")).height == 0
    only = FindingThresholds(detectors=("flapping", "new-error-code"))
    assert set(detect_findings(_busy_frame(), only).get_column("name")) == {"flapping", "new-error-code"}
    with pytest.raises(ValueError, match="unknown detector"):
        FindingThresholds(detectors=("nope",))


def test_categorical_unsorted_projected_and_per_trace_runs_agree() -> None:
    """The index's Categorical columns, a frame out of time order, a frame with only the columns the
    detectors read, and ``trace_ids`` give the same findings as the plain run."""
    data = _busy_frame()
    expected = detect_findings(data)
    assert detect_findings(frame(*_records(data), categorical=True)).equals(expected)
    shuffled = data.sample(fraction=1.0, shuffle=True, seed=3)
    assert detect_findings(shuffled).equals(expected)
    projected = data.select("ts", "trace_id", "tool", "command", "exit_code", "duration_ms", "params",
                            "request_id", "file_id", "offset")  # fmt: skip
    assert detect_findings(projected).equals(expected)
    assert detect_findings(data, trace_ids=["t2"]).equals(expected.filter(pl.col("trace_id") == "t2"))
    assert detect_findings(data, trace_ids=[]).height == 0


def _records(data: pl.DataFrame) -> list[dict[str, Any]]:
    rows = data.drop("ts", "length", "line").to_dicts()
    for row, ts in zip(rows, data.get_column("ts").to_list(), strict=True):
        row["ts"] = ts
    return rows


def test_group_findings_lists_each_traces_findings_with_paths() -> None:
    grouped = group_findings(detect_findings(_busy_frame()), ["logs/deployctl/audit.jsonl"])
    assert grouped.get_column("trace_id").to_list() == ["t1", "t2"]
    first = grouped.get_column("findings")[0].to_list()[0]
    assert set(first) == {"name", "severity", "reason", "steps"}
    assert first["steps"][0]["path"] == "logs/deployctl/audit.jsonl"
    assert group_findings(detect_findings(_busy_frame().head(0))).height == 0

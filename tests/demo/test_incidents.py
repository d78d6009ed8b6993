"""The incident traces of ``sample_logs/`` (``auditview.demo.incidents``): the real detectors and the real
diff find in the committed samples what each incident is there to show, and the workload's traces keep the
findings they had before the incidents were added."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson
import polars as pl
import pytest

from auditview.core.diff import PREVIOUS_RULES, RunDiff, diff_runs, previous_run
from auditview.core.findings import detect_findings
from auditview.core.index import AuditIndex
from auditview.demo.incidents import DIFF_EXAMPLE, INCIDENTS, incident_records
from auditview.demo.samples import INCIDENTS_SEED, INCIDENTS_START, sample_files, workload_files
from auditview.source.discover import discover

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
RETRY = "incident-retry"
FLAP = "incident-flap"
RUN_OK = "incident-run-ok"
RUN_FAIL = DIFF_EXAMPLE
AFTER_VERIFY = "incident-rollback"
REUSED_ID = "incident-reused-id"

#: The findings of the workload's traces, computed on the samples before the incidents were added:
#: (trace id, detector, request ids of the steps involved; ``None`` for the healthcheck's steps).
WORKLOAD_FINDINGS = [
    (
        "2349db53ae6d41e7326a073969933fbf",
        "deploy-without-verify",
        ("req-01a1f833-07bc-79c2-8524-a179428eaf36",),
    ),
    ("50caa9f618278b69d6ab2cc7067d01de", "new-error-code", ("req-01a1f83d-90df-7683-a16d-2b118ec26be1",)),
    ("50caa9f618278b69d6ab2cc7067d01de", "new-error-code", ("req-01a1f83d-95e5-762d-8780-b04f03a8707c",)),
    (
        "5d90fb0eadcf4a037a638a7006e3f5fc",
        "long-think-gap",
        (
            "req-01a1f833-715a-7a7a-b11c-e472770afc0d",
            "req-01a1f834-0e33-7883-9f2b-d4b0380139f3",
        ),
    ),
    (
        "9752490da16dc8575a6980e43c43a0bb",
        "deploy-without-verify",
        ("req-01a1f83a-2ede-7deb-b91a-a17b06b1a36c",),
    ),
    (
        "9752490da16dc8575a6980e43c43a0bb",
        "long-think-gap",
        (
            "req-01a1f839-b3c7-7afd-9916-b75ec408eb37",
            "req-01a1f83a-2ede-7deb-b91a-a17b06b1a36c",
        ),
    ),
    ("agent-session-45-step-8", "deploy-without-verify", ("req-01a1f835-1e60-7da5-9585-b7be80e5c18a",)),
    ("agent-session-52-step-1", "deploy-without-verify", ("req-01a1f82f-b782-7d43-977b-68db859da008",)),
    (
        "agent-session-52-step-4",
        "long-think-gap",
        (
            None,
            "req-01a1f831-a560-793b-b476-848ad408a27e",
        ),
    ),
    (
        "agent-session-52-step-5",
        "long-think-gap",
        (
            "req-01a1f835-5591-7fdf-a876-8eb8d780a1da",
            "req-01a1f836-1758-7f5c-ac44-c3537766b364",
        ),
    ),
    ("agent-session-55-step-5", "deploy-without-verify", ("req-01a1f833-0bb3-78ed-82f8-faa6927fadce",)),
    ("agent-session-55-step-8", "new-error-code", ("req-01a1f835-1721-71f3-a509-9ed8e04a0df7",)),
    ("agent-session-55-step-8", "new-error-code", ("req-01a1f835-4671-7985-9e1a-c6a79331e676",)),
    (
        "agent-session-56-step-1",
        "long-think-gap",
        (
            "req-01a1f836-3eea-7799-9faa-5a39952f9186",
            "req-01a1f837-645c-7b0a-bfe3-3a316f6a16bc",
        ),
    ),
    ("agent-session-56-step-1", "new-error-code", ("req-01a1f835-f96c-72bc-805c-973b580052d5",)),
    ("agent-session-56-step-13", "deploy-without-verify", ("req-01a1f83f-51a8-7fef-9db3-fc31504bcf56",)),
    ("agent-session-56-step-4", "deploy-without-verify", ("req-01a1f83a-ef6d-7512-8c11-80af835ce341",)),
    (
        "agent-session-56-step-4",
        "long-think-gap",
        (
            "req-01a1f83a-74d2-7943-ab29-19eb0c163318",
            "req-01a1f83a-ef6d-7512-8c11-80af835ce341",
        ),
    ),
    ("agent-session-56-step-7", "new-error-code", (None,)),
    ("agent-session-56-step-7", "new-error-code", ("req-01a1f83b-2e4a-7a14-809d-0022db9a9386",)),
    ("agent-session-56-step-7", "new-error-code", ("req-01a1f83d-2266-7628-a3e4-2bd41ea65a59",)),
    ("agent-session-59-step-4", "deploy-without-verify", ("req-01a1f837-5576-75ef-96b0-e97268e7d6f5",)),
    ("agent-session-63-step-10", "deploy-without-verify", ("req-01a1f83f-123e-768f-a61a-4df2ca927357",)),
    ("agent-session-63-step-3", "deploy-without-verify", ("req-01a1f83a-ce3b-7beb-bda3-cdf15e075497",)),
    ("agent-session-63-step-4", "deploy-without-verify", ("req-01a1f83b-64aa-7f7c-b632-41e38f1143ff",)),
    ("agent-session-63-step-5", "deploy-without-verify", ("req-01a1f83b-e237-7d22-ab21-8e6651ce5392",)),
    ("agent-session-64-step-7", "deploy-without-verify", ("req-01a1f83f-a951-79a5-bbf7-d54f04f6198f",)),
    (
        "agent-session-68-step-4",
        "long-think-gap",
        (
            "req-01a1f83f-aca3-729b-a0d8-419e853dbd0d",
            "req-01a1f840-546a-7770-81bf-4a89683eea7c",
        ),
    ),
    ("agent-session-68-step-4", "new-error-code", ("req-01a1f840-8e99-7845-847b-54259dd04181",)),
    (
        "b171216aa2156fa3ed6ac36201043ae8",
        "long-think-gap",
        (
            "req-01a1f83c-1d4b-740c-bfcd-129dc6e9a008",
            "req-01a1f83c-ae70-7ba9-b265-d52a051c090a",
        ),
    ),
    (
        "b171216aa2156fa3ed6ac36201043ae8",
        "long-think-gap",
        (
            "req-01a1f83c-f4e2-7dba-877b-fb40b7250e34",
            "req-01a1f83e-ff52-7418-8244-54a3d10f62a2",
        ),
    ),
    ("inc-5436-alice", "deploy-without-verify", ("req-01a1f82f-ba98-774f-80ab-0f6ab622be86",)),
]


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    """The committed samples as the reader indexes them (no cache)."""
    return AuditIndex.load(discover([str(SAMPLES)]), cache=False).frame


@pytest.fixture(scope="module")
def findings(frame: pl.DataFrame) -> dict[str, list[tuple[str, tuple[str | None, ...]]]]:
    """Per trace: its findings as (detector, request ids of the steps), in the detectors' order."""
    result: dict[str, list[tuple[str, tuple[str | None, ...]]]] = defaultdict(list)
    for row in detect_findings(frame).iter_rows(named=True):
        steps = tuple(step["request_id"] for step in row["steps"])
        result[row["trace_id"]].append((row["name"], steps))
    return dict(result)


def _steps(frame: pl.DataFrame, trace_id: str) -> pl.DataFrame:
    return frame.filter(pl.col("trace_id").cast(pl.String) == trace_id).sort("ts", maintain_order=True)


def test_each_incident_is_a_trace_in_the_samples_after_the_workload(frame: pl.DataFrame) -> None:
    """Every incident is one trace of 3 to 25 steps by one operator, and the first incident starts after
    the workload's last step (the healthcheck's included) ended."""
    is_incident = pl.col("trace_id").cast(pl.String).str.starts_with("incident-").fill_null(False)
    ends = pl.col("ts") + pl.duration(milliseconds=pl.col("duration_ms").fill_null(0.0))
    workload_end = frame.filter(~is_incident).select(ends.max()).item()
    first_incident = frame.filter(is_incident).select(pl.col("ts").min()).item()
    assert workload_end < INCIDENTS_START <= first_incident
    assert frame.filter(is_incident)["trace_id"].n_unique() == len(INCIDENTS)
    for incident in INCIDENTS:
        steps = _steps(frame, incident.trace_id)
        assert 3 <= steps.height <= 25, incident.trace_id
        assert steps["operator"].cast(pl.String).unique().to_list() == [incident.operator]


def test_the_workloads_lines_stay_put_and_the_incidents_are_appended() -> None:
    """Per tool, the committed lines are the workload's lines (rotation included) followed by the lines of
    the incident records of that tool, in completion order: adding the incidents moved no earlier line."""
    committed: dict[str, list[bytes]] = defaultdict(list)
    for sample in sample_files(SAMPLES):
        committed[sample.name.split("/")[0]] += sample.lines
    incidents: dict[str, list[bytes]] = defaultdict(list)
    for record in incident_records(INCIDENTS_START, INCIDENTS_SEED):
        incidents[record["tool"]].append(orjson.dumps(record) + b"\n")
    for sample in workload_files():
        tool = sample.name.split("/")[0]
        assert committed[tool] == sample.lines + incidents[tool], tool


def test_the_incidents_findings_are_what_they_show(
    findings: dict[str, list[tuple[str, tuple[str | None, ...]]]],
) -> None:
    """Each incident trace has exactly the findings it was written for (the flapping deploy's second
    failure also changes its exit code from the retried deploy's 75 to 1); the pair of runs has none."""
    names = {
        incident.trace_id: sorted(name for name, _ in findings.get(incident.trace_id, []))
        for incident in INCIDENTS
    }
    assert names == {
        RUN_OK: [],
        RETRY: ["retry-loop"],
        FLAP: ["flapping", "new-error-code"],
        AFTER_VERIFY: ["rollback-after-verify"],
        REUSED_ID: ["duplicate-request-id"],
        RUN_FAIL: [],
    }


def test_the_retry_loop_is_the_same_deploy_failing_three_times_then_working(
    frame: pl.DataFrame, findings: dict[str, list[tuple[str, tuple[str | None, ...]]]]
) -> None:
    """retry-loop names the four runs of the one deploy call: three failed with exit 75, the last worked."""
    (steps,) = [steps for name, steps in findings[RETRY] if name == "retry-loop"]
    runs = _steps(frame, RETRY).filter(pl.col("request_id").is_in(list(steps)))
    assert runs["command"].cast(pl.String).to_list() == ["deploy"] * 4
    assert runs["params"].n_unique() == 1
    assert runs["exit_code"].to_list() == [75, 75, 75, 0]


def test_the_flapping_deploy_is_deploy_rollback_deploy_of_one_target(
    frame: pl.DataFrame, findings: dict[str, list[tuple[str, tuple[str | None, ...]]]]
) -> None:
    """flapping names a deploy, the rollback after it and the deploy after that, of search in staging."""
    (steps,) = [steps for name, steps in findings[FLAP] if name == "flapping"]
    involved = _steps(frame, FLAP).filter(pl.col("request_id").is_in(list(steps)))
    assert involved["command"].cast(pl.String).to_list() == ["deploy", "rollback", "deploy"]
    top = _steps(frame, FLAP).filter(pl.col("parent_request_id").is_null())
    assert top["command"].cast(pl.String).to_list() == ["deploy", "rollback", "deploy", "rollback", "status"]


def test_the_rollback_after_verify_and_the_reused_request_id(
    frame: pl.DataFrame, findings: dict[str, list[tuple[str, tuple[str | None, ...]]]]
) -> None:
    """rollback-after-verify names the successful verify and the rollback; duplicate-request-id names the
    two records of the one id, the only id the samples hold twice."""
    (verify_then_rollback,) = [
        steps for name, steps in findings[AFTER_VERIFY] if name == "rollback-after-verify"
    ]
    involved = _steps(frame, AFTER_VERIFY).filter(pl.col("request_id").is_in(list(verify_then_rollback)))
    assert involved.select("command", "exit_code").rows() == [("verify", 0), ("rollback", 0)]
    (twice,) = [steps for name, steps in findings[REUSED_ID] if name == "duplicate-request-id"]
    assert len(twice) == 2
    assert len(set(twice)) == 1
    counts = frame.drop_nulls("request_id").group_by("request_id").len().filter(pl.col("len") > 1)
    assert counts["request_id"].to_list() == [twice[0]]


def test_the_workloads_findings_are_unchanged(
    findings: dict[str, list[tuple[str, tuple[str | None, ...]]]],
) -> None:
    """The workload's traces have exactly the findings they had before the incidents were added."""
    now = [
        (trace_id, name, steps)
        for trace_id, found in findings.items()
        if not trace_id.startswith("incident-")
        for name, steps in found
    ]
    assert sorted(now, key=repr) == sorted(WORKLOAD_FINDINGS, key=repr)


@pytest.fixture(scope="module")
def pair_diff(frame: pl.DataFrame) -> RunDiff:
    """The failing run compared with its previous similar run, as ``auditview diff B --previous`` does."""
    previous = previous_run(frame, RUN_FAIL)
    assert previous is not None
    return diff_runs(frame, previous.trace_id, RUN_FAIL, previous=previous)


def test_the_failing_runs_previous_similar_run_is_the_working_one(pair_diff: RunDiff) -> None:
    """The same agent ran the same first step before: the working run is the previous similar run."""
    assert pair_diff.previous is not None
    assert (pair_diff.previous.trace_id, pair_diff.previous.rule) == (RUN_OK, PREVIOUS_RULES[0])
    assert pair_diff.a.trace_id == RUN_OK
    assert (pair_diff.summary.failed_then, pair_diff.summary.failed_now) == (0, 3)


def test_the_diff_shows_the_retry_inserted_and_what_changed(pair_diff: RunDiff) -> None:
    """The retried apply is an insertion under the deploy (the apply that worked pairs with the one before);
    the deploy shows the new version and replica count and the newer deployctl; the smoke test fails now;
    the flag step is gone and the rollback is new; the slower migrate contributes most."""
    rows = [
        (p.op, p.tool, p.command, p.b.depth if p.b else p.a.depth if p.a else None) for p in pair_diff.pairs
    ]
    assert rows == [
        ("match", "deployctl", "status", 0),
        ("match", "dbctl", "migrate", 0),
        ("match", "deployctl", "deploy", 0),
        ("insert", "deployctl", "apply", 1),
        ("match", "deployctl", "apply", 1),
        ("match", "verifyctl", "verify", 1),
        ("match", "verifyctl", "smoke-test", 1),
        ("delete", "featureflags", "set", 0),
        ("insert", "rollbackctl", "rollback", 0),
        ("insert", "deployctl", "apply", 1),
        ("insert", "verifyctl", "verify", 1),
        ("match", "deployctl", "status", 0),
    ]
    inserted_apply, paired_apply, deploy, smoke, migrate = (pair_diff.pairs[i] for i in (3, 4, 2, 6, 1))
    assert inserted_apply.b is not None
    assert paired_apply.b is not None
    assert (inserted_apply.b.exit_code, paired_apply.b.exit_code) == (1, 0)
    assert {k: (v.then, v.now) for k, v in deploy.params.changed.items()} == {
        "version": ("v2.4.0", "v2.5.0"),
        "replicas": (4, 6),
    }
    assert {k: (v.then, v.now) for k, v in deploy.fields.items()} == {"version": ("3.4.1", "3.5.0")}
    for failed_now in (deploy, smoke):
        assert failed_now.a is not None
        assert failed_now.b is not None
        assert (failed_now.a.exit_code, failed_now.b.exit_code) == (0, 1)
    assert not migrate.changed
    assert migrate.ratio is not None
    assert migrate.ratio > 10
    biggest = pair_diff.summary.biggest
    assert biggest is not None
    assert (biggest.pair, biggest.what) == (1, "duration")
    assert pair_diff.summary.delta_ms > 30_000


def test_the_samples_readme_names_every_incident() -> None:
    """The samples README lists each incident trace and how to compare the pair of runs."""
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for incident in INCIDENTS:
        assert f"`{incident.trace_id}`" in text
    assert f"auditview diff {RUN_FAIL} --previous sample_logs" in text

"""Slow-step rules: the absolute threshold, the relative p95 rule and the reasons they give."""

from __future__ import annotations

import polars as pl
import pytest

from auditview.core.slow import SlowStepRule
from tests.engine.frames import make_frame


def _usual_then(outlier_ms: float, *, samples: int = 20, tool: str = "deployctl") -> pl.DataFrame:
    """``samples`` records of deployctl/apply at 100..(100+samples-1) ms, then one at ``outlier_ms``."""
    rows = [
        {"request_id": f"u{i}", "tool": tool, "start_ms": i, "duration_ms": 100.0 + i} for i in range(samples)
    ]
    rows.append({"request_id": "x", "tool": tool, "start_ms": samples, "duration_ms": outlier_ms})
    return make_frame(rows)


def _reason(frame: pl.DataFrame, request_id: str) -> str | None:
    row = frame.filter(pl.col("request_id") == request_id).row(0, named=True)
    return row["slow_reason"] if row["slow"] else None


def test_absolute_threshold_marks_steps_over_it() -> None:
    """A step longer than threshold_ms is slow with the reason "over 5s"; one exactly at it is not."""
    frame = make_frame(
        [{"request_id": "a", "duration_ms": 5000.0}, {"request_id": "b", "duration_ms": 5000.5}]
    )
    out = SlowStepRule(p95_factor=None).annotate(frame)
    assert out["slow"].to_list() == [False, True]
    assert out["slow_reason"].to_list() == [None, "over 5s"]


def test_relative_rule_names_the_ratio_and_the_command() -> None:
    """A step well above its command's p95 is slow and says how many times the p95 it took."""
    frame = _usual_then(600.0)
    out = SlowStepRule(threshold_ms=None, p95_factor=2.0, min_samples=20).annotate(frame)
    p95 = out["duration_ms"].quantile(0.95, "linear")
    assert p95 is not None
    assert _reason(out, "x") == f"{600.0 / p95:.1f}× the p95 of deployctl/apply"
    assert out.filter(pl.col("request_id") != "x")["slow"].sum() == 0


def test_relative_rule_needs_enough_samples() -> None:
    """With fewer than min_samples records of a command the relative rule stays silent."""
    frame = _usual_then(600.0, samples=10)
    assert SlowStepRule(threshold_ms=None, p95_factor=1.5, min_samples=20).annotate(frame)["slow"].sum() == 0
    assert SlowStepRule(threshold_ms=None, p95_factor=1.5, min_samples=11).annotate(frame)["slow"].sum() == 1


def test_relative_rule_ignores_tiny_steps_and_zero_p95() -> None:
    """Steps under min_ms, and commands whose p95 is 0 ms, are never relatively slow."""
    tiny = make_frame(
        [{"request_id": f"u{i}", "duration_ms": 1.0} for i in range(30)]
        + [{"request_id": "x", "duration_ms": 9.0}]
    )
    assert SlowStepRule(threshold_ms=None).annotate(tiny)["slow"].sum() == 0
    zeros = make_frame(
        [{"request_id": f"u{i}", "duration_ms": 0.0} for i in range(30)]
        + [{"request_id": "x", "duration_ms": 150.0}]
    )
    assert SlowStepRule(threshold_ms=None).annotate(zeros)["slow"].sum() == 0


def test_both_reasons_are_given_when_both_rules_fire() -> None:
    """A step over the threshold and far above its p95 carries both reasons, threshold first."""
    out = SlowStepRule(threshold_ms=1000).annotate(_usual_then(6000.0))
    reason = _reason(out, "x")
    assert reason is not None
    assert reason.startswith("over 1s; ")
    assert reason.endswith("× the p95 of deployctl/apply")


def test_p95_is_per_tool_and_command() -> None:
    """The p95 of another tool's same-named command does not count."""
    frame = pl.concat(
        [
            _usual_then(120.0, tool="a"),
            _usual_then(5.0, tool="b").with_columns(duration_ms=pl.col("duration_ms") * 10),
        ]
    )
    out = SlowStepRule(threshold_ms=None).annotate(frame)
    assert out["slow"].sum() == 0


def test_reference_frame_supplies_the_usual_duration() -> None:
    """Annotating a slice uses the p95 of the reference frame, not of the slice."""
    whole = _usual_then(600.0)
    one = whole.filter(pl.col("request_id") == "x")
    rule = SlowStepRule(threshold_ms=None)
    assert rule.annotate(one)["slow"].to_list() == [False]
    assert rule.annotate(one, reference=whole)["slow"].to_list() == [True]
    assert rule.annotate(one, reference=whole).columns == [*one.columns, "slow", "slow_reason"]


def test_annotate_works_on_categorical_frames() -> None:
    """Categorical tool/command columns give the same result, including with a reference frame."""
    whole = _usual_then(600.0).with_columns(pl.col("tool", "command").cast(pl.Categorical))
    rule = SlowStepRule(threshold_ms=None)
    assert rule.annotate(whole)["slow"].sum() == 1
    assert rule.annotate(whole.tail(1), reference=whole)["slow"].to_list() == [True]


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (250, "250ms"),
        (0.5, "0.5ms"),
        (1500, "1.5s"),
        (5000, "5s"),
        (60_000, "1m00s"),
        (90_000, "1m30s"),
        (5_400_000, "1h30m"),
        (7_200_000, "2h00m"),
    ],
)
def test_threshold_reason_formats_the_threshold(ms: float, text: str) -> None:
    """The threshold in the reason reads as every duration does (``humanize.format_duration``)."""
    assert SlowStepRule(threshold_ms=ms).threshold_reason() == f"over {text}"


def test_baseline_annotation_equals_reference_annotation() -> None:
    """Annotating new rows against a baseline of the loaded data equals annotating with it as reference."""
    rows = [{"request_id": f"u{i}", "start_ms": i, "duration_ms": 100.0 + i} for i in range(25)]
    rows += [
        {"request_id": f"p{i}", "command": "plan", "start_ms": 30 + i, "duration_ms": 5.0} for i in range(25)
    ]
    rows += [{"request_id": "x", "start_ms": 60, "duration_ms": 900.0}, {"request_id": "y", "start_ms": 61}]
    whole = make_frame(rows)
    rule = SlowStepRule(threshold_ms=None)
    baseline = rule.baseline(whole)
    assert baseline.samples == whole.height
    tail = whole.tail(2)
    expected = rule.annotate(tail, reference=whole)
    assert rule.annotate(tail, baseline=baseline).equals(expected)
    assert expected["slow"].to_list() == [True, False]


def test_categorical_keys_annotate_like_string_keys() -> None:
    """The physical-code join used for Categorical tool/command gives the same slow flags and reasons."""
    rows = [
        {
            "request_id": f"{tool}{i}",
            "tool": tool,
            "command": command,
            "start_ms": i,
            "duration_ms": 100.0 + i,
        }
        for tool in ("deployctl", "verifyctl")
        for command in ("apply", "plan")
        for i in range(21)
    ]
    rows.append({"request_id": "slow", "tool": "verifyctl", "command": "plan", "duration_ms": 700.0})
    rows.append({"request_id": "long", "tool": "dbctl", "command": "apply", "duration_ms": 9000.0})
    rule = SlowStepRule()
    plain = rule.annotate(make_frame(rows))
    categorical = rule.annotate(make_frame(rows, categorical=True))
    assert plain.select("request_id", "slow", "slow_reason").equals(
        categorical.select("request_id", "slow", "slow_reason")
    )
    assert set(plain.filter("slow")["request_id"]) == {"slow", "long"}
    reference = make_frame(rows, categorical=True)
    one = reference.filter(pl.col("request_id") == "long")
    assert rule.annotate(one, reference=reference)["slow_reason"].to_list() == ["over 5s"]

"""Timeline arithmetic on hand-built traces with known answers: offsets, gaps, nesting, critical path."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditview.core.slow import SlowStepRule
from auditview.core.timeline import Timeline, TraceNotFoundError, build_timeline, critical_path_indices
from tests.engine.frames import at, make_frame


def step(
    request_id: str, start_ms: float, duration_ms: float, parent: str | None = None, **extra: object
) -> dict[str, object]:
    """A record of trace t1 starting ``start_ms`` after BASE."""
    return dict(
        request_id=request_id, start_ms=start_ms, duration_ms=duration_ms, parent_request_id=parent, **extra
    )


def timeline(*steps: dict[str, object], rule: SlowStepRule | None = None) -> Timeline:
    return build_timeline(make_frame(list(steps)), "t1", rule)


def by_id(tl: Timeline) -> dict[str, tuple[float, float, int, bool]]:
    return {str(s.request_id): (s.start_ms, s.end_ms, s.depth, s.on_critical_path) for s in tl.steps}


def test_sequential_steps_with_gaps() -> None:
    """Steps one after another: offsets from the first start, the idle gaps between them, all on the path."""
    tl = timeline(step("a", 1000, 100), step("b", 1150, 50), step("c", 1500, 100))
    assert tl.start == at(1000)
    assert tl.end == at(1600)
    assert tl.span_ms == 600.0
    assert [(s.request_id, s.start_ms, s.end_ms) for s in tl.steps] == [
        ("a", 0, 100),
        ("b", 150, 200),
        ("c", 500, 600),
    ]
    assert [
        (g.start_ms, g.end_ms, g.duration_ms, g.after_request_id, g.before_request_id) for g in tl.gaps
    ] == [
        (100, 150, 50, "a", "b"),
        (200, 500, 300, "b", "c"),
    ]
    assert tl.critical_path == ["a", "b", "c"]
    assert (tl.idle_ms, tl.busy_ms) == (350.0, 250.0)


def test_overlapping_steps_have_no_gap_and_a_parallel_step_is_off_the_path() -> None:
    """Overlaps leave no gap; a step fully inside the time of the path is not on it."""
    tl = timeline(step("a", 0, 100), step("b", 50, 250), step("c", 80, 40))
    assert tl.gaps == []
    assert tl.critical_path == ["a", "b"]
    assert by_id(tl)["c"][3] is False
    assert tl.span_ms == 300.0


def test_gap_after_is_the_step_that_ended_last() -> None:
    """The gap after two overlapping steps names the one that ended last, not the one that started last."""
    tl = timeline(step("long", 0, 500), step("short", 100, 50), step("next", 800, 10))
    assert [(g.start_ms, g.end_ms, g.after_request_id, g.before_request_id) for g in tl.gaps] == [
        (500, 800, "long", "next")
    ]


def test_zero_duration_step_splits_a_gap() -> None:
    """An instantaneous step inside idle time is a boundary: two gaps around it."""
    tl = timeline(step("a", 0, 10), step("mark", 50, 0), step("b", 100, 10))
    assert [(g.start_ms, g.end_ms) for g in tl.gaps] == [(10, 50), (50, 100)]


def test_nesting_depth_and_critical_path_through_children() -> None:
    """Children are indented under parents, and the children that kept a parent busy are on the path."""
    tl = timeline(
        step("P", 0, 1000),
        step("C1", 10, 290, parent="P"),
        step("C2", 400, 500, parent="P"),
        step("G", 450, 400, parent="C2"),
        step("X", 1200, 100),
        step("Y", 1250, 10, parent="not-in-this-trace"),
        step("C0", 20, 30, parent="P"),
    )
    steps = by_id(tl)
    assert {k: v[2] for k, v in steps.items()} == {"P": 0, "C1": 1, "C0": 1, "C2": 1, "G": 2, "X": 0, "Y": 0}
    assert tl.critical_path == ["P", "C1", "C2", "G", "X"]
    assert tl.max_depth == 2
    assert [(g.start_ms, g.end_ms, g.after_request_id, g.before_request_id) for g in tl.gaps] == [
        (1000, 1200, "P", "X")
    ]


def test_child_ending_after_its_parent_is_still_walked_from_the_parent_end() -> None:
    """A child that outlives its parent (clock skew, async work) is on the path through the parent."""
    tl = timeline(step("P", 0, 100), step("C", 50, 200, parent="P"))
    assert tl.critical_path == ["P", "C"]
    assert tl.span_ms == 250.0


def test_parent_cycles_and_self_references_do_not_hang() -> None:
    """a -> b -> a and x -> x terminate: the link that would close the cycle is dropped."""
    tl = timeline(step("a", 0, 10, parent="b"), step("b", 5, 10, parent="a"), step("x", 20, 5, parent="x"))
    assert {k: v[2] for k, v in by_id(tl).items()} == {"a": 1, "b": 0, "x": 0}
    assert "x" in tl.critical_path


def test_long_parent_chain_is_handled_without_recursion() -> None:
    """A chain of 3,000 nested steps gets depths 0..2999 and a full critical path."""
    steps = [step("s0", 0, 10_000)] + [
        step(f"s{i}", i, 10_000 - 2 * i, parent=f"s{i - 1}") for i in range(1, 3000)
    ]
    tl = timeline(*steps)
    assert tl.max_depth == 2999
    assert len(tl.critical_path) == 3000


def test_duplicate_request_ids_attach_children_to_the_first() -> None:
    """When a request id repeats, a child's parent is the earliest step with that id."""
    tl = timeline(step("dup", 0, 10), step("dup", 100, 10), step("kid", 105, 2, parent="dup"))
    assert [s.depth for s in tl.steps] == [0, 0, 1]


def test_steps_from_several_tools_and_files_form_one_timeline() -> None:
    """deploy -> verify -> rollback written by three tools into two files is one timeline in start order."""
    frame = make_frame(
        [
            {
                "request_id": "r",
                "tool": "rollbackctl",
                "command": "undo",
                "start_ms": 3000,
                "duration_ms": 500,
                "file_id": 1,
                "offset": 0,
            },
            {
                "request_id": "d",
                "tool": "deployctl",
                "command": "apply",
                "start_ms": 0,
                "duration_ms": 1000,
                "file_id": 0,
                "offset": 0,
            },
            {
                "request_id": "v",
                "tool": "verifyctl",
                "command": "check",
                "start_ms": 1500,
                "duration_ms": 800,
                "exit_code": 1,
                "file_id": 1,
                "offset": 200,
            },
            {"request_id": "other", "trace_id": "t2", "start_ms": 100},
        ]
    )
    tl = build_timeline(frame, "t1")
    assert [(s.request_id, s.tool, s.file_id) for s in tl.steps] == [
        ("d", "deployctl", 0),
        ("v", "verifyctl", 1),
        ("r", "rollbackctl", 1),
    ]
    assert [s.failed for s in tl.steps] == [False, True, False]
    assert tl.tools == ["deployctl", "verifyctl", "rollbackctl"]


def test_sub_millisecond_offsets_are_kept() -> None:
    """Offsets keep microsecond precision."""
    tl = timeline(step("a", 0, 0.25), step("b", 0.5, 0.125))
    assert [(s.start_ms, s.end_ms) for s in tl.steps] == [(0.0, 0.25), (0.5, 0.625)]
    assert [(g.start_ms, g.end_ms) for g in tl.gaps] == [(0.25, 0.5)]


def test_slow_reason_uses_the_whole_frame_for_the_p95() -> None:
    """A step is slow relative to its command across all loaded traces, with the reason on the step."""
    usual = [
        {"request_id": f"u{i}", "trace_id": f"other{i}", "start_ms": i, "duration_ms": 200.0}
        for i in range(30)
    ]
    frame = make_frame(
        [*usual, {"request_id": "x", "trace_id": "t1", "start_ms": 100, "duration_ms": 1000.0}]
    )
    tl = build_timeline(frame, "t1", SlowStepRule(threshold_ms=None))
    assert tl.steps[0].slow_reason == "5.0× the p95 of deployctl/apply"
    assert tl.steps[0].slow is True
    tl = build_timeline(frame, "t1", SlowStepRule(threshold_ms=500, p95_factor=None))
    assert tl.steps[0].slow_reason == "over 500ms"


def test_unknown_or_unusable_trace_ids_raise() -> None:
    """A trace id with no records, or a whitespace-only one, raises TraceNotFoundError."""
    frame = make_frame([step("a", 0, 1), {"request_id": "o", "trace_id": "  "}])
    with pytest.raises(TraceNotFoundError):
        build_timeline(frame, "nope")
    with pytest.raises(TraceNotFoundError):
        build_timeline(frame, "  ")


intervals = st.lists(
    st.tuples(st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=30)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(intervals)
def test_gaps_are_exactly_the_uncovered_time(spans: list[tuple[int, int]]) -> None:
    """For random integer intervals, gaps are the uncovered unit cells between first start and last end."""
    tl = timeline(*(step(f"s{i}", start, length) for i, (start, length) in enumerate(spans)))
    first = min(start for start, _ in spans)
    last = max(start + length for start, length in spans)
    covered = [any(s <= k and k + 1 <= s + n for s, n in spans) for k in range(first, last)]
    expected: list[tuple[float, float]] = []
    for offset, is_covered in enumerate(covered):
        k = first + offset
        if is_covered:
            continue
        if expected and expected[-1][1] == k - first:
            expected[-1] = (expected[-1][0], k + 1 - first)
        else:
            expected.append((k - first, k + 1 - first))
    assert [(g.start_ms, g.end_ms) for g in tl.gaps] == expected
    assert tl.idle_ms + tl.busy_ms == tl.span_ms == last - first


@settings(max_examples=200, deadline=None)
@given(intervals)
def test_flat_critical_path_covers_the_busy_time_with_no_redundant_step(spans: list[tuple[int, int]]) -> None:
    """Without nesting, the path covers exactly the time some step ran, and no path step contains another."""
    starts = [float(s) for s, _ in spans]
    ends = [float(s + n) for s, n in spans]
    path = critical_path_indices(starts, ends, [None] * len(spans))
    cells = range(int(min(starts)), int(max(ends)))
    busy_all = {k for k in cells if any(s <= k < e for s, e in zip(starts, ends, strict=True))}
    busy_path = {k for k in cells if any(starts[i] <= k < ends[i] for i in path)}
    assert busy_path == busy_all
    assert max(range(len(ends)), key=lambda i: (ends[i], -starts[i])) in path
    for i in path:
        for j in path:
            if i != j:
                assert not (
                    starts[i] <= starts[j]
                    and ends[j] <= ends[i]
                    and (starts[i], ends[i]) != (starts[j], ends[j])
                )


def test_derived_times_are_rounded_to_microseconds() -> None:
    """Offsets, ends, gaps, busy and idle time carry 3 decimals: 0.1 + 0.2 shows as 0.3."""
    frame = make_frame(
        [
            {"request_id": "a", "start_ms": 0.0, "duration_ms": 0.05},
            {"request_id": "b", "start_ms": 0.1, "duration_ms": 0.2},
            {"request_id": "c", "start_ms": 0.7, "duration_ms": 0.2},
        ]
    )
    timeline = build_timeline(frame, "t1")
    assert [step.end_ms for step in timeline.steps] == [0.05, 0.3, 0.9]
    assert timeline.span_ms == 0.9
    assert [gap.duration_ms for gap in timeline.gaps] == [0.05, 0.4]
    assert (timeline.busy_ms, timeline.idle_ms) == (0.45, 0.45)

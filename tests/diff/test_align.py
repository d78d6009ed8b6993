"""The engine side of ``auditview diff``: alignment, params changes, the runs and the previous-run rule."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from pathlib import Path

import pytest

from auditview.core import diff as diff_module
from auditview.core.diff import PREVIOUS_RULES, align, diff_runs, param_changes, previous_run, run_side
from auditview.core.timeline import TraceNotFoundError
from tests.diff.conftest import S, load_frame, run, write_log

Alignment = list[tuple[int | None, int | None]]


def _ops(alignment: Alignment) -> str:
    """``=`` pair, ``-`` deletion, ``+`` insertion."""
    return "".join(
        "=" if i is not None and j is not None else ("-" if j is None else "+") for i, j in alignment
    )


def _lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """The textbook LCS length: the oracle for 'as many pairs as possible'."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[len(a)][len(b)]


def _check_valid(a: Sequence[Hashable], b: Sequence[Hashable], alignment: Alignment) -> None:
    """Every index once and in order; only equal items paired."""
    assert [i for i, _ in alignment if i is not None] == list(range(len(a)))
    assert [j for _, j in alignment if j is not None] == list(range(len(b)))
    for i, j in alignment:
        if i is not None and j is not None:
            assert a[i] == b[j]


def test_identical_sequences_pair_every_step() -> None:
    """The same steps in the same order: all pairs, nothing inserted or deleted."""
    steps = ["plan", "apply", "verify"]
    assert align(steps, steps) == [(0, 0), (1, 1), (2, 2)]


def test_inserted_retry_is_one_insertion_not_a_shift() -> None:
    """A retried apply is one insertion; the verify after it still pairs with the verify before."""
    alignment = align(["plan", "apply", "verify", "notify"], ["plan", "apply", "apply", "verify", "notify"])
    assert _ops(alignment) == "==+=="
    assert alignment[3] == (2, 3)


def test_missing_step_is_one_deletion() -> None:
    """A verify that did not run this time is one deletion; the steps after it stay paired."""
    assert _ops(align(["plan", "apply", "verify", "notify"], ["plan", "apply", "notify"])) == "==-="


def test_disjoint_and_empty_runs() -> None:
    """Nothing in common: deletions first, then insertions; an empty side is all insertions or deletions."""
    assert align(["a", "b"], ["c"]) == [(0, None), (1, None), (None, 0)]
    assert align([], ["x", "y"]) == [(None, 0), (None, 1)]
    assert align(["x"], []) == [(0, None)]
    assert align([], []) == []


def test_replaced_block_lists_deletions_before_insertions() -> None:
    """Between two pairs, the steps only in A come before the steps only in B (as in a unified diff)."""
    assert _ops(align(["plan", "x", "y", "verify"], ["plan", "p", "q", "verify"])) == "=--++="


def test_similarity_chooses_among_equally_long_alignments() -> None:
    """Same number of pairs either way: the more alike pair wins; without a preference, the earliest."""
    a, b = ["apply"], ["apply", "apply"]
    assert align(a, b) == [(0, 0), (None, 1)]
    assert align(a, b, lambda i, j: j, max_similarity=1) == [(None, 0), (0, 1)]


def test_similarity_never_costs_a_pair() -> None:
    """However large the likeness of one pair, the alignment keeps the greatest number of pairs."""
    a, b = ["x", "y", "z"], ["y", "z", "x"]
    # Pairing x with x (likeness 7) would lose two pairs (y, z): never chosen.
    alignment = align(a, b, lambda i, j: 7 if a[i] == "x" else 0, max_similarity=7)
    assert sum(1 for i, j in alignment if i is not None and j is not None) == 2
    assert _ops(alignment) == "-==+"


@pytest.mark.parametrize("seed", range(40))
def test_alignment_is_a_minimal_edit_script(seed: int) -> None:
    """Random runs over a small alphabet: as many pairs as the LCS (a minimal insert/delete script)."""
    rng = random.Random(seed)
    a = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
    b = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
    likeness = [[rng.randint(0, 3) for _ in b] for _ in a]
    alignment = align(a, b, lambda i, j: likeness[i][j], max_similarity=3)
    _check_valid(a, b, alignment)
    assert sum(1 for i, j in alignment if i is not None and j is not None) == _lcs_length(a, b)


def test_very_long_runs_fall_back_to_prefix_suffix_and_difflib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the cell limit the alignment is still valid, with the common prefix and suffix paired."""
    monkeypatch.setattr(diff_module, "DP_CELL_LIMIT", 10)
    a = ["s", "a", "b", "c", "d", "e"]
    b = ["s", "a", "x", "c", "d", "e", "e"]
    alignment = align(a, b)
    _check_valid(a, b, alignment)
    assert alignment[:2] == [(0, 0), (1, 1)]
    assert alignment[-1] == (5, 6)


def test_param_changes_are_key_level_with_dotted_paths() -> None:
    """Added, removed and changed keys; nested objects by path; true is not 1; non-objects as one value."""
    changes = param_changes(
        {"env": "prod", "force": True, "limits": {"cpu": 2, "mem": "1G"}, "old": 1},
        {"env": "staging", "force": 1, "limits": {"cpu": 2, "mem": "2G"}, "new": [1, 2]},
    )
    assert changes.added == {"new": [1, 2]}
    assert changes.removed == {"old": 1}
    assert {k: (v.then, v.now) for k, v in changes.changed.items()} == {
        "env": ("prod", "staging"),
        "force": (True, 1),
        "limits.mem": ("1G", "2G"),
    }
    assert not param_changes({"a": {"b": 1}}, {"a": {"b": 1}})
    assert not param_changes(None, {})
    whole = param_changes("not json", {"k": 1})
    assert whole.removed == {"(params)": "not json"}
    assert whole.added == {"k": 1}


def test_run_side_orders_steps_and_measures_the_gap_before(tmp_path: Path) -> None:
    """Steps by start (children after their parent), the gap before each: think time, 0 inside a parent."""
    log = write_log(
        tmp_path,
        run(
            "t1",
            [
                S("d", "plan", ms=100),
                S("d", "deploy", ms=500, gap=2000, children=[S("d", "apply", ms=200, at=10)]),
                S("v", "verify", ms=50, gap=300),
            ],
        ),
    )
    side = run_side(load_frame(log), "t1")
    assert [s.command for s in side.steps] == ["plan", "deploy", "apply", "verify"]
    assert [s.gap_before_ms for s in side.steps] == [None, 2000.0, 0.0, 300.0]
    assert [s.parent_index for s in side.steps] == [None, None, 1, None]
    assert side.steps[2].depth == 1
    assert side.span_ms == 100 + 2000 + 500 + 300 + 50
    with pytest.raises(TraceNotFoundError):
        run_side(load_frame(log), "nope")


def test_nested_step_pairs_under_the_same_parent(tmp_path: Path) -> None:
    """An apply under deploy pairs with the apply under deploy (failed now), not with a rollback's apply."""
    then = run("t1", [S("d", "deploy", ms=900, children=[S("d", "apply", ms=300, at=10)])])
    now = run(
        "t2",
        [
            S("d", "deploy", ms=900, exit=1, children=[S("d", "apply", ms=300, at=10, exit=1)]),
            S("r", "rollback", ms=900, children=[S("d", "apply", ms=300, at=10)]),
        ],
        start_s=60,
    )
    result = diff_runs(load_frame(write_log(tmp_path, then, now)), "t1", "t2")
    ops = [(p.op, p.command, p.b.exit_code if p.b else None) for p in result.pairs]
    assert ops == [
        ("match", "deploy", 1),
        ("match", "apply", 1),
        ("insert", "rollback", 0),
        ("insert", "apply", 0),
    ]


def _previous_fixture(tmp_path: Path) -> Path:
    return write_log(
        tmp_path,
        run("t1-alice-plan", [S("d", "plan"), S("d", "apply")], start_s=0, operator="alice"),
        run("t2-bob-plan", [S("d", "plan")], start_s=100, operator="bob"),
        run("t3-alice-status", [S("d", "status")], start_s=200, operator="alice"),
        run("t4-alice-plan", [S("d", "plan"), S("d", "apply")], start_s=300, operator="alice"),
        run("t5-carol-plan", [S("d", "plan")], start_s=400, operator="carol"),
        run("t6-alice-deploy", [S("d", "deploy")], start_s=500, operator="alice"),
        run("t7-dave-scale", [S("d", "scale")], start_s=600, operator="dave"),
        run("t8-bob-later", [S("d", "plan")], start_s=700, operator="bob"),
    )


def test_previous_run_rules_in_order(tmp_path: Path) -> None:
    """Same first step and operator, else same first step, else same operator; the latest earlier one."""
    frame = load_frame(_previous_fixture(tmp_path))
    found = {
        trace: (p.trace_id, p.rule) if (p := previous_run(frame, trace)) is not None else None
        for trace in ("t4-alice-plan", "t5-carol-plan", "t6-alice-deploy", "t7-dave-scale", "t1-alice-plan")
    }
    assert found == {
        # t2 (bob) is later and has the same first step, but alice's own earlier plan wins
        "t4-alice-plan": ("t1-alice-plan", PREVIOUS_RULES[0]),
        "t5-carol-plan": ("t4-alice-plan", PREVIOUS_RULES[1]),
        "t6-alice-deploy": ("t4-alice-plan", PREVIOUS_RULES[2]),
        "t7-dave-scale": None,
        "t1-alice-plan": None,  # the first run: nothing earlier
    }
    # never a later run, even one that matches better
    previous = previous_run(frame, "t2-bob-plan")
    assert previous is not None
    assert previous.trace_id == "t1-alice-plan"
    assert previous_run(frame, "no-such-trace") is None

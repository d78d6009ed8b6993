"""Generated filters agree with a straightforward Python evaluation of the same records (hypothesis).

The reference evaluator below implements the documented semantics directly, row by row: comparisons on missing
values are false, ``!=`` is ``not =``, free text is a case-insensitive substring search, trace predicates are
computed over each trace's records (an orphan is a trace of its own), and precedence is ``not`` > ``and`` >
``or`` with juxtaposition meaning ``and`` — the same precedence as Python's, which the reference borrows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditview.core.query import compile_filter, frame_helpers, warm_filter_helpers
from tests.engine.frames import make_frame

Row = dict[str, Any]

COMMANDS = ["deploy", "rollback", "verify"]
OPERATORS = ["alice", "agent-1", "Bob"]
TRACES = ["t1", "t2", "t3", "", " "]
DURATIONS = [0.0, 50.0, 1500.0, 7000.0]
MESSAGES = [None, "boom", "Timeout while waiting"]


@st.composite
def records(draw: st.DrawFn) -> list[Row]:
    """A small list of records over tiny domains, so that filters hit and miss."""
    count = draw(st.integers(min_value=1, max_value=12))
    out: list[Row] = []
    for i in range(count):
        params: dict[str, Any] = {}
        env = draw(st.sampled_from(["prod", "staging", None]))
        if env is not None:
            params["env"] = env
        replicas = draw(st.sampled_from([1, 3, None]))
        if replicas is not None:
            params["replicas"] = replicas
        out.append(
            {
                "request_id": f"r{i}",
                "start_ms": draw(st.sampled_from([0, 100, 2000, 65_000])) + i,
                "tool": draw(st.sampled_from(["deployctl", "verifyctl"])),
                "command": draw(st.sampled_from(COMMANDS)),
                "exit_code": draw(st.sampled_from([0, 0, 1, 2])),
                "duration_ms": draw(st.sampled_from(DURATIONS)),
                "operator": draw(st.sampled_from(OPERATORS)),
                "trace_id": draw(st.sampled_from(TRACES)),
                "error_message": draw(st.sampled_from(MESSAGES)),
                "params": params,
            }
        )
    return out


@dataclass(frozen=True)
class Leaf:
    """A filter term: its text and its meaning for one row in the context of its trace."""

    text: str
    holds: Callable[[Row, list[Row]], bool]


def _cmp(op: str, left: Any, right: Any) -> bool:
    if left is None:
        return op == "!="
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _end(row: Row) -> float:
    return float(row["start_ms"]) + float(row["duration_ms"])


def record_leaves() -> st.SearchStrategy[Leaf]:
    """Record-level terms."""
    ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])

    def string_cmp(field: str, values: list[str]) -> st.SearchStrategy[Leaf]:
        return st.builds(
            lambda op, v: Leaf(f"{field}{op}{v}", lambda r, _t: _cmp(op, r[field], v)),
            ops,
            st.sampled_from(values),
        )

    exit_cmp = st.builds(
        lambda op, v: Leaf(f"exit_code{op}{v}", lambda r, _t: _cmp(op, r["exit_code"], v)),
        ops,
        st.sampled_from([0, 1, 2]),
    )
    duration_cmp = st.builds(
        lambda op, v: Leaf(f"duration{op}{v[0]}", lambda r, _t: _cmp(op, r["duration_ms"], v[1])),
        ops,
        st.sampled_from([("50", 50.0), ("1s", 1000.0), ("1.5s", 1500.0), ("7s", 7000.0), ("0ms", 0.0)]),
    )
    env_cmp = st.builds(
        lambda op, v: Leaf(f"params.env{op}{v}", lambda r, _t: _cmp(op, r["params"].get("env"), v)),
        st.sampled_from(["=", "!="]),
        st.sampled_from(["prod", "staging"]),
    )
    replicas_cmp = st.builds(
        lambda op, v: Leaf(f"params.replicas{op}{v}", lambda r, _t: _cmp(op, r["params"].get("replicas"), v)),
        ops,
        st.sampled_from([1, 2, 3]),
    )
    in_list = st.builds(
        lambda neg, vs: Leaf(
            f"command {'not in' if neg else 'in'} ({', '.join(vs)})",
            lambda r, _t: (r["command"] in vs) != neg,
        ),
        st.booleans(),
        st.lists(st.sampled_from(COMMANDS), min_size=1, max_size=3),
    )
    regex = st.builds(
        lambda neg, pattern: Leaf(
            f'operator{"!~" if neg else "~"}"{pattern}"',
            lambda r, _t: (re.search(pattern, r["operator"]) is not None) != neg,
        ),
        st.booleans(),
        st.sampled_from(["^a", "b", "agent-\\d", "(?i)^b"]),
    )

    def free_text(word: str) -> Leaf:
        def holds(r: Row, _t: list[Row]) -> bool:
            columns = [
                r["tool"],
                r["command"],
                r["operator"],
                r["trace_id"],
                r["request_id"],
                r["error_message"],
            ]
            texts = [c for c in columns if c is not None] + [r["params_json"]]
            return any(word.lower() in text.lower() for text in texts)

        return Leaf(word, holds)

    words = st.sampled_from(["deploy", "BOOM", "agent", "timeout", "prod", '"while wait"']).map(
        lambda w: Leaf(w, free_text(w.strip('"')).holds)
    )
    flags = st.sampled_from(
        [
            Leaf("failed", lambda r, _t: r["exit_code"] != 0),
            Leaf("status=ok", lambda r, _t: r["exit_code"] == 0),
            Leaf("status=failed", lambda r, _t: r["exit_code"] != 0),
        ]
    )
    return st.one_of(
        string_cmp("command", COMMANDS),
        string_cmp("operator", OPERATORS),
        exit_cmp,
        duration_cmp,
        env_cmp,
        replicas_cmp,
        in_list,
        regex,
        words,
        flags,
    )


def trace_leaves() -> st.SearchStrategy[Leaf]:
    """Trace-level terms, evaluated over the row's trace."""
    steps = st.builds(
        lambda op, n: Leaf(f"trace.steps{op}{n}", lambda _r, t: _cmp(op, len(t), n)),
        st.sampled_from(["=", ">", "<="]),
        st.integers(min_value=1, max_value=4),
    )
    span = st.builds(
        lambda op, v: Leaf(
            f"trace.duration{op}{v[0]}",
            lambda _r, t: _cmp(op, max(_end(x) for x in t) - min(float(x["start_ms"]) for x in t), v[1]),
        ),
        st.sampled_from([">", "<="]),
        st.sampled_from([("1s", 1000.0), ("1m", 60_000.0), ("100ms", 100.0)]),
    )
    failed = st.just(Leaf("trace.failed", lambda _r, t: any(x["exit_code"] != 0 for x in t)))
    has = record_leaves().map(
        lambda leaf: Leaf(f"trace.has({leaf.text})", lambda _r, t: any(leaf.holds(x, t) for x in t))
    )
    every = record_leaves().map(
        lambda leaf: Leaf(f"trace.all({leaf.text})", lambda _r, t: all(leaf.holds(x, t) for x in t))
    )
    return st.one_of(steps, span, failed, has, every)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, str, list[Leaf]]:
    """(filter text, the equivalent Python boolean expression over leaf indices, the leaves)."""
    leaves: list[Leaf] = []
    parts_text: list[str] = []
    parts_python: list[str] = []
    count = draw(st.integers(min_value=1, max_value=4))
    for position in range(count):
        if position:
            joiner = draw(st.sampled_from(["and", "or", ""]))
            parts_text.append(joiner)
            parts_python.append(joiner or "and")
        negations = draw(st.integers(min_value=0, max_value=2))
        bang = draw(st.booleans())
        parts_text.extend(["!" if bang else "not"] * negations)
        parts_python.extend(["not"] * negations)
        if depth < 2 and draw(st.integers(min_value=0, max_value=4)) == 0:
            text, python, inner = draw(expressions(depth + 1))
            shifted = python
            for index in reversed(range(len(inner))):
                shifted = shifted.replace(f"L[{index}]", f"L[{index + len(leaves)}]")
            leaves.extend(inner)
            parts_text.append(f"({text})")
            parts_python.append(f"({shifted})")
        else:
            leaf = draw(st.one_of(record_leaves(), trace_leaves()) if depth == 0 else record_leaves())
            parts_python.append(f"L[{len(leaves)}]")
            leaves.append(leaf)
            parts_text.append(leaf.text)
    return " ".join(p for p in parts_text if p), " ".join(parts_python), leaves


def reference(rows: list[Row], python: str, leaves: list[Leaf]) -> list[str]:
    """Request ids selected by the reference semantics, in frame order."""
    traces: dict[str, list[Row]] = {}
    for row in rows:
        if row["trace_id"].strip():
            traces.setdefault(row["trace_id"], []).append(row)
    selected = []
    for row in rows:
        trace = traces[row["trace_id"]] if row["trace_id"].strip() else [row]
        values = [leaf.holds(row, trace) for leaf in leaves]
        if eval(python, {"L": values}):  # the test's own generated boolean expression
            selected.append(row["request_id"])
    return selected


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), expressions(), st.booleans(), st.booleans())
def test_generated_filters_agree_with_the_reference_evaluator(
    given_records: list[Row], expression: tuple[str, str, list[Leaf]], categorical: bool, helpers: bool
) -> None:
    """For random records and filters, apply() keeps exactly what the reference evaluator keeps.

    With ``helpers`` the per-frame helpers (encodings, trace codes) are switched on for the small frame.
    """
    text, python, leaves = expression
    frame = make_frame(given_records, categorical=categorical)
    if helpers:
        with helpers_for_small_frames():
            warm_filter_helpers(frame)
            got = compile_filter(text).apply(frame).get_column("request_id").to_list()
    else:
        got = compile_filter(text).apply(frame).get_column("request_id").to_list()
    ordered = {str(r["request_id"]): r for r in given_records}
    rows: list[Row] = []
    params_json = dict(zip(frame["request_id"].to_list(), frame["params"].to_list(), strict=True))
    for request_id in frame.get_column("request_id").to_list():
        row = dict(ordered[request_id])
        row["params_json"] = params_json[request_id]
        rows.append(row)
    assert got == reference(rows, python, leaves), text


@contextmanager
def helpers_for_small_frames() -> Iterator[None]:
    """Switch the per-frame helpers on for frames of any size (hypothesis cannot use monkeypatch)."""
    saved = frame_helpers._HELPER_MIN_ROWS
    frame_helpers._HELPER_MIN_ROWS = 0
    try:
        yield
    finally:
        frame_helpers._HELPER_MIN_ROWS = saved


def test_precedence_matches_python_and_or_not() -> None:
    """`a or b and not c` groups as `a or (b and (not c))`, as the reference assumes."""
    frame_rows = [
        {"request_id": "a", "command": "deploy", "exit_code": 0, "trace_id": "t1"},
        {"request_id": "b", "command": "verify", "exit_code": 1, "trace_id": "t1"},
        {"request_id": "c", "command": "verify", "exit_code": 1, "trace_id": "t2"},
    ]
    frame = make_frame(frame_rows)
    kept = compile_filter("command=deploy or failed and not trace.has(command=deploy)").apply(frame)
    assert kept["request_id"].to_list() == ["a", "c"]

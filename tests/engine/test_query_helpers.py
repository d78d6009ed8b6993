"""Filters evaluated with the per-frame helpers select exactly what the plain expression selects.

The helpers (``auditview.core.query.frame_helpers.FrameHelpers``: distinct-value encodings of the text
columns, trace codes, orphan flags, per-trace aggregates, the slow mask) are only used on frames of at least
``_HELPER_MIN_ROWS`` rows and from a frame's second filter on (or after ``warm_filter_helpers``). These tests
switch them on for small frames with tricky contents and compare every result with the single plain polars
expression (``prepare`` + ``predicate``), and check that a cache never outlives the frame it describes: a
frame grown in place, another frame object or a frame with another schema gets fresh helpers.
"""

from __future__ import annotations

import gc
from typing import Any

import polars as pl
import pytest

from auditview.core.query import compile_filter, frame_helpers, warm_filter_helpers
from auditview.core.slow import SlowStepRule
from tests.engine.frames import make_frame
from tests.engine.test_query import RECORDS, STAGED_FILTERS, STAGED_TEXTS


@pytest.fixture(autouse=True)
def helpers_on_small_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Helpers for frames of any size (the default threshold keeps them off for test-sized frames)."""
    monkeypatch.setattr(frame_helpers, "_HELPER_MIN_ROWS", 0)


def plain_mask(text: str, frame: pl.DataFrame, **kwargs: Any) -> list[bool | None]:
    """The filter as one polars expression (no staging, no helpers)."""
    compiled = compile_filter(text, **kwargs)
    return (
        compiled.prepare(frame.lazy(), frame.schema)
        .select(compiled.predicate(frame.schema).alias("m"))
        .collect()
        .to_series()
        .to_list()
    )


def helper_masks(text: str, frame: pl.DataFrame, **kwargs: Any) -> tuple[list[bool | None], ...]:
    """The mask without helpers (a first filter), then with the helpers a second filter builds, then warm."""
    compiled = compile_filter(text, **kwargs)
    first = compiled.mask(frame).to_list()
    second = compiled.mask(frame).to_list()
    warm_filter_helpers(frame)
    third = compiled.mask(frame).to_list()
    return first, second, third


def assert_same_as_plain(text: str, frame: pl.DataFrame, **kwargs: Any) -> None:
    expected = plain_mask(text, frame, **kwargs)
    for got in helper_masks(text, frame, **kwargs):
        assert got == expected, text
    applied = compile_filter(text, **kwargs).apply(frame)
    assert applied.equals(frame.filter(pl.Series(expected, dtype=pl.Boolean))), text


#: Extra texts for the params column: repeated keys, nesting, escapes, Unicode case, empty object.
MORE_TEXTS = [
    '{"env":"PROD","service":"Payments"}',
    '{"env":"prod","service":"payments","replicas":5}',
    '{"service":"K\u212aelvin"}',
    '{"service":"stra\u00dfe","env":"prod"}',
    '{"env":"prod\\n","x":{"y":[1,2,{"env":"prod"}]}}',
]


def tricky_frame(*, categorical: bool, copies: int = 3, nulls: bool = True) -> pl.DataFrame:
    """Every staged text several times (so that encoding pays), some null params and error messages."""
    texts: list[str | None] = [*STAGED_TEXTS, *MORE_TEXTS]
    records: list[dict[str, Any]] = []
    for copy in range(copies):
        for i in range(len(texts)):
            records.append(
                {
                    "request_id": f"r{copy}-{i}",
                    "trace_id": ["t1", "t2", "", " ", f"t{i % 5}"][(i + copy) % 5],
                    "start_ms": i * 100 + copy,
                    "duration_ms": float((i * 937) % 9000),
                    "exit_code": 1 if i % 7 == 0 else 0,
                    "command": ["deploy", "rollback", "verify"][i % 3],
                    "operator": ["alice", "Agent-7", "bob"][(i + copy) % 3],
                    "error_message": "Timeout while waiting" if i % 11 == 0 else None,
                    "params": {},
                }
            )
    frame = make_frame(records, categorical=categorical)
    params = [texts[int(rid.split("-")[1])] for rid in frame.get_column("request_id").to_list()]
    if nulls:
        params = [None if i % 13 == 5 else value for i, value in enumerate(params)]
    return frame.with_columns(pl.Series("params", params, dtype=pl.String))


FREE_TEXT = [
    "prod",
    "PROD",
    "timeout",
    "kelvin",
    "STRASSE",
    "stra\u00dfe",
    '"\\"env\\""',
    "agent-7",
    "t1",
    "zz",
]
TRACE_FILTERS = [
    "trace.failed",
    "not trace.failed",
    "trace.slow",
    "trace.slow_steps>=1",
    "trace.steps>2",
    "trace.failures=0",
    "trace.tools>1",
    "trace.duration>1s",
    "trace.start<2026-11-20T09:00:01Z",
    "trace.end>=2026-11-20T09:00:05Z",
    "trace.has(command=rollback)",
    "not trace.has(params.env=prod)",
    "trace.all(operator=alice) or trace.has(timeout)",
    "trace.has(slow) and not trace.all(failed)",
    "trace.has(params.replicas>=5) and trace.duration>1s and command=deploy",
]


@pytest.mark.parametrize("text", [*STAGED_FILTERS, *FREE_TEXT, *TRACE_FILTERS, "status=failed or slow"])
@pytest.mark.parametrize("categorical", [False, True], ids=["string", "categorical"])
def test_helpers_give_the_plain_result_on_tricky_frames(text: str, categorical: bool) -> None:
    """Every staged path (dense and sparse encodings, Categorical columns, trace codes) equals the plain."""
    assert_same_as_plain(text, tricky_frame(categorical=categorical))


@pytest.mark.parametrize("text", ["params.env=prod", "prod", "trace.has(command=rollback)", "trace.failed"])
def test_helpers_when_every_value_is_distinct_or_every_value_is_null(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns too diverse to encode are searched row by row; all-null columns take the null's answer."""
    frame = tricky_frame(categorical=False, copies=1)
    assert_same_as_plain(text, frame)
    nothing = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in ("params", "extra"))
    assert_same_as_plain(text, nothing)
    monkeypatch.setattr(frame_helpers, "_ENCODE_MAX_DISTINCT", 1.0)
    assert_same_as_plain(text, tricky_frame(categorical=False, copies=1))


@pytest.mark.parametrize("text", ["params.env=prod", "prod", "trace.failed", "trace.has(failed)", "slow"])
def test_helpers_on_an_empty_frame(text: str) -> None:
    """An empty frame (height 0) works with helpers switched on."""
    frame = tricky_frame(categorical=True).head(0)
    assert_same_as_plain(text, frame)


def test_records_from_the_language_tests_with_helpers() -> None:
    """The language tests' sample records (orphans sharing an empty id, nested params) with helpers."""
    for categorical in (False, True):
        frame = make_frame(RECORDS, categorical=categorical)
        for text in [*TRACE_FILTERS, "params.nested.x=true", "payments", "extra.team=payments"]:
            assert_same_as_plain(text, frame)


def test_slow_mask_is_cached_per_rule() -> None:
    """Two filters with different slow rules on the same frame each get their own rule's answer."""
    frame = tricky_frame(categorical=True)
    strict = SlowStepRule(threshold_ms=1000.0, p95_factor=None)
    for rule in (SlowStepRule(), strict, SlowStepRule()):
        assert_same_as_plain("slow", frame, slow_rule=rule)
        assert_same_as_plain("trace.slow_steps>1", frame, slow_rule=rule)


def test_a_frame_grown_in_place_gets_fresh_helpers() -> None:
    """``extend`` keeps the object but changes the height: nothing cached for the old rows is reused."""
    frame = tricky_frame(categorical=False)
    more = tricky_frame(categorical=False).with_columns(
        pl.col("params").str.replace_all("prod", "staging", literal=True),
        pl.col("trace_id").str.replace("t1", "t9", literal=True),
        (pl.col("exit_code") + 1).alias("exit_code"),
    )
    texts = ["params.env=prod", "staging", "trace.failed", "trace.steps>2", "trace.has(params.env=staging)"]
    for text in texts:
        helper_masks(text, frame)  # builds and uses the helpers of the frame as it is now
    frame.extend(more)
    for text in texts:
        expected = plain_mask(text, frame)
        assert compile_filter(text).mask(frame).to_list() == expected, text
    assert sum(bool(hit) for hit in plain_mask("staging", frame)) > sum(
        bool(hit) for hit in plain_mask("staging", more)
    )


def test_another_frame_or_another_schema_gets_fresh_helpers() -> None:
    """A different object with different rows, or the same rows with a column added, never reuses helpers."""
    first = tricky_frame(categorical=False)
    helper_masks("params.env=prod", first)
    flipped = first.with_columns(pl.col("params").str.replace_all("prod", "qa", literal=True))
    assert compile_filter("params.env=prod").mask(flipped).to_list() == plain_mask("params.env=prod", flipped)
    assert sum(bool(hit) for hit in plain_mask("params.env=prod", flipped)) < sum(
        bool(hit) for hit in plain_mask("params.env=prod", first)
    )
    widened = first.with_columns(pl.lit(1).alias("added"))
    assert compile_filter("prod").mask(widened).to_list() == plain_mask("prod", widened)
    entry = frame_helpers._entry_for(first)
    assert entry.fits(first)
    assert not entry.fits(widened)


def test_helpers_are_dropped_with_their_frame() -> None:
    """The registry holds frames weakly: freeing a frame frees its helpers."""
    frame = tricky_frame(categorical=False)
    warm_filter_helpers(frame)
    key = id(frame)
    assert key in frame_helpers._HELPERS
    del frame
    gc.collect()
    assert key not in frame_helpers._HELPERS


def test_first_filter_on_a_frame_uses_no_helpers() -> None:
    """A frame filtered once (the CLI) builds no encodings; the second filter does."""
    frame = tricky_frame(categorical=False)
    compile_filter("prod").mask(frame)
    entry = frame_helpers._entry_for(frame)
    assert entry._encoded == {}
    compile_filter("prod").mask(frame)
    assert "params" in entry._encoded


def test_the_tricky_frame_exercises_every_kind_of_helper() -> None:
    """Guard for the tests above: dense and sparse encodings, Categorical distincts, trace codes all occur."""
    frame = tricky_frame(categorical=True)
    helper_masks("prod and trace.steps>1 and trace.has(failed)", frame)
    entry = frame_helpers._entry_for(frame)
    params = entry._encoded["params"]
    message = entry._encoded["error_message"]
    assert params is not None
    assert params.rows is None
    assert message is not None
    assert message.rows is not None
    assert {"command", "operator"} <= set(entry._distinct)
    assert entry._orphan is not None
    assert entry._orphan.any()
    assert ("trace.steps", None) in entry._per_trace


@pytest.mark.parametrize("text", ["params.env=prod", "prod", "trace.failed", "trace.has(params.env=staging)"])
def test_hash_collisions_fall_back_to_exact_encoding(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """When different values share a hash, the encoding is built from the values themselves."""
    monkeypatch.setattr(frame_helpers, "_value_hashes", lambda values: values.hash() % 3)
    frame = tricky_frame(categorical=False)
    assert_same_as_plain(text, frame)
    codes = frame_helpers._entry_for(frame).trace_codes()
    assert codes.values.gather(codes.codes).eq_missing(frame.get_column("trace_id")).all()


@pytest.mark.parametrize(
    "text",
    [
        "params.replicas>=5",
        "params.replicas=null",
        "params.replicas!=null",
        "params.replicas=7",
        "params.n>0",
    ],
)
def test_rare_key_prefilter_keeps_escaped_nested_and_null_texts_exact(text: str) -> None:
    """A key few texts hold is prefiltered by its literal text or a backslash; escaped keys still count."""
    rare = [
        '{"r\\u0065plicas":7}',
        '{"a":{"replicas":9}}',
        '{"replicas":5}',
        '{"replicas":null}',
        '{"replicas":5,"replicas":1}',
        '{"x":"replicas"}',
        None,
    ]
    texts = [*rare, *(['{"env":"x"}', "{}", None, '{"env":"y","n":1}'] * 6)]
    records = [{"request_id": f"r{i}", "trace_id": f"t{i % 4}", "params": {}} for i in range(len(texts))]
    frame = make_frame(records).with_columns(pl.Series("params", texts, dtype=pl.String))
    assert_same_as_plain(text, frame)

"""Lines with unknown top-level keys, whose ``extra`` the fast paths take from a per-line decode (the other
fields proven by their key counts): rows, ``extra`` included, and rejects are the reference's, whatever the
keys' places, duplicates, nesting, text or layout; and such lines no longer go to the per-line reference."""

from __future__ import annotations

import json
import random
from collections.abc import Collection
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditview.core.parse import parse_chunk
from auditview.source.types import Chunk
from tests.engine.spies import exact_lines
from tests.engine.test_parse_differential import GATEKEEPER, JSON_VALUES, SOURCE, assert_same_as_contract

#: Projections that want ``extra`` or ``params`` (the typed read's full screen), and one that wants neither.
EXTRA_PROJECTIONS: list[Collection[str] | None] = [
    None,
    {"extra"},
    {"params", "extra", "derived"},
    {"params", "error_message"},
    {"ts", "tool", "request_id", "extra", "warnings"},
]
#: Unknown keys (and keys the reader reads only sometimes: an alias of a field the record has, ``meta``).
UNKNOWN_KEYS = st.sampled_from(
    [
        "x_agent", "ticket", "labels", "retry", "é-clé", "日本", "a b", ":k", "", "message", "type",
        "ts", "cmd", "requestId", "hostname", "err", "args", "meta", "Tool", "params ", "x\\y", 'q"uote',
    ]
)  # fmt: skip
UNKNOWN_VALUES = st.one_of(
    JSON_VALUES,
    st.text(max_size=12),
    st.sampled_from(["é", "\u2028", 'say "hi"', "a\\b", "\x01", '"tool":1', "null", "{}", "[1]"]),
    st.dictionaries(st.sampled_from(["tool", "params", "x", "timestamp"]), JSON_VALUES, max_size=2),
)


def _record(rng: random.Random, request_id: str) -> dict[str, Any]:
    """A record the writer contract accepts, sometimes with an error object, host or parent."""
    record: dict[str, Any] = {
        "timestamp": "2026-11-27T10:00:00.123456Z", "tool": "deployctl", "command": "apply",
        "params": rng.choice([{}, {"env": "prod"}, {"env": "prod", "limits": {"cpu": 2}}, {"tool": "x"}]),
        "request_id": request_id, "trace_id": "t-1", "version": "1.0.0", "exit_code": 0, "ok": True,
        "duration_ms": 12.5, "operator": "alice",
    }  # fmt: skip
    if rng.random() < 0.3:
        record.update(exit_code=1, ok=False, error={"type": "DeployError", "message": "rollout failed"})
    if rng.random() < 0.5:
        record.update(host="h1", pid=42, schema_version=1)
    if rng.random() < 0.2:
        record["parent_request_id"] = "req-0"
    return record


def _serialise(items: list[tuple[str, Any]], style: int) -> bytes:
    """Key/value pairs (duplicates kept) as compact orjson-like text, ``json.dumps`` blanks, or ASCII
    escapes."""
    if style == 0:
        return (
            "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_dumps(v)}" for k, v in items) + "}"
        ).encode()
    if style == 1:
        return ("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in items) + "}").encode()
    return (
        "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in items) + "}"
    ).encode()


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@st.composite
def lines_with_unknown_keys(draw: st.DrawFn) -> list[bytes]:
    """Writer-valid records with unknown keys at random places (also repeated), some in another producer's
    shape (a time with an offset, shuffled keys) so that the text read decides them."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    foreign = draw(st.booleans())
    out: list[bytes] = []
    for number in range(draw(st.integers(1, 16))):
        record = _record(rng, f"req-{number}")
        if foreign:
            record["timestamp"] = rng.choice(["2026-11-27T10:00:00.123+00:00", "2026-11-27 12:00:00+02:00"])
        items = list(record.items())
        if foreign or rng.random() < 0.3:
            rng.shuffle(items)
        for _ in range(draw(st.integers(0, 3))):
            items.insert(rng.randrange(len(items) + 1), (draw(UNKNOWN_KEYS), draw(UNKNOWN_VALUES)))
        if rng.random() < 0.15 and len(items) > 1:  # an unknown key again, with another value
            extras = [item for item in items if item[0] not in record]
            if extras:
                items.insert(rng.randrange(len(items) + 1), (rng.choice(extras)[0], draw(UNKNOWN_VALUES)))
        out.append(_serialise(items, draw(st.integers(0, 2))).replace(b"\n", b" "))
    return out


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(lines_with_unknown_keys(), st.sampled_from(EXTRA_PROJECTIONS))
def test_unknown_keys_give_the_references_extra(lines: list[bytes], columns: Collection[str] | None) -> None:
    """Unknown keys anywhere, repeated, nested, unicode or escaped, in every layout: as the reference."""
    assert_same_as_contract(lines, columns=columns)
    assert_same_as_contract(lines, source=GATEKEEPER, columns=columns)


def _plain(number: int, layout: str) -> bytes:
    """A writer line with two unknown keys (a nested object, a string), in the writer's, a ``json.dumps`` or
    another producer's layout."""
    record = _record(random.Random(number), f"req-{number}")
    record["x_agent"] = {"framework": "agentkit", "turn": number, "tags": ["a", "é"]}
    record["ticket"] = f"OPS-{number}"
    if layout == "writer":
        return orjson.dumps(record)
    if layout == "foreign":  # (an error object is the reference's there: the error as a string)
        record["timestamp"] = "2026-11-27T10:00:00.123+00:00"
        if "error" in record:
            record["error"] = record["error"]["message"]
        return json.dumps(dict(reversed(list(record.items()))), ensure_ascii=False).encode()
    return json.dumps(record, ensure_ascii=False).encode()


@pytest.mark.parametrize("layout", ["writer", "spaced", "foreign"])
def test_unknown_keys_do_not_take_the_per_line_reference(
    layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines whose only oddity is unknown top-level keys are decided by the fast paths (their ``extra`` from
    a per-line decode), in every projection that wants ``extra``: none reaches ``parse_lines_exact``."""
    lines = [_plain(number, layout) for number in range(60)]
    for columns in EXTRA_PROJECTIONS:
        assert_same_as_contract(lines, columns=columns)
    seen = exact_lines(monkeypatch)
    for columns in EXTRA_PROJECTIONS:
        frame, rejects = parse_chunk(
            Chunk(SOURCE, 0, 1, b"".join(line + b"\n" for line in lines)), 0, columns
        )
        assert frame.height == 60
        assert not rejects
        if columns is None or "extra" in columns:
            assert frame["extra"].to_list()[:2] == [
                orjson.dumps(
                    {key: value for key, value in json.loads(line).items() if key in ("x_agent", "ticket")}
                ).decode()
                for line in lines[:2]
            ]
    assert seen == []

"""The fast parser against the contract: for random and mutated lines it accepts exactly what
``contract.parse_line`` accepts, with the same field values, and it never crashes on corrupt bytes."""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditview.contract import ContractError
from auditview.core.parse import _line_table, parse_chunk, parse_chunk_exact
from auditview.demo.generate import generate_records
from auditview.reader_contract import ENV_FIELDS, read_line, reset_active_field_map
from auditview.source.types import Chunk, Reject, SourceFile
from tests.engine.foreign import ForeignLine, corpus, expected_view, index_row_view, writer_line
from tests.engine.spies import exact_lines

SOURCE = SourceFile(Path("audit.jsonl"), "audit.jsonl")
KNOWN = (
    "timestamp", "tool", "command", "params", "exit_code", "duration_ms", "request_id", "trace_id", "version",
    "operator", "ok", "error", "parent_request_id", "host", "pid", "schema_version", "truncated",
)  # fmt: skip

TIMESTAMPS = st.sampled_from(
    [
        "2026-11-27T10:00:00.123456Z",
        "2026-11-27T10:00:00Z",
        "2026-11-27T10:00:00.1Z",
        "2026-11-27T10:00:00.123456789Z",
        "2026-11-27t10:00:00z",
        "2026-11-27 10:00:00+02:00",
        "2026-11-27T10:00:00-0530",
        "2026-11-27T10:00:60Z",
        "2026-02-30T10:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T10:00:00",
        "2026-11-27T10:00:00Z\n",
        "２026-11-27T10:00:00Z",
        "0001-01-01T00:30:00+01:00",
        "0000-01-01T00:00:00Z",
        "0000-06-01T00:00:00.5Z",
        "9999-12-31T23:59:59-01:00",
        "",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 65), max_value=1 << 65),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["", ":8080", 'say "hi"', "a\\b", "é", "\u2028", "\x01", "tool", "version"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["a", "b", "version", "tool", "type", "params", ":k", "x y"]), inner, max_size=3
        ),
    ),
    max_leaves=6,
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A record that is usually valid, with some fields replaced by odd values, dropped or added."""
    record: dict[str, Any] = {
        "timestamp": draw(TIMESTAMPS) if draw(st.integers(0, 3)) == 0 else "2026-11-27T10:00:00.5Z",
        "tool": draw(st.sampled_from(["deployctl", "dbctl", "é-tool"])),
        "command": "apply",
        "params": draw(
            st.dictionaries(st.sampled_from(["env", "version", "n", "tool"]), JSON_VALUES, max_size=3)
        ),
        "request_id": "req-1",
        "trace_id": draw(st.sampled_from(["t-1", "", " "])),
        "version": "1.2.3",
        "exit_code": draw(st.sampled_from([0, 1, 130, -1])),
        "ok": True,
        "duration_ms": draw(st.sampled_from([0, 12.5, 1e-7, 3, 1e300, -0.0])),
        "operator": "alice",
    }
    for name in draw(st.lists(st.sampled_from(KNOWN), max_size=2)):
        if draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = draw(JSON_VALUES)
    if draw(st.integers(0, 4)) == 0:
        record["error"] = {"type": draw(SCALARS), "message": "failed"}
    if draw(st.integers(0, 5)) == 0:
        record[draw(st.sampled_from(["ticket", "labels", "x"]))] = draw(JSON_VALUES)
    if draw(st.integers(0, 5)) == 0:
        record["host"] = draw(st.sampled_from([None, "h1"]))
    return record


def _serialise(record: dict[str, Any], style: int, rng: random.Random) -> bytes:
    """Write a record the way different writers might: orjson, spaced json, ASCII-escaped, shuffled keys."""
    items = list(record.items())
    if style == 3:
        rng.shuffle(items)
    if style == 4 and items:
        # a duplicate key: the same name again with another value
        name, _ = items[rng.randrange(len(items))]
        items.insert(rng.randrange(len(items) + 1), (name, rng.choice([None, 1, "x", 2.5, {}])))
    if style in (3, 4):
        body = ",".join(f"{json.dumps(key)}:{json.dumps(value)}" for key, value in items)
        return ("{" + body + "}").encode()
    if style == 1:
        return json.dumps(record).encode()
    if style == 2:
        return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode()
    try:
        return orjson.dumps(record)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def _mutate(line: bytes, rng: random.Random) -> bytes:
    """Damage a line the way real logs get damaged (or add a JSON subtlety that must still be decided)."""
    kind = rng.randrange(10)
    if kind == 0 and line:
        position = rng.randrange(len(line))
        return line[:position] + bytes([rng.randrange(256)]) + line[position + 1 :]
    if kind == 1:
        return line[: rng.randrange(len(line) + 1)]
    if kind == 2:
        position = rng.randrange(len(line) + 1)
        return line[:position] + b"\0" * rng.randrange(1, 5) + line[position:]
    if kind == 3:
        return line.replace(
            b'"exit_code":0', rng.choice([b'"exit_code":0.0', b'"exit_code":1e3', b'"exit_code":-0'])
        )
    if kind == 4:
        return (
            rng.choice([b" ", b"\t", b"\r", b"\xef\xbb\xbf"]) + line + rng.choice([b"", b" ", b"\r", b"\x0c"])
        )
    if kind == 5:
        return line.replace(b'"tool"', b'"t\\u006fol"').replace(b"alice", b"\\ud800")
    if kind == 6:
        return b"[" * rng.randrange(1000, 1100) + b"]" * rng.randrange(1000, 1100)
    if kind == 7:
        return rng.choice([b"", b" ", b"null", b"[]", b"{}", b"1", b'"x"', b"{}{}"])
    return line


def _lines(data: st.DataObject) -> list[bytes]:
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    out: list[bytes] = []
    for record in data.draw(st.lists(records(), min_size=1, max_size=24)):
        line = _serialise(record, rng.randrange(6), rng)
        if rng.random() < 0.3:
            line = _mutate(line, rng)
        out.append(line.replace(b"\n", b" "))
    return out


def _accepts(line: bytes) -> bool:
    """Whether the reader contract makes the line a record (a JSON object with a usable time)."""
    try:
        read_line(line, path=SOURCE.log_key)
    except ContractError:
        return False
    return True


def _comparable(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows to compare: ``params`` as its exact text (both paths keep the same text for a line), ``extra``
    decoded."""
    rows = frame.with_columns(pl.col(pl.Categorical).cast(pl.String)).to_dicts()
    for row in rows:
        if "extra" in row:
            row["extra"] = orjson.loads(row["extra"]) if row["extra"] is not None else None
    return rows


def assert_same_as_contract(
    lines: list[bytes], *, source: SourceFile = SOURCE, columns: Collection[str] | None = None
) -> tuple[pl.DataFrame, list[Reject]]:
    """parse_chunk equals parse_chunk_exact on these lines (in a chunk at line 5 of ``source``, projected to
    ``columns``), and accepts exactly what the reader contract accepts; returns parse_chunk's rows and
    rejects."""
    chunk = Chunk(source, 10, 5, b"".join(line + b"\n" for line in lines))
    fast, fast_rejects = parse_chunk(chunk, 2, columns)
    exact, exact_rejects = parse_chunk_exact(chunk, 2, columns)
    assert [(r.line, r.offset, r.reason, r.raw) for r in fast_rejects] == [
        (r.line, r.offset, r.reason, r.raw) for r in exact_rejects
    ]
    assert fast.schema == exact.schema
    assert _comparable(fast) == _comparable(exact)
    accepted = [index + 5 for index, line in enumerate(lines) if _accepts(line)]
    assert fast["line"].to_list() == accepted
    assert fast.height + len(fast_rejects) == len(lines)
    return fast, fast_rejects


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.data())
def test_fast_parser_equals_contract(data: st.DataObject) -> None:
    """For random, reordered, duplicated, escaped and damaged lines the fast path decides as the contract."""
    assert_same_as_contract(_lines(data))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.data())
def test_crlf_lines_are_decided_like_the_contract(data: st.DataObject) -> None:
    """Every line ending in ``\\r\\n`` (a log written on Windows): the fast path takes such a chunk and still
    decides as the contract, with the ``\\r`` in each line's bytes."""
    assert_same_as_contract([line.replace(b"\r", b" ") + b"\r" for line in _lines(data)])


def test_crlf_chunk_gets_a_line_table_whose_lengths_keep_the_carriage_return() -> None:
    """The split of a CRLF chunk: text without the ``\\r``, lengths and starts of the raw lines with it; a
    chunk mixing endings, or with a ``\\r`` inside a line, is not split (the contract decides every line)."""
    table = _line_table(b'{"a":1}\r\n{}\r\n\r\n')
    assert table is not None
    assert table.select("line", "length", "start").rows() == [('{"a":1}', 8, 0), ("{}", 3, 9), ("", 1, 13)]
    assert _line_table(b'{"a":1}\r\n{}\n') is None
    assert _line_table(b'{"a":\r1}\r\n') is None
    assert _line_table(b"\xef\xbb\xbf{}\n{}\n{}\n") is None  # a byte-order mark is dropped by the reader


def test_json_subtleties_are_decided_like_the_contract() -> None:
    """Duplicate keys, nested known names, numbers as strings, 1.0/1e3 exit codes, escapes: as contract."""
    base = orjson.dumps(
        {
            "timestamp": "2026-11-27T10:00:00Z",
            "tool": "t",
            "command": "c",
            "params": {"version": "9", "tool": {"exit_code": 1}},
            "exit_code": 0,
            "duration_ms": 5,
            "request_id": "r",
            "trace_id": "x",
            "version": "1",
            "operator": "o",
        }
    )
    variants = [
        base,
        base.replace(b'"tool":"t"', b'"tool":"t","tool":"u"'),
        base.replace(b'"tool":"t"', b'"tool":"t","tool":null'),
        base.replace(b'"tool":"t"', b'"tool":null,"tool":"t"'),
        base.replace(b'"tool":"t"', b'"tool":5'),
        base.replace(b'"exit_code":0', b'"exit_code":1.0'),
        base.replace(b'"exit_code":0', b'"exit_code":1e3'),
        base.replace(b'"exit_code":0', b'"exit_code":"0"'),
        base.replace(b'"duration_ms":5', b'"duration_ms":true'),
        base.replace(b'"duration_ms":5', b'"duration_ms":"5"'),
        base.replace(b'"operator":"o"', b'"operator":"\\ud800"'),
        base.replace(b'"operator":"o"', b'"operator":"\\ud83d\\ude00"'),
        base.replace(b'"operator":"o"', b'"o\\u0070erator":"o"'),
        base.replace(b'"operator":"o"', b'"operator":"o","host":7'),
        base.replace(b'"operator":"o"', b'"operator":"o","pid":18446744073709551615'),
        base.replace(b'"operator":"o"', b'"operator":"o","pid":4242,"schema_version":1,"truncated":false'),
        base.replace(b'"operator":"o"', b'"operator":"o","pid":1.0'),
        base.replace(b'"operator":"o"', b'"operator":"o","pid":1e3'),
        base.replace(b'"operator":"o"', b'"operator":"o","pid":true'),
        base.replace(b'"operator":"o"', b'"operator":"o","pid":"7"'),
        base.replace(b'"operator":"o"', b'"operator":"o","pid":null'),
        base.replace(b'"operator":"o"', b'"operator":"o","schema_version":-0'),
        base.replace(b'"operator":"o"', b'"operator":"o","truncated":1'),
        base.replace(b'"operator":"o"', b'"operator":"o","truncated":"true"'),
        base.replace(b'"operator":"o"', b'"operator":"o","zz":{"version":null}'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":1,"message":"m"}'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":"E","message":"m"}'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":"E"}'),
        # a top-level "message" beside an error without one: an extra field, not the error's message
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":"E"},"message":"m"'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":"E","type":"F","message":"m"}'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":"E","message" :5,"message":"m"}'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":"E","message":1.50}'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":"E","message":{"a":1}}'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"message":"m","type":":E"}'),
        base.replace(b'"operator":"o"', b'"operator":"o","error":{"type":"E","message":"m"},"error":null'),
        base.replace(b'"params":{', b'"params":{"error":{"type":"E","message":"m"},'),
        # params text as written (1.50, repeated keys), also on lines the contract decides (extra fields)
        base.replace(b'"params":{', b'"params":{"n":1.50,"n":2,'),
        base.replace(b'"params":{', b'"params":{"n":1.50,"n":2,').replace(
            b'"operator":"o"', b'"operator":"o","x":1'
        ),
        base.replace(b'"params":{', b'"params": {"n": 1.50, '),
        base.replace(b'"params":{', b'"params":{"n":"\\u00e9",'),
        base.replace(b'"params":{', b'"zz":{"params":{"a":1}},"params":{'),
        base.replace(b'"version":"9"', b'"version":":9"'),
        base.replace(b'{"version":"9"', b'{"a":[":x"],"version":"9"'),
        base.replace(b":", b" : "),
        b"",
        b"   ",
    ]
    assert_same_as_contract(variants)


def test_corruption_fuzz_recovers_every_undamaged_line() -> None:
    """Byte flips, NUL runs and cut lines never crash the parser, and every undamaged valid line is kept."""
    rng = random.Random(1234)
    good = [
        orjson.dumps(
            {
                "timestamp": f"2026-11-27T10:00:{i % 60:02d}Z",
                "tool": "t",
                "command": "c",
                "params": {"i": i},
                "exit_code": 0,
                "duration_ms": i,
                "request_id": f"r{i}",
                "trace_id": "x",
                "version": "1",
                "operator": "o",
            }
        )
        for i in range(400)
    ]
    data = bytearray(b"".join(line + b"\n" for line in good))
    for _ in range(60):
        position = rng.randrange(len(data))
        action = rng.randrange(3)
        if action == 0:
            data[position] = rng.randrange(256)
        elif action == 1:
            data[position:position] = b"\0" * rng.randrange(1, 40)
        else:
            data[position : position + rng.randrange(1, 200)] = b""
    chunk = Chunk(SOURCE, 0, 1, bytes(data))
    fast, rejects = parse_chunk(chunk, 0)
    exact, exact_rejects = parse_chunk_exact(chunk, 0)
    assert _comparable(fast) == _comparable(exact)
    assert len(rejects) == len(exact_rejects)
    survivors = {line for line in bytes(data).split(b"\n") if line in set(good)}
    assert set(fast["request_id"].to_list()) >= {orjson.loads(line)["request_id"] for line in survivors}
    assert fast.height + len(rejects) == bytes(data).count(b"\n")


# -- other producers' lines ---------------------------------------------------------------------------------

#: A log whose records name no tool take it from the file: ``gatekeeper``.
GATEKEEPER = SourceFile(Path("logs/gatekeeper/audit.jsonl"), "logs/gatekeeper/audit.jsonl")
#: Lines of our writer (``auditview.demo.generate``), with what they read as.
WRITER_LINES = [writer_line(line) for line in generate_records(300, seed=5)]
#: Projections that take each of the fast paths (the writer's layout read off the text, the layout decoded,
#: the general path without and with params).
PROJECTIONS: list[Collection[str] | None] = [
    None,
    {"ts", "duration_ms"},
    {"ts", "tool", "host", "exit_code"},
    {"host", "parent_request_id", "derived", "warnings"},
    {"error_type", "error_message", "trace_id"},
    {"params", "extra", "derived"},
]


def assert_rows_are_the_oracle(lines: list[ForeignLine], rows: pl.DataFrame, rejects: list[Reject]) -> None:
    """The rows and rejects of ``lines`` (parsed as a chunk from line 5) are what the corpus says they are."""
    by_line = {row["line"]: row for row in _comparable_rows(rows)}
    reasons = {reject.line: reject.reason for reject in rejects}
    for number, line in enumerate(lines, start=5):
        if line.expected is None:
            assert line.reject_reason in reasons[number], line.line
        else:
            assert index_row_view(by_line[number]) == expected_view(line.expected), line.line


def _comparable_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String)).to_dicts()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_foreign_lines_among_writer_lines_are_decided_like_the_contract(seed: int) -> None:
    """Go, Node, Python, hand-written, logfmt-shipped and response lines (and garbage) between our writer's
    lines: the fast paths decide as the reader contract, in every projection, and the rows are what each
    producer meant."""
    rng = random.Random(seed)
    lines = corpus(seed, 40, path_tool="gatekeeper") + rng.sample(WRITER_LINES, rng.randrange(0, 80))
    rng.shuffle(lines)
    raw = [line.line for line in lines]
    rows, rejects = assert_same_as_contract(raw, source=GATEKEEPER)
    assert_rows_are_the_oracle(lines, rows, rejects)
    for columns in PROJECTIONS[1:]:
        assert_same_as_contract(raw, source=GATEKEEPER, columns=columns)


def test_each_producer_among_writer_lines_reads_as_meant() -> None:
    """Blocks of one producer's lines inside a chunk of writer lines: each block reads as its oracle."""
    for producer in ("go", "node", "python", "seed", "logfmt", "response", "odd", "garbage"):
        lines = (
            WRITER_LINES[:60]
            + corpus(7, 25, path_tool="gatekeeper", producers=[producer])
            + WRITER_LINES[60:120]
        )
        rows, rejects = assert_same_as_contract([line.line for line in lines], source=GATEKEEPER)
        assert_rows_are_the_oracle(lines, rows, rejects)


@pytest.fixture
def field_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean field map for the test (no config file); set ``AUDITVIEW_FIELDS`` then call
    ``reset_active_field_map()``. The map is forgotten again afterwards."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv(ENV_FIELDS, raising=False)
    reset_active_field_map()
    yield monkeypatch
    reset_active_field_map()


def _writer_valid(request_id: str, **fields: Any) -> bytes:
    """A compact line the writer contract accepts (without ``host``), plus ``fields``."""
    record: dict[str, Any] = {
        "timestamp": "2026-11-27T10:00:00.123456Z", "tool": "deployctl", "command": "apply",
        "params": {"env": "prod"}, "exit_code": 0, "duration_ms": 12.5, "request_id": request_id,
        "trace_id": "t-1", "version": "1.0.0", "operator": "alice", "ok": True, "pid": 7,
    }  # fmt: skip
    return orjson.dumps({**record, **fields})


def test_user_mapping_of_an_optional_field_keeps_lines_off_the_fast_path(
    field_mapping: pytest.MonkeyPatch,
) -> None:
    """With ``--field host=machine``, writer-valid lines that carry ``machine`` (and no ``host``) are decided
    by the reader contract: ``host`` comes from ``machine``, in every projection."""

    field_mapping.setenv(ENV_FIELDS, "host=machine")
    reset_active_field_map()
    mapped = [_writer_valid(f"req-{i}", machine=f"m-{i}") for i in range(40)]
    writer = [line.line for line in WRITER_LINES if line.expected and not line.expected.extra][:40]
    lines = [line for pair in zip(writer, mapped, strict=True) for line in pair]
    for columns in PROJECTIONS:
        assert_same_as_contract(lines, columns=columns)
    rows, rejects = assert_same_as_contract(lines, columns={"host", "derived"})
    assert rejects == []
    assert rows["host"].cast(pl.String).to_list()[1::2] == [f"m-{i}" for i in range(40)]
    assert rows["derived"].to_list()[1::2] == ["host<-machine"] * 40
    assert rows["derived"].to_list()[0::2] == [None] * 40

    seen = exact_lines(field_mapping)
    parse_chunk(Chunk(SOURCE, 0, 1, b"".join(line + b"\n" for line in lines)), 0)
    assert sorted(seen) == sorted(mapped)  # the mapped lines took the reference path, the writer's did not


def test_user_mapping_to_another_fields_key_is_applied_by_the_fast_paths(
    field_mapping: pytest.MonkeyPatch,
) -> None:
    """A mapping of an optional field to another field's own key, which every writer line has
    (``parent_request_id=request_id``), is applied by the fast paths as by the reader contract, in every
    projection."""
    field_mapping.setenv(ENV_FIELDS, "parent_request_id=request_id")
    reset_active_field_map()
    lines = [line.line for line in WRITER_LINES[:60]]
    for columns in PROJECTIONS:
        assert_same_as_contract(lines, columns=columns)


def test_huge_duration_is_decided_like_the_contract() -> None:
    """A writer-valid line with a duration beyond 1e300 ms reads the same on the fast path and the
    reference."""
    assert_same_as_contract([_writer_valid("req-1", duration_ms=1e301, host="h")] * 3)


def test_epoch_text_past_the_microsecond_range_is_decided_like_the_contract() -> None:
    """A decimal epoch whose microseconds overflow 64 bits (found by the pushdown property test) reads as the
    reference reads it, instead of failing the vectorised reader's cast; the chunk goes to that reader
    because an ``error`` string makes the writer contract's typed read refuse it."""
    lines = [
        b'{"timestamp": "9223400000000000000000.5", "tool": "t", "error": "x"}',
        b'{"ts": 1764237600, "tool": "t"}',
        b'{"time": "-9300000000000000000000.25", "tool": "t", "error": "y"}',
    ]
    assert_same_as_contract(lines)


def test_json_dumps_spacing_with_error_objects_reads_like_the_contract_without_the_per_line_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lines as ``json.dumps`` writes them (a blank after every ``:`` and ``,``), with nested params and error
    objects, read as the reference reads them, and every one is decided by the vectorised paths: none is left
    to the per-line reader (that was 5 % of such a log, and most of its cold time)."""

    lines = [
        json.dumps(json.loads(_writer_valid(f"req-{i}", params={"env": "prod", "limits": {"cpu": i}})))
        for i in range(40)
    ]
    lines += [
        json.dumps(
            json.loads(
                _writer_valid(
                    f"err-{i}",
                    exit_code=1,
                    ok=False,
                    error={"type": "DeployError", "message": f"rollout {i} failed: 3/4 ready"},
                )
            )
        )
        for i in range(20)
    ]
    seen = exact_lines(monkeypatch)
    for columns in (None, {"ts", "error_type", "error_message", "params"}):
        rows, rejects = assert_same_as_contract([line.encode() for line in lines], columns=columns)
        assert rows.height == 60
        assert not rejects
    assert len(seen) == 2 * 60  # the reference's own reads (parse_chunk_exact in the assertion) only

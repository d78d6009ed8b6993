"""Filter pushdown against the full parse: for random, odd and damaged lines, other producers' lines (the
reader contract's aliases, ``meta``, derived and unusable fields, epoch and naive times, nested keys) and
random filters, parsing only the lines the prefilter keeps and then filtering gives exactly the records that
parsing every line and then filtering gives; the lines it rules out are never rows, and every reject it
reports is a real one."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditview.core.parse as parse_module
from auditview.core.index import AuditIndex
from auditview.core.parse import LOCATION_COLUMNS, parse_chunk, parse_chunk_prefiltered
from auditview.core.pushdown import line_prefilter
from auditview.core.query import compile_filter
from auditview.source.discover import discover
from auditview.source.types import Chunk
from tests.engine.foreign import corpus
from tests.engine.test_parse_differential import SOURCE, _mutate, _serialise, records

ATOMS = (
    "duration_ms>0", "duration_ms<=12.5", "duration>3ms", "duration_ms>=1e-7", "duration_ms>1s",
    "duration_ms in (3, 12.5)", "exit_code=0", "exit_code!=0", "exit_code in (1, 130)", "exit>-1",
    "exit_code<1e300", "tool=deployctl", "tool!=dbctl", 'tool in (dbctl, "é-tool")', 'tool~"^d"',
    'tool!~"ctl$"', "tool>e", "command=apply", "command!=apply", "trace_id=t-1", 'trace_id=""',
    'trace_id~"^ "', "request_id=req-1", "version=1.2.3", "operator=alice", "operator=null",
    "time>2026-11-27T09:00Z", "ts<2026-11-27T10:00:00.2Z", "ts>=2026-11-27T10:00:00.5Z",
    "time in (2026-11-27T10:00:00.5Z)", "failed", "status=ok", "deployctl", "ALICE", "apply", "é",
    "params.env=prod", "slow", "host=h1", "pid>0", "e", 'params.env="5"', "params.env in (prod, dev)",
    "params.env!=prod", "params.tool=deployctl", "params.x.y=prod", "ticket=INC-1", 'params.env="true"',
    "params.n>1", "INC-1", "1.5", "12.5", "v1.2", "req-1", '"a b"', "1e300", "-1",
    # unknown (null) fields, a tool the file's name gives (``audit.jsonl``), values the reader reads its way
    "duration_ms=null", "exit_code=null", "command=null", "trace_id=null", "tool=audit", "audit", "AUDIT",
    "not duration_ms<1", 'duration_ms!~"-"', 'duration_ms~"^0"', "exit_code=3", "exit_code!=3",
    "status=failed", "time<2026-11-27T10:00:00.35Z", "request_id=r-meta", "version!=1.2.3",
)  # fmt: skip
#: Values of the pushed-down fields put inside ``params``, chosen to disagree with the record's own.
NESTED_VALUES: dict[str, list[Any]] = {
    "duration_ms": [0, 20000, "5"],
    "exit_code": [0, 1, None],
    "tool": ["deployctl", "dbctl", "x"],
    "command": ["apply", "other"],
    "trace_id": ["t-1", "t-2"],
    "timestamp": ["2026-11-27T12:00:00Z", "2026-11-27T10:00:00.100000Z"],
    "operator": ["alice", "bob"],
}
FIELDS_IN_PARAMS = tuple(NESTED_VALUES)
#: Values of ``params`` keys for the JSON comparisons: strings, and others whose text looks like one.
PARAM_VALUES: list[Any] = [
    "prod",
    "dev",
    "PROD",
    5,
    "5",
    True,
    "true",
    None,
    {"y": "prod"},
    ["prod"],
    " prod",
]
FIXED_WIDTH_TIMES = [
    "2026-11-27T10:00:00.100000Z", "2026-11-27T10:00:00.200000Z", "2026-11-27T10:00:00.200001Z",
    "2026-11-27T10:00:00.600000Z", "2026-11-27T10:00:00.600001Z", "2026-11-27T09:59:59.999999Z",
    "2026-02-30T10:00:00.300000Z", "0000-11-27T10:00:00.300000Z",
]  # fmt: skip
#: 2026-11-27T10:00:00Z as epoch seconds.
EPOCH = 1795773600
#: The writer's fixed-width form of times that do not exist (the reader then tries the next time key).
UNREAL_TIMES = [
    "2026-02-30T10:00:00.300000Z", "2026-11-27T24:00:00.300000Z", "2026-11-27T99:00:00.300000Z",
    "2026-04-31T10:00:00.300000Z",
]  # fmt: skip
#: Times other producers write (``timestamp`` or an alias), in and around the time range: naive, offsets,
#: a blank for ``T``, epoch seconds and milliseconds, unreal ones, a leap day.
FOREIGN_TIMES: list[Any] = [
    "2026-11-27T10:00:00.3", "2026-11-27T10:00:00.100000", "2026-11-27T11:00:00.300000+01:00",
    "2026-11-27T09:00:00.400000-01:00", "2026-11-27 10:00:00.4Z", "2026-11-27T10:00:00.300000+00:00",
    EPOCH * 1000 + 300, EPOCH * 1000 + 700, EPOCH + 0.4, EPOCH, *UNREAL_TIMES, "2028-02-29T10:00:00.300000Z",
    None, "soon",
]  # fmt: skip
#: Built-in alias keys of the pushed-down fields (``reader_contract.BUILTIN_ALIASES``).
ALIAS_KEYS: dict[str, list[str]] = {
    "timestamp": ["ts", "time", "@timestamp"],
    "tool": ["tool_name", "program"],
    "command": ["cmd", "subcommand"],
    "exit_code": ["exitCode", "rc"],
    "duration_ms": ["durationMs", "elapsed_ms"],
    "request_id": ["requestId"],
    "trace_id": ["traceId"],
    "version": ["toolVersion"],
    "operator": ["actor", "user"],
}
#: Values the reader reads its own way: numeric text, unusable values (unknown, with a warning), nulls.
ODD_VALUES: dict[str, list[Any]] = {
    "duration_ms": [-5, -0.5, "20000", "12.5", 1e301, 20000, 0.5, None, "slow", True],
    "exit_code": [3, "3", "0", "one", 1 << 64, 1 << 63, -1, None, 1.0, False],
    "tool": ["deployctl", "audit", None, "", 5],
    "command": ["apply", None, 7, ["apply"]],
    "request_id": ["r-meta", None, 1],
    "trace_id": ["t-1", None, 5, "t-2"],
    "version": ["1.2.3", None, 1.2],
    "operator": ["alice", None, {"name": "alice"}],
    "ok": [True, False, "false", None],
}
#: The fields a logged response's ``meta`` may give (``contract.META_FIELDS``), with values to give.
META_VALUES: dict[str, list[Any]] = {
    "request_id": ["r-meta", "req-1"],
    "trace_id": ["t-1", "t-2"],
    "duration_ms": [20000, 0.5, -1, "20000"],
    "timestamp": ["2026-11-27T10:00:00.4Z", "2026-11-27T10:00:00.100000Z", EPOCH * 1000 + 500],
    "command": ["apply", "other"],
    "version": ["1.2.3", "2"],
}


def _foreign(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The record as another producer might write it: fields missing, null, odd or under an alias key, the
    record's own key only nested (in ``params``, ``meta`` or another object), another time key or form, or
    a logged JSON response (``{"ok":..,"result":..,"meta":{...}}``)."""
    if rng.random() < 0.2:
        response: dict[str, Any] = {"ok": rng.choice([True, False]), "result": rng.choice([None, {"n": 1}])}
        response["meta"] = {
            name: rng.choice(values) for name, values in META_VALUES.items() if rng.random() < 0.7
        }
        for name in rng.sample(sorted(record), rng.randrange(3)):  # some fields at the top as well
            response[name] = record[name]
        return response
    for _ in range(rng.randrange(1, 6)):
        name = rng.choice([*ALIAS_KEYS, "ok"])
        action = rng.choice([0, 1, 2, 3, 3, 3, 4, 5])
        value = record.pop(name, None)
        if action == 0:  # missing
            continue
        if action == 1:  # null, or an odd value
            record[name] = rng.choice([None, *ODD_VALUES.get(name, FOREIGN_TIMES)])
        elif action == 2 and name in ALIAS_KEYS:  # under an alias (the own key missing or null)
            if rng.random() < 0.3:
                record[name] = None
            alias = rng.choice(ALIAS_KEYS[name])
            record[alias] = rng.choice([value, *ODD_VALUES.get(name, FOREIGN_TIMES)])
        elif action == 3:  # only nested: in params, in meta or in another object
            holder = rng.choice(["params", "meta", "ctx"])
            if not isinstance(record.get(holder), dict):
                record[holder] = {}
            record[holder][name] = rng.choice([value, *ODD_VALUES.get(name, FOREIGN_TIMES)])
            if rng.random() < 0.5 and name in ALIAS_KEYS:  # and an alias at the top
                record[rng.choice(ALIAS_KEYS[name])] = rng.choice(ODD_VALUES.get(name, FOREIGN_TIMES))
        elif action == 4 and name in ALIAS_KEYS:  # the own key and an alias that disagrees
            record[name] = value
            record[rng.choice(ALIAS_KEYS[name])] = rng.choice(ODD_VALUES.get(name, FOREIGN_TIMES))
        else:
            record[name] = value
    if rng.random() < 0.4:  # the time in another form, maybe under another key, maybe under two
        for key in rng.sample(["timestamp", *ALIAS_KEYS["timestamp"]], rng.choice([1, 2])):
            record[key] = rng.choice(FOREIGN_TIMES)
    elif rng.random() < 0.2:  # an unreal time in the writer's form at the start, and another time key
        record.pop("timestamp", None)
        record = {"timestamp": rng.choice(UNREAL_TIMES), **record}
        record[rng.choice(ALIAS_KEYS["timestamp"])] = rng.choice(FOREIGN_TIMES)
    return record


def _filters(atoms: tuple[str, ...]) -> st.SearchStrategy[str]:
    atom = st.sampled_from(atoms)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            inner.map(lambda text: f"not ({text})"),
            st.tuples(inner, inner).map(lambda pair: f"({pair[0]}) and ({pair[1]})"),
            st.tuples(inner, inner).map(lambda pair: f"({pair[0]}) or ({pair[1]})"),
        )

    return st.recursive(atom, extend, max_leaves=4)


def _lines(data: st.DataObject) -> list[bytes]:
    """Records as ``test_parse_differential`` writes and damages them, some with the pushed-down fields also
    inside ``params`` (a nested key of the same name must never be taken for the record's own), half of them
    in other producers' shapes (``_foreign``)."""
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    out: list[bytes] = []
    for record in data.draw(st.lists(records(), min_size=1, max_size=24)):
        if isinstance(record.get("params"), dict) and rng.random() < 0.5:
            name = rng.choice(FIELDS_IN_PARAMS)
            record["params"][name] = rng.choice(NESTED_VALUES[name])
        if rng.random() < 0.1:
            record["duration_ms"] = rng.choice([20000, 1e4, 10001, "20000", None])
        if isinstance(record.get("params"), dict) and rng.random() < 0.4:
            record["params"][rng.choice(["env", "x", "n"])] = rng.choice(PARAM_VALUES)
        if rng.random() < 0.1:
            record["ticket"] = rng.choice(["INC-1", "INC-2", 1])
        if rng.random() < 0.4:  # the writer's fixed-width form, on and around the time range's bounds
            record["timestamp"] = rng.choice(FIXED_WIDTH_TIMES)
        if rng.random() < 0.5:
            record = _foreign(record, rng)
        line = _serialise(record, rng.randrange(6), rng)
        if rng.random() < 0.05:  # a signed zero, which orjson reads as 0 but polars as -0.0
            line = line.replace(b'"duration_ms":0', b'"duration_ms":-0')
        if rng.random() < 0.1:
            line = line.replace(b'":', b'" : ', rng.randrange(1, 4))
        if rng.random() < 0.3:
            line = _mutate(line, rng)
        out.append(line.replace(b"\n", b" "))
    return out


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String)).to_dicts()


def _reject_keys(rejects: list[Any]) -> set[tuple[int, int, str]]:
    return {(reject.line, reject.offset, reject.reason) for reject in rejects}


SINCE = datetime(2026, 11, 27, 10, 0, 0, 200000, tzinfo=UTC)
UNTIL = datetime(2026, 11, 27, 10, 0, 0, 600000, tzinfo=UTC)


def _check_pushdown(
    data: st.DataObject,
    lines: list[bytes],
    filters: st.SearchStrategy[str],
    columns: frozenset[str] | None,
    subset_exact_lines: int,
    full_parses: dict[frozenset[str] | None, tuple[pl.DataFrame, list[Any]]] | None = None,
) -> None:
    """Prefiltered parse + filter == full parse + filter for ``lines`` and a drawn filter, time range and
    selector, with ``columns`` projected and the kept lines decided by the contract up to
    ``subset_exact_lines`` of them. ``full_parses`` keeps the full parses of ``lines`` for further calls."""
    text = data.draw(filters, label="filter")
    since = data.draw(st.sampled_from([None, SINCE]), label="since")
    until = data.draw(st.sampled_from([None, UNTIL]), label="until")
    equals = data.draw(st.sampled_from([{}, {"trace_id": "t-1"}, {"command": "apply"}]), label="equals")
    compiled = compile_filter(text)
    prefilter = line_prefilter(compiled, since=since, until=until, equals=equals)
    if prefilter is None:
        return
    wanted = None if columns is None else columns | compiled.columns | set(equals)
    chunk = Chunk(SOURCE, 10, 5, b"".join(line + b"\n" for line in lines))
    original = parse_module._SUBSET_EXACT_LINES
    parse_module._SUBSET_EXACT_LINES = subset_exact_lines  # type: ignore[misc]  # a Final, set for this test
    try:
        kept, kept_rejects, count = parse_chunk_prefiltered(chunk, 2, wanted, prefilter)
    finally:
        parse_module._SUBSET_EXACT_LINES = original  # type: ignore[misc]
    full_parses = {} if full_parses is None else full_parses
    if wanted not in full_parses:
        full_parses[wanted] = parse_chunk(chunk, 2, wanted)
    full, full_rejects = full_parses[wanted]

    def select(frame: pl.DataFrame) -> pl.DataFrame:
        frame = compiled.apply(frame)
        if since is not None:
            frame = frame.filter(pl.col("ts") >= since)
        if until is not None:
            frame = frame.filter(pl.col("ts") <= until)
        for name, value in equals.items():
            frame = frame.filter(pl.col(name).cast(pl.String) == value)
        return frame

    assert count == len(lines)
    assert _rows(select(kept)) == _rows(select(full))
    # what the prefilter kept was decided exactly as the full parse decides it
    assert _rows(kept) == _rows(full.filter(pl.col("line").is_in(kept["line"].implode())))
    assert _reject_keys(kept_rejects) <= _reject_keys(full_rejects)


@pytest.mark.parametrize("subset_exact_lines", [512, 0])
@pytest.mark.parametrize("columns", [frozenset({"ts", "duration_ms"}), None])
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_pushdown_equals_full_parse(
    data: st.DataObject, columns: frozenset[str] | None, subset_exact_lines: int
) -> None:
    """Prefiltered parse + filter == full parse + filter, on every path the kept lines can take."""
    _check_pushdown(data, _lines(data), _filters(ATOMS), columns, subset_exact_lines)


#: Filters on the fields pushdown reads off the text, with the values ``_foreign`` writes.
FOREIGN_ATOMS = (
    "duration_ms>10s", "duration_ms<1", "duration_ms>=0", "duration_ms=null", 'duration_ms!~"-"',
    "exit_code=0", "exit_code=3", "exit_code=null", "failed", "status=ok", "command=apply", "command=null",
    "trace_id=t-1", "trace_id=null", "tool=deployctl", "tool=audit", "audit", "deployctl",
    "request_id=r-meta", "version=1.2.3", "operator=alice", "operator=null", "time<2026-11-27T10:00:00.35Z",
    "time>=2026-11-27T10:00:00.45Z",
    # the values ``foreign.corpus`` writes
    "duration_ms>4s", "duration_ms=12.5", "exit_code=124", "tool=gatekeeper", "command=plan", "zoë",
    "time<2024-03-20T00:00Z",
)  # fmt: skip


@pytest.mark.parametrize("subset_exact_lines", [512, 0])
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_pushdown_equals_full_parse_on_other_producers_lines(
    data: st.DataObject, subset_exact_lines: int
) -> None:
    """The same, on lines mostly in other producers' shapes (``_foreign``, and ``foreign.corpus``: Go, Node,
    Python, logfmt shippers, logged responses), spaced or reordered, with filters on the fields pushdown
    reads."""
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    lines = [item.line for item in corpus(rng.randrange(2**32), rng.randrange(12))]
    for record in data.draw(st.lists(records(), min_size=8, max_size=24)):
        if rng.random() < 0.1:  # a duration the reader makes unknown, or a zero to write as -0
            record["duration_ms"] = rng.choice([-5, -0.5, 0])
        if rng.random() < 0.8:
            record = _foreign(record, rng)
        line = _serialise(record, rng.choice([0, 0, 1, 3, 4]), rng)
        if rng.random() < 0.2:
            line = line.replace(b'"duration_ms":0', b'"duration_ms":-0')
        lines.append(line.replace(b"\n", b" "))
    rng.shuffle(lines)
    # (filters built from the seed: hypothesis' own draws favour the first atoms and repeat them)
    full_parses: dict[frozenset[str] | None, tuple[pl.DataFrame, list[Any]]] = {}
    for _ in range(4):
        text = _random_filter(rng, FOREIGN_ATOMS)
        _check_pushdown(data, lines, st.just(text), None, subset_exact_lines, full_parses)


def _random_filter(rng: random.Random, atoms: tuple[str, ...], leaves: int | None = None) -> str:
    """A filter of one to three atoms (each as likely), joined by ``and``/``or``, some under ``not``."""
    leaves = rng.choice([1, 1, 2, 3]) if leaves is None else leaves
    if leaves == 1:
        text = rng.choice(atoms)
    else:
        split = rng.randrange(1, leaves)
        left, right = _random_filter(rng, atoms, split), _random_filter(rng, atoms, leaves - split)
        text = f"({left}) {rng.choice(['and', 'or'])} ({right})"
    return f"not ({text})" if rng.random() < 0.3 else text


def test_trace_predicates_and_undecidable_filters_are_not_pushed_down() -> None:
    """A trace predicate or ``slow`` depends on other records; ``params.*`` ranges and ``!=``, number-like
    JSON literals and free text that is a number or has JSON structure say nothing."""
    undecidable = (
        "trace.failed", "duration_ms>1s and trace.has(command=deploy)", "params.env!=prod", "slow", "e",
        "duration_ms>1s or params.n>1", "not deployctl", "duration_ms>1s and slow", 'params.env="5"',
        "params.env=true", "not params.env=prod", "1.5", "12", "1e3", '"a:b"',
    )  # fmt: skip
    for text in undecidable:
        assert line_prefilter(compile_filter(text)) is None, text
    for text in ("trace.failed", "slow", "duration_ms>1s and slow", "exit_code=0 and trace.slow"):
        # such a filter depends on the frame it runs on: a trace id is not pushed down beside it either
        assert line_prefilter(compile_filter(text), equals={"trace_id": "t-1"}) is None, text
    decidable = (
        "duration_ms>1s and params.env=prod", "not (exit_code=0)", "deployctl", "failed", "params.env=prod",
        "INC-1234", "v1.2", '"connection refused"',
    )  # fmt: skip
    for text in decidable:
        assert line_prefilter(compile_filter(text)) is not None, text
    assert line_prefilter(None) is None
    assert line_prefilter(None, since=SINCE) is not None
    with_slow = line_prefilter(
        compile_filter("duration_ms>1s and slow"), since=SINCE, equals={"trace_id": "t"}
    )
    assert with_slow is not None
    assert with_slow.fields == {"__av_ts_text"}  # the time range only
    assert line_prefilter(None, equals={"trace_id": "t-1"}) is not None


def _record(**fields: Any) -> bytes:
    record = {
        "timestamp": "2026-11-27T10:00:00.500000Z", "tool": "deployctl", "command": "apply", "params": {},
        "request_id": "r", "trace_id": "t-1", "version": "1", "exit_code": 0, "ok": True, "duration_ms": 5,
        "operator": "alice", "host": "h", "pid": 1, "schema_version": 1,
    }  # fmt: skip
    record.update(fields)
    return orjson.dumps(record)


def test_load_counts_ruled_out_lines_and_stores_no_cache(tmp_path: Path, monkeypatch: Any) -> None:
    """``AuditIndex.load`` with a prefilter: kept rows, the rejects among kept lines, ``unchecked`` for the
    rest, line numbers of the whole file, and no cache entry written from the partial parse."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "audit.jsonl"
    lines = [
        _record(duration_ms=20000),
        _record(),
        b'{"duration_ms": 30000, "broken"',  # may match: decided, and rejected
        b"not json at all",  # says nothing about duration_ms: kept, decided, rejected
        _record(duration_ms=1, params={"duration_ms": 99999}),  # the key twice: kept, decided, no match
        _record(duration_ms=15000, tool="t\\u006fol"),  # a backslash: kept
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    compiled = compile_filter("duration_ms>10s")
    prefilter = line_prefilter(compiled)
    index = AuditIndex.load(discover([str(path)]), columns=compiled.columns, prefilter=prefilter)
    assert index.frame["line"].to_list() == [1, 5, 6]
    frame = compiled.apply(index.frame)
    assert frame["line"].to_list() == [1, 6]
    assert sorted(reject.line for reject in index.rejects) == [3, 4]
    assert index.unchecked == 1
    assert not list((tmp_path / "cache").rglob("*.parquet"))
    full = AuditIndex.load(discover([str(path)]), columns=compiled.columns, cache=False)
    assert compiled.apply(full.frame).select(LOCATION_COLUMNS).equals(frame.select(LOCATION_COLUMNS))
    assert full.unchecked == 0


NESTED_CASES = [
    ("duration_ms>0", _record(duration_ms=12.5, params={"duration_ms": 0})),
    ("failed", _record(exit_code=1, params={"exit_code": 0})),
    ("tool=deployctl", _record(params={"tool": "x"})),
    ("command!=other", _record(params={"command": "other"})),
    ("trace_id=t-1", _record(params={"trace_id": "t-2"})),
    ("operator in (alice)", _record(params={"operator": "bob"})),
    ("time<2026-11-27T11:00Z", _record(params={"timestamp": "2026-11-27T12:00:00Z"})),
    ("tool=deployctl", _record(tool="x").replace(b'"tool":"x"', b'"tool":"x","tool":"deployctl"')),
    ("duration_ms>0", _record(duration_ms=12.5, params={"duration_ms": 0}).replace(b's":12.5', b's" : 12.5')),
    ("duration_ms<1", _record(duration_ms=0.5).replace(b'"duration_ms":0.5', b'"duration_ms":5e-1')),
    # the key twice at the top, after params: the decoder keeps the last
    ("duration_ms>9s", _record(duration_ms=1).replace(b's":1', b's":1,"duration_ms":1e4')),
    ("params.env=prod", _record(params={"env": "prod"}).replace(b'"prod"', b'"pro\\u0064"')),
    ("params.env in (dev, prod)", _record(params={"env": "prod", "x": "dev"})),
    ("ticket=INC-1", _record(ticket="INC-1")),
    # a JSON value that is not a string but whose text equals the literal
    ('params.env="5"', _record(params={"env": 5})),
    ('params.env="true"', _record(params={"env": True})),
    # free text also searches ``extra`` (unknown fields, re-encoded): 1E2 becomes 100.0, [1, 2] becomes [1,2]
    ("100", _record(x=1).replace(b'"x":1', b'"x":1E2')),
    ('"1,2"', _record(x=[1, 2]).replace(b'"x":[1,2]', b'"x":[1, 2]')),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line"), NESTED_CASES)
def test_nested_repeated_and_spaced_keys_are_never_read_as_the_record_s(text: str, line: bytes) -> None:
    """The same key inside ``params``, twice at the top, written with spaces or escapes, or a free-text term a
    re-encoded field could hold: the line is kept (or the filter not pushed down) and it matches."""
    compiled = compile_filter(text)
    prefilter = line_prefilter(compiled)
    chunk = Chunk(SOURCE, 0, 1, line + b"\n")
    kept, rejects, count = parse_chunk_prefiltered(chunk, 0, None, prefilter)
    assert count == 1
    assert not rejects
    assert compiled.apply(kept).height == 1


T = "2026-11-27T10:00:00.500000Z"
#: One hole each that the strict writer contract hid: the line is a record under the reader contract and
#: matches, but a text read would have ruled it out (filter, time range or None, line).
FOREIGN_CASES: list[tuple[str | None, bool, bytes]] = [
    # the key only nested (params, meta, another object), the record's value from an alias or from meta
    ("duration_ms>10s", False, orjson.dumps({"ts": T, "durationMs": 20000, "params": {"duration_ms": 1}})),
    ("duration_ms>10s", False, orjson.dumps({"ts": T, "durationMs": 20000, "meta": {"duration_ms": 5}})),
    ("command=apply", False, orjson.dumps({"timestamp": T, "x": {"command": "other"}, "cmd": "apply"})),
    ("trace_id=t-1", False, orjson.dumps({"ts": T, "traceId": "t-1", "meta": {"trace_id": "t-2"}})),
    (  # a logged response: the key only in its result, the value in its meta
        "trace_id=t-1",
        False,
        orjson.dumps({"ok": 1, "result": {"trace_id": "t-2"}, "meta": {"timestamp": T, "trace_id": "t-1"}}),
    ),
    ("time<2026-11-27T11:00Z", False, orjson.dumps({"ts": T, "x": {"timestamp": "2026-11-27T12:00:00Z"}})),
    # exit_code derived from ok: ``failed`` needs exit_code itself
    ("failed", False, orjson.dumps({"timestamp": T, "ok": False, "params": {"exit_code": 0}})),
    ("status=failed", False, orjson.dumps({"ok": False, "meta": {"timestamp": T, "exit_code": 0}})),
    # values the reader makes unknown (null): a negative duration (an exit code past 64 bits: kept before too)
    ("not duration_ms<1", False, _record(duration_ms=-5)),
    ("duration_ms=null", False, _record(duration_ms=-5)),
    ("exit_code=null", False, _record(exit_code=1 << 63)),
    # a signed zero: orjson reads 0 (0.0), polars -0.0
    ('duration_ms!~"-"', False, _record(duration_ms=0).replace(b'"duration_ms":0', b'"duration_ms":-0')),
    # the own key null: the alias gives the value (kept before too: a null is not read)
    ("command=apply", False, orjson.dumps({"timestamp": T, "command": None, "cmd": "apply"})),
    # a fixed-width timestamp whose date or hour does not exist: the reader takes the next time key
    (None, True, orjson.dumps({"timestamp": "2026-02-30T10:00:00.300000Z", "ts": "2026-11-27T10:00:00.4Z"})),
    (None, True, orjson.dumps({"timestamp": "2026-11-27T99:00:00.300000Z", "time": EPOCH * 1000 + 400})),
    (None, True, orjson.dumps({"timestamp": "2026-11-27T24:00:00.300000Z", "@timestamp": T})),
    # the writer's form at the start, and the key again: the decoder keeps the last
    (None, True, b'{"timestamp":"2026-11-27T09:00:00.000000Z",' + orjson.dumps({"timestamp": T})[1:]),
    # free text: a record without a tool takes its file's name (``audit.jsonl``: ``audit``)
    ("audit", False, orjson.dumps({"timestamp": T, "command": "apply"})),
    ("AUDIT and command=apply", False, orjson.dumps({"timestamp": T, "command": "apply", "tool": None})),
]  # fmt: skip


@pytest.mark.parametrize(("text", "ranged", "line"), FOREIGN_CASES)
def test_other_producers_lines_are_never_ruled_out_by_a_text_read(
    text: str | None, ranged: bool, line: bytes
) -> None:
    """A field taken from an alias, ``meta``, ``ok`` or the file's name, or made unknown, a key only nested,
    a time the reader takes from another key: the line is kept and matches (as the full parse finds)."""
    compiled = compile_filter(text) if text is not None else None
    since, until = (SINCE, UNTIL) if ranged else (None, None)
    prefilter = line_prefilter(compiled, since=since, until=until)
    chunk = Chunk(SOURCE, 0, 1, line + b"\n")
    full, full_rejects = parse_chunk(chunk, 0)
    assert not full_rejects
    kept, rejects, count = parse_chunk_prefiltered(chunk, 0, None, prefilter) if prefilter else (full, [], 1)
    assert count == 1
    assert not rejects
    for frame in (full, kept):
        if compiled is not None:
            frame = compiled.apply(frame)
        if ranged:
            frame = frame.filter(pl.col("ts").is_between(SINCE, UNTIL))
        assert frame.height == 1


def test_the_writer_s_lines_are_still_decided_off_the_text() -> None:
    """On the writer's layout (also spaced, or reordered), a field's own top-level key settles it: lines
    that cannot match are ruled out, a nested or repeated key or another shape keeps the line."""
    error = {"type": "E", "message": "m"}
    lines = [
        _record(duration_ms=20000),  # 1: matches
        _record(duration_ms=5),  # 2: ruled out
        _record(duration_ms=5, error=error),  # 3: an object after the key: ruled out
        json.dumps(orjson.loads(_record(duration_ms=5))).encode(),  # 4: spaced: ruled out
        orjson.dumps(dict(reversed(orjson.loads(_record(duration_ms=5)).items()))),  # 5: reordered: ruled out
        _record(duration_ms=5, params={"a": {"b": [{}]}}, error=error),  # 6: nested, the key, an object
        _record(duration_ms=5, params={"a": {"b": [{"c": {}}]}}, error=error),  # 7: deeper than proven: kept
        _record(duration_ms=5, params={"duration_ms": 20000}),  # 8: the key twice: kept
        orjson.dumps({"ts": T, "durationMs": 5}),  # 9: an alias only: kept
        _record(duration_ms=-5),  # 10: unknown to the reader: kept
    ]
    chunk = Chunk(SOURCE, 0, 1, b"".join(line + b"\n" for line in lines))
    compiled = compile_filter("duration_ms>10s")
    prefilter = line_prefilter(compiled)
    assert prefilter is not None
    kept, rejects, _ = parse_chunk_prefiltered(chunk, 0, None, prefilter)
    assert not rejects
    assert kept["line"].to_list() == [1, 7, 8, 9, 10]
    assert compiled.apply(kept)["line"].to_list() == [1]
    # the tool is read before params, a field after it behind params, and time ranges off the line's start
    compiled = compile_filter("tool=dbctl or failed")
    kept, _, _ = parse_chunk_prefiltered(chunk, 0, None, line_prefilter(compiled, since=SINCE))
    assert kept["line"].to_list() == [7, 9]


def test_time_range_bounds_are_inclusive_and_read_only_from_the_writer_s_form() -> None:
    """``--since``/``--until`` include their bounds; a timestamp read as text is the writer's fixed-width form
    at the start of the line; any other form keeps the line for the full parse."""
    times = ["10:00:00.199999", "10:00:00.200000", "10:00:00.400000", "10:00:00.600000", "10:00:00.600001"]
    lines = [_record(timestamp=f"2026-11-27T{time}Z") for time in times]
    lines.append(_record(timestamp="2026-11-27T10:00:00.1Z"))  # not fixed-width: kept, then decided
    lines.append(_record(timestamp="2026-11-27T11:00:00.300000+01:00"))  # an offset: kept, then decided
    lines.append(
        b'{"tool": "x", ' + _record(timestamp="2026-11-27T09:00:00.000000Z")[1:]
    )  # not leading: kept
    chunk = Chunk(SOURCE, 0, 1, b"".join(line + b"\n" for line in lines))
    prefilter = line_prefilter(None, since=SINCE, until=UNTIL)
    assert prefilter is not None
    kept, rejects, count = parse_chunk_prefiltered(chunk, 0, None, prefilter)
    assert count == len(lines)
    assert kept["line"].to_list() == [2, 3, 4, 6, 7, 8]
    assert not rejects  # (line 8 repeats "tool": orjson keeps the last, as the full parse does)
    in_range = kept.filter(pl.col("ts").is_between(SINCE, UNTIL))
    assert in_range["line"].to_list() == [2, 3, 4, 7]


def test_pushdown_on_a_cached_log_that_grew_parses_only_the_appended_lines(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A cache entry covers the start of the log: it is used whole, only the appended bytes are prefiltered,
    and the entry is not overwritten by the partial parse."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "audit.jsonl"
    first = [_record(duration_ms=20000, request_id="a"), _record(request_id="b"), b"broken"]
    path.write_bytes(b"".join(line + b"\n" for line in first))
    AuditIndex.load(discover([str(path)]))  # writes the entry (every column)
    from auditview.core.cache import wait_pending

    wait_pending()
    entries = sorted(p.name for p in (tmp_path / "cache").rglob("*.parquet"))
    appended = [_record(duration_ms=30000, request_id="c"), _record(request_id="d"), b'{"duration_ms":1,']
    with path.open("ab") as out:
        out.write(b"".join(line + b"\n" for line in appended))
    compiled = compile_filter("duration_ms>10s")
    index = AuditIndex.load(
        discover([str(path)]), columns=compiled.columns, prefilter=line_prefilter(compiled)
    )
    wait_pending()
    assert compiled.apply(index.frame)["line"].to_list() == [1, 4]
    assert [reject.line for reject in index.rejects] == [3]  # from the entry; line 6 was ruled out unparsed
    assert index.unchecked == 2
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.parquet")) == entries

"""The contracts as JSON Schema: the shipped files, sample_logs and the writer's output validated with
jsonschema, and the schemas held to ``check_record`` / the reader contract on hypothesis-generated corpora,
with the differences the schemas' descriptions document excluded explicitly."""

from __future__ import annotations

import argparse
import calendar
import gzip
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource

from auditview.contract import OPTIONAL_FIELDS, REQUIRED_FIELDS, ContractError, check_record
from auditview.main import main
from auditview.reader_contract import TIME_KEYS, FieldMap, read_line, read_record
from auditview.schema import SCHEMA_NAMES, WRITER_TIMESTAMP_PATTERN, build_schema, load_schema, schema_file
from auditview.writer import Auditor
from auditview.writer.argparse_support import parse_args, respond
from auditview.writer.testing import capture_records

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"
NO_MAPPINGS = FieldMap()


def _validator(name: str, pointer: str = "") -> jsonschema.Draft202012Validator:
    documents = {n: load_schema(n) for n in SCHEMA_NAMES}
    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in documents.values()
    )
    target = documents[name] if not pointer else {"$ref": f"{documents[name]['$id']}#{pointer}"}
    return jsonschema.Draft202012Validator(target, registry=registry)


WRITER = _validator("writer")
READER = _validator("reader")
CLEAN = _validator("reader", "/$defs/clean")
META = _validator("meta")
RESPONSE = _validator("meta", "/$defs/response")


def _check_ok(record: Any) -> bool:
    try:
        check_record(record)
    except ContractError:
        return False
    return True


def _read_ok(record: Any) -> bool:
    try:
        read_record(record, fields=NO_MAPPINGS)
    except ContractError:
        return False
    return True


# -- the files -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_shipped_files_are_the_contract(name: str) -> None:
    """auditview/schemas/<name>.schema.json is what auditview.schema builds (python -m auditview.schema
    --write regenerates it), and a valid 2020-12 schema."""
    shipped = schema_file(name).read_text(encoding="utf-8")
    assert json.loads(shipped) == build_schema(name)
    assert shipped == json.dumps(build_schema(name), indent=2, ensure_ascii=False) + "\n"
    jsonschema.Draft202012Validator.check_schema(json.loads(shipped))
    assert json.loads(shipped)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_package_data_ships_the_schemas() -> None:
    """pyproject's package-data names the directory, so a wheel carries the files."""
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"schemas/*.json"' in text


def test_descriptions_name_what_json_schema_cannot_express() -> None:
    """The documented gaps are in the documents themselves, not only in the tests."""
    assert "February 29" in load_schema("writer")["description"]
    assert "1.0 as an integer" in load_schema("writer")["description"]
    assert "alias precedence" in load_schema("reader")["description"]


def test_schema_command(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """`auditview schema NAME` prints the shipped file byte for byte; -o json wraps it; --path names it."""
    for name in SCHEMA_NAMES:
        assert main(["schema", name]) == 0
        assert capsysbinary.readouterr().out == schema_file(name).read_bytes()
    assert main(["schema"]) == 0
    assert capsysbinary.readouterr().out == schema_file("writer").read_bytes()
    assert main(["schema", "meta", "-o", "json"]) == 0
    body = orjson.loads(capsysbinary.readouterr().out)
    assert (body["ok"], body["data"]) == (True, load_schema("meta"))
    assert META.is_valid(body["meta"])
    assert main(["schema", "reader", "--path"]) == 0
    assert capsysbinary.readouterr().out.decode().strip() == str(schema_file("reader"))
    assert main(["schema", "nonsense"]) == 2


# -- sample_logs and the writer's output ---------------------------------------------------------------------


def _sample_lines() -> Iterator[tuple[str, int, bytes]]:
    for path in sorted(SAMPLE_LOGS.glob("*/audit.jsonl*")):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        for number, line in enumerate(data.splitlines(), 1):
            yield f"{path.parent.name}/{path.name}", number, line


def test_sample_logs_records_and_rejects() -> None:
    """Every sample line: a record by the reader contract iff valid against the reader schema; no field
    warning iff valid against $defs/clean; valid against the writer schema iff check_record accepts it."""
    records = rejects = warned = writer_records = 0
    for where, number, line in _sample_lines():
        try:
            read = read_line(line, fields=NO_MAPPINGS)
        except ContractError:
            read = None
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            document = None  # not JSON: no schema can accept it
        assert (document is not None and READER.is_valid(document)) == (read is not None), (where, number)
        if read is None:
            rejects += 1
            continue
        records += 1
        warned += bool(read.warnings)
        assert CLEAN.is_valid(document) == (not read.warnings), (where, number, read.warnings)
        assert WRITER.is_valid(document) == _check_ok(document), (where, number)
        writer_records += WRITER.is_valid(document)
    assert (records, rejects, warned) == (607, 5, 1)  # sample_logs/README.md
    # all but the shell script's 32 records (healthcheck) and a hand-planted one with "params" as a string
    assert writer_records == 607 - 32 - 1


def test_writer_output_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Records the writer writes (ok, failed, annotated, nested, truncated, a usage error) are valid writer
    records and clean reader records; respond()'s output is a valid response with a valid meta."""
    log = tmp_path / "audit.jsonl"
    auditor = Auditor("schematool", "2.0.0", log_path=log, max_record_bytes=2048)
    with auditor.invocation("deploy", {"env": "prod", "password": "pw"}, trace_id="test-123") as inv:
        inv.annotate(region="eu", attempt=2)
        with auditor.invocation("verify", {"big": "x" * 5000}):
            pass
        assert respond({"env": "prod"}) == 0
    with pytest.raises(RuntimeError), auditor.invocation("migrate"):
        raise RuntimeError("boom ünïcode \n line")
    with auditor.invocation("rollback") as inv:
        assert respond(error="verification failed", error_type="VerifyFailed", exit_code=3) == 3
    parser = argparse.ArgumentParser(prog="schematool")
    parser.add_argument("--env", required=True)
    with pytest.raises(SystemExit):
        parse_args(auditor, parser, [])
    lines = log.read_bytes().splitlines()
    assert len(lines) == 5
    for line in lines:
        record = orjson.loads(line)
        assert WRITER.is_valid(record), list(WRITER.iter_errors(record))
        assert CLEAN.is_valid(record)
    assert {orjson.loads(line).get("truncated") for line in lines} == {None, True}
    responses = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["ok"] for r in responses] == [True, False]
    for response in responses:
        assert RESPONSE.is_valid(response)
        assert META.is_valid(response["meta"])
    assert not META.is_valid({**responses[0]["meta"], "duration_ms": -1})
    assert not RESPONSE.is_valid({"ok": True})


def test_auditview_own_meta_validates(capsys: pytest.CaptureFixture[str]) -> None:
    """auditview's own -o json envelope carries a meta valid against the meta schema."""
    with capture_records():
        assert main(["schema", "--path", "-o", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert RESPONSE.is_valid(body)


# -- the writer schema and check_record agree ----------------------------------------------------------------

_INTEGER_FIELDS = ("exit_code", "pid", "schema_version")
_ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        1.0,
        2.5,
        -0.5,
        "",
        "x",
        {},
        {"a": 1},
        [],
        [1],
        2**63 - 1,
        2**63,
        -(2**63),
        -(2**63) - 1,
    ]
)


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


def _timestamps() -> st.SearchStrategy[str]:
    """Valid ones, near misses in every field, edge dates, arbitrary text."""
    fraction = st.one_of(st.just(""), st.text("0123456789", min_size=0, max_size=11).map(lambda t: "." + t))
    offset = st.one_of(
        st.sampled_from(["Z", "z", "", "+00:00", "-00:00"]),
        st.tuples(st.sampled_from("+-"), _two(0, 29), st.sampled_from([":", ""]), _two(0, 69)).map("".join),
    )
    year = st.one_of(
        st.sampled_from(["0000", "0001", "9999", "2024", "2023", "1900", "2000"]),
        _two(0, 99).map(lambda s: "20" + s),
    )
    structured = st.tuples(
        year,
        st.just("-"),
        _two(0, 13),
        st.just("-"),
        _two(0, 32),
        st.sampled_from(["T", "t", " ", "_"]),
        _two(0, 25),
        st.just(":"),
        _two(0, 61),
        st.just(":"),
        _two(0, 61),
        fraction,
        offset,
        st.sampled_from(["", "", "", "\n", " ", "x"]),
    ).map("".join)
    edges = st.sampled_from(
        [
            "0001-01-01T00:30:00+01:00",
            "0001-01-01T05:00:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "9999-12-31T23:59:59.999999999Z",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "2023-04-31T00:00:00Z",
        ]
    )
    return st.one_of(structured, edges, st.text(max_size=30))


def _good(name: str) -> st.SearchStrategy[Any]:
    types = {**REQUIRED_FIELDS, **OPTIONAL_FIELDS}[name]
    if name == "timestamp":
        return st.one_of(_valid_timestamps(), _timestamps())
    if types == (int, float):
        return st.one_of(
            st.integers(-10, 10**12), st.floats(-1, 1e300, allow_nan=False, allow_infinity=False)
        )
    if types == (int,):
        return st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**65), 2**65))
    if types == (str,):
        return st.text(max_size=5)
    if types == (dict,):
        return st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
    return st.booleans()


def _valid_timestamps() -> st.SearchStrategy[str]:
    moment = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
    return st.tuples(
        moment,
        st.sampled_from(["T", "t", " "]),
        st.sampled_from(["", ".%f", ".1", ".123456789"]),
        st.sampled_from(["Z", "z", "+00:00", "-05:30", "+1400", "+23:59"]),
    ).map(lambda p: f"{p[0].year:04d}" + p[0].strftime(f"-%m-%d{p[1]}%H:%M:%S{p[2]}") + p[3])


@st.composite
def _records(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 20)) == 20:
        return draw(_ODD_VALUES)  # not even an object
    record = {name: draw(_good(name)) for name in REQUIRED_FIELDS}
    for name in OPTIONAL_FIELDS:
        if draw(st.booleans()):
            record[name] = draw(st.one_of(_good(name), st.none()))
    mutated = st.lists(st.sampled_from([*REQUIRED_FIELDS, *OPTIONAL_FIELDS]), max_size=2)
    for name in draw(st.one_of(st.just([]), mutated)):
        record[name] = draw(_ODD_VALUES)  # a wrong type, a null, an edge of the range
    if draw(st.integers(0, 4)) == 4:
        del record[draw(st.sampled_from(list(REQUIRED_FIELDS)))]
    if draw(st.booleans()):
        record["extra_field"] = draw(_ODD_VALUES)
    return record


_TS_PARTS = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ].*?([Zz]|[+-][0-9]{2}:?[0-9]{2})$", re.ASCII)


def documented_writer_difference(record: Any) -> str | None:
    """The cases the writer schema's description names: where JSON Schema and check_record must disagree."""
    if not isinstance(record, dict):
        return None
    for name in _INTEGER_FIELDS:
        value = record.get(name)
        if isinstance(value, float) and value.is_integer():
            return "(3) JSON Schema counts an integral float as an integer"
    timestamp = record.get("timestamp")
    if isinstance(timestamp, str) and re.search(WRITER_TIMESTAMP_PATTERN, timestamp):
        match = _TS_PARTS.match(timestamp)
        assert match is not None
        year, month, day, offset = int(match[1]), int(match[2]), int(match[3]), match[4]
        if (month, day) == (2, 29) and not calendar.isleap(year):
            return "(1) February 29 of a non-leap year"
        if offset[0] == "+" and (year, month, day) == (1, 1, 1) and offset[1:] not in ("00:00", "0000"):
            return "(2) the offset moves the time before 0001-01-01 UTC"
        if offset[0] == "-" and (year, month, day) == (9999, 12, 31) and offset[1:] not in ("00:00", "0000"):
            return "(2) the offset moves the time after 9999-12-31 UTC"
    return None


def test_documented_differences_are_real() -> None:
    """Each excluded case really is one where the two disagree (so the exclusion hides nothing else)."""
    base = {
        "timestamp": "2024-01-01T00:00:00Z",
        "tool": "t",
        "command": "c",
        "params": {},
        "exit_code": 0,
        "duration_ms": 1,
        "request_id": "r",
        "trace_id": "t",
        "version": "1",
        "operator": "o",
    }
    assert _check_ok(base)
    assert WRITER.is_valid(base)
    for change in (
        {"exit_code": 1.0},
        {"pid": 7.0},
        {"timestamp": "2023-02-29T00:00:00Z"},
        {"timestamp": "0001-01-01T00:30:00+01:00"},
        {"timestamp": "9999-12-31T23:30:00-01:00"},
    ):
        record = {**base, **change}
        assert documented_writer_difference(record) is not None
        assert WRITER.is_valid(record)
        assert not _check_ok(record)
    for change in ({"timestamp": "2023-02-30T00:00:00Z"}, {"timestamp": "2024-01-01T00:00:00Z\n"}):
        assert not WRITER.is_valid({**base, **change})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_writer_schema_agrees_with_check_record(record: Any) -> None:
    """On a generated corpus (every field right, wrong, missing or null; int64 and duration edges;
    timestamps valid, out of range in every part, at the calendar's edges), the writer schema accepts
    exactly what check_record accepts, except the documented differences."""
    if documented_writer_difference(record) is not None:
        return
    assert WRITER.is_valid(record) == _check_ok(record), list(WRITER.iter_errors(record))


# -- the reader schema's time and read_record agree ----------------------------------------------------------


def _epoch_out_of_range(value: Any) -> bool:
    """A number (or its text) that the reader's epoch rule puts outside years 1-9999, or not finite."""
    from auditview.reader_contract import epoch_to_datetime

    if isinstance(value, str):
        if not re.fullmatch(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", value):
            return False
        value = int(value) if re.fullmatch(r"-?(?:0|[1-9][0-9]*)", value) else float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        epoch_to_datetime(value)
    except (OverflowError, ContractError, ValueError):
        return True
    return False


_READER_TS = re.compile(
    r"^\s*([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ][0-9:.,]*\s*([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?\s*$", re.ASCII
)


def documented_reader_difference(value: Any) -> str | None:
    """The reader schema's documented gaps for a time value."""
    if _epoch_out_of_range(value):
        return "an epoch number outside years 1-9999"
    if isinstance(value, str) and (match := _READER_TS.match(value)):
        year, month, day, offset = int(match[1]), int(match[2]), int(match[3]), match[4] or ""
        if (month, day) == (2, 29) and not calendar.isleap(year):
            return "February 29 of a non-leap year"
        if offset[:1] in "+-" and offset and (year, month, day) in ((1, 1, 1), (9999, 12, 31)):
            return "an offset past year 1 or 9999"
    return None


def _reader_times() -> st.SearchStrategy[Any]:
    moment = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
    texts = st.tuples(
        moment,
        st.sampled_from(["T", "t", " "]),
        st.sampled_from(["%H:%M", "%H:%M:%S", "%H:%M:%S.%f"]),
        st.sampled_from(["", "Z", "z", "+02:00", "-0530", "+02", " +01:00", "+24:00", "+02:60", "Q"]),
        st.sampled_from(["", " ", "\t", "  "]),
    ).map(lambda p: f"{p[4]}{p[0].year:04d}{p[0].strftime('-%m-%d')}{p[1]}{p[0].strftime(p[2])}{p[3]}{p[4]}")
    return st.one_of(
        texts,
        _timestamps(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(10**20), 10**20).map(str),
        st.sampled_from(["1e400", "-1e400", "1710167400.5", "1.5e9", "01", "", " ", "now", "@1700000000"]),
        _ODD_VALUES,
    )


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([*TIME_KEYS, "meta"]), _reader_times(), st.booleans())
def test_reader_schema_time_agrees_with_read_record(key: str, value: Any, with_usable: bool) -> None:
    """A record with one time value (under any time key or meta.timestamp), alone or beside a usable one:
    the reader schema accepts it exactly when read_record reads it, except the documented gaps."""
    if documented_reader_difference(value) is not None:
        return
    record: dict[str, Any] = {"meta": {"timestamp": value}} if key == "meta" else {key: value}
    if with_usable:
        record["time"] = 1710167400 if key != "time" else None
    assert READER.is_valid(record) == _read_ok(record), (record, list(READER.iter_errors(record)))


def test_reader_schema_examples() -> None:
    """The seed's hand-written shape, pino's epoch milliseconds, a logged response: records; no time: not."""
    now = datetime.now(UTC)
    for record in (
        {"timestamp": "2024-03-11T14:30:00Z", "command": "deploy", "exit_code": 0, "duration_ms": 4521},
        {"time": 1710167400000, "msg": "x"},
        {"ok": True, "meta": {"timestamp": (now - timedelta(seconds=1)).isoformat()}},
        {"@timestamp": "2024-03-11 14:30"},
    ):
        assert (READER.is_valid(record), _read_ok(record)) == (True, True)
    for refused in ({"command": "deploy"}, [1], {"timestamp": "yesterday"}, {"timestamp": True}):
        assert (READER.is_valid(refused), _read_ok(refused)) == (False, False)
    warned = {"timestamp": "2024-03-11T14:30:00Z", "exit_code": "one", "duration_ms": -1}
    assert (READER.is_valid(warned), CLEAN.is_valid(warned)) == (True, False)

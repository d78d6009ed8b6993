"""A corpus of audit lines as other producers write them, each with what the reader contract must make of it.

Our writer writes one layout (``auditview.core.writer_layout``); the logs an incident is about come from Go
and Node
CLIs, Python scripts, the seed's hand-written shape, logfmt shippers and logged JSON responses. Each
generator here renders a record the way one of those producers serialises it (key names, key order,
separators, escapes, number and time formats) and states, from what it put in, what the reader must give:
a reject, or the record's time, every field's value, the ``derived`` entries, the fields warned about and
the ``extra`` keys. The expectation is written by the generator, not computed by ``reader_contract``, so
tests compare the reader against an independent oracle.

Deterministic: ``corpus(seed, ...)`` draws from ``random.Random(seed)`` only (hypothesis can drive it through
the seed). Must not: import ``auditview.reader_contract`` or ``auditview.core.parse``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

__all__ = [
    "FIELD_NAMES",
    "PRODUCERS",
    "Expected",
    "ForeignLine",
    "corpus",
    "expected_view",
    "index_row_view",
    "read_view",
    "warned_fields",
    "writer_line",
]

#: The fields a record may have besides its time (as the reader contract lists them).
FIELD_NAMES: Final = (
    "tool", "command", "params", "exit_code", "duration_ms", "request_id", "trace_id", "parent_request_id",
    "operator", "version", "host", "pid", "schema_version", "ok", "truncated", "error",
)  # fmt: skip
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: 2024-03-11T14:30:00Z, the seed's first record.
_BASE_NS: Final = 1_710_167_400 * 10**9
_TOOLS: Final = ("deployctl", "gatekeeper", "dbctl", "releaser")
_COMMANDS: Final = ("apply", "plan", "check", "migrate", "rollback")
_OPERATORS: Final = ("alice", "bob", "ci-runner-3", "agent-session-42", "zoë")
_HOSTS: Final = ("build-7", "web-01", "müller-laptop")
_ERRORS: Final = (
    {"type": "Timeout", "message": "deadline exceeded"},
    {"type": "PolicyDenied", "message": "policy <deny-all> & audit"},
    {"type": "ExitError", "message": "exit status 2: ünknown flag"},
)


# -- what a line must read as --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the reader contract must make of a record line."""

    ts: datetime
    #: Every name of ``FIELD_NAMES`` -> its value (``error`` as an object, ``None`` for unknown).
    values: dict[str, Any]
    derived: frozenset[str]
    #: The fields with a warning; ``timestamp`` for an unusable time that another key replaced.
    warned: frozenset[str]
    extra: dict[str, Any]


@dataclass(frozen=True)
class ForeignLine:
    """One line (without ``\\n``), who wrote it, and what it must read as (``expected`` None: a reject whose
    reason contains ``reject_reason``)."""

    producer: str
    line: bytes
    expected: Expected | None
    reject_reason: str = ""

    @property
    def is_record(self) -> bool:
        """Whether the reader must make a record of the line."""
        return self.expected is not None


def warned_fields(warnings: Iterable[str]) -> frozenset[str]:
    """The fields that warning texts are about (``timestamp`` for an unusable time ignored)."""
    return frozenset(
        "timestamp" if text.startswith("unusable time") else text.split(" ", 1)[0]
        for text in warnings
        if text
    )


def _canon(value: Any) -> str:
    """Comparable JSON text: keys sorted, ``1``, ``1.0`` and ``true`` kept apart."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else orjson.dumps(value).decode()


def _view(
    ts: datetime,
    values: Mapping[str, Any],
    error_type: str | None,
    error_message: str | None,
    extra: Mapping[str, Any] | None,
    derived: Iterable[str],
    warned: Iterable[str],
) -> dict[str, str]:
    view = {"ts": ts.isoformat()}
    for name in FIELD_NAMES:
        if name != "error":
            view[name] = _canon(values[name])
    view["error_type"] = _canon(error_type)
    view["error_message"] = _canon(error_message)
    view["extra"] = _canon(dict(extra) if extra else None)
    view["derived"] = _canon(sorted(derived))
    view["warned"] = _canon(sorted(warned))
    return view


def expected_view(expected: Expected) -> dict[str, str]:
    """The expectation as comparable texts (the same form as ``read_view`` and ``index_row_view``)."""
    error = expected.values["error"]
    return _view(
        expected.ts,
        expected.values,
        _text(error.get("type")) if error is not None else None,
        _text(error.get("message")) if error is not None else None,
        expected.extra,
        expected.derived,
        expected.warned,
    )


def read_view(read: Any) -> dict[str, str]:
    """A ``reader_contract.ReadRecord`` as comparable texts."""
    error = read.values["error"]
    return _view(
        read.ts,
        read.values,
        _text(error.get("type")) if error is not None else None,
        _text(error.get("message")) if error is not None else None,
        read.extra,
        read.derived,
        warned_fields(read.warnings),
    )


def index_row_view(row: Mapping[str, Any]) -> dict[str, str]:
    """A row of the index frame (categoricals as strings) as comparable texts."""
    values = {name: row[name] for name in FIELD_NAMES if name not in ("params", "error")}
    values["params"] = orjson.loads(row["params"]) if row["params"] is not None else None
    return _view(
        row["ts"],
        values,
        row["error_type"],
        row["error_message"],
        orjson.loads(row["extra"]) if row["extra"] is not None else None,
        row["derived"].split(",") if row["derived"] else (),
        warned_fields(row["warnings"].split("\n")) if row["warnings"] else (),
    )


# -- rendering: how each producer writes JSON ----------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    item_sep: str = ","
    key_sep: str = ":"
    ensure_ascii: bool = False
    #: Go's encoding/json: ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u`` escapes.
    html_escape: bool = False
    #: JavaScript and Go print 12.0 as 12; Python as 12.0.
    short_floats: bool = False
    #: Go sorts the keys of a map (a struct's fields keep their declaration order).
    sorted_maps: bool = False


_COMPACT: Final = _Style()
_GO: Final = _Style(html_escape=True, short_floats=True, sorted_maps=True)
_NODE: Final = _Style(short_floats=True)
_PYTHON: Final = _Style(item_sep=", ", key_sep=": ", ensure_ascii=True)


@dataclass(frozen=True)
class _Raw:
    """JSON text written as it is (``NaN``, ``1.50``)."""

    text: str


_HTML: Final = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _string(text: str, style: _Style) -> str:
    out = json.dumps(text, ensure_ascii=style.ensure_ascii)
    if style.html_escape:
        out = "".join(_HTML.get(char, char) for char in out)
    return out


def _encode(value: Any, style: _Style) -> str:
    if isinstance(value, _Raw):
        return value.text
    if value is None or isinstance(value, bool | int):
        return json.dumps(value)
    if isinstance(value, float):
        if style.short_floats and value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return json.dumps(value)
    if isinstance(value, str):
        return _string(value, style)
    if isinstance(value, list):
        return "[" + style.item_sep.join(_encode(item, style) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items()) if style.sorted_maps else list(value.items())
        return _object(items, style)
    raise TypeError(type(value).__name__)


def _object(pairs: Iterable[tuple[str, Any]], style: _Style) -> str:
    body = style.item_sep.join(
        _string(key, style) + style.key_sep + _encode(value, style) for key, value in pairs
    )
    return "{" + body + "}"


# -- times ---------------------------------------------------------------------------------------------------


def _utc(ns: int) -> datetime:
    """The instant ``ns`` nanoseconds after the epoch, truncated to microseconds (as the reader keeps it)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _iso(
    ns: int, *, offset_minutes: int = 0, digits: int | None = 6, zone: str = "colon", sep: str = "T"
) -> str:
    """``ns`` as ISO 8601 in local time at ``offset_minutes``: ``digits`` fraction digits (None: Go's
    RFC3339Nano, up to 9 with trailing zeros trimmed); ``zone`` "colon" (``Z`` at 0), "+00:00", "basic"
    (``+0200``), "hours" (``+02``) or "naive" (none)."""
    local_ns = ns + offset_minutes * 60 * 10**9
    seconds, fraction = divmod(local_ns, 10**9)
    text = (datetime(1970, 1, 1) + timedelta(seconds=seconds)).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits is None:
        nano = f"{fraction:09d}".rstrip("0")
        text += f".{nano}" if nano else ""
    elif digits:
        text += "." + f"{fraction:09d}"[:digits]
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    if zone == "naive":
        return text
    if zone == "colon" and offset_minutes == 0:
        return text + "Z"
    if zone == "basic":
        return text + f"{sign}{hours:02d}{minutes:02d}"
    if zone == "hours":
        return text + f"{sign}{hours:02d}"
    return text + f"{sign}{hours:02d}:{minutes:02d}"


# -- the records producers write -----------------------------------------------------------------------------


@dataclass
class _Truth:
    """One invocation as the producer knew it."""

    ts_ns: int
    tool: str
    command: str
    params: dict[str, Any]
    ok: bool
    exit_code: int
    duration_ms: float
    request_id: str
    trace_id: str
    parent_request_id: str | None
    operator: str
    host: str
    pid: int
    version: str
    error: dict[str, str] | None


def _truth(rng: random.Random, *, precision_ns: int = 1) -> _Truth:
    ts_ns = _BASE_NS + rng.randrange(0, 30 * 86_400 * 10**9)
    ts_ns -= ts_ns % precision_ns
    ok = rng.random() < 0.75
    params: dict[str, Any] = rng.choice(
        [
            {"env": "prod", "replicas": 3},
            {"env": "staging", "service": "orders-api", "dry_run": False},
            {"selector": "app=web&tier<2", "note": "naïve <b>"},
            {"paths": ["a.txt", "b/c.txt"], "limits": {"cpu": 0.5, "memory": "512Mi"}},
            {},
        ]
    )
    return _Truth(
        ts_ns=ts_ns,
        tool=rng.choice(_TOOLS),
        command=rng.choice(_COMMANDS),
        params=dict(params),
        ok=ok,
        exit_code=0 if ok else rng.choice([1, 2, 3, 124, 130]),
        duration_ms=rng.choice([round(rng.uniform(0.1, 20_000), rng.choice([0, 1, 3])), 0.0, 4521.0, 12.5]),
        request_id=f"req-{rng.getrandbits(48):012x}",
        trace_id=f"trace-{rng.getrandbits(32):08x}",
        parent_request_id=f"req-{rng.getrandbits(48):012x}" if rng.random() < 0.3 else None,
        operator=rng.choice(_OPERATORS),
        host=rng.choice(_HOSTS),
        pid=rng.randrange(2, 4_194_304),
        version=rng.choice(["1.4.2", "0.9.0-rc.1", "2024.3.1"]),
        error=None if ok else dict(rng.choice(_ERRORS)),
    )


_SAME: Final = object()


@dataclass
class _Builder:
    """Collects a line's key-value pairs in order and, for each, what the reader must make of it."""

    producer: str
    path_tool: str | None
    pairs: list[tuple[str, Any]] = field(default_factory=list)
    ts: datetime | None = None
    values: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(FIELD_NAMES))
    derived: set[str] = field(default_factory=set)
    warned: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)

    def time(self, key: str, value: Any, ts: datetime, *, naive: bool = False) -> None:
        """A usable time under ``key`` that gives ``ts``."""
        self.pairs.append((key, value))
        self.time_from(key, ts, naive=naive)

    def time_from(self, source: str, ts: datetime, *, naive: bool = False) -> None:
        """The time comes from ``source`` (a key or ``meta.timestamp``)."""
        self.ts = ts
        if source != "timestamp":
            self.derived.add(f"timestamp<-{source}")
        if naive:
            self.derived.add("timestamp<-naive-utc")

    def put(
        self, name: str, value: Any, *, key: str | None = None, expect: Any = _SAME, text: bool = False
    ) -> None:
        """``value`` of field ``name`` under ``key`` (default: its own name), read as ``expect`` (default: the
        value); ``text``: a number or boolean written as text."""
        key = key or name
        self.pairs.append((key, value))
        if value is None:  # a null is no value: an alias holding one is not read, so it stays an extra key
            if key != name:
                self.extra[key] = None
            return
        self.values[name] = value if expect is _SAME else expect
        if key != name:
            self.derived.add(f"{name}<-{key}")
        del text  # numeric text reads as its number, noted nowhere (see the reader contract)

    def from_meta(self, name: str, value: Any) -> None:
        """Field ``name`` comes from the response's ``meta`` (written with ``other("meta", ...)``)."""
        self.values[name] = float(value) if name == "duration_ms" else value
        self.derived.add(f"{name}<-meta.{name}")

    def bad(self, name: str, value: Any, *, key: str | None = None) -> None:
        """An unusable ``value`` for field ``name``: the field is unknown and warned about."""
        key = key or name
        self.pairs.append((key, value))
        self.values[name] = None
        self.warned.add(name)
        if key != name:
            self.derived.add(f"{name}<-{key}")

    def other(self, key: str, value: Any) -> None:
        """A key the reader does not know: kept in ``extra``."""
        self.pairs.append((key, value))
        self.extra[key] = value

    def finish(self, style: _Style) -> ForeignLine:
        """The line, with ``tool`` from the file's name and ``exit_code`` from ``ok`` where the record lacks
        them (and no warning was about them)."""
        assert self.ts is not None, "a record needs a time"
        values = dict(self.values)
        if values["duration_ms"] is not None:
            values["duration_ms"] = float(values["duration_ms"])
        derived = set(self.derived)
        if values["tool"] is None and "tool" not in self.warned and self.path_tool is not None:
            values["tool"] = self.path_tool
            derived.add("tool<-path")
        if values["exit_code"] is None and "exit_code" not in self.warned and values["ok"] is not None:
            values["exit_code"] = 0 if values["ok"] else 1
            derived.add("exit_code<-ok")
        expected = Expected(self.ts, values, frozenset(derived), frozenset(self.warned), dict(self.extra))
        return ForeignLine(self.producer, _object(self.pairs, style).encode(), expected)


def _go(rng: random.Random, path_tool: str | None) -> ForeignLine:
    """``json.Marshal`` of a Go struct: declaration order, tags (one field untagged), RFC3339Nano in local
    time, HTML escapes, sorted map keys, ``omitempty`` exit codes, nil pointers as null, ``time.Duration`` in
    nanoseconds."""
    t = _truth(rng)
    b = _Builder("go", path_tool)
    offset = rng.choice([0, 120, -420, 330, 60, -180])
    b.time(
        rng.choice(["time", "timestamp", "ts"]),
        _iso(t.ts_ns, offset_minutes=offset, digits=None),
        _utc(t.ts_ns),
    )
    b.put("tool", t.tool)
    b.put("command", t.command)
    b.put("params", t.params if rng.random() < 0.85 else None, key=rng.choice(["args", "params"]))
    if t.exit_code or rng.random() < 0.5:  # `json:"exit_code,omitempty"` drops a zero
        b.put("exit_code", t.exit_code)
    if rng.random() < 0.25:
        b.other("duration", int(t.duration_ms * 1_000_000))  # time.Duration: not mapped (unit unknown)
    else:
        b.put("duration_ms", t.duration_ms)
    b.put("request_id", t.request_id)
    b.put("trace_id", t.trace_id if rng.random() < 0.7 else None)
    b.put("operator", t.operator, key="user")
    b.put("host", t.host, key="hostname")
    b.put("pid", t.pid)
    if t.error is not None:
        b.put("error", t.error["message"], expect={"message": t.error["message"]})
    b.other("Version", t.version)  # an untagged field keeps Go's name: not an alias
    return b.finish(_GO)


def _node(rng: random.Random, path_tool: str | None) -> ForeignLine:
    """``JSON.stringify``: insertion order, camelCase keys; pino's epoch-millisecond ``time`` with ``level``,
    ``msg`` and an ``err`` object, or an ISO ``timestamp`` with milliseconds and ``Z`` (an ``Error`` object
    stringifies to ``{}``)."""
    t = _truth(rng, precision_ns=1_000_000)
    b = _Builder("node", path_tool)
    if rng.random() < 0.5:
        b.other("level", 30 if t.ok else 50)
        b.time("time", t.ts_ns // 1_000_000, _utc(t.ts_ns))
        b.put("pid", t.pid)
        b.put("host", t.host, key="hostname")
        b.put("tool", t.tool)
        b.put("command", t.command)
        b.put("params", t.params, key="args")
        b.put("exit_code", t.exit_code, key="exitCode")
        b.put("duration_ms", t.duration_ms, key="durationMs")
        b.put("request_id", t.request_id, key="requestId")
        b.put("trace_id", t.trace_id, key="traceId")
        if t.error is not None:
            message = t.error["message"]
            err = {
                "type": "Error",
                "message": message,
                "stack": f"Error: {message}\n    at run (/app/cli.js:42:11)",
            }
            b.put("error", err, key="err")
        b.other("msg", "command finished")
    else:
        b.time("timestamp", _iso(t.ts_ns, digits=3), _utc(t.ts_ns))
        b.put("tool", t.tool)
        b.put("command", t.command)
        b.put("params", t.params)
        b.put("exit_code", t.exit_code, key="exitCode")
        b.put("duration_ms", t.duration_ms, key="durationMs")
        b.put("request_id", t.request_id, key="requestId")
        b.put("trace_id", t.trace_id if rng.random() < 0.8 else None, key="traceId")
        b.put("parent_request_id", t.parent_request_id, key="parentRequestId")
        b.put("operator", t.operator, key="user")
        b.put("ok", t.ok)
        if t.error is not None:
            b.put("error", {})
    return b.finish(_NODE)


def _python(rng: random.Random, path_tool: str | None) -> ForeignLine:
    """``json.dumps`` with its defaults (``", "``, ``": "``, ASCII escapes, ``12.0``), a naive
    ``isoformat()``, an aware one (``+00:00``) or ``str()`` of an aware datetime (a blank for ``T``)."""
    t = _truth(rng, precision_ns=1000 if rng.random() < 0.8 else 10**9)
    b = _Builder("python", path_tool)
    moment = _EPOCH + timedelta(microseconds=t.ts_ns // 1000)
    form = rng.randrange(3)
    if form == 0:
        b.time("timestamp", moment.replace(tzinfo=None).isoformat(), moment, naive=True)
    else:
        b.time("timestamp", moment.isoformat() if form == 1 else str(moment), moment)
    b.put("tool", t.tool)
    b.put("command", t.command)
    b.put("params", t.params)
    b.put("exit_code", t.exit_code, key=rng.choice(["exit_code", "returncode"]))
    b.put("duration_ms", t.duration_ms, key=rng.choice(["duration_ms", "elapsed_ms"]))
    b.put("request_id", t.request_id)
    b.put("trace_id", t.trace_id if rng.random() < 0.8 else None)
    b.put("operator", t.operator, key=rng.choice(["operator", "user"]))
    b.put("host", t.host)
    b.put("pid", t.pid)
    b.put("ok", t.ok)
    if t.error is not None:
        b.put("error", t.error)
    return b.finish(_PYTHON)


def _seed(rng: random.Random, path_tool: str | None) -> ForeignLine:
    """The seed's hand-written shape: no tool, request_id or version; ``trace_id`` sometimes; whole seconds
    and whole milliseconds; Python's spacing."""
    t = _truth(rng, precision_ns=10**9)
    b = _Builder("seed", path_tool)
    b.time("timestamp", _iso(t.ts_ns, digits=0), _utc(t.ts_ns))
    b.put("command", t.command)
    b.put("params", {"env": t.params.get("env", "staging")})
    b.put("exit_code", t.exit_code)
    b.put("duration_ms", round(t.duration_ms))
    b.put("operator", t.operator)
    if rng.random() < 0.5:
        b.put("trace_id", t.trace_id)
    if t.error is not None and rng.random() < 0.5:
        b.put("error", t.error["message"], expect={"message": t.error["message"]})
    return b.finish(_PYTHON)


def _logfmt(rng: random.Random, path_tool: str | None) -> ForeignLine:
    """A logfmt-to-JSON shipper: ``@timestamp``, every value a string (numbers and booleans as text), params
    flattened to top-level keys."""
    digits = rng.choice([3, 9])
    t = _truth(rng, precision_ns=10 ** (9 - digits))
    b = _Builder("logfmt", path_tool)
    b.time("@timestamp", _iso(t.ts_ns, digits=digits), _utc(t.ts_ns))
    b.other("level", "info" if t.ok else "error")
    b.put("tool", t.tool)
    b.put("command", t.command)
    if rng.random() < 0.7:
        b.put("exit_code", str(t.exit_code), expect=t.exit_code, text=True)
    duration = f"{t.duration_ms:g}" if rng.random() < 0.5 else repr(t.duration_ms)
    b.put("duration_ms", duration, expect=float(duration), text=True)
    b.put("ok", "true" if t.ok else "false", expect=t.ok, text=True)
    b.put("request_id", t.request_id)
    b.put("trace_id", t.trace_id)
    b.put("pid", str(t.pid), expect=t.pid, text=True)
    if rng.random() < 0.3:
        b.put("truncated", "false", expect=False, text=True)
    for key, value in t.params.items():
        if isinstance(value, str | int) and not isinstance(value, bool):
            b.other(key, str(value))
    b.other("msg", "done" if t.ok else "failed")
    return b.finish(_COMPACT)


def _response(rng: random.Random, path_tool: str | None) -> ForeignLine:
    """A logged JSON response: ``ok``, ``result``, ``error``, and ``meta`` with request_id, trace_id,
    duration_ms, timestamp, command and version (nothing else names the tool)."""
    t = _truth(rng, precision_ns=1000)
    b = _Builder("response", path_tool)
    b.put("ok", t.ok)
    b.other("result", None if t.error is not None else {"applied": len(t.params)})
    if t.error is not None:
        b.put("error", t.error)
    meta = {
        "request_id": t.request_id,
        "trace_id": t.trace_id,
        "duration_ms": t.duration_ms,
        "timestamp": _iso(t.ts_ns),
        "command": t.command,
        "version": t.version,
    }
    b.other("meta", meta)
    b.time_from("meta.timestamp", _utc(t.ts_ns))
    for name in ("request_id", "trace_id", "duration_ms", "command", "version"):
        b.from_meta(name, meta[name])
    return b.finish(rng.choice([_COMPACT, _PYTHON]))


def _odd(rng: random.Random, path_tool: str | None) -> ForeignLine:
    """A plain compact record with one oddity real logs have: an error string, nulls, missing or unusable
    values, duplicate keys, own keys beside aliases, other time forms."""
    t = _truth(rng, precision_ns=1000)
    b = _Builder("odd", path_tool)
    case = rng.randrange(24)
    ts = _utc(t.ts_ns)
    if case == 0:  # an unusable time, then a usable one under another key
        b.pairs.append(("timestamp", "yesterday"))
        b.warned.add("timestamp")
        ms = t.ts_ns // 1_000_000
        b.time("time", ms, _utc(ms * 1_000_000))
    elif case == 1:  # duplicate time keys: the last one counts
        b.pairs.append(("timestamp", "not a time"))
        b.time("timestamp", _iso(t.ts_ns), ts)
    elif case == 2:  # zap: float epoch seconds under ts
        ms_ns = t.ts_ns - t.ts_ns % 1_000_000
        b.time("ts", float(f"{ms_ns // 10**9}.{ms_ns % 10**9 // 1_000_000:03d}"), _utc(ms_ns))
    elif case == 3:  # other offsets and separators
        offset = rng.choice([120, -330, 0, 600])
        zone = rng.choice(["basic", "hours", "+00:00"]) if offset % 60 == 0 else "basic"
        text = _iso(t.ts_ns, offset_minutes=offset, zone=zone, sep=rng.choice(["T", " "]))
        if rng.random() < 0.5:
            text = text.replace(".", ",")
        b.time("time", text, ts)
    elif case == 4:  # nanoseconds written out, truncated to microseconds
        b.time("timestamp", _iso(t.ts_ns, digits=9), ts)
    elif case == 5:  # epoch microseconds and nanoseconds as integers
        if rng.random() < 0.5:
            b.time("ts", t.ts_ns // 1000, ts)
        else:
            b.time("ts", t.ts_ns, ts)
    else:
        b.time("timestamp", _iso(t.ts_ns), ts)
    if case == 6:  # a tool that is not a string: warned, and not replaced by the file's name
        b.bad("tool", 5)
    elif case == 7:  # duplicate tool keys, the last one null: the file's name gives the tool
        b.pairs.append(("tool", "shadowed"))
        b.put("tool", None)
    else:
        b.put("tool", t.tool)
    if case == 8:  # own key beside an alias: the own key wins, the alias stays an extra key
        b.put("command", t.command)
        b.other("cmd", "something-else")
    else:
        b.put("command", t.command)
    if case == 9:
        b.put("params", [1, 2])  # any JSON value is kept as params
    else:
        b.put("params", t.params)
    if case == 10:  # no exit code, but ok
        b.put("ok", t.ok)
    elif case == 11:  # neither exit code nor ok
        pass
    elif case == 12:  # an exit code that is not a number, beside ok: not derived from ok
        b.bad("exit_code", "one")
        b.put("ok", False)
    elif case == 13:
        b.bad("exit_code", rng.choice([1.5, True, 2**63, "007", "3.0"]))
    elif case == 14:  # duplicate exit codes: the last one counts
        b.pairs.append(("exit_code", 1))
        b.put("exit_code", 0)
    else:
        b.put("exit_code", t.exit_code)
    if case == 15:
        b.bad("duration_ms", rng.choice([-1, -0.5, "fast", True, {"ms": 3}]))
    else:
        b.put("duration_ms", t.duration_ms)
    b.put("request_id", t.request_id)
    if case == 16:  # a null own key falls through to the alias
        b.put("trace_id", None)
        b.put("trace_id", t.trace_id, key="traceId")
    elif case == 17:
        b.put("trace_id", None)
    else:
        b.put("trace_id", t.trace_id)
    if case == 18:
        b.bad("version", 1.2)
    if case == 19:
        b.put("error", "policy denied", expect={"message": "policy denied"})
        b.put("exit_code", 3)  # a second exit code, after the first: the last one counts
    elif case == 20:
        b.bad("error", rng.choice([42, ["denied"], True]))
    if case == 21:
        b.bad(rng.choice(["pid", "schema_version"]), rng.choice(["abc", 1.5, [1]]))
    elif case == 22:
        b.bad(rng.choice(["host", "operator", "request_id"]), rng.choice([["a", "b"], {"name": "x"}, 7]))
    elif case == 23:
        b.bad(rng.choice(["ok", "truncated"]), rng.choice(["yes", 1, "True"]))
    b.other("zone", rng.choice(["eu-west-1", None, 3]))
    return b.finish(_COMPACT)


#: Lines that must be rejects, with a part of the reason.
_GARBAGE: Final[tuple[tuple[bytes, str], ...]] = (
    (b"[1, 2]", "not a JSON object"),
    (b'"deploy started"', "not a JSON object"),
    (b"42", "not a JSON object"),
    (b"null", "not a JSON object"),
    (b"true", "not a JSON object"),
    (b"2024-03-11 16:30:00 INFO deploy started", "invalid JSON"),
    (b"{'timestamp': '2024-03-11T14:30:00Z', 'tool': 'x'}", "invalid JSON"),
    (b'{"timestamp": "2024-03-11T14:30:00Z", "duration_ms": NaN}', "invalid JSON"),
    (b'{"timestamp":"2024-03-11T14:30:00Z","tool":"de', "invalid JSON"),
    (b"", "invalid JSON"),
    (b"{}", "no time"),
    (b'{"level":"info","msg":"hello"}', "no time"),
    (b'{"ts":null,"msg":"x"}', "no time"),
    (b'{"meta":{"request_id":"r","duration_ms":3}}', "no time"),
    (b'{"time":"yesterday","msg":"x"}', "not ISO 8601"),
    (b'{"timestamp":true,"tool":"x"}', "string or an epoch number"),
    (b'{"timestamp":"2024-02-30T10:00:00Z"}', "out of range"),
    (b'{"timestamp":"2024-03-11T14:30:00+25:00"}', "out of range"),
    (b'{"timestamp":"11/03/2024 14:30:00"}', "not ISO 8601"),
    (b'{"timestamp":"2024-03-11"}', "not ISO 8601"),
    (b'{"@timestamp":{"$date":"2024-03-11T14:30:00Z"}}', "string or an epoch number"),
)


def _garbage(rng: random.Random, path_tool: str | None) -> ForeignLine:
    """A line that is not a record: not JSON, not an object, or an object without a usable time."""
    line, reason = rng.choice(_GARBAGE)
    return ForeignLine("garbage", line, None, reason)


#: The producers and how often ``corpus`` draws each.
PRODUCERS: Final[dict[str, tuple[Callable[[random.Random, str | None], ForeignLine], int]]] = {
    "go": (_go, 3),
    "node": (_node, 3),
    "python": (_python, 3),
    "seed": (_seed, 2),
    "logfmt": (_logfmt, 2),
    "response": (_response, 2),
    "odd": (_odd, 4),
    "garbage": (_garbage, 2),
}


def corpus(
    seed: int, count: int, *, path_tool: str | None = None, producers: Iterable[str] | None = None
) -> list[ForeignLine]:
    """``count`` lines drawn from ``producers`` (default: all), for a log whose file name gives
    ``path_tool``."""
    rng = random.Random(seed)
    names = list(producers or PRODUCERS)
    weights = [PRODUCERS[name][1] for name in names]
    return [PRODUCERS[name][0](rng, path_tool) for name in rng.choices(names, weights, k=count)]


def writer_line(line: bytes) -> ForeignLine:
    """A line of our writer (``auditview.demo.generate``), which meets the writer contract: every field from
    its own key, nothing derived or warned, unknown keys in ``extra``."""
    record = json.loads(line)
    values = {name: record.get(name) for name in FIELD_NAMES}
    values["duration_ms"] = float(values["duration_ms"])
    extra = {key: value for key, value in record.items() if key not in FIELD_NAMES and key != "timestamp"}
    ts = datetime.fromisoformat(record["timestamp"]).astimezone(UTC)
    return ForeignLine("writer", line.rstrip(b"\n"), Expected(ts, values, frozenset(), frozenset(), extra))

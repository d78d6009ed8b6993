"""OTLP out: the records of a frame as OpenTelemetry spans in OTLP/JSON, to a stream or to a collector.

Owns: the mapping of an index frame to ``ExportTraceServiceRequest`` documents in the OTLP/JSON encoding
(``build_requests``, ``counted_lines``, ``write_otlp``), the id mapping (``otel_trace_id``,
``otel_span_id``) and the OTLP/HTTP sender (``traces_url``, ``send_otlp``: ``urllib``, bounded retries).
Must not: import a UI library or the OpenTelemetry SDK (the JSON is built by hand and serialised with
orjson), re-read the source files, filter (the caller passes the frame it wants), or undo redaction
(``params`` are copied as the log has them, already redacted by the writer).

The mapping, one span per record (see the README section "OTLP out"):

- **ids**: a ``trace_id`` of 32 hex digits (not all zero) is kept (lowercased); any other is hashed to 16
  bytes (blake2b, personalised); the original stays in ``auditview.trace_id``. A record without a usable
  trace id (an *orphan*, as ``auditview traces`` counts them) gets a trace of its own, hashed from its
  ``request_id`` or, without one, from its place (source file and byte offset). Span ids are 8-byte blake2b
  hashes of ``request_id`` (or of the place); a repeated request id gets a distinct span id for its later
  records, the first one keeps the plain hash (and is the one children point to).
- **parents** from ``parent_request_id``: ``parentSpanId`` is the hash of the parent's request id, also when
  the parent is not in this export (a later export of it joins up, the ids are deterministic). A parent in
  *another* trace of the export becomes a span link instead, the record itself, a cycle or an orphan's parent
  outside the export gives no parent; ``auditview.parent_request_id`` always keeps the original.
- **times**: start = ``timestamp``, end = start + ``duration_ms`` (unknown or negative: end = start), unix
  nanoseconds as decimal strings.
- **status**: ERROR (code 2) with the error message (else its type, else ``exit code N``) when the exit code
  is not 0, or is unknown and the record carries an error; UNSET otherwise (never OK: success leaves the
  status unset, as the semantic conventions' "Recording errors" asks).
- **attributes**: the CLI conventions (``process.executable.name``, ``process.exit.code``, ``process.pid``,
  ``process.command_args`` when ``params.argv`` is a list of strings, as ``auditview run`` writes it, and
  ``error.type`` when failed: the record's error type, else ``_OTHER``); auditview's own under
  ``auditview.`` (command, request and parent ids, original trace id, ``orphan``, operator, ``duration_ms``,
  ``truncated``, ``derived`` and ``warnings`` as string arrays); params one level deep under
  ``auditview.params.<key>``: strings, booleans, integers (int64) and finite floats keep their type, every
  other value (object, array, null, a larger integer) is its compact JSON text.
- **resources**: one per (tool, host, version): ``service.name`` (the tool, ``unknown_service`` without
  one), ``host.name``, ``service.version`` when known; scope ``auditview`` with its version.
- ``semconv="genai"`` adds the GenAI execute-tool span conventions (``gen_ai.operation.name`` =
  ``execute_tool``, ``gen_ai.tool.name`` = tool, ``gen_ai.tool.call.id`` = request id,
  ``gen_ai.conversation.id`` = the original trace id, ``gen_ai.tool.call.arguments`` = the params as JSON
  text) and names spans ``execute_tool {tool}``; without it spans are named ``{tool} {command}``.

Output is JSON lines (the OpenTelemetry file-exporter format): one ``ExportTraceServiceRequest`` per line of
at most ``max_spans`` spans, whole traces kept on one line where they fit. ``send_otlp`` POSTs each line.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Final, Literal

import orjson
import polars as pl

from auditview import __version__
from auditview.core.timeline import accepted_parents
from auditview.core.traces import has_trace_id

__all__ = [
    "ATTRIBUTE_PREFIX",
    "MAX_SPANS_PER_REQUEST",
    "OTLP_COLUMNS",
    "PARAMS_PREFIX",
    "SCHEMA_URL",
    "SEMCONVS",
    "SEMCONV_VERSION",
    "OtlpResult",
    "OtlpSendError",
    "Semconv",
    "SendResult",
    "build_requests",
    "counted_lines",
    "export_otlp_to_file",
    "index_lines",
    "otel_span_id",
    "otel_trace_id",
    "send_otlp",
    "traces_url",
    "usable_trace_id",
    "write_otlp",
]

Semconv = Literal["cli", "genai"]
SEMCONVS: Final = ("cli", "genai")

#: The semantic-conventions release followed (CLI spans and GenAI execute_tool spans, both Development).
SEMCONV_VERSION: Final = "1.41.1"
SCHEMA_URL: Final = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
ATTRIBUTE_PREFIX: Final = "auditview."
PARAMS_PREFIX: Final = "auditview.params."
MAX_SPANS_PER_REQUEST: Final = 512

#: The index columns the mapping reads (plus the location columns every frame has).
OTLP_COLUMNS: Final = frozenset(
    {
        "ts",
        "tool",
        "command",
        "exit_code",
        "duration_ms",
        "request_id",
        "trace_id",
        "parent_request_id",
        "operator",
        "host",
        "version",
        "pid",
        "truncated",
        "error_type",
        "error_message",
        "params",
        "derived",
        "warnings",
    }
)

SPAN_KIND_INTERNAL: Final = 1
STATUS_CODE_ERROR: Final = 2
_HEX32: Final = re.compile(r"[0-9a-fA-F]{32}")
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1

# ----------------------------------------------------------------------------------------------------
# Ids


def _hash_hex(text: str, size: int, person: bytes) -> str:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size, person=person)
    value = digest.hexdigest()
    return value if value.strip("0") else "0" * (2 * size - 1) + "1"  # an all-zero id is invalid in OTLP


def usable_trace_id(trace_id: str | None) -> bool:
    """True for a trace id ``auditview traces`` groups by: not null, not empty, not whitespace-only."""
    return trace_id is not None and trace_id.strip() != ""


def otel_trace_id(trace_id: str | None, *, request_id: str | None = None, place: str = "") -> str:
    """The 32-hex OTLP trace id of a record: a 32-hex ``trace_id`` kept (lowercased, unless all zero), any
    other hashed; an orphan's (no usable trace id) hashed from its ``request_id``, else from ``place``."""
    if trace_id is not None and usable_trace_id(trace_id):
        if _HEX32.fullmatch(trace_id) and trace_id.strip("0"):
            return trace_id.lower()
        return _hash_hex(trace_id, 16, b"av.trace")
    if request_id is not None:
        return _hash_hex(request_id, 16, b"av.orphan")
    return _hash_hex(place, 16, b"av.orphan.place")


def otel_span_id(request_id: str | None, *, place: str = "") -> str:
    """The 16-hex OTLP span id of a request id (or, without one, of the record's ``place``)."""
    if request_id is not None:
        return _hash_hex(request_id, 8, b"av.span")
    return _hash_hex(place, 8, b"av.span.place")


# ----------------------------------------------------------------------------------------------------
# Attributes


def _value(value: Any) -> dict[str, Any]:
    """An OTLP ``AnyValue`` for one JSON value: scalars keep their type, anything else is its JSON text."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX:
        return {"intValue": str(value)}
    if isinstance(value, float) and math.isfinite(value):
        return {"doubleValue": value}
    return {"stringValue": json.dumps(value, separators=(",", ":"), ensure_ascii=False)}


def _strings(values: Sequence[str]) -> dict[str, Any]:
    return {"arrayValue": {"values": [{"stringValue": v} for v in values]}}


def _kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def _params(text: str | None) -> dict[str, Any] | None:
    """The params object of a record; the standard library's decoder, which keeps an integer of any size
    exact (orjson would make a float of one past 64 bits)."""
    if text is None:
        return None
    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


# ----------------------------------------------------------------------------------------------------
# Spans


@dataclass(slots=True)
class _Step:
    """One record on its way to a span: its row, ids and resolved parent (or link)."""

    row: dict[str, Any]
    trace_hex: str
    span_hex: str
    usable: bool
    parent_hex: str | None = None
    link: tuple[str, str] | None = None


def _span(step: _Step, semconv: Semconv) -> dict[str, Any]:
    row = step.row
    tool: str | None = row["tool"]
    command: str | None = row["command"]
    exit_code: int | None = row["exit_code"]
    error_type: str | None = row["error_type"]
    error_message: str | None = row["error_message"]
    params = _params(row["params"])
    has_error = error_type is not None or error_message is not None
    failed = exit_code != 0 if exit_code is not None else has_error

    attributes: list[dict[str, Any]] = []
    add = attributes.append
    if tool is not None:
        add(_kv("process.executable.name", {"stringValue": tool}))
    if exit_code is not None:
        add(_kv("process.exit.code", {"intValue": str(exit_code)}))
    if row["pid"] is not None:
        add(_kv("process.pid", {"intValue": str(row["pid"])}))
    argv = params.get("argv") if params is not None else None
    if isinstance(argv, list) and all(isinstance(arg, str) for arg in argv):
        add(_kv("process.command_args", _strings([tool or "", *argv])))
    if failed:
        add(_kv("error.type", {"stringValue": error_type or "_OTHER"}))
    if semconv == "genai":
        add(_kv("gen_ai.operation.name", {"stringValue": "execute_tool"}))
        add(_kv("gen_ai.tool.name", {"stringValue": tool or "unknown"}))
        if row["request_id"] is not None:
            add(_kv("gen_ai.tool.call.id", {"stringValue": row["request_id"]}))
        if step.usable:
            add(_kv("gen_ai.conversation.id", {"stringValue": row["trace_id"]}))
        if params is not None:
            add(_kv("gen_ai.tool.call.arguments", {"stringValue": row["params"]}))
    for key, value in (
        ("command", command),
        ("request_id", row["request_id"]),
        ("parent_request_id", row["parent_request_id"]),
        ("trace_id", row["trace_id"] if step.usable else None),
        ("operator", row["operator"]),
    ):
        if value is not None:
            add(_kv(ATTRIBUTE_PREFIX + key, {"stringValue": value}))
    if not step.usable:
        add(_kv(ATTRIBUTE_PREFIX + "orphan", {"boolValue": True}))
    if row["duration_ms"] is not None:
        add(_kv(ATTRIBUTE_PREFIX + "duration_ms", {"doubleValue": row["duration_ms"]}))
    if row["truncated"]:
        add(_kv(ATTRIBUTE_PREFIX + "truncated", {"boolValue": True}))
    if row["derived"]:
        add(_kv(ATTRIBUTE_PREFIX + "derived", _strings(row["derived"].split(","))))
    if row["warnings"]:
        add(_kv(ATTRIBUTE_PREFIX + "warnings", _strings(row["warnings"].split("\n"))))
    if params is not None:
        for key, value in params.items():
            add(_kv(PARAMS_PREFIX + key, _value(value)))

    if semconv == "genai":
        name = f"execute_tool {tool or 'unknown'}"
    else:
        name = " ".join(part for part in (tool or "unknown", command) if part)
    span: dict[str, Any] = {"traceId": step.trace_hex, "spanId": step.span_hex}
    if step.parent_hex is not None:
        span["parentSpanId"] = step.parent_hex
    span["name"] = name
    span["kind"] = SPAN_KIND_INTERNAL
    span["startTimeUnixNano"] = str(row["__av_start_ns"])
    span["endTimeUnixNano"] = str(row["__av_end_ns"])
    span["attributes"] = attributes
    if step.link is not None:
        span["links"] = [
            {
                "traceId": step.link[0],
                "spanId": step.link[1],
                "attributes": [_kv(ATTRIBUTE_PREFIX + "link", {"stringValue": "parent_request_id"})],
            }
        ]
    if failed:
        message = error_message or error_type or f"exit code {exit_code}"
        span["status"] = {"code": STATUS_CODE_ERROR, "message": message}
    return span


def _resource(tool: str | None, host: str | None, version: str | None) -> dict[str, Any]:
    attributes = [_kv("service.name", {"stringValue": tool if tool is not None else "unknown_service"})]
    if host is not None:
        attributes.append(_kv("host.name", {"stringValue": host}))
    if version is not None:
        attributes.append(_kv("service.version", {"stringValue": version}))
    return {"attributes": attributes}


def _request(steps: list[_Step], semconv: Semconv) -> dict[str, Any]:
    """One ``ExportTraceServiceRequest``: the steps grouped by resource in order of first appearance."""
    groups: dict[tuple[str | None, str | None, str | None], list[dict[str, Any]]] = {}
    for step in steps:
        row = step.row
        groups.setdefault((row["tool"], row["host"], row["version"]), []).append(_span(step, semconv))
    scope = {"name": "auditview", "version": __version__}
    return {
        "resourceSpans": [
            {
                "resource": _resource(*key),
                "scopeSpans": [{"scope": scope, "spans": spans, "schemaUrl": SCHEMA_URL}],
                "schemaUrl": SCHEMA_URL,
            }
            for key, spans in groups.items()
        ]
    }


_STRING_COLUMNS: Final = (
    "tool",
    "command",
    "request_id",
    "trace_id",
    "parent_request_id",
    "operator",
    "host",
    "version",
    "error_type",
    "error_message",
    "params",
    "derived",
    "warnings",
)
_TYPED_COLUMNS: Final = {
    "exit_code": pl.Int64(),
    "duration_ms": pl.Float64(),
    "pid": pl.Int64(),
    "truncated": pl.Boolean(),
}


def _prepared(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns the mapping reads (absent ones null), nanosecond times and a trace group per record (an
    orphan alone), in export order: traces by their first start, a trace's steps by start, then frame
    order."""
    strings = [
        (pl.col(name).cast(pl.String) if name in frame.columns else pl.lit(None, pl.String)).alias(name)
        for name in _STRING_COLUMNS
    ]
    typed = [
        (pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype)).alias(name)
        for name, dtype in _TYPED_COLUMNS.items()
    ]
    locations = [
        (pl.col(name) if name in frame.columns else pl.lit(None, pl.Int64)).alias(name)
        for name in ("file_id", "offset")
    ]
    duration_ns = (pl.col("duration_ms").clip(lower_bound=0.0).fill_null(0.0) * 1_000_000.0).round(0)
    row = pl.int_range(pl.len(), dtype=pl.UInt32)
    return (
        frame.lazy()
        .select(pl.col("ts"), *strings, *typed, *locations, row.alias("__av_row"))
        .with_columns(
            (pl.col("ts").dt.epoch("us") * 1000).alias("__av_start_ns"),
            has_trace_id().alias("__av_usable"),
        )
        .with_columns(
            (pl.col("__av_start_ns") + duration_ns.cast(pl.Int64)).alias("__av_end_ns"),
            pl.when(pl.col("__av_usable"))
            .then(pl.lit("t:") + pl.col("trace_id"))
            .otherwise(pl.lit("o:") + pl.col("__av_row").cast(pl.String))
            .alias("__av_group"),
        )
        .with_columns(pl.col("ts").min().over("__av_group").alias("__av_group_start"))
        .sort("__av_group_start", "__av_group", "ts", "__av_row", nulls_last=True)
        .collect()
    )


def _place(row: dict[str, Any], places: Sequence[str] | None) -> str:
    """Where a record is: its source file (``places[file_id]``, else the file's number) and byte offset."""
    file_id = row["file_id"]
    known = places is not None and file_id is not None and 0 <= file_id < len(places)
    source = places[file_id] if places is not None and known else file_id
    return f"{source}:{row['offset']}"


def _trace_hex(row: dict[str, Any], places: Sequence[str] | None) -> str:
    usable = bool(row["__av_usable"])
    if usable:
        return otel_trace_id(row["trace_id"])
    return otel_trace_id(None, request_id=row["request_id"], place=_place(row, places))


def _first_spans(prepared: pl.DataFrame, places: Sequence[str] | None) -> dict[str, tuple[str, str]]:
    """For every request id some record names as its parent: the (trace, span) ids of its first record."""
    referenced = prepared.get_column("parent_request_id").drop_nulls().unique()
    firsts = (
        prepared.filter(pl.col("request_id").is_in(referenced.implode()))
        .unique(subset="request_id", keep="first", maintain_order=True)
        .select("request_id", "trace_id", "file_id", "offset", "__av_usable")
    )
    return {
        row["request_id"]: (_trace_hex(row, places), otel_span_id(row["request_id"]))
        for row in firsts.iter_rows(named=True)
    }


def _link_parents(trace: list[_Step], first_spans: dict[str, tuple[str, str]]) -> None:
    """Set ``parent_hex`` / ``link`` of one trace's steps (in start order); never forms a cycle.

    A parent in the trace is the timeline's (``auditview.core.timeline``: the first step with that request id,
    links accepted in start order unless they close a cycle); a record naming its own request id has none."""
    request_ids: list[str | None] = [step.row["request_id"] for step in trace]
    parent_ids: list[str | None] = [step.row["parent_request_id"] for step in trace]
    own = {request_id for request_id in request_ids if request_id is not None}
    accepted = accepted_parents(
        request_ids, [None if p == r else p for p, r in zip(parent_ids, request_ids, strict=True)]
    )
    for step, request_id, parent_id, parent in zip(trace, request_ids, parent_ids, accepted, strict=True):
        if parent is not None:
            step.parent_hex = trace[parent].span_hex
            continue
        if parent_id is None or parent_id == request_id or parent_id in own:
            continue
        elsewhere = first_spans.get(parent_id)
        if elsewhere is not None:  # the parent is in another trace of this export: a link, not a parent
            step.link = elsewhere
        elif step.usable:  # not exported (filtered out, another file): the same id joins it up later
            step.parent_hex = otel_span_id(parent_id)


def _traces(frame: pl.DataFrame, places: Sequence[str] | None) -> Iterator[list[_Step]]:
    """The records of ``frame`` as steps, one list per trace (an orphan alone), in export order."""
    prepared = _prepared(frame)
    first_spans = _first_spans(prepared, places)
    seen: set[str] = set()
    group: str | None = None
    trace: list[_Step] = []
    trace_hex = ""
    for row in prepared.iter_rows(named=True):
        if row["__av_group"] != group:
            if trace:
                _link_parents(trace, first_spans)
                yield trace
                trace = []
            group = row["__av_group"]
            trace_hex = _trace_hex(row, places)
        request_id: str | None = row["request_id"]
        if request_id is None:
            span_hex = otel_span_id(None, place=_place(row, places))
        elif request_id in seen:  # a repeated request id: the first record keeps the plain hash
            span_hex = otel_span_id(None, place=f"{request_id}\0{_place(row, places)}")
        else:
            seen.add(request_id)
            span_hex = otel_span_id(request_id)
        trace.append(_Step(row, trace_hex, span_hex, bool(row["__av_usable"])))
    if trace:
        _link_parents(trace, first_spans)
        yield trace


def build_requests(
    frame: pl.DataFrame,
    *,
    semconv: Semconv = "cli",
    places: Sequence[str] | None = None,
    max_spans: int = MAX_SPANS_PER_REQUEST,
) -> Iterator[dict[str, Any]]:
    """``ExportTraceServiceRequest`` documents (OTLP/JSON, as dicts) for the records of ``frame``.

    ``places[file_id]`` names each source file (for the ids of records without a request id); each document
    holds at most ``max_spans`` spans, whole traces where they fit. An empty frame gives no document.
    """
    if semconv not in SEMCONVS:
        raise ValueError(f"unknown semantic conventions {semconv!r} (choose from {', '.join(SEMCONVS)})")
    pending: list[_Step] = []
    for trace in _traces(frame, places):
        if pending and len(pending) + len(trace) > max_spans:
            yield _request(pending, semconv)
            pending = []
        while len(trace) > max_spans:  # a trace larger than a request: split it
            yield _request(trace[:max_spans], semconv)
            trace = trace[max_spans:]
        pending.extend(trace)
    if pending:
        yield _request(pending, semconv)


@dataclass(frozen=True, slots=True)
class OtlpResult:
    """What an OTLP export wrote: ``spans`` spans in ``requests`` lines, ``bytes`` bytes, their sha256."""

    spans: int
    requests: int
    bytes: int
    sha256: str


def _span_count(request: dict[str, Any]) -> int:
    return sum(len(scope["spans"]) for rs in request["resourceSpans"] for scope in rs["scopeSpans"])


def write_otlp(lines: Iterable[tuple[bytes, int]], out: BinaryIO | IO[bytes]) -> OtlpResult:
    """Write each ``(line, span count)`` + ``\\n`` to ``out``."""
    digest = hashlib.sha256()
    spans = requests = size = 0
    for line, count in lines:
        block = line + b"\n"
        out.write(block)
        digest.update(block)
        spans += count
        requests += 1
        size += len(block)
    return OtlpResult(spans, requests, size, digest.hexdigest())


def counted_lines(requests: Iterable[dict[str, Any]]) -> Iterator[tuple[bytes, int]]:
    """Each document as ``(JSON line, span count)``."""
    for request in requests:
        yield orjson.dumps(request), _span_count(request)


def index_lines(index: Any, frame: pl.DataFrame, *, semconv: Semconv = "cli") -> Iterator[tuple[bytes, int]]:
    """The OTLP/JSON lines of ``frame``'s records (``counted_lines`` of ``build_requests``), a record without
    a request id placed by its source's absolute path (``index.files``), as every front end writes them."""
    places = [os.path.abspath(source.path) for source in index.files]
    return counted_lines(build_requests(frame, semconv=semconv, places=places))


def export_otlp_to_file(
    index: Any,
    frame: pl.DataFrame,
    path: Path,
    *,
    semconv: Semconv = "cli",
    force: bool = False,
    manifest: Path | None = None,
    filter_text: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> OtlpResult:
    """Write ``frame`` as OTLP/JSON lines to ``path`` atomically, and its manifest (the source byte ranges
    of the records, as ``export`` writes it) to ``manifest``: what ``auditview export --format otlp-json --to
    PATH [--manifest M]`` and the app's export dialog both write. Refuses before any work what
    ``jsonl.check_targets`` refuses (a directory; an existing file unless ``force``)."""
    from auditview.core.exporters.jsonl import ExportResult, atomic_write, build_manifest, check_targets

    check_targets(path, manifest, force=force)
    written: OtlpResult = atomic_write(
        path, lambda out: write_otlp(index_lines(index, frame, semconv=semconv), out), force=force
    )
    if manifest is not None:
        result = ExportResult(written.spans, written.bytes, written.sha256, path)
        document = build_manifest(index, frame, result, filter_text=filter_text, since=since, until=until)
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        atomic_write(manifest, lambda out: out.write(text), force=force)
    return written


# ----------------------------------------------------------------------------------------------------
# OTLP/HTTP


class OtlpSendError(Exception):
    """The collector did not take the data: the reason, after the retries that apply."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """What ``send_otlp`` delivered: ``spans`` in ``requests`` POSTs to ``url``; ``retries`` made."""

    url: str
    spans: int
    requests: int
    bytes: int
    retries: int


#: Statuses the OTLP/HTTP specification lets a client retry (all other 4xx/5xx are final).
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
RETRIES: Final = 3
BACKOFF_S: Final = 0.5
MAX_RETRY_AFTER_S: Final = 10.0
TIMEOUT_S: Final = 10.0


def traces_url(url: str) -> str:
    """The URL to POST to: ``url`` itself, or with ``/v1/traces`` appended when it has no path (or ``/``).

    Raises ``ValueError`` for anything but an ``http``/``https`` URL with a host."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"--otlp-endpoint must be an http:// or https:// URL, not {url!r}")
    if parsed.path in ("", "/"):
        parsed = parsed._replace(path="/v1/traces")
    return urllib.parse.urlunsplit(parsed)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: use our own backoff
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S) if math.isfinite(seconds) else None


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text if len(text) <= 200 else text[:199] + "…"


def _post_once(url: str, body: bytes, timeout: float) -> bytes:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"auditview/{__version__}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # the user's own URL
        data: bytes = response.read()
        return data


def _http_reason(exc: urllib.error.HTTPError) -> str:
    reason = f"HTTP {exc.code} {exc.reason}".rstrip()
    try:
        detail = _excerpt(exc.read() or b"")
    except (OSError, http.client.HTTPException):
        detail = ""
    return f"{reason}: {detail}" if detail else reason


def send_otlp(
    url: str,
    lines: Iterable[tuple[bytes, int]],
    *,
    retries: int | None = None,
    backoff_s: float | None = None,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] | None = None,
) -> SendResult:
    """POST each ``(JSON line, span count)`` to ``traces_url(url)`` as OTLP/HTTP JSON.

    A 429, 502, 503 or 504 answer, a connection error or a timeout is retried up to ``retries`` (default
    ``RETRIES``) times per request, after ``backoff_s`` (``BACKOFF_S``) doubled at each retry (a
    ``Retry-After`` in seconds wins, capped at ``MAX_RETRY_AFTER_S``); each attempt waits at most
    ``timeout_s`` (``TIMEOUT_S``). Any other failure, exhausted retries, or a success that says it rejected
    spans (``partialSuccess``) raises ``OtlpSendError`` with the reason and what was sent before.
    """
    target = traces_url(url)
    retries = RETRIES if retries is None else retries
    backoff_s = BACKOFF_S if backoff_s is None else backoff_s
    timeout_s = TIMEOUT_S if timeout_s is None else timeout_s
    sleep = time.sleep if sleep is None else sleep
    spans = requests = size = retried = 0
    for body, count in lines:
        attempt = 0
        while True:
            wait: float | None = None
            try:
                answer = _post_once(target, body, timeout_s)
                break
            except urllib.error.HTTPError as exc:
                reason = _http_reason(exc)
                if exc.code not in RETRYABLE_STATUSES:
                    raise OtlpSendError(_failure(target, reason, spans, requests)) from None
                wait = _retry_after(exc.headers.get("Retry-After") if exc.headers is not None else None)
            except urllib.error.URLError as exc:
                cause = exc.reason
                reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
            except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, broken answers
                reason = f"{type(exc).__name__}: {exc}"
            if attempt >= retries:
                if retries:
                    reason += f" (after {attempt + 1} attempts)"
                raise OtlpSendError(_failure(target, reason, spans, requests))
            sleep(backoff_s * (2**attempt) if wait is None else wait)
            attempt += 1
            retried += 1
        _check_partial(target, answer, spans, requests)
        spans += count
        requests += 1
        size += len(body)
    return SendResult(target, spans, requests, size, retried)


def _failure(url: str, reason: str, spans: int, requests: int) -> str:
    message = f"cannot send to {url}: {reason}"
    if requests:
        message += (
            f"; {spans} span{'s' if spans != 1 else ''} in {requests} "
            f"request{'s' if requests != 1 else ''} had been sent"
        )
    return message


def _check_partial(url: str, answer: bytes, spans: int, requests: int) -> None:
    """A 2xx answer with ``partialSuccess.rejectedSpans`` > 0 is a failure (not retried, as the spec says)."""
    try:
        document = orjson.loads(answer) if answer.strip() else None
    except orjson.JSONDecodeError:
        return  # not JSON (a protobuf answer, say): nothing to read
    partial = document.get("partialSuccess") if isinstance(document, dict) else None
    if not isinstance(partial, dict):
        return
    try:
        rejected = int(partial.get("rejectedSpans") or 0)
    except (TypeError, ValueError):
        rejected = 0
    if rejected > 0:
        message = partial.get("errorMessage") or "no reason given"
        reason = f"the collector rejected {rejected} span{'s' if rejected != 1 else ''}: {message}"
        raise OtlpSendError(_failure(url, reason, spans, requests))

"""``export --format otlp-json``: valid OTLP/JSON (read by the OpenTelemetry protobuf definitions) and the
mapping of records to spans, field by field."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditview.core.exporters.otlp import SCHEMA_URL, build_requests
from auditview.main import main
from tests.otlp.conftest import (
    BASE,
    HEX_TRACE,
    PARAMS_A1,
    attributes,
    by_request,
    nanos,
    parse_request,
    read_lines,
    spans_of,
)

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"


def _export(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> list[dict[str, Any]]:
    assert main(["export", *argv, "--format", "otlp-json"]) == 0
    return read_lines(capsysbinary.readouterr().out)


def _blake(text: str, size: int, person: bytes) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size, person=person).hexdigest()


def _one(spans: dict[str, list[dict[str, Any]]], request_id: str) -> dict[str, Any]:
    (span,) = spans[request_id]
    return span


def test_sample_logs_export_is_valid_otlp_json_with_one_span_per_record(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """Every record of sample_logs is one span; each line is an ExportTraceServiceRequest the protobuf
    definitions read back to the same JSON (lowerCamelCase, int64 strings, integer enums, hex ids)."""
    documents = _export(capsysbinary, str(SAMPLE_LOGS))
    spans = spans_of(documents)
    assert len(spans) == 607  # sample_logs/README.md: 607 records
    message = parse_request(documents[0])
    first = message.resource_spans[0].scope_spans[0].spans[0]
    assert len(first.trace_id) == 16
    assert len(first.span_id) == 8
    assert first.start_time_unix_nano > 1_700_000_000 * 10**9
    assert len({span["spanId"] for _, span in spans}) == 607
    for _, span in spans:
        assert len(span["traceId"]) == 32
        assert len(span["spanId"]) == 16
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"])


def test_trace_ids_kept_hashed_or_orphaned(
    otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A 32-hex trace id is kept (lowercased); any other, or all zeros, is hashed (blake2b-128) with the
    original in ``auditview.trace_id``; an orphan gets a trace of its own from its request id or place."""
    documents = _export(capsysbinary, str(otlp_logs))
    spans = by_request(documents)
    session_a = _blake("session-a", 16, b"av.trace")
    for request_id in ("req-a1", "req-a2", "req-a3", "req-a4", "req-a5", "req-a6", "req-a7", "req-a8"):
        span = _one(spans, request_id)
        assert span["traceId"] == session_a
        assert attributes(span)["auditview.trace_id"] == "session-a"
    hex_span = _one(spans, "req-b1")
    assert hex_span["traceId"] == HEX_TRACE.lower()
    assert attributes(hex_span)["auditview.trace_id"] == HEX_TRACE
    assert _one(spans, "req-z1")["traceId"] == _blake("0" * 32, 16, b"av.trace")

    orphan = _one(spans, "req-o1")
    assert orphan["traceId"] == _blake("req-o1", 16, b"av.orphan")
    assert attributes(orphan)["auditview.orphan"] is True
    assert "auditview.trace_id" not in attributes(orphan)
    assert _one(spans, "req-o3")["traceId"] == _blake("req-o3", 16, b"av.orphan")
    (healthcheck,) = spans[""]  # no request id: ids from its place (file and byte offset)
    place = f"{(otlp_logs / 'healthcheck' / 'audit.jsonl').resolve()}:0"
    assert healthcheck["traceId"] == _blake(place, 16, b"av.orphan.place")
    assert healthcheck["spanId"] == _blake(place, 8, b"av.span.place")
    orphan_traces = {orphan["traceId"], _one(spans, "req-o3")["traceId"], healthcheck["traceId"]}
    assert len(orphan_traces) == 3


def test_span_ids_and_parent_links(otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Span ids hash the request id; ``parentSpanId`` is the parent's span, a parent outside the export keeps
    its hashed id, one in another trace becomes a link; no self-parent, no cycle; repeated ids stay unique."""
    documents = _export(capsysbinary, str(otlp_logs))
    spans = by_request(documents)
    a1 = _one(spans, "req-a1")
    assert a1["spanId"] == _blake("req-a1", 8, b"av.span")
    assert "parentSpanId" not in a1
    assert _one(spans, "req-a2")["parentSpanId"] == a1["spanId"]
    assert _one(spans, "req-a3")["parentSpanId"] == a1["spanId"]  # across tools and resources
    assert "parentSpanId" not in _one(spans, "req-a4")  # its own parent
    a5, a6 = _one(spans, "req-a5"), _one(spans, "req-a6")  # a cycle: the later link is dropped
    assert a5["parentSpanId"] == a6["spanId"]
    assert "parentSpanId" not in a6
    assert _one(spans, "req-a7")["parentSpanId"] == _blake("req-gone", 8, b"av.span")
    a8 = _one(spans, "req-a8")
    b1 = _one(spans, "req-b1")
    assert "parentSpanId" not in a8
    assert [(link["traceId"], link["spanId"]) for link in a8["links"]] == [(b1["traceId"], b1["spanId"])]
    o1 = _one(spans, "req-o1")  # an orphan's parent in a trace: a link too
    assert "parentSpanId" not in o1
    assert [(link["traceId"], link["spanId"]) for link in o1["links"]] == [(a1["traceId"], a1["spanId"])]
    assert attributes(o1)["auditview.parent_request_id"] == "req-a1"
    d1, d2 = spans["req-d1"]
    assert d1["spanId"] == _blake("req-d1", 8, b"av.span")
    assert d2["spanId"] != d1["spanId"]
    every = [span["spanId"] for _, span in spans_of(documents)]
    assert len(every) == len(set(every)) == 16


def test_times_from_timestamp_and_duration(
    otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Start is the timestamp in unix nanoseconds (a string), end adds ``duration_ms``; unknown: end =
    start."""
    spans = by_request(_export(capsysbinary, str(otlp_logs)))
    a1 = _one(spans, "req-a1")
    assert a1["startTimeUnixNano"] == str(nanos(0))
    assert a1["endTimeUnixNano"] == str(nanos(0) + 2_000_000_000)
    a2 = _one(spans, "req-a2")
    assert int(a2["endTimeUnixNano"]) - int(a2["startTimeUnixNano"]) == 500_250_000
    (healthcheck,) = spans[""]  # "duration_ms": "fast" is read as unknown
    assert healthcheck["startTimeUnixNano"] == healthcheck["endTimeUnixNano"]
    at_10s = BASE.replace(second=10, microsecond=0)
    assert int(healthcheck["startTimeUnixNano"]) == int(at_10s.timestamp()) * 10**9
    assert "auditview.duration_ms" not in attributes(healthcheck)


def test_status_and_error_attributes(otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """A non-zero exit is STATUS_CODE_ERROR (2) with the message, ``error.type`` set (``_OTHER`` without a
    type); a success leaves the status unset (no ``status`` at all) and no ``error.type``."""
    spans = by_request(_export(capsysbinary, str(otlp_logs)))
    a3 = _one(spans, "req-a3")
    assert a3["status"] == {"code": 2, "message": "health check failed"}
    assert attributes(a3)["error.type"] == "CheckFailed"
    assert attributes(a3)["process.exit.code"] == 3
    f1 = _one(spans, "req-f1")
    assert f1["status"] == {"code": 2, "message": "exit code 2"}
    assert attributes(f1)["error.type"] == "_OTHER"
    (healthcheck,) = spans[""]
    assert healthcheck["status"] == {"code": 2, "message": "curl: (28) Operation timed out"}
    a1 = _one(spans, "req-a1")
    assert "status" not in a1
    assert "error.type" not in attributes(a1)
    assert attributes(a1)["process.exit.code"] == 0


def test_cli_attributes_params_and_redaction(
    otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """CLI conventions, auditview's fields under ``auditview.``, params one level deep under
    ``auditview.params.`` (scalars typed, anything else JSON text), redacted values as the log has them."""
    spans = by_request(_export(capsysbinary, str(otlp_logs)))
    a1 = _one(spans, "req-a1")
    assert a1["name"] == "deployctl deploy"
    assert a1["kind"] == 1  # SPAN_KIND_INTERNAL
    attrs = attributes(a1)
    assert attrs["process.executable.name"] == "deployctl"
    assert attrs["process.pid"] == 4242
    assert "process.command_args" not in attrs
    assert attrs["auditview.command"] == "deploy"
    assert attrs["auditview.operator"] == "agent-7"
    assert attrs["auditview.duration_ms"] == 2000.0
    params = {key.removeprefix("auditview.params."): v for key, v in attrs.items() if "params." in key}
    assert params == {
        "env": "prod",
        "replicas": 3,
        "dry_run": False,
        "ratio": 0.5,
        "target": '{"region":"eu-west-1"}',
        "tags": '["x","y"]',
        "note": "null",
        "big": str(PARAMS_A1["big"]),
        "dsn": "postgres://deploy:[REDACTED]@db",
    }
    typed = {kv["key"]: kv["value"] for kv in a1["attributes"]}
    assert typed["auditview.params.replicas"] == {"intValue": "3"}
    assert typed["auditview.params.dry_run"] == {"boolValue": False}
    assert typed["auditview.params.ratio"] == {"doubleValue": 0.5}
    o3 = attributes(_one(spans, "req-o3"))  # auditview run's params: the command line
    assert o3["process.command_args"] == ["deployctl", "--env", "prod", "--token", "[REDACTED]"]
    (healthcheck,) = spans[""]
    hc = attributes(healthcheck)
    assert hc["process.executable.name"] == "healthcheck"
    assert "tool<-path" in hc["auditview.derived"]
    assert hc["auditview.warnings"] == ["duration_ms must be a number, not a string 'fast'"]
    assert "process.pid" not in hc


def test_one_resource_per_tool_host_and_version(
    otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Spans are grouped under one resource per (tool, host, version): service.name, host.name,
    service.version; the scope is auditview with the schema URL of the pinned conventions."""
    documents = _export(capsysbinary, str(otlp_logs))
    (document,) = documents
    resources = [attributes(rs["resource"]) for rs in document["resourceSpans"]]
    assert sorted(resources, key=str) == sorted(
        [
            {"service.name": "deployctl", "host.name": "runner-1", "service.version": "1.0.0"},
            {"service.name": "verifyctl", "host.name": "runner-2", "service.version": "2.0.0"},
            {"service.name": "healthcheck"},
        ],
        key=str,
    )
    for resource, span in spans_of(documents):
        assert attributes(span)["process.executable.name"] == resource["service.name"]
    for resource_spans in document["resourceSpans"]:
        assert resource_spans["schemaUrl"] == SCHEMA_URL
        (scope_spans,) = resource_spans["scopeSpans"]
        assert scope_spans["scope"]["name"] == "auditview"


def test_genai_semconv_marks_tool_calls_of_an_agent_session(
    otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """``--semconv genai``: execute_tool spans with the tool, the call id, the session as the conversation
    and the (already redacted) params as the call's arguments; the CLI attributes stay."""
    assert main(["export", str(otlp_logs), "--format", "otlp-json", "--semconv", "genai"]) == 0
    spans = by_request(read_lines(capsysbinary.readouterr().out))
    a1 = _one(spans, "req-a1")
    attrs = attributes(a1)
    assert a1["name"] == "execute_tool deployctl"
    assert a1["kind"] == 1
    assert attrs["gen_ai.operation.name"] == "execute_tool"
    assert attrs["gen_ai.tool.name"] == "deployctl"
    assert attrs["gen_ai.tool.call.id"] == "req-a1"
    assert attrs["gen_ai.conversation.id"] == "session-a"
    assert orjson.loads(attrs["gen_ai.tool.call.arguments"]) == PARAMS_A1
    assert attrs["process.executable.name"] == "deployctl"
    assert "gen_ai.conversation.id" not in attributes(_one(spans, "req-o1"))  # an orphan has no session
    a3 = attributes(_one(spans, "req-a3"))
    assert a3["error.type"] == "CheckFailed"


def test_filters_trace_and_determinism(otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """``--trace`` and ``--filter`` select the spans; the same records give the same bytes every time, so a
    later export of a missing parent joins the trace."""
    spans = by_request(_export(capsysbinary, str(otlp_logs), "--trace", "session-a"))
    assert sorted(spans) == ["req-a1", "req-a2", "req-a3", "req-a4", "req-a5", "req-a6", "req-a7", "req-a8"]
    assert "links" not in _one(spans, "req-a8")  # req-b1 is not exported: it stays a parent by id
    assert _one(spans, "req-a8")["parentSpanId"] == _blake("req-b1", 8, b"av.span")
    only = by_request(_export(capsysbinary, str(otlp_logs), "--filter", "tool=verifyctl"))
    assert _one(only, "req-a3")["parentSpanId"] == _one(spans, "req-a1")["spanId"]
    assert main(["export", str(otlp_logs), "--format", "otlp-json"]) == 0
    first = capsysbinary.readouterr().out
    assert main(["export", str(otlp_logs), "--format", "otlp-json"]) == 0
    assert capsysbinary.readouterr().out == first


def test_requests_hold_whole_traces_up_to_max_spans(
    otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """At most ``max_spans`` spans per ExportTraceServiceRequest line; a trace is not split when it fits."""
    from auditview.core.index import AuditIndex
    from auditview.source.discover import discover

    index = AuditIndex.load(discover([str(otlp_logs)]), cache=False)
    requests = list(build_requests(index.frame, max_spans=3))
    for request in requests:
        parse_request(request)
    counts = [len(spans_of([request])) for request in requests]
    assert sum(counts) == 16
    assert max(counts) == 3
    traces: dict[str, set[int]] = {}
    for number, request in enumerate(requests):
        for _, span in spans_of([request]):
            traces.setdefault(span["traceId"], set()).add(number)
    session_a = _blake("session-a", 16, b"av.trace")
    assert len(traces[session_a]) == 3  # 8 spans: split, as it must be
    assert all(len(lines) == 1 for trace, lines in traces.items() if trace != session_a)
    assert list(build_requests(index.frame.head(0))) == []

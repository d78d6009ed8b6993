"""Fixtures for the OTLP tests: a hand-built log with every case of the mapping, and OTLP/JSON helpers that
read the output with the OpenTelemetry protobuf definitions."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

BASE = datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC)
HEX_TRACE = "4BF92F3577B34DA6A3CE929D0E0E4736"
PARAMS_A1: dict[str, Any] = {
    "env": "prod",
    "replicas": 3,
    "dry_run": False,
    "ratio": 0.5,
    "target": {"region": "eu-west-1"},
    "tags": ["x", "y"],
    "note": None,
    "big": 2**70,
    "dsn": "postgres://deploy:[REDACTED]@db",
}


def timestamp(at_s: float) -> str:
    return (BASE + timedelta(seconds=at_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def nanos(at_s: float) -> int:
    moment = BASE + timedelta(seconds=at_s)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def record(
    request_id: str | None,
    *,
    at_s: float,
    trace_id: str | None = "session-a",
    tool: str = "deployctl",
    command: str = "apply",
    duration_ms: float = 100.0,
    exit_code: int = 0,
    parent: str | None = None,
    params: dict[str, Any] | None = None,
    host: str = "runner-1",
    version: str = "1.0.0",
    **extra: Any,
) -> dict[str, Any]:
    """One writer-shaped record ``at_s`` seconds after ``BASE``."""
    rec: dict[str, Any] = {
        "timestamp": timestamp(at_s),
        "tool": tool,
        "command": command,
        "params": params or {},
        "exit_code": exit_code,
        "duration_ms": duration_ms,
        "request_id": request_id,
        "trace_id": trace_id,
        "version": version,
        "operator": "agent-7",
        "host": host,
        "pid": 4242,
        "ok": exit_code == 0,
    }
    if request_id is None:
        del rec["request_id"]
    if trace_id is None:
        del rec["trace_id"]
    if parent is not None:
        rec["parent_request_id"] = parent
    rec.update(extra)
    return rec


#: deployctl on runner-1 (and verifyctl on runner-2): every case of the mapping, by request id.
DEPLOY = [
    record("req-a1", at_s=0, command="deploy", duration_ms=2000, params=PARAMS_A1),
    record("req-a2", at_s=0.5, parent="req-a1", duration_ms=500.25),
    record("req-a4", at_s=1.5, parent="req-a4", command="status"),  # its own parent
    record("req-a5", at_s=2.0, parent="req-a6"),  # a5 and a6 name each other
    record("req-a6", at_s=2.1, parent="req-a5"),
    record("req-a7", at_s=2.5, parent="req-gone"),  # a parent that is not exported
    record("req-a8", at_s=3.0, parent="req-b1"),  # a parent in another trace
    record("req-b1", at_s=0.2, trace_id=HEX_TRACE, command="plan"),
    record("req-z1", at_s=0.3, trace_id="0" * 32, command="plan"),
    record("req-f1", at_s=4.0, trace_id="session-f", exit_code=2, command="migrate"),
    record("req-d1", at_s=5.0, trace_id="session-d", command="status"),
    record("req-d1", at_s=5.5, trace_id="session-d", command="status"),  # the same request id again
    record("req-o1", at_s=6.0, trace_id="", parent="req-a1", command="status"),  # orphans
    record(
        "req-o3",
        at_s=7.0,
        trace_id=None,
        command="run",
        params={"argv": ["--env", "prod", "--token", "[REDACTED]"]},
    ),
]
VERIFY = [
    record(
        "req-a3",
        at_s=1.0,
        tool="verifyctl",
        command="check",
        exit_code=3,
        parent="req-a1",
        host="runner-2",
        version="2.0.0",
        duration_ms=300,
        error={"type": "CheckFailed", "message": "health check failed"},
    ),
]
#: A foreign producer (the seed's shape): no tool, request id or version; a duration the reader cannot use.
HEALTHCHECK = [
    {
        "timestamp": "2026-11-20T09:00:10Z",
        "command": "check",
        "params": {"env": "staging"},
        "exit_code": 28,
        "duration_ms": "fast",
        "operator": "svc-health",
        "error": "curl: (28) Operation timed out",
    }
]


@pytest.fixture
def otlp_logs(tmp_path: Path) -> Path:
    """A directory of three tools' logs with every case of the mapping (see ``DEPLOY``)."""
    root = tmp_path / "logs"
    for name, records in (("deployctl", DEPLOY), ("verifyctl", VERIFY), ("healthcheck", HEALTHCHECK)):
        (root / name).mkdir(parents=True)
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)  # 2**70 too
        (root / name / "audit.jsonl").write_text(lines)
    return root


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables: the tests' collector is on 127.0.0.1, reached directly."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# ----------------------------------------------------------------------------------------------------
# Reading OTLP/JSON


def _ids_to_base64(node: Any) -> None:
    """OTLP/JSON writes trace and span ids as hex; the protobuf JSON mapping of ``bytes`` is base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                _ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_base64(item)


def parse_request(document: dict[str, Any]) -> ExportTraceServiceRequest:
    """``document`` read by the protobuf definitions (unknown fields fail) after the OTLP/JSON id rule."""
    converted = copy.deepcopy(document)
    _ids_to_base64(converted)
    request: ExportTraceServiceRequest = json_format.Parse(json.dumps(converted), ExportTraceServiceRequest())
    return request


def read_lines(data: bytes) -> list[dict[str, Any]]:
    """The OTLP/JSON lines of an export, each checked to be exactly what protobuf makes of it.

    The round trip (parse, then ``MessageToDict`` with integer enums, ids back to hex) gives the same
    document: lowerCamelCase names, int64 as strings, enums as integers, no unknown or misspelt field."""
    assert data.endswith(b"\n")
    documents = [orjson.loads(line) for line in data.splitlines()]
    for document in documents:
        message = parse_request(document)
        again = json_format.MessageToDict(message, use_integers_for_enums=True)
        _ids_to_hex(again)
        assert again == document
    return documents


def _ids_to_hex(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _ids_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_hex(item)


def spans_of(documents: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every ``(resource attributes, span)`` of the documents, in order."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for document in documents:
        for resource_spans in document["resourceSpans"]:
            resource = attributes(resource_spans["resource"])
            for scope_spans in resource_spans["scopeSpans"]:
                found.extend((resource, span) for span in scope_spans["spans"])
    return found


def attributes(holder: dict[str, Any]) -> dict[str, Any]:
    """The ``attributes`` of a span or resource as plain values (arrays as lists; int64 as int)."""
    return {kv["key"]: plain(kv["value"]) for kv in holder.get("attributes", [])}


def plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "intValue":
        return int(inner)
    if kind == "arrayValue":
        return [plain(v) for v in inner.get("values", [])]
    return inner


def by_request(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The spans by their ``auditview.request_id`` (a list: request ids may repeat)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for _resource, span in spans_of(documents):
        found.setdefault(attributes(span).get("auditview.request_id", ""), []).append(span)
    return found

"""``export --otlp-endpoint URL``: OTLP/HTTP JSON to a collector on 127.0.0.1 started by the test (a
``http.server`` in a thread): the POST, retries after 429/503 with backoff, failures reported with exit 1."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import auditview.core.exporters.otlp as otlp
from auditview.core.exporters.otlp import OtlpSendError, send_otlp, traces_url
from auditview.main import main
from tests.otlp.conftest import parse_request, read_lines, spans_of


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    content_type: str | None
    body: bytes


class Collector:
    """A scripted OTLP/HTTP receiver: answers with ``replies`` in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply()]
        self.received: list[Received] = []
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                collector.received.append(Received(self.path, self.headers.get("Content-Type"), body))
                index = min(len(collector.received), len(collector.replies)) - 1
                reply = collector.replies[index]
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 5
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def spans(self) -> int:
        return sum(len(spans_of([json.loads(r.body)])) for r in self.received if r.body)


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    """A local collector, and short waits: the backoff and the timeout of the sender made small."""
    monkeypatch.setattr(otlp, "BACKOFF_S", 0.01)
    monkeypatch.setattr(otlp, "TIMEOUT_S", 5.0)
    running = Collector()
    running.thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()
        running.thread.join(timeout=5)


def test_sends_the_export_to_a_collector(
    otlp_logs: Path, collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    """One POST to ``/v1/traces`` (appended: the URL has no path) with ``application/json`` OTLP/JSON that
    the protobuf definitions read; the summary says what was sent."""
    assert main(["export", str(otlp_logs), "--otlp-endpoint", collector.url, "-o", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["data"]
    (received,) = collector.received
    assert received.path == "/v1/traces"
    assert received.content_type == "application/json"
    message = parse_request(json.loads(received.body))
    assert sum(len(s.spans) for rs in message.resource_spans for s in rs.scope_spans) == 16
    assert summary["count"] == 16
    assert summary["endpoint"] == collector.url + "/v1/traces"
    assert summary["sent_requests"] == 1
    assert summary["retries"] == 0


def test_sent_bytes_are_the_written_lines_and_a_path_is_kept(
    otlp_logs: Path, collector: Collector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--to`` and ``--otlp-endpoint`` together: the file holds exactly the bodies sent; a URL with a path
    is used as it is."""
    target = tmp_path / "spans.jsonl"
    url = collector.url + "/custom/traces"
    argv = ["export", str(otlp_logs), "--to", str(target), "--otlp-endpoint", url, "--semconv", "genai"]
    assert main([*argv, "-o", "table"]) == 0
    out = capsys.readouterr().out
    assert [r.path for r in collector.received] == ["/custom/traces"]
    assert target.read_bytes() == b"".join(r.body + b"\n" for r in collector.received)
    read_lines(target.read_bytes())
    assert "exported 16 spans" in out
    assert f"sent 16 spans in 1 request to {url}" in out


def test_retries_after_503_then_succeeds(
    otlp_logs: Path, collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 503 is retried (with backoff) and the second attempt delivers: exit 0, one retry reported."""
    collector.replies = [Reply(503, b"overloaded"), Reply(200)]
    assert main(["export", str(otlp_logs), "--otlp-endpoint", collector.url, "-o", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["data"]
    assert len(collector.received) == 2
    assert collector.received[0].body == collector.received[1].body
    assert summary["retries"] == 1
    assert summary["count"] == 16


def test_a_collector_that_stays_unavailable_is_a_reported_failure(
    otlp_logs: Path, collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    """503 on every attempt: 1 + 3 retries, then exit 1 with the status and the count of attempts."""
    collector.replies = [Reply(503, b"overloaded")]
    assert main(["export", str(otlp_logs), "--otlp-endpoint", collector.url, "-o", "json"]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error["type"] == "OtlpSendError"
    assert "HTTP 503" in error["message"]
    assert "overloaded" in error["message"]
    assert "after 4 attempts" in error["message"]
    assert "HTTP 503" in captured.err
    assert len(collector.received) == 4


def test_a_rejected_request_is_not_retried(
    otlp_logs: Path, collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    """400 is final (OTLP/HTTP: only 429, 502, 503, 504 are retryable): one attempt, exit 1, the reason."""
    collector.replies = [Reply(400, b'{"message":"bad trace id"}')]
    assert main(["export", str(otlp_logs), "--otlp-endpoint", collector.url]) == 1
    err = capsys.readouterr().err
    assert "HTTP 400" in err
    assert "bad trace id" in err
    assert len(collector.received) == 1


def test_partial_success_with_rejected_spans_is_a_failure(
    otlp_logs: Path, collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 200 whose ``partialSuccess`` rejected spans is reported (exit 1), not retried."""
    body = b'{"partialSuccess":{"rejectedSpans":"2","errorMessage":"spans too old"}}'
    collector.replies = [Reply(200, body)]
    assert main(["export", str(otlp_logs), "--otlp-endpoint", collector.url]) == 1
    err = capsys.readouterr().err
    assert "rejected 2 spans: spans too old" in err
    assert len(collector.received) == 1


def test_no_collector_listening_is_a_reported_failure(
    otlp_logs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Connection refused on every attempt: exit 1 with the reason, nothing on stdout."""
    monkeypatch.setattr(otlp, "BACKOFF_S", 0.01)
    with socket.socket() as probe:  # a port nobody listens on (bound, then closed)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["export", str(otlp_logs), "--otlp-endpoint", f"http://127.0.0.1:{port}"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"cannot send to http://127.0.0.1:{port}/v1/traces" in captured.err
    assert "ConnectionRefusedError" in captured.err
    assert "after 4 attempts" in captured.err


def test_backoff_doubles_and_retry_after_wins(collector: Collector) -> None:
    """``send_otlp`` waits ``backoff_s`` doubled per retry; a ``Retry-After`` in seconds replaces it; a
    later batch that fails names what was already sent."""
    collector.replies = [Reply(429), Reply(503, headers={"Retry-After": "2"}), Reply(200), Reply(502)]
    waits: list[float] = []
    lines = [(b'{"resourceSpans":[]}', 5), (b'{"resourceSpans":[]}', 7)]
    with pytest.raises(OtlpSendError) as failure:
        send_otlp(collector.url, lines, backoff_s=0.5, retries=2, sleep=waits.append)
    assert waits == [0.5, 2.0, 0.5, 1.0]
    assert "HTTP 502" in str(failure.value)
    assert "after 3 attempts" in str(failure.value)
    assert "5 spans in 1 request had been sent" in str(failure.value)
    assert len(collector.received) == 6


def test_traces_url() -> None:
    """``/v1/traces`` is appended to a URL without a path (or ``/``); others are kept; only http(s)."""
    assert traces_url("http://localhost:4318") == "http://localhost:4318/v1/traces"
    assert traces_url("http://localhost:4318/") == "http://localhost:4318/v1/traces"
    assert traces_url("https://otel.example/otlp/v1/traces") == "https://otel.example/otlp/v1/traces"
    for bad in ("localhost:4318", "ftp://x/y", "http://"):
        with pytest.raises(ValueError, match="http:// or https://"):
            traces_url(bad)

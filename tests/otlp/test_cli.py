"""``export --format otlp-json`` options: usage errors (exit 2), ``--to`` atomically with a summary and a
manifest, an empty selection."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditview.main import main
from tests.otlp.conftest import read_lines, spans_of


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--semconv", "genai"], "--semconv needs --format otlp-json"),
        (["--format", "jsonl", "--otlp-endpoint", "http://127.0.0.1:4318"], "needs --format otlp-json"),
        (["--otlp-endpoint", "localhost:4318"], "must be an http:// or https:// URL"),
        (["--format", "otlp-json", "-o", "json"], "needs --to FILE or --otlp-endpoint"),
        (["--format", "otlp-json", "--semconv", "llm"], "invalid choice"),
    ],
)
def test_usage_errors(
    otlp_logs: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Bad combinations of the OTLP options are usage errors, before anything is read or sent."""
    assert main(["export", str(otlp_logs), *argv]) == 2
    assert message in capsys.readouterr().err


def test_to_file_atomically_with_summary_and_manifest(
    otlp_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--to`` writes the OTLP/JSON lines (refusing to replace a file without ``--force``), the summary
    has counts and the sha256 of the bytes, ``--manifest`` names the source records."""
    target = tmp_path / "spans.jsonl"
    manifest = tmp_path / "spans.manifest.json"
    argv = ["export", str(otlp_logs), "--format", "otlp-json", "--to", str(target)]
    assert main([*argv, "--manifest", str(manifest), "-o", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["data"]
    data = target.read_bytes()
    assert len(spans_of(read_lines(data))) == 16
    assert summary["count"] == 16
    assert summary["requests"] == 1
    assert summary["format"] == "otlp-json"
    assert summary["sha256"] == hashlib.sha256(data).hexdigest()
    assert summary["bytes"] == len(data)
    document = json.loads(manifest.read_text())
    assert document["count"] == 16
    assert document["sha256"] == summary["sha256"]
    assert sum(source["records"] for source in document["sources"]) == 16
    assert main(argv) == 1
    assert "exists" in capsys.readouterr().err
    assert main([*argv, "--force", "-o", "table"]) == 0
    assert "exported 16 spans" in capsys.readouterr().out
    assert target.read_bytes() == data


def test_empty_selection_writes_nothing(otlp_logs: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """No matching record: no line at all (no empty request), exit 0."""
    assert main(["export", str(otlp_logs), "--format", "otlp-json", "--trace", "no-such-trace"]) == 0
    assert capsysbinary.readouterr().out == b""


def test_otlp_module_needs_no_opentelemetry_sdk_or_ui() -> None:
    """``auditview.core.exporters.otlp`` builds the JSON itself: importing it loads no OpenTelemetry,
    protobuf or UI."""
    code = "import sys, json, auditview.core.exporters.otlp\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    assert not loaded & {"opentelemetry", "google", "textual", "rich", "click"}

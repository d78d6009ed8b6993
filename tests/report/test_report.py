"""``auditview report``: Markdown and HTML reports of one trace, ``--export DIR``, and hostile record text."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from markdown_it import MarkdownIt

from auditview.core.exporters.report import REPORT_WIDTH, md_code, md_fence
from auditview.main import main

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
FAILING = "agent-session-45-step-2"  # 7 steps, 2 failed and slow, no previous similar run
WITH_PREVIOUS = "agent-session-56-step-7"  # has a previous similar run and findings

EVIL_LINK = "[x](http://evil)"
EVIL_IMAGE = "![img](http://evil/p.png)"
EVIL_SCRIPT = "<script>alert(1)</script>"
EVIL_FENCE = "````\n# injected heading\n<img src=x onerror=alert(1)>\n````"
HOSTILE_TRACE = "t-`x`-<b>bold</b>"


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "120")


def _run(argv: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsysbinary.readouterr()
    return code, captured.out.decode(), captured.err.decode()


def _hostile_record(**changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "timestamp": "2026-11-20T09:00:00.000000Z",
        "tool": "\x1b[31mevil\x1b]0;pwned\x07tool",
        "command": f"cmd {EVIL_LINK}",
        "params": {"a": EVIL_LINK, "b": EVIL_IMAGE, "c": EVIL_SCRIPT, "d": EVIL_FENCE, "e": "www.evil.com"},
        "exit_code": 1,
        "ok": False,
        "duration_ms": 9000,
        "request_id": "req-1",
        "trace_id": HOSTILE_TRACE,
        "version": "1.0.0",
        "operator": f"{EVIL_IMAGE}\u202eop",
        "error": {"type": "Boom`", "message": f"{EVIL_SCRIPT} ``` {EVIL_LINK}\n## heading"},
    }
    rec.update(changes)
    return rec


@pytest.fixture
def hostile_log(tmp_path: Path) -> Path:
    """One trace whose every text field tries to inject Markdown/HTML; a 41 s gap; both steps failed, slow."""
    second = _hostile_record(
        timestamp="2026-11-20T09:00:50.000000Z", request_id="req-2", command=f"<img src=x> {EVIL_FENCE}"
    )
    path = tmp_path / "evil" / "audit.jsonl"
    path.parent.mkdir()
    path.write_bytes(orjson.dumps(_hostile_record()) + b"\n" + orjson.dumps(second) + b"\n")
    return path


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "section", "h1", "h2", "h3", "p", "ul"}
ALLOWED_TAGS |= {"li", "code", "pre"}


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every real start tag of ``page`` with its attributes (escaped text yields none)."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collector().feed(page)
    return found


def _assert_inert_html(page: str) -> None:
    """Only the report's own tags, no attribute that loads or runs anything, no URL in a real attribute."""
    tags = _tags(page)
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS
    for _, attrs in tags:
        for name, value in attrs:
            assert name in ("lang", "charset", "http-equiv", "content", "name")
            assert "http" not in (value or "")


def _rendered_markdown(text: str) -> str:
    """The HTML a GitHub-like renderer (tables, autolinks) makes of ``text``."""
    rendered: str = MarkdownIt("gfm-like").render(text)
    return rendered


def test_markdown_report_of_a_failing_sample_trace_has_every_section(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """Header, waterfall, failed/slow steps with params and error, gaps, diff, findings and manifest."""
    code, out, _ = _run(["report", FAILING, str(SAMPLES)], capsysbinary)
    assert code == 0
    for heading in (
        f"# Trace report: `{FAILING}`",
        "## Summary",
        "## Waterfall",
        "## Failed and slow steps",
        "## Gaps",
        "## Diff against the previous similar run",
        "## Findings",
        "## Export manifest",
    ):
        assert f"\n{heading}\n" in f"\n{out}"
    assert "- time: 2026-11-20 09:00:09.853 UTC → 2026-11-20 09:02:31.339 UTC" in out
    assert "- steps: 7, failed: 2, slow: 2" in out
    assert "- tools: `deployctl`, `verifyctl`, `rollbackctl`" in out
    assert "- operators: `agent-session-45`" in out
    assert "### step 3: `deployctl deploy` (failed, slow)" in out
    assert "### step 5: `verifyctl verify` (failed, slow)" in out
    assert "- slow because: `over 5s`" in out
    assert "HealthCheckTimeout: orders-api did not become healthy within 120s" in out
    assert '"replicas": 12' in out
    assert "No gap of 30s or more." in out
    assert "No previous similar run" in out
    # the waterfall is a fixed-width text block, without colour
    waterfall = out.split("## Waterfall\n\n```text\n", 1)[1].split("\n```", 1)[0]
    assert "deployctl deploy" in waterfall
    assert max(len(line) for line in waterfall.splitlines()) <= REPORT_WIDTH
    assert "\x1b" not in out
    # the manifest's sha256 is the one of `auditview export --trace`
    main(["export", str(SAMPLES), "--trace", FAILING])
    exported = capsysbinary.readouterr().out
    assert f"sha256 {hashlib.sha256(exported).hexdigest()}" in out
    assert '"byte_ranges": [' in out


def test_gap_threshold_is_an_option(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """``--gap 5s`` lists the 10 s gap of the sample trace that the default 30 s leaves out."""
    code, out, _ = _run(["report", FAILING, str(SAMPLES), "--gap", "5s"], capsysbinary)
    assert code == 0
    gaps = out.split("## Gaps\n", 1)[1].split("\n## ", 1)[0]
    assert "Idle time of 5s or more" in gaps
    assert "10s idle" in gaps
    assert "after `deployctl status`, before `verifyctl health`" in gaps


def test_markdown_report_has_the_diff_and_findings_when_there_are(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """A trace with a previous similar run: the summary line and the added/removed/changed steps."""
    code, out, _ = _run(["report", WITH_PREVIOUS, str(SAMPLES)], capsysbinary)
    assert code == 0
    diff = out.split("## Diff against the previous similar run\n", 1)[1].split("\n## ", 1)[0]
    assert "then 43d93f099c26b5d2b4edf44a887bda14  (same first step)" in diff
    assert "steps 8 → 14: 5 paired (5 changed), 9 added, 3 removed" in diff
    assert "\n+ dbctl backup" in diff
    assert "\n- featureflags set" in diff
    assert "\n~ verifyctl verify  582ms → 2m01s  exit 0 → 124" in diff
    assert "- `new-error-code` (warning): `verifyctl verify failed with exit 124" in out


def test_html_report_is_self_contained(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """One file: inline CSS, no script, no src/href, no external resource."""
    code, out, _ = _run(["report", WITH_PREVIOUS, str(SAMPLES), "--format", "html"], capsysbinary)
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert "<style>" in out
    assert "default-src 'none'" in out
    _assert_inert_html(out)
    lowered = out.lower()
    for forbidden in ("<script", "<link", "<img", "<iframe", "<object", "@import", "url("):
        assert forbidden not in lowered
    assert "http://" not in lowered
    assert "https://" not in lowered
    assert "<h2>Failed and slow steps</h2>" in out
    assert "<pre>" in out


def test_export_writes_report_slice_and_manifest(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """``--export DIR``: report.md, the byte-exact trace.jsonl and manifest.json with its sha256."""
    target = tmp_path / "ticket"
    code, out, _ = _run(["report", FAILING, str(SAMPLES), "--export", str(target)], capsysbinary)
    assert code == 0
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "report.md", "trace.jsonl"]
    data = (target / "trace.jsonl").read_bytes()
    manifest = json.loads((target / "manifest.json").read_text())
    digest = hashlib.sha256(data).hexdigest()
    assert manifest["sha256"] == digest
    assert manifest["count"] == 7 == len(data.splitlines())
    assert manifest["bytes"] == len(data)
    assert manifest["export"] == str(target / "trace.jsonl")
    assert {json.loads(line)["trace_id"] for line in data.splitlines()} == {FAILING}
    main(["export", str(SAMPLES), "--trace", FAILING])
    assert capsysbinary.readouterr().out == data
    assert f"sha256 {digest}" in (target / "report.md").read_text()
    assert f"sha256 {digest}" in out
    # HTML into another directory
    html_dir = tmp_path / "html"
    assert main(["report", FAILING, str(SAMPLES), "--format", "html", "--export", str(html_dir)]) == 0
    assert (html_dir / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_export_refuses_a_non_empty_dir_without_force(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A non-empty DIR is refused (exit 1, nothing written); ``--force`` writes into it."""
    target = tmp_path / "ticket"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    code, _, err = _run(["report", FAILING, str(SAMPLES), "--export", str(target)], capsysbinary)
    assert code == 1
    assert "not empty" in err
    assert "--force" in err
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert main(["report", FAILING, str(SAMPLES), "--export", str(target), "--force"]) == 0
    assert (target / "trace.jsonl").exists()
    assert (target / "notes.txt").read_text() == "mine"
    file_target = tmp_path / "plain-file"
    file_target.write_text("x")
    assert main(["report", FAILING, str(SAMPLES), "--export", str(file_target), "--force"]) == 1


def test_unknown_trace_exits_1(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, err = _run(["report", "no-such-trace", str(SAMPLES)], capsysbinary)
    assert code == 1
    assert out == ""
    assert "no trace 'no-such-trace'" in err


def test_hostile_text_is_inert_in_markdown(
    hostile_log: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Links, images, HTML, escape sequences and fence-breaking backticks in a record stay literal text."""
    code, out, _ = _run(["report", HOSTILE_TRACE, str(hostile_log)], capsysbinary)
    assert code == 0
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\u202e" not in out
    assert "\\x1b[31mevil" in out
    assert "41s idle" in out  # the gap section names the hostile steps too
    rendered = _rendered_markdown(out)
    for forbidden in ("<a ", "<img", "<script", "<b>", "<h1>injected", "<h2>heading"):
        assert forbidden not in rendered
    # only our own headings: the record's "# injected heading" / "## heading" stayed inside code
    headings = re.findall(r"<h([1-3])>", rendered)
    assert headings.count("1") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "[x](http://evil)" in rendered
    assert "www.evil.com" in rendered


def test_hostile_text_is_escaped_in_html(
    hostile_log: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out, _ = _run(["report", HOSTILE_TRACE, str(hostile_log), "--format", "html"], capsysbinary)
    assert code == 0
    assert "\x1b" not in out
    assert "\u202e" not in out
    _assert_inert_html(out)
    lowered = out.lower()
    for forbidden in ("<script", "<img", "<a ", "<b>"):
        assert forbidden not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "[x](http://evil)" in out  # visible as text, never a link


@pytest.mark.parametrize("text", ["plain", "a`b", "``x``", "`", " lead", "tab\there", "x````y"])
def test_md_code_span_cannot_be_closed_early(text: str) -> None:
    """The code span's content, as rendered, is exactly the (sanitized) text."""
    rendered = MarkdownIt("commonmark").renderInline(md_code(text))
    expected = text.replace("\t", "\\t").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert rendered == f"<code>{expected}</code>"


def test_md_fence_is_longer_than_any_backtick_run() -> None:
    text = "before\n`````\n# not a heading\n[x](http://evil)"
    block = md_fence(text)
    assert block.startswith("``````text\n")
    assert block.endswith("\n``````")
    rendered = MarkdownIt("gfm-like").render(block + "\n\n# after\n")
    assert rendered.count("<pre>") == 1
    assert "<h1>after</h1>" in rendered
    assert "# not a heading" in rendered
    assert "<a " not in rendered

"""A shareable report of one trace: Markdown to paste into a ticket, or one self-contained HTML file.

Owns ``TraceReport`` (what a report shows: the timeline, each step's params and error, the findings, the diff
against the previous similar run, the export manifest of the trace's records, and those records as JSONL),
``build_report`` (the one way to assemble it from the loaded records, for the CLI's ``auditview report`` and
the app's report key alike), ``render_markdown``, ``render_html`` and ``write_export_dir`` (the report with
the byte-exact JSONL slice and its manifest).

The sections: a header (trace, time range in UTC, span, steps, failures, slow steps, tools, operators), the
waterfall as fixed-width text, every failed or slow step (params, error, why slow), the idle gaps above a
threshold, the diff against the previous similar run, the findings and the manifest.

Every field of a record is untrusted. The renderers build the report from a small document model in which
record text only ever appears as ``Val`` (inline) or ``Block`` (multi-line) and is made safe in one place
per format: control and bidi characters become visible escapes (``sanitize.printable``); in Markdown a
``Val`` is a code span and a ``Block`` a fenced code block, each delimited by a backtick run longer than any
in the text (so it cannot close early, and nothing inside is a link, an image or HTML); in HTML all text goes
through ``html.escape``. The HTML has inline CSS only, no script, no external resource, and a
Content-Security-Policy forbidding both. This module must not import a UI library; it reads the trace's
source bytes only through the index (``export_lines``) and writes only the ``--export`` directory.
"""

from __future__ import annotations

import contextlib
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import orjson
import polars as pl

from auditview.core.diff import DiffPair, RunDiff, diff_runs, previous_run
from auditview.core.exporters.jsonl import ExportResult, build_manifest, export_lines
from auditview.core.findings import detect_findings
from auditview.core.index import AuditIndex
from auditview.core.query import time_range
from auditview.core.render.diff_summary import diff_summary_line
from auditview.core.render.waterfall import render_waterfall
from auditview.core.step_details import step_details
from auditview.core.timeline import Timeline, TimelineStep, TraceNotFoundError, build_timeline
from auditview.text.humanize import format_duration
from auditview.text.plain import Palette
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    from auditview.core.slow import SlowStepRule
    from auditview.source.types import SourceFile

__all__ = [
    "DEFAULT_GAP_MS",
    "EXPORT_RECORDS",
    "FORMATS",
    "REPORT_WIDTH",
    "ReportSources",
    "TraceReport",
    "build_report",
    "check_export_dir",
    "md_code",
    "md_fence",
    "render",
    "render_html",
    "render_markdown",
    "write_export_dir",
]

FORMATS: Final = ("md", "html")
#: Gaps (idle time inside the trace) at least this long are listed.
DEFAULT_GAP_MS: Final = 30_000.0
#: The width of the waterfall block (fixed, whatever the terminal).
REPORT_WIDTH: Final = 110
#: The name of the trace's records (the byte-exact JSONL slice) in an ``--export`` directory.
EXPORT_RECORDS: Final = "trace.jsonl"
_PLAIN: Final = Palette(colour=False, unicode=True)
_BACKTICKS: Final = re.compile("`+")
#: The HTML page may load nothing and run nothing; only its inline style applies.
_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class TraceReport:
    """Everything a report shows. ``details`` per step place ``(file_id, offset)``: ``params``, ``error``
    (``{"type", "message"}`` or ``None``); ``paths`` the display path of each ``file_id``; ``findings`` each
    with its ``name``, ``severity`` and ``reason``. ``records``: the trace's records as JSONL, byte for byte
    from the sources (what ``manifest`` describes; ``write_export_dir`` writes them, the report does not show
    them)."""

    timeline: Timeline
    details: Mapping[tuple[int, int], Mapping[str, Any]] = field(default_factory=dict)
    paths: Sequence[str] = ()
    findings: Sequence[Mapping[str, Any]] = ()
    diff: RunDiff | None = None
    manifest: Mapping[str, Any] | None = None
    gap_threshold_ms: float = DEFAULT_GAP_MS
    width: int = REPORT_WIDTH
    records: bytes = field(default=b"", repr=False)


class ReportSources(Protocol):
    """What a report needs of an index besides the records: its files (``file_id`` -> source). An
    ``AuditIndex`` also gives the trace's source bytes, for the manifest and the JSONL slice."""

    @property
    def files(self) -> Sequence[SourceFile]: ...


def build_report(
    index: ReportSources,
    trace_id: str,
    *,
    records: pl.DataFrame,
    selected: pl.DataFrame | None = None,
    slow_rule: SlowStepRule,
    since: datetime | None = None,
    until: datetime | None = None,
    manifest_filter: str | None = None,
    gap_threshold_ms: float = DEFAULT_GAP_MS,
    export_dir: Path | None = None,
) -> TraceReport:
    """The report of ``trace_id``: its timeline, step details, findings, the diff against its previous
    similar run, and the manifest and JSONL of its records. Raises ``TraceNotFoundError`` when the trace has
    no usable record in ``selected``.

    ``records`` are all the loaded records: slow means slow compared with all of them, and the findings are
    detected over those in ``since``..``until`` (whatever a filter left). ``selected`` (default ``records``)
    are those the selection kept: the trace's steps and the runs the diff looks at come from them.
    ``manifest_filter``, ``since`` and ``until`` are what the manifest says chose the records; ``export_dir``
    the directory the JSONL will be written to (its ``EXPORT_RECORDS`` file is the manifest's ``export``).
    Only an ``AuditIndex`` gives the records' bytes: with any other index the report has no manifest.
    """
    selected = records if selected is None else selected
    rows = selected.filter(pl.col("trace_id").cast(pl.String) == trace_id)
    timeline = build_timeline(slow_rule.annotate(rows, reference=records), trace_id, slow_rule)
    found = detect_findings(time_range(records, since, until), trace_ids=[trace_id])
    findings = found.select("name", "severity", "reason").to_dicts() if found.height else []
    diff = None
    previous = previous_run(selected, trace_id)
    if previous is not None:
        with contextlib.suppress(TraceNotFoundError):
            diff = diff_runs(selected, previous.trace_id, trace_id, previous=previous)
    manifest = None
    jsonl = b""
    if isinstance(index, AuditIndex):
        buffer = io.BytesIO()
        result = export_lines(index, rows, buffer)
        jsonl = buffer.getvalue()
        if export_dir is not None:
            result = ExportResult(result.count, result.bytes, result.sha256, export_dir / EXPORT_RECORDS)
        manifest = build_manifest(index, rows, result, filter_text=manifest_filter, since=since, until=until)
    return TraceReport(
        timeline=timeline,
        details=step_details(selected, trace_id),
        paths=[source.display for source in index.files],
        findings=findings,
        diff=diff,
        manifest=manifest,
        gap_threshold_ms=gap_threshold_ms,
        records=jsonl,
    )


# ----------------------------------------------------------------------------------------------------
# The document model: our own text (``str``) and untrusted record text (``Val`` / ``Block``)


@dataclass(frozen=True)
class Val:
    """Untrusted inline text (one line once sanitized)."""

    text: str


Span = str | Val


@dataclass(frozen=True)
class Para:
    spans: list[Span]


@dataclass(frozen=True)
class Bullets:
    items: list[list[Span]]


@dataclass(frozen=True)
class Block:
    """Untrusted preformatted text (a fenced code block / ``<pre>``)."""

    text: str
    lang: str = "text"


@dataclass(frozen=True)
class Sub:
    """A sub-heading (e.g. one failed step)."""

    spans: list[Span]


Item = Para | Bullets | Block | Sub


@dataclass(frozen=True)
class Section:
    title: str
    items: list[Item]


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    text = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"{text[:-3]} UTC"


def _offset(ms: float) -> str:
    return "+" + format_duration(ms)


def _step_name(step: Any) -> str:
    return f"{step.tool or '?'} {step.command or '?'}"


_PAIR: Final = re.compile(r"\[\s*(\d+),\s*(\d+)\s*\]")


def _json_text(value: Any, *, sort: bool = True) -> str:
    if isinstance(value, str):
        return value
    option = orjson.OPT_INDENT_2 | (orjson.OPT_SORT_KEYS if sort else 0)
    text = orjson.dumps(value, option=option, default=str).decode()
    return _PAIR.sub(r"[\1, \2]", text)  # byte ranges on one line each


def _sections(report: TraceReport) -> list[Section]:
    timeline = report.timeline
    steps = timeline.steps
    failed = [s for s in steps if s.failed]
    slow = [s for s in steps if s.slow_reason]
    operators = list(dict.fromkeys(s.operator for s in steps if s.operator is not None))
    header = Bullets(
        [
            ["trace: ", Val(timeline.trace_id)],
            [f"time: {_utc(timeline.start)} → {_utc(timeline.end)}"],
            [
                f"span: {format_duration(timeline.span_ms)} (busy {format_duration(timeline.busy_ms)},"
                f" idle {format_duration(timeline.idle_ms)})"
            ],
            [f"steps: {len(steps)}, failed: {len(failed)}, slow: {len(slow)}"],
            ["tools: ", *_joined(timeline.tools)],
            ["operators: ", *_joined(operators)],
        ]
    )
    sections = [Section("Summary", [header])]
    waterfall = render_waterfall(timeline, width=report.width, palette=_PLAIN)
    sections.append(Section("Waterfall", [Block("\n".join(waterfall))]))
    sections.append(Section("Failed and slow steps", _problem_items(report, steps)))
    sections.append(Section("Gaps", _gap_items(report)))
    sections.append(Section("Diff against the previous similar run", _diff_items(report.diff)))
    sections.append(Section("Findings", _finding_items(report.findings)))
    sections.append(Section("Export manifest", _manifest_items(report.manifest)))
    return sections


def _joined(values: Sequence[str]) -> list[Span]:
    if not values:
        return ["-"]
    spans: list[Span] = []
    for i, value in enumerate(values):
        if i:
            spans.append(", ")
        spans.append(Val(value))
    return spans


def _problem_items(report: TraceReport, steps: Sequence[TimelineStep]) -> list[Item]:
    items: list[Item] = []
    for number, step in enumerate(steps, start=1):
        if not (step.failed or step.slow_reason):
            continue
        what = ", ".join((["failed"] if step.failed else []) + (["slow"] if step.slow_reason else []))
        items.append(Sub([f"step {number}: ", Val(_step_name(step)), f" ({what})"]))
        exit_text = "-" if step.exit_code is None else str(step.exit_code)
        facts: list[list[Span]] = [
            [
                f"at {_offset(step.start_ms)}, took {format_duration(step.duration_ms)}, exit {exit_text}",
                *(["; on the critical path"] if step.on_critical_path else []),
            ],
        ]
        if step.slow_reason:
            facts.append(["slow because: ", Val(step.slow_reason)])
        if step.operator is not None:
            facts.append(["operator: ", Val(step.operator)])
        if step.request_id is not None:
            facts.append(["request: ", Val(step.request_id)])
        path = report.paths[step.file_id] if 0 <= step.file_id < len(report.paths) else None
        if path is not None:
            where = f"{path}:{step.line}" if step.line is not None else f"{path} @{step.offset}"
            facts.append(["source: ", Val(where)])
        items.append(Bullets(facts))
        detail = report.details.get((step.file_id, step.offset), {})
        params = detail.get("params")
        items.append(Para(["params:"]))
        items.append(Block(_json_text(params) if params is not None else "(none)", "json"))
        error = detail.get("error")
        if error:
            items.append(Para(["error:"]))
            items.append(Block(f"{error.get('type') or '?'}: {error.get('message') or ''}"))
    return items or [Para(["No step failed or was slow."])]


def _gap_items(report: TraceReport) -> list[Item]:
    names = {s.request_id: _step_name(s) for s in report.timeline.steps if s.request_id is not None}
    threshold = format_duration(report.gap_threshold_ms)
    rows: list[list[Span]] = []
    for gap in report.timeline.gaps:
        if gap.duration_ms < report.gap_threshold_ms:
            continue
        row: list[Span] = [
            f"{format_duration(gap.duration_ms)} idle, {_offset(gap.start_ms)} → {_offset(gap.end_ms)}"
        ]
        if gap.after_request_id in names:
            row += [", after ", Val(names[gap.after_request_id])]
        if gap.before_request_id in names:
            row += [", before ", Val(names[gap.before_request_id])]
        rows.append(row)
    if not rows:
        return [Para([f"No gap of {threshold} or more."])]
    return [Para([f"Idle time of {threshold} or more between steps:"]), Bullets(rows)]


def _pair_line(pair: DiffPair) -> str | None:
    step = pair.b if pair.b is not None else pair.a
    assert step is not None
    name = _step_name(step)
    if pair.op == "insert":
        return f"+ {name}  {format_duration(step.duration_ms)}  exit {step.exit_code}"
    if pair.op == "delete":
        return f"- {name}  {format_duration(step.duration_ms)}  exit {step.exit_code}"
    if not pair.changed or pair.a is None or pair.b is None:
        return None
    parts = [f"~ {name}  {format_duration(pair.a.duration_ms)} → {format_duration(pair.b.duration_ms)}"]
    if pair.exit_changed:
        parts.append(f"exit {pair.a.exit_code} → {pair.b.exit_code}")
    params = pair.params
    keys = [f"+{k}" for k in params.added] + [f"-{k}" for k in params.removed]
    keys += [f"{k}: {_value(v.then)} → {_value(v.now)}" for k, v in params.changed.items()]
    if keys:
        parts.append("params " + ", ".join(keys))
    parts += [f"{k} {_value(v.then)} → {_value(v.now)}" for k, v in pair.fields.items()]
    return "  ".join(parts)


def _value(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 60 else text[:59] + "…"


def _diff_items(diff: RunDiff | None) -> list[Item]:
    if diff is None:
        return [Para(["No previous similar run in the records read."])]
    rule = diff.previous.rule if diff.previous is not None else "given"
    lines = [
        f"then {diff.a.trace_id}  ({rule})",
        f"now  {diff.b.trace_id}",
        diff_summary_line(diff, palette=_PLAIN),
    ]
    changed = [line for line in map(_pair_line, diff.pairs) if line is not None]
    lines += changed or ["(no step added, removed or changed)"]
    return [Block("\n".join(lines))]


def _finding_items(findings: Sequence[Mapping[str, Any]]) -> list[Item]:
    if not findings:
        return [Para(["None."])]
    rows: list[list[Span]] = []
    for finding in findings:
        rows.append(
            [
                Val(str(finding.get("name"))),
                f" ({finding.get('severity')}): ",
                Val(str(finding.get("reason") or "")),
            ]
        )
    return [Bullets(rows)]


def _manifest_items(manifest: Mapping[str, Any] | None) -> list[Item]:
    if manifest is None:
        return [Para(["No manifest."])]
    count = manifest.get("count")
    return [
        Para(
            [
                f"The trace's {count} record{'s' if count != 1 else ''} as JSONL, byte for byte from the"
                f" sources (sha256 {manifest.get('sha256')}, {manifest.get('bytes')} bytes; the same as"
                " auditview export --trace ID):"
            ]
        ),
        Block(_json_text(dict(manifest), sort=False), "json"),
    ]


# ----------------------------------------------------------------------------------------------------
# Markdown


def _longest_backticks(text: str) -> int:
    return max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=0)


def md_code(text: str) -> str:
    """Untrusted ``text`` as a Markdown code span that no backtick in it can close."""
    safe = printable(text)
    if not safe:
        return "` `"
    fence = "`" * (_longest_backticks(safe) + 1)
    if safe[0] in "` " or safe[-1] in "` ":
        safe = f" {safe} "
    return f"{fence}{safe}{fence}"


def md_fence(text: str, lang: str = "text") -> str:
    """Untrusted multi-line ``text`` as a fenced code block longer than any backtick run in it."""
    lines = [printable(line) for line in text.split("\n")]
    fence = "`" * max(3, _longest_backticks("\n".join(lines)) + 1)
    return "\n".join([fence + lang, *lines, fence])


def _md_spans(spans: Sequence[Span]) -> str:
    return "".join(md_code(s.text) if isinstance(s, Val) else s for s in spans)


def render_markdown(report: TraceReport) -> str:
    """The report as Markdown (GitHub-flavoured; record text only inside code spans and fenced blocks)."""
    out = [f"# Trace report: {md_code(report.timeline.trace_id)}", ""]
    for section in _sections(report):
        out += [f"## {section.title}", ""]
        for item in section.items:
            if isinstance(item, Para):
                out.append(_md_spans(item.spans))
            elif isinstance(item, Bullets):
                out += [f"- {_md_spans(spans)}" for spans in item.items]
            elif isinstance(item, Block):
                out.append(md_fence(item.text, item.lang))
            else:
                out.append(f"### {_md_spans(item.spans)}")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# ----------------------------------------------------------------------------------------------------
# HTML

_CSS: Final = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;
color:#1f2328;background:#fff;line-height:1.45}
h1{font-size:1.5em;border-bottom:1px solid #d0d7de;padding-bottom:.3em}
h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
h3{font-size:1em;margin-bottom:.3em}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
code{background:#f6f8fa;padding:.1em .3em;border-radius:4px}
pre{background:#f6f8fa;padding:.8em;border-radius:6px;overflow-x:auto;white-space:pre}
""".strip()


def _h(text: str) -> str:
    return html.escape(printable(text), quote=True)


def _html_spans(spans: Sequence[Span]) -> str:
    return "".join(f"<code>{_h(s.text)}</code>" if isinstance(s, Val) else _h(s) for s in spans)


def render_html(report: TraceReport) -> str:
    """The report as one self-contained HTML page: inline CSS, no script, no external resource."""
    title = _h(f"Trace report: {report.timeline.trace_id}")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Trace report: <code>{_h(report.timeline.trace_id)}</code></h1>",
    ]
    for section in _sections(report):
        out.append(f"<section><h2>{_h(section.title)}</h2>")
        for item in section.items:
            if isinstance(item, Para):
                out.append(f"<p>{_html_spans(item.spans)}</p>")
            elif isinstance(item, Bullets):
                out.append("<ul>" + "".join(f"<li>{_html_spans(s)}</li>" for s in item.items) + "</ul>")
            elif isinstance(item, Block):
                body = "\n".join(_h(line) for line in item.text.split("\n"))
                out.append(f"<pre>{body}</pre>")
            else:
                out.append(f"<h3>{_html_spans(item.spans)}</h3>")
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def render(report: TraceReport, fmt: str) -> str:
    """The report in ``fmt`` (one of ``FORMATS``)."""
    if fmt == "html":
        return render_html(report)
    if fmt == "md":
        return render_markdown(report)
    raise ValueError(f"unknown report format {fmt!r}")


# ----------------------------------------------------------------------------------------------------
# --export DIR


def check_export_dir(directory: Path, *, force: bool = False) -> None:
    """Raise when ``directory`` cannot take an export: a file, or a directory with
    anything in it and not ``force`` (both ``FileExistsError``)."""
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory} exists and is not a directory")
    if directory.is_dir() and not force and any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty (use --force to write into it)")


def write_export_dir(directory: Path, report: TraceReport, fmt: str, *, force: bool = False) -> list[Path]:
    """Write ``report.<fmt>`` (the report rendered), ``EXPORT_RECORDS`` (its records, the byte-exact slice)
    and ``manifest.json`` into ``directory`` (created if missing; refused when not empty unless ``force``);
    the paths written. A report without a manifest (``build_report`` without an ``AuditIndex``) is a
    ``ValueError``."""
    if report.manifest is None:
        raise ValueError("the report has no manifest: its records cannot be exported")
    text = render(report, fmt)
    check_export_dir(directory, force=force)
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / f"report.{fmt}", directory / EXPORT_RECORDS, directory / "manifest.json"]
    written[0].write_text(text, encoding="utf-8")
    written[1].write_bytes(report.records)
    written[2].write_bytes(orjson.dumps(dict(report.manifest), option=orjson.OPT_INDENT_2) + b"\n")
    return written

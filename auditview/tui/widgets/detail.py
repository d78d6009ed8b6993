"""Rendering one record for the detail screen: its fields as read, its field warnings, and the raw line as
pretty JSON, highlighted, inert.

The raw bytes are untrusted. They are decoded (invalid UTF-8 replaced), parsed, long strings are cut for
display, the JSON is re-serialized with two-space indentation, and every line passes through
``sanitize.printable`` before it becomes a ``rich.text.Text`` (plain text + a regex highlighter; never
markup).

A line of another producer is read under the reader contract (``auditview.reader_contract``): some values
come from elsewhere than their own key (the index frame's ``derived`` column: ``tool<-path``,
``exit_code<-ok``) and some are unusable (its ``warnings``). ``fields_as_read`` lists the values the app uses
with where each derived one came from, so that nothing shown is mistaken for what the producer wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import orjson
from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual.content import Content

from auditview.text.humanize import UNKNOWN, format_duration
from auditview.text.sanitize import printable, truncate_display
from auditview.tui.widgets.records import NO_TRACE

__all__ = [
    "DISPLAY_VALUE_LIMIT",
    "derived_sources",
    "describe_source",
    "field_warnings",
    "fields_as_read",
    "needs_fields_as_read",
    "pretty_record",
    "raw_preview",
    "warnings_block",
]

#: Strings longer than this are cut in the detail view (the raw line is still copied whole).
DISPLAY_VALUE_LIMIT: Final = 1_000
_RAW_LIMIT: Final = 20_000


def _cut(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > DISPLAY_VALUE_LIMIT:
            return value[:DISPLAY_VALUE_LIMIT] + f"… ({len(value) - DISPLAY_VALUE_LIMIT:,} more characters)"
        return value
    if isinstance(value, dict):
        return {str(key)[:DISPLAY_VALUE_LIMIT]: _cut(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item) for item in value]
    return value


def pretty_record(raw: bytes) -> Text:
    """Pretty, highlighted JSON of ``raw``; falls back to the sanitized raw text when it does not parse."""
    try:
        data = orjson.loads(raw)
        pretty = orjson.dumps(_cut(data), option=orjson.OPT_INDENT_2).decode("utf-8")
    except (orjson.JSONDecodeError, TypeError):
        return Text(raw_preview(raw))
    text = Text("\n".join(printable(line) for line in pretty.split("\n")), no_wrap=False)
    JSONHighlighter().highlight(text)
    return text


def raw_preview(raw: bytes) -> str:
    """The raw line as one sanitized, length-capped string."""
    return truncate_display(printable(raw.decode("utf-8", errors="replace")), _RAW_LIMIT)


#: The fields every record of the writer contract has, listed as read (an unknown one as ``UNKNOWN``).
CORE_FIELDS: Final = (
    "timestamp", "tool", "command", "exit_code", "duration_ms", "request_id", "trace_id", "operator",
    "version", "params",
)  # fmt: skip
#: Optional fields, listed when they have a value or were derived.
OTHER_FIELDS: Final = ("parent_request_id", "ok", "error", "host", "pid", "schema_version", "truncated")
_VALUE_LIMIT: Final = 80


def derived_sources(derived: str | None) -> dict[str, list[str]]:
    """``"tool<-path,exit_code<-ok"`` (the frame's ``derived`` column) -> ``{"tool": ["path"], ...}``."""
    found: dict[str, list[str]] = {}
    for entry in (derived or "").split(","):
        name, sep, source = entry.partition("<-")
        if sep and name:
            found.setdefault(name.strip(), []).append(source.strip())
    return found


def describe_source(source: str) -> str:
    """A derivation source in words: ``path`` -> "from the file name", ``meta.x`` -> "from meta.x"."""
    if source == "path":
        return "from the file name"
    if source == "text":
        return "written as text"
    if source == "naive-utc":
        return "no offset: read as UTC"
    return f"from {source}"


def field_warnings(warnings: str | None) -> list[str]:
    """The frame's ``warnings`` column (newline-separated reasons, or null) as a list."""
    return [reason for reason in (warnings or "").split("\n") if reason]


def _field_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """An index row by the reader's field names (``ts`` -> ``timestamp``, ``error_*`` -> ``error``)."""
    values = {name: row.get(name) for name in (*CORE_FIELDS, *OTHER_FIELDS)}
    values["timestamp"] = row.get("ts")
    kind, message = row.get("error_type"), row.get("error_message")
    values["error"] = (
        None if kind is None and message is None else ": ".join(str(p) for p in (kind, message) if p)
    )
    return values


def _value_text(name: str, value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    if name == "duration_ms" and isinstance(value, int | float):
        return format_duration(float(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return truncate_display(printable(str(value)[: _VALUE_LIMIT * 2]), _VALUE_LIMIT)


def needs_fields_as_read(row: Mapping[str, Any]) -> bool:
    """Whether a record is worth its fields as read: something derived, unusable or missing (a line written
    by the writer has every core field, written, and shows only its JSON)."""
    if row.get("derived") or row.get("warnings"):
        return True
    values = _field_values(row)
    return any(values[name] is None for name in CORE_FIELDS)


def fields_as_read(row: Mapping[str, Any]) -> Content:
    """The record's fields as the app uses them, one a line: written values plain, derived ones followed by
    where they came from (``tool  gatekeeper  (from the file name)``), unknown ones a dim ``UNKNOWN``."""
    values = _field_values(row)
    sources = derived_sources(row.get("derived"))
    unusable = {reason.split(" ", 1)[0] for reason in field_warnings(row.get("warnings"))}
    names = [
        *CORE_FIELDS,
        *(name for name in OTHER_FIELDS if values[name] is not None or name in sources),
        *(name for name in sources if name not in CORE_FIELDS and name not in OTHER_FIELDS),
    ]
    width = max(len(name) for name in names) + 2
    lines: list[Content] = [
        Content.styled("fields as read", "bold")
        + Content.styled("  (a derived value says where it came from)", "$text-muted")
    ]
    for name in names:
        value = values.get(name)
        line = Content("  " + printable(name).ljust(width))
        if value is None:
            line += Content.styled(NO_TRACE if name == "trace_id" else UNKNOWN, "$text-muted")
            if name in unusable:
                line += Content.styled("  (unusable: see the field warnings)", "$text-warning")
        elif name in sources:
            line += Content.styled(_value_text(name, value), "$text-accent")
        else:
            line += Content(_value_text(name, value))
        if name in sources:
            notes = "; ".join(describe_source(source) for source in sources[name])
            line += Content.styled(f"  ({truncate_display(printable(notes), 120)})", "italic $text-accent")
        lines.append(line)
    return Content("\n").join(lines)


def warnings_block(warnings: str | None) -> Content | None:
    """The record's field warnings, one a line (``None`` when it has none)."""
    reasons = field_warnings(warnings)
    if not reasons:
        return None
    count = len(reasons)
    lines = [
        Content.styled(f"{count} field warning{'s' if count != 1 else ''}", "bold $text-warning")
        + Content.styled("  (the field is read as unknown)", "$text-muted")
    ]
    lines += [Content("  • ") + Content(truncate_display(printable(reason), 300)) for reason in reasons]
    return Content("\n").join(lines)

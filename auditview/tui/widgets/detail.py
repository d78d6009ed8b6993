"""Rendering one record's raw line for the detail screen: pretty JSON, highlighted, inert.

The raw bytes are untrusted. They are decoded (invalid UTF-8 replaced), parsed, long strings are cut for
display, the JSON is re-serialized with two-space indentation, and every line passes through
``sanitize.printable`` before it becomes a ``rich.text.Text`` (plain text + a regex highlighter; never
markup).
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from rich.highlighter import JSONHighlighter
from rich.text import Text

from auditview.sanitize import printable, truncate_display

__all__ = ["DISPLAY_VALUE_LIMIT", "pretty_record", "raw_preview"]

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

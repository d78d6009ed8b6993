"""The writer's own line layout: a one-pass proof that a line is a valid record, and cheap field reads.

``auditview.writer`` writes every record with the same keys in the same order, compactly, through orjson
(``timestamp`` with six fraction digits, then ``tool``, ``command``, ``params``, ... ``schema_version``). A
line that matches ``LAYOUT_RE`` from its first byte to its last is therefore valid JSON that the contract
accepts, with no duplicate or unknown top-level key, every string free of escapes and control characters,
every number in range. Such a line needs no JSON decoder: a few of its scalar fields (``LIGHT_COLUMNS``) are
read straight off its text. The parser uses this when a task needs only a few columns (an export with a
filter); every other line, and every other task, goes through the general path. Must not: decide a line
that does not match (the caller does), read files, or import any UI library.
"""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = [
    "FIXED_TIMESTAMP_RE",
    "LAYOUT_RE",
    "LIGHT_COLUMNS",
    "TIMESTAMP_AT",
    "TIMESTAMP_LENGTH",
    "UTC_TIMESTAMP_RE",
    "UTC_TIMESTAMP_TEXT",
    "YEAR",
    "column",
    "matches",
]

#: A string without escapes, quotes or control characters (printable ASCII: non-ASCII text takes the
#: general path, which keeps this automaton small and fast).
_STR: Final = r'"[ !#-\[\]-~]*"'
#: An integer that fits the signed 64-bit range (at most 18 digits).
_INT: Final = r"-?(?:0|[1-9][0-9]{0,17})"
#: A JSON number that orjson decodes to a finite value (exponents of at most two digits).
_NUM: Final = r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,2})?"
_SCALAR: Final = rf"(?:{_STR}|{_NUM}|true|false|null)"
_ARRAY0: Final = rf"\[(?:{_SCALAR}(?:,{_SCALAR})*)?\]"
_OBJECT0: Final = rf"\{{(?:{_STR}:{_SCALAR}(?:,{_STR}:{_SCALAR})*)?\}}"
_VALUE1: Final = rf"(?:{_SCALAR}|{_ARRAY0}|{_OBJECT0})"
_ARRAY1: Final = rf"\[(?:{_VALUE1}(?:,{_VALUE1})*)?\]"
_OBJECT1: Final = rf"\{{(?:{_STR}:{_VALUE1}(?:,{_STR}:{_VALUE1})*)?\}}"
_VALUE2: Final = rf"(?:{_SCALAR}|{_ARRAY1}|{_OBJECT1})"
#: ``params``: any object nested at most three levels deep (deeper ones take the general path).
_PARAMS: Final = rf"\{{(?:{_STR}:{_VALUE2}(?:,{_STR}:{_VALUE2})*)?\}}"
#: ``duration_ms``: not negative, no exponent.
_DURATION: Final = r"(?:0|[1-9][0-9]{0,17})(?:\.[0-9]+)?"
#: A year the contract accepts: four digits, not 0000 (its dates start at year 1; polars would take 0000).
YEAR: Final = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_DATE_TIME: Final = rf"{YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-5][0-9]"
#: A UTC timestamp with at most microseconds, which polars parses as the contract does (whether the date
#: exists is checked when it is parsed): the text, and the whole value.
UTC_TIMESTAMP_TEXT: Final = rf"{_DATE_TIME}(?:\.[0-9]{{1,6}})?Z"
UTC_TIMESTAMP_RE: Final = rf"^{UTC_TIMESTAMP_TEXT}$"
#: Exactly the writer's form: 27 characters, microseconds, ``Z``; in this form text order is time order.
FIXED_TIMESTAMP_RE: Final = rf"^{_DATE_TIME}\.[0-9]{{6}}Z$"
_TIMESTAMP: Final = rf'"{_DATE_TIME}\.[0-9]{{6}}Z"'
_BOOL: Final = "(?:true|false)"

#: A whole line in the writer's layout (optional: ``parent_request_id``, ``error``, ``truncated``).
LAYOUT_RE: Final = (
    rf'^\{{"timestamp":{_TIMESTAMP},"tool":{_STR},"command":{_STR},"params":{_PARAMS},'
    rf'"request_id":{_STR},"trace_id":{_STR}(?:,"parent_request_id":{_STR})?,"version":{_STR},'
    rf'"exit_code":{_INT},"ok":{_BOOL},"duration_ms":{_DURATION}'
    rf'(?:,"error":\{{"type":{_STR},"message":{_STR}\}})?,'
    rf'"operator":{_STR},"host":{_STR},"pid":{_INT},"schema_version":{_INT}(?:,"truncated":{_BOOL})?\}}$'
)

#: The timestamp's place in a matching line: after ``{"timestamp":"``, 27 characters.
TIMESTAMP_AT: Final = len('{"timestamp":"')
TIMESTAMP_LENGTH: Final = 27

#: Fields before ``params`` are read at their first occurrence (nothing before them can hold a key); fields
#: after it at their last (``params`` may hold the same key, nothing after the top-level one can). Only
#: fields every matching line has are listed: an optional one could be missing at the top and present inside
#: ``params``.
_BEFORE_PARAMS: Final = {
    "tool": r'^\{"timestamp":"[^"]*","tool":"([^"]*)"',
    "command": r'","command":"([^"]*)"',
}
_STRINGS_AFTER: Final = ("request_id", "trace_id", "version", "operator", "host")
_INTEGERS_AFTER: Final = ("exit_code", "pid", "schema_version")

#: The index columns read off a matching line's text.
LIGHT_COLUMNS: Final = frozenset(
    {"ts", "duration_ms", "ok", *_BEFORE_PARAMS, *_STRINGS_AFTER, *_INTEGERS_AFTER}
)


def matches() -> pl.Expr:
    """True where ``line`` is in the writer's layout (and so a valid record, decided without a decoder)."""
    return pl.col("line").str.contains(LAYOUT_RE)


def _last(key: str, value_re: str) -> pl.Expr:
    """The text of the last ``"key":value`` in ``line``, without the key (found without regex captures)."""
    prefix = f'"{key}":'
    return pl.col("line").str.extract_all(prefix + value_re).list.last().str.slice(len(prefix))


def column(name: str) -> pl.Expr:
    """The index column ``name`` (one of ``LIGHT_COLUMNS``) read off a matching line.

    ``ts`` is null where the date does not exist (such a line must take the general path, which rejects it).
    """
    line = pl.col("line")
    if name == "ts":
        text = line.str.slice(TIMESTAMP_AT, TIMESTAMP_LENGTH)
        return text.str.to_datetime("%+", time_unit="us", time_zone="UTC", strict=False).alias(name)
    if name == "tool":
        return line.str.extract(_BEFORE_PARAMS["tool"], 1).alias(name)
    if name == "command":
        # the first '","command":"' is the top-level key: timestamp and tool hold no quote
        return line.str.extract(_BEFORE_PARAMS["command"], 1).alias(name)
    if name in _STRINGS_AFTER:
        return _last(name, r'"[^"]*"').str.slice(1).str.head(-1).alias(name)
    if name in _INTEGERS_AFTER:
        return _last(name, r"-?[0-9]+").cast(pl.Int64).alias(name)
    if name == "duration_ms":
        return _last(name, r"[0-9.]+").cast(pl.Float64).alias(name)
    if name == "ok":
        return (_last(name, _BOOL) == "true").alias(name)
    raise ValueError(f"{name!r} is not read off the layout")

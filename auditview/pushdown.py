"""Filter pushdown: rule lines out by their text, before they are parsed, when they cannot match.

A one-shot export with a filter (``duration_ms>10s``, ``command=deploy``, ``--since 1h``, ``--trace ID``)
keeps a few lines of a large log. Proving every line valid costs most of its time, yet a line that cannot
match is never exported, valid or not. ``Prefilter`` reads the filter's fields straight off each line's text
where the text settles them and keeps only the lines that *may* match; the parser decides those in full,
exactly as without pushdown, and the filter then runs on their rows as usual. The price: a malformed line
that is ruled out is not reported (``auditview rejects``, ``--check-all`` and ``--strict`` check every line).

A field is read off the text only where that is exact:

* the line has no backslash, so every ``"`` delimits a string and nothing is escaped;
* the field is a required contract field, so a valid record has it at the top level;
* the line holds the key (``"duration_ms":``) exactly once, so that occurrence is the top-level one;
* the value after it is a plain string, an integer (``exit_code``), a JSON number (``duration_ms``) or a
  timestamp in the writer's UTC form (``ts``): the contract decodes each to the value read here. A time range
  compares the writer's fixed-width form (six fraction digits, ``Z``) as text, which orders as time.

Free text is decided where the term has no JSON structure and is not a number (see
``_free_text_decidable``); ``params.KEY=text`` (and ``in``, and unknown fields) where
the line cannot hold ``"text"`` as a JSON string. Anything else (``!=`` or ranges on JSON values, ``slow``)
keeps the line; a filter with a trace predicate or ``slow`` is not pushed down at all (its value for a record
depends on other records), only the time range is.
Must not: decide validity, read files, or import a UI library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import orjson
import polars as pl

from auditview import layout
from auditview.query import (
    _FAILED,
    CompiledFilter,
    _And,
    _Compare,
    _compile,
    _Context,
    _Flag,
    _FreeText,
    _InList,
    _MatchAll,
    _Node,
    _Not,
    _Or,
    renders_like_other_json,
)
from auditview.traces import failed_expr

__all__ = ["Prefilter", "line_prefilter"]

_TS_TEXT: Final = "__av_ts_text"
#: Index columns read off a line's text: the JSON key and how its value is read.
_FIELDS: Final[dict[str, tuple[str, str]]] = {
    "ts": ("timestamp", "time"),
    "tool": ("tool", "string"),
    "command": ("command", "string"),
    "request_id": ("request_id", "string"),
    "trace_id": ("trace_id", "string"),
    "version": ("version", "string"),
    "operator": ("operator", "string"),
    "exit_code": ("exit_code", "integer"),
    "duration_ms": ("duration_ms", "number"),
    # the timestamp as text, where it is in the writer's fixed-width form: compared as text, it orders as time
    _TS_TEXT: ("timestamp", "time_text"),
}
#: JSON whitespace (a line never holds ``\n``; a chunk with ``\r`` is never split into a line table).
_WS: Final = r"[ \t\r\n]*"
_VALUE_RE: Final[dict[str, str]] = {
    "string": r'"([^"]*)"',
    "time": r'"([^"]*)"',
    "integer": rf"(-?(?:0|[1-9][0-9]*)){_WS}[,}}]",
    "number": rf"(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?){_WS}[,}}]",
}
_STRUCTURAL: Final = frozenset('"{}[]:,\\')
_NUMBER_CHARS: Final = frozenset("0123456789.eE+-")
_KNOWN: Final = "__av_known_"
_NO_BACKSLASH: Final = "__av_plain"


@dataclass(frozen=True)
class _Decision:
    """``may``: false only where the line certainly does not match; ``must``: true only where it does.

    ``rules_out`` / ``confirms``: whether ``may`` / ``must`` can ever say so (else they are constants).
    """

    may: pl.Expr
    must: pl.Expr
    rules_out: bool
    confirms: bool


_UNKNOWN: Final = _Decision(pl.lit(True), pl.lit(False), rules_out=False, confirms=False)


class Prefilter:
    """Keeps the lines of a line table (``line`` column) that may match; see the module docstring."""

    def __init__(self, decision: pl.Expr, fields: frozenset[str]) -> None:
        self._decision = decision
        #: The index columns read off the text.
        self.fields = fields

    def keep(self, table: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``table`` whose ``line`` may match, in order, with ``table``'s columns."""
        line = pl.col("line")
        columns = [line.str.contains("\\", literal=True).not_().alias(_NO_BACKSLASH)]
        for name in sorted(self.fields):
            key, kind = _FIELDS[name]
            token = f'"{key}"'
            value = _value(token, kind)
            # (without backslashes, a ``"key"`` followed by ``:`` is a key: this counts the keys named so)
            once = line.str.count_matches(re.escape(token) + _WS + ":") == 1
            columns += [value.alias(name), (once & value.is_not_null()).alias(_KNOWN + name)]
        lazy = table.lazy().with_columns(columns)
        if "exit_code" in self.fields:
            lazy = lazy.with_columns(failed_expr().alias(_FAILED))
        return lazy.filter(self._decision).select(table.columns).collect()


def line_prefilter(
    compiled: CompiledFilter | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    equals: Mapping[str, str] | None = None,
) -> Prefilter | None:
    """The pushdown of a filter, a time range and exact selectors (``{"trace_id": ID}``, ``{"command": C}``:
    the index column's text equals the value); ``None`` when it could rule no line out.

    The callers apply the time range, then the filter, then the selectors, each to the records the one before
    left.
    """
    parts: list[_Decision] = []
    fields: set[str] = set()
    # A filter with trace predicates or ``slow`` depends on the other records of the frame it runs on (the
    # trace's, or the usual duration of each tool and command): only the time range, which every caller
    # applies before the filter, may then be pushed down.
    whole_frame = compiled is not None and (compiled.uses_trace or compiled.uses_slow)
    if compiled is not None and not compiled.matches_all and not whole_frame:
        node_decision = _decide(compiled._node, fields)
        if node_decision.rules_out:
            parts.append(node_decision)
    if since is not None:
        parts.append(_leaf(_TS_TEXT, pl.col(_TS_TEXT) >= _fixed_width(since), fields))
    if until is not None:
        parts.append(_leaf(_TS_TEXT, pl.col(_TS_TEXT) <= _fixed_width(until), fields))
    selectors: Mapping[str, str] = {} if whole_frame or equals is None else equals
    for name, value in selectors.items():
        parts.append(_leaf(name, pl.col(name) == pl.lit(value, dtype=pl.String), fields))
    if not parts:
        return None
    may = pl.all_horizontal([part.may for part in parts])
    return Prefilter(may, frozenset(fields))


def _value(token: str, kind: str) -> pl.Expr:
    """The value after the first ``token`` (a quoted key) of ``line``, read as ``kind``; null where it is not
    of that form."""
    if kind == "time_text":
        return _leading_timestamp()
    text = pl.col("line").str.extract(re.escape(token) + _WS + ":" + _WS + _VALUE_RE[kind], 1)
    if kind == "integer":
        return text.cast(pl.Int64, strict=False)
    if kind == "number":
        return text.cast(pl.Float64, strict=False)
    if kind == "time":
        parsed = pl.when(text.str.contains(layout.UTC_TIMESTAMP_RE)).then(text)
        return parsed.str.to_datetime("%+", time_unit="us", time_zone="UTC", strict=False)
    return text


def _leading_timestamp() -> pl.Expr:
    """The timestamp of a line that starts the writer's way, ``{"timestamp":"`` and the fixed-width form (a
    slice, no search: a time range reads it on every line); null for any other line (which is kept)."""
    line = pl.col("line")
    text = line.str.slice(layout.TIMESTAMP_AT, layout.TIMESTAMP_LENGTH)
    closed = line.str.slice(layout.TIMESTAMP_AT + layout.TIMESTAMP_LENGTH, 1) == '"'
    fixed = text.str.contains(layout.FIXED_TIMESTAMP_RE)
    return pl.when(line.str.starts_with('{"timestamp":"') & closed & fixed).then(text)


def _fixed_width(moment: datetime) -> str:
    """``moment`` in UTC as the writer writes timestamps (``layout.FIXED_TIMESTAMP_RE``), for a text
    comparison."""
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond:06d}Z"
    )


def _leaf(name: str, exact: pl.Expr, fields: set[str]) -> _Decision:
    """A test on one field read off the text: decided where the text settles the field, else unknown."""
    fields.add(name)
    known = pl.col(_NO_BACKSLASH) & pl.col(_KNOWN + name)
    exact = exact.fill_null(False)
    return _Decision(~known | exact, known & exact, rules_out=True, confirms=True)


def _free_text_decidable(term: str) -> bool:
    """Whether a match of ``term`` in the searched columns implies one in the line (without backslashes).

    Those columns hold the line's strings as written, or JSON that orjson re-encoded (``params`` in rare
    cases, ``extra``, non-string error fields): re-encoding keeps every string and literal and changes only
    numbers and structure. So a term with no structural character that is not made of number characters
    alone (``1.50`` may become ``1.5``) can only match inside a string or literal, which the line holds too.
    """
    return bool(term) and not (set(term) & _STRUCTURAL) and not set(term) <= _NUMBER_CHARS


def _json_equality(node: _Compare | _InList) -> _Decision:
    """``params.KEY=value`` (or ``in``, or an unknown field's ``extra.KEY``): a record can match only if its
    line holds the value as a JSON string token, ``"value"``. Decided for string literals that no other JSON
    value's text can equal (not number-like, ``true``/``false``/``null``, an object or an array) on lines
    without a backslash (where every string is written as itself)."""
    if isinstance(node, _Compare):
        if node.op != "=":
            return _UNKNOWN
        literals: tuple[object, ...] = (node.literal,)
    elif node.negate:
        return _UNKNOWN
    else:
        literals = node.literals
    tokens: list[str] = []
    for value in literals:
        if not isinstance(value, str) or renders_like_other_json(value):
            return _UNKNOWN
        tokens.append(orjson.dumps(value).decode())
    line = pl.col("line")
    found = pl.any_horizontal([line.str.contains(token, literal=True) for token in tokens])
    return _Decision(~pl.col(_NO_BACKSLASH) | found, pl.lit(False), rules_out=True, confirms=False)


def _decide(node: _Node, fields: set[str]) -> _Decision:
    """What the text tells about ``node`` (``_UNKNOWN`` when nothing)."""
    if isinstance(node, _MatchAll):
        return _UNKNOWN
    if isinstance(node, _Compare | _InList | _Flag):
        ref = node.field
        if ref.kind == "json" and not isinstance(node, _Flag):
            return _json_equality(node)
        name = "exit_code" if ref.name in ("failed", "status") else ref.name
        if ref.is_trace or name not in _FIELDS:
            return _UNKNOWN
        schema = {"ts": pl.Datetime("us", "UTC"), "exit_code": pl.Int64(), "duration_ms": pl.Float64()}
        ctx = _Context({column: schema.get(column, pl.String()) for column in _FIELDS})
        return _leaf(name, _compile(node, ctx), fields)
    if isinstance(node, _FreeText):
        if not _free_text_decidable(node.text):
            return _UNKNOWN
        # the searched columns hold the line's own text (no escapes): a match there is a match in the line
        found = pl.col("line").str.contains("(?i)" + re.escape(node.text))
        return _Decision(~pl.col(_NO_BACKSLASH) | found, pl.lit(False), rules_out=True, confirms=False)
    if isinstance(node, _Not):
        inner = _decide(node.inner, fields)
        return _Decision(~inner.must, ~inner.may, rules_out=inner.confirms, confirms=inner.rules_out)
    if isinstance(node, _And | _Or):
        items = [_decide(item, fields) for item in node.items]
        mays = pl.all_horizontal if isinstance(node, _And) else pl.any_horizontal
        ruled = [item.rules_out for item in items]
        confirmed = [item.confirms for item in items]
        if isinstance(node, _And):  # one item ruling a line out is enough; all must confirm
            return _Decision(
                mays([item.may for item in items]),
                mays([item.must for item in items]),
                rules_out=any(ruled),
                confirms=all(confirmed),
            )
        return _Decision(  # every item must rule a line out; one confirming is enough
            mays([item.may for item in items]),
            mays([item.must for item in items]),
            rules_out=all(ruled),
            confirms=any(confirmed),
        )
    return _UNKNOWN  # trace functions (never pushed down: see ``line_prefilter``)

"""Filter pushdown: rule lines out by their text, before they are parsed, when they cannot match.

A one-shot export with a filter (``duration_ms>10s``, ``command=deploy``, ``--since 1h``, ``--trace ID``)
keeps a few lines of a large log. Proving every line a record costs most of its time, yet a line that cannot
match is never exported, a record or not. ``Prefilter`` reads the filter's fields straight off each line's
text where the text settles them and keeps only the lines that *may* match; the parser decides those in full,
exactly as without pushdown, and the filter then runs on their rows as usual. The price: a malformed line
that is ruled out is not reported (``auditview rejects``, ``--check-all`` and ``--strict`` check every line).

The reader contract (``auditview.reader_contract``) takes a field from its own top-level key when that is
not null, else from a ``--field`` mapping or a built-in alias (``durationMs``, ``cmd``, ``ts``...), else from
a logged response's ``meta``, else derives it (``exit_code`` from ``ok``, ``tool`` from the file's name); a
present but unusable value is unknown (null) with a warning. The same key may also sit nested anywhere
(``params``, ``meta``, any extra object). So a field's value is read off the text only where all of this
holds, and the parsed record then certainly has that value:

* the line has no backslash, so every ``"`` delimits a string and nothing is escaped (a key is written as
  itself, and in a valid line a ``"key":`` found in the text is a key, never part of a string);
* the line holds the key (``"duration_ms":``) exactly once, so that the value read is the one the decoder
  keeps (no duplicate key);
* that one key provably sits at the top level of the object (``_top_level``): either no bracket follows it
  but the line's closing one (every container open at the key must close after it), or the text before it
  is ``{`` and then only whole strings, other characters and balanced brackets (``_BALANCED_RE``, up to
  ``_DEPTH`` levels; a line nested deeper before the key is kept). On the writer's layout one proof
  settles almost every line (the text after the key for the fields after ``params``, the text before it for
  those before); the other runs only on the lines the first left open;
* the value after it is not null and one the reader keeps as it is: a string (the string fields), an integer
  within 64 bits (``exit_code``; ``"3"`` or ``1.0`` are not read), a finite JSON number without a sign
  (``duration_ms``: the reader makes a negative one unknown, and reads ``-0`` as 0 where polars reads -0.0),
  a UTC timestamp polars parses as the reader does (``ts``). The own key then wins over every alias and
  ``meta``, and nothing is derived;
* a time range compares the timestamp as text only where the line starts ``{"timestamp":"`` in the writer's
  fixed-width form (six fraction digits, ``Z``; text order is time order) with a date and time that exist
  (else the reader would fall back to ``ts``/``time``/``@timestamp``/``meta.timestamp``); Feb 29 is kept.

Anywhere else the field is unknown and a test on it keeps the line, also under ``not``: ``may``/``must``
(``_Decision``) are both exact where the field is read and say nothing where it is not, so an unknown value
(which the parsed record may have as null, where ``=null`` holds and every comparison is false) is never
guessed. ``failed``/``status`` are ``exit_code != 0``: they are decided only where ``exit_code`` is read
(never where it would be derived from ``ok``).

Free text is decided where the term has no JSON structure and is not a number (see
``_free_text_decidable``), and the line's own ``tool`` is read (else the file name may give the record a
``tool`` the line does not hold); ``params.KEY=text`` (and ``in``, and unknown fields) where the line cannot
hold ``"text"`` as a JSON string. Anything else (``!=`` or ranges on JSON values, ``slow``) keeps the line; a
filter with a trace predicate or ``slow`` is not pushed down at all (its value for a record depends on other
records), only the time range is.
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

from auditview.core import writer_layout as layout
from auditview.core.query import TEXT_COLUMNS, CompiledFilter
from auditview.core.query.evaluate import renders_like_other_json
from auditview.core.query.expressions import FAILED_COLUMN, Context, compile_node
from auditview.core.query.tree import And, Compare, Flag, FreeText, InList, MatchAll, Node, Not, Or
from auditview.core.traces import failed_expr
from auditview.reader_contract import DURATION_MAX

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
#: Fields the writer writes before ``params`` (``layout.LAYOUT_RE``): the text before their key is short and
#: bracket-free, so that proof is tried first; for the others, the text after the key is.
_EARLY: Final = frozenset({"ts", "tool", "command"})
#: The columns free text searches whose text is the line's own (strings as written, or JSON that orjson
#: re-encoded), except ``tool``, which the file's name gives a record without one (see ``_decide``).
_LINE_TEXT_COLUMNS: Final = frozenset(
    {"tool", "command", "operator", "trace_id", "request_id", "params", "error_type", "error_message",
     "extra"}
)  # fmt: skip
#: JSON whitespace (a line never holds ``\n``; a chunk with ``\r`` is never split into a line table).
_WS: Final = r"[ \t\r\n]*"
_VALUE_RE: Final[dict[str, str]] = {
    "string": r'"([^"]*)"',
    "time": r'"([^"]*)"',
    "integer": rf"(-?(?:0|[1-9][0-9]*)){_WS}[,}}]",
    # no sign: the reader makes a negative duration unknown, and ``-0`` zero where polars reads -0.0
    "number": rf"((?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?){_WS}[,}}]",
}
#: A string (in a line without backslashes), a character outside strings that is not a bracket, and a
#: bracketed value nested at most ``_DEPTH`` levels (whole strings inside), for ``_BALANCED_RE``.
_STRING_RE: Final = r'"[^"]*"'
_OTHER_RE: Final = r'[^"{}\[\]]'
_DEPTH: Final = 4


def _nested_re(depth: int) -> str:
    """A bracketed value holding at most ``depth - 1`` further levels of brackets (strings read whole)."""
    inner = f"{_OTHER_RE}|{_STRING_RE}"
    if depth > 1:
        inner += "|" + _nested_re(depth - 1)
    return rf"[{{\[](?:{inner})*[}}\]]"


_BALANCED_RE: Final = rf"(?:{_OTHER_RE}|{_STRING_RE}|{_nested_re(_DEPTH)})*"
_STRUCTURAL: Final = frozenset('"{}[]:,\\')
_NUMBER_CHARS: Final = frozenset("0123456789.eE+-")
_KNOWN: Final = "__av_known_"
_MAYBE: Final = "__av_maybe_"
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
        reads = [line.str.contains("\\", literal=True).not_().alias(_NO_BACKSLASH)]
        proofs: list[pl.Expr] = []
        for name in sorted(self.fields):
            key, kind = _FIELDS[name]
            candidate = pl.col(_NO_BACKSLASH) & _trusted(kind, pl.col(name))
            if kind == "time_text":  # at the start of the line, so at the top level: the one such key?
                once = line.str.count_matches(_key_re(key)) == 1
                reads += [_value(f'"{key}"', kind).alias(name), once.alias(_KNOWN + name)]
                proofs.append((candidate & pl.col(_KNOWN + name)).alias(_KNOWN + name))
                continue
            first = _top_level(key, early=name in _EARLY)
            reads += [_value(f'"{key}"', kind).alias(name), first.alias(_KNOWN + name)]
            proofs += [
                (candidate & ~pl.col(_KNOWN + name)).alias(_MAYBE + name),
                (candidate & pl.col(_KNOWN + name)).alias(_KNOWN + name),
            ]
        frame = table.lazy().with_columns(reads).with_columns(proofs).collect()
        # the other proof, on the lines the first one left open (few, on the writer's layout)
        for name in sorted(self.fields):
            if _MAYBE + name not in frame.columns:
                continue
            maybe = frame.get_column(_MAYBE + name)
            if not maybe.any():
                continue
            rows = maybe.arg_true()
            lines = frame.get_column("line").gather(rows).to_frame("line")
            proven = lines.select(_top_level(_FIELDS[name][0], early=name not in _EARLY)).to_series()
            known = frame.get_column(_KNOWN + name).clone().scatter(rows.filter(proven), True)
            frame = frame.with_columns(known)
        lazy = frame.lazy()
        if "exit_code" in self.fields:
            lazy = lazy.with_columns(failed_expr().alias(FAILED_COLUMN))
        return lazy.filter(self._decision).select(table.columns).collect()


def _key_re(key: str) -> str:
    """A regex for the key ``key`` (without backslashes, a ``"key"`` followed by ``:`` is a key)."""
    return re.escape(f'"{key}"') + _WS + ":"


def _top_level(key: str, *, early: bool) -> pl.Expr:
    """True where the line (without backslashes) holds the key ``key`` once, at the top level of the object;
    false where that is not proven this way.

    ``early``: by the text before it (``{``, then whole strings, non-bracket characters and balanced
    brackets); else by the text after it (no bracket but the line's last character, and not the key again:
    every container open at the key must close after it, so only the object itself is).
    """
    line = pl.col("line")
    key_re = _key_re(key)
    if early:
        once = line.str.count_matches(key_re) == 1
        return once & line.str.contains(rf"^{_WS}\{{{_BALANCED_RE}{key_re}")
    # the negation: after some key, a bracket with something after it, or the key again (one regex pass)
    return ~line.str.contains(rf"{key_re}(?:[^\[\]{{}}]*[\[\]{{}}](?s:.)|(?s:.)*{key_re})")


def _trusted(kind: str, value: pl.Expr) -> pl.Expr:
    """Where ``value`` (read as ``kind`` by ``_value``) is one the reader keeps as it is (never null)."""
    if kind == "number":  # (not infinite: polars reads a number too large for a float so, orjson refuses it)
        return (value <= DURATION_MAX).fill_null(False)
    return value.is_not_null()


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
        node_decision = _decide(compiled.tree, fields)
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
    of that form (a number with a sign, numeric text, another JSON type; ``_trusted`` says the rest)."""
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


#: The writer's fixed-width form (``layout.FIXED_TIMESTAMP_RE``) with a date and time that exist: each
#: month's days (Feb 29, which exists only in leap years, is never taken), hours 00-23. For any other text
#: the reader would try the next time key, which the text read cannot see.
_EXISTING_FIXED_TIMESTAMP_RE: Final = (
    rf"^{layout.YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z$"
)


def _leading_timestamp() -> pl.Expr:
    """The timestamp of a line that starts the writer's way, ``{"timestamp":"`` and the fixed-width form of
    a time that exists (a slice, no search: a time range reads it on every line); null for any other line
    (which is kept)."""
    line = pl.col("line")
    text = line.str.slice(layout.TIMESTAMP_AT, layout.TIMESTAMP_LENGTH)
    closed = line.str.slice(layout.TIMESTAMP_AT + layout.TIMESTAMP_LENGTH, 1) == '"'
    fixed = text.str.contains(_EXISTING_FIXED_TIMESTAMP_RE)
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
    known = pl.col(_KNOWN + name)
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


def _json_equality(node: Compare | InList) -> _Decision:
    """``params.KEY=value`` (or ``in``, or an unknown field's ``extra.KEY``): a record can match only if its
    line holds the value as a JSON string token, ``"value"``. Decided for string literals that no other JSON
    value's text can equal (not number-like, ``true``/``false``/``null``, an object or an array) on lines
    without a backslash (where every string is written as itself)."""
    if isinstance(node, Compare):
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


def _decide(node: Node, fields: set[str]) -> _Decision:
    """What the text tells about ``node`` (``_UNKNOWN`` when nothing)."""
    if isinstance(node, MatchAll):
        return _UNKNOWN
    if isinstance(node, Compare | InList | Flag):
        ref = node.field
        if ref.kind == "json" and not isinstance(node, Flag):
            return _json_equality(node)
        name = "exit_code" if ref.name in ("failed", "status") else ref.name
        if ref.is_trace or name not in _FIELDS:
            return _UNKNOWN
        schema = {"ts": pl.Datetime("us", "UTC"), "exit_code": pl.Int64(), "duration_ms": pl.Float64()}
        ctx = Context({column: schema.get(column, pl.String()) for column in _FIELDS})
        return _leaf(name, compile_node(node, ctx), fields)
    if isinstance(node, FreeText):
        if not _free_text_decidable(node.text) or not set(TEXT_COLUMNS) <= _LINE_TEXT_COLUMNS:
            return _UNKNOWN
        # the searched columns hold the line's own text (no escapes): a match there is a match in the line;
        # but a record without a ``tool`` takes its file's name, which the line does not hold
        fields.add("tool")
        found = pl.col("line").str.contains("(?i)" + re.escape(node.text))
        return _Decision(~pl.col(_KNOWN + "tool") | found, pl.lit(False), rules_out=True, confirms=False)
    if isinstance(node, Not):
        inner = _decide(node.inner, fields)
        return _Decision(~inner.must, ~inner.may, rules_out=inner.confirms, confirms=inner.rules_out)
    if isinstance(node, And | Or):
        items = [_decide(item, fields) for item in node.items]
        mays = pl.all_horizontal if isinstance(node, And) else pl.any_horizontal
        ruled = [item.rules_out for item in items]
        confirmed = [item.confirms for item in items]
        if isinstance(node, And):  # one item ruling a line out is enough; all must confirm
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

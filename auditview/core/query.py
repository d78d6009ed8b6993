"""The filter language shared by the CLI (``--filter``) and the terminal app (filter bar), compiled to polars.

Owns: the tokenizer and parser of filter text, ``FilterError`` (message, exact position, what was expected),
the compilation of a parsed filter into polars expressions (record predicates, and trace-level predicates
decided per trace), the staged evaluation that makes ``apply``/``mask`` fast on a million rows (see "Staged
evaluation" below), ``CompiledFilter.columns`` (the index columns a filter reads), ``time_range`` and
``complete`` (completion of field names and values for the filter bar). The language is documented in
``notes/query.md``; in short:

- ``field OP value`` with ``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=`` ``~`` (regex search) ``!~``;
  ``field in (a, b)``, ``field not in (...)``; fields are the index columns, aliases (``duration``, ``time``,
  ``exit``...), ``params.KEY`` (JSON inside ``params``), ``status``, ``failed``, ``slow``, and any other name
  (looked up in ``extra``);
- ``and`` / ``or`` / ``not`` (also ``!``) / parentheses; precedence ``not`` > ``and`` > ``or``; juxtaposed
  terms are joined with ``and``;
- a bare word or quoted string is free text (case-insensitive, in the textual columns);
- ``trace.duration``, ``trace.steps``, ``trace.failed``, ``trace.failures``, ``trace.slow``,
  ``trace.slow_steps``, ``trace.tools``, ``trace.start``, ``trace.end``, ``trace.has(FILTER)``,
  ``trace.all(FILTER)``: properties of the whole trace a record belongs to, computed over the frame given to
  ``apply`` (before filtering); an orphan record forms a trace of its own;
- ``trace.finding`` (bare: the trace has a finding), ``trace.finding=NAME`` (``!=``, ``~``, ``in (...)``;
  ``=null``: no finding): the findings of ``auditview.core.findings`` (``retry-loop``, ``flapping``...),
  detected
  over the frame given to ``apply`` with the filter's ``FindingThresholds``; an orphan has none.

Comparisons on a missing value (null column, absent JSON key) are false; ``a != v`` is exactly ``not a = v``.

This module must not import a UI library, must not read files, and must not run Python per row when
filtering.
"""

from __future__ import annotations

import difflib
import re
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, TypeAlias

import orjson
import polars as pl

from auditview.core.findings import DETECTORS, FINDING_COLUMNS, FindingThresholds, detect_findings
from auditview.core.slow import SlowStepRule
from auditview.core.traces import end_expr, failed_expr, has_trace_id
from auditview.text.timeparse import TimeParseError, parse_duration_ms, parse_when

__all__ = [
    "FIELD_NAMES",
    "TEXT_COLUMNS",
    "CompiledFilter",
    "Completion",
    "FilterError",
    "compile_filter",
    "complete",
    "completions",
    "time_range",
    "warm_filter_helpers",
]

# ----------------------------------------------------------------------------------------------------
# Fields

Kind: TypeAlias = Literal[
    "string", "number", "duration", "time", "bool", "json", "status", "derived_bool", "finding"
]

#: Index columns the language knows, and how their values are read.
_COLUMNS: Final[dict[str, Kind]] = {
    "ts": "time",
    "tool": "string",
    "command": "string",
    "exit_code": "number",
    "duration_ms": "duration",
    "request_id": "string",
    "trace_id": "string",
    "parent_request_id": "string",
    "operator": "string",
    "host": "string",
    "version": "string",
    "ok": "bool",
    "error_type": "string",
    "error_message": "string",
    "params": "string",
    "extra": "string",
    "derived": "string",
    "warnings": "string",
    "file_id": "number",
    "offset": "number",
    "length": "number",
    "line": "number",
}

#: Names users expect, mapped to index columns.
_ALIASES: Final[dict[str, str]] = {
    "duration": "duration_ms",
    "time": "ts",
    "timestamp": "ts",
    "exit": "exit_code",
    "request": "request_id",
    "parent": "parent_request_id",
}

#: Computed fields: ``status`` (ok | failed), ``failed`` (exit_code != 0), ``slow`` (SlowStepRule).
_DERIVED: Final[dict[str, Kind]] = {"status": "status", "failed": "derived_bool", "slow": "derived_bool"}

#: Optional contract fields: read from their own column when the frame has one, else from ``extra``.
_CONTRACT_EXTRAS: Final[dict[str, Kind]] = {"pid": "number", "schema_version": "number", "truncated": "bool"}

#: Trace-level fields (``trace.X``), their kind, and whether a bare ``trace.X`` is a predicate.
_TRACE_FIELDS: Final[dict[str, Kind]] = {
    "trace.duration": "duration",
    "trace.span": "duration",
    "trace.steps": "number",
    "trace.failures": "number",
    "trace.slow_steps": "number",
    "trace.tools": "number",
    "trace.failed": "derived_bool",
    "trace.slow": "derived_bool",
    "trace.start": "time",
    "trace.end": "time",
    "trace.finding": "finding",
}
_TRACE_FUNCTIONS: Final = ("trace.has", "trace.all")

#: The columns searched by free text (those present in the frame).
TEXT_COLUMNS: Final = (
    "tool",
    "command",
    "operator",
    "trace_id",
    "request_id",
    "params",
    "error_type",
    "error_message",
    "extra",
)

#: Every field name the language accepts by name, for completion (``params.`` and ``extra.`` are prefixes).
FIELD_NAMES: Final[tuple[str, ...]] = (
    *_COLUMNS,
    *_CONTRACT_EXTRAS,
    *_ALIASES,
    *_DERIVED,
    *_TRACE_FIELDS,
    *_TRACE_FUNCTIONS,
    "params.",
    "extra.",
)

_KNOWN_FOR_TYPOS: Final = tuple(name for name in FIELD_NAMES if not name.endswith("."))
_KEYWORDS: Final = frozenset({"and", "or", "not", "in"})


@dataclass(frozen=True)
class _Field:
    """A resolved field reference: what the user wrote, where, and how to read it."""

    raw: str
    start: int
    end: int
    kind: Kind
    name: str  # canonical column / derived / trace field name, or the JSON column for kind "json"
    path: tuple[str, ...] = ()  # JSON path segments for kind "json"

    @property
    def is_trace(self) -> bool:
        return self.name.startswith("trace.")


# ----------------------------------------------------------------------------------------------------
# Errors


class FilterError(ValueError):
    """An invalid filter: ``message`` says what is wrong, ``position`` (0-based) where, ``expected`` what fits

    ``str(err)`` is one line ending in ``at column N`` (1-based); ``err.caret()`` is the input with a caret
    line under it; ``err.render()`` is both. ``suggestion`` holds a corrected field name for a likely typo.
    """

    def __init__(
        self,
        message: str,
        position: int,
        expected: str = "",
        *,
        text: str = "",
        end: int | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.expected = expected
        self.text = text
        self.end = position + 1 if end is None else max(end, position + 1)
        self.suggestion = suggestion

    @property
    def column(self) -> int:
        """The 1-based column of the error."""
        return self.position + 1

    def __str__(self) -> str:
        return f"{self.message} at column {self.column}"

    def caret(self) -> str:
        """The filter text (control characters as spaces) and a line with ``^`` under the error's span."""
        shown = "".join(" " if (ch.isspace() or not ch.isprintable()) else ch for ch in self.text)
        width = max(1, min(self.end, len(shown) + 1) - self.position)
        return f"{shown}\n{' ' * self.position}{'^' * width}"

    def render(self) -> str:
        """``str(self)`` followed by the caret lines."""
        return f"{self}\n{self.caret()}" if self.text else str(self)


# ----------------------------------------------------------------------------------------------------
# Tokens

TokenKind: TypeAlias = Literal["word", "string", "op", "lparen", "rparen", "comma", "bang", "eof"]

_OPERATORS: Final = ("==", "!=", "<=", ">=", "=~", "!~", "=", "<", ">", "~")
_OPERATOR_CANONICAL: Final = {"==": "=", "=~": "~"}
_DELIMITERS: Final = frozenset("()=!<>~,\"'")
_ESCAPES: Final = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class _Token:
    kind: TokenKind
    text: str  # the source text of the token
    value: str  # decoded value (strings), canonical operator (ops), else the source text
    start: int
    end: int
    closed: bool = True  # False for an unterminated string (lenient tokenizing only)


def _scan_string(text: str, start: int, *, lenient: bool) -> tuple[str, int, bool]:
    """Decode the quoted string at ``start``; return (value, index after it, closed)."""
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(chars), i + 1, True
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            chars.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        chars.append(ch)
        i += 1
    if lenient:
        return "".join(chars), len(text), False
    raise FilterError(
        f"unterminated string; expected a closing {quote} to match this quote",
        start,
        f"a closing {quote}",
    )


def _tokenize(text: str, *, lenient: bool = False) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            value, end, closed = _scan_string(text, i, lenient=lenient)
            tokens.append(_Token("string", text[i:end], value, i, end, closed))
            i = end
            continue
        if ch == "(":
            tokens.append(_Token("lparen", ch, ch, i, i + 1))
            i += 1
            continue
        if ch == ")":
            tokens.append(_Token("rparen", ch, ch, i, i + 1))
            i += 1
            continue
        if ch == ",":
            tokens.append(_Token("comma", ch, ch, i, i + 1))
            i += 1
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if operator is not None:
            end = i + len(operator)
            tokens.append(_Token("op", operator, _OPERATOR_CANONICAL.get(operator, operator), i, end))
            i = end
            continue
        if ch == "!":
            tokens.append(_Token("bang", ch, ch, i, i + 1))
            i += 1
            continue
        start = i
        while i < n:
            ch = text[i]
            if ch in "\"'" and i > start and text[i - 1] == ".":
                _, i, closed = _scan_string(text, i, lenient=lenient)
                continue
            if ch.isspace() or ch in _DELIMITERS:
                break
            i += 1
        tokens.append(_Token("word", text[start:i], text[start:i], start, i))
    tokens.append(_Token("eof", "", "", n, n))
    return tokens


def _describe(token: _Token) -> str:
    if token.kind == "eof":
        return "the end of the filter"
    shown = token.text if len(token.text) <= 24 else token.text[:21] + "..."
    return f"'{shown}'"


# ----------------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class _Value:
    raw: str
    quoted: bool
    start: int
    end: int


@dataclass(frozen=True)
class _Compare:
    field: _Field
    op: str
    literal: object  # str | float | datetime | bool | None (null) | re pattern text for ~
    op_start: int


@dataclass(frozen=True)
class _InList:
    field: _Field
    literals: tuple[object, ...]
    negate: bool


@dataclass(frozen=True)
class _FreeText:
    text: str


@dataclass(frozen=True)
class _Flag:
    field: _Field


@dataclass(frozen=True)
class _TraceFunction:
    name: str  # "trace.has" | "trace.all"
    inner: _Node


@dataclass(frozen=True)
class _Not:
    inner: _Node


@dataclass(frozen=True)
class _And:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Or:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _MatchAll:
    pass


_Node: TypeAlias = _Compare | _InList | _FreeText | _Flag | _TraceFunction | _Not | _And | _Or | _MatchAll

_MAX_DEPTH: Final = 64
_NUMBER_RE: Final = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_NAME_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_TIME_HELP: Final = "a time such as 2026-11-20T09:00Z, 2026-11-20, 1h (ago), today or @1700000000"
_DURATION_HELP: Final = "a duration such as 250ms, 5s or 1m30s (a bare number means ms)"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.trace_depth = 0
        self.uses_trace = False
        self.uses_slow = False

    # -- token helpers
    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def is_keyword(self, token: _Token, keyword: str) -> bool:
        return token.kind == "word" and token.text.lower() == keyword

    def starts_term(self, token: _Token) -> bool:
        if token.kind in ("string", "lparen", "bang"):
            return True
        return token.kind == "word" and token.text.lower() not in ("and", "or", "in")

    # -- grammar
    def parse(self) -> _Node:
        if self.current.kind == "eof":
            return _MatchAll()
        node = self.parse_or()
        token = self.current
        if token.kind == "rparen":
            raise FilterError("unexpected ')' without a matching '('", token.start, "an operator or a term")
        if token.kind != "eof":
            raise FilterError(
                f"unexpected {_describe(token)}", token.start, "'and', 'or' or the end of the filter"
            )
        return node

    def parse_or(self) -> _Node:
        items = [self.parse_and()]
        while self.is_keyword(self.current, "or"):
            operator = self.advance()
            items.append(self.parse_and(after=operator))
        return items[0] if len(items) == 1 else _Or(tuple(items))

    def parse_and(self, after: _Token | None = None) -> _Node:
        items = [self.parse_unary(after)]
        while True:
            token = self.current
            if self.is_keyword(token, "and"):
                self.advance()
                items.append(self.parse_unary(token))
            elif self.starts_term(token):
                items.append(self.parse_unary(None))
            else:
                break
        return items[0] if len(items) == 1 else _And(tuple(items))

    def parse_unary(self, after: _Token | None) -> _Node:
        token = self.current
        if token.kind == "bang" or self.is_keyword(token, "not"):
            self.advance()
            return _Not(self.parse_unary(token))
        return self.parse_primary(after)

    def parse_primary(self, after: _Token | None) -> _Node:
        token = self.current
        if token.kind == "lparen":
            self.advance()
            self.enter(token)
            if self.current.kind == "rparen":
                raise FilterError("empty parentheses", self.current.start, "a filter inside '(' ')'")
            inner = self.parse_or()
            self.leave()
            self.expect_close(token)
            return inner
        if token.kind == "string":
            self.advance()
            return _FreeText(token.value)
        if token.kind == "word" and token.text.lower() not in ("and", "or", "in"):
            return self.parse_word_term()
        where = f" after {_describe(after)}" if after is not None else ""
        raise FilterError(
            f"expected a field, a word or '('{where} but found {_describe(token)}",
            token.start,
            "a field, a word or '('",
            end=token.end,
        )

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise FilterError(
                f"filter nested deeper than {_MAX_DEPTH} levels", token.start, "fewer parentheses"
            )

    def leave(self) -> None:
        self.depth -= 1

    def expect_close(self, opening: _Token) -> None:
        token = self.current
        if token.kind != "rparen":
            raise FilterError(
                f"expected ')' to close the '(' of column {opening.start + 1}, found {_describe(token)}",
                token.start,
                "')'",
            )
        self.advance()

    def parse_word_term(self) -> _Node:
        word = self.advance()
        lowered = word.text.lower()
        nxt = self.current
        if lowered in _TRACE_FUNCTIONS:
            return self.parse_trace_function(word)
        if nxt.kind == "op":
            return self.parse_comparison(word)
        if self.is_keyword(nxt, "in"):
            self.advance()
            return self.parse_in(word, nxt, negate=False)
        if self.is_keyword(nxt, "not") and self.is_keyword(self.peek(), "in"):
            self.advance()
            in_token = self.advance()
            return self.parse_in(word, in_token, negate=True)
        if lowered in ("failed", "slow", "trace.failed", "trace.slow", "trace.finding"):
            return _Flag(self.resolve_field(word))
        if lowered.startswith("trace."):
            field_ref = self.resolve_field(word)
            raise FilterError(
                f"expected an operator after '{field_ref.raw}' (as in trace.duration>1m)",
                word.end,
                "an operator",
            )
        return _FreeText(word.text)

    def parse_trace_function(self, word: _Token) -> _Node:
        name = word.text.lower()
        opening = self.current
        if opening.kind != "lparen":
            raise FilterError(f"expected '(' after '{name}'", opening.start, "'('")
        if self.trace_depth:
            raise FilterError(
                f"'{name}' cannot be used inside another trace predicate", word.start, "a record filter"
            )
        self.advance()
        self.enter(opening)
        if self.current.kind == "rparen":
            raise FilterError(f"expected a filter inside '{name}(...)'", self.current.start, "a filter")
        self.trace_depth += 1
        inner = self.parse_or()
        self.trace_depth -= 1
        self.leave()
        self.expect_close(opening)
        self.uses_trace = True
        return _TraceFunction(name, inner)

    def parse_value(self, after: _Token) -> _Value:
        token = self.current
        if token.kind == "word" or token.kind == "string":
            self.advance()
            return _Value(token.value, token.kind == "string", token.start, token.end)
        raise FilterError(
            f"expected a value after '{after.text}' but found {_describe(token)}"
            if token.kind != "eof"
            else f"expected a value after '{after.text}'",
            token.start,
            "a value",
        )

    def parse_comparison(self, word: _Token) -> _Node:
        field_ref = self.resolve_field(word)
        operator = self.advance()
        value = self.parse_value(operator)
        literal = self.coerce(field_ref, operator.value, value, operator)
        return _Compare(field_ref, operator.value, literal, operator.start)

    def parse_in(self, word: _Token, in_token: _Token, *, negate: bool) -> _Node:
        field_ref = self.resolve_field(word)
        opening = self.current
        if opening.kind != "lparen":
            raise FilterError(f"expected '(' after '{in_token.text}'", opening.start, "'('")
        self.advance()
        literals: list[object] = []
        after = opening
        while True:
            value = self.parse_value(after)
            literals.append(self.coerce(field_ref, "=", value, after))
            token = self.current
            if token.kind == "comma":
                after = self.advance()
                continue
            if token.kind == "rparen":
                self.advance()
                break
            raise FilterError(
                f"expected ',' or ')' in the list after '{in_token.text}' but found {_describe(token)}",
                token.start,
                "',' or ')'",
            )
        return _InList(field_ref, tuple(literals), negate)

    # -- fields and values
    def resolve_field(self, word: _Token) -> _Field:
        raw = word.text
        segments = _split_path(raw, word.start)
        head = segments[0]
        lowered = raw.lower()
        if len(segments) == 1:
            if head in _COLUMNS:
                return _Field(raw, word.start, word.end, _COLUMNS[head], head)
            if head in _CONTRACT_EXTRAS:
                return _Field(raw, word.start, word.end, _CONTRACT_EXTRAS[head], head)
            if head in _ALIASES:
                column = _ALIASES[head]
                return _Field(raw, word.start, word.end, _COLUMNS[column], column)
            if head in _DERIVED:
                if head == "slow":
                    self.uses_slow = True
                return _Field(raw, word.start, word.end, _DERIVED[head], head)
            if head == "trace":
                return _Field(raw, word.start, word.end, "string", "trace_id")
        if head == "trace" and len(segments) >= 2:
            name = f"trace.{'.'.join(segments[1:])}"
            if lowered in _TRACE_FIELDS:
                name = lowered
            if name not in _TRACE_FIELDS:
                close = difflib.get_close_matches(name, [*_TRACE_FIELDS, *_TRACE_FUNCTIONS], n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise FilterError(
                    f"unknown trace field '{raw}'{hint}",
                    word.start,
                    "one of " + ", ".join([*_TRACE_FIELDS, *_TRACE_FUNCTIONS]),
                    end=word.end,
                    suggestion=close[0] if close else None,
                )
            if self.trace_depth:
                raise FilterError(
                    f"'{name}' cannot be used inside trace.has(...) or trace.all(...)",
                    word.start,
                    "a record field",
                )
            self.uses_trace = True
            if name == "trace.slow" or name == "trace.slow_steps":
                self.uses_slow = True
            return _Field(raw, word.start, word.end, _TRACE_FIELDS[name], name)
        if head in ("params", "extra") and len(segments) >= 2:
            return _Field(raw, word.start, word.end, "json", head, tuple(segments[1:]))
        if len(segments) == 1:
            close = difflib.get_close_matches(head, _KNOWN_FOR_TYPOS, n=1, cutoff=0.75)
            if not close:
                close = difflib.get_close_matches(head.lower(), _KNOWN_FOR_TYPOS, n=1, cutoff=0.75)
            if close:
                raise FilterError(
                    f"unknown field '{raw}'; did you mean '{close[0]}'? "
                    f"(write extra.{raw} for a field outside the contract)",
                    word.start,
                    "a known field",
                    end=word.end,
                    suggestion=close[0],
                )
        if not _NAME_RE.match(head) and not raw.startswith(("'", '"')):
            raise FilterError(f"'{raw}' is not a field name", word.start, "a field name", end=word.end)
        return _Field(raw, word.start, word.end, "json", "extra", tuple(segments))

    def coerce(self, field_ref: _Field, op: str, value: _Value, after: _Token) -> object:
        where = f" after '{after.text}'"
        kind = field_ref.kind
        raw = value.raw
        if op in ("~", "!~"):
            if kind in ("bool", "derived_bool", "status"):
                raise FilterError(
                    f"'{op}' does not apply to '{field_ref.raw}'", after.start, "'=' or '!='", end=after.end
                )
            try:
                pl.select(pl.lit("").str.contains(raw))
            except pl.exceptions.PolarsError as exc:
                detail = str(exc).strip().splitlines()
                reason = next((line.strip() for line in detail if line.strip().startswith("error:")), "")
                reason = reason.removeprefix("error:").strip() or "invalid syntax"
                raise FilterError(
                    f"invalid regular expression{where}: {reason}",
                    value.start,
                    "a regular expression",
                    end=value.end,
                ) from None
            return raw
        ordering = op in ("<", "<=", ">", ">=")
        if not value.quoted and raw == "null":
            if ordering:
                raise FilterError(f"'{op}' cannot compare with null", value.start, "a value", end=value.end)
            return None
        if kind in ("bool", "derived_bool"):
            if ordering:
                raise FilterError(
                    f"'{op}' does not apply to '{field_ref.raw}'", after.start, "'=' or '!='", end=after.end
                )
            lowered = raw.lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise FilterError(
                f"expected true or false{where} but found '{raw}'",
                value.start,
                "true or false",
                end=value.end,
            )
        if kind == "status":
            if ordering:
                raise FilterError(
                    f"'{op}' does not apply to 'status'", after.start, "'=' or '!='", end=after.end
                )
            lowered = raw.lower()
            if lowered in ("ok", "success", "succeeded"):
                return "ok"
            if lowered in ("failed", "fail", "failure", "error"):
                return "failed"
            raise FilterError(
                f"expected ok or failed{where} but found '{raw}'", value.start, "ok or failed", end=value.end
            )
        if kind == "finding":
            if ordering:
                raise FilterError(
                    f"'{op}' does not apply to '{field_ref.raw}'", after.start, "'=' or '!='", end=after.end
                )
            name = raw.lower()
            if name in DETECTORS:
                return name
            close = difflib.get_close_matches(name, DETECTORS, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise FilterError(
                f"unknown finding '{raw}'{where}{hint}",
                value.start,
                "one of " + ", ".join(DETECTORS),
                end=value.end,
                suggestion=close[0] if close else None,
            )
        if kind == "number":
            if _NUMBER_RE.match(raw.strip()):
                return float(raw)
            raise FilterError(
                f"expected a number{where} but found '{raw}'", value.start, "a number", end=value.end
            )
        if kind == "duration":
            try:
                return parse_duration_ms(raw)
            except TimeParseError:
                raise FilterError(
                    f"expected {_DURATION_HELP}{where} but found '{raw}'",
                    value.start,
                    "a duration",
                    end=value.end,
                ) from None
        if kind == "time":
            try:
                return parse_when(raw)
            except TimeParseError:
                raise FilterError(
                    f"expected {_TIME_HELP}{where} but found '{raw}'", value.start, "a time", end=value.end
                ) from None
        if kind == "json" and not value.quoted and _NUMBER_RE.match(raw):
            return float(raw)
        return raw


def _split_path(raw: str, start: int) -> list[str]:
    """Split ``params.a."b.c".d`` into ``["params", "a", "b.c", "d"]``; reject empty segments."""
    segments: list[str] = []
    i = 0
    n = len(raw)
    while True:
        if i < n and raw[i] in "\"'":
            value, i, _ = _scan_string(raw, i, lenient=True)
            segments.append(value)
        else:
            j = raw.find(".", i)
            j = n if j < 0 else j
            segment = raw[i:j]
            if not segment:
                raise FilterError(f"expected a name after '.' in '{raw}'", start + i, "a name")
            segments.append(segment)
            i = j
        if i >= n:
            return segments
        if raw[i] != ".":
            raise FilterError(f"expected '.' after a quoted name in '{raw}'", start + i, "'.'")
        i += 1
        if i >= n:
            raise FilterError(f"expected a name after '.' in '{raw}'", start + i, "a name")


# ----------------------------------------------------------------------------------------------------
# Compilation

_ORPHAN = "__av_orphan"
_START_MS = "__av_start_ms"
_END_MS = "__av_end_ms"
_END_TS = "__av_end_ts"
_SLOW = "__av_slow"
_FAILED = "__av_failed"
_MATCH = "__av_match"
_TRACE_VALUE = "__av_trace_value"


@dataclass
class _Context:
    schema: Mapping[str, pl.DataType]
    #: Helper columns computed eagerly by ``CompiledFilter`` (staged JSON matches, free text), by node.
    staged: Mapping[object, str] = field(default_factory=dict)
    #: Trace ids where a trace-level node holds (``trace.all``: where some record fails its filter).
    trace_ids: Mapping[object, pl.Series] = field(default_factory=dict)
    #: Per-row columns with a trace-level node's value for the row's trace (``_trace_by_code``), by node;
    #: for ``trace.has/all`` the inner filter's row value is in the same name + ``_inner``.
    trace_members: Mapping[object, str] = field(default_factory=dict)

    def text(self, column: str) -> pl.Expr:
        dtype = self.schema.get(column)
        if dtype is None:
            return pl.lit(None, dtype=pl.String)
        expr = pl.col(column)
        return expr if dtype == pl.String else expr.cast(pl.String)

    def column(self, column: str) -> pl.Expr:
        if column not in self.schema:
            return pl.lit(None, dtype=pl.String)
        return pl.col(column)


def _trace_window(aggregate: pl.Expr, singleton: pl.Expr) -> pl.Expr:
    """``aggregate`` over the record's trace; for an orphan (a trace of its own) its own value."""
    return pl.when(pl.col(_ORPHAN)).then(singleton).otherwise(aggregate.over("trace_id"))


def _json_path(segments: tuple[str, ...]) -> str:
    parts = []
    for segment in segments:
        if segment.isdigit():
            parts.append(f"[{segment}]")
        else:
            parts.append("[" + orjson.dumps(segment).decode() + "]")
    return "$" + "".join(parts)


def _field_expr(ref: _Field, ctx: _Context) -> pl.Expr:
    name = ref.name
    if ref.kind == "json":
        return ctx.text(name).str.json_path_match(_json_path(ref.path))
    if name == "failed" or name == "status":
        return pl.col(_FAILED)
    if name == "slow":
        return pl.col(_SLOW)
    if ref.is_trace:
        return _trace_field_expr(name)
    if name in _CONTRACT_EXTRAS and name not in ctx.schema:
        # Not an index column in this frame: the record kept it (if at all) among the extra fields.
        value = ctx.text("extra").str.json_path_match(_json_path((name,)))
        if ref.kind == "bool":
            return pl.when(value == "true").then(True).when(value == "false").then(False)
        return value.cast(pl.Float64, strict=False)
    if ref.kind == "string":
        return ctx.text(name)
    return ctx.column(name)


def _trace_field_expr(name: str) -> pl.Expr:
    return _trace_window(*_trace_parts(name))


def _trace_parts(name: str) -> tuple[pl.Expr, pl.Expr]:
    """The aggregate of a trace field over a trace, and its value for an orphan (a trace of its own)."""
    failed = pl.col(_FAILED)
    slow = pl.col(_SLOW)
    one = pl.lit(1, dtype=pl.UInt32)
    if name in ("trace.duration", "trace.span"):
        return pl.col(_END_MS).max() - pl.col(_START_MS).min(), pl.col(_END_MS) - pl.col(_START_MS)
    if name == "trace.steps":
        return pl.len(), one
    if name == "trace.failures":
        return failed.sum(), failed.cast(pl.UInt32)
    if name == "trace.failed":
        return failed.any(), failed
    if name == "trace.slow_steps":
        return slow.sum(), slow.cast(pl.UInt32)
    if name == "trace.slow":
        return slow.any(), slow
    if name == "trace.tools":
        return pl.col("tool").n_unique(), one
    if name == "trace.start":
        return pl.col("ts").min(), pl.col("ts")
    if name == "trace.end":
        return pl.col(_END_TS).max(), pl.col(_END_TS)
    raise AssertionError(name)  # pragma: no cover - resolve_field admits only the names above


def _literal(value: object) -> pl.Expr:
    if isinstance(value, datetime):
        return pl.lit(value, dtype=pl.Datetime("us", "UTC"))
    if isinstance(value, float):
        return pl.lit(value, dtype=pl.Float64)
    return pl.lit(value)


def _positive(lhs: pl.Expr, op: str, rhs: pl.Expr) -> pl.Expr:
    if op in ("=", "!="):
        return lhs == rhs
    if op == "<":
        return lhs < rhs
    if op == "<=":
        return lhs <= rhs
    if op == ">":
        return lhs > rhs
    return lhs >= rhs


def _compare_positive(node: _Compare, ctx: _Context, lhs: pl.Expr | None = None) -> pl.Expr:
    """The comparison without its negation (``!=`` / ``!~`` are ``not`` this); never null."""
    ref = node.field
    op = node.op
    lhs = _field_expr(ref, ctx) if lhs is None else lhs
    value = node.literal
    if op in ("~", "!~"):
        if ref.kind not in ("string", "json"):
            lhs = lhs.cast(pl.String)
        return lhs.str.contains(str(value)).fill_null(False)
    if value is None:
        return lhs.is_null()
    if ref.kind == "status":
        return lhs if value == "failed" else ~lhs
    if ref.kind == "json" and isinstance(value, float):
        return _positive(lhs.cast(pl.Float64, strict=False), op, _literal(value)).fill_null(False)
    return _positive(lhs, op, _literal(value)).fill_null(False)


def _compile_compare(node: _Compare, ctx: _Context) -> pl.Expr:
    staged = ctx.staged.get(node)
    ids = ctx.trace_ids.get(node)
    member = ctx.trace_members.get(node)
    if staged is not None:
        matched = pl.col(staged)
    elif member is not None:
        singleton = _compare_positive(node, ctx, _trace_parts(node.field.name)[1])
        matched = pl.when(pl.col(_ORPHAN)).then(singleton).otherwise(pl.col(member))
    elif ids is not None:
        singleton = _compare_positive(node, ctx, _trace_parts(node.field.name)[1])
        matched = pl.when(pl.col(_ORPHAN)).then(singleton).otherwise(pl.col("trace_id").is_in(ids.implode()))
    else:
        matched = _compare_positive(node, ctx)
    return ~matched if node.op in ("!=", "!~") else matched


def _compile_in(node: _InList, ctx: _Context) -> pl.Expr:
    staged = ctx.staged.get(node)
    matched = pl.col(staged) if staged is not None else _in_positive(node, ctx)
    return ~matched if node.negate else matched


def _in_positive(node: _InList, ctx: _Context) -> pl.Expr:
    """The ``in`` test without its ``not``; never null."""
    ref = node.field
    lhs = _field_expr(ref, ctx)
    parts: list[pl.Expr] = []
    values = list(node.literals)
    if any(value is None for value in values):
        parts.append(lhs.is_null())
        values = [value for value in values if value is not None]
    if ref.kind == "status":
        wanted = set(values)
        if "failed" in wanted:
            parts.append(lhs)
        if "ok" in wanted:
            parts.append(~lhs)
    elif ref.kind in ("bool", "derived_bool"):
        parts.extend(lhs == pl.lit(value) for value in set(values))
    elif ref.kind == "time":
        if values:
            parts.append(lhs.is_in(pl.Series(values, dtype=pl.Datetime("us", "UTC")).implode()))
    elif ref.kind in ("number", "duration"):
        if values:
            parts.append(lhs.cast(pl.Float64).is_in(pl.Series(values, dtype=pl.Float64).implode()))
    elif ref.kind == "json":
        numbers = [value for value in values if isinstance(value, float)]
        texts = [value for value in values if isinstance(value, str)]
        if numbers:
            parts.append(
                lhs.cast(pl.Float64, strict=False).is_in(pl.Series(numbers, dtype=pl.Float64).implode())
            )
        if texts:
            parts.append(lhs.is_in(pl.Series(texts, dtype=pl.String).implode()))
    elif values:
        parts.append(lhs.is_in(pl.Series([str(value) for value in values], dtype=pl.String).implode()))
    return pl.any_horizontal(parts).fill_null(False) if parts else pl.lit(False)


def _compile_free_text(node: _FreeText, ctx: _Context) -> pl.Expr:
    staged = ctx.staged.get(node)
    if staged is not None:
        return pl.col(staged)
    columns = [name for name in TEXT_COLUMNS if name in ctx.schema]
    if not node.text:
        return pl.lit(True)
    if not columns:
        return pl.lit(False)
    matches = [_free_text_expr(ctx.text(name), node.text) for name in columns]
    return pl.any_horizontal(matches).fill_null(False)


def _compile(node: _Node, ctx: _Context) -> pl.Expr:
    if isinstance(node, _MatchAll):
        return pl.lit(True)
    if isinstance(node, _Compare):
        return _compile_compare(node, ctx)
    if isinstance(node, _InList):
        return _compile_in(node, ctx)
    if isinstance(node, _FreeText):
        return _compile_free_text(node, ctx)
    if isinstance(node, _Flag):
        staged = ctx.staged.get(node)
        if staged is not None:
            return pl.col(staged)
        member = ctx.trace_members.get(node)
        if member is not None:
            singleton = _trace_parts(node.field.name)[1].fill_null(False)
            return pl.when(pl.col(_ORPHAN)).then(singleton).otherwise(pl.col(member))
        ids = ctx.trace_ids.get(node)
        if ids is not None:
            singleton = _trace_parts(node.field.name)[1].fill_null(False)
            return pl.when(pl.col(_ORPHAN)).then(singleton).otherwise(pl.col("trace_id").is_in(ids.implode()))
        return _field_expr(node.field, ctx).fill_null(False)
    if isinstance(node, _Not):
        return ~_compile(node.inner, ctx)
    if isinstance(node, _And):
        return pl.all_horizontal([_compile(item, ctx) for item in node.items])
    if isinstance(node, _Or):
        return pl.any_horizontal([_compile(item, ctx) for item in node.items])
    column = ctx.trace_members.get(node)
    if column is not None:
        return pl.when(pl.col(_ORPHAN)).then(pl.col(column + "_inner")).otherwise(pl.col(column))
    inner = _compile(node.inner, ctx)
    ids = ctx.trace_ids.get(node)
    if ids is not None:
        # Membership in a small set of ids is much cheaper than a window over a million trace ids.
        in_ids = pl.col("trace_id").is_in(ids.implode())
        return pl.when(pl.col(_ORPHAN)).then(inner).otherwise(in_ids if node.name == "trace.has" else ~in_ids)
    return _trace_window(inner.any() if node.name == "trace.has" else inner.all(), inner)


def _trace_nodes(node: _Node) -> list[_TraceFunction | _Compare | _Flag]:
    """``trace.has``/``trace.all`` and the comparisons and flags on trace fields (outside trace functions)."""
    if isinstance(node, _TraceFunction):
        return [node]
    if isinstance(node, _Compare | _Flag):
        return [node] if node.field.is_trace and node.field.name != _FINDING else []
    if isinstance(node, _Not):
        return _trace_nodes(node.inner)
    if isinstance(node, _And | _Or):
        return [found for item in node.items for found in _trace_nodes(item)]
    return []


# ----------------------------------------------------------------------------------------------------
# trace.finding: decided per trace from the findings of ``auditview.core.findings`` (no polars expression
# gives
# them), as staged columns (``__av_finding<i>``, the positive test: for ``!=`` / ``not in`` the compiled
# predicate negates it as for any staged comparison).

_FINDING: Final = "trace.finding"


def _finding_nodes(node: _Node) -> list[_Compare | _InList | _Flag]:
    """The ``trace.finding`` tests of the filter, each once, in order."""
    if isinstance(node, _Compare | _InList | _Flag):
        return [node] if node.field.name == _FINDING else []
    if isinstance(node, _Not | _TraceFunction):
        return _finding_nodes(node.inner)
    if isinstance(node, _And | _Or):
        found: list[_Compare | _InList | _Flag] = []
        for item in node.items:
            found += [each for each in _finding_nodes(item) if each not in found]
        return found
    return []


def _finding_columns(node: _Node) -> list[tuple[_Compare | _InList | _Flag, str]]:
    """Each ``trace.finding`` test with its staged column."""
    return [(found, f"__av_finding{i}") for i, found in enumerate(_finding_nodes(node))]


def _trace_findings(frame: pl.DataFrame, thresholds: FindingThresholds) -> pl.DataFrame:
    """The distinct (``trace_id``, ``name``) pairs of the findings in ``frame``."""
    return detect_findings(frame, thresholds).select("trace_id", "name").unique()


def _finding_match(node: _Compare | _InList | _Flag, findings: pl.DataFrame) -> pl.Expr:
    """True where the record's trace passes the positive ``trace.finding`` test (no finding: an orphan)."""

    def in_traces(names: pl.Expr | None) -> pl.Expr:
        ids = findings if names is None else findings.filter(names)
        wanted = ids.get_column("trace_id").unique()
        return pl.col("trace_id").cast(pl.String).is_in(wanted.implode()).fill_null(False)

    name = pl.col("name")
    if isinstance(node, _Flag):
        return in_traces(None)
    if isinstance(node, _Compare):
        if node.op in ("~", "!~"):
            return in_traces(name.str.contains(str(node.literal)))
        if node.literal is None:
            return ~in_traces(None)
        return in_traces(name == str(node.literal))
    wanted = [str(value) for value in node.literals if value is not None]
    parts = [in_traces(name.is_in(pl.Series(wanted, dtype=pl.String).implode()))] if wanted else []
    if any(value is None for value in node.literals):
        parts.append(~in_traces(None))
    return pl.any_horizontal(parts) if parts else pl.lit(False)


def _mentions_failed(node: _Node) -> bool:
    if isinstance(node, _Compare | _InList | _Flag):
        return node.field.name in ("failed", "status", "trace.failed", "trace.failures")
    if isinstance(node, _Not | _TraceFunction):
        return _mentions_failed(node.inner)
    if isinstance(node, _And | _Or):
        return any(_mentions_failed(item) for item in node.items)
    return False


# ----------------------------------------------------------------------------------------------------
# Staged evaluation: the same results as the plain expressions, computed with fewer expensive passes.
#
# ``str.json_path_match`` parses every JSON text and is the slowest thing a filter can do (0.5 s per
# million rows). For a top-level key (``params.env``), a *safe* text (no backslash, a single ``{``: nothing
# nested, nothing escaped) is read without parsing: the count of ``"key"\s*:`` says absent / once / repeated,
# and once, a string equality, ``=null`` or a plain decimal number is read off the text with one regex. Every
# other row (escapes, nesting, repeated keys, other operators) goes through ``json_path_match``. A nested path
# parses only the rows holding the key's JSON text or a backslash; the others get the "key missing" value.
# Free text searches Categorical columns in their distinct values. On a frame filtered more than once, the
# per-frame helpers (below) let JSON look-ups and free text run once per distinct text and spread the answer
# to the rows by code, and trace predicates group by a cached integer code per trace id.
# tests/engine/test_query.py and test_query_helpers.py compare every staged result with the plain
# expression's on tricky texts.

_STRUCTURAL: Final = frozenset(',:[]{}"\\ \t\r\n')


def _staged_nodes(node: _Node) -> list[_Compare | _InList | _FreeText]:
    """The nodes (anywhere in the tree) that ``_stage`` computes eagerly: JSON look-ups and free text."""
    if isinstance(node, _Compare | _InList):
        return [node] if node.field.kind == "json" else []
    if isinstance(node, _FreeText):
        return [node] if node.text else []
    if isinstance(node, _Not | _TraceFunction):
        return _staged_nodes(node.inner)
    if isinstance(node, _And | _Or):
        return [found for item in node.items for found in _staged_nodes(item)]
    return []


def _top_key(node: _Compare | _InList) -> str | None:
    """The key of a top-level look-up (``params.env``) whose JSON text cannot be confused with structure."""
    if len(node.field.path) != 1:
        return None
    key = node.field.path[0]
    if not key or key.isdigit() or any(ch in _STRUCTURAL for ch in key) or "\\" in orjson.dumps(key).decode():
        return None
    return key


#: Rows sampled to decide whether the literal key prefilter of ``_stage_json_texts`` pays, and the largest
#: share of sampled rows holding the key's text for which it does.
_PREFILTER_SAMPLE: Final = 2048
_PREFILTER_MAX_SHARE: Final = 0.4

_PLAIN_NUMBER: Final = r"(-?\d{1,15}(?:\.\d{1,15})?)\s*[,}]"


def renders_like_other_json(value: str) -> bool:
    """Whether ``value`` reads like a number, ``true``/``false``/``null``, an object or an array: the text
    ``json_path_match`` gives for such a non-string JSON value might equal it, so a text search for the JSON
    string ``"value"`` cannot decide a comparison with it (here and in ``auditview.core.pushdown``)."""
    stripped = value.strip()
    return stripped in ("true", "false", "null") or bool(_NUMBER_RE.match(stripped)) or value[:1] in "{["


def _decide_from_text(node: _Compare | _InList, key_re: str) -> pl.Expr | None:
    """On a safe text holding the key once: the positive match read off the text, null where it cannot tell.

    For a number literal it is the key's plain decimal value instead (``_stage_json`` compares it). ``None``
    when the text never tells (regexes, lists): those rows are parsed.
    """
    if not isinstance(node, _Compare) or node.op in ("~", "!~"):
        return None
    text = pl.col(node.field.name)
    value = node.literal
    if value is None:
        return text.str.contains(rf"{key_re}\s*:\s*null")
    if isinstance(value, float):
        # json_path_match renders a number through f64, so a plain decimal token compares the same way.
        # (a Float64, not a Boolean: _stage_json compares it, so the costly extract runs once)
        return text.str.extract(rf"{key_re}\s*:\s*{_PLAIN_NUMBER}", 1).cast(pl.Float64)
    if node.op not in ("=", "!=") or not isinstance(value, str):
        return None
    if renders_like_other_json(value):
        return None
    encoded = orjson.dumps(value).decode()
    if "\\" in encoded:
        return None
    return text.str.contains(rf"{key_re}\s*:\s*{re.escape(encoded)}")


def _stage_json(node: _Compare | _InList, frame: pl.DataFrame, helpers: _FrameHelpers | None) -> pl.Series:
    """The positive match of a JSON comparison (before ``!=``/``not``), equal to the plain expression's.

    With ``helpers`` the comparison runs once per distinct JSON text of the column (219k of 1M rows in the
    demo log) and is spread to the rows by their codes: the expression is a function of the text alone.
    """
    column = node.field.name
    encoded = helpers.encoded(column) if helpers is not None else None
    if encoded is not None:
        return encoded.spread(_stage_json_texts(node, encoded.values)).alias("match")
    return _on_present(frame.get_column(column), lambda texts: _stage_json_texts(node, texts))


def _on_present(values: pl.Series, evaluate: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``evaluate(values)`` for an element-wise ``evaluate``; on a mostly-null column, run on non-nulls only.

    Searching a null still costs a regex engine's per-row work (``error_message`` is 97 % null: ~30 ms per
    million rows against ~5 ms for its non-null rows), so the null rows take the answer for one null instead.
    """
    if values.null_count() * 2 <= values.len():
        return evaluate(values)
    rows = values.is_not_null().arg_true()
    present = evaluate(values.gather(rows))
    for_null = evaluate(pl.Series(values.name, [None], dtype=values.dtype))
    filler = pl.repeat(for_null[0], values.len(), dtype=present.dtype, eager=True)
    return filler.scatter(rows, present).alias(present.name)


def _stage_json_texts(node: _Compare | _InList, values: pl.Series) -> pl.Series:
    """``_stage_json`` over one Series of JSON texts (a column, or its distinct values)."""
    column = node.field.name
    ctx = _Context({column: pl.String()})
    positive = _compare_positive(node, ctx) if isinstance(node, _Compare) else _in_positive(node, ctx)
    texts = values.cast(pl.String).alias(column).to_frame()
    keys = [segment for segment in node.field.path if not segment.isdigit()]
    if not keys:
        return texts.select(positive).to_series()
    missing = bool(pl.DataFrame({column: [None]}, schema={column: pl.String()}).select(positive).item())
    text = pl.col(column)
    top_key = _top_key(node)
    if top_key is not None:
        # Literal prefilter: a text without a backslash can hold the key only as its plain JSON text, so the
        # rows with neither (or a null) take the "key missing" value, and only the others go through the
        # regexes below. The prefilter costs a pass of its own, so it runs only when a sample of ~2000 rows
        # says that most rows lack the key (a key that few records have); the result is exact either way.
        key_json = orjson.dumps(top_key).decode()
        has_key = text.str.contains(key_json, literal=True) | text.str.contains("\\", literal=True)
        has_key = has_key.fill_null(False)
        sample = texts.gather_every(max(1, texts.height // _PREFILTER_SAMPLE))
        subset: pl.Series | None = None
        if sample.height and sample.select(has_key.mean()).item() < _PREFILTER_MAX_SHARE:
            subset = texts.select(has_key).to_series().arg_true()
        whole = texts
        if subset is not None:
            texts = texts[subset]
        # A safe text has no backslash and a single "{" (the object's own: nothing nested). There the key's
        # JSON text followed by ":" is the key itself, so counting it tells absent / once / repeated.
        key_re = re.escape(key_json)
        decide = _decide_from_text(node, key_re)
        exprs = [
            (text.str.count_matches(r"[{\\]").fill_null(1) == 1).alias("safe"),
            text.str.count_matches(rf"{key_re}\s*:").fill_null(0).alias("seen"),
        ]
        if decide is not None:
            exprs.append(decide.alias("decided"))
        flags = texts.select(exprs)
        if isinstance(node, _Compare) and isinstance(node.literal, float):
            number = pl.col("decided")
            flags = flags.with_columns(
                pl.when(number.is_not_null())
                .then(_positive(number, node.op, _literal(node.literal)))
                .alias("decided")
            )
        safe = pl.col("safe")
        seen = pl.col("seen")
        decided = pl.col("decided") if decide is not None else pl.lit(None, dtype=pl.Boolean)
        outcome = flags.select(
            pl.when(safe & (seen == 0))
            .then(pl.lit(missing))
            .when(safe & (seen == 1))
            .then(decided)
            .alias("match")
        ).to_series()
        exact = outcome.is_null().arg_true()
        result = outcome.fill_null(False)
        if exact.len():
            result = result.scatter(exact, texts[exact].select(positive).to_series())
        if subset is None:
            return result
        filler = pl.repeat(missing, whole.height, dtype=pl.Boolean, eager=True).alias("match")
        return filler.scatter(subset, result)
    nested = texts.select(
        (
            text.str.contains(orjson.dumps(keys[-1]).decode(), literal=True)
            | text.str.contains("\\", literal=True)
        ).fill_null(False)
    )
    exact = nested.to_series().arg_true()
    result = pl.repeat(missing, texts.height, dtype=pl.Boolean, eager=True).alias("match")
    if exact.len():
        result = result.scatter(exact, texts[exact].select(positive).to_series())
    return result


def _stage_free_text(node: _FreeText, frame: pl.DataFrame, helpers: _FrameHelpers | None) -> pl.Series:
    """Free text over the text columns, searching distinct values where that is cheaper than every row.

    With ``helpers``, a column with few distinct values (all but ``request_id`` in an audit log) is searched
    in its distinct values once and the hits are spread to the rows by code; without, a Categorical column is
    still searched in its distinct values and matched by physical code. The rest get one ``(?i)`` regex each,
    in a single parallel ``select``.
    """

    def search(texts: pl.Series) -> pl.Series:
        return texts.to_frame().select(_free_text_expr(pl.all().cast(pl.String), node.text)).to_series()

    parts: list[pl.Expr] = []
    spread: list[pl.Series] = []
    for name in TEXT_COLUMNS:
        if name not in frame.columns:
            continue
        values = frame.get_column(name)
        categorical = isinstance(values.dtype, pl.Categorical)
        encoded = helpers.encoded(name) if helpers is not None and not categorical else None
        if encoded is not None:
            hits = search(encoded.values)
            if hits.any():
                spread.append(encoded.spread(hits))
            continue
        if categorical:
            distinct = values.unique().drop_nulls() if helpers is None else helpers.distinct(name)
            found = distinct.filter(
                distinct.cast(pl.String).to_frame().select(_free_text_expr(pl.all(), node.text)).to_series()
            )
            parts.append(pl.col(name).to_physical().is_in(found.to_physical().implode()))
        elif values.null_count() * 2 > frame.height:
            spread.append(_on_present(values, search))
        else:
            parts.append(_free_text_expr(pl.col(name).cast(pl.String), node.text))
    if parts:
        # One select: polars runs the per-column searches in parallel.
        spread.append(frame.select(pl.any_horizontal(parts).fill_null(False)).to_series())
    if not spread:
        return pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).alias("match")
    columns = [series.alias(f"part{i}") for i, series in enumerate(spread)]
    return pl.DataFrame(columns).select(pl.any_horizontal(pl.all()).alias("match")).to_series()


def _free_text_expr(values: pl.Expr, text: str) -> pl.Expr:
    """Case-insensitive substring search (a ``(?i)`` regex: faster here than ``contains_any``)."""
    return values.str.contains("(?i)" + re.escape(text)).fill_null(False)


# ----------------------------------------------------------------------------------------------------
# Per-frame helpers: data that depends on the frame only (never on a filter's text), built on first use and
# kept while the same frame object, with the same height and schema, is filtered again. The app filters one
# loaded frame many times (every edit of the filter bar is a new filter), so distinct-value encodings of the
# text columns, the trace keys, the per-trace aggregates and the slow mask pay for themselves; a frame
# filtered once (the CLI) would only pay for them, so they are used from a frame's second filter on (or
# after ``warm_filter_helpers``).

#: Frames with fewer rows are filtered without helpers: there, building them costs more than it saves.
#: (A module variable so that tests can switch the helpers on for tiny frames.)
_HELPER_MIN_ROWS = 20_000

#: A column is encoded by distinct value only when it has (approximately) at most this share of distinct
#: values; ``request_id`` (one per record) is searched row by row instead.
_ENCODE_MAX_DISTINCT = 0.5

_CODE = "__av_code"


@dataclass(frozen=True)
class _Encoded:
    """A text column as its distinct values and, per row, the position of the row's value among them.

    ``values[codes[i]]`` is row ``i``'s value, so an expression that looks at the value alone gives the same
    answer evaluated once per distinct value and spread to the rows (``spread``). A null is one of the values
    (the last one) when the column has nulls. In a mostly-null column only the non-null ``rows`` have codes
    (the nulls all take the null's answer): coding every null row would cost more than the search it saves.
    """

    values: pl.Series
    codes: pl.Series  # UInt32 (UInt64 with polars' big-index build), never null
    rows: pl.Series | None  # the rows that have codes when not all of them do
    height: int

    def spread(self, per_value: pl.Series) -> pl.Series:
        """Row ``i`` gets ``per_value[codes[i]]`` (``per_value`` has one entry per distinct value)."""
        coded = per_value.gather(self.codes)
        if self.rows is None:
            return coded
        filler = pl.repeat(per_value[-1], self.height, dtype=per_value.dtype, eager=True)
        return filler.scatter(self.rows, coded)


def _encode(values: pl.Series, *, sparse: bool) -> _Encoded:
    """Encode ``values`` (see ``_Encoded``); ``sparse`` codes only the non-null rows."""
    height = values.len()
    rows: pl.Series | None = None
    if sparse:
        rows = values.is_not_null().arg_true()
        distinct, codes = _distinct_codes(values.gather(rows))
        distinct = pl.concat([distinct, pl.Series([None], dtype=values.dtype)])
    else:
        distinct, codes = _distinct_codes(values)
    return _Encoded(distinct, codes, rows, height)


def _value_hashes(values: pl.Series) -> pl.Series:
    """A 64-bit hash per value (a function of its own so that tests can force collisions)."""
    return values.hash()


def _distinct_codes(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The distinct values (the null included) and, per row, the position of its value among them.

    Fast way: group by a 64-bit hash of the value (the first row of each hash gives the value), then check
    that every row's value is the one its code names; a hash collision fails the check and falls back to
    grouping by the values themselves (``unique`` and a join on the strings: ~40 % slower on ``params``).
    """
    hashes = _value_hashes(values)
    first = hashes.is_first_distinct().arg_true()
    distinct = values.gather(first)
    table = hashes.gather(first).alias("h").to_frame().with_row_index(_CODE)
    codes = hashes.alias("h").to_frame().join(table, on="h", how="left", maintain_order="left")
    if distinct.gather(codes.get_column(_CODE)).eq_missing(values).all():
        return distinct, codes.get_column(_CODE)
    # The distinct values are materialised before the join (``unique`` has no fixed order).
    distinct = values.unique()
    table = distinct.alias("v").to_frame().with_row_index(_CODE)
    exact = values.alias("v").to_frame()
    exact = exact.join(table, on="v", how="left", maintain_order="left", nulls_equal=True)
    return distinct, exact.get_column(_CODE)


class _FrameHelpers:
    """The per-frame helpers of one frame (see above); ``fits`` says whether they still describe a frame.

    Only a weak reference to the frame is kept: the entry disappears with the frame. Frames are treated as
    values: a frame grown in place (``extend``) has another height, and one with columns added or dropped
    another schema, so neither reuses anything; a column replaced in place by one of the same name and dtype
    is not detected (nothing does that to an index frame). Thread-safe: the app filters in worker threads.
    """

    def __init__(self, frame: pl.DataFrame, ref: weakref.ref[pl.DataFrame]) -> None:
        self.ref = ref
        self.height = frame.height
        self.schema = dict(frame.schema)
        #: Filters run on the frame so far, and whether ``warm_filter_helpers`` asked for the helpers.
        self.filters = 0
        self.warmed = False
        self._lock = threading.RLock()
        self._encoded: dict[str, _Encoded | None] = {}
        self._distinct: dict[str, pl.Series] = {}
        self._orphan: pl.Series | None = None
        self._slow: dict[SlowStepRule, pl.Series] = {}
        self._per_trace: dict[tuple[str, SlowStepRule | None], pl.Series] = {}
        self._findings: dict[FindingThresholds, pl.DataFrame] = {}

    def fits(self, frame: pl.DataFrame) -> bool:
        """True when these helpers were built from ``frame`` as it is now."""
        return self.ref() is frame and frame.height == self.height and dict(frame.schema) == self.schema

    def _frame(self) -> pl.DataFrame:
        frame = self.ref()
        if frame is None:  # pragma: no cover - callers hold the frame while filtering it
            raise RuntimeError("the frame of these helpers is gone")
        return frame

    def encoded(self, column: str) -> _Encoded | None:
        """The encoding of String ``column`` (built on first use); None when it has too many distinct values.

        A Categorical column is never encoded here: its distinct values are cheap (``distinct``) and its
        physical codes already identify the value.
        """
        with self._lock:
            if column not in self._encoded:
                frame = self._frame()
                values = frame.get_column(column)
                encoded: _Encoded | None = None
                if not isinstance(values.dtype, pl.Categorical):
                    nulls = values.null_count()
                    if nulls * 2 > frame.height:
                        encoded = _encode(values, sparse=True)
                    elif (
                        frame.select(pl.col(column).approx_n_unique()).item()
                        <= _ENCODE_MAX_DISTINCT * frame.height
                    ):
                        encoded = _encode(values, sparse=False)
                self._encoded[column] = encoded
            return self._encoded[column]

    def distinct(self, column: str) -> pl.Series:
        """The distinct non-null values of (Categorical) ``column``."""
        with self._lock:
            values = self._distinct.get(column)
            if values is None:
                values = self._distinct[column] = self._frame().get_column(column).unique().drop_nulls()
            return values

    def trace_codes(self) -> _Encoded:
        """A code per distinct trace id for every row (the group key of trace predicates)."""
        with self._lock:
            encoded = self._encoded.get("trace_id")
            if encoded is None or encoded.rows is not None:
                encoded = _encode(self._frame().get_column("trace_id"), sparse=False)
                self._encoded["trace_id"] = encoded
            return encoded

    def orphan(self) -> pl.Series:
        """True for the records without a usable trace id (``~has_trace_id()``), decided per distinct id."""
        with self._lock:
            if self._orphan is None:
                codes = self.trace_codes()
                per_value = codes.values.to_frame("trace_id").select(~has_trace_id()).to_series()
                self._orphan = codes.spread(per_value).alias(_ORPHAN)
            return self._orphan

    def slow(self, rule: SlowStepRule) -> pl.Series:
        """``rule.slow_mask`` of the frame (one group-by and join; the same for every filter)."""
        with self._lock:
            mask = self._slow.get(rule)
            if mask is None:
                mask = self._slow[rule] = rule.slow_mask(self._frame()).alias(_SLOW)
            return mask

    def findings(self, thresholds: FindingThresholds) -> pl.DataFrame:
        """The (``trace_id``, ``name``) pairs of the frame's findings (``trace.finding``; the same for every
        filter with these thresholds)."""
        with self._lock:
            found = self._findings.get(thresholds)
            if found is None:
                found = self._findings[thresholds] = _trace_findings(self._frame(), thresholds)
            return found

    def per_trace(self, key: tuple[str, SlowStepRule | None], lazy: pl.LazyFrame) -> pl.Series:
        """The value of trace field ``key[0]`` per trace code (null for the codes of orphan ids).

        ``lazy`` is the frame with the helper columns the field's aggregate reads; ``key[1]`` is the slow rule
        when the value depends on it. The value does not depend on the filter, so ``trace.duration>1m`` and a
        later ``trace.duration>5m`` share it.
        """
        with self._lock:
            values = self._per_trace.get(key)
            if values is None:
                codes = self.trace_codes()
                aggregate = _trace_parts(key[0])[0].alias(_TRACE_VALUE)
                per_code = (
                    lazy.with_columns(codes.codes.alias(_CODE), self.orphan())
                    .filter(~pl.col(_ORPHAN))
                    .group_by(_CODE)
                    .agg(aggregate)
                    .collect()
                )
                dtype = per_code.schema[_TRACE_VALUE]
                values = pl.repeat(None, len(codes.values), dtype=dtype, eager=True).scatter(
                    per_code.get_column(_CODE), per_code.get_column(_TRACE_VALUE)
                )
                self._per_trace[key] = values
            return values


_HELPERS: dict[int, _FrameHelpers] = {}
_HELPERS_LOCK = threading.RLock()  # re-entrant: a weakref callback may run while it is held


def _entry_for(frame: pl.DataFrame) -> _FrameHelpers:
    """The registry entry of ``frame``: a new one when it is a new object or changed height or schema."""
    key = id(frame)
    with _HELPERS_LOCK:
        helpers = _HELPERS.get(key)
        if helpers is None or not helpers.fits(frame):
            # The callback runs when the frame is freed (before its id can be reused) and drops the entry,
            # unless a newer entry (the same object grown in place) has taken its place.
            def forget(ref: weakref.ref[pl.DataFrame], key: int = key) -> None:
                with _HELPERS_LOCK:
                    entry = _HELPERS.get(key)
                    if entry is not None and entry.ref is ref:
                        del _HELPERS[key]

            helpers = _FrameHelpers(frame, weakref.ref(frame, forget))
            _HELPERS[key] = helpers
        return helpers


def _helpers_for(frame: pl.DataFrame) -> _FrameHelpers | None:
    """The helpers to filter ``frame`` with: None for a small frame and for a frame's first filter."""
    if frame.height < _HELPER_MIN_ROWS:
        return None
    helpers = _entry_for(frame)
    with _HELPERS_LOCK:
        helpers.filters += 1
        return helpers if helpers.warmed or helpers.filters > 1 else None


def warm_filter_helpers(frame: pl.DataFrame, slow_rule: SlowStepRule | None = None) -> None:
    """Build the per-frame helpers of ``frame`` now, so that even the first filter on it is fast.

    For a caller with spare time after loading (the app's worker thread, once the index is posted): the
    distinct-value encodings of the free-text and JSON columns, the trace keys, and the slow mask of
    ``slow_rule`` (default ``SlowStepRule()``) when the frame has no ``slow`` column. Without it, a frame's
    first filter runs without helpers and its second builds the ones it needs. Per-trace aggregates are built
    by the first filter on each trace field. A frame under ``_HELPER_MIN_ROWS`` rows needs none.
    """
    if frame.height < _HELPER_MIN_ROWS:
        return
    helpers = _entry_for(frame)
    helpers.warmed = True
    for name in TEXT_COLUMNS:
        if name in frame.columns:
            if isinstance(frame.schema[name], pl.Categorical):
                helpers.distinct(name)
            else:
                helpers.encoded(name)
    if "trace_id" in frame.columns:
        helpers.orphan()
    if "slow" not in frame.columns and {"tool", "command", "duration_ms"} <= set(frame.columns):
        helpers.slow(slow_rule or SlowStepRule())


#: Index columns behind the helper columns: trace-level predicates and ``slow`` / ``failed``.
_TRACE_BASE_COLUMNS: Final = frozenset({"trace_id", "ts", "duration_ms", "exit_code"})
_SLOW_COLUMNS: Final = frozenset({"tool", "command", "duration_ms"})


def _field_columns(ref: _Field) -> frozenset[str]:
    name = ref.name
    if ref.kind == "json":
        return frozenset({name})
    if name in _CONTRACT_EXTRAS:
        return frozenset({name, "extra"})
    if name in ("failed", "status"):
        return frozenset({"exit_code"})
    if name == "slow":
        return _SLOW_COLUMNS
    if ref.is_trace:
        needed = set(_TRACE_BASE_COLUMNS)
        if name in ("trace.slow", "trace.slow_steps"):
            needed |= _SLOW_COLUMNS
        if name == "trace.tools":
            needed.add("tool")
        if name == _FINDING:
            needed |= FINDING_COLUMNS
        return frozenset(needed)
    return frozenset({name})


def _node_columns(node: _Node) -> frozenset[str]:
    if isinstance(node, _Compare | _InList | _Flag):
        return _field_columns(node.field)
    if isinstance(node, _FreeText):
        return frozenset(TEXT_COLUMNS) if node.text else frozenset()
    if isinstance(node, _TraceFunction):
        return _TRACE_BASE_COLUMNS | _node_columns(node.inner)
    if isinstance(node, _Not):
        return _node_columns(node.inner)
    if isinstance(node, _And | _Or):
        return frozenset().union(*(_node_columns(item) for item in node.items))
    return frozenset()


@dataclass(frozen=True)
class CompiledFilter:
    """A parsed, validated filter; ``apply`` runs it on a frame.

    ``uses_trace`` is true when the filter has trace-level predicates (their value depends on the whole
    frame, so a follower cannot apply the filter to new rows alone); ``uses_slow`` when it needs slow steps.
    """

    text: str
    slow_rule: SlowStepRule
    uses_trace: bool
    uses_slow: bool
    _node: _Node = field(repr=False)
    #: The thresholds of the findings ``trace.finding`` tests.
    findings: FindingThresholds = field(default_factory=FindingThresholds)

    @property
    def columns(self) -> frozenset[str]:
        """The index columns the filter reads (load at least these, plus the location columns).

        Fields name their column; ``params.X`` / ``extra.X`` / unknown names their JSON column; free text
        every column of ``TEXT_COLUMNS``; ``failed``/``status`` ``exit_code``; ``slow`` ``tool``, ``command``,
        ``duration_ms``; trace predicates also ``trace_id``, ``ts``, ``duration_ms``, ``exit_code``;
        ``trace.finding`` also ``auditview.core.findings.FINDING_COLUMNS``.
        """
        return _node_columns(self._node)

    @property
    def matches_all(self) -> bool:
        """True for an empty filter (every record matches)."""
        return isinstance(self._node, _MatchAll)

    def predicate(self, schema: Mapping[str, pl.DataType]) -> pl.Expr:
        """The Boolean expression for a frame with ``schema``; it reads the helper columns of ``prepare``."""
        staged: dict[object, str] = {}
        for node, name in _finding_columns(self._node):
            staged[node] = name
        return _compile(self._node, _Context(dict(schema), staged))

    def prepare(self, frame: pl.LazyFrame, schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
        """Add the helper columns (``__av_*``) the predicate reads: failed, slow, trace keys, start/end.

        ``trace.finding`` tests need the findings of the whole frame: with them, ``frame`` is collected here.
        """
        columns = _finding_columns(self._node)
        if columns:
            collected = frame.collect()
            findings = _trace_findings(collected, self.findings)
            frame = collected.lazy().with_columns(
                _finding_match(node, findings).alias(name) for node, name in columns
            )
        return self._prepare(frame, schema, slow_ready=False)

    def _prepare(
        self,
        frame: pl.LazyFrame,
        schema: Mapping[str, pl.DataType],
        *,
        slow_ready: bool,
        orphan_ready: bool = False,
    ) -> pl.LazyFrame:
        helpers: list[pl.Expr] = []
        if _mentions_failed(self._node) or self.uses_trace:
            helpers.append(failed_expr().alias(_FAILED))
        if self.uses_slow and not slow_ready:
            slow = pl.col("slow").fill_null(False) if "slow" in schema else self.slow_rule.slow_expr()
            helpers.append(slow.alias(_SLOW))
        if self.uses_trace:
            if not orphan_ready:
                helpers.append((~has_trace_id()).alias(_ORPHAN))
            start_ms = pl.col("ts").dt.epoch("us").cast(pl.Float64) / 1000.0
            helpers += [
                start_ms.alias(_START_MS),
                (start_ms + pl.col("duration_ms")).alias(_END_MS),
                end_expr().alias(_END_TS),
            ]
        return frame.with_columns(helpers) if helpers else frame

    def _staged(self, frame: pl.DataFrame) -> tuple[pl.LazyFrame, pl.Expr]:
        """The frame with every helper column, and the predicate over it (staged parts computed eagerly).

        On a large frame the per-frame helpers (``_FrameHelpers``) supply distinct-value encodings, the trace
        keys, the orphan flags and the slow mask, so a new filter only runs its own comparisons.
        """
        helpers = _helpers_for(frame)
        staged: dict[object, str] = {}
        computed: list[pl.Series] = []
        for node in _staged_nodes(self._node):
            if node in staged:
                continue
            if isinstance(node, _FreeText):
                series = _stage_free_text(node, frame, helpers)
            elif node.field.name in frame.columns:
                series = _stage_json(node, frame, helpers)
            else:
                continue
            staged[node] = f"__av_staged{len(staged)}"
            computed.append(series.alias(staged[node]))
        finding_columns = _finding_columns(self._node)
        if finding_columns:
            if helpers is None:
                findings = _trace_findings(frame, self.findings)
            else:
                findings = helpers.findings(self.findings)
            tests = frame.select(_finding_match(node, findings).alias(name) for node, name in finding_columns)
            computed += tests.get_columns()
            for test, name in finding_columns:
                staged[test] = name
        slow_ready = False
        if self.uses_slow and "slow" not in frame.columns:
            slow = self.slow_rule.slow_mask(frame) if helpers is None else helpers.slow(self.slow_rule)
            computed.append(slow.alias(_SLOW))
            slow_ready = True
        by_code = helpers is not None and self.uses_trace and "trace_id" in frame.columns
        if by_code:
            assert helpers is not None
            computed.append(helpers.orphan())
        schema = frame.schema
        lazy = frame.lazy().with_columns(computed) if computed else frame.lazy()
        lazy = self._prepare(lazy, schema, slow_ready=slow_ready, orphan_ready=by_code)
        ctx = _Context(dict(schema), staged)
        if by_code:
            assert helpers is not None
            return self._trace_by_code(frame, lazy, ctx, helpers)
        trace_ids: dict[object, pl.Series] = {}
        traced = lazy.filter(~pl.col(_ORPHAN))
        for trace_node in _trace_nodes(self._node):
            if trace_node in trace_ids:
                continue
            if isinstance(trace_node, _TraceFunction):
                inner = _compile(trace_node.inner, ctx)
                wanted = traced.filter(inner if trace_node.name == "trace.has" else ~inner)
                trace_ids[trace_node] = wanted.select(pl.col("trace_id").unique()).collect().to_series()
                continue
            # Decide the comparison once per trace on the (small) per-trace aggregates.
            value = _trace_parts(trace_node.field.name)[0].alias(_TRACE_VALUE)
            per_trace = traced.group_by("trace_id").agg(value)
            if isinstance(trace_node, _Compare):
                keep = _compare_positive(trace_node, ctx, pl.col(_TRACE_VALUE))
            else:
                keep = pl.col(_TRACE_VALUE).fill_null(False)
            trace_ids[trace_node] = per_trace.filter(keep).select("trace_id").collect().to_series()
        ctx.trace_ids = trace_ids
        return lazy, _compile(self._node, ctx)

    def _trace_by_code(
        self, frame: pl.DataFrame, lazy: pl.LazyFrame, ctx: _Context, helpers: _FrameHelpers
    ) -> tuple[pl.LazyFrame, pl.Expr]:
        """``_staged`` for trace predicates on a frame with helpers: decided per trace code, spread by code.

        ``trace.has/all(F)``: ``F`` is evaluated once over the rows, the codes of the (non-orphan) rows where
        it holds (fails) mark their traces, and each row reads its trace's mark. A trace field: its per-trace
        value (cached per frame: it does not depend on the filter) is compared once per trace. Orphan rows
        keep their single-record value, as in the plain expression.
        """
        codes = helpers.trace_codes()
        orphan = helpers.orphan()
        traces = len(codes.values)
        members: dict[object, str] = {}
        columns: list[pl.Series] = []
        for trace_node in _trace_nodes(self._node):
            if trace_node in members:
                continue
            name = f"__av_trace{len(members)}"
            if isinstance(trace_node, _TraceFunction):
                inner_expr = _compile(trace_node.inner, ctx).alias(name + "_inner")
                inner = lazy.select(inner_expr).collect().to_series()
                # (a null inner value counts neither as "holds" for has nor as "fails" for all, as in any/all)
                wanted = inner if trace_node.name == "trace.has" else ~inner
                marked = codes.codes.filter(wanted.fill_null(False) & ~orphan)
                if trace_node.name == "trace.has":
                    per_code = pl.repeat(False, traces, dtype=pl.Boolean, eager=True).scatter(marked, True)
                else:
                    per_code = pl.repeat(True, traces, dtype=pl.Boolean, eager=True).scatter(marked, False)
                columns.append(inner)
            else:
                field_name = trace_node.field.name
                by_rule = field_name in ("trace.slow", "trace.slow_steps") and "slow" not in frame.columns
                values = helpers.per_trace((field_name, self.slow_rule if by_rule else None), lazy)
                value = pl.col(_TRACE_VALUE)
                if isinstance(trace_node, _Compare):
                    keep = _compare_positive(trace_node, ctx, value)
                else:
                    keep = value.fill_null(False)
                per_code = values.alias(_TRACE_VALUE).to_frame().select(keep).to_series()
            members[trace_node] = name
            columns.append(per_code.gather(codes.codes).alias(name))
        ctx.trace_members = members
        return lazy.with_columns(columns), _compile(self._node, ctx)

    def mask(self, frame: pl.DataFrame) -> pl.Series:
        """A Boolean series, one value per row of ``frame``: true where the record matches."""
        if self.matches_all:
            return pl.repeat(True, frame.height, dtype=pl.Boolean, eager=True).alias("match")
        lazy, predicate = self._staged(frame)
        # with_columns broadcasts a predicate that does not depend on any column (a missing one) to every row
        return lazy.with_columns(predicate.alias(_MATCH)).select(_MATCH).collect().to_series().alias("match")

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The matching records of ``frame``, in frame order, with the frame's columns."""
        if self.matches_all:
            return frame
        lazy, predicate = self._staged(frame)
        return lazy.filter(predicate).select(frame.columns).collect()


def compile_filter(
    text: str, *, slow_rule: SlowStepRule | None = None, findings: FindingThresholds | None = None
) -> CompiledFilter:
    """Parse and validate ``text``; raise ``FilterError`` (with ``text`` set) when it is not a valid filter.

    ``slow_rule`` decides ``slow`` / ``trace.slow`` when the frame has no ``slow`` column (default
    ``SlowStepRule()``); ``findings`` the thresholds of ``trace.finding`` (default ``FindingThresholds()``).
    Relative times (``time>1h``) are resolved now, at compile time.
    """
    try:
        parser = _Parser(text)
        node = parser.parse()
    except FilterError as err:
        err.text = text
        raise
    return CompiledFilter(
        text=text,
        slow_rule=slow_rule or SlowStepRule(),
        uses_trace=parser.uses_trace,
        uses_slow=parser.uses_slow,
        _node=node,
        findings=findings or FindingThresholds(),
    )


def time_range(frame: pl.DataFrame, since: datetime | None, until: datetime | None) -> pl.DataFrame:
    """The records with ``since <= ts <= until`` (either bound may be None), in frame order."""
    condition = pl.lit(True)
    if since is not None:
        condition = condition & (pl.col("ts") >= pl.lit(since, dtype=pl.Datetime("us", "UTC")))
    if until is not None:
        condition = condition & (pl.col("ts") <= pl.lit(until, dtype=pl.Datetime("us", "UTC")))
    if since is None and until is None:
        return frame
    return frame.filter(condition)


# ----------------------------------------------------------------------------------------------------
# Completion


@dataclass(frozen=True)
class Completion:
    """Completion at a cursor: replace ``text[start:end]`` with one of ``candidates``.

    ``kind`` is ``"field"`` (a field name or free text is being typed), ``"value"`` (after an operator or
    inside an ``in (...)`` list) or ``"none"``.
    """

    start: int
    end: int
    kind: Literal["field", "value", "none"]
    candidates: list[str]


_MAX_CANDIDATES: Final = 20
_BARE_VALUE_RE: Final = re.compile(r"^[^\s()=!<>~,\"']+$")


def _quote_if_needed(value: str) -> str:
    if _BARE_VALUE_RE.match(value) and value.lower() not in _KEYWORDS and value != "null":
        return value
    return orjson.dumps(value).decode()


def _value_candidates(ref: _Field, prefix: str, frame: pl.DataFrame) -> list[str]:
    if ref.kind in ("bool", "derived_bool"):
        options = ["true", "false"]
    elif ref.kind == "status":
        options = ["ok", "failed"]
    elif ref.kind == "finding":
        options = list(DETECTORS)
    elif ref.kind in ("time", "duration") or ref.is_trace:
        return []
    else:
        ctx = _Context(dict(frame.schema))
        if ref.kind == "json" and ref.name not in frame.columns:
            return []
        if ref.kind != "json" and ref.name not in frame.columns:
            return []
        values = _field_expr(ref, ctx)
        if ref.kind != "json" and ref.kind != "string":
            values = values.cast(pl.String)
        counted = (
            frame.lazy()
            .select(values.alias("value"))
            .drop_nulls()
            .filter(pl.col("value").str.starts_with(prefix.strip("\"'")))
            .group_by("value")
            .len()
            .sort(["len", "value"], descending=[True, False])
            .head(_MAX_CANDIDATES)
            .collect()
        )
        return [_quote_if_needed(value) for value in counted.get_column("value").to_list()]
    return [option for option in options if option.startswith(prefix.lower())]


def _field_candidates(prefix: str, frame: pl.DataFrame) -> list[str]:
    lowered = prefix.lower()
    for json_column in ("params", "extra"):
        if lowered.startswith(json_column + ".") and json_column in frame.columns:
            keys = _json_keys(frame, json_column)
            return [f"{json_column}.{key}" for key in keys if f"{json_column}.{key}".startswith(prefix)][
                :_MAX_CANDIDATES
            ]
    names = [name for name in FIELD_NAMES if name.startswith(lowered)]
    return names[:_MAX_CANDIDATES]


def _json_keys(frame: pl.DataFrame, column: str, sample: int = 2000) -> list[str]:
    """Top-level keys seen in the JSON text column (from the newest ``sample`` rows), most frequent first."""
    counts: dict[str, int] = {}
    texts = frame.get_column(column).cast(pl.String).tail(sample).drop_nulls().to_list()
    for text in texts:
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        if isinstance(decoded, dict):
            for key in decoded:
                counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts, key=lambda key: (-counts[key], key))
    return [key if _NAME_RE.match(key) else orjson.dumps(key).decode() for key in ordered]


def completions(text: str, cursor: int, frame: pl.DataFrame) -> Completion:
    """What fits at ``cursor``: field names at a field position, frequent values after an operator.

    Never raises on incomplete or invalid text.
    """
    cursor = max(0, min(cursor, len(text)))
    tokens = [token for token in _tokenize(text[:cursor], lenient=True) if token.kind != "eof"]
    partial: _Token | None = None
    if tokens and tokens[-1].end == cursor and tokens[-1].kind in ("word", "string"):
        partial = tokens.pop()
    start = partial.start if partial is not None else cursor
    prefix = partial.value if partial is not None else ""
    previous = tokens[-1] if tokens else None
    field_token: _Token | None = None
    if previous is not None and previous.kind == "op" and len(tokens) >= 2 and tokens[-2].kind == "word":
        field_token = tokens[-2]
    elif previous is not None and previous.kind in ("lparen", "comma"):
        field_token = _in_list_field(tokens)
    if field_token is not None:
        try:
            ref = _Parser("").resolve_field(field_token)
        except FilterError:
            return Completion(start, cursor, "value", [])
        return Completion(start, cursor, "value", _value_candidates(ref, prefix, frame))
    if partial is not None and partial.kind == "string":
        return Completion(start, cursor, "none", [])
    return Completion(start, cursor, "field", _field_candidates(prefix, frame))


def _in_list_field(tokens: list[_Token]) -> _Token | None:
    """The field of the ``in (...)`` list whose value comes next, when the tokens end inside such a list."""
    i = len(tokens) - 1
    while i >= 0 and tokens[i].kind == "comma":
        i -= 1
        if i < 0 or tokens[i].kind not in ("word", "string"):
            return None
        i -= 1
    if (
        i < 1
        or tokens[i].kind != "lparen"
        or tokens[i - 1].kind != "word"
        or tokens[i - 1].text.lower() != "in"
    ):
        return None
    j = i - 2
    if j >= 0 and tokens[j].kind == "word" and tokens[j].text.lower() == "not":
        j -= 1
    return tokens[j] if j >= 0 and tokens[j].kind == "word" else None


def complete(text: str, cursor: int, frame: pl.DataFrame) -> list[str]:
    """Candidates replacing the word at ``cursor`` (see ``completions`` for where the word starts)."""
    return completions(text, cursor, frame).candidates

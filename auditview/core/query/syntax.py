"""The syntax of the filter language: tokenizer, ``FilterError`` and the parser that builds the tree.

Owns turning filter text into a ``auditview.core.query.tree.Node``: tokens, the grammar (precedence ``not`` >
``and`` > ``or``, juxtaposed terms joined with ``and``), field resolution (aliases, ``params.KEY``, typo
suggestions), and the coercion of each value to its field's kind (numbers, durations, times, Booleans,
status, finding names, regexes checked by polars). Every error is a ``FilterError`` with an exact position.
It must not build filter expressions (``auditview.core.query.expressions``) or look at a frame.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import polars as pl

from auditview.core.findings import DETECTORS
from auditview.core.query.fields import (
    ALIASES,
    COLUMNS,
    CONTRACT_EXTRAS,
    DERIVED,
    FIELD_NAMES,
    TRACE_FIELDS,
    TRACE_FUNCTIONS,
)
from auditview.core.query.tree import (
    And,
    Compare,
    Field,
    Flag,
    FreeText,
    InList,
    MatchAll,
    Node,
    Not,
    Or,
    TraceFunction,
)
from auditview.text.timeparse import TimeParseError, parse_duration_ms, parse_when

__all__ = ["KEYWORDS", "NAME_RE", "NUMBER_RE", "FilterError", "Parser", "Token", "TokenKind", "tokenize"]

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
class Token:
    """A token of filter text and its span (``start`` to ``end``, 0-based)."""

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


def tokenize(text: str, *, lenient: bool = False) -> list[Token]:
    """The tokens of ``text``, ending with an ``eof`` token; ``lenient`` accepts an unterminated string
    (completion reads text as it is being typed) where the parser raises ``FilterError``."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            value, end, closed = _scan_string(text, i, lenient=lenient)
            tokens.append(Token("string", text[i:end], value, i, end, closed))
            i = end
            continue
        if ch == "(":
            tokens.append(Token("lparen", ch, ch, i, i + 1))
            i += 1
            continue
        if ch == ")":
            tokens.append(Token("rparen", ch, ch, i, i + 1))
            i += 1
            continue
        if ch == ",":
            tokens.append(Token("comma", ch, ch, i, i + 1))
            i += 1
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if operator is not None:
            end = i + len(operator)
            tokens.append(Token("op", operator, _OPERATOR_CANONICAL.get(operator, operator), i, end))
            i = end
            continue
        if ch == "!":
            tokens.append(Token("bang", ch, ch, i, i + 1))
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
        tokens.append(Token("word", text[start:i], text[start:i], start, i))
    tokens.append(Token("eof", "", "", n, n))
    return tokens


def _describe(token: Token) -> str:
    if token.kind == "eof":
        return "the end of the filter"
    shown = token.text if len(token.text) <= 24 else token.text[:21] + "..."
    return f"'{shown}'"


# ----------------------------------------------------------------------------------------------------
# Parser

#: The words of the language (a value spelled like one is quoted by completion).
KEYWORDS: Final = frozenset({"and", "or", "not", "in"})
_KNOWN_FOR_TYPOS: Final = tuple(name for name in FIELD_NAMES if not name.endswith("."))


@dataclass(frozen=True)
class _Value:
    """A value as written: its text (decoded when quoted) and its span."""

    raw: str
    quoted: bool
    start: int
    end: int


_MAX_DEPTH: Final = 64
NUMBER_RE: Final = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
NAME_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_TIME_HELP: Final = "a time such as 2026-11-20T09:00Z, 2026-11-20, 1h (ago), today or @1700000000"
_DURATION_HELP: Final = "a duration such as 250ms, 5s or 1m30s (a bare number means ms)"


class Parser:
    """A recursive-descent parser of one filter text into a ``Node`` (``parse``).

    While parsing it notes whether the filter has trace-level predicates (``uses_trace``) and needs slow
    steps (``uses_slow``). ``resolve_field`` alone resolves a field name (completion uses it).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.trace_depth = 0
        self.uses_trace = False
        self.uses_slow = False

    # -- token helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def is_keyword(self, token: Token, keyword: str) -> bool:
        return token.kind == "word" and token.text.lower() == keyword

    def starts_term(self, token: Token) -> bool:
        if token.kind in ("string", "lparen", "bang"):
            return True
        return token.kind == "word" and token.text.lower() not in ("and", "or", "in")

    # -- grammar
    def parse(self) -> Node:
        if self.current.kind == "eof":
            return MatchAll()
        node = self.parse_or()
        token = self.current
        if token.kind == "rparen":
            raise FilterError("unexpected ')' without a matching '('", token.start, "an operator or a term")
        if token.kind != "eof":
            raise FilterError(
                f"unexpected {_describe(token)}", token.start, "'and', 'or' or the end of the filter"
            )
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.is_keyword(self.current, "or"):
            operator = self.advance()
            items.append(self.parse_and(after=operator))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, after: Token | None = None) -> Node:
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
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self, after: Token | None) -> Node:
        token = self.current
        if token.kind == "bang" or self.is_keyword(token, "not"):
            self.advance()
            return Not(self.parse_unary(token))
        return self.parse_primary(after)

    def parse_primary(self, after: Token | None) -> Node:
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
            return FreeText(token.value)
        if token.kind == "word" and token.text.lower() not in ("and", "or", "in"):
            return self.parse_word_term()
        where = f" after {_describe(after)}" if after is not None else ""
        raise FilterError(
            f"expected a field, a word or '('{where} but found {_describe(token)}",
            token.start,
            "a field, a word or '('",
            end=token.end,
        )

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise FilterError(
                f"filter nested deeper than {_MAX_DEPTH} levels", token.start, "fewer parentheses"
            )

    def leave(self) -> None:
        self.depth -= 1

    def expect_close(self, opening: Token) -> None:
        token = self.current
        if token.kind != "rparen":
            raise FilterError(
                f"expected ')' to close the '(' of column {opening.start + 1}, found {_describe(token)}",
                token.start,
                "')'",
            )
        self.advance()

    def parse_word_term(self) -> Node:
        word = self.advance()
        lowered = word.text.lower()
        nxt = self.current
        if lowered in TRACE_FUNCTIONS:
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
            return Flag(self.resolve_field(word))
        if lowered.startswith("trace."):
            field_ref = self.resolve_field(word)
            raise FilterError(
                f"expected an operator after '{field_ref.raw}' (as in trace.duration>1m)",
                word.end,
                "an operator",
            )
        return FreeText(word.text)

    def parse_trace_function(self, word: Token) -> Node:
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
        return TraceFunction(name, inner)

    def parse_value(self, after: Token) -> _Value:
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

    def parse_comparison(self, word: Token) -> Node:
        field_ref = self.resolve_field(word)
        operator = self.advance()
        value = self.parse_value(operator)
        literal = self.coerce(field_ref, operator.value, value, operator)
        return Compare(field_ref, operator.value, literal, operator.start)

    def parse_in(self, word: Token, in_token: Token, *, negate: bool) -> Node:
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
        return InList(field_ref, tuple(literals), negate)

    # -- fields and values
    def resolve_field(self, word: Token) -> Field:
        raw = word.text
        segments = _split_path(raw, word.start)
        head = segments[0]
        lowered = raw.lower()
        if len(segments) == 1:
            if head in COLUMNS:
                return Field(raw, word.start, word.end, COLUMNS[head], head)
            if head in CONTRACT_EXTRAS:
                return Field(raw, word.start, word.end, CONTRACT_EXTRAS[head], head)
            if head in ALIASES:
                column = ALIASES[head]
                return Field(raw, word.start, word.end, COLUMNS[column], column)
            if head in DERIVED:
                if head == "slow":
                    self.uses_slow = True
                return Field(raw, word.start, word.end, DERIVED[head], head)
            if head == "trace":
                return Field(raw, word.start, word.end, "string", "trace_id")
        if head == "trace" and len(segments) >= 2:
            name = f"trace.{'.'.join(segments[1:])}"
            if lowered in TRACE_FIELDS:
                name = lowered
            if name not in TRACE_FIELDS:
                close = difflib.get_close_matches(name, [*TRACE_FIELDS, *TRACE_FUNCTIONS], n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise FilterError(
                    f"unknown trace field '{raw}'{hint}",
                    word.start,
                    "one of " + ", ".join([*TRACE_FIELDS, *TRACE_FUNCTIONS]),
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
            return Field(raw, word.start, word.end, TRACE_FIELDS[name], name)
        if head in ("params", "extra") and len(segments) >= 2:
            return Field(raw, word.start, word.end, "json", head, tuple(segments[1:]))
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
        if not NAME_RE.match(head) and not raw.startswith(("'", '"')):
            raise FilterError(f"'{raw}' is not a field name", word.start, "a field name", end=word.end)
        return Field(raw, word.start, word.end, "json", "extra", tuple(segments))

    def coerce(self, field_ref: Field, op: str, value: _Value, after: Token) -> object:
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
            if NUMBER_RE.match(raw.strip()):
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
        if kind == "json" and not value.quoted and NUMBER_RE.match(raw):
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

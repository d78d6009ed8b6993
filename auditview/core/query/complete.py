"""Completion for the filter bar: what fits at the cursor in (possibly incomplete) filter text.

Owns ``Completion``, ``completions`` (field names at a field position, the frame's most frequent values after
an operator or inside ``in (...)``) and ``complete`` (the candidates alone). It reads text leniently and never
raises; it must not import a UI library (the filter bar widget renders what it returns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import orjson
import polars as pl

from auditview.core.findings import DETECTORS
from auditview.core.query.expressions import Context, field_expr
from auditview.core.query.fields import FIELD_NAMES
from auditview.core.query.syntax import KEYWORDS, NAME_RE, FilterError, Parser, Token, tokenize
from auditview.core.query.tree import Field

__all__ = ["Completion", "complete", "completions"]


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
    if _BARE_VALUE_RE.match(value) and value.lower() not in KEYWORDS and value != "null":
        return value
    return orjson.dumps(value).decode()


def _value_candidates(ref: Field, prefix: str, frame: pl.DataFrame) -> list[str]:
    if ref.kind in ("bool", "derived_bool"):
        options = ["true", "false"]
    elif ref.kind == "status":
        options = ["ok", "failed"]
    elif ref.kind == "finding":
        options = list(DETECTORS)
    elif ref.kind in ("time", "duration") or ref.is_trace:
        return []
    else:
        ctx = Context(dict(frame.schema))
        if ref.kind == "json" and ref.name not in frame.columns:
            return []
        if ref.kind != "json" and ref.name not in frame.columns:
            return []
        values = field_expr(ref, ctx)
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
    return [key if NAME_RE.match(key) else orjson.dumps(key).decode() for key in ordered]


def completions(text: str, cursor: int, frame: pl.DataFrame) -> Completion:
    """What fits at ``cursor``: field names at a field position, frequent values after an operator.

    Never raises on incomplete or invalid text.
    """
    cursor = max(0, min(cursor, len(text)))
    tokens = [token for token in tokenize(text[:cursor], lenient=True) if token.kind != "eof"]
    partial: Token | None = None
    if tokens and tokens[-1].end == cursor and tokens[-1].kind in ("word", "string"):
        partial = tokens.pop()
    start = partial.start if partial is not None else cursor
    prefix = partial.value if partial is not None else ""
    previous = tokens[-1] if tokens else None
    field_token: Token | None = None
    if previous is not None and previous.kind == "op" and len(tokens) >= 2 and tokens[-2].kind == "word":
        field_token = tokens[-2]
    elif previous is not None and previous.kind in ("lparen", "comma"):
        field_token = _in_list_field(tokens)
    if field_token is not None:
        try:
            ref = Parser("").resolve_field(field_token)
        except FilterError:
            return Completion(start, cursor, "value", [])
        return Completion(start, cursor, "value", _value_candidates(ref, prefix, frame))
    if partial is not None and partial.kind == "string":
        return Completion(start, cursor, "none", [])
    return Completion(start, cursor, "field", _field_candidates(prefix, frame))


def _in_list_field(tokens: list[Token]) -> Token | None:
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

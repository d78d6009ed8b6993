r"""Staged evaluation: the parts of a filter computed eagerly, with the results of the plain expressions but
fewer expensive passes.

``str.json_path_match`` parses every JSON text and is the slowest thing a filter can do (0.5 s per million
rows). For a top-level key (``params.env``), a *safe* text (no backslash, a single ``{``: nothing nested,
nothing escaped) is read without parsing: the count of ``"key"\s*:`` says absent / once / repeated, and once,
a string equality, ``=null`` or a plain decimal number is read off the text with one regex. Every other row
(escapes, nesting, repeated keys, other operators) goes through ``json_path_match``. A nested path parses only
the rows holding the key's JSON text or a backslash; the others get the "key missing" value. Free text
searches Categorical columns in their distinct values. On a frame filtered more than once, the per-frame
helpers (``auditview.core.query.frame_helpers``) let JSON look-ups and free text run once per distinct text
and spread the answer to the rows by code. ``CompiledFilter`` puts the staged columns in a ``Context`` for
the predicate to read. tests/engine/test_query.py and test_query_helpers.py compare every staged result with
the plain expression's on tricky texts.

Must not change a result: each function here equals the expression of ``auditview.core.query.expressions``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import orjson
import polars as pl

from auditview.core.query.expressions import (
    Context,
    apply_operator,
    compare_positive,
    free_text_expr,
    in_positive,
    literal_expr,
)
from auditview.core.query.fields import TEXT_COLUMNS
from auditview.core.query.frame_helpers import FrameHelpers
from auditview.core.query.syntax import NUMBER_RE
from auditview.core.query.tree import And, Compare, FreeText, InList, Node, Not, Or, TraceFunction

__all__ = ["renders_like_other_json", "stage_free_text", "stage_json", "staged_nodes"]

_STRUCTURAL: Final = frozenset(',:[]{}"\\ \t\r\n')


def staged_nodes(node: Node) -> list[Compare | InList | FreeText]:
    """The nodes (anywhere in the tree) that staged evaluation computes eagerly: JSON look-ups, free text."""
    if isinstance(node, Compare | InList):
        return [node] if node.field.kind == "json" else []
    if isinstance(node, FreeText):
        return [node] if node.text else []
    if isinstance(node, Not | TraceFunction):
        return staged_nodes(node.inner)
    if isinstance(node, And | Or):
        return [found for item in node.items for found in staged_nodes(item)]
    return []


def _top_key(node: Compare | InList) -> str | None:
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
    return stripped in ("true", "false", "null") or bool(NUMBER_RE.match(stripped)) or value[:1] in "{["


def _decide_from_text(node: Compare | InList, key_re: str) -> pl.Expr | None:
    """On a safe text holding the key once: the positive match read off the text, null where it cannot tell.

    For a number literal it is the key's plain decimal value instead (``stage_json`` compares it). ``None``
    when the text never tells (regexes, lists): those rows are parsed.
    """
    if not isinstance(node, Compare) or node.op in ("~", "!~"):
        return None
    text = pl.col(node.field.name)
    value = node.literal
    if value is None:
        return text.str.contains(rf"{key_re}\s*:\s*null")
    if isinstance(value, float):
        # json_path_match renders a number through f64, so a plain decimal token compares the same way.
        # (a Float64, not a Boolean: stage_json compares it, so the costly extract runs once)
        return text.str.extract(rf"{key_re}\s*:\s*{_PLAIN_NUMBER}", 1).cast(pl.Float64)
    if node.op not in ("=", "!=") or not isinstance(value, str):
        return None
    if renders_like_other_json(value):
        return None
    encoded = orjson.dumps(value).decode()
    if "\\" in encoded:
        return None
    return text.str.contains(rf"{key_re}\s*:\s*{re.escape(encoded)}")


def stage_json(node: Compare | InList, frame: pl.DataFrame, helpers: FrameHelpers | None) -> pl.Series:
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


def _stage_json_texts(node: Compare | InList, values: pl.Series) -> pl.Series:
    """``stage_json`` over one Series of JSON texts (a column, or its distinct values)."""
    column = node.field.name
    ctx = Context({column: pl.String()})
    positive = compare_positive(node, ctx) if isinstance(node, Compare) else in_positive(node, ctx)
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
        if isinstance(node, Compare) and isinstance(node.literal, float):
            number = pl.col("decided")
            flags = flags.with_columns(
                pl.when(number.is_not_null())
                .then(apply_operator(number, node.op, literal_expr(node.literal)))
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


def stage_free_text(node: FreeText, frame: pl.DataFrame, helpers: FrameHelpers | None) -> pl.Series:
    """Free text over the text columns, searching distinct values where that is cheaper than every row.

    With ``helpers``, a column with few distinct values (all but ``request_id`` in an audit log) is searched
    in its distinct values once and the hits are spread to the rows by code; without, a Categorical column is
    still searched in its distinct values and matched by physical code. The rest get one ``(?i)`` regex each,
    in a single parallel ``select``.
    """

    def search(texts: pl.Series) -> pl.Series:
        return texts.to_frame().select(free_text_expr(pl.all().cast(pl.String), node.text)).to_series()

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
                distinct.cast(pl.String).to_frame().select(free_text_expr(pl.all(), node.text)).to_series()
            )
            parts.append(pl.col(name).to_physical().is_in(found.to_physical().implode()))
        elif values.null_count() * 2 > frame.height:
            spread.append(_on_present(values, search))
        else:
            parts.append(free_text_expr(pl.col(name).cast(pl.String), node.text))
    if parts:
        # One select: polars runs the per-column searches in parallel.
        spread.append(frame.select(pl.any_horizontal(parts).fill_null(False)).to_series())
    if not spread:
        return pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).alias("match")
    columns = [series.alias(f"part{i}") for i, series in enumerate(spread)]
    return pl.DataFrame(columns).select(pl.any_horizontal(pl.all()).alias("match")).to_series()

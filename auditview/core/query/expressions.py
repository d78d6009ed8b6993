"""The polars expressions of a filter: each field's value, each node's predicate, and the columns it reads.

Owns the helper columns a predicate reads (``__av_*``: failed, slow, orphan, start/end), ``Context`` (the
schema and the columns computed ahead of the predicate), the expression of each field (index columns, JSON
paths in ``params``/``extra``, computed and trace-level fields), the predicate of each node of the tree
(``compile_node``), the ``trace.finding`` tests, and the index columns a tree reads (``node_columns``).
It must not run anything per row in Python; the staged evaluation (``auditview.core.query.evaluate``)
computes some of these parts ahead, with the same results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import orjson
import polars as pl

from auditview.core.findings import FINDING_COLUMNS, FindingThresholds, detect_findings
from auditview.core.query.fields import CONTRACT_EXTRAS, FINDING_FIELD, TEXT_COLUMNS
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

__all__ = [
    "END_MS_COLUMN",
    "END_TS_COLUMN",
    "FAILED_COLUMN",
    "ORPHAN_COLUMN",
    "SLOW_COLUMN",
    "START_MS_COLUMN",
    "TRACE_VALUE_COLUMN",
    "Context",
    "apply_operator",
    "compare_positive",
    "compile_node",
    "field_expr",
    "finding_columns",
    "finding_match",
    "free_text_expr",
    "in_positive",
    "literal_expr",
    "mentions_failed",
    "node_columns",
    "trace_findings",
    "trace_nodes",
    "trace_parts",
]

# ----------------------------------------------------------------------------------------------------
# Helper columns: added to the frame before the predicate runs (``CompiledFilter.prepare``), read by it.

#: True for a record without a usable trace id (it forms a trace of its own).
ORPHAN_COLUMN: Final = "__av_orphan"
#: A record's start and end in epoch milliseconds, and its end as a timestamp (trace durations, start, end).
START_MS_COLUMN: Final = "__av_start_ms"
END_MS_COLUMN: Final = "__av_end_ms"
END_TS_COLUMN: Final = "__av_end_ts"
#: Whether the record is a slow step / failed (``exit_code != 0``).
SLOW_COLUMN: Final = "__av_slow"
FAILED_COLUMN: Final = "__av_failed"
#: The value of a trace field per trace, where it is aggregated once per trace.
TRACE_VALUE_COLUMN: Final = "__av_trace_value"

# ----------------------------------------------------------------------------------------------------
# Expressions


@dataclass
class Context:
    """What an expression is built for: the frame's schema and the columns computed ahead of the predicate.

    Without ``staged``, ``trace_ids`` or ``trace_members``, ``compile_node`` gives the plain expression (every
    part computed by polars over the frame); with them, the parts they name read the precomputed columns.
    """

    schema: Mapping[str, pl.DataType]
    #: Helper columns computed eagerly by ``CompiledFilter`` (staged JSON matches, free text), by node.
    staged: Mapping[object, str] = field(default_factory=dict)
    #: Trace ids where a trace-level node holds (``trace.all``: where some record fails its filter).
    trace_ids: Mapping[object, pl.Series] = field(default_factory=dict)
    #: Per-row columns with a trace-level node's value for the row's trace, by node (from
    #: ``CompiledFilter._trace_by_code``); for ``trace.has/all`` the inner filter's row value is in the same
    #: name + ``_inner``.
    trace_members: Mapping[object, str] = field(default_factory=dict)

    def text(self, column: str) -> pl.Expr:
        """``column`` as String (a null literal when the frame lacks it)."""
        dtype = self.schema.get(column)
        if dtype is None:
            return pl.lit(None, dtype=pl.String)
        expr = pl.col(column)
        return expr if dtype == pl.String else expr.cast(pl.String)

    def column(self, column: str) -> pl.Expr:
        """``column`` as it is (a null literal when the frame lacks it)."""
        if column not in self.schema:
            return pl.lit(None, dtype=pl.String)
        return pl.col(column)


def _trace_window(aggregate: pl.Expr, singleton: pl.Expr) -> pl.Expr:
    """``aggregate`` over the record's trace; for an orphan (a trace of its own) its own value."""
    return pl.when(pl.col(ORPHAN_COLUMN)).then(singleton).otherwise(aggregate.over("trace_id"))


def _json_path(segments: tuple[str, ...]) -> str:
    parts = []
    for segment in segments:
        if segment.isdigit():
            parts.append(f"[{segment}]")
        else:
            parts.append("[" + orjson.dumps(segment).decode() + "]")
    return "$" + "".join(parts)


def field_expr(ref: Field, ctx: Context) -> pl.Expr:
    """The value of field ``ref`` for each record (helper columns for computed and trace fields)."""
    name = ref.name
    if ref.kind == "json":
        return ctx.text(name).str.json_path_match(_json_path(ref.path))
    if name == "failed" or name == "status":
        return pl.col(FAILED_COLUMN)
    if name == "slow":
        return pl.col(SLOW_COLUMN)
    if ref.is_trace:
        return _trace_field_expr(name)
    if name in CONTRACT_EXTRAS and name not in ctx.schema:
        # Not an index column in this frame: the record kept it (if at all) among the extra fields.
        value = ctx.text("extra").str.json_path_match(_json_path((name,)))
        if ref.kind == "bool":
            return pl.when(value == "true").then(True).when(value == "false").then(False)
        return value.cast(pl.Float64, strict=False)
    if ref.kind == "string":
        return ctx.text(name)
    return ctx.column(name)


def _trace_field_expr(name: str) -> pl.Expr:
    return _trace_window(*trace_parts(name))


def trace_parts(name: str) -> tuple[pl.Expr, pl.Expr]:
    """The aggregate of a trace field over a trace, and its value for an orphan (a trace of its own)."""
    failed = pl.col(FAILED_COLUMN)
    slow = pl.col(SLOW_COLUMN)
    one = pl.lit(1, dtype=pl.UInt32)
    if name in ("trace.duration", "trace.span"):
        return pl.col(END_MS_COLUMN).max() - pl.col(START_MS_COLUMN).min(), pl.col(END_MS_COLUMN) - pl.col(
            START_MS_COLUMN
        )
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
        return pl.col(END_TS_COLUMN).max(), pl.col(END_TS_COLUMN)
    raise AssertionError(name)  # pragma: no cover - Parser.resolve_field admits only these


def literal_expr(value: object) -> pl.Expr:
    """A coerced literal of the tree as a polars literal (times in UTC microseconds, numbers as Float64)."""
    if isinstance(value, datetime):
        return pl.lit(value, dtype=pl.Datetime("us", "UTC"))
    if isinstance(value, float):
        return pl.lit(value, dtype=pl.Float64)
    return pl.lit(value)


def apply_operator(lhs: pl.Expr, op: str, rhs: pl.Expr) -> pl.Expr:
    """``lhs OP rhs`` for an ordering or equality operator (``!=`` gives ``=``: callers negate it)."""
    if op in ("=", "!="):
        return lhs == rhs
    if op == "<":
        return lhs < rhs
    if op == "<=":
        return lhs <= rhs
    if op == ">":
        return lhs > rhs
    return lhs >= rhs


def compare_positive(node: Compare, ctx: Context, lhs: pl.Expr | None = None) -> pl.Expr:
    """The comparison without its negation (``!=`` / ``!~`` are ``not`` this); never null."""
    ref = node.field
    op = node.op
    lhs = field_expr(ref, ctx) if lhs is None else lhs
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
        return apply_operator(lhs.cast(pl.Float64, strict=False), op, literal_expr(value)).fill_null(False)
    return apply_operator(lhs, op, literal_expr(value)).fill_null(False)


def _compile_compare(node: Compare, ctx: Context) -> pl.Expr:
    staged = ctx.staged.get(node)
    ids = ctx.trace_ids.get(node)
    member = ctx.trace_members.get(node)
    if staged is not None:
        matched = pl.col(staged)
    elif member is not None:
        singleton = compare_positive(node, ctx, trace_parts(node.field.name)[1])
        matched = pl.when(pl.col(ORPHAN_COLUMN)).then(singleton).otherwise(pl.col(member))
    elif ids is not None:
        singleton = compare_positive(node, ctx, trace_parts(node.field.name)[1])
        matched = (
            pl.when(pl.col(ORPHAN_COLUMN)).then(singleton).otherwise(pl.col("trace_id").is_in(ids.implode()))
        )
    else:
        matched = compare_positive(node, ctx)
    return ~matched if node.op in ("!=", "!~") else matched


def _compile_in(node: InList, ctx: Context) -> pl.Expr:
    staged = ctx.staged.get(node)
    matched = pl.col(staged) if staged is not None else in_positive(node, ctx)
    return ~matched if node.negate else matched


def in_positive(node: InList, ctx: Context) -> pl.Expr:
    """The ``in`` test without its ``not``; never null."""
    ref = node.field
    lhs = field_expr(ref, ctx)
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


def _compile_free_text(node: FreeText, ctx: Context) -> pl.Expr:
    staged = ctx.staged.get(node)
    if staged is not None:
        return pl.col(staged)
    columns = [name for name in TEXT_COLUMNS if name in ctx.schema]
    if not node.text:
        return pl.lit(True)
    if not columns:
        return pl.lit(False)
    matches = [free_text_expr(ctx.text(name), node.text) for name in columns]
    return pl.any_horizontal(matches).fill_null(False)


def free_text_expr(values: pl.Expr, text: str) -> pl.Expr:
    """Case-insensitive substring search (a ``(?i)`` regex: faster here than ``contains_any``)."""
    return values.str.contains("(?i)" + re.escape(text)).fill_null(False)


def compile_node(node: Node, ctx: Context) -> pl.Expr:
    """The Boolean expression of ``node``: true where the record matches (never null, except where a
    ``trace.has/all`` inner filter is)."""
    if isinstance(node, MatchAll):
        return pl.lit(True)
    if isinstance(node, Compare):
        return _compile_compare(node, ctx)
    if isinstance(node, InList):
        return _compile_in(node, ctx)
    if isinstance(node, FreeText):
        return _compile_free_text(node, ctx)
    if isinstance(node, Flag):
        staged = ctx.staged.get(node)
        if staged is not None:
            return pl.col(staged)
        member = ctx.trace_members.get(node)
        if member is not None:
            singleton = trace_parts(node.field.name)[1].fill_null(False)
            return pl.when(pl.col(ORPHAN_COLUMN)).then(singleton).otherwise(pl.col(member))
        ids = ctx.trace_ids.get(node)
        if ids is not None:
            singleton = trace_parts(node.field.name)[1].fill_null(False)
            return (
                pl.when(pl.col(ORPHAN_COLUMN))
                .then(singleton)
                .otherwise(pl.col("trace_id").is_in(ids.implode()))
            )
        return field_expr(node.field, ctx).fill_null(False)
    if isinstance(node, Not):
        return ~compile_node(node.inner, ctx)
    if isinstance(node, And):
        return pl.all_horizontal([compile_node(item, ctx) for item in node.items])
    if isinstance(node, Or):
        return pl.any_horizontal([compile_node(item, ctx) for item in node.items])
    column = ctx.trace_members.get(node)
    if column is not None:
        return pl.when(pl.col(ORPHAN_COLUMN)).then(pl.col(column + "_inner")).otherwise(pl.col(column))
    inner = compile_node(node.inner, ctx)
    ids = ctx.trace_ids.get(node)
    if ids is not None:
        # Membership in a small set of ids is much cheaper than a window over a million trace ids.
        in_ids = pl.col("trace_id").is_in(ids.implode())
        return (
            pl.when(pl.col(ORPHAN_COLUMN))
            .then(inner)
            .otherwise(in_ids if node.name == "trace.has" else ~in_ids)
        )
    return _trace_window(inner.any() if node.name == "trace.has" else inner.all(), inner)


def trace_nodes(node: Node) -> list[TraceFunction | Compare | Flag]:
    """``trace.has``/``trace.all`` and the comparisons and flags on trace fields (outside trace functions)."""
    if isinstance(node, TraceFunction):
        return [node]
    if isinstance(node, Compare | Flag):
        return [node] if node.field.is_trace and node.field.name != FINDING_FIELD else []
    if isinstance(node, Not):
        return trace_nodes(node.inner)
    if isinstance(node, And | Or):
        return [found for item in node.items for found in trace_nodes(item)]
    return []


# ----------------------------------------------------------------------------------------------------
# trace.finding: decided per trace from the findings of ``auditview.core.findings`` (no polars expression
# gives them), as staged columns (``__av_finding<i>``, the positive test: for ``!=`` / ``not in`` the
# compiled predicate negates it as for any staged comparison).


def _finding_nodes(node: Node) -> list[Compare | InList | Flag]:
    """The ``trace.finding`` tests of the filter, each once, in order."""
    if isinstance(node, Compare | InList | Flag):
        return [node] if node.field.name == FINDING_FIELD else []
    if isinstance(node, Not | TraceFunction):
        return _finding_nodes(node.inner)
    if isinstance(node, And | Or):
        found: list[Compare | InList | Flag] = []
        for item in node.items:
            found += [each for each in _finding_nodes(item) if each not in found]
        return found
    return []


def finding_columns(node: Node) -> list[tuple[Compare | InList | Flag, str]]:
    """Each ``trace.finding`` test with its staged column."""
    return [(found, f"__av_finding{i}") for i, found in enumerate(_finding_nodes(node))]


def trace_findings(frame: pl.DataFrame, thresholds: FindingThresholds) -> pl.DataFrame:
    """The distinct (``trace_id``, ``name``) pairs of the findings in ``frame``."""
    return detect_findings(frame, thresholds).select("trace_id", "name").unique()


def finding_match(node: Compare | InList | Flag, findings: pl.DataFrame) -> pl.Expr:
    """True where the record's trace passes the positive ``trace.finding`` test (no finding: an orphan)."""

    def in_traces(names: pl.Expr | None) -> pl.Expr:
        ids = findings if names is None else findings.filter(names)
        wanted = ids.get_column("trace_id").unique()
        return pl.col("trace_id").cast(pl.String).is_in(wanted.implode()).fill_null(False)

    name = pl.col("name")
    if isinstance(node, Flag):
        return in_traces(None)
    if isinstance(node, Compare):
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


def mentions_failed(node: Node) -> bool:
    """Whether ``node`` reads ``failed``/``status`` or a trace field built on failures (``FAILED_COLUMN``)."""
    if isinstance(node, Compare | InList | Flag):
        return node.field.name in ("failed", "status", "trace.failed", "trace.failures")
    if isinstance(node, Not | TraceFunction):
        return mentions_failed(node.inner)
    if isinstance(node, And | Or):
        return any(mentions_failed(item) for item in node.items)
    return False


# ----------------------------------------------------------------------------------------------------
# Columns read

#: Index columns behind the helper columns: trace-level predicates and ``slow`` / ``failed``.
_TRACE_BASE_COLUMNS: Final = frozenset({"trace_id", "ts", "duration_ms", "exit_code"})
_SLOW_COLUMNS: Final = frozenset({"tool", "command", "duration_ms"})


def _field_columns(ref: Field) -> frozenset[str]:
    name = ref.name
    if ref.kind == "json":
        return frozenset({name})
    if name in CONTRACT_EXTRAS:
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
        if name == FINDING_FIELD:
            needed |= FINDING_COLUMNS
        return frozenset(needed)
    return frozenset({name})


def node_columns(node: Node) -> frozenset[str]:
    """The index columns ``node`` reads (see ``CompiledFilter.columns``)."""
    if isinstance(node, Compare | InList | Flag):
        return _field_columns(node.field)
    if isinstance(node, FreeText):
        return frozenset(TEXT_COLUMNS) if node.text else frozenset()
    if isinstance(node, TraceFunction):
        return _TRACE_BASE_COLUMNS | node_columns(node.inner)
    if isinstance(node, Not):
        return node_columns(node.inner)
    if isinstance(node, And | Or):
        return frozenset().union(*(node_columns(item) for item in node.items))
    return frozenset()

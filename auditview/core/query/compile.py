"""Compiling a filter: ``compile_filter`` parses text into a ``CompiledFilter``, which runs it on frames.

Owns ``CompiledFilter`` (its tree, the columns it reads, ``apply``/``mask`` on a frame with the staged
evaluation and the per-frame helpers, and ``predicate``/``prepare`` for a caller that builds its own lazy
query), ``compile_filter`` and ``time_range``. Trace-level predicates are decided once per trace (by trace id,
or by a cached trace code on a frame with helpers) and read back per row. It must not parse text itself
(``auditview.core.query.syntax``) or read files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import polars as pl

from auditview.core.findings import FindingThresholds
from auditview.core.query.evaluate import stage_free_text, stage_json, staged_nodes
from auditview.core.query.expressions import (
    END_MS_COLUMN,
    END_TS_COLUMN,
    FAILED_COLUMN,
    ORPHAN_COLUMN,
    SLOW_COLUMN,
    START_MS_COLUMN,
    TRACE_VALUE_COLUMN,
    Context,
    compare_positive,
    compile_node,
    finding_columns,
    finding_match,
    mentions_failed,
    node_columns,
    trace_findings,
    trace_nodes,
    trace_parts,
)
from auditview.core.query.frame_helpers import FrameHelpers, helpers_for
from auditview.core.query.syntax import FilterError, Parser
from auditview.core.query.tree import Compare, FreeText, MatchAll, Node, TraceFunction
from auditview.core.slow import SlowStepRule
from auditview.core.traces import end_expr, failed_expr, has_trace_id

__all__ = ["CompiledFilter", "compile_filter", "time_range"]

#: The column ``CompiledFilter.mask`` collects its predicate into.
_MATCH: Final = "__av_match"


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
    #: The parsed filter (``auditview.core.query.tree``), for readers that decide it elsewhere (pushdown).
    tree: Node = field(repr=False)
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
        return node_columns(self.tree)

    @property
    def matches_all(self) -> bool:
        """True for an empty filter (every record matches)."""
        return isinstance(self.tree, MatchAll)

    def predicate(self, schema: Mapping[str, pl.DataType]) -> pl.Expr:
        """The Boolean expression for a frame with ``schema``; it reads the helper columns of ``prepare``."""
        staged: dict[object, str] = {}
        for node, name in finding_columns(self.tree):
            staged[node] = name
        return compile_node(self.tree, Context(dict(schema), staged))

    def prepare(self, frame: pl.LazyFrame, schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
        """Add the helper columns (``__av_*``) the predicate reads: failed, slow, trace keys, start/end.

        ``trace.finding`` tests need the findings of the whole frame: with them, ``frame`` is collected here.
        """
        columns = finding_columns(self.tree)
        if columns:
            collected = frame.collect()
            findings = trace_findings(collected, self.findings)
            frame = collected.lazy().with_columns(
                finding_match(node, findings).alias(name) for node, name in columns
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
        if mentions_failed(self.tree) or self.uses_trace:
            helpers.append(failed_expr().alias(FAILED_COLUMN))
        if self.uses_slow and not slow_ready:
            slow = pl.col("slow").fill_null(False) if "slow" in schema else self.slow_rule.slow_expr()
            helpers.append(slow.alias(SLOW_COLUMN))
        if self.uses_trace:
            if not orphan_ready:
                helpers.append((~has_trace_id()).alias(ORPHAN_COLUMN))
            start_ms = pl.col("ts").dt.epoch("us").cast(pl.Float64) / 1000.0
            helpers += [
                start_ms.alias(START_MS_COLUMN),
                (start_ms + pl.col("duration_ms")).alias(END_MS_COLUMN),
                end_expr().alias(END_TS_COLUMN),
            ]
        return frame.with_columns(helpers) if helpers else frame

    def _staged(self, frame: pl.DataFrame) -> tuple[pl.LazyFrame, pl.Expr]:
        """The frame with every helper column, and the predicate over it (staged parts computed eagerly).

        On a large frame the per-frame helpers (``auditview.core.query.frame_helpers``) supply distinct-value
        encodings, the trace keys, the orphan flags and the slow mask, so a new filter only runs its own
        comparisons.
        """
        helpers = helpers_for(frame)
        staged: dict[object, str] = {}
        computed: list[pl.Series] = []
        for node in staged_nodes(self.tree):
            if node in staged:
                continue
            if isinstance(node, FreeText):
                series = stage_free_text(node, frame, helpers)
            elif node.field.name in frame.columns:
                series = stage_json(node, frame, helpers)
            else:
                continue
            staged[node] = f"__av_staged{len(staged)}"
            computed.append(series.alias(staged[node]))
        finding_tests = finding_columns(self.tree)
        if finding_tests:
            if helpers is None:
                findings = trace_findings(frame, self.findings)
            else:
                findings = helpers.findings(self.findings)
            tests = frame.select(finding_match(node, findings).alias(name) for node, name in finding_tests)
            computed += tests.get_columns()
            for test, name in finding_tests:
                staged[test] = name
        slow_ready = False
        if self.uses_slow and "slow" not in frame.columns:
            slow = self.slow_rule.slow_mask(frame) if helpers is None else helpers.slow(self.slow_rule)
            computed.append(slow.alias(SLOW_COLUMN))
            slow_ready = True
        by_code = helpers is not None and self.uses_trace and "trace_id" in frame.columns
        if by_code:
            assert helpers is not None
            computed.append(helpers.orphan())
        schema = frame.schema
        lazy = frame.lazy().with_columns(computed) if computed else frame.lazy()
        lazy = self._prepare(lazy, schema, slow_ready=slow_ready, orphan_ready=by_code)
        ctx = Context(dict(schema), staged)
        if by_code:
            assert helpers is not None
            return self._trace_by_code(frame, lazy, ctx, helpers)
        trace_ids: dict[object, pl.Series] = {}
        traced = lazy.filter(~pl.col(ORPHAN_COLUMN))
        for trace_node in trace_nodes(self.tree):
            if trace_node in trace_ids:
                continue
            if isinstance(trace_node, TraceFunction):
                inner = compile_node(trace_node.inner, ctx)
                wanted = traced.filter(inner if trace_node.name == "trace.has" else ~inner)
                trace_ids[trace_node] = wanted.select(pl.col("trace_id").unique()).collect().to_series()
                continue
            # Decide the comparison once per trace on the (small) per-trace aggregates.
            value = trace_parts(trace_node.field.name)[0].alias(TRACE_VALUE_COLUMN)
            per_trace = traced.group_by("trace_id").agg(value)
            if isinstance(trace_node, Compare):
                keep = compare_positive(trace_node, ctx, pl.col(TRACE_VALUE_COLUMN))
            else:
                keep = pl.col(TRACE_VALUE_COLUMN).fill_null(False)
            trace_ids[trace_node] = per_trace.filter(keep).select("trace_id").collect().to_series()
        ctx.trace_ids = trace_ids
        return lazy, compile_node(self.tree, ctx)

    def _trace_by_code(
        self, frame: pl.DataFrame, lazy: pl.LazyFrame, ctx: Context, helpers: FrameHelpers
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
        for trace_node in trace_nodes(self.tree):
            if trace_node in members:
                continue
            name = f"__av_trace{len(members)}"
            if isinstance(trace_node, TraceFunction):
                inner_expr = compile_node(trace_node.inner, ctx).alias(name + "_inner")
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
                value = pl.col(TRACE_VALUE_COLUMN)
                if isinstance(trace_node, Compare):
                    keep = compare_positive(trace_node, ctx, value)
                else:
                    keep = value.fill_null(False)
                per_code = values.alias(TRACE_VALUE_COLUMN).to_frame().select(keep).to_series()
            members[trace_node] = name
            columns.append(per_code.gather(codes.codes).alias(name))
        ctx.trace_members = members
        return lazy.with_columns(columns), compile_node(self.tree, ctx)

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
        parser = Parser(text)
        node = parser.parse()
    except FilterError as err:
        err.text = text
        raise
    return CompiledFilter(
        text=text,
        slow_rule=slow_rule or SlowStepRule(),
        uses_trace=parser.uses_trace,
        uses_slow=parser.uses_slow,
        tree=node,
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

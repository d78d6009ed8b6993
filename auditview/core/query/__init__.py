"""The filter language shared by the CLI (``--filter``) and the terminal app (filter bar), compiled to polars.

The package, one module per part:

- ``fields``: the field vocabulary (index columns, aliases, computed and trace-level fields, ``TEXT_COLUMNS``,
  ``FIELD_NAMES``);
- ``syntax``: the tokenizer and parser of filter text, and ``FilterError`` (message, exact position, what
  was expected);
- ``tree``: the public syntax tree the parser builds (also read by ``auditview.core.pushdown``);
- ``expressions``: each field's and node's polars expression (record predicates, and trace-level
  predicates decided per trace), and the index columns a filter reads;
- ``evaluate``: the staged evaluation that makes ``apply``/``mask`` fast on a million rows;
- ``frame_helpers``: per-frame encodings and aggregates kept for a frame filtered again and again;
- ``compile``: ``compile_filter``, ``CompiledFilter`` and ``time_range``;
- ``complete``: completion of field names and values for the filter bar.

The language is documented in ``notes/query.md``; in short:

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
  detected over the frame given to ``apply`` with the filter's ``FindingThresholds``; an orphan has none.

Comparisons on a missing value (null column, absent JSON key) are false; ``a != v`` is exactly ``not a = v``.

This package must not import a UI library, must not read files, and must not run Python per row when
filtering.
"""

from __future__ import annotations

from auditview.core.query.compile import CompiledFilter, compile_filter, time_range
from auditview.core.query.complete import Completion, complete, completions
from auditview.core.query.fields import FIELD_NAMES, TEXT_COLUMNS
from auditview.core.query.frame_helpers import warm_filter_helpers
from auditview.core.query.syntax import FilterError

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

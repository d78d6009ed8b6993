"""The field vocabulary of the filter language: which names it accepts and how each one's values are read.

Owns the kinds of fields, the index columns the language knows, their aliases, the computed fields
(``status``, ``failed``, ``slow``), the optional contract fields, the trace-level fields and functions,
``TEXT_COLUMNS`` (what free text searches) and ``FIELD_NAMES`` (every name, for completion). Data only: it
must not parse, build expressions or import polars.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

__all__ = [
    "ALIASES",
    "COLUMNS",
    "CONTRACT_EXTRAS",
    "DERIVED",
    "FIELD_NAMES",
    "FINDING_FIELD",
    "TEXT_COLUMNS",
    "TRACE_FIELDS",
    "TRACE_FUNCTIONS",
    "Kind",
]

#: How a field's values are read (and which operators and literals it takes).
Kind: TypeAlias = Literal[
    "string", "number", "duration", "time", "bool", "json", "status", "derived_bool", "finding"
]

#: Index columns the language knows, and how their values are read.
COLUMNS: Final[dict[str, Kind]] = {
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
ALIASES: Final[dict[str, str]] = {
    "duration": "duration_ms",
    "time": "ts",
    "timestamp": "ts",
    "exit": "exit_code",
    "request": "request_id",
    "parent": "parent_request_id",
}

#: Computed fields: ``status`` (ok | failed), ``failed`` (exit_code != 0), ``slow`` (SlowStepRule).
DERIVED: Final[dict[str, Kind]] = {"status": "status", "failed": "derived_bool", "slow": "derived_bool"}

#: Optional contract fields: read from their own column when the frame has one, else from ``extra``.
CONTRACT_EXTRAS: Final[dict[str, Kind]] = {"pid": "number", "schema_version": "number", "truncated": "bool"}

#: Trace-level fields (``trace.X``), their kind, and whether a bare ``trace.X`` is a predicate.
TRACE_FIELDS: Final[dict[str, Kind]] = {
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
TRACE_FUNCTIONS: Final = ("trace.has", "trace.all")
#: The trace field decided from the findings of ``auditview.core.findings`` rather than by an expression.
FINDING_FIELD: Final = "trace.finding"

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
    *COLUMNS,
    *CONTRACT_EXTRAS,
    *ALIASES,
    *DERIVED,
    *TRACE_FIELDS,
    *TRACE_FUNCTIONS,
    "params.",
    "extra.",
)

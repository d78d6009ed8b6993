"""The syntax tree of a parsed filter: the nodes ``auditview.core.query.syntax`` builds and the rest reads.

Public so that other readers of a filter (the expressions, staged evaluation, completion, and
``auditview.core.pushdown``, which decides a filter on a line's text) walk one tree. Nodes are frozen
dataclasses compared by value, so equal terms of a filter share staged columns. Data only: this module must
not parse or build expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from auditview.core.query.fields import Kind

__all__ = [
    "And",
    "Compare",
    "Field",
    "Flag",
    "FreeText",
    "InList",
    "MatchAll",
    "Node",
    "Not",
    "Or",
    "TraceFunction",
]


@dataclass(frozen=True)
class Field:
    """A resolved field reference: what the user wrote, where, and how to read it."""

    raw: str
    start: int
    end: int
    kind: Kind
    name: str  # canonical column / derived / trace field name, or the JSON column for kind "json"
    path: tuple[str, ...] = ()  # JSON path segments for kind "json"

    @property
    def is_trace(self) -> bool:
        """True for a trace-level field (``trace.X``): its value is a property of the record's whole trace."""
        return self.name.startswith("trace.")


@dataclass(frozen=True)
class Compare:
    """``field OP literal``; ``op`` is canonical (``==`` is ``=``, ``=~`` is ``~``)."""

    field: Field
    op: str
    literal: object  # str | float | datetime | bool | None (null) | re pattern text for ~
    op_start: int


@dataclass(frozen=True)
class InList:
    """``field in (a, b)``, or ``field not in (...)`` when ``negate``."""

    field: Field
    literals: tuple[object, ...]
    negate: bool


@dataclass(frozen=True)
class FreeText:
    """A bare word or quoted string: a case-insensitive search of the text columns."""

    text: str


@dataclass(frozen=True)
class Flag:
    """A bare Boolean field (``failed``, ``slow``, ``trace.failed``, ``trace.slow``, ``trace.finding``)."""

    field: Field


@dataclass(frozen=True)
class TraceFunction:
    """``trace.has(F)`` / ``trace.all(F)``: some / every record of the trace matches ``inner``."""

    name: str  # "trace.has" | "trace.all"
    inner: Node


@dataclass(frozen=True)
class Not:
    """``not inner`` (also ``!inner``)."""

    inner: Node


@dataclass(frozen=True)
class And:
    """Every item matches (``and``, or terms written next to each other)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Some item matches."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class MatchAll:
    """The empty filter: every record matches."""


Node: TypeAlias = Compare | InList | FreeText | Flag | TraceFunction | Not | And | Or | MatchAll

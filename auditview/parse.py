"""Turning ``Chunk``s of complete JSONL lines into typed index rows and exact ``Reject``s.

Owns: the index frame's schema (``SCHEMA``), ``parse_chunk()`` (a fast polars path that decides only the lines
it can prove ordinary and hands every other line to ``contract.parse_line`` in Python) and
``parse_lines_exact()`` (the reference path: one ``contract.parse_line`` per line). Both give the same rows
and the same rejects: the contract decides, polars only goes faster. Must not: read files, sort or merge
frames (``auditview.index`` does), drop a line silently, turn a bad field into a null, or import any UI
library.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

import orjson
import polars as pl

from auditview.contract import OPTIONAL_FIELDS, REQUIRED_FIELDS, ContractError, parse_line, parse_timestamp
from auditview.source.types import Chunk, Reject

__all__ = [
    "LOCATION_COLUMNS",
    "LOW_CARDINALITY",
    "SCHEMA",
    "empty_frame",
    "parse_chunk",
    "parse_lines_exact",
    "record_row",
]

#: Columns with few distinct values, stored as ``Categorical`` to save memory.
LOW_CARDINALITY: Final = ("tool", "command", "operator", "host", "version")

#: The index frame's columns in order (see INTERFACES.md).
SCHEMA: Final[dict[str, pl.DataType]] = {
    "ts": pl.Datetime("us", "UTC"),
    "tool": pl.Categorical(),
    "command": pl.Categorical(),
    "exit_code": pl.Int64(),
    "duration_ms": pl.Float64(),
    "request_id": pl.String(),
    "trace_id": pl.String(),
    "parent_request_id": pl.String(),
    "operator": pl.Categorical(),
    "host": pl.Categorical(),
    "version": pl.Categorical(),
    "ok": pl.Boolean(),
    "error_type": pl.String(),
    "error_message": pl.String(),
    "params": pl.String(),
    "extra": pl.String(),
    "file_id": pl.UInt32(),
    "offset": pl.Int64(),
    "length": pl.UInt32(),
    "line": pl.UInt32(),
}

#: Location columns, present in every (also projected) frame.
LOCATION_COLUMNS: Final = ("file_id", "offset", "length", "line")

_KNOWN_FIELDS: Final = frozenset(REQUIRED_FIELDS) | frozenset(OPTIONAL_FIELDS)
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1


def _json_text(value: Any) -> str | None:
    """A string stays itself; any other JSON value becomes its compact JSON text; ``None`` stays null."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def record_row(record: dict[str, Any]) -> tuple[Any, ...]:
    """The index values (``ts`` .. ``extra``) of a contract-checked record, in ``SCHEMA`` order.

    Raises ``ContractError`` for an ``exit_code`` outside the signed 64-bit range, which the index cannot hold
    (orjson decodes integers up to 2**64-1; see INTERFACES.md).
    """
    exit_code = record["exit_code"]
    if not _INT64_MIN <= exit_code <= _INT64_MAX:
        raise ContractError("field 'exit_code' is outside the signed 64-bit range")
    error = record.get("error")
    extra = {key: value for key, value in record.items() if key not in _KNOWN_FIELDS}
    return (
        parse_timestamp(record["timestamp"]),
        record["tool"],
        record["command"],
        exit_code,
        float(record["duration_ms"]),
        record["request_id"],
        record["trace_id"],
        record.get("parent_request_id"),
        record["operator"],
        record.get("host"),
        record["version"],
        record.get("ok"),
        _json_text(error.get("type")) if error is not None else None,
        _json_text(error.get("message")) if error is not None else None,
        orjson.dumps(record["params"]).decode(),
        orjson.dumps(extra).decode() if extra else None,
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ContractError):
        return str(exc)
    # parse_timestamp can overflow when an offset moves a date past year 1 or 9999.
    return f"timestamp out of range ({type(exc).__name__}: {exc})"


def empty_frame(columns: Collection[str] | None = None) -> pl.DataFrame:
    """An empty frame with the index schema (optionally projected to ``columns`` + the location columns)."""
    return pl.DataFrame(schema=_project(SCHEMA, columns))


def _project(schema: dict[str, pl.DataType], columns: Collection[str] | None) -> dict[str, pl.DataType]:
    if columns is None:
        return dict(schema)
    return {name: dtype for name, dtype in schema.items() if name in columns or name in LOCATION_COLUMNS}


def parse_lines_exact(
    lines: Sequence[bytes],
    offsets: Sequence[int],
    line_numbers: Sequence[int],
    file_id: int,
    path: str,
    columns: Collection[str] | None = None,
) -> tuple[pl.DataFrame, list[Reject]]:
    """The reference path: ``contract.parse_line`` on every line (without ``\\n``); rows in input order."""
    rows: list[tuple[Any, ...]] = []
    rejects: list[Reject] = []
    for raw, offset, number in zip(lines, offsets, line_numbers, strict=True):
        try:
            row = record_row(parse_line(raw))
        except (ContractError, ValueError, OverflowError) as exc:
            rejects.append(Reject(path, number, offset, _reason(exc), raw))
            continue
        rows.append((*row, file_id, offset, len(raw), number))
    return _rows_frame(rows, columns), rejects


def _rows_frame(rows: list[tuple[Any, ...]], columns: Collection[str] | None) -> pl.DataFrame:
    string_schema = {
        name: (pl.String() if name in LOW_CARDINALITY else dtype) for name, dtype in SCHEMA.items()
    }
    frame = pl.DataFrame(rows, schema=string_schema, orient="row")
    if columns is not None:
        frame = frame.select(list(_project(SCHEMA, columns)))
    return frame.cast(_project(SCHEMA, columns))  # type: ignore[arg-type]


def _split(data: bytes) -> tuple[list[bytes], list[int]]:
    """The complete lines of ``data`` (without ``\\n``) and their offsets relative to ``data``."""
    end = data.rfind(b"\n")
    lines = data[:end].split(b"\n") if end >= 0 else []
    offsets: list[int] = []
    position = 0
    for raw in lines:
        offsets.append(position)
        position += len(raw) + 1
    return lines, offsets


def parse_chunk(
    chunk: Chunk, file_id: int, columns: Collection[str] | None = None
) -> tuple[pl.DataFrame, list[Reject]]:
    """Parse every complete line of ``chunk`` into index rows (in line order) and rejects.

    ``columns`` projects the frame to those index columns plus the location columns (``None`` = all); every
    line is still checked in full, so the rejects do not depend on the projection. A trailing fragment without
    ``\\n`` (which a ``Chunk`` never holds) is ignored.
    """
    lines, offsets = _split(chunk.data)
    return parse_lines_exact(
        lines,
        [chunk.offset + offset for offset in offsets],
        range(chunk.first_line, chunk.first_line + len(lines)),
        file_id,
        chunk.source.display,
        columns,
    )

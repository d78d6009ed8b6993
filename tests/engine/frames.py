"""Build index frames with the documented schema directly, for the query, trace, timeline and stats tests.

The real index (``auditview/core/index.py``) is not needed: ``make_frame`` turns a few dicts into the columns
and dtypes of the index (taken from ``auditview.core.parse.SCHEMA``, the low-cardinality columns as plain
strings unless ``categorical=True``; without the columns ``LEFT_OUT``, like a projected index frame), sorted
by ``(ts, file_id, offset)`` like the index. ``synthetic_frame`` builds large frames quickly (polars only)
for benchmarks and smoke tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import polars as pl

from auditview.core import parse

BASE = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)

#: The low-cardinality columns, ``Categorical`` in the index (``make_frame(categorical=True)``).
CATEGORICAL_COLUMNS = parse.LOW_CARDINALITY

#: Index columns the frames built here do not have, as a projected index frame may not: a test of ``pid`` or
#: ``truncated`` then reads them from ``extra``; ``derived`` and ``warnings`` only the parser fills.
LEFT_OUT = ("pid", "schema_version", "truncated", "derived", "warnings")

#: The index schema without ``LEFT_OUT``, the low-cardinality columns as plain strings.
SCHEMA: dict[str, pl.DataType] = {
    name: pl.String() if name in CATEGORICAL_COLUMNS else dtype
    for name, dtype in parse.SCHEMA.items()
    if name not in LEFT_OUT
}


def at(ms: float) -> datetime:
    """The moment ``ms`` milliseconds after ``BASE``."""
    return BASE + timedelta(milliseconds=ms)


def record(**fields: Any) -> dict[str, Any]:
    """A record dict with defaults for every column; ``start_ms`` sets ``ts`` relative to ``BASE``."""
    start_ms = fields.pop("start_ms", 0.0)
    out: dict[str, Any] = {
        "ts": at(start_ms),
        "tool": "deployctl",
        "command": "apply",
        "exit_code": 0,
        "duration_ms": 10.0,
        "request_id": "",
        "trace_id": "t1",
        "parent_request_id": None,
        "operator": "alice",
        "host": "h1",
        "version": "1.0.0",
        "ok": True,
        "error_type": None,
        "error_message": None,
        "params": {},
        "extra": None,
    }
    out.update(fields)
    return out


def make_frame(records: Sequence[Mapping[str, Any]], *, categorical: bool = False) -> pl.DataFrame:
    """An index-shaped frame from record dicts (``params``/``extra`` may be dicts), sorted like the index."""
    rows: list[dict[str, Any]] = []
    for position, given in enumerate(records):
        row = record(**dict(given))
        if not row["request_id"]:
            row["request_id"] = f"r{position}"
        if isinstance(row["params"], Mapping):
            row["params"] = orjson.dumps(row["params"]).decode()
        if isinstance(row["extra"], Mapping):
            row["extra"] = orjson.dumps(row["extra"]).decode() if row["extra"] else None
        row.setdefault("file_id", 0)
        row.setdefault("offset", position * 100)
        row.setdefault("length", 99)
        row.setdefault("line", position + 1)
        rows.append(row)
    frame = pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)
    frame = frame.sort("ts", "file_id", "offset", maintain_order=True)
    if categorical:
        frame = frame.with_columns(pl.col(name).cast(pl.Categorical()) for name in CATEGORICAL_COLUMNS)
    return frame


def synthetic_frame(rows: int, *, traces: int | None = None, seed: int = 7) -> pl.DataFrame:
    """A large index-shaped frame: ``rows`` records over ``traces`` traces (default ``rows / 11.5``)."""
    traces = traces or max(1, int(rows / 11.5))
    tools = ["deployctl", "verifyctl", "rollbackctl", "dbctl"]
    commands = ["apply", "plan", "status", "check", "migrate", "undo"]
    operators = ["alice", "bob", "agent-7", "agent-12"]
    frame = pl.DataFrame({"i": pl.int_range(0, rows, eager=True)}).with_columns(
        r=pl.col("i").hash(seed),
    )
    frame = frame.select(
        ts=pl.lit(BASE) + pl.duration(milliseconds=pl.col("i") * 50 + pl.col("r") % 40),
        tool=pl.lit(pl.Series(tools)).get((pl.col("r") // 7) % len(tools)),
        command=pl.lit(pl.Series(commands)).get((pl.col("r") // 31) % len(commands)),
        exit_code=pl.when(pl.col("r") % 97 == 0).then(1).otherwise(0).cast(pl.Int64),
        duration_ms=((pl.col("r") // 101) % 3000).cast(pl.Float64) + 0.5,
        request_id=pl.format("req-{}", pl.col("i")),
        trace_id=pl.when(pl.col("r") % 1000 == 0)
        .then(pl.lit(""))
        .otherwise(pl.format("trace-{}", (pl.col("i") * traces) // rows)),
        parent_request_id=pl.lit(None, dtype=pl.String),
        operator=pl.lit(pl.Series(operators)).get((pl.col("r") // 13) % len(operators)),
        host=pl.lit("host-1"),
        version=pl.lit("1.2.3"),
        ok=pl.col("r") % 97 != 0,
        error_type=pl.when(pl.col("r") % 97 == 0).then(pl.lit("Timeout")).otherwise(None),
        error_message=pl.when(pl.col("r") % 97 == 0).then(pl.lit("deadline exceeded")).otherwise(None),
        params=pl.concat_str(
            pl.lit('{"env":"'),
            pl.when(pl.col("r") % 2 == 0).then(pl.lit("prod")).otherwise(pl.lit("staging")),
            pl.lit('","replicas":'),
            (pl.col("r") % 9).cast(pl.String),
            pl.lit("}"),
        ),
        extra=pl.lit(None, dtype=pl.String),
        file_id=pl.lit(0, dtype=pl.UInt32),
        offset=pl.col("i") * 360,
        length=pl.lit(359, dtype=pl.UInt32),
        line=(pl.col("i") + 1).cast(pl.UInt32),
    )
    return frame.sort("ts", "file_id", "offset").cast(SCHEMA)  # type: ignore[arg-type]

"""What a trace's steps carry besides their timeline: the details a report or a trace view shows per step.

Owns ``StepDetails`` and ``step_details`` (per step, by its place ``(file_id, offset)``: the parsed params,
the error, the host, and which fields were derived or unusable). Must not read files or import a UI library;
it works on the index frame.
"""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl

__all__ = ["StepDetails", "step_details"]

#: Per step, by its place (``file_id``, ``offset``): params, error, host, derived and warned fields.
StepDetails = dict[tuple[int, int], dict[str, Any]]


def step_details(frame: pl.DataFrame, trace_id: str) -> StepDetails:
    """Per step of the trace, by its place (``file_id``, ``offset``): parsed params (the raw text when it is
    not JSON), error (``{"type", "message"}`` or ``None``), host, and which fields were derived or unusable
    (``derived``, ``warnings``), which the timeline does not carry."""
    details: StepDetails = {}
    wanted = ("file_id", "offset", "params", "error_type", "error_message", "host", "derived", "warnings")
    cols = [c for c in wanted if c in frame.columns]
    rows = frame.filter(pl.col("trace_id").cast(pl.String) == trace_id).select(cols)
    for row in rows.iter_rows(named=True):
        try:
            params = orjson.loads(row["params"]) if row.get("params") is not None else None
        except orjson.JSONDecodeError:
            params = row["params"]
        error = None
        if row.get("error_type") is not None or row.get("error_message") is not None:
            error = {"type": row.get("error_type"), "message": row.get("error_message")}
        details[(row["file_id"], row["offset"])] = {
            "params": params,
            "error": error,
            "host": row.get("host"),
            "derived": row["derived"].split(",") if row.get("derived") else [],
            "warnings": row["warnings"].split("\n") if row.get("warnings") else [],
        }
    return details

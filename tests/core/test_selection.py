"""The one selection seam: a request (paths, time range, filter, trace, command) answered without the CLI."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from auditview.core.query import FilterError
from auditview.core.selection import (
    AmbiguousTraceId,
    Selection,
    open_index,
    projection,
    resolve_trace_id,
    select,
)
from auditview.core.timeline import TraceNotFoundError
from tests.cli.conftest import BASE, line_of, record


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Three traces of two commands, one failed step."""
    records = [
        record(at_s=0, trace_id="trace-a1", request_id="r1", command="plan"),
        record(at_s=5, trace_id="trace-a1", request_id="r2", command="apply", exit_code=2),
        record(at_s=60, trace_id="trace-a2", request_id="r3", command="plan"),
        record(at_s=120, trace_id="trace-b", request_id="r4", command="apply"),
    ]
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(line_of(rec) + b"\n" for rec in records))
    return path


def test_select_applies_time_range_filter_and_selectors(log: Path) -> None:
    """Time range, then filter, then the exact trace and command selectors narrow the frame."""
    everything = select(Selection(paths=(str(log),)))
    assert everything.frame.height == 4
    assert not everything.narrowed
    request = Selection(paths=(str(log),), since=BASE + timedelta(seconds=1), filter_text="command=apply")
    narrowed = select(request)
    assert narrowed.narrowed
    assert narrowed.selection == request
    assert sorted(narrowed.frame.get_column("request_id").to_list()) == ["r2", "r4"]
    only_b = select(Selection(paths=(str(log),), trace_id="trace-b", command="apply", pushdown=True))
    assert only_b.frame.get_column("request_id").to_list() == ["r4"]


def test_a_bad_filter_is_an_exception_not_an_exit(log: Path) -> None:
    """The core raises ``FilterError``; rendering it (exit 2, caret) is the front end's job."""
    with pytest.raises(FilterError):
        select(Selection(paths=(str(log),), filter_text="command="))


def test_open_index_builds_the_needed_columns_and_those_of_the_request(log: Path) -> None:
    """Only the columns asked for, plus the time range's, the filter's and the selectors'."""
    request = Selection(paths=(str(log),), since=BASE, trace_id="trace-b")
    index = open_index(request, {"tool"})
    assert {"tool", "ts", "trace_id"} <= set(index.frame.columns)
    assert "params" not in index.frame.columns
    assert projection(None, None) is None


def test_trace_ids_resolve_from_unique_prefixes(log: Path) -> None:
    """An exact id or a unique prefix resolves; an ambiguous prefix lists the candidates; none: not found."""
    frame = select(Selection(paths=(str(log),))).frame
    assert resolve_trace_id(frame, "trace-b") == "trace-b"
    assert resolve_trace_id(frame, "trace-a2") == "trace-a2"
    with pytest.raises(AmbiguousTraceId) as ambiguous:
        resolve_trace_id(frame, "trace-a")
    assert ambiguous.value.candidates == ["trace-a1", "trace-a2"]
    with pytest.raises(TraceNotFoundError):
        resolve_trace_id(frame, "nope")


def test_the_selection_seam_imports_no_front_end() -> None:
    """Importing ``auditview.core.selection`` loads neither the CLI nor the app nor a UI library."""
    import subprocess

    code = (
        "import sys, auditview.core.selection\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'rich', 'click'}"
        " or m.startswith(('auditview.cli', 'auditview.tui'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

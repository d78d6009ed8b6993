"""``detect_findings`` on a frame without ``params``: the params of the few rows retry-loop and flapping read
come from ``params_of`` (the CLI's ``AuditIndex.params_of`` parses their lines again), and the findings are
exactly those of the frame with its ``params`` column, whatever the params' key order, blanks or escapes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditview.core.findings import (
    FINDING_COLUMNS,
    FINDING_COLUMNS_WITHOUT_PARAMS,
    FindingThresholds,
    detect_findings,
)
from auditview.core.selection import Selected, Selection, select
from tests.cli.conftest import line_of, record

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
THRESHOLDS = (FindingThresholds(), FindingThresholds(retry_runs=2))


def _select(path: Path, columns: frozenset[str] | None) -> Selected:
    return select(Selection(paths=(str(path),), cache=False), columns)


def _assert_same_findings(path: Path) -> pl.DataFrame:
    """The findings over ``path`` loaded whole and loaded without params (with ``params_of``) agree, for
    each of ``THRESHOLDS``, and ``params_of`` is asked for a few rows only; the default findings."""
    full = _select(path, None).index.frame
    lean = _select(path, FINDING_COLUMNS_WITHOUT_PARAMS).index
    assert "params" in full.columns
    assert "params" not in lean.frame.columns
    asked: list[int] = []

    def params_of(rows: pl.DataFrame) -> pl.Series:
        asked.append(rows.height)
        return lean.params_of(rows)

    for thresholds in THRESHOLDS:
        expected = detect_findings(full, thresholds)
        assert_frame_equal(detect_findings(lean.frame, thresholds, params_of=params_of), expected)
        assert_frame_equal(
            detect_findings(full.select(*FINDING_COLUMNS, "file_id", "offset"), thresholds), expected
        )
    assert asked
    assert max(asked) < full.height
    return detect_findings(full)


def test_sample_logs_findings_are_the_same_with_params_of() -> None:
    found = _assert_same_findings(SAMPLES)
    assert {"retry-loop", "flapping"} <= set(found.get_column("name").to_list())


def _line(
    at_s: float, command: str, params: str, *, trace_id: str, exit_code: int = 0, spaced: bool = False
) -> bytes:
    """A record's line with ``params`` as the exact text logged."""
    placeholder = {"placeholder": 0}
    line = line_of(
        record(
            at_s=at_s,
            command=command,
            exit_code=exit_code,
            request_id=f"{trace_id}-{at_s}",
            trace_id=trace_id,
        )
        | {"params": placeholder},
        spaced=spaced,
    )
    text = b'{"placeholder":0}'  # nested values stay compact in a spaced line too
    assert line.count(text) == 1
    return line.replace(text, params.encode())


@pytest.fixture
def varied(tmp_path: Path) -> Path:
    """Retry runs and deploys whose params differ between runs in key order, blanks and escapes only."""
    lines = [
        # key order differs: the second run is another call, so no loop
        _line(0, "deploy", '{"env":"prod","service":"api"}', trace_id="t-order", exit_code=1),
        _line(1, "deploy", '{"service":"api","env":"prod"}', trace_id="t-order", exit_code=1),
        _line(2, "deploy", '{"env":"prod","service":"api"}', trace_id="t-order"),
        # blanks, the same in every run (one of them a spaced line): a loop
        _line(0, "migrate", '{"env": "prod",  "db" : "main"}', trace_id="t-blanks", exit_code=3),
        _line(1, "migrate", '{"env": "prod",  "db" : "main"}', trace_id="t-blanks", exit_code=3, spaced=True),
        _line(2, "migrate", '{"env": "prod",  "db" : "main"}', trace_id="t-blanks"),
        # other blanks in the last run: another call
        _line(0, "migrate", '{"env":"dev"}', trace_id="t-blanks-2", exit_code=3),
        _line(1, "migrate", '{"env":"dev"}', trace_id="t-blanks-2", exit_code=3),
        _line(2, "migrate", '{"env": "dev"}', trace_id="t-blanks-2", exit_code=3),
        # an escape: a line with a backslash keeps its params re-encoded, the same as the plain runs'
        _line(0, "sync", '{"env":"pr\\u006fd","path":"a\\/b"}', trace_id="t-escape", exit_code=2),
        _line(1, "sync", '{"env":"prod","path":"a/b"}', trace_id="t-escape", exit_code=2),
        _line(2, "sync", '{"env":"prod","path":"a/b"}', trace_id="t-escape", exit_code=2),
        # flapping: the same target in other key orders, blanks and escapes, versions aside
        _line(0, "deploy", '{"service":"api","version":"1","env":"prod"}', trace_id="t-flap"),
        _line(10, "rollback", '{ "env" : "prod", "service" : "api" }', trace_id="t-flap"),
        _line(20, "deploy", '{"env":"pro\\u0064","version":"2","service":"api"}', trace_id="t-flap"),
        _line(30, "verify", "{}", trace_id="t-flap"),
    ]
    path = tmp_path / "deployctl" / "audit.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_params_differing_in_key_order_blanks_or_escapes_give_the_same_findings(varied: Path) -> None:
    found = _assert_same_findings(varied)
    names = {(trace_id, name) for trace_id, name in found.select("trace_id", "name").iter_rows()}
    assert {("t-blanks", "retry-loop"), ("t-escape", "retry-loop"), ("t-flap", "flapping")} <= names
    assert ("t-order", "retry-loop") not in names
    assert ("t-blanks-2", "retry-loop") not in names


def test_without_params_or_params_of_every_step_has_no_params(varied: Path) -> None:
    frame = _select(varied, FINDING_COLUMNS_WITHOUT_PARAMS).index.frame
    nulled = frame.with_columns(pl.lit(None, dtype=pl.String()).alias("params"))
    assert_frame_equal(detect_findings(frame), detect_findings(nulled))

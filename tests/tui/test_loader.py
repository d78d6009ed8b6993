"""The loader (``core.live``): full index via ``AuditIndex.load``, then following from where it stopped;
incremental views (``core.view``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import auditview.core.index
from auditview.core.index import AuditIndex
from auditview.core.live import IndexBuilt, IndexChanged, LiveEvent, LoaderOptions, load_and_follow
from auditview.core.slow import SlowStepRule
from auditview.core.view import update_view
from tests.tui.app_fixtures import lines_of, record


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as out:
        out.write(data)


def _lines(numbers: range) -> bytes:
    return b"".join(line + b"\n" for line in lines_of([record(n) for n in numbers]))


class _Loader:
    """Runs ``load_and_follow`` in a thread and keeps the last index snapshot it posted."""

    def __init__(self, options: LoaderOptions) -> None:
        self.stop = False
        self.last: IndexChanged | None = None
        self.finished = threading.Event()
        self.thread = threading.Thread(target=load_and_follow, args=(options, self.post, lambda: self.stop))

    def post(self, event: LiveEvent) -> None:
        if isinstance(event, IndexChanged):
            self.last = event
        elif isinstance(event, IndexBuilt):
            self.finished.set()

    def wait_for(self, condition: Callable[[pl.DataFrame], bool]) -> pl.DataFrame:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.last is not None and condition(self.last.frame):
                return self.last.frame
            time.sleep(0.02)
        raise AssertionError("the loader never got there")


def test_lines_appended_while_loading_are_indexed_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines written before, during (a half line too) and after the full load each end up once, in place."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_lines(range(50)))
    real_load = AuditIndex.load.__func__  # type: ignore[attr-defined]

    def load_while_appending(cls: type[AuditIndex], /, sources: Any, **kwargs: Any) -> AuditIndex:
        _append(log, _lines(range(50, 60)) + lines_of([record(60)])[0][:20])  # seen by the load, half line
        index: AuditIndex = real_load(cls, sources, **kwargs)
        _append(log, lines_of([record(60)])[0][20:] + b"\n" + _lines(range(61, 70)))  # after it stopped
        return index

    monkeypatch.setattr(auditview.core.index.AuditIndex, "load", classmethod(load_while_appending))
    loader = _Loader(LoaderOptions([str(log)], follow=True))
    loader.thread.start()
    try:
        assert loader.finished.wait(10)
        _append(log, _lines(range(70, 80)))  # while following
        frame = loader.wait_for(lambda f: f.height >= 80)
    finally:
        loader.stop = True
        loader.thread.join(5)
    assert frame["request_id"].to_list() == [f"req-{n:04d}" for n in range(80)]
    data = log.read_bytes()
    for offset, length, line in frame.select("offset", "length", "line").iter_rows():
        assert data[offset + length : offset + length + 1] == b"\n"
        assert data.count(b"\n", 0, offset) + 1 == line


def test_a_file_replaced_during_the_load_falls_back_to_reading_serially(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the log is rotated while loading, the loader re-reads through the follower: nothing doubled."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_lines(range(30)))
    real_load = AuditIndex.load.__func__  # type: ignore[attr-defined]

    def load_then_rotate(cls: type[AuditIndex], /, sources: Any, **kwargs: Any) -> AuditIndex:
        index: AuditIndex = real_load(cls, sources, **kwargs)
        log.rename(tmp_path / "audit.jsonl.1")
        log.write_bytes(_lines(range(30, 40)))
        return index

    monkeypatch.setattr(auditview.core.index.AuditIndex, "load", classmethod(load_then_rotate))
    loader = _Loader(LoaderOptions([str(tmp_path)], follow=False))
    loader.thread.run()
    assert loader.last is not None
    assert sorted(loader.last.frame["request_id"].to_list()) == [f"req-{n:04d}" for n in range(40)]


def test_incremental_view_equals_a_full_recompute() -> None:
    """Appended rows filtered alone and merged give the same view as filtering the whole frame again."""
    rule = SlowStepRule(threshold_ms=1000)
    rows = [record(n, duration_ms=float(100 + (n * 37) % 2000), exit_code=n % 7 == 0) for n in range(200)]
    frame = pl.DataFrame(
        {
            "ts": pl.Series([r["timestamp"] for r in rows]).str.to_datetime(time_zone="UTC"),
            "tool": [r["tool"] for r in rows],
            "command": ["apply" if n % 2 else "plan" for n in range(200)],
            "exit_code": [int(r["exit_code"]) for r in rows],
            "duration_ms": [r["duration_ms"] for r in rows],
            "trace_id": [r["trace_id"] for r in rows],
            "file_id": pl.Series([0] * 200, dtype=pl.UInt32),
            "offset": pl.Series([n * 100 for n in range(200)], dtype=pl.Int64),
        }
    )
    base, added = frame.head(150), frame.tail(50).sample(fraction=1.0, shuffle=True, seed=3)
    text = "exit_code=0 and duration_ms>500"
    state = update_view(None, base, None, text, None, None, rule)
    step = update_view(state, frame, [added.head(20), added.tail(30)], text, None, None, rule)
    full = update_view(None, frame, None, text, None, None, rule)
    assert step.view["offset"].to_list() == full.view["offset"].to_list()
    assert step.annotated.height == 200
    assert step.view.height > 0


def test_a_new_filter_reuses_the_time_ranged_frame_until_rows_arrive() -> None:
    """A filter change keeps the same (time-ranged) frame object, so the query helpers warmed on it are
    reused; appended rows make a new one; only frames built from scratch are marked for warming."""
    from datetime import UTC, datetime

    rule = SlowStepRule(threshold_ms=1000)
    rows = [record(n, duration_ms=float(100 + n), exit_code=0) for n in range(60)]
    frame = pl.DataFrame(
        {
            "ts": pl.Series([r["timestamp"] for r in rows]).str.to_datetime(time_zone="UTC"),
            "tool": [r["tool"] for r in rows],
            "command": ["apply"] * 60,
            "exit_code": [0] * 60,
            "duration_ms": [r["duration_ms"] for r in rows],
            "trace_id": [r["trace_id"] for r in rows],
            "file_id": pl.Series([0] * 60, dtype=pl.UInt32),
            "offset": pl.Series([n * 100 for n in range(60)], dtype=pl.Int64),
        }
    )
    since = datetime(2000, 1, 1, tzinfo=UTC)
    first = update_view(None, frame.head(50), None, "duration_ms>120", since, None, rule)
    assert first.fresh
    second = update_view(first, frame.head(50), [], "duration_ms>130", since, None, rule)
    assert not second.fresh
    assert second.ranged is first.ranged
    assert second.view.height == first.view.height - 10
    grown = update_view(second, frame, [frame.tail(10)], "duration_ms>130", since, None, rule)
    assert grown.ranged is not second.ranged
    assert grown.ranged.height == 60
    other_range = update_view(grown, frame, [], "duration_ms>130", None, None, rule)
    assert other_range.ranged is other_range.annotated


def test_rows_survive_a_rotation_and_a_truncation_drops_its_rows(tmp_path: Path) -> None:
    """After a rename rotation old rows still read their exact bytes; a truncation replaces its rows."""
    log = tmp_path / "audit.jsonl"
    first = _lines(range(20))
    log.write_bytes(first)
    loader = _Loader(LoaderOptions([str(tmp_path)], follow=True))
    loader.thread.start()
    try:
        assert loader.finished.wait(10)
        log.rename(tmp_path / "audit.jsonl.1")
        log.write_bytes(_lines(range(20, 25)))
        frame = loader.wait_for(lambda f: f.height >= 25)
        assert loader.last is not None
        index = loader.last.index
        old_rows = frame.filter(pl.col("request_id").is_in([f"req-{n:04d}" for n in range(20)]))
        expected = first.splitlines()
        for (file_id, offset, length), line in zip(
            old_rows.sort("offset").select("file_id", "offset", "length").iter_rows(), expected, strict=True
        ):
            assert index.raw_line(file_id, offset, length) == line
        log.write_bytes(_lines(range(100, 102)))  # truncated and rewritten: the 5 rows read from it are gone
        frame = loader.wait_for(lambda f: "req-0100" in f["request_id"].to_list())
        ids = loader.wait_for(lambda f: f.height == 22)["request_id"].to_list()
    finally:
        loader.stop = True
        loader.thread.join(5)
    assert sorted(ids) == [f"req-{n:04d}" for n in [*range(20), 100, 101]]

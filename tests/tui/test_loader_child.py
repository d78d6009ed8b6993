"""The loader's cold parse in a child process: it fills the cache, is killed on cancel, and falls back."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import auditview.core.cache
import auditview.core.index
import auditview.core.indexer
from auditview.core.index import AuditIndex
from auditview.core.live import (
    IndexBuilt,
    IndexChanged,
    LiveEvent,
    LoaderOptions,
    StatusNoted,
    load_and_follow,
)
from tests.tui.app_fixtures import lines_of, record


def _lines(numbers: range) -> bytes:
    return b"".join(line + b"\n" for line in lines_of([record(n) for n in numbers]))


class _Run:
    """Runs ``load_and_follow`` (no following) and keeps what it posted."""

    def __init__(self, options: LoaderOptions) -> None:
        self.stop = False
        self.last: IndexChanged | None = None
        self.events: list[str] = []
        self.finished = threading.Event()
        self.thread = threading.Thread(target=load_and_follow, args=(options, self.post, lambda: self.stop))

    def post(self, event: LiveEvent) -> None:
        if isinstance(event, IndexChanged):
            self.last = event
        elif isinstance(event, StatusNoted):
            self.events.append(event.text)
        elif isinstance(event, IndexBuilt):
            self.finished.set()


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """A private cache dir (inherited by the child) and the paths this process stores cache entries for."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AUDITVIEW_CACHE", raising=False)
    calls: list[Path] = []
    real_store = auditview.core.cache.store

    def store(source: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(source.path)
        real_store(source, *args, **kwargs)

    monkeypatch.setattr(auditview.core.cache, "store", store)
    return calls


@pytest.mark.parametrize("threshold", [1, None])
def test_the_child_fills_the_cache_and_the_app_only_reads_it(
    tmp_path: Path, stores: list[Path], threshold: int | None
) -> None:
    """With the child the in-process load stores nothing (all cached); without it, it parses and stores."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_lines(range(300)))
    run = _Run(LoaderOptions([str(log)], follow=False, cold_process_min=threshold))
    run.thread.run()
    assert run.last is not None
    assert run.last.frame["request_id"].to_list() == [f"req-{n:04d}" for n in range(300)]
    assert (stores == []) is (threshold is not None)
    assert run.events == []


def test_a_failing_child_falls_back_to_the_in_process_load(
    tmp_path: Path, stores: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the child exits with an error the loader says so and still indexes every line itself."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_lines(range(40)))
    real_popen = subprocess.Popen

    def failing(command: list[str], **kwargs: Any) -> Any:
        return real_popen([sys.executable, "-c", "raise SystemExit(3)"], **kwargs)

    monkeypatch.setattr(auditview.core.indexer, "_spawn", failing)
    run = _Run(LoaderOptions([str(log)], follow=False, cold_process_min=1))
    run.thread.run()
    assert run.last is not None
    assert run.last.frame.height == 40
    assert stores == [log]
    assert any("background indexer failed" in text for text in run.events)


def test_a_disabled_cache_skips_the_child(
    tmp_path: Path, stores: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the cache turned off no child is started and the status says the app indexes itself."""
    monkeypatch.setenv("AUDITVIEW_CACHE", "0")
    started: list[Any] = []
    monkeypatch.setattr(auditview.core.indexer, "_spawn", lambda *a, **k: started.append(a))
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_lines(range(10)))
    run = _Run(LoaderOptions([str(log)], follow=False, cold_process_min=1))
    run.thread.run()
    assert run.last is not None
    assert run.last.frame.height == 10
    assert started == []
    assert any("indexing in the app" in text for text in run.events)


def test_cache_false_turns_the_cache_off_without_the_environment(
    tmp_path: Path, stores: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LoaderOptions(cache=False)`` alone (no ``AUDITVIEW_CACHE``) starts no child and stores no entry."""
    started: list[Any] = []
    monkeypatch.setattr(auditview.core.indexer, "_spawn", lambda *a, **k: started.append(a))
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_lines(range(10)))
    run = _Run(LoaderOptions([str(log)], follow=False, cold_process_min=1, cache=False))
    run.thread.run()
    auditview.core.cache.wait_pending()
    assert run.last is not None
    assert run.last.frame.height == 10
    assert started == []
    assert stores == []
    assert not (tmp_path / "cache").exists()
    assert any("indexing in the app" in text for text in run.events)


def test_cancelling_kills_the_child_promptly(
    tmp_path: Path, stores: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quitting while the child runs ends it within a second and posts no index."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_lines(range(10)))
    children: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def slow(command: list[str], **kwargs: Any) -> Any:
        child = real_popen([sys.executable, "-c", "import time; time.sleep(60)"], **kwargs)
        children.append(child)
        return child

    monkeypatch.setattr(auditview.core.indexer, "_spawn", slow)
    run = _Run(LoaderOptions([str(log)], follow=False, cold_process_min=1))
    run.thread.start()
    deadline = time.monotonic() + 10
    while not children and time.monotonic() < deadline:
        time.sleep(0.01)
    assert children
    run.stop = True
    began = time.monotonic()
    run.thread.join(5)
    assert not run.thread.is_alive()
    assert children[0].poll() is not None
    assert time.monotonic() - began < 1.0
    assert run.last is None


def test_lines_appended_while_the_child_indexes_are_indexed_exactly_once(
    tmp_path: Path, stores: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines written while the child runs (a half line too), after the load and while following: once each."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_lines(range(50)))
    real_spawn = auditview.core.indexer._spawn
    tail = lines_of([record(60)])[0]

    def spawn_and_append(command: list[str], **kwargs: Any) -> Any:
        child = real_spawn(command, **kwargs)
        with log.open("ab") as out:
            out.write(_lines(range(50, 60)) + tail[:20])
        return child

    real_load = AuditIndex.load.__func__  # type: ignore[attr-defined]

    def load_then_append(cls: type[AuditIndex], /, sources: Any, **kwargs: Any) -> AuditIndex:
        index: AuditIndex = real_load(cls, sources, **kwargs)
        with log.open("ab") as out:
            out.write(tail[20:] + b"\n" + _lines(range(61, 70)))
        return index

    monkeypatch.setattr(auditview.core.indexer, "_spawn", spawn_and_append)
    monkeypatch.setattr(auditview.core.index.AuditIndex, "load", classmethod(load_then_append))
    run = _Run(LoaderOptions([str(log)], follow=True, cold_process_min=1))
    run.thread.start()
    try:
        assert run.finished.wait(20)
        with log.open("ab") as out:
            out.write(_lines(range(70, 80)))
        deadline = time.monotonic() + 10
        while (run.last is None or run.last.frame.height < 80) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        run.stop = True
        run.thread.join(5)
    assert run.last is not None
    frame = run.last.frame
    assert frame["request_id"].to_list() == [f"req-{n:04d}" for n in range(80)]
    data = log.read_bytes()
    for offset, length, line in frame.select("offset", "length", "line").iter_rows():
        assert data[offset + length : offset + length + 1] == b"\n"
        assert data.count(b"\n", 0, offset) + 1 == line
    assert run.events == []

"""Index cache eviction: stale entries go, the size cap evicts least recently used first, nothing breaks."""

from __future__ import annotations

import gzip
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from auditview.core import cache as index_cache
from auditview.core.cache import eviction
from auditview.core.cache import writing as cache_writing
from auditview.core.cache.layout import entry_key
from auditview.core.index import AuditIndex
from auditview.source.types import SourceFile
from tests.engine.test_cache import lines


def make_log(tmp_path: Path, name: str, count: int = 40) -> SourceFile:
    """A plain log of ``count`` lines (every 7th malformed, so the entry has rejects too)."""
    path = tmp_path / name
    path.write_bytes(lines(0, count))
    return SourceFile(path, str(path))


def load(source: SourceFile) -> AuditIndex:
    """Load with the cache and wait for its write (and the eviction after it)."""
    index = AuditIndex.load([source])
    index_cache.wait_pending()
    return index


def assert_equals_uncached(source: SourceFile) -> None:
    """A cached load gives what an uncached one gives."""
    warm = AuditIndex.load([source])
    index_cache.wait_pending()
    cold = AuditIndex.load([source], cache=False)
    assert warm.frame.equals(cold.frame)
    assert warm.rejects == cold.rejects


def meta_path(source: SourceFile) -> Path:
    """The metadata file of the entry of ``source``."""
    return index_cache.cache_dir() / f"{entry_key(source.path)}.json"


def entry_files(source: SourceFile) -> list[Path]:
    """Every cache file of the entry of ``source`` (metadata and data)."""
    key = entry_key(source.path)
    return sorted(p for p in index_cache.cache_dir().iterdir() if p.name.startswith(key))


def entry_size(source: SourceFile) -> int:
    """Bytes of the entry of ``source``."""
    return sum(p.stat().st_size for p in entry_files(source))


def age(paths: list[Path], seconds: float) -> None:
    """Move the mtimes of ``paths`` ``seconds`` into the past."""
    for path in paths:
        info = path.stat()
        moved = info.st_mtime_ns - int(seconds * 1e9)
        os.utime(path, ns=(moved, moved))


def stamp() -> Path:
    """The rate-limit stamp of the full prune."""
    return index_cache.cache_dir() / ".last-prune"


# --- stale entries --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("deleted", "missing"),
        ("directory_removed", "missing"),
        ("replaced", "changed"),
        ("truncated", "changed"),
        ("made_a_directory", "changed"),
    ],
)
def test_entry_that_can_never_hit_again_is_removed(tmp_path: Path, change: str, reason: str) -> None:
    """Deleted, replaced (another inode) or truncated sources lose their entry; other entries stay warm."""
    folder = tmp_path / "logs"
    folder.mkdir()
    gone = make_log(folder, "a.jsonl")
    kept = make_log(tmp_path, "b.jsonl")
    load(gone)
    load(kept)
    files = entry_files(gone)
    assert files
    path = gone.path
    if change == "deleted":
        path.unlink()
    elif change == "directory_removed":
        path.unlink()
        folder.rmdir()
    elif change == "replaced":
        other = folder / "new.jsonl"
        other.write_bytes(lines(0, 40))
        other.rename(path)
    elif change == "truncated":
        os.truncate(path, 10)
    else:
        path.unlink()
        path.mkdir()
    report = index_cache.prune()
    assert [(r.path, r.reason) for r in report.removed] == [(os.path.abspath(path), reason)]
    assert report.removed[0].size == sum(f.stat().st_size for f in files if f.exists()) + report.freed_bytes
    assert not any(f.exists() for f in files)
    assert report.kept_entries == 1
    assert report.kept_bytes == entry_size(kept)
    assert report.errors == 0
    assert_equals_uncached(kept)


@pytest.mark.parametrize("change", ["untouched", "grown", "touched"])
def test_usable_entries_are_kept(tmp_path: Path, change: str, parsed_offsets: list[int]) -> None:
    """Unchanged, appended-to or merely touched sources keep their entry.

    A touched file of the same size misses now (its mtime differs) but may match again once it grows.
    """
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    if change == "grown":
        with source.path.open("ab") as out:
            out.write(lines(40, 50))
    elif change == "touched":
        os.utime(source.path)
    files = entry_files(source)
    report = index_cache.prune()
    assert report.removed == ()
    assert report.kept_entries == 1
    assert all(f.exists() for f in files)
    parsed_offsets.clear()
    load(source)
    assert parsed_offsets == {"untouched": [], "grown": [len(lines(0, 40))], "touched": [0]}[change]


def test_compressed_source_of_another_size_is_removed(tmp_path: Path) -> None:
    """A rotated .gz rewritten in place (same inode, other size) can never match: removed."""
    path = tmp_path / "a.jsonl.1.gz"
    path.write_bytes(gzip.compress(lines(0, 30)))
    source = SourceFile(path, str(tmp_path / "a.jsonl"), 1, "gzip")
    load(source)
    assert index_cache.prune().removed == ()
    with path.open("r+b") as out:  # same inode
        out.write(gzip.compress(lines(0, 60)))
    report = index_cache.prune()
    assert [(r.path, r.reason) for r in report.removed] == [(str(path), "changed")]


def test_corrupt_metadata_is_removed_with_its_data(tmp_path: Path) -> None:
    """Unreadable metadata is an entry nobody can use: removed, and its (old) data files with it."""
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    meta_path(source).write_bytes(b"{not json")
    age(entry_files(source), 2 * 3600)
    report = index_cache.prune()
    assert [(r.path, r.reason) for r in report.removed] == [("", "corrupt")]
    assert entry_files(source) == []
    assert_equals_uncached(source)


def test_leftovers_of_killed_writers_are_removed_when_old(tmp_path: Path) -> None:
    """Old temporaries and unnamed data files go; young ones (a writer in flight) and foreign files stay."""
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    directory = index_cache.cache_dir()
    key = entry_key(source.path)
    superseded = directory / f"{key}-000000000000.rows.parquet"
    orphan = directory / f"{'a' * 40}-111111111111.rows.parquet"
    in_flight = directory / f"{'b' * 40}-222222222222.rejects.parquet"
    old_temporary = directory / f".{'c' * 40}.json.0badc0de.tmp"
    young_temporary = directory / f".{'d' * 40}.json.0badc0de.tmp"
    foreign = directory / "notes.txt"
    for path in (superseded, orphan, in_flight, old_temporary, young_temporary, foreign):
        path.write_bytes(b"x" * 100)
    age([superseded, orphan, old_temporary, foreign], 2 * 3600)
    report = index_cache.prune()
    assert report.removed == ()
    assert report.leftovers == 3
    assert report.freed_bytes == 300
    assert not superseded.exists()
    assert not orphan.exists()
    assert not old_temporary.exists()
    assert in_flight.exists()
    assert young_temporary.exists()
    assert foreign.exists()
    assert report.kept_bytes == entry_size(source) + 200  # foreign files are not the cache's
    assert_equals_uncached(source)


# --- least recently used under the cap -------------------------------------------------------------------


def test_hit_records_last_use(tmp_path: Path, parsed_offsets: list[int]) -> None:
    """A warm load sets the metadata's mtime to now: the entry becomes the most recently used."""
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    age([meta_path(source)], 1000)
    parsed_offsets.clear()
    load(source)
    assert parsed_offsets == []
    assert time.time() - meta_path(source).stat().st_mtime < 30


def test_cap_evicts_least_recently_used_first(tmp_path: Path) -> None:
    """Over the cap, the entry used longest ago goes first; a hit makes an old entry the newest."""
    a, b, c = (make_log(tmp_path, f"{name}.jsonl") for name in "abc")
    for source, seconds in ((a, 300), (b, 200), (c, 100)):
        load(source)
        age(entry_files(source), seconds)
    load(a)  # a hit: a is now the most recently used
    assert time.time() - meta_path(a).stat().st_mtime < 30
    for source in (a, b, c):  # out of the in-use window, order kept: b (oldest), c, a
        age(entry_files(source), 1000)
    sizes = {source.path: entry_size(source) for source in (a, b, c)}
    total = sum(sizes.values())
    report = index_cache.prune(max_bytes=total - 1)
    assert [(r.path, r.reason) for r in report.removed] == [(str(b.path), "lru")]
    assert report.removed[0].size == sizes[b.path]
    assert report.kept_entries == 2
    assert report.kept_bytes == total - sizes[b.path]
    assert entry_files(b) == []
    report = index_cache.prune(max_bytes=sizes[a.path])
    assert [r.path for r in report.removed] == [str(c.path)]
    assert_equals_uncached(a)
    age(entry_files(a), 1000)
    report = index_cache.prune(max_bytes=1)  # an entry larger than the cap on its own is not kept
    assert [r.path for r in report.removed] == [str(a.path)]
    assert report.kept_entries == 0


def test_entries_in_use_are_not_evicted_for_size(tmp_path: Path) -> None:
    """Entries used within the last minute stay over the cap (a process is likely reading them)."""
    a, b = make_log(tmp_path, "a.jsonl"), make_log(tmp_path, "b.jsonl")
    load(a)
    load(b)
    report = index_cache.prune(max_bytes=1)
    assert report.removed == ()
    assert report.kept_entries == 2
    age(entry_files(a), 120)
    report = index_cache.prune(max_bytes=1)
    assert [r.path for r in report.removed] == [str(a.path)]


def test_no_cap_keeps_everything_but_stale_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``AUDITVIEW_CACHE_MAX_BYTES=off`` (or ``max_bytes=0``) evicts nothing for size."""
    monkeypatch.setenv("AUDITVIEW_CACHE_MAX_BYTES", "off")
    a, b = make_log(tmp_path, "a.jsonl"), make_log(tmp_path, "b.jsonl")
    load(a)
    load(b)
    age(entry_files(a) + entry_files(b), 1000)
    assert index_cache.prune().removed == ()
    assert index_cache.prune(max_bytes=0).removed == ()
    b.path.unlink()
    assert [r.reason for r in index_cache.prune().removed] == ["missing"]


def test_store_enforces_the_cap_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed_offsets: list[int]
) -> None:
    """A store over the cap evicts at once, even between full prunes (the cap check is only a listing)."""
    a, b = make_log(tmp_path, "a.jsonl"), make_log(tmp_path, "b.jsonl")
    load(a)
    assert stamp().exists()  # the first store ran the full prune
    size = entry_size(a)
    age(entry_files(a), 120)
    monkeypatch.setenv("AUDITVIEW_CACHE_MAX_BYTES", str(size * 3 // 2))
    load(b)
    assert entry_files(a) == []
    assert entry_files(b) != []
    parsed_offsets.clear()
    load(b)
    assert parsed_offsets == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 2 << 30),
        ("", 2 << 30),
        ("  ", 2 << 30),
        ("0", 0),
        ("off", 0),
        ("OFF", 0),
        ("none", 0),
        ("unlimited", 0),
        ("0M", 0),
        ("1048576", 1048576),
        (" 7 ", 7),
        ("100b", 100),
        ("10k", 10 << 10),
        ("10KB", 10 << 10),
        ("10KiB", 10 << 10),
        ("500M", 500 << 20),
        ("500 MiB", 500 << 20),
        ("1.5G", 3 << 29),
        ("2gb", 2 << 30),
        ("1T", 1 << 40),
        (".5k", 512),
        ("0.0001k", 1),
        ("-5", 2 << 30),
        ("lots", 2 << 30),
        ("1e9", 2 << 30),
        ("10 X", 2 << 30),
        ("10kk", 2 << 30),
    ],
)
def test_cap_environment_variable(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: int) -> None:
    """Sizes with 1024-based suffixes; 0/off/none/unlimited = no cap; unset or invalid = 2 GiB."""
    if value is None:
        monkeypatch.delenv("AUDITVIEW_CACHE_MAX_BYTES", raising=False)
    else:
        monkeypatch.setenv("AUDITVIEW_CACHE_MAX_BYTES", value)
    assert index_cache.cache_max_bytes() == expected


# --- rate limiting ----------------------------------------------------------------------------------------


def test_full_prune_after_a_store_is_rate_limited(tmp_path: Path) -> None:
    """Stale entries are looked for at most once per interval after stores (a stamp file says when)."""
    a, b, c = (make_log(tmp_path, f"{name}.jsonl") for name in "abc")
    load(a)
    first = stamp().stat().st_mtime_ns
    a.path.unlink()
    load(b)
    assert entry_files(a) != []  # the full prune ran a moment ago: not again
    assert stamp().stat().st_mtime_ns == first
    age([stamp()], index_cache.PRUNE_INTERVAL_SECONDS + 1)
    load(c)
    assert entry_files(a) == []
    assert time.time() - stamp().stat().st_mtime < 30
    assert entry_files(b) != []
    assert entry_files(c) != []


def test_stamp_in_the_future_does_not_stop_pruning(tmp_path: Path) -> None:
    """A stamp from a clock that went back is treated as due, not as years of silence."""
    a, b = make_log(tmp_path, "a.jsonl"), make_log(tmp_path, "b.jsonl")
    load(a)
    a.path.unlink()
    future = time.time_ns() + 10**15
    os.utime(stamp(), ns=(future, future))
    load(b)
    assert entry_files(a) == []


def test_warm_load_does_not_prune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only stores trigger eviction: a fully warm load neither scans nor removes anything."""
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    calls: list[int] = []
    monkeypatch.setattr(cache_writing, "after_store", lambda directory: calls.append(1))
    load(source)
    assert calls == []


# --- clear -----------------------------------------------------------------------------------------------


def test_clear_removes_every_entry_and_loads_still_work(tmp_path: Path, parsed_offsets: list[int]) -> None:
    """``clear`` empties the cache (leftovers too) and reports each entry; the next load parses again."""
    a, b = make_log(tmp_path, "a.jsonl"), make_log(tmp_path, "b.jsonl")
    load(a)
    load(b)
    (index_cache.cache_dir() / f".{'e' * 40}.json.12345678.tmp").write_bytes(b"x")
    sizes = entry_size(a) + entry_size(b)
    report = index_cache.clear()
    assert sorted((r.path, r.reason) for r in report.removed) == [
        (str(a.path), "cleared"),
        (str(b.path), "cleared"),
    ]
    assert report.leftovers == 1
    assert report.freed_bytes == sizes + 1
    assert (report.kept_entries, report.kept_bytes, report.errors) == (0, 0, 0)
    assert [p.name for p in index_cache.cache_dir().iterdir()] == [".last-prune"]
    parsed_offsets.clear()
    assert_equals_uncached(a)
    assert parsed_offsets == [0, 0]  # cold, then the uncached comparison


def test_prune_and_clear_on_a_missing_cache(tmp_path: Path) -> None:
    """No cache directory: empty reports, and no directory is created."""
    assert index_cache.prune() == index_cache.PruneReport()
    assert index_cache.clear() == index_cache.PruneReport()
    assert not index_cache.cache_dir().exists()


# --- concurrent readers and writers ----------------------------------------------------------------------


def test_entry_evicted_between_lookup_and_use_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader whose entry is removed after its lookup (before reading all of it) still loads correctly."""
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    with source.path.open("ab") as out:
        out.write(lines(40, 60))  # so that the load reads the whole entry again to store it
    real = index_cache.lookup

    def lookup_then_evict(source: SourceFile, wanted: Any) -> Any:
        entry = real(source, wanted)
        assert entry is not None
        assert index_cache.clear().removed
        return entry

    monkeypatch.setattr(index_cache, "lookup", lookup_then_evict)
    warm = AuditIndex.load([source], columns={"ts", "duration_ms"})
    index_cache.wait_pending()
    monkeypatch.setattr(index_cache, "lookup", real)
    cold = AuditIndex.load([source], columns={"ts", "duration_ms"}, cache=False)
    assert warm.frame.equals(cold.frame)
    assert warm.rejects == cold.rejects


def test_metadata_gone_before_data_is_read_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eviction between reading the metadata and opening the rows: the lookup misses instead of failing."""
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    import polars as pl

    real = pl.read_parquet

    def evict_first(*args: Any, **kwargs: Any) -> Any:
        eviction._Pruner(index_cache.cache_dir(), time.time()).run(0, full=False, everything=True)
        return real(*args, **kwargs)

    monkeypatch.setattr(pl, "read_parquet", evict_first)
    assert index_cache.lookup(source, {"ts"}) is None


def test_entry_used_after_the_listing_is_not_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hit (or a new store) between the pruner's listing and its removal wins: the entry stays whole."""
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    age(entry_files(source), 1000)
    real = eviction._Pruner._scan

    def scan_then_hit(self: Any) -> Any:
        listing = real(self)
        assert index_cache.lookup(source, {"ts"}) is not None  # another reader's hit touches the entry
        return listing

    monkeypatch.setattr(eviction._Pruner, "_scan", scan_then_hit)
    report = index_cache.prune(max_bytes=1)
    assert report.removed == ()
    assert len(entry_files(source)) == 3  # metadata, rows, rejects
    monkeypatch.setattr(eviction._Pruner, "_scan", real)
    assert_equals_uncached(source)


def test_young_data_of_a_writer_in_flight_survives_eviction_of_its_key(tmp_path: Path) -> None:
    """Evicting an entry removes the files its metadata names, not a newer writer's unnamed rows."""
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    age(entry_files(source), 1000)
    writing = index_cache.cache_dir() / f"{entry_key(source.path)}-ffffffffffff.rows.parquet"
    writing.write_bytes(b"rows of a writer that has not renamed its metadata in yet")
    report = index_cache.prune(max_bytes=1)
    assert [r.path for r in report.removed] == [str(source.path)]
    assert entry_files(source) == [writing]


def test_loads_stay_correct_while_another_thread_clears(tmp_path: Path) -> None:
    """Loads racing with repeated clears and prunes always give the uncached result."""
    sources = [make_log(tmp_path, f"{name}.jsonl", 60) for name in "ab"]
    expected = [AuditIndex.load([s], cache=False) for s in sources]
    stop = threading.Event()
    failures: list[BaseException] = []

    def evict() -> None:
        try:
            while not stop.is_set():
                index_cache.clear()
                index_cache.prune(max_bytes=1)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    thread = threading.Thread(target=evict)
    thread.start()
    try:
        for _ in range(8):
            for source, cold in zip(sources, expected, strict=True):
                warm = AuditIndex.load([source])
                assert warm.frame.equals(cold.frame)
                assert warm.rejects == cold.rejects
    finally:
        stop.set()
        thread.join()
        index_cache.wait_pending()
    assert failures == []


# --- read-only or missing cache --------------------------------------------------------------------------


def test_cache_path_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache dir that cannot exist: loads work, prune and clear report nothing, nothing raises."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    source = make_log(tmp_path, "a.jsonl")
    assert_equals_uncached(source)
    assert index_cache.prune() == index_cache.PruneReport()
    assert index_cache.clear() == index_cache.PruneReport()
    eviction.after_store(index_cache.cache_dir())  # would raise only through its quiet wrapper
    assert blocker.read_bytes() == b""


def test_read_only_cache_never_raises_and_stays_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed_offsets: list[int]
) -> None:
    """Removal and last-use updates that fail (as on a read-only file system; tests run as root, so
    simulated) are counted, not raised; hits still work."""
    a, b = make_log(tmp_path, "a.jsonl"), make_log(tmp_path, "b.jsonl")
    load(a)
    load(b)
    age(entry_files(a) + entry_files(b), 1000)
    b.path.unlink()
    files = entry_files(a) + entry_files(b)
    directory = str(index_cache.cache_dir())
    real_unlink, real_utime = os.unlink, os.utime

    def refuse(real: Any) -> Any:
        def call(path: Any, *args: Any, **kwargs: Any) -> Any:
            if str(path).startswith(directory):
                raise PermissionError(30, "Read-only file system", str(path))
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "unlink", refuse(real_unlink))
    monkeypatch.setattr(os, "utime", refuse(real_utime))
    report = index_cache.prune(max_bytes=1)
    assert report.removed == ()
    assert report.errors == 2  # b's stale metadata, then a's for the cap
    assert all(f.exists() for f in files)
    report = index_cache.clear()
    assert (report.removed, report.errors, report.kept_entries) == ((), 2, 2)  # data kept with its metadata
    assert all(f.exists() for f in files)
    parsed_offsets.clear()
    load(a)  # a hit whose last use cannot be recorded
    assert parsed_offsets == []
    assert_equals_uncached(a)


def test_eviction_failure_never_loses_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever goes wrong while evicting after a store, the entry was written and is used."""

    def broken(self: Any, limit: int, **kwargs: Any) -> Any:
        raise RuntimeError("eviction bug")

    real = eviction._Pruner.run
    monkeypatch.setattr(eviction._Pruner, "run", broken)
    source = make_log(tmp_path, "a.jsonl")
    load(source)
    assert len(entry_files(source)) == 3
    monkeypatch.setattr(eviction._Pruner, "run", real)
    assert index_cache.lookup(source, {"ts"}) is not None

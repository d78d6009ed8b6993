"""The persistent index cache: a warm load equals an uncached one whatever happened to the file in between."""

from __future__ import annotations

import gzip
import os
import stat
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditview.core import cache as index_cache
from auditview.core.index import AuditIndex
from auditview.source.types import SourceFile


def record(second: int, request_id: str, **overrides: Any) -> bytes:
    """One valid record line (without ``\\n``); timestamps run backwards so line order is not time order."""
    base: dict[str, Any] = {
        "timestamp": f"2026-01-01T00:{59 - second % 60:02d}:{second % 60:02d}Z",
        "tool": "t",
        "command": "c",
        "params": {"n": second},
        "exit_code": second % 3,
        "duration_ms": second,
        "request_id": request_id,
        "trace_id": f"tr{second % 4}",
        "version": "1",
        "operator": "op",
        "extra_field": second,
    }
    base.update(overrides)
    return orjson.dumps(base)


def lines(start: int, stop: int) -> bytes:
    """Records ``start``..``stop`` as JSONL, with a malformed line every 7th."""
    return b"".join((b"not json" if i % 7 == 3 else record(i, f"r{i}")) + b"\n" for i in range(start, stop))


def assert_same_as_uncached(sources: list[SourceFile], columns: set[str] | None = None) -> AuditIndex:
    """Load with the cache and without it; the frames, rejects and partial counts must be equal."""
    warm = AuditIndex.load(sources, columns=columns)
    index_cache.wait_pending()
    cold = AuditIndex.load(sources, columns=columns, cache=False)
    assert warm.frame.equals(cold.frame)
    assert warm.frame.schema == cold.frame.schema
    assert warm.rejects == cold.rejects
    assert warm.incomplete == cold.incomplete
    assert warm.covered == cold.covered
    return warm


def cache_files() -> list[Path]:
    """The files in the cache directory."""
    directory = index_cache.cache_dir()
    return sorted(directory.iterdir()) if directory.exists() else []


def test_warm_load_reads_nothing_and_equals_uncached(tmp_path: Path, parsed_offsets: list[int]) -> None:
    """The second load of an unchanged file parses nothing and gives the same frame, rejects and partial."""
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(0, 50) + b'{"partial')
    source = SourceFile(path, str(path))
    assert_same_as_uncached([source])
    parsed_offsets.clear()
    index = assert_same_as_uncached([source])
    assert parsed_offsets == [0]  # only the uncached comparison load parsed
    assert index.incomplete == 1
    assert len(index.rejects) == 7
    directory = index_cache.cache_dir()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in cache_files()} == {0o600}
    assert str(os.environ["XDG_CACHE_HOME"]) in str(directory)


def test_appended_lines_are_parsed_alone(tmp_path: Path, parsed_offsets: list[int]) -> None:
    """After an append (which also completes a partial line) only the new bytes are parsed."""
    path = tmp_path / "a.jsonl"
    first = lines(0, 30)
    path.write_bytes(first + b'{"partial')
    source = SourceFile(path, str(path))
    AuditIndex.load([source])
    index_cache.wait_pending()
    with path.open("ab") as out:
        out.write(b'": 1}\n' + lines(30, 60))
    parsed_offsets.clear()
    warm = AuditIndex.load([source])
    assert parsed_offsets == [len(first)]
    index_cache.wait_pending()
    assert warm.frame.equals(AuditIndex.load([source], cache=False).frame)
    parsed_offsets.clear()
    index = assert_same_as_uncached([source])
    assert parsed_offsets == [0]
    assert index.frame.height == 60 - 9 + 0  # 9 malformed lines of 60, the completed partial is a reject too
    assert len(index.rejects) == 9 + 1


@pytest.mark.parametrize("change", ["truncate", "replace", "rewrite_same_size", "shrink_then_grow"])
def test_changed_file_is_parsed_again(tmp_path: Path, change: str) -> None:
    """Truncated, replaced or rewritten files never come back from a stale cache entry."""
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(0, 40))
    source = SourceFile(path, str(path))
    assert_same_as_uncached([source])
    before = path.stat()
    if change == "truncate":
        os.truncate(path, len(lines(0, 20)))
    elif change == "replace":
        other = tmp_path / "b.jsonl"
        other.write_bytes(lines(0, 40).replace(b'"op"', b'"xx"'))
        other.rename(path)
    elif change == "rewrite_same_size":
        with path.open("r+b") as out:
            out.seek(len(lines(0, 10)))
            out.write(lines(10, 20).replace(b'"op"', b'"yy"'))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    else:  # shrink, then grow past the old size with other records: same inode, fingerprints differ
        path.write_bytes(lines(100, 150))
    after = assert_same_as_uncached([source])
    assert after.frame.height > 0


def test_corrupt_or_foreign_cache_falls_back_to_parsing(tmp_path: Path) -> None:
    """Garbage, truncated or missing cache files and another cache version are misses, never errors."""
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(0, 40))
    source = SourceFile(path, str(path))
    assert_same_as_uncached([source])
    rows = next(p for p in cache_files() if p.name.endswith(".rows.parquet"))
    rows.write_bytes(rows.read_bytes()[:100])
    assert_same_as_uncached([source])
    rows = next(p for p in cache_files() if p.name.endswith(".rows.parquet"))
    rows.write_bytes(b"\0" * rows.stat().st_size)
    assert_same_as_uncached([source])
    meta = next(p for p in cache_files() if p.name.endswith(".json"))
    meta.write_bytes(b"{not json")
    assert_same_as_uncached([source])
    for p in cache_files():
        if p.name.endswith(".rejects.parquet"):
            p.unlink()
    assert_same_as_uncached([source])
    meta = next(p for p in cache_files() if p.name.endswith(".json"))
    document = orjson.loads(meta.read_bytes())
    document["version"] = index_cache.CACHE_VERSION + 1
    meta.write_bytes(orjson.dumps(document))
    assert_same_as_uncached([source])
    assert orjson.loads(meta.read_bytes())["version"] == index_cache.CACHE_VERSION  # rewritten


def test_projected_loads_share_and_widen_the_entry(tmp_path: Path, parsed_offsets: list[int]) -> None:
    """A projected entry serves narrower loads; a wider load parses again and stores the union of columns."""
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(0, 40))
    source = SourceFile(path, str(path))
    assert_same_as_uncached([source], {"ts", "duration_ms", "trace_id"})
    parsed_offsets.clear()
    AuditIndex.load([source], columns={"duration_ms"})
    assert parsed_offsets == []
    assert_same_as_uncached([source], {"ts", "command"})
    assert index_cache.cached_columns(source) == {"ts", "duration_ms", "trace_id", "command", "warnings"}
    parsed_offsets.clear()
    assert_same_as_uncached([source], {"trace_id", "command"})
    assert parsed_offsets == [0]
    assert_same_as_uncached([source])
    assert_same_as_uncached([source], {"ts", "params"})


def test_gzip_source_is_cached_whole_and_replaced_copy_is_noticed(
    tmp_path: Path, parsed_offsets: list[int]
) -> None:
    """A compressed file is cached whole (with its partial last line); another file at the path is a miss."""
    path = tmp_path / "a.jsonl.1.gz"
    path.write_bytes(gzip.compress(lines(0, 30) + b'{"cut'))
    source = SourceFile(path, str(tmp_path / "a.jsonl"), 1, "gzip")
    assert_same_as_uncached([source])
    parsed_offsets.clear()
    warm = AuditIndex.load([source])
    assert parsed_offsets == []
    assert warm.incomplete == 1
    path.write_bytes(gzip.compress(lines(0, 31)))
    assert_same_as_uncached([source])


def test_several_files_and_rotation_between_loads(tmp_path: Path) -> None:
    """Rotating the live file to a sibling and starting a new one gives the same result as uncached."""
    live = tmp_path / "a.jsonl"
    live.write_bytes(lines(0, 30))
    rotated = tmp_path / "a.jsonl.1"
    sources = [SourceFile(live, str(live))]
    assert_same_as_uncached(sources)
    live.rename(rotated)
    live.write_bytes(lines(30, 45))
    sources = [SourceFile(rotated, str(live), 1), SourceFile(live, str(live))]
    assert_same_as_uncached(sources)
    assert_same_as_uncached(sources)


def test_a_rotated_file_keeps_its_entry(tmp_path: Path, parsed_offsets: list[int]) -> None:
    """After ``a.jsonl`` is renamed to ``a.jsonl.1`` and a new ``a.jsonl`` starts, the rotated file is read
    from the entry made under its old name (same device and inode, same bytes), which moves to the new name;
    only the new file is parsed, and the result equals an uncached load."""
    import json

    live = tmp_path / "a.jsonl"
    live.write_bytes(lines(0, 30) + b'{"partial')
    rotated = tmp_path / "a.jsonl.1"
    assert_same_as_uncached([SourceFile(live, str(live))])
    live.rename(rotated)
    live.write_bytes(lines(30, 45))
    sources = [SourceFile(rotated, str(live), 1), SourceFile(live, str(live))]
    parsed_offsets.clear()
    index = AuditIndex.load(sources)
    index_cache.wait_pending()
    assert parsed_offsets == [0]  # the new live file only
    assert index.incomplete == 1
    cold = AuditIndex.load(sources, cache=False)
    assert index.frame.equals(cold.frame)
    assert index.rejects == cold.rejects
    metas = [json.loads(path.read_bytes()) for path in cache_files() if path.suffix == ".json"]
    assert sorted(meta["path"] for meta in metas) == sorted([str(live), str(rotated)])
    for meta in metas:  # every entry names data files that exist
        assert (index_cache.cache_dir() / meta["rows"]).exists()
    parsed_offsets.clear()
    assert_same_as_uncached(sources)
    assert parsed_offsets == [0, 0]  # only the uncached comparison load parsed (both files)


def test_a_hard_link_does_not_take_over_the_other_names_entry(
    tmp_path: Path, parsed_offsets: list[int]
) -> None:
    """Two names of one file (a hard link) each keep an entry: a miss on the second name does not move the
    first name's entry away while that name still exists."""
    import json

    first = tmp_path / "a.jsonl"
    first.write_bytes(lines(0, 20))
    second = tmp_path / "b.jsonl"
    os.link(first, second)
    assert_same_as_uncached([SourceFile(first, str(first))])
    parsed_offsets.clear()
    assert_same_as_uncached([SourceFile(second, str(second))])
    assert parsed_offsets == [0, 0]  # the second name was parsed (and compared with an uncached load)
    paths = sorted(json.loads(p.read_bytes())["path"] for p in cache_files() if p.suffix == ".json")
    assert paths == sorted([str(first), str(second)])
    parsed_offsets.clear()
    assert_same_as_uncached([SourceFile(first, str(first)), SourceFile(second, str(second))])
    assert parsed_offsets == [0, 0]  # both warm; only the uncached comparison parsed


def test_unwritable_cache_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the cache directory cannot be created the load still works and gives the same result."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(0, 20))
    assert_same_as_uncached([SourceFile(path, str(path))])
    assert blocker.is_file()


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """``cache=False`` and ``AUDITVIEW_CACHE=0`` neither read nor write cache files."""
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(0, 20))
    source = SourceFile(path, str(path))
    if how == "environment":
        monkeypatch.setenv("AUDITVIEW_CACHE", "0")
        AuditIndex.load([source])
    else:
        AuditIndex.load([source], cache=False)
    index_cache.wait_pending()
    assert cache_files() == []
    monkeypatch.setenv("AUDITVIEW_CACHE", "1")
    AuditIndex.load([source])
    index_cache.wait_pending()
    assert cache_files() != []


def test_named_pipe_is_read_and_never_cached(tmp_path: Path) -> None:
    """A FIFO source is read once like a stream: no fingerprint read, no cache entry, same rows."""
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    data = lines(0, 20)

    def feed() -> None:
        with fifo.open("wb") as out:
            out.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    index = AuditIndex.load([SourceFile(fifo, str(fifo))])
    writer.join()
    index_cache.wait_pending()
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(data)
    expected = AuditIndex.load([SourceFile(plain, str(plain))], cache=False)
    assert index.frame.equals(expected.frame)
    assert cache_files() == []

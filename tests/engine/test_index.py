"""AuditIndex: loading files, merging and sorting records, incremental growth, the way back to raw bytes."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from auditview.core.index import AuditIndex, RawLineChanged
from auditview.source.types import Chunk, SourceFile
from tests.engine.lines import record


def write(path: Path, lines: list[bytes], tail: bytes = b"") -> SourceFile:
    """Write ``lines`` (+ an unterminated ``tail``) to ``path`` and describe it as a source."""
    path.write_bytes(b"".join(line + b"\n" for line in lines) + tail)
    return SourceFile(path, str(path))


def test_load_merges_files_by_time_with_stable_ties(tmp_path: Path) -> None:
    """Records from several files sort by timestamp, ties by file then offset."""
    day = "2026-01-01T00:00:0"
    a = write(tmp_path / "a.jsonl", [record(f"{day}2Z", "a1"), record(f"{day}1Z", "a2")])
    b = write(tmp_path / "b.jsonl", [record(f"{day}1Z", "b1"), record(f"{day}0Z", "b2")])
    index = AuditIndex.load([a, b])
    assert index.frame["request_id"].to_list() == ["b2", "a2", "b1", "a1"]
    assert index.files == [a, b]


def test_partial_last_line_is_incomplete_not_reject(tmp_path: Path) -> None:
    """A last line without newline is counted as incomplete and is neither a row nor a reject."""
    source = write(tmp_path / "a.jsonl", [record("2026-01-01T00:00:00Z", "r1")], tail=b'{"timestamp": "2026')
    index = AuditIndex.load([source])
    assert index.frame.height == 1
    assert index.rejects == []
    assert index.incomplete == 1
    assert index.covered == {0: (source.path.stat().st_size - len(b'{"timestamp": "2026'), 2)}


def test_raw_line_returns_exact_bytes(tmp_path: Path) -> None:
    """raw_line and iter_raw give back each record's exact source bytes, also from a gzip file."""
    lines = [record("2026-01-01T00:00:00Z", "r1", params={"x": "é  spaced"}), b' {"odd": "but rejected"}']
    lines.append(record("2026-01-01T00:00:01+05:00", "r2").replace(b",", b", "))
    plain = write(tmp_path / "a.jsonl", lines)
    packed = tmp_path / "a.jsonl.1.gz"
    packed.write_bytes(gzip.compress(b"".join(line + b"\n" for line in lines)))
    index = AuditIndex.load([plain, SourceFile(packed, str(plain.path), 1, "gzip")])
    frame = index.frame
    assert frame.height == 4
    assert len(index.rejects) == 2
    got = list(index.iter_raw(frame))
    assert sorted(got) == sorted([lines[0], lines[2]] * 2)
    first = frame.row(0, named=True)
    assert index.raw_line(first["file_id"], first["offset"], first["length"]) == got[0]


def test_raw_line_notices_a_rewritten_file(tmp_path: Path) -> None:
    """When the file no longer holds the line at its offset, raw_line raises, not other bytes."""
    source = write(tmp_path / "a.jsonl", [record("2026-01-01T00:00:00Z", "r1")])
    index = AuditIndex.load([source])
    row = index.frame.row(0, named=True)
    source.path.write_bytes(b"short\n")
    with pytest.raises(RawLineChanged):
        index.raw_line(row["file_id"], row["offset"], row["length"])


def test_add_chunk_equals_one_shot_load(tmp_path: Path) -> None:
    """Feeding a file chunk by chunk gives the same frame and rejects as loading it at once."""
    lines = [record(f"2026-01-01T00:00:{(7 * i) % 60:02d}Z", f"r{i}") for i in range(40)]
    lines[5] = b"broken"
    source = write(tmp_path / "a.jsonl", lines)
    whole = AuditIndex.load([source])
    growing = AuditIndex()
    data = source.path.read_bytes()
    offset, line = 0, 1
    for start in range(0, 40, 7):
        piece = b"".join(part + b"\n" for part in lines[start : start + 7])
        new = growing.add_chunk(Chunk(source, offset, line, piece))
        assert new["ts"].is_sorted()
        offset += len(piece)
        line += 7
    assert offset == len(data)
    assert growing.frame.equals(whole.frame)
    assert [(r.line, r.reason) for r in growing.rejects] == [(r.line, r.reason) for r in whole.rejects]


def test_projected_load_has_same_rows(tmp_path: Path) -> None:
    """A load projected to some columns keeps the same rows, order and rejects as the full load."""
    lines = [record(f"2026-01-01T00:00:0{9 - i}Z", f"r{i}", duration_ms=i) for i in range(10)] + [b"[]"]
    source = write(tmp_path / "a.jsonl", lines)
    full = AuditIndex.load([source])
    part = AuditIndex.load([source], columns={"ts", "duration_ms"})
    assert part.frame.columns == ["ts", "duration_ms", "warnings", "file_id", "offset", "length", "line"]
    assert part.frame.equals(full.frame.select(part.frame.columns))
    assert len(part.rejects) == len(full.rejects) == 1


def test_frame_columns_have_interface_dtypes(tmp_path: Path) -> None:
    """The frame's location and time columns have the dtypes promised in INTERFACES.md."""
    index = AuditIndex.load([write(tmp_path / "a.jsonl", [record("2026-01-01T00:00:00Z", "r")])])
    schema = index.frame.schema
    assert schema["ts"] == pl.Datetime("us", "UTC")
    assert [schema["file_id"], schema["offset"], schema["length"], schema["line"]] == [
        pl.UInt32(),
        pl.Int64(),
        pl.UInt32(),
        pl.UInt32(),
    ]


def test_following_appends_in_order_and_out_of_order(tmp_path: Path) -> None:
    """Chunks arriving in time order and a late record that started earlier both end up in sorted position."""
    path = tmp_path / "a.jsonl"
    source = SourceFile(path, str(path))
    index = AuditIndex()
    offset = 0
    for number, second in enumerate([1, 2, 3, 4, 0], start=1):
        line = record(f"2026-01-01T00:00:0{second}Z", f"r{second}") + b"\n"
        index.add_chunk(Chunk(source, offset, number, line))
        offset += len(line)
        assert index.frame["ts"].is_sorted()
    assert index.frame["request_id"].to_list() == ["r0", "r1", "r2", "r3", "r4"]
    assert index.frame["line"].to_list() == [5, 1, 2, 3, 4]


@pytest.mark.parametrize("cache", [False, True])
def test_line_numbers_across_chunks_long_lines_and_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: bool
) -> None:
    """Rows and rejects carry their 1-based line numbers across many chunks (numbered by the parse workers,
    not the reader), around over-long lines, and after an append read on top of the cache."""
    import auditview.core.index as index_module
    from auditview.contract import MAX_LINE_BYTES

    monkeypatch.setattr(index_module, "_CHUNK_BYTES", 4096)
    lines = [record(f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", f"r{i}") for i in range(300)]
    lines[7] = b"not json"
    lines[150] = b"x" * (MAX_LINE_BYTES + 10)  # over the cap: rejected by the reader
    lines[151] = b"{}"
    source = write(tmp_path / "a.jsonl", lines)
    index = AuditIndex.load([source], cache=cache)
    expected = [i + 1 for i in range(300) if i not in (7, 150, 151)]
    assert sorted(index.frame["line"].to_list()) == expected
    assert index.frame.filter(pl.col("request_id") == "r200")["line"].item() == 201
    assert [(reject.line, reject.offset) for reject in index.rejects] == [
        (8, sum(len(line) + 1 for line in lines[:7])),
        (151, sum(len(line) + 1 for line in lines[:150])),
        (152, sum(len(line) + 1 for line in lines[:151])),
    ]
    assert index.covered == {0: (source.path.stat().st_size, 301)}
    with source.path.open("ab") as handle:
        handle.write(record("2026-01-01T01:00:00Z", "late") + b"\n" + b"[1]\n")
    again = AuditIndex.load([source], cache=cache)
    assert again.frame.filter(pl.col("request_id") == "late")["line"].item() == 301
    assert sorted(reject.line for reject in again.rejects) == [8, 151, 152, 302]
    assert again.covered[0][1] == 303

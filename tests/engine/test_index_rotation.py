"""AuditIndex after the source layer reports a rotation or a truncation: raw reads keep finding the bytes."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from auditview.core.index import AuditIndex, RawLineChanged
from auditview.source.types import Chunk, SourceFile
from tests.engine.lines import record as record_line


def record(second: int, request_id: str) -> bytes:
    """One valid record line (without ``\\n``) at ``second`` seconds past the hour."""
    return record_line(f"2026-01-01T00:00:{second:02d}Z", request_id)


def loaded(path: Path, records: list[bytes]) -> tuple[SourceFile, AuditIndex]:
    """Write ``records`` (plus one malformed line) to ``path`` and load it."""
    path.write_bytes(b"".join(line + b"\n" for line in records) + b"broken\n")
    source = SourceFile(path, str(path))
    return source, AuditIndex.load([source], cache=False)


def all_raw(index: AuditIndex) -> list[bytes]:
    """The raw bytes of every row, in frame order."""
    return list(index.iter_raw(index.frame))


def test_rename_rotation_repoints_rows_and_new_file_gets_new_id(tmp_path: Path) -> None:
    """After a rename the old rows read from the sibling, and the new live file's chunks get a new file_id."""
    lines = [record(i, f"r{i}") for i in range(5)]
    path = tmp_path / "a.jsonl"
    source, index = loaded(path, lines)
    rotated = tmp_path / "a.jsonl.1"
    path.rename(rotated)
    moved = SourceFile(rotated, str(path), 1)
    path.write_bytes(record(30, "new") + b"\n")
    index.file_moved(source, moved)
    assert all_raw(index) == lines
    assert index.files[0] == moved
    assert {reject.path for reject in index.rejects} == {str(rotated)}
    index.add_chunk(Chunk(source, 0, 1, path.read_bytes()))
    assert index.frame["file_id"].to_list() == [0] * 5 + [1]
    assert all_raw(index) == [*lines, record(30, "new")]


def test_rotation_to_a_compressed_copy_reads_decompressed_bytes(tmp_path: Path) -> None:
    """When a gzip copy replaced the file, the rows are read back from it at the same offsets."""
    lines = [record(i, f"r{i}") for i in range(4)]
    path = tmp_path / "a.jsonl"
    source, index = loaded(path, lines)
    packed = tmp_path / "a.jsonl.1.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()
    index.file_moved(source, SourceFile(packed, str(path), 1, "gzip"))
    assert all_raw(index) == lines


def test_unlinked_file_stays_readable_through_an_open_descriptor(tmp_path: Path) -> None:
    """Rows of an unlinked file stay readable if it was read before; the path is no longer theirs."""
    lines = [record(i, f"r{i}") for i in range(3)]
    path = tmp_path / "a.jsonl"
    source, index = loaded(path, lines)
    assert all_raw(index) == lines  # opens the descriptor
    path.unlink()
    index.file_moved(source, None)
    assert all_raw(index) == lines
    path.write_bytes(record(40, "other") + b"\n")
    assert index.file_id(source) == 1


def test_truncation_drops_rows_and_rejects(tmp_path: Path) -> None:
    """A truncated file's old rows and rejects are dropped; its new content is indexed under a new id."""
    path = tmp_path / "a.jsonl"
    source, index = loaded(path, [record(i, f"r{i}") for i in range(3)])
    path.write_bytes(record(50, "after") + b"\n")
    assert index.file_truncated(source) == 3
    assert index.frame.height == 0
    assert index.rejects == []
    index.add_chunk(Chunk(source, 0, 1, path.read_bytes()))
    assert index.frame["file_id"].to_list() == [1]
    assert all_raw(index) == [record(50, "after")]


def test_copytruncate_repoints_rows_to_the_copy(tmp_path: Path) -> None:
    """With ``copied_to`` the old rows read from the copy, and the truncated original is indexed anew."""
    lines = [record(i, f"r{i}") for i in range(3)]
    path = tmp_path / "a.jsonl"
    source, index = loaded(path, lines)
    assert all_raw(index) == lines  # a descriptor is now open on the file that will be truncated
    copy = tmp_path / "a.jsonl.1"
    copy.write_bytes(path.read_bytes())
    path.write_bytes(b"")
    assert index.file_truncated(source, SourceFile(copy, str(path), 1)) == 0
    assert all_raw(index) == lines
    assert {reject.path for reject in index.rejects} == {str(copy)}


def test_without_event_a_truncated_file_raises_not_wrong_bytes(tmp_path: Path) -> None:
    """Batched raw reads still notice bytes that changed under the index."""
    path = tmp_path / "a.jsonl"
    _, index = loaded(path, [record(i, f"r{i}") for i in range(3)])
    path.write_bytes(b"x" * 10 + b"\n")
    with pytest.raises(RawLineChanged):
        all_raw(index)


def test_batched_raw_reads_keep_frame_order_across_gaps(tmp_path: Path) -> None:
    """Rows far apart and in reverse order come back in the frame's order, byte for byte."""
    filler = [record(i % 60, "x" * 3000) for i in range(40)]
    lines = [record(i % 60, f"r{i}") for i in range(20)]
    mixed = [line for pair in zip(lines, filler, strict=False) for line in pair] + filler[20:]
    path = tmp_path / "a.jsonl"
    _, index = loaded(path, mixed)
    wanted = index.frame.filter(index.frame["request_id"].str.starts_with("r")).reverse()
    got = list(index.iter_raw(wanted))
    expected = [index.raw_line(*row) for row in wanted.select("file_id", "offset", "length").iter_rows()]
    assert got == expected
    assert sorted(got) == sorted(lines)

"""Following from starting positions: ``initial()`` skips what an index holds; nothing lost or doubled."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from auditview.source.follow import FileTruncated, Follower
from auditview.source.types import Chunk
from tests.source.support import record, split_chunks


def _identity(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _append(path: Path, data: bytes) -> None:
    """Append like the writer does: O_APPEND, one write."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _lines(items: object) -> list[tuple[str, int, int, bytes]]:
    return split_chunks(item for item in items if isinstance(item, Chunk))  # type: ignore[attr-defined]


def test_initial_starts_at_the_given_offset_and_line_number(tmp_path: Path) -> None:
    """A live file with a position yields only the lines after it, with their true offsets and numbers."""
    log = tmp_path / "audit.jsonl"
    lines = [record("a", i) for i in range(10)]
    log.write_bytes(b"".join(lines))
    offset = sum(len(line) for line in lines[:6])
    with Follower([str(log)], positions={_identity(log): (offset, 7)}) as follower:
        seen = split_chunks(follower.initial())
        _append(log, record("a", 10))
        follower.wait(0.2)
        seen += _lines(follower.poll())
    assert [body for *_, body in seen] == [*lines[6:], record("a", 10)]
    assert [number for _, _, number, _ in seen] == [7, 8, 9, 10, 11]
    data = log.read_bytes()
    for _, where, number, body in seen:
        assert data[where : where + len(body)] == body
        assert data.count(b"\n", 0, where) + 1 == number


def test_a_partial_line_at_the_position_is_completed_once(tmp_path: Path) -> None:
    """A line half-written when the index stopped comes out once, when its newline arrives."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(record("a", 0) + b'{"tag":"half')
    with Follower([str(log)], positions={_identity(log): (len(record("a", 0)), 2)}) as follower:
        assert split_chunks(follower.initial()) == []
        _append(log, b'"}\n')
        follower.wait(0.2)
        seen = _lines(follower.poll())
    assert [(number, body) for _, _, number, body in seen] == [(2, b'{"tag":"half"}\n')]


def test_siblings_with_positions_are_not_read_again(tmp_path: Path) -> None:
    """Rotated siblings already indexed (plain and gzip) yield nothing; one without a position is read."""
    log = tmp_path / "audit.jsonl"
    old = tmp_path / "audit.jsonl.1"
    older = tmp_path / "audit.jsonl.2.gz"
    oldest = tmp_path / "audit.jsonl.3"
    oldest.write_bytes(record("d", 0))
    older.write_bytes(gzip.compress(record("c", 0) + record("c", 1)))
    old.write_bytes(record("b", 0))
    log.write_bytes(record("a", 0))
    positions = {
        _identity(old): (len(record("b", 0)), 2),
        _identity(older): (len(record("c", 0)) * 2, 3),
        _identity(log): (len(record("a", 0)), 2),
    }
    with Follower([str(tmp_path)], positions=positions) as follower:
        seen = split_chunks(follower.initial())
    assert [body for *_, body in seen] == [record("d", 0)]


def test_a_file_shorter_than_its_position_is_read_from_the_start(tmp_path: Path) -> None:
    """A file truncated since it was indexed (now shorter than the position) is read again from 0."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(record("a", 0))
    with Follower([str(log)], positions={_identity(log): (10_000, 50)}) as follower:
        seen = split_chunks(follower.initial())
    assert [(where, number) for _, where, number, _ in seen] == [(0, 1)]


def test_a_position_for_another_inode_is_ignored(tmp_path: Path) -> None:
    """A position keyed by an inode that is not the file's is not applied to it."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(record("a", 0) + record("a", 1))
    dev, ino = _identity(log)
    with Follower([str(log)], positions={(dev, ino + 1): (len(record("a", 0)), 2)}) as follower:
        seen = split_chunks(follower.initial())
    assert len(seen) == 2


def test_copytruncate_after_starting_at_a_position_recovers_from_the_copy(tmp_path: Path) -> None:
    """The remembered head and tail still recognise the copy when the file started at a position."""
    log = tmp_path / "audit.jsonl"
    first = record("a", 0, pad=300) + record("a", 1)
    log.write_bytes(first)
    with Follower([str(tmp_path)], positions={_identity(log): (len(first), 3)}) as follower:
        assert split_chunks(follower.initial()) == []
        _append(log, record("a", 2))
        follower.wait(0.2)
        seen = _lines(follower.poll())
        _append(log, record("a", 3))
        (tmp_path / "audit.jsonl.1").write_bytes(log.read_bytes())
        os.truncate(log, 0)
        _append(log, record("a", 4))
        follower.wait(0.2)
        items = follower.poll()
        seen += _lines(items)
    assert [body for *_, body in seen] == [record("a", i) for i in (2, 3, 4)]
    assert any(isinstance(item, FileTruncated) and item.copied_to is not None for item in items)


def test_files_read_names_a_rotated_file_under_its_new_name(tmp_path: Path) -> None:
    """After a rename rotation both the moved file and the new live file are listed as read."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(record("a", 0))
    with Follower([str(tmp_path)]) as follower:
        list(follower.initial())
        assert [source.path for source in follower.files_read] == [log]
        log.rename(tmp_path / "audit.jsonl.1")
        _append(log, record("a", 1))
        follower.poll()
        assert sorted(source.path.name for source in follower.files_read) == ["audit.jsonl", "audit.jsonl.1"]

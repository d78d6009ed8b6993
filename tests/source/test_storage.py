"""The storage interface on the local filesystem: a file's state, and its stored bytes by range."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from auditview.source.read import FileReader
from auditview.source.storage import LOCAL
from auditview.source.types import FileState, SourceFile
from tests.source.support import record


def test_state_tells_identity_size_time_and_whether_it_is_a_regular_file(tmp_path: Path) -> None:
    """``LOCAL.state`` gives device, inode, size and mtime; a FIFO is not regular; a missing file raises."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(record("a", 1))
    info = os.stat(log)
    assert LOCAL.state(log) == FileState((info.st_dev, info.st_ino), info.st_size, info.st_mtime_ns, True)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert not LOCAL.state(fifo).regular
    with pytest.raises(FileNotFoundError):
        LOCAL.state(tmp_path / "gone.jsonl")


def test_an_open_file_reads_by_range_after_its_name_is_gone(tmp_path: Path) -> None:
    """A file opened through the storage keeps reading the same bytes after a rename and an unlink."""
    log = tmp_path / "audit.jsonl"
    data = record("a", 1) + record("a", 2)
    log.write_bytes(data)
    with LOCAL.open(log) as stored:
        log.rename(tmp_path / "audit.jsonl.1")
        (tmp_path / "audit.jsonl.1").unlink()
        log.write_bytes(b"other bytes\n")
        assert stored.read_range(len(record("a", 1)), len(data)) == record("a", 2)
        assert stored.read_range(len(data), 10) == b""
        assert stored.state().size == len(data)


def test_reader_gives_the_state_and_the_stored_bytes_of_its_file(tmp_path: Path) -> None:
    """``FileReader.read_raw`` reads the file as stored (compressed for gzip), ``state`` describes it."""
    log = tmp_path / "audit.jsonl.1.gz"
    raw = gzip.compress(record("a", 1))
    log.write_bytes(raw)
    with FileReader(SourceFile(log, str(tmp_path / "audit.jsonl"), 1, "gzip")) as reader:
        assert b"".join(chunk.data for chunk in reader.read_available()) == record("a", 1)
        assert reader.read_raw(0, len(raw)) == raw
        assert reader.state() == LOCAL.state(log)

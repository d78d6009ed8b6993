"""Following: appends, partial lines, truncation, rename rotation, copytruncate, new files, stdin, latency."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import pytest

from auditview.source.discover import SourceMissing
from auditview.source.follow import (
    FileAppeared,
    FileRotated,
    FileTruncated,
    Follower,
    LineRejected,
    SourceEvent,
)
from auditview.source.types import Chunk
from tests.source.support import Line, record, split_chunks

EventT = TypeVar("EventT")


class Seen:
    """Everything a follower handed out: lines and events, with line places kept current like an index would.

    ``FileRotated`` re-points earlier lines to where their bytes live now; ``FileTruncated`` re-points them to
    the copy when there is one and otherwise marks them stale (their bytes are gone).
    """

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.events: list[SourceEvent] = []

    def take(self, items: Iterable[Chunk | SourceEvent]) -> None:
        for item in items:
            if isinstance(item, Chunk):
                self.lines.extend(split_chunks([item]))
                continue
            self.events.append(item)
            if isinstance(item, FileRotated):
                self._repoint(str(item.source.path), str(item.moved_to.path) if item.moved_to else "(gone)")
            elif isinstance(item, FileTruncated):
                self._repoint(
                    str(item.source.path), str(item.copied_to.path) if item.copied_to else "(stale)"
                )

    def _repoint(self, old: str, new: str) -> None:
        self.lines = [(new if p == old else p, o, n, b) for p, o, n, b in self.lines]

    def placed(self) -> list[Line]:
        return [line for line in self.lines if not line[0].startswith("(")]

    def bodies(self) -> Counter[bytes]:
        return Counter(body for *_, body in self.lines)

    def of(self, kind: type[EventT]) -> list[EventT]:
        return [e for e in self.events if isinstance(e, kind)]


def _append(path: Path, data: bytes) -> None:
    """Append like the writer does: O_APPEND, one write."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _check_places(lines: list[Line], files: dict[str, bytes]) -> None:
    """Each line's offset and number must match the file it is attributed to now."""
    for path, offset, number, body in lines:
        data = files[path]
        assert data[offset : offset + len(body)] == body
        assert data.count(b"\n", 0, offset) + 1 == number


@pytest.mark.parametrize("use_inotify", [True, False])
def test_appends_in_pieces_come_out_once_with_places(tmp_path: Path, use_inotify: bool) -> None:
    """Lines appended in arbitrary pieces (partial lines too) come out once each, with offset and number."""
    log = tmp_path / "tool" / "audit.jsonl"
    log.parent.mkdir()
    log.write_bytes(record("a", 0))
    written = [record("a", 0)]
    seen = Seen()
    with Follower([str(tmp_path)], use_inotify=use_inotify) as follower:
        seen.take(follower.initial())
        pending = b""
        for i in range(1, 60):
            line = record("a", i, pad=i * 7 % 50)
            written.append(line)
            pending += line
            cut = (i * 13) % (len(pending) + 1)
            _append(log, pending[:cut])
            pending = pending[cut:]
            seen.take(follower.poll())
        _append(log, pending)
        seen.take(follower.poll())
        assert follower.partial_lines() == []
    assert seen.bodies() == Counter(written)
    assert [n for *_, n, _ in seen.lines] == list(range(1, 61))
    _check_places(seen.placed(), {str(log): log.read_bytes()})


def test_partial_line_waits_until_completed(tmp_path: Path) -> None:
    """An unterminated last line is held (reported as partial) and comes out once its newline is written."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(record("p", 1) + b'{"tag":"p","n":2')
    seen = Seen()
    with Follower([str(log)]) as follower:
        seen.take(follower.initial())
        assert seen.bodies() == Counter([record("p", 1)])
        partial = follower.partial_lines()
        assert [(p.offset, p.line, p.length) for p in partial] == [(len(record("p", 1)), 2, 16)]
        seen.take(follower.poll())
        assert len(seen.lines) == 1
        _append(log, b',"pad":""}\n')
        seen.take(follower.poll())
    assert seen.bodies() == Counter([record("p", 1), record("p", 2)])


def test_truncation_rereads_from_the_start(tmp_path: Path) -> None:
    """A file that shrinks is reported as truncated and read again from offset 0, line 1."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b"".join(record("old", i, pad=40) for i in range(10)))
    seen = Seen()
    with Follower([str(log)]) as follower:
        seen.take(follower.initial())
        os.truncate(log, 0)
        _append(log, record("new", 0) + record("new", 1))
        seen.take(follower.poll())
    truncated = seen.of(FileTruncated)
    assert len(truncated) == 1
    assert truncated[0].size_before == sum(len(record("old", i, pad=40)) for i in range(10))
    assert seen.lines[-2:] == [
        (str(log), 0, 1, record("new", 0)),
        (str(log), len(record("new", 0)), 2, record("new", 1)),
    ]
    assert seen.bodies() == Counter(
        [record("old", i, pad=40) for i in range(10)] + [record("new", 0), record("new", 1)]
    )


def test_truncate_then_regrow_past_the_offset_is_detected(tmp_path: Path) -> None:
    """A truncation followed by more new bytes than were there before is still seen (content fingerprint)."""
    log = tmp_path / "audit.jsonl"
    old = [record("old", i) for i in range(3)]
    log.write_bytes(b"".join(old))
    seen = Seen()
    with Follower([str(log)]) as follower:
        seen.take(follower.initial())
        new = [record("new", i, pad=30) for i in range(5)]
        with log.open("wb") as handle:  # truncate and rewrite in one go, before the next poll
            handle.write(b"".join(new))
        seen.take(follower.poll())
    assert len(seen.of(FileTruncated)) == 1
    assert seen.bodies() == Counter(old + new)
    _check_places(seen.placed(), {str(log): log.read_bytes()})


@pytest.mark.parametrize("named", [True, False])
def test_rename_rotation_reads_the_rest_of_the_old_file_then_the_new(tmp_path: Path, named: bool) -> None:
    """After a rename rotation the old inode is drained, the new file read from 0, and .1 never re-read."""
    tool = tmp_path / "tool"
    tool.mkdir()
    live = tool / "audit.jsonl"
    live.write_bytes(record("r", 0) + record("r", 1))
    seen = Seen()
    with Follower([str(live) if named else str(tmp_path)], rotated_grace=60) as follower:
        seen.take(follower.initial())
        old_fd = os.open(live, os.O_WRONLY | os.O_APPEND)  # a writer that still holds the old file open
        os.write(old_fd, record("r", 2) + b'{"tag":"r","n":3')  # ... half a line when the rotation happens
        seen.take(follower.poll())
        os.rename(live, tool / "audit.jsonl.1")
        os.write(old_fd, b',"pad":""}\n' + record("r", 4))  # completed in the old (now rotated) inode
        os.close(old_fd)
        _append(live, record("r", 5) + record("r", 6))
        seen.take(follower.poll())
        _append(live, record("r", 7))
        seen.take(follower.poll())
        seen.take(follower.poll())
    assert seen.bodies() == Counter(record("r", i) for i in range(8))
    rotated = seen.of(FileRotated)
    assert len(rotated) == 1
    assert rotated[0].source.path == live
    assert rotated[0].moved_to is not None
    assert rotated[0].moved_to.path == tool / "audit.jsonl.1"
    assert sum(isinstance(e, FileAppeared) and e.source.path == live for e in seen.events) == 1
    files = {str(live): live.read_bytes(), str(tool / "audit.jsonl.1"): (tool / "audit.jsonl.1").read_bytes()}
    _check_places(seen.placed(), files)
    assert {p for p, *_ in seen.lines[4:]} == {str(tool / "audit.jsonl.1"), str(live)}


def test_rotation_then_compression_is_not_read_twice(tmp_path: Path) -> None:
    """A rotated file then gzipped (audit.jsonl.1 -> audit.jsonl.1.gz) is reported moved, not re-read."""
    live = tmp_path / "audit.jsonl"
    live.write_bytes(b"".join(record("c", i) for i in range(5)))
    seen = Seen()
    with Follower([str(tmp_path)], rotated_grace=0) as follower:
        seen.take(follower.initial())
        os.rename(live, tmp_path / "audit.jsonl.1")
        _append(live, record("c", 5))
        seen.take(follower.poll())
        data = (tmp_path / "audit.jsonl.1").read_bytes()
        (tmp_path / "audit.jsonl.1.gz").write_bytes(gzip.compress(data))
        seen.take(follower.poll())
        (tmp_path / "audit.jsonl.1").unlink()
        seen.take(follower.poll())
        _append(live, record("c", 6))
        seen.take(follower.poll())
    assert seen.bodies() == Counter(record("c", i) for i in range(7))
    moves = [(e.source.path.name, e.moved_to and e.moved_to.path.name) for e in seen.of(FileRotated)]
    assert moves == [("audit.jsonl", "audit.jsonl.1"), ("audit.jsonl.1", "audit.jsonl.1.gz")]


def test_copytruncate_recovers_lines_from_the_copy_without_double_counting(tmp_path: Path) -> None:
    """Lines written after the last poll but before the copy are read from the copy; nothing is read twice."""
    live = tmp_path / "audit.jsonl"
    live.write_bytes(b"".join(record("k", i) for i in range(5)))
    seen = Seen()
    with Follower([str(tmp_path)]) as follower:
        seen.take(follower.initial())
        _append(live, record("k", 5) + record("k", 6) + b'{"tag":"k","n":7')  # not polled before the copy
        shutil.copyfile(live, tmp_path / "audit.jsonl.1")
        os.truncate(live, 0)
        _append(live, record("k", 8))
        seen.take(follower.poll())
        _append(live, record("k", 9))
        seen.take(follower.poll())
    expected = Counter(record("k", i) for i in range(10) if i != 7)
    assert seen.bodies() == expected
    truncated = seen.of(FileTruncated)
    assert len(truncated) == 1
    assert truncated[0].copied_to is not None
    assert truncated[0].copied_to.path == tmp_path / "audit.jsonl.1"
    copy = (tmp_path / "audit.jsonl.1").read_bytes()
    in_copy = [line for line in seen.lines if line[0] == str(tmp_path / "audit.jsonl.1")]
    assert [b for *_, b in in_copy] == [record("k", i) for i in range(7)]  # read live, re-pointed, recovered
    _check_places(in_copy, {str(tmp_path / "audit.jsonl.1"): copy})
    # The half line in the copy can never complete: it is reported as a reject, not dropped, not invented.
    rejects = [e.reject for e in seen.of(LineRejected)]
    assert [(r.path, r.line, r.raw) for r in rejects] == [
        (str(tmp_path / "audit.jsonl.1"), 8, b'{"tag":"k","n":7')
    ]


def test_copytruncate_loses_only_what_was_written_between_copy_and_truncate(tmp_path: Path) -> None:
    """The documented limit: lines appended between the copy and the truncation are lost, nothing else."""
    live = tmp_path / "audit.jsonl"
    live.write_bytes(record("l", 0))
    seen = Seen()
    with Follower([str(tmp_path)]) as follower:
        seen.take(follower.initial())
        _append(live, record("l", 1))
        shutil.copyfile(live, tmp_path / "audit.jsonl.1")
        _append(live, record("l", 2))  # in neither file after the truncation
        os.truncate(live, 0)
        _append(live, record("l", 3))
        seen.take(follower.poll())
    assert seen.bodies() == Counter([record("l", 0), record("l", 1), record("l", 3)])


def test_new_files_in_followed_directory_and_glob_are_picked_up(tmp_path: Path) -> None:
    """A file created later in a followed directory, or matching a followed glob, is read from its start."""
    logs = tmp_path / "logs"
    logs.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    seen = Seen()
    with Follower([str(logs), str(other / "*.jsonl")]) as follower:
        seen.take(follower.initial())
        assert seen.lines == []
        (logs / "newtool").mkdir()
        _append(logs / "newtool" / "audit.jsonl", record("n", 1))
        _append(other / "x.jsonl", record("g", 1))
        _append(other / "ignored.txt", b"not matched\n")
        seen.take(follower.poll())
        seen.take(follower.poll())
    assert seen.bodies() == Counter([record("n", 1), record("g", 1)])
    assert {e.source.path.name for e in seen.of(FileAppeared)} == {"audit.jsonl", "x.jsonl"}


def test_initial_reads_compressed_siblings_oldest_first(tmp_path: Path) -> None:
    """initial() yields the .2.gz, then .1, then the live file, and later polls do not repeat them."""
    (tmp_path / "audit.jsonl.2.gz").write_bytes(gzip.compress(record("s", 1)))
    (tmp_path / "audit.jsonl.1").write_bytes(record("s", 2))
    (tmp_path / "audit.jsonl").write_bytes(record("s", 3))
    seen = Seen()
    with Follower([str(tmp_path)]) as follower:
        seen.take(follower.initial())
        seen.take(follower.poll())
    assert [b for *_, b in seen.lines] == [record("s", 1), record("s", 2), record("s", 3)]


def test_overlong_line_while_following_is_a_rejected_event(tmp_path: Path) -> None:
    """A line over the cap appended while following becomes LineRejected; the next line still arrives."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b"")
    seen = Seen()
    with Follower([str(log)]) as follower:
        seen.take(follower.initial())
        _append(log, b"x" * (1 << 20) + b"yz\n" + record("after", 1))
        seen.take(follower.poll())
    rejects = [e.reject for e in seen.of(LineRejected)]
    assert [(r.line, r.offset, r.length) for r in rejects] == [(1, 0, (1 << 20) + 2)]
    assert seen.lines == [(str(log), (1 << 20) + 3, 2, record("after", 1))]


def test_missing_named_file_raises_but_an_empty_glob_is_allowed(tmp_path: Path) -> None:
    """Following a named path that does not exist raises SourceMissing; a glob may match later."""
    with pytest.raises(SourceMissing):
        Follower([str(tmp_path / "absent.jsonl")])
    with Follower([str(tmp_path / "*.jsonl")]) as follower:
        assert list(follower.initial()) == []
        _append(tmp_path / "late.jsonl", record("late", 1))
        assert [c.data for c in follower.poll() if isinstance(c, Chunk)] == [record("late", 1)]


@pytest.mark.parametrize("named", [False, True])
def test_writer_rotating_faster_than_polls_loses_and_repeats_nothing(tmp_path: Path, named: bool) -> None:
    """A writer that rotates by rename every few lines, often twice between polls: 0 missing, 0 duplicated —
    following the directory or only the live file by name (its rotated siblings are watched)."""
    tool = tmp_path / "tool"
    tool.mkdir()
    live = tool / "audit.jsonl"
    total = 1500
    written: list[bytes] = []
    done = threading.Event()

    def writer() -> None:
        for i in range(total):
            line = record("w", i, pad=i % 23)
            _append(live, line)
            written.append(line)
            if i % 37 == 36:
                for gen in range(8, 0, -1):
                    older = tool / f"audit.jsonl.{gen}"
                    if older.exists():
                        os.replace(older, tool / f"audit.jsonl.{gen + 1}")
                os.replace(live, tool / "audit.jsonl.1")
            if i % 5 == 0:
                time.sleep(0.0005)
        done.set()

    seen = Seen()
    if named:
        _append(live, b"")
    with Follower([str(live) if named else str(tmp_path)], rotated_grace=30) as follower:
        seen.take(follower.initial())
        thread = threading.Thread(target=writer)
        thread.start()
        while not done.is_set():
            follower.wait(0.01)
            seen.take(follower.poll())
        thread.join()
        seen.take(follower.poll())
    counts = seen.bodies()
    assert [b for b, n in counts.items() if n > 1] == []
    assert set(written) - set(counts) == set()
    assert sum(counts.values()) == total


@pytest.mark.parametrize("use_inotify", [True, False])
def test_new_line_is_returned_within_250_ms(tmp_path: Path, use_inotify: bool) -> None:
    """A line appended while the consumer waits is returned by poll() well within 250 ms (median and max)."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b"")
    latencies: list[float] = []
    with Follower([str(log)], use_inotify=use_inotify) as follower:
        list(follower.initial())
        sent: dict[bytes, float] = {}

        def writer() -> None:
            for i in range(12):
                time.sleep(0.04 + (i % 3) * 0.03)
                line = record("t", i)
                sent[line] = time.monotonic()
                _append(log, line)

        thread = threading.Thread(target=writer)
        thread.start()
        deadline = time.monotonic() + 10
        while len(latencies) < 12 and time.monotonic() < deadline:
            follower.wait(1.0)
            now = time.monotonic()
            for item in follower.poll():
                if isinstance(item, Chunk):
                    latencies.extend(now - sent[body] for *_, body in split_chunks([item]))
        thread.join()
    assert len(latencies) == 12
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.25, latencies
    assert latencies[-1] < 0.6, latencies


def test_wait_returns_at_once_when_closed_from_another_thread(tmp_path: Path) -> None:
    """close() from another thread interrupts a long wait() promptly."""
    follower = Follower([str(tmp_path)])
    list(follower.initial())
    timer = threading.Timer(0.1, follower.close)
    start = time.monotonic()
    timer.start()
    while time.monotonic() - start < 5 and not follower.poll() and time.monotonic() - start < 0.5:
        follower.wait(5.0)
    follower.wait(5.0)
    elapsed = time.monotonic() - start
    timer.join()
    assert elapsed < 1.5
    assert follower.poll() == []


_STDIN_FOLLOW = """
import json, sys
from auditview.source.follow import Follower, StreamEnded, LineRejected
from auditview.source.types import Chunk
f = Follower(["-"], poll_interval=0.02)
out = [c.data.decode() for c in f.initial()]
while True:
    f.wait(1.0)
    items = f.poll()
    out += [i.data.decode() for i in items if isinstance(i, Chunk)]
    out += ["REJECT:" + i.reject.raw.decode() for i in items if isinstance(i, LineRejected)]
    if any(isinstance(i, StreamEnded) for i in items):
        break
print(json.dumps(out))
"""


def test_stdin_is_followed_until_eof() -> None:
    """'-' follows standard input as a stream: lines written over time arrive, the follower stops at EOF."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _STDIN_FOLLOW], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None
    for i in range(5):
        proc.stdin.write(record("in", i)[:10])
        proc.stdin.flush()
        time.sleep(0.02)
        proc.stdin.write(record("in", i)[10:])
        proc.stdin.flush()
    proc.stdin.write(b'{"cut')
    proc.stdin.close()
    assert proc.stdout is not None
    out = proc.stdout.read()
    assert proc.wait(timeout=30) == 0
    lines = json.loads(out)
    assert "".join(x for x in lines if not x.startswith("REJECT:")).encode() == b"".join(
        record("in", i) for i in range(5)
    )
    assert lines[-1] == 'REJECT:{"cut'


def test_poll_reads_a_burst_in_bounded_steps_and_initial_reads_everything(tmp_path: Path) -> None:
    """initial() reads all that is there; a burst bigger than poll_bytes is spread over polls, none lost."""
    log = tmp_path / "audit.jsonl"
    first = [record("i", i, pad=100) for i in range(2000)]
    log.write_bytes(b"".join(first))
    seen = Seen()
    with Follower([str(log)], poll_bytes=10_000, chunk_bytes=4096) as follower:
        seen.take(follower.initial())
        assert seen.bodies() == Counter(first)
        burst = [record("b", i, pad=100) for i in range(2000)]
        _append(log, b"".join(burst))
        polls = 0
        while len(seen.lines) < 4000 and polls < 1000:
            follower.wait(0.0)
            seen.take(follower.poll())
            polls += 1
    assert seen.bodies() == Counter(first + burst)
    assert polls > 5


# -- a live file followed by name: its rotated siblings are watched ------------------------------------------


def _rotate(live: Path) -> None:
    """Rename rotation as the writer does it: shift audit.jsonl.N to .N+1, then the live file to .1."""
    for gen in range(8, 0, -1):
        older = live.with_name(f"{live.name}.{gen}")
        if older.exists():
            os.replace(older, live.with_name(f"{live.name}.{gen + 1}"))
    os.replace(live, live.with_name(f"{live.name}.1"))


def test_named_live_file_rotated_twice_between_polls_loses_nothing(tmp_path: Path) -> None:
    """Following ``audit.jsonl`` by name, a generation that was live only between two polls (rotated away
    twice) is read from the sibling it became, between the rest of the old file and the new one; the siblings
    there before following started are not read."""
    live = tmp_path / "audit.jsonl"
    (tmp_path / "audit.jsonl.1").write_bytes(record("old", 0))
    live.write_bytes(record("t", 0))
    seen = Seen()
    with Follower([str(live)], rotated_grace=60) as follower:
        seen.take(follower.initial())
        _append(live, record("t", 1))
        _rotate(live)
        _append(live, record("t", 2))  # a generation never seen live
        _rotate(live)
        _append(live, record("t", 3))
        seen.take(follower.poll())
        seen.take(follower.poll())
    assert [b for *_, b in seen.lines] == [record("t", i) for i in range(4)]
    files = {str(p): p.read_bytes() for p in tmp_path.iterdir()}
    _check_places(seen.placed(), files)
    assert [(e.source.path.name, e.moved_to and e.moved_to.path.name) for e in seen.of(FileRotated)] == [
        ("audit.jsonl", "audit.jsonl.2")
    ]


def test_a_sibling_there_at_the_start_is_not_read_when_it_changes(tmp_path: Path) -> None:
    """Following ``audit.jsonl`` by name, an ``audit.jsonl.1`` that was there at the start is not an input: a
    writer still holding it that appends to it does not make the follower print all of it."""
    live = tmp_path / "audit.jsonl"
    old = tmp_path / "audit.jsonl.1"
    old.write_bytes(record("old", 0))
    live.write_bytes(record("t", 0))
    seen = Seen()
    with Follower([str(live)]) as follower:
        seen.take(follower.initial())
        _append(old, record("old", 1))
        _append(live, record("t", 1))
        seen.take(follower.poll())
        seen.take(follower.poll())
    assert [b for *_, b in seen.lines] == [record("t", 0), record("t", 1)]


def test_named_live_file_copytruncate_recovers_from_the_copy(tmp_path: Path) -> None:
    """Following ``audit.jsonl`` by name, copytruncate's copy (a new ``audit.jsonl.1``) is found, and the
    lines appended between the last poll and the copy are read from it, once."""
    live = tmp_path / "audit.jsonl"
    live.write_bytes(b"".join(record("k", i) for i in range(3)))
    seen = Seen()
    with Follower([str(live)]) as follower:
        seen.take(follower.initial())
        _append(live, record("k", 3) + record("k", 4))  # not polled before the copy
        shutil.copyfile(live, tmp_path / "audit.jsonl.1")
        os.truncate(live, 0)
        _append(live, record("k", 5))
        seen.take(follower.poll())
        seen.take(follower.poll())
    assert [b for *_, b in seen.lines] == [record("k", i) for i in range(6)]
    truncated = seen.of(FileTruncated)
    assert [e.copied_to and e.copied_to.path.name for e in truncated] == ["audit.jsonl.1"]


def test_read_siblings_reads_a_named_log_and_its_rotated_siblings(tmp_path: Path) -> None:
    """``read_siblings=True`` (the writer's ``audit-log -f``: this log and its rotated siblings): initial()
    reads the siblings oldest first, then the live file; ``missing_ok`` lets the live file appear later."""
    live = tmp_path / "audit.jsonl"
    (tmp_path / "audit.jsonl.2.gz").write_bytes(gzip.compress(record("s", 0)))
    (tmp_path / "audit.jsonl.1").write_bytes(record("s", 1))
    (tmp_path / "other.jsonl").write_bytes(record("other", 0))
    seen = Seen()
    with Follower([str(live)], read_siblings=True, missing_ok=True) as follower:
        seen.take(follower.initial())
        assert [b for *_, b in seen.lines] == [record("s", 0), record("s", 1)]
        _append(live, record("s", 2))
        seen.take(follower.poll())
    assert [b for *_, b in seen.lines] == [record("s", i) for i in range(3)]
    with pytest.raises(SourceMissing):
        Follower([str(tmp_path / "absent.jsonl")], read_siblings=True)


def test_a_rotated_sibling_ending_inside_a_line_is_a_reject_not_silence(tmp_path: Path) -> None:
    """A rotated file read whole at initial() whose last line has no newline can never be completed: it is
    reported as LineRejected, not dropped."""
    (tmp_path / "audit.jsonl.1").write_bytes(record("p", 0) + b'{"tag":"p","n":1')
    (tmp_path / "audit.jsonl").write_bytes(record("p", 2))
    seen = Seen()
    with Follower([str(tmp_path)]) as follower:
        seen.take(follower.initial())
        seen.take(follower.poll())
    assert [b for *_, b in seen.lines] == [record("p", 0), record("p", 2)]
    rejects = [e.reject for e in seen.of(LineRejected)]
    where = [(Path(r.path).name, r.line, r.raw) for r in rejects]
    assert where == [("audit.jsonl.1", 2, b'{"tag":"p","n":1')]


@pytest.mark.parametrize("named", [True, False])
def test_copy_written_over_a_rotated_file_being_drained_is_a_copy(tmp_path: Path, named: bool) -> None:
    """``cp audit.jsonl audit.jsonl.1 && truncate audit.jsonl`` where ``.1`` is the previous live file (still
    held after a rename rotation): the copy is written into that inode in place. It is not read again as new
    lines (no duplicates), and it serves the live file's copytruncate (nothing lost)."""
    live = tmp_path / "audit.jsonl"
    live.write_bytes(b"".join(record("c", i) for i in range(3)))
    seen = Seen()
    with Follower([str(live) if named else str(tmp_path)], rotated_grace=60) as follower:
        seen.take(follower.initial())
        _rotate(live)
        _append(live, record("c", 3) + record("c", 4))
        seen.take(follower.poll())
        _append(live, record("c", 5) + record("c", 6))  # not polled before the copy
        with (tmp_path / "audit.jsonl.1").open("r+b") as old:  # cp over an existing file: same inode
            old.truncate(0)
            old.write(live.read_bytes())
        os.truncate(live, 0)
        _append(live, record("c", 7))
        seen.take(follower.poll())
        seen.take(follower.poll())
    assert sorted(b for *_, b in seen.lines) == sorted(record("c", i) for i in range(8))


@pytest.mark.parametrize("named", [True, False])
def test_rename_and_copytruncate_faster_than_polls_lose_nothing(tmp_path: Path, named: bool) -> None:
    """A writer that rotates every 100 lines, by rename and by copytruncate in turn (shifting the siblings
    first, keeping all), while the consumer polls late (up to 20 ms after each poll, so several rotations,
    copies and truncations fall between two polls): 0 missing, 0 duplicated."""
    live = tmp_path / "audit.jsonl"
    live.write_bytes(record("m", -1))
    total = 1500
    done = threading.Event()

    def writer() -> None:
        for i in range(total):
            _append(live, record("m", i, pad=i % 23))
            if i % 100 == 50:
                for gen in range(40, 0, -1):
                    older = tmp_path / f"audit.jsonl.{gen}"
                    if older.exists():
                        os.replace(older, tmp_path / f"audit.jsonl.{gen + 1}")
                if (i // 100) % 2:
                    shutil.copyfile(live, tmp_path / "audit.jsonl.1")
                    os.truncate(live, 0)
                else:
                    os.replace(live, tmp_path / "audit.jsonl.1")
            if i % 7 == 0:
                time.sleep(0.0005)
        done.set()

    seen = Seen()
    pauses = iter([0.0, 0.02, 0.005, 0.0, 0.015, 0.01] * 1000)
    with Follower([str(live) if named else str(tmp_path)], rotated_grace=30) as follower:
        seen.take(follower.initial())
        thread = threading.Thread(target=writer)
        thread.start()
        while not done.is_set():
            follower.wait(0.01)
            seen.take(follower.poll())
            time.sleep(next(pauses))
        thread.join()
        seen.take(follower.poll())
        seen.take(follower.poll())
    counts = seen.bodies()
    expected = Counter(record("m", i, pad=i % 23) for i in range(total)) + Counter([record("m", -1)])
    assert sorted(counts - expected) == []  # nothing twice
    assert sorted(expected - counts) == []  # nothing missed

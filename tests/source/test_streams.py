"""Streams and cut-off input at the source layer: pipes and FIFOs are opened once and never peeked, devices
are refused, a FIFO without a writer is waited for only so long, a truncated gzip/zstd stream ends with a
reject, and a directory without audit logs says what it holds instead (issue #11)."""

from __future__ import annotations

import contextlib
import gzip
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from auditview.source.discover import NoAuditLogs, SourceMissing, detect_compression, discover
from auditview.source.read import FileReader, read_all
from auditview.source.types import Chunk, PartialLine, Reject, SourceFile
from tests.source.support import record, split_chunks

PAYLOAD = b"".join(record("s", i, pad=i % 40) for i in range(400))


def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()`` on a thread; fails (instead of hanging the run) when it has not returned in ``seconds``."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:  # handed to the test below
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still blocked after {seconds} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "audit.jsonl"
    os.mkfifo(path)
    yield path
    # free a reader still blocked in open() (the unfixed code), so that its thread can end
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def _pipe(data: bytes) -> tuple[int, threading.Thread]:
    """A pipe whose writer writes ``data`` (more than its buffer holds) and closes; returns the read end."""
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as handle:
            handle.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return read_end, writer


# -- pipes and FIFOs -----------------------------------------------------------------------------------------


def test_detect_compression_never_reads_from_a_pipe() -> None:
    """Sniffing a pipe would swallow its bytes: it falls back to the name, and every byte is still there."""
    data = gzip.compress(PAYLOAD)
    read_end, writer = _pipe(data)
    try:
        assert detect_compression(Path(f"/dev/fd/{read_end}")) == "none"
        got = b""
        while chunk := os.read(read_end, 1 << 16):
            got += chunk
        assert got == data
    finally:
        writer.join(5)
        os.close(read_end)


def test_discover_lists_a_pipe_as_a_stream() -> None:
    read_end, writer = _pipe(PAYLOAD)
    try:
        (source,) = discover([f"/dev/fd/{read_end}"])
        assert (source.stream, source.compression, source.reads_once) == (True, "none", True)
        rejects: list[Reject] = []
        lines = split_chunks(read_all([source], rejects=rejects))
        assert b"".join(body for *_, body in lines) == PAYLOAD
        assert rejects == []
    finally:
        writer.join(5)
        os.close(read_end)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_compressed_pipe_is_recognised_from_the_bytes_read_once(kind: str) -> None:
    data = gzip.compress(PAYLOAD) if kind == "gzip" else zstandard.ZstdCompressor().compress(PAYLOAD)
    read_end, writer = _pipe(data)
    try:
        source = SourceFile(Path(f"/dev/fd/{read_end}"), "p", stream=True)
        with FileReader(source) as reader:
            chunks = [item for item in reader.read_events(block=True) if isinstance(item, Chunk)]
            assert reader.compressed
        assert b"".join(chunk.data for chunk in chunks) == PAYLOAD
    finally:
        writer.join(5)
        os.close(read_end)


def test_discover_lists_a_fifo_without_opening_it(fifo: Path) -> None:
    """A FIFO with no writer yet: discovery returns at once (opening it to sniff would block, or, with a
    writer, end that writer when closed)."""
    (source,) = _within(5, lambda: discover([str(fifo)]))
    assert source == SourceFile(fifo, str(fifo), 0, "none", stream=True)


def test_a_directory_scan_skips_fifos(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "audit.jsonl")
    (tmp_path / "audit.jsonl.1").write_bytes(record("r", 1))
    try:
        sources = _within(5, lambda: discover([str(tmp_path)]))
        assert [source.path.name for source in sources] == ["audit.jsonl.1"]
    finally:
        with contextlib.suppress(OSError):
            os.close(os.open(tmp_path / "audit.jsonl", os.O_WRONLY | os.O_NONBLOCK))


def test_a_fifo_is_opened_once_and_read_to_its_end(fifo: Path) -> None:
    """Even when the caller does not know it is a FIFO (an unflagged ``SourceFile``), the reader opens it
    once, waits for the writer and reads it as a stream."""
    data = gzip.compress(PAYLOAD)

    def write() -> None:
        time.sleep(0.3)  # the reader is waiting by now
        with open(fifo, "wb") as handle:
            handle.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    rejects: list[Reject] = []
    lines = _within(20, lambda: split_chunks(read_all([SourceFile(fifo, str(fifo))], rejects=rejects)))
    writer.join(5)
    assert b"".join(body for *_, body in lines) == PAYLOAD
    assert rejects == []


def test_a_fifo_without_a_writer_is_refused_after_the_wait(
    fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITVIEW_FIFO_WAIT", "0.3")
    started = time.monotonic()
    with pytest.raises(
        SourceMissing, match=r"a FIFO with no writer: nothing opened it for writing within 0\.3 s"
    ):
        _within(10, lambda: list(read_all([SourceFile(fifo, str(fifo))])))
    assert time.monotonic() - started < 5


def test_a_writer_that_opens_and_writes_nothing_yet_is_waited_for(
    fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait is for a writer, not for data: one that holds the FIFO open quietly past the wait is read."""
    monkeypatch.setenv("AUDITVIEW_FIFO_WAIT", "0.5")
    opened = threading.Event()

    def write() -> None:
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # fails with ENXIO until a reader is there
                break
            except OSError:
                time.sleep(0.01)
        opened.set()
        time.sleep(1.5)  # quiet for longer than the wait
        os.set_blocking(fd, True)
        os.write(fd, record("late", 1))
        os.close(fd)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    lines = _within(20, lambda: split_chunks(read_all([SourceFile(fifo, str(fifo), stream=True)])))
    writer.join(5)
    assert opened.is_set()
    assert [body for *_, body in lines] == [record("late", 1)]


# -- devices -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_character_device_is_refused_by_discovery_and_by_the_reader(device: str) -> None:
    with pytest.raises(SourceMissing, match="character device"):
        discover([device])
    with pytest.raises(SourceMissing, match="character device"):
        _within(5, lambda: list(read_all([SourceFile(Path(device), device)])))


# -- truncated compressed streams ----------------------------------------------------------------------------


def _compress(kind: str, data: bytes) -> bytes:
    return gzip.compress(data) if kind == "gzip" else zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_truncated_stream_ends_with_one_reject_at_the_cut_line(tmp_path: Path, kind: str) -> None:
    """Every line before the cut comes out; then one reject: the line and offset where the stream stopped,
    the compressed byte count, and the start of the cut line (which is not also a partial line)."""
    payload = b"".join(record("t", i, pad=300) for i in range(2000))  # several zstd blocks
    whole = _compress(kind, payload)
    cut = whole[: len(whole) // 2]
    path = tmp_path / ("audit.jsonl.1.gz" if kind == "gzip" else "audit.jsonl.1.zst")
    path.write_bytes(cut)
    (source,) = discover([str(path)])
    rejects: list[Reject] = []
    partial: list[PartialLine] = []
    lines = split_chunks(read_all([source], rejects=rejects, partial=partial))
    got = b"".join(body for *_, body in lines)
    assert got
    assert payload.startswith(got)
    (reject,) = rejects
    suffix = ".gz" if kind == "gzip" else ".zst"
    assert reject.reason == (
        f"compressed stream ends early at byte {len(cut)} (truncated {suffix}): the records after it are lost"
    )
    assert (reject.path, reject.line, reject.offset) == (str(path), len(lines) + 1, len(got))
    assert payload[len(got) :].startswith(reject.raw)
    assert partial == []


def test_a_gzip_header_alone_is_a_truncated_stream(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl.1.gz"
    path.write_bytes(gzip.compress(b"")[:10])
    rejects: list[Reject] = []
    assert list(read_all(discover([str(path)]), rejects=rejects)) == []
    assert [(r.line, r.offset, r.raw) for r in rejects] == [(1, 0, b"")]
    assert "ends early at byte 10 (truncated .gz)" in rejects[0].reason


def test_a_truncated_stream_through_a_pipe_is_reported_too() -> None:
    whole = gzip.compress(PAYLOAD)
    read_end, writer = _pipe(whole[: len(whole) // 2])
    try:
        rejects: list[Reject] = []
        source = SourceFile(Path(f"/dev/fd/{read_end}"), "p", stream=True)
        lines = split_chunks(read_all([source], rejects=rejects))
        (reject,) = rejects
        assert reject.line == len(lines) + 1
        assert "truncated .gz" in reject.reason
    finally:
        writer.join(5)
        os.close(read_end)


def _zstd_streamed(data: bytes) -> bytes:
    """A zstd frame written as a stream (no content size in its header), as ``zstd`` in a pipe writes it."""
    compressor = zstandard.ZstdCompressor().compressobj()
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    "whole",
    [
        gzip.compress(PAYLOAD[:5000]) + gzip.compress(PAYLOAD[5000:]) + b"\0" * 16,
        zstandard.ZstdCompressor().compress(PAYLOAD[:5000]) + _zstd_streamed(PAYLOAD[5000:]),
    ],
    ids=["gzip-members-and-padding", "zstd-frames"],
)
def test_a_complete_multi_part_stream_has_no_reject(tmp_path: Path, whole: bytes) -> None:
    path = tmp_path / "audit.jsonl.1.gz"
    path.write_bytes(whole)
    rejects: list[Reject] = []
    assert b"".join(c.data for c in read_all(discover([str(path)]), rejects=rejects)) == PAYLOAD
    assert rejects == []


def test_a_follower_reading_a_growing_gz_is_not_told_it_was_truncated(tmp_path: Path) -> None:
    """A non-final read (``block=False``, as the follower reads) stops at the current end without a reject
    and goes on once the compressor has written the rest."""
    whole = gzip.compress(PAYLOAD)
    path = tmp_path / "audit.jsonl.1.gz"
    path.write_bytes(whole[: len(whole) // 2])
    source = SourceFile(path, str(path), 1, "gzip")
    with FileReader(source) as reader:
        first = list(reader.read_events())
        assert not [item for item in first if isinstance(item, Reject)]
        with path.open("ab") as handle:
            handle.write(whole[len(whole) // 2 :])
        rest = list(reader.read_events(block=True))
    assert not [item for item in rest if isinstance(item, Reject)]
    assert b"".join(item.data for item in first + rest if isinstance(item, Chunk)) == PAYLOAD


# -- directories without audit logs --------------------------------------------------------------------------


def test_a_directory_without_audit_logs_names_what_looks_like_json_lines(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    (root / "sub").mkdir(parents=True)
    (root / "dbctl.jsonl").write_bytes(record("d", 1))
    (root / "sub" / "app.log.1.gz").write_bytes(gzip.compress(record("a", 1)))
    (root / "events.ndjson").write_bytes(b"\n  \n" + record("e", 1))
    (root / "plain.log").write_bytes(b"2026-11-20 started\n")
    (root / "notes.txt").write_bytes(record("n", 1))
    (root / "pretty.json").write_bytes(b"{\n}\n")
    assert discover([str(root)]) == []  # without require_logs: nothing, as a follower expects
    with pytest.raises(NoAuditLogs) as caught:
        discover([str(root)], require_logs=True)
    assert caught.value.candidates == [
        root / "dbctl.jsonl",
        root / "events.ndjson",
        root / "sub" / "app.log.1.gz",
    ]
    assert str(caught.value).startswith(f"no audit logs under {root} (looked for audit*.jsonl")
    assert str(root / "dbctl.jsonl") in str(caught.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoAuditLogs, match="no other file there looks like JSON lines"):
        discover([str(empty)], require_logs=True)
    # a named file is read whatever its name
    assert [s.path for s in discover([str(root / "dbctl.jsonl")], require_logs=True)] == [
        root / "dbctl.jsonl"
    ]

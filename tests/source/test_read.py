"""Reading complete lines: offsets, resuming, compression, over-long lines, stdin, byte-level corruption."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from auditview.contract import MAX_LINE_BYTES
from auditview.source.discover import STDIN, SourceMissing, discover
from auditview.source.read import FileReader, read_all, read_span
from auditview.source.types import Chunk, PartialLine, Reject, SourceFile
from tests.source.support import record, split_chunks


def _plain(path: Path) -> SourceFile:
    return SourceFile(path, str(path))


def test_reader_resumes_at_offset_and_holds_the_partial_line(tmp_path: Path) -> None:
    """Lines come out with offsets and numbers; the partial tail waits; a resumed reader continues."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(record("a", 1) + record("a", 2) + b'{"half":')
    with FileReader(_plain(path)) as reader:
        lines = split_chunks(reader.read_available())
        assert [(o, n, b) for _, o, n, b in lines] == [
            (0, 1, record("a", 1)),
            (len(record("a", 1)), 2, record("a", 2)),
        ]
        assert reader.pending == b'{"half":'
        assert reader.partial() == PartialLine(_plain(path), reader.offset, 3, 8)
        with path.open("ab") as handle:
            handle.write(b"1}\n" + record("a", 4))
        more = split_chunks(reader.read_available())
        assert [(n, b) for _, _, n, b in more] == [(3, b'{"half":1}\n'), (4, record("a", 4))]
        resumed = FileReader(_plain(path), offset=lines[1][1], line=2)
        again = split_chunks(resumed.read_available())
        resumed.close()
        assert [b for *_, b in again] == [record("a", 2), b'{"half":1}\n', record("a", 4)]


def test_small_chunk_size_gives_the_same_lines(tmp_path: Path) -> None:
    """Reading with a tiny chunk size gives exactly the lines of a single big read."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(record("c", i, pad=i % 37) for i in range(300)))
    big = split_chunks(read_all([_plain(path)]))
    small = split_chunks(read_all([_plain(path)], chunk_bytes=7))
    assert small == big
    assert len(big) == 300


def test_read_all_reads_compressed_siblings_oldest_first(tmp_path: Path) -> None:
    """gzip (multi-member) and zstd (multi-frame) siblings are decompressed and read before the live file."""
    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "audit.jsonl.3.gz").write_bytes(gzip.compress(record("g", 1)) + gzip.compress(record("g", 2)))
    zstd = zstandard.ZstdCompressor()
    (tool / "audit.jsonl.2.zst").write_bytes(zstd.compress(record("z", 1)) + zstd.compress(record("z", 2)))
    (tool / "audit.jsonl.1").write_bytes(record("p", 1))
    (tool / "audit.jsonl").write_bytes(record("live", 1))
    lines = split_chunks(read_all(discover([str(tool)])))
    assert [b for *_, b in lines] == [
        record("g", 1),
        record("g", 2),
        record("z", 1),
        record("z", 2),
        record("p", 1),
        record("live", 1),
    ]
    assert [(o, n) for _, o, n, _ in lines[:2]] == [(0, 1), (len(record("g", 1)), 2)]


def test_compressed_reader_resumes_at_a_decompressed_offset(tmp_path: Path) -> None:
    """Offsets of a gzip source are in the decompressed stream, and read_span returns the line there."""
    payload = b"".join(record("r", i) for i in range(50))
    path = tmp_path / "audit.jsonl.1.gz"
    path.write_bytes(gzip.compress(payload))
    source = discover([str(path)])[0]
    assert source.compression == "gzip"
    lines = split_chunks(read_all([source]))
    _, offset, number, body = lines[30]
    with FileReader(source, offset=offset, line=number) as reader:
        rest = split_chunks(reader.read_available())
    assert rest == lines[30:]
    assert read_span(source, offset, len(body) - 1) == body[:-1]
    assert payload[offset : offset + len(body)] == body


def test_overlong_line_becomes_a_reject_not_data(tmp_path: Path) -> None:
    """A line over MAX_LINE_BYTES is a Reject with place, full length and a prefix; the next line survives."""
    path = tmp_path / "audit.jsonl"
    huge = b"{" + b"x" * (MAX_LINE_BYTES + 10) + b"}"
    path.write_bytes(record("ok", 1) + huge + b"\n" + record("ok", 3))
    rejects: list[Reject] = []
    lines = split_chunks(read_all([_plain(path)], rejects=rejects, chunk_bytes=64 << 10))
    assert [(n, b) for _, _, n, b in lines] == [(1, record("ok", 1)), (3, record("ok", 3))]
    assert lines[1][1] == len(record("ok", 1)) + len(huge) + 1
    assert len(rejects) == 1
    reject = rejects[0]
    assert (reject.line, reject.offset, reject.length) == (2, len(record("ok", 1)), len(huge))
    assert huge.startswith(reject.raw)
    assert 0 < len(reject.raw) < 10_000
    assert "longer than" in reject.reason


def test_corrupt_gzip_stops_with_a_reject(tmp_path: Path) -> None:
    """A gzip file with garbage in the middle never raises; the reader reports a reject and stops there."""
    good = gzip.compress(b"".join(record("g", i) for i in range(20)))
    path = tmp_path / "audit.jsonl.1.gz"
    path.write_bytes(good + b"\x1f\x8bNOT-A-GZIP-MEMBER" * 3)
    rejects: list[Reject] = []
    lines = split_chunks(read_all([discover([str(path)])[0]], rejects=rejects))
    assert [b for *_, b in lines] == [record("g", i) for i in range(20)]
    assert len(rejects) == 1
    assert "gzip" in rejects[0].reason


@pytest.mark.parametrize("seed", range(40))
def test_corruption_fuzz_recovers_every_undamaged_line(tmp_path: Path, seed: int) -> None:
    """Byte flips, NUL runs and cut lines never crash the reader; each undamaged line comes out once."""
    rng = random.Random(seed)
    stream = bytearray()
    intact: list[tuple[int, bytes]] = []  # (offset, line) of lines kept whole after a clean line boundary
    for i in range(200):
        line = bytearray(record("f", i, pad=rng.randrange(0, 300 if rng.random() < 0.95 else 3000)))
        kind = rng.random()
        if kind < 0.1:  # byte flips anywhere in the line, the newline included
            for _ in range(rng.randrange(1, 4)):
                line[rng.randrange(len(line))] = rng.randrange(256)
        elif kind < 0.17:  # a NUL run replacing part of the line
            start = rng.randrange(len(line))
            line[start : start + rng.randrange(1, 40)] = b"\0" * rng.randrange(1, 40)
        elif kind < 0.24:  # a cut line: the tail (and its newline) lost
            del line[rng.randrange(len(line)) :]
        elif kind < 0.27:  # a bare NUL run between lines (as after a crash on some file systems)
            stream += b"\0" * rng.randrange(1, 100)
            line = bytearray()
        if kind >= 0.27 and (not stream or stream.endswith(b"\n")):
            intact.append((len(stream), bytes(line)))
        stream += line
    stream += b'{"trailing":"partial'
    path = tmp_path / "audit.jsonl"
    path.write_bytes(bytes(stream))
    rejects: list[Reject] = []
    chunks: list[Chunk] = []
    with FileReader(_plain(path), chunk_bytes=rng.randrange(1, 5000), max_line=2000) as reader:
        for item in reader.read_events():
            (chunks if isinstance(item, Chunk) else rejects).append(item)  # type: ignore[arg-type]
    lines = split_chunks(chunks)
    by_offset = {offset: (number, body) for _, offset, number, body in lines}
    assert len(by_offset) == len(lines), "a line came out twice"
    rejected = {r.offset: (r.line, r.length) for r in rejects}
    for offset, body in intact:
        number = stream.count(b"\n", 0, offset) + 1
        if len(body) - 1 > 2000:
            assert rejected[offset] == (number, len(body) - 1)
        else:
            assert by_offset[offset] == (number, body)
    rebuilt = _rebuild(lines, rejects, bytes(stream))
    assert rebuilt == bytes(stream[: len(rebuilt)])
    assert len(rebuilt) == stream.rfind(b"\n") + 1


def _rebuild(lines: list[tuple[str, int, int, bytes]], rejects: list[Reject], stream: bytes) -> bytes:
    """Put lines and over-long rejects back in place, checking that nothing was skipped or repeated."""
    pieces = [(o, b) for _, o, _, b in lines]
    for reject in rejects:
        assert reject.length is not None
        body = stream[reject.offset : reject.offset + reject.length + 1]
        assert body.startswith(reject.raw)
        assert body.endswith(b"\n")
        pieces.append((reject.offset, body))
    out = bytearray()
    for offset, body in sorted(pieces):
        assert offset == len(out), "bytes were skipped or repeated"
        out += body
    return bytes(out)


def test_missing_file_raises_source_missing(tmp_path: Path) -> None:
    """Opening a source that has gone raises SourceMissing naming it."""
    with pytest.raises(SourceMissing, match=r"gone\.jsonl"):
        list(read_all([_plain(tmp_path / "gone.jsonl")]))


_STDIN_SCRIPT = """
import json, sys
from auditview.source.discover import STDIN
from auditview.source.read import read_all
partial = []
out = [[c.offset, c.first_line, c.data.decode()] for c in read_all([STDIN], partial=partial)]
print(json.dumps({"chunks": out, "partial": [[p.offset, p.line, p.length] for p in partial]}))
"""


@pytest.mark.parametrize("compress", [False, True])
def test_stdin_is_read_as_a_stream_to_its_end(compress: bool) -> None:
    """'-' reads standard input (plain or gzip) to EOF; the unterminated last line is reported as partial."""
    payload = b"".join(record("s", i) for i in range(1000)) + b'{"cut'
    data = gzip.compress(payload) if compress else payload
    proc = subprocess.run(
        [sys.executable, "-c", _STDIN_SCRIPT], input=data, capture_output=True, check=True, timeout=30
    )
    result = json.loads(proc.stdout)
    text = "".join(chunk[2] for chunk in result["chunks"])
    assert text.encode() == payload[: payload.rfind(b"\n") + 1]
    assert result["chunks"][0][:2] == [0, 1]
    assert result["partial"] == [[len(text), 1001, 5]]
    assert STDIN.display == "-"

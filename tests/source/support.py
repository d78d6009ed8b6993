"""Helpers shared by the source-layer tests: chunks as per-line tuples, and record-like test lines."""

from __future__ import annotations

from collections.abc import Iterable

from auditview.source.types import Chunk

Line = tuple[str, int, int, bytes]


def split_chunks(chunks: Iterable[Chunk]) -> list[Line]:
    """Every line in ``chunks`` as ``(path, offset, line_number, bytes_with_newline)``; checks chunk shape."""
    out: list[Line] = []
    for chunk in chunks:
        assert chunk.data.endswith(b"\n"), "a chunk must hold complete lines only"
        offset = chunk.offset
        number = chunk.first_line
        for body in chunk.data.split(b"\n")[:-1]:
            out.append((str(chunk.source.path), offset, number, body + b"\n"))
            offset += len(body) + 1
            number += 1
    return out


def record(tag: str, number: int, pad: int = 0) -> bytes:
    """A JSON-looking test line (with ``\\n``) that is unique for ``(tag, number)``."""
    return b'{"tag":"%s","n":%d,"pad":"%s"}\n' % (tag.encode(), number, b"x" * pad)

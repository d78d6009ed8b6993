"""The line splitter: complete lines, offsets, line numbers, the partial last line, the length cap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from auditview.source.lines import LineRun, LineSplitter, LongLine

Piece = tuple[str, int, int, bytes, int]


def _reference(data: bytes, max_line: int, keep: int) -> tuple[list[Piece], bytes, int]:
    """A naive oracle: split the whole input on ``\\n`` line by line."""
    pieces: list[Piece] = []
    offset = 0
    *complete, rest = data.split(b"\n")
    for number, body in enumerate(complete, start=1):
        if len(body) > max_line:
            pieces.append(("long", offset, number, body[:keep], len(body)))
        else:
            pieces.append(("line", offset, number, body + b"\n", len(body)))
        offset += len(body) + 1
    pending = rest[:keep] if len(rest) > max_line else rest
    return pieces, pending, len(rest)


def _flatten(items: list[LineRun | LongLine]) -> list[Piece]:
    out: list[Piece] = []
    for item in items:
        if isinstance(item, LongLine):
            out.append(("long", item.offset, item.line, item.prefix, item.length))
            continue
        assert item.data.endswith(b"\n")
        offset, number = item.offset, item.first_line
        for body in item.data.split(b"\n")[:-1]:
            out.append(("line", offset, number, body + b"\n", len(body)))
            offset += len(body) + 1
            number += 1
    return out


def _feed_in_pieces(
    data: bytes, cuts: list[int], max_line: int, keep: int
) -> tuple[list[Piece], LineSplitter]:
    splitter = LineSplitter(max_line=max_line, keep_prefix=keep)
    items: list[LineRun | LongLine] = []
    start = 0
    for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
        items.extend(splitter.feed(data[start:cut]))
        start = cut
    return _flatten(items), splitter


_bytes_with_newlines = st.lists(
    st.one_of(st.just(b"\n"), st.binary(min_size=0, max_size=12), st.just(b"\x00" * 5)), max_size=40
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(data=_bytes_with_newlines, cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=12))
def test_any_split_gives_the_lines_of_the_whole(data: bytes, cuts: list[int]) -> None:
    """Bytes cut at arbitrary points yield the same lines, offsets and line numbers as the naive split."""
    max_line, keep = 7, 3
    expected, pending, pending_length = _reference(data, max_line, keep)
    got, splitter = _feed_in_pieces(data, cuts, max_line, keep)
    assert got == expected
    assert splitter.pending == pending
    assert splitter.pending_length == pending_length
    assert splitter.position == len(data)
    assert splitter.line == data.count(b"\n") + 1


@settings(max_examples=200, deadline=None)
@given(data=_bytes_with_newlines, split_at=st.integers(min_value=0, max_value=600))
def test_resuming_at_offset_and_line_continues_exactly(data: bytes, split_at: int) -> None:
    """A new splitter started at another's offset/line and fed from that offset gives the remaining pieces."""
    max_line, keep = 7, 3
    expected, _, _ = _reference(data, max_line, keep)
    first = LineSplitter(max_line=max_line, keep_prefix=keep)
    head = _flatten(first.feed(data[: min(split_at, len(data))]))
    second = LineSplitter(offset=first.offset, line=first.line, max_line=max_line, keep_prefix=keep)
    tail = _flatten(second.feed(data[first.offset :]))
    assert head + tail == expected


def test_partial_line_is_held_until_its_newline() -> None:
    """A last line without a newline is not handed out, and comes out whole once its newline arrives."""
    splitter = LineSplitter()
    assert _flatten(splitter.feed(b'{"a":1}\n{"b":')) == [("line", 0, 1, b'{"a":1}\n', 7)]
    assert splitter.pending == b'{"b":'
    assert splitter.offset == 8
    assert splitter.feed(b"2") == []
    assert _flatten(splitter.feed(b"}\n")) == [("line", 8, 2, b'{"b":2}\n', 7)]
    assert splitter.pending == b""
    assert splitter.pending_length == 0


def test_overlong_line_is_skipped_with_bounded_memory() -> None:
    """A line over the cap is reported as a LongLine with its full length while holding only a prefix."""
    splitter = LineSplitter(max_line=100, keep_prefix=10)
    out: list[LineRun | LongLine] = []
    out += splitter.feed(b"ok\n")
    for _ in range(50):
        out += splitter.feed(b"y" * 1000)
        assert len(splitter.pending) <= 100
    assert splitter.pending_length == 50_000
    out += splitter.feed(b"z\nafter\n")
    assert _flatten(out) == [
        ("line", 0, 1, b"ok\n", 2),
        ("long", 3, 2, b"y" * 10, 50_001),
        ("line", 50_005, 3, b"after\n", 5),
    ]


def test_line_exactly_at_the_cap_is_kept() -> None:
    """A line of exactly the cap passes; one byte more is a LongLine whose prefix never exceeds the cap."""
    splitter = LineSplitter(max_line=5)
    got = _flatten(splitter.feed(b"12345\n123456\n"))
    assert got == [("line", 0, 1, b"12345\n", 5), ("long", 6, 2, b"12345", 6)]

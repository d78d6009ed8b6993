"""The route a chunk takes first (the writer's layout, the typed read, the text read) is chosen from a sample
of its lines; a chunk whose sample misleads (other layouts between the sampled lines, or the reverse) still
gives exactly the reference's rows and rejects, in every projection."""

from __future__ import annotations

import json
import random
from collections.abc import Collection

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditview.core.parse as parse_module
from auditview.core import writer_layout as layout
from auditview.core.parse import _ROUTE_SAMPLE, _TYPED_HINT_RE, _line_table, _sampled
from auditview.demo.generate import generate_records
from tests.engine.foreign import corpus
from tests.engine.test_parse_differential import (
    GATEKEEPER,
    PROJECTIONS,
    _lines,
    assert_same_as_contract,
)

#: Lines of our writer, in its layout.
WRITER = [line.rstrip(b"\n") for line in generate_records(400, seed=11)]
TRACES: Collection[str] = {
    "ts", "tool", "command", "exit_code", "duration_ms", "request_id", "trace_id", "operator",
}  # fmt: skip
ROUTE_PROJECTIONS: list[Collection[str] | None] = [*PROJECTIONS, TRACES]


def _foreign(line: bytes, rng: random.Random) -> bytes:
    """A writer line as another producer writes it: ``json.dumps`` blanks, keys shuffled, a millisecond time
    with ``+00:00``, sometimes the error as a string."""
    record = json.loads(line)
    record["timestamp"] = record["timestamp"][:23] + "+00:00"
    if "error" in record and rng.random() < 0.5:
        record["error"] = record["error"]["message"]
    keys = list(record)
    rng.shuffle(keys)
    return json.dumps({key: record[key] for key in keys}).encode()


def _spaced(line: bytes) -> bytes:
    """A writer line with ``json.dumps``' blanks (typed as the writer types it)."""
    return json.dumps(json.loads(line)).encode()


def _sampled_indices(count: int) -> set[int]:
    taken = min(count, _ROUTE_SAMPLE)
    return {k * count // taken for k in range(taken)}


def _interleave(sampled: list[bytes], others: list[bytes], count: int) -> list[bytes]:
    """``count`` lines: ``sampled``'s on the lines the route sample looks at, ``others``' elsewhere."""
    at = _sampled_indices(count)
    first, second = iter(sampled), iter(others)
    return [next(first) if index in at else next(second) for index in range(count)]


def _assert_routes(lines: list[bytes]) -> None:
    for columns in ROUTE_PROJECTIONS:
        assert_same_as_contract(lines, source=GATEKEEPER, columns=columns)


def _route(lines: list[bytes]) -> tuple[bool, bool]:
    """Whether the sample sends the chunk to the writer's layout, and to the typed read."""
    table = _line_table(b"".join(line + b"\n" for line in lines))
    assert table is not None
    return _sampled(table, layout.LAYOUT_RE), _sampled(table, _TYPED_HINT_RE)


def test_writer_lines_between_sampled_foreign_lines_are_decided_like_the_contract() -> None:
    rng = random.Random(1)
    foreign = [_foreign(line, rng) for line in WRITER[:200]]
    lines = _interleave(foreign, WRITER[200:], 160)
    assert _route(lines) == (False, False)
    _assert_routes(lines)


def test_foreign_lines_between_sampled_writer_lines_are_decided_like_the_contract() -> None:
    rng = random.Random(2)
    foreign = [_foreign(line, rng) for line in WRITER[:200]]
    lines = _interleave(WRITER[200:], foreign, 160)
    assert _route(lines) == (True, True)
    _assert_routes(lines)


def test_typed_lines_between_sampled_foreign_lines_are_decided_like_the_contract() -> None:
    """Spaced writer lines (the typed read's) where the sample sees only other producers' lines."""
    rng = random.Random(3)
    foreign = [_foreign(line, rng) for line in WRITER[:200]]
    lines = _interleave(foreign, [_spaced(line) for line in WRITER[200:]], 160)
    assert _route(lines) == (False, False)
    _assert_routes(lines)


@pytest.mark.parametrize("seed", [4, 5])
def test_blocks_of_layouts_in_either_order_are_decided_like_the_contract(seed: int) -> None:
    """Half the chunk one producer's, half another's, in either order, with the test corpus's producers
    (garbage included) among them."""
    rng = random.Random(seed)
    foreign = [_foreign(line, rng) for line in WRITER[:120]] + [line.line for line in corpus(seed, 40)]
    rng.shuffle(foreign)
    writer = WRITER[200:360]
    spaced = [_spaced(line) for line in WRITER[200:360]]
    for lines in (foreign + writer, writer + foreign, foreign + spaced, spaced + foreign, spaced + writer):
        _assert_routes(lines)


def test_crlf_mixed_chunk_is_decided_like_the_contract() -> None:
    rng = random.Random(6)
    foreign = [_foreign(line, rng) for line in WRITER[:200]]
    lines = _interleave(foreign, WRITER[200:], 160)
    _assert_routes([line + b"\r" for line in lines])


def test_a_small_chunk_is_its_own_sample() -> None:
    """Fewer lines than the sample: every line is looked at, each once."""
    assert _sampled_indices(5) == {0, 1, 2, 3, 4}
    assert len(_sampled_indices(1000)) == _ROUTE_SAMPLE
    lines = [orjson.dumps(json.loads(_foreign(WRITER[0], random.Random(7)))), WRITER[1]]
    assert _route(lines)[0]
    _assert_routes(lines)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.data())
def test_whole_row_proof_first_decides_projections_like_the_contract(data: st.DataObject) -> None:
    """A projection's typed read tries the whole-row proof first on big chunks (here on every chunk): random,
    reordered, duplicated, escaped and damaged lines are still decided as the contract decides them."""
    lines = _lines(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse_module, "_WHOLE_ROW_FIRST_LINES", 0)
        for columns in ROUTE_PROJECTIONS[1:]:
            assert_same_as_contract(lines, columns=columns)


def test_a_big_typed_chunk_with_unknown_keys_and_errors_is_decided_like_the_contract() -> None:
    """More lines than ``_WHOLE_ROW_FIRST_LINES`` in json.dumps' layout (the typed read's), some with unknown
    keys, error objects or known keys inside params: both proofs of a projection's typed read take part."""
    rng = random.Random(8)
    lines: list[bytes] = []
    for index in range(parse_module._WHOLE_ROW_FIRST_LINES + 300):
        record = json.loads(WRITER[index % len(WRITER)])
        kind = rng.randrange(6)
        if kind == 0:
            record["retry"] = index
        elif kind == 1:
            record["params"] = {"tool": "x", "version": index}
        keys = list(record)
        rng.shuffle(keys)
        lines.append(json.dumps({key: record[key] for key in keys}).encode())
    assert _route(lines) == (False, True)
    for columns in ROUTE_PROJECTIONS:
        assert_same_as_contract(lines, columns=columns)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(ROUTE_PROJECTIONS))
def test_aliases_the_sample_misses_are_decided_like_the_contract(
    seed: int, columns: Collection[str] | None
) -> None:
    """Other producers' lines with aliases (``ts``, ``cmd``, ``hostname``, ``args``...) only between the
    sampled lines, which hold none: the text read decodes no alias at first, and the lines holding one are
    decided again with their aliases, as the reference decides them."""
    rng = random.Random(seed)
    plain = [_foreign(line, rng) for line in WRITER[:200]]
    aliased = [line.line for line in corpus(seed, 200, path_tool="gatekeeper")]
    others = [rng.choice(aliased) if rng.random() < 0.4 else rng.choice(plain) for _ in range(144)]
    lines = _interleave(plain, others, 160)
    assert _route(lines) == (False, False)
    assert_same_as_contract(lines, source=GATEKEEPER, columns=columns)

"""The bundled ``sample_logs/``: exactly what ``auditview.demo.samples`` makes, and rich enough to show.

They are read as every reader reads them, by the reader contract (``read_line`` with the file's path).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from auditview.contract import ContractError, parse_line
from auditview.demo.samples import (
    HEALTHCHECK_TOOL,
    MALFORMED_TOOL,
    ROTATED_TOOL,
    main,
    regenerate,
    sample_files,
)
from auditview.reader_contract import FieldMap, ReadRecord, read_line

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples regenerated into a fresh directory."""
    out = tmp_path_factory.mktemp("samples")
    regenerate(out)
    return out


Parsed = dict[str, tuple[list[dict[str, Any]], list[bytes]]]


@pytest.fixture(scope="module")
def read() -> dict[str, tuple[list[ReadRecord], list[bytes]]]:
    """Per committed sample file: its records and its rejected lines, by the reader contract."""
    result: dict[str, tuple[list[ReadRecord], list[bytes]]] = {}
    for sample in sample_files(SAMPLES):
        good: list[ReadRecord] = []
        bad: list[bytes] = []
        for line in sample.lines:
            try:
                good.append(read_line(line, path=str(SAMPLES / sample.name), fields=FieldMap()))
            except ContractError:
                bad.append(line)
        result[sample.name] = (good, bad)
    return result


@pytest.fixture(scope="module")
def parsed(read: dict[str, tuple[list[ReadRecord], list[bytes]]]) -> Parsed:
    """Per committed sample file: its records' index values (with the time) and its rejected lines."""
    return {
        name: ([{**r.values, "timestamp": r.ts} for r in good], bad) for name, (good, bad) in read.items()
    }


def _all_records(parsed: Parsed) -> list[dict[str, Any]]:
    return [record for good, _ in parsed.values() for record in good]


def test_committed_samples_equal_the_regenerated_ones(regenerated: Path) -> None:
    """The committed files (decompressed), their set and the README are exactly what the recipe makes."""
    committed = {f.name: f.lines for f in sample_files(SAMPLES)}
    fresh = {f.name: f.lines for f in sample_files(regenerated)}
    assert committed.keys() == fresh.keys()
    for name, lines in fresh.items():
        assert committed[name] == lines, f"{name} drifted: run python -m auditview.demo.samples"
    plain = [p.relative_to(regenerated) for p in regenerated.rglob("*") if p.is_file() and p.suffix != ".gz"]
    for relative in plain:
        assert (SAMPLES / relative).read_bytes() == (regenerated / relative).read_bytes(), relative
    on_disk = sorted(p.relative_to(SAMPLES) for p in SAMPLES.rglob("*") if p.is_file())
    assert on_disk == sorted(p.relative_to(regenerated) for p in regenerated.rglob("*") if p.is_file())


def test_regenerating_twice_gives_identical_bytes(regenerated: Path, tmp_path: Path) -> None:
    """Two regenerations give byte-identical files, gzip included (no name, mtime 0 in the header)."""
    regenerate(tmp_path)
    first = {p.relative_to(regenerated): p.read_bytes() for p in regenerated.rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert first == second
    packed = first[Path(ROTATED_TOOL) / "audit.jsonl.2.gz"]
    assert packed[:2] == b"\x1f\x8b"
    assert packed[4:8] == b"\0\0\0\0"
    assert packed[3] & 0x08 == 0  # FNAME flag: no file name stored


def test_samples_are_small_and_have_several_tools_and_a_rotated_log() -> None:
    """A few hundred records under 1 MB, one log per tool, and a rotated log with ``.1`` and ``.2.gz``."""
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 1_000_000
    tools = {p.parent.name for p in SAMPLES.glob("*/audit.jsonl")}
    assert len(tools) >= 4
    assert HEALTHCHECK_TOOL in tools
    rotated = SAMPLES / ROTATED_TOOL
    assert (rotated / "audit.jsonl.1").is_file()
    assert (rotated / "audit.jsonl.2.gz").is_file()
    assert (SAMPLES / "README.md").is_file()


def test_samples_record_count_and_trace_sharing(parsed: Parsed) -> None:
    """300 to 800 records, traces of 3 to 25 steps, many of them spread across three or more files."""
    records = _all_records(parsed)
    assert 300 <= len(records) <= 800
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record["trace_id"] is not None:
            traces[record["trace_id"]].append(record)
    assert all(3 <= len(steps) <= 25 for steps in traces.values())
    files_of: dict[str, set[str]] = defaultdict(set)
    for name, (good, _) in parsed.items():
        for record in good:
            files_of[record["trace_id"]].add(name.split("/")[0])
    assert sum(1 for files in files_of.values() if len(files) >= 3) >= 10


def test_only_one_file_has_a_few_rejected_lines_of_different_kinds(parsed: Parsed) -> None:
    """Exactly one file carries 3 to 6 rejected lines, and they differ from each other in reason."""
    with_bad = {name: bad for name, (_, bad) in parsed.items() if bad}
    assert list(with_bad) == [f"{MALFORMED_TOOL}/audit.jsonl"]
    bad = with_bad[f"{MALFORMED_TOOL}/audit.jsonl"]
    assert 3 <= len(bad) <= 6
    reasons = set()
    for line in bad:
        with pytest.raises(ContractError) as exc:
            read_line(line, fields=FieldMap())
        reasons.add(str(exc.value).split(":")[0])
    assert len(reasons) >= 3


def test_the_writers_malformed_lines_are_a_superset_of_the_rejects(read: dict[str, Any]) -> None:
    """The malformed tool's lines the writer contract refuses include every reject and at least one line the
    reader contract keeps as a record (the reader is kinder); the healthcheck has no rejects at all."""
    sample = next(s for s in sample_files(SAMPLES) if s.name == f"{MALFORMED_TOOL}/audit.jsonl")
    refused = []
    for line in sample.lines:
        try:
            parse_line(line)
        except ContractError:
            refused.append(line)
    rejected = read[sample.name][1]
    assert set(rejected) < set(refused)
    assert read[f"{HEALTHCHECK_TOOL}/audit.jsonl"][1] == []


def test_samples_show_slow_steps_and_rolled_back_failures(parsed: Parsed) -> None:
    """At least two steps take over 10 s, and at least two failed traces end up rolling back."""
    records = _all_records(parsed)
    assert sum(1 for r in records if (r["duration_ms"] or 0) > 10_000) >= 2
    failed = {r["trace_id"] for r in records if r["exit_code"] not in (0, None)}
    rolled_back = {r["trace_id"] for r in records if r["command"] == "rollback"} & failed
    assert len(rolled_back) >= 2


def test_readme_names_what_the_files_show(read: dict[str, tuple[list[ReadRecord], list[bytes]]]) -> None:
    """The samples README lists every sample file with its counts, the malformed lines, the field warnings,
    the foreign producer and how to regenerate."""
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for sample in sample_files(SAMPLES):
        good, bad = read[sample.name]
        warned = sum(1 for r in good if r.warnings)
        assert f"| `{sample.name}` | {len(sample.lines)} | {len(good)} | {len(bad)} | {warned} |" in text
    records = sum(len(good) for good, _ in read.values())
    assert f"; {records} records, " in text
    assert "python -m auditview.demo.samples" in text
    assert "Malformed lines" in text
    assert "Field warnings" in text
    assert f"`{HEALTHCHECK_TOOL}/healthcheck.sh`" in text


def test_main_regenerates_into_the_given_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``main(["--out", DIR])`` writes the samples there, replaces stale logs and prints one summary line."""
    stale = tmp_path / ROTATED_TOOL / "audit.jsonl.9.gz"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    assert main(["--out", str(tmp_path)]) == 0
    assert not stale.exists()
    assert (tmp_path / ROTATED_TOOL / "audit.jsonl.2.gz").is_file()
    assert capsys.readouterr().err.count("\n") == 1

"""Export: byte-identical lines in frame order, atomic --to, --force, and the manifest."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import orjson
import pytest

from auditview.core.exporters.jsonl import export_lines, export_to_file
from auditview.core.index import AuditIndex
from auditview.source.types import SourceFile
from tests.engine.lines import record


def load(tmp_path: Path, lines: list[bytes]) -> AuditIndex:
    """An index over one file holding ``lines``."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return AuditIndex.load([SourceFile(path, str(path))])


def test_export_is_byte_identical_and_time_ordered(tmp_path: Path) -> None:
    """Exported lines are the source lines verbatim (odd spacing kept), sorted by timestamp."""
    late = record("2026-01-01T00:00:05Z", "late").replace(b":", b" : ", 1)
    early = record("2026-01-01T00:00:01+00:00", "early", zzz=[1, 2])
    index = load(tmp_path, [late, b"junk", early])
    out = io.BytesIO()
    result = export_lines(index, index.frame, out)
    assert out.getvalue() == early + b"\n" + late + b"\n"
    assert (result.count, result.bytes) == (2, len(out.getvalue()))
    assert result.sha256 == hashlib.sha256(out.getvalue()).hexdigest()


def test_export_to_file_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """--to never clobbers an existing file unless forced, and leaves no temporary file behind."""
    index = load(tmp_path, [record("2026-01-01T00:00:00Z", "r")])
    target = tmp_path / "out" / "slice.jsonl"
    target.parent.mkdir()
    target.write_bytes(b"keep me\n")
    with pytest.raises(FileExistsError):
        export_to_file(index, index.frame, target)
    assert target.read_bytes() == b"keep me\n"
    result = export_to_file(index, index.frame, target, force=True)
    assert target.read_bytes() == record("2026-01-01T00:00:00Z", "r") + b"\n"
    assert result.path == target
    assert sorted(p.name for p in target.parent.iterdir()) == ["slice.jsonl"]


def test_empty_export_writes_empty_file(tmp_path: Path) -> None:
    """An empty result is not an error: the file exists and is empty, the count is 0."""
    index = load(tmp_path, [record("2026-01-01T00:00:00Z", "r")])
    result = export_to_file(index, index.frame.head(0), tmp_path / "empty.jsonl")
    assert (tmp_path / "empty.jsonl").read_bytes() == b""
    assert result.count == 0


def test_manifest_describes_the_slice(tmp_path: Path) -> None:
    """The manifest names the source byte ranges, counts, sha256, filter and time range of the export."""
    lines = [record(f"2026-01-01T00:00:0{i}Z", f"r{i}", exit_code=i % 2) for i in range(5)]
    index = load(tmp_path, lines)
    frame = index.frame.filter(index.frame["exit_code"] == 0)
    manifest = tmp_path / "slice.manifest.json"
    target = tmp_path / "slice.jsonl"
    result = export_to_file(index, frame, target, manifest=manifest, filter_text="exit_code=0")
    document = orjson.loads(manifest.read_bytes())
    assert document["count"] == 3
    assert document["sha256"] == hashlib.sha256((tmp_path / "slice.jsonl").read_bytes()).hexdigest()
    assert document["sha256"] == result.sha256
    assert document["filter"] == "exit_code=0"
    assert document["first_timestamp"].startswith("2026-01-01T00:00:00")
    assert document["last_timestamp"].startswith("2026-01-01T00:00:04")
    (source,) = document["sources"]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    assert source["byte_ranges"] == [[offsets[i], offsets[i + 1]] for i in (0, 2, 4)]
    data = (tmp_path / "audit.jsonl").read_bytes()
    assert b"".join(data[a:b] for a, b in source["byte_ranges"]) == (tmp_path / "slice.jsonl").read_bytes()


def test_reexport_reads_back_the_same_records(tmp_path: Path) -> None:
    """Loading an export gives the same records as the frame it was made from."""
    lines = [record(f"2026-01-01T00:00:0{9 - i}Z", f"r{i}") for i in range(10)]
    index = load(tmp_path, lines)
    target = tmp_path / "slice.jsonl"
    export_to_file(index, index.frame, target)
    again = AuditIndex.load([SourceFile(target, str(target))])
    columns = [c for c in index.frame.columns if c not in {"file_id", "offset", "line"}]
    assert again.frame.select(columns).equals(index.frame.select(columns))

"""``build_report``, the one assembly of a trace report the CLI and the app share, called directly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from auditview.core.exporters.report import EXPORT_RECORDS, build_report, write_export_dir
from auditview.core.index import AuditIndex
from auditview.core.slow import SlowStepRule
from auditview.core.timeline import TraceNotFoundError
from auditview.source.discover import discover
from auditview.source.types import SourceFile

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
WITH_PREVIOUS = "agent-session-56-step-7"


@dataclass
class _FilesOnly:
    """An index that can name its files but not give their bytes."""

    files: list[SourceFile]


def _index() -> AuditIndex:
    return AuditIndex.load(discover([str(SAMPLES)]), cache=False)


def test_the_report_carries_the_records_its_manifest_describes(tmp_path: Path) -> None:
    """Over an ``AuditIndex`` the report holds its trace's source lines byte for byte, the manifest names
    where they will be exported, and ``write_export_dir`` writes the three files."""
    index = _index()
    report = build_report(
        index, WITH_PREVIOUS, records=index.frame, slow_rule=SlowStepRule(), export_dir=tmp_path / "out"
    )
    assert report.manifest is not None
    assert report.manifest["export"] == str(tmp_path / "out" / EXPORT_RECORDS)
    lines = report.records.splitlines()
    assert len(lines) == report.manifest["count"] == len(report.timeline.steps)
    assert all(WITH_PREVIOUS.encode() in line for line in lines)
    assert report.diff is not None
    assert report.findings
    written = write_export_dir(tmp_path / "out", report, "md")
    assert [path.name for path in written] == ["report.md", EXPORT_RECORDS, "manifest.json"]
    assert written[1].read_bytes() == report.records


def test_without_the_bytes_there_is_no_manifest(tmp_path: Path) -> None:
    """An index that cannot give the source bytes makes a report without a manifest, which cannot be
    exported; an unknown trace is ``TraceNotFoundError``."""
    index = _index()
    report = build_report(
        _FilesOnly(index.files), WITH_PREVIOUS, records=index.frame, slow_rule=SlowStepRule()
    )
    assert report.manifest is None
    assert report.records == b""
    assert report.paths == [source.display for source in index.files]
    with pytest.raises(ValueError, match="no manifest"):
        write_export_dir(tmp_path / "out", report, "md")
    with pytest.raises(TraceNotFoundError):
        build_report(index, "no-such-trace", records=index.frame, slow_rule=SlowStepRule())

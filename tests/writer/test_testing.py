"""The capture_records() helper shipped for tools' own tests."""

from __future__ import annotations

from pathlib import Path

from auditview.writer import Auditor
from auditview.writer.testing import capture_records


def test_capture_records_collects_processed_records_and_writes_nothing(
    auditor: Auditor, log_path: Path
) -> None:
    """Inside capture_records(), records (already redacted) go to the list, not the file."""
    with capture_records() as records, auditor.invocation("deploy", {"token": "abc", "env": "prod"}) as inv:
        inv.exit_code = 2
    assert not log_path.exists()
    assert [(r["command"], r["exit_code"], r["params"]) for r in records] == [
        ("deploy", 2, {"token": "[REDACTED]", "env": "prod"})
    ]
    assert records[0]["request_id"] == inv.request_id


def test_capture_records_nests_and_stops(auditor: Auditor, log_path: Path) -> None:
    """The innermost capture receives; after all captures close, records go to the file again."""
    with capture_records() as outer:
        with capture_records() as inner, auditor.invocation("a"):
            pass
        with auditor.invocation("b"):
            pass
    with auditor.invocation("c"):
        pass
    assert [r["command"] for r in inner] == ["a"]
    assert [r["command"] for r in outer] == ["b"]
    assert log_path.read_text().count("\n") == 1

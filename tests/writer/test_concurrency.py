"""Many processes appending to one file: no torn, lost or duplicated record; the harness can see tearing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from auditview.contract import ContractError, parse_line

_REPO = Path(__file__).resolve().parents[2]


def _run_workers(mode: str, path: Path, processes: int, records: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(_REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.writer.append_worker", mode, str(path), str(records)],
            cwd=_REPO,
            env=env,
        )
        for _ in range(processes)
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0


def _audit_file(path: Path) -> tuple[int, int, int, int]:
    """Return (physical lines, torn lines, valid records, duplicate request ids) of a log file."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = data[:-1].split(b"\n")
    torn = 0
    ids: list[str] = []
    for line in lines:
        try:
            record = parse_line(line)
        except ContractError:
            torn += 1
            continue
        ids.append(record["request_id"])
    return len(lines), torn, len(ids), len(ids) - len(set(ids))


def test_eight_processes_twenty_thousand_records_each(tmp_path: Path) -> None:
    """8 processes x 20,000 invocations through the API give 160,000 intact lines with unique request ids."""
    path = tmp_path / "audit.jsonl"
    _run_workers("api", path, processes=8, records=20_000)
    lines, torn, valid, duplicates = _audit_file(path)
    assert (lines, torn, valid, duplicates) == (160_000, 0, 160_000, 0)


def test_harness_detects_torn_lines_from_a_split_writer(tmp_path: Path) -> None:
    """A writer splitting each record into two writes does produce torn lines, and the harness counts them."""
    path = tmp_path / "audit.jsonl"
    _run_workers("split", path, processes=4, records=3_000)
    _lines, torn, valid, _duplicates = _audit_file(path)
    assert torn > 0
    assert valid < 12_000

"""``auditview cache``: prune and clear the index cache from the command line."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from auditview.core import cache
from auditview.main import main


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(capsys.readouterr().out)
    return body


def _fill(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(logs)]) == 0
    cache.wait_pending()
    capsys.readouterr()


def test_prune_removes_entries_of_deleted_logs(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(logs, capsys)
    shutil.rmtree(logs / "verifier")
    assert main(["cache", "-o", "json"]) == 0
    body = _json(capsys)
    assert body["ok"] is True
    assert body["meta"]["command"] == "cache"
    assert [(Path(item["path"]).parent.name, item["reason"]) for item in body["data"]["removed"]] == [
        ("verifier", "missing")
    ]
    assert body["data"]["kept_entries"] == 1
    assert body["data"]["errors"] == 0


def test_prune_to_a_cap_drops_least_recently_used(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(logs, capsys)
    old = time.time() - 3600  # entries used in the last minute are never evicted for size
    for meta in cache.cache_dir().rglob("*"):
        if meta.is_file():
            os.utime(meta, (old, old))
    assert main(["cache", "--max-bytes", "1", "-o", "json"]) == 0
    removed = _json(capsys)["data"]["removed"]
    assert len(removed) == 2
    assert {item["reason"] for item in removed} == {"lru"}


def test_clear_removes_everything_and_tables_say_so(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(logs, capsys)
    assert main(["cache", "--clear", "-o", "table"]) == 0
    out = capsys.readouterr().out
    assert "removed 2 entries (2 cleared)" in out
    assert main(["cache", "-o", "json"]) == 0
    assert _json(capsys)["data"]["kept_entries"] == 0


def test_bad_size_and_conflicting_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "--max-bytes", "lots"]) == 2
    assert "not a size" in capsys.readouterr().err
    assert main(["cache", "--clear", "--max-bytes", "1G"]) == 2


def test_warm_indexes_every_column_so_the_next_look_parses_nothing(
    logs: Path, capsys: pytest.CaptureFixture[str], parsed_offsets: list[int]
) -> None:
    assert main(["cache", "--warm", str(logs), "-o", "json"]) == 0
    body = _json(capsys)["data"]
    assert body["records"] == 7
    assert body["rejects"] == 1
    assert sorted(Path(item["path"]).parent.name for item in body["files"]) == ["deployctl", "verifier"]
    parsed_offsets.clear()
    assert main(["traces", str(logs), "-o", "json"]) == 0
    assert main(["export", str(logs), "--filter", "params.env=prod"]) == 0
    assert parsed_offsets == []


def test_paths_without_warm_and_warm_with_clear_are_usage_errors(logs: Path) -> None:
    assert main(["cache", str(logs)]) == 2
    assert main(["cache", "--warm", "--clear", str(logs)]) == 2


def test_warm_progress_line_is_drawn_and_cleared(capsys: pytest.CaptureFixture[str]) -> None:
    """On a terminal, --warm shows 'indexing N% of M MB' on stderr and clears it at the end."""
    from auditview.cli.commands.cache import progress_meter

    report = progress_meter()
    report(50, 200_000_000)
    report(60, 200_000_000)  # within 0.2 s of the last draw: skipped
    report(200_000_000, 200_000_000)
    err = capsys.readouterr().err
    assert err == "\rindexing 0% of 200 MB\r\x1b[K"

"""Discovery: which files are audit logs, how siblings group and order, compression, the XDG defaults."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from auditview.source.discover import STDIN, SourceMissing, default_roots, discover


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _names(sources: list) -> list[tuple[str, int, str]]:  # type: ignore[type-arg]
    return [(s.path.name, s.generation, s.compression) for s in sources]


def test_rotated_siblings_group_under_the_live_log_oldest_first(tmp_path: Path) -> None:
    """Counter, date and timestamp siblings (plain, gz, zst) sort oldest first under the live log's key."""
    tool = tmp_path / "deployctl"
    _write(tool / "audit.jsonl", b"live\n")
    _write(tool / "audit.jsonl.1", b"one\n")
    _write(tool / "audit.jsonl.2.gz", gzip.compress(b"two\n"))
    _write(tool / "audit.jsonl.10.zst", zstandard.ZstdCompressor().compress(b"ten\n"))
    _write(tool / "audit-2026-11-20T09-00-00.jsonl.gz", gzip.compress(b"stamp-b\n"))
    _write(tool / "audit-2026-11-19T23-59-59.jsonl", b"stamp-a\n")
    _write(tool / "notes.txt", b"not a log\n")
    sources = discover([str(tmp_path)])
    assert _names(sources) == [
        ("audit-2026-11-19T23-59-59.jsonl", 5, "none"),
        ("audit-2026-11-20T09-00-00.jsonl.gz", 4, "gzip"),
        ("audit.jsonl.10.zst", 3, "zstd"),
        ("audit.jsonl.2.gz", 2, "gzip"),
        ("audit.jsonl.1", 1, "none"),
        ("audit.jsonl", 0, "none"),
    ]
    assert {s.log_key for s in sources} == {str(tool / "audit.jsonl")}


def test_compression_is_detected_by_magic_bytes_not_suffix(tmp_path: Path) -> None:
    """A gzip file without .gz and a plain file named .gz are both recognised by their contents."""
    _write(tmp_path / "audit.jsonl.1", gzip.compress(b"x\n"))
    _write(tmp_path / "audit.jsonl.2.gz", b"plain after all\n")
    _write(tmp_path / "audit.jsonl.3", zstandard.ZstdCompressor().compress(b"z\n"))
    assert _names(discover([str(tmp_path)])) == [
        ("audit.jsonl.3", 3, "zstd"),
        ("audit.jsonl.2.gz", 2, "none"),
        ("audit.jsonl.1", 1, "gzip"),
    ]


def test_plain_and_compressed_copy_of_one_generation_lists_the_plain(tmp_path: Path) -> None:
    """While a compressor runs, audit.jsonl.2 and .2.gz both exist; only the complete plain one is read."""
    _write(tmp_path / "audit.jsonl.2", b"two\n")
    _write(tmp_path / "audit.jsonl.2.gz", gzip.compress(b"tw"))
    _write(tmp_path / "audit.jsonl", b"live\n")
    assert _names(discover([str(tmp_path)])) == [("audit.jsonl.2", 1, "none"), ("audit.jsonl", 0, "none")]


def test_directories_recurse_and_named_files_are_always_included(tmp_path: Path) -> None:
    """A directory is searched recursively for audit logs; a named file of any name is included."""
    _write(tmp_path / "a" / "b" / "audit.jsonl", b"deep\n")
    _write(tmp_path / "a" / "other.jsonl", b"ignored in a directory scan\n")
    custom = _write(tmp_path / "custom.log", b"named\n")
    sources = discover([str(tmp_path / "a"), str(custom)])
    assert [s.path for s in sources] == [tmp_path / "a" / "b" / "audit.jsonl", custom]


def test_globs_dedupe_and_stdin_comes_last(tmp_path: Path) -> None:
    """A glob expands to its matches, a file reached twice is listed once, and '-' is stdin, listed last."""
    live = _write(tmp_path / "t1" / "audit.jsonl", b"1\n")
    _write(tmp_path / "t2" / "audit.jsonl", b"2\n")
    sources = discover(["-", str(tmp_path / "*" / "audit.jsonl"), str(live), str(tmp_path / "t1")])
    assert [s.path for s in sources] == [live, tmp_path / "t2" / "audit.jsonl", STDIN.path]
    assert sources[-1] == STDIN


def test_missing_inputs_raise_source_missing_naming_the_path(tmp_path: Path) -> None:
    """A named path that does not exist, or a glob matching nothing, raises SourceMissing (an OSError)."""
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(SourceMissing, match=r"nope\.jsonl"):
        discover([str(missing)])
    with pytest.raises(SourceMissing, match=r"\*\.zzz"):
        discover([str(tmp_path / "*.zzz")])
    assert issubclass(SourceMissing, OSError)


def test_defaults_cover_every_tool_under_both_xdg_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without paths, every tool's audit log (+ siblings) under both XDG roots' tool directories is found."""
    data, state = tmp_path / "data", tmp_path / "state"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    _write(data / "deployctl" / "audit.jsonl", b"d\n")
    _write(data / "deployctl" / "audit.jsonl.1.gz", gzip.compress(b"d1\n"))
    _write(data / "verifyctl" / "audit.jsonl", b"v\n")
    _write(data / "verifyctl" / "nested" / "audit.jsonl", b"too deep for defaults\n")
    _write(data / "loose-audit.jsonl", b"not inside a tool directory\n")
    _write(state / "rollbackctl" / "audit-prod.jsonl", b"r\n")
    assert default_roots() == [data, state]
    found = [str(s.path.relative_to(tmp_path)) for s in discover([])]
    assert found == [
        "data/deployctl/audit.jsonl.1.gz",
        "data/deployctl/audit.jsonl",
        "data/verifyctl/audit.jsonl",
        "state/rollbackctl/audit-prod.jsonl",
    ]


def test_relative_or_unset_xdg_values_fall_back_to_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative XDG value is ignored (as the spec says) and the ~/.local defaults are used."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert default_roots() == [tmp_path / ".local/share", tmp_path / ".local/state"]
    _write(tmp_path / ".local/state/tool/audit.jsonl", b"s\n")
    assert [s.path for s in discover([])] == [tmp_path / ".local/state/tool/audit.jsonl"]


def test_order_is_deterministic_whatever_the_directory_order(tmp_path: Path) -> None:
    """Discovery returns the same list however the files were created."""
    names = ["audit.jsonl.3", "audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    for name in names:
        _write(tmp_path / "x" / name, b"l\n")
    for name in reversed(names):
        _write(tmp_path / "y" / name, b"l\n")
    x = [(s.path.name, s.generation) for s in discover([str(tmp_path / "x")])]
    y = [(s.path.name, s.generation) for s in discover([str(tmp_path / "y")])]
    assert x == y == [("audit.jsonl.3", 3), ("audit.jsonl.2", 2), ("audit.jsonl.1", 1), ("audit.jsonl", 0)]

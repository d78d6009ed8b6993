"""Inputs end to end through a real ``auditview`` process: pipes, process substitution, named FIFOs, devices,
truncated compressed files, directories and files that hold no audit log, a mistyped subcommand (issue #11).

Each case says what was found and what was not: nothing is lost and nothing passes silently with exit 0.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.cli.conftest import line_of, record

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_logs"
#: Generous (a real process imports polars); without the fix the FIFO tests hang, and this bounds them.
TIMEOUT = 60.0


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOL_", "AUDITVIEW_", "NO_COLOR"))}
    env.update(
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        HOME=str(home),
        TZ="UTC",
        AUDITVIEW_AUDIT="0",
        PY=sys.executable,
    )
    env.update(extra)
    return env


def _auditview(
    home: Path, *argv: str, timeout: float = TIMEOUT, **env: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "auditview", *argv],
        capture_output=True,
        env=_env(home, **env),
        cwd=REPO,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _bash(home: Path, script: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``script`` in bash (``$PY -m auditview`` is the CLI; ``<(...)`` works there)."""
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        env=_env(home, **env),
        cwd=REPO,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _lines(count: int, *, tool: str = "deployctl") -> bytes:
    """``count`` contract-valid records, 2 per trace, each line ending with ``\\n``."""
    return b"".join(
        line_of(
            record(
                at_s=i * 0.5,
                tool=tool,
                command=("plan", "apply", "push")[i % 3],
                request_id=f"req-{i:05d}",
                trace_id=f"trace-{i // 2:05d}",
                params={"n": i, "pad": "x" * (i % 50)},
            )
        )
        + b"\n"
        for i in range(count)
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """2,000 records (about 400 KB: far more than a pipe's buffer and a buffered reader's peek)."""
    path = tmp_path / "in" / "audit.jsonl"
    path.parent.mkdir()
    path.write_bytes(_lines(2000))
    return path


def _stats_count(stdout: bytes) -> tuple[int, int]:
    body = json.loads(stdout)
    assert body["ok"] is True
    return sum(row["count"] for row in body["data"]), body["rejects"]


# -- 1. pipes and process substitution -----------------------------------------------------------------------


def test_export_of_process_substitution_prints_every_line_byte_for_byte(
    isolated_env: Path, log: Path
) -> None:
    """``auditview export <(cat LOG)``: every line, byte for byte (it used to die with ``Illegal seek``)."""
    proc = _bash(isolated_env, '"$PY" -m auditview export <(cat "$LOG")', LOG=str(log))
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == sorted(log.read_bytes().splitlines())
    assert proc.stderr == b""


def test_export_of_a_short_pipe_prints_its_lines(isolated_env: Path, log: Path) -> None:
    """A pipe shorter than a read buffer (``<(head -3 LOG)``) is not swallowed by the compression peek."""
    proc = _bash(isolated_env, '"$PY" -m auditview export <(head -3 "$LOG")', LOG=str(log))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == log.read_bytes().splitlines()[:3]


def test_stats_of_a_pipe_counts_every_record_and_no_reject(isolated_env: Path, log: Path) -> None:
    """``stats <(cat LOG) -o json`` counts all 2,000 records (it used to count 1,989 and report 1 reject)."""
    proc = _bash(isolated_env, '"$PY" -m auditview stats <(cat "$LOG") -o json', LOG=str(log))
    assert proc.returncode == 0, proc.stderr
    assert _stats_count(proc.stdout) == (2000, 0)


def test_compression_of_a_pipe_is_read_from_the_bytes_read_once(isolated_env: Path, log: Path) -> None:
    """A gzip or zstd stream through a pipe is recognised from its first bytes, which are not lost."""
    (log.parent / "log.gz").write_bytes(gzip.compress(log.read_bytes()))
    (log.parent / "log.zst").write_bytes(zstandard.ZstdCompressor().compress(log.read_bytes()))
    for name in ("log.gz", "log.zst"):
        proc = _bash(isolated_env, '"$PY" -m auditview export <(cat "$F")', F=str(log.parent / name))
        assert proc.returncode == 0, proc.stderr
        assert sorted(proc.stdout.splitlines()) == sorted(log.read_bytes().splitlines()), name


def test_trace_and_export_of_a_pipe_read_raw_lines_from_the_kept_bytes(isolated_env: Path, log: Path) -> None:
    """Raw lines of a pipe come from the bytes kept while reading it (a pipe cannot be read twice)."""
    proc = _bash(
        isolated_env,
        '"$PY" -m auditview export <(cat "$LOG") --trace trace-00007 && "$PY" -m auditview export /dev/stdin'
        ' --filter "request_id = req-00001" < <(cat "$LOG")',
        LOG=str(log),
    )
    assert proc.returncode == 0, proc.stderr
    lines = log.read_bytes().splitlines()
    assert proc.stdout.splitlines() == [lines[14], lines[15], lines[1]]


def _fifo_writer(fifo: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(fifo, "wb") as handle:  # blocks until the reader opens the FIFO
            handle.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("command", ["export", "stats"])
def test_a_named_fifo_with_a_writer_is_read_once_to_its_end(
    isolated_env: Path, log: Path, tmp_path: Path, command: str
) -> None:
    """A FIFO is opened once: the writer is not cut off by a peek, and nothing waits for a second writer."""
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    writer = _fifo_writer(fifo, log.read_bytes())
    argv = [command, str(fifo)] + (["-o", "json"] if command == "stats" else [])
    proc = _auditview(isolated_env, *argv)
    writer.join(5)
    assert proc.returncode == 0, proc.stderr
    if command == "stats":
        assert _stats_count(proc.stdout) == (2000, 0)
    else:
        assert sorted(proc.stdout.splitlines()) == sorted(log.read_bytes().splitlines())


# -- 6. devices and FIFOs without a writer -------------------------------------------------------------------


def test_a_character_device_is_refused_at_once(isolated_env: Path) -> None:
    """``/dev/zero`` would be read forever: it is refused with 66 and a clear reason."""
    started = time.monotonic()
    proc = _auditview(isolated_env, "stats", "/dev/zero", "-o", "json", timeout=30)
    assert proc.returncode == 66
    assert time.monotonic() - started < 20
    body = json.loads(proc.stdout)
    assert body["error"]["type"] == "SourceMissing"
    assert "/dev/zero" in body["error"]["message"]
    assert "character device" in body["error"]["message"]


def test_dev_stdin_that_is_a_pipe_is_read_like_one(isolated_env: Path, log: Path) -> None:
    """``/dev/stdin`` on a pipe is a pipe in disguise, not a character device: it is read once."""
    proc = _bash(isolated_env, 'cat "$LOG" | "$PY" -m auditview stats /dev/stdin -o json', LOG=str(log))
    assert proc.returncode == 0, proc.stderr
    assert _stats_count(proc.stdout) == (2000, 0)


def test_a_fifo_without_a_writer_fails_after_the_documented_wait(isolated_env: Path, tmp_path: Path) -> None:
    """A FIFO nobody writes to: exit 66 after ``AUDITVIEW_FIFO_WAIT`` seconds, naming it (no endless wait)."""
    fifo = tmp_path / "nobody.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    proc = _auditview(isolated_env, "export", str(fifo), timeout=30, AUDITVIEW_FIFO_WAIT="0.5")
    assert proc.returncode == 66
    assert time.monotonic() - started < 20
    err = proc.stderr.decode()
    assert str(fifo) in err
    assert "no writer" in err
    assert "AUDITVIEW_FIFO_WAIT" in err


def test_a_fifo_whose_writer_comes_late_but_within_the_wait_is_read(
    isolated_env: Path, log: Path, tmp_path: Path
) -> None:
    """The wait is for a writer: one that opens the FIFO a little later is read in full."""
    fifo = tmp_path / "late.fifo"
    os.mkfifo(fifo)

    def late() -> None:
        time.sleep(1.0)
        with open(fifo, "wb") as handle:
            handle.write(log.read_bytes())

    thread = threading.Thread(target=late, daemon=True)
    thread.start()
    proc = _auditview(isolated_env, "stats", str(fifo), "-o", "json", AUDITVIEW_FIFO_WAIT="30")
    thread.join(5)
    assert proc.returncode == 0, proc.stderr
    assert _stats_count(proc.stdout) == (2000, 0)


# -- 2. truncated compressed files ---------------------------------------------------------------------------


def _truncated(tmp_path: Path, name: str, payload: bytes) -> tuple[Path, int]:
    whole = gzip.compress(payload) if name.endswith(".gz") else zstandard.ZstdCompressor().compress(payload)
    path = tmp_path / "cut" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(whole[: len(whole) // 2])
    return path, len(whole) // 2


@pytest.mark.parametrize(("name", "suffix"), [("audit.jsonl.1.gz", ".gz"), ("audit.jsonl.1.zst", ".zst")])
def test_a_compressed_file_cut_in_half_ends_with_one_reject_saying_where(
    isolated_env: Path, tmp_path: Path, name: str, suffix: str
) -> None:
    """The lines before the cut come out; one reject gives the file, the line and the byte where it ended."""
    payload = _lines(2000)  # several zstd blocks: the first ones decode before the cut
    path, size = _truncated(tmp_path, name, payload)
    proc = _auditview(isolated_env, "rejects", str(path), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    (reject,) = json.loads(proc.stdout)["data"]
    exported = _auditview(isolated_env, "export", str(path))
    kept = exported.stdout.splitlines()
    assert kept == payload.splitlines()[: len(kept)]
    assert reject["path"] == str(path)
    assert reject["line"] == len(kept) + 1
    assert f"compressed stream ends early at byte {size} (truncated {suffix})" in reject["reason"]
    assert "the records after it are lost" in reject["reason"]
    assert 0 < len(kept) < 2000
    assert exported.returncode == 0
    assert b"1 malformed line skipped" in exported.stderr


def test_a_gzip_header_with_nothing_after_it_is_not_silent(isolated_env: Path, tmp_path: Path) -> None:
    """A .gz that is only a header: no record, one reject, and exit 65 since nothing in it is readable."""
    path = tmp_path / "audit.jsonl.1.gz"
    path.write_bytes(gzip.compress(b"")[:10])
    proc = _auditview(isolated_env, "rejects", str(path), "-o", "jsonl")
    assert proc.returncode == 0, proc.stderr
    (reject,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert "compressed stream ends early at byte 10 (truncated .gz)" in reject["reason"]
    traces = _auditview(isolated_env, "traces", str(path), "-o", "json")
    assert traces.returncode == 65
    error = json.loads(traces.stdout)["error"]
    assert error["type"] == "NotAuditLog"
    assert "not one line is a record (1 malformed line: compressed stream ends early" in error["message"]


def test_a_rotated_sibling_still_being_compressed_is_reported(isolated_env: Path, tmp_path: Path) -> None:
    """A directory read while ``audit.jsonl.1.gz`` is half written: its lost tail is a reject, not silence."""
    root = tmp_path / "logs"
    root.mkdir()
    older = _lines(40, tool="older")
    whole = gzip.compress(older)
    sibling = root / "audit.jsonl.1.gz"
    sibling.write_bytes(whole[: len(whole) * 2 // 3])  # the compressor has written two thirds so far
    (root / "audit.jsonl").write_bytes(_lines(5))
    proc = _auditview(isolated_env, "rejects", str(root), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    (reject,) = json.loads(proc.stdout)["data"]
    assert reject["path"] == str(sibling)
    assert "truncated .gz" in reject["reason"]


# -- 5. input that is not an audit log -----------------------------------------------------------------------


def test_a_directory_whose_logs_are_not_named_audit_says_so(isolated_env: Path, tmp_path: Path) -> None:
    """``dbctl.jsonl`` is not read by a directory scan; the error (66) names it and how to read it."""
    root = tmp_path / "odd"
    root.mkdir()
    (root / "dbctl.jsonl").write_bytes(_lines(3, tool="dbctl"))
    (root / "notes.txt").write_bytes(b"hello\n")
    proc = _auditview(isolated_env, "traces", str(root), "-o", "json")
    assert proc.returncode == 66
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "NoAuditLogs"
    assert f"no audit logs under {root}" in error["message"]
    assert str(root / "dbctl.jsonl") in error["message"]
    assert "notes.txt" not in error["message"]
    assert error["candidates"] == [str(root / "dbctl.jsonl")]
    named = _auditview(isolated_env, "stats", str(root / "dbctl.jsonl"), "-o", "json")
    assert named.returncode == 0
    assert _stats_count(named.stdout) == (3, 0)


def test_a_directory_with_no_logs_at_all_is_exit_66(isolated_env: Path, tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    proc = _auditview(isolated_env, "export", str(root))
    assert proc.returncode == 66
    assert f"no audit logs under {root}".encode() in proc.stderr
    assert proc.stdout == b""


def test_a_binary_file_is_not_an_audit_log(isolated_env: Path) -> None:
    """``/bin/ls``: not one line is a record, so the command fails with 65 instead of "0 traces"."""
    binary = Path("/bin/ls").resolve()
    proc = _auditview(isolated_env, "traces", str(binary), "-o", "json")
    assert proc.returncode == 65
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "NotAuditLog"
    assert str(binary) in error["message"]
    assert "not one line" in error["message"]
    # the rejects are still there to look at
    listed = _auditview(isolated_env, "rejects", str(binary), "-o", "json", "--limit", "1")
    assert listed.returncode == 0
    assert json.loads(listed.stdout)["rejects"] > 0


def test_a_file_without_records_among_good_ones_is_named(
    isolated_env: Path, log: Path, tmp_path: Path
) -> None:
    """Beside a real log, a file in which not one line is a record is named in a note (exit 0)."""
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"not json\n" * 4)
    proc = _auditview(isolated_env, "stats", str(log), str(junk), "-o", "json")
    assert proc.returncode == 0
    assert _stats_count(proc.stdout) == (2000, 4)
    assert f"{junk}: not one line is a record (4 malformed lines)".encode() in proc.stderr


@pytest.mark.skipif(not SAMPLES.exists(), reason="sample_logs not generated")
def test_a_mistyped_subcommand_suggests_the_right_one(isolated_env: Path) -> None:
    """``auditview trcaes sample_logs`` is a usage error (2) with a suggestion, not an empty app."""
    proc = _auditview(isolated_env, "trcaes", "sample_logs")
    assert proc.returncode == 2
    assert b"did you mean 'traces'?" in proc.stderr
    as_json = _auditview(isolated_env, "stats-", "-o", "json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["suggestion"] == "stats"


def test_an_existing_path_named_like_a_subcommand_still_opens_the_app(
    isolated_env: Path, tmp_path: Path
) -> None:
    """Only a first argument that is not an existing path gets the suggestion (here: the app's tty error)."""
    (tmp_path / "trace").mkdir()
    (tmp_path / "trace" / "audit.jsonl").write_bytes(_lines(2))
    proc = subprocess.run(
        [sys.executable, "-m", "auditview", "trcae"],
        capture_output=True,
        env=_env(isolated_env),
        cwd=tmp_path,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert b"did you mean 'trace'?" in proc.stderr
    (tmp_path / "trcae").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "auditview", "trcae"],
        capture_output=True,
        env=_env(isolated_env),
        cwd=tmp_path,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert b"did you mean" not in proc.stderr
    assert b"needs a terminal" in proc.stderr


# -- 16. trace steps name their file -------------------------------------------------------------------------


def test_trace_json_steps_carry_the_source_path(isolated_env: Path, log: Path, tmp_path: Path) -> None:
    """Each step of ``trace -o json`` says which file it came from, not only a numeric ``file_id``."""
    other = tmp_path / "other" / "audit.jsonl"
    other.parent.mkdir()
    other.write_bytes(
        line_of(record(at_s=0.7, tool="verifier", request_id="req-v", trace_id="trace-00001")) + b"\n"
    )
    proc = _auditview(isolated_env, "trace", "trace-00001", str(log), str(other), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)["data"]["steps"]
    assert {(step["request_id"], step["path"]) for step in steps} == {
        ("req-00002", str(log)),
        ("req-00003", str(log)),
        ("req-v", str(other)),
    }


# -- keeping the bytes of a stream ---------------------------------------------------------------------------


@pytest.fixture
def small_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import auditview.core.index as index_module

    monkeypatch.setattr(index_module, "_KEEP_IN_MEMORY", 4096)


def test_a_big_stream_spills_to_an_unlinked_temporary_file(
    log: Path, tmp_path: Path, small_memory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``_KEEP_IN_MEMORY`` the kept bytes of a stream move to an unlinked temporary file; raw reads
    still return every line byte for byte."""
    from auditview.core.index import AuditIndex
    from auditview.source.discover import discover

    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setenv("TMPDIR", str(spill))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    read_end, write_end = os.pipe()
    data = log.read_bytes()

    def feed() -> None:
        os.write(write_end, data)
        os.close(write_end)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        sources = discover([f"/dev/fd/{read_end}"])
        assert [source.stream for source in sources] == [True]
        index = AuditIndex.load(sources, cache=False)
        writer.join(5)
        held = _held(index)
        assert held["spilled"]
        assert not held["in_memory"]
        assert list(os.scandir(spill)) == []  # unlinked at once
        frame = index.frame.sort("offset")
        assert b"".join(line + b"\n" for line in index.iter_raw(frame)) == data
        index.close()
    finally:
        os.close(read_end)


def _held(index: Any) -> dict[str, bool]:
    raw = index._raw
    spilled = bool(raw._spilled)
    fds = list(raw._spilled.values())
    assert all(stat.S_ISREG(os.fstat(fd).st_mode) for fd in fds)
    return {"spilled": spilled, "in_memory": any(raw._kept.values())}

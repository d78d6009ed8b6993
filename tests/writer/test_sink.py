"""The file sink: permissions, refusing symlinks/FIFOs/directories, fragments, rotation, failure isolation."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditview.contract import ContractError, parse_line
from auditview.writer import Auditor, AuditWriteError, FileSink

from .conftest import TOOL, read_records

_REPO = Path(__file__).resolve().parents[2]


def test_directory_0700_and_file_0600_even_under_umask_000(tmp_path: Path) -> None:
    """With umask 000 the created directories are 0700 and the log file 0600."""
    path = tmp_path / "a" / "b" / "audit.jsonl"
    previous = os.umask(0)
    try:
        with Auditor(TOOL, "1", log_path=path).invocation("x"):
            pass
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700


def test_symlink_at_log_path_is_refused_and_target_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A symlink at the log path is not followed: the target keeps its bytes and one warning is printed."""
    target = tmp_path / "precious.txt"
    target.write_bytes(b"do not touch\n")
    path = tmp_path / "audit.jsonl"
    path.symlink_to(target)
    with Auditor(TOOL, "1", log_path=path).invocation("x"):
        pass
    assert target.read_bytes() == b"do not touch\n"
    assert path.is_symlink()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "symlink" in err


@pytest.mark.parametrize("with_reader", [False, True])
def test_fifo_at_log_path_is_refused_within_100_ms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], with_reader: bool
) -> None:
    """A FIFO at the log path (with or without a reader) is refused without blocking, in under 100 ms."""
    path = tmp_path / "audit.jsonl"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK) if with_reader else None
    auditor = Auditor(TOOL, "1", log_path=path)
    try:
        started = time.monotonic()
        with auditor.invocation("x"):
            pass
        elapsed = time.monotonic() - started
        if reader is not None:
            assert os.read(reader, 100) == b""  # nothing was written into the pipe
    finally:
        if reader is not None:
            os.close(reader)
    assert elapsed < 0.1
    assert "FIFO" in capsys.readouterr().err


def test_directory_at_log_path_is_refused(tmp_path: Path) -> None:
    """A directory at the log path raises AuditWriteError from the sink, naming the problem."""
    path = tmp_path / "audit.jsonl"
    path.mkdir()
    with pytest.raises(AuditWriteError, match="directory"):
        FileSink(path).write(b"{}\n")


def test_fragment_from_a_killed_writer_is_never_glued(tmp_path: Path) -> None:
    """After a writer is SIGKILLed mid-record, the next record starts on a new line and parses."""
    path = tmp_path / "audit.jsonl"
    with Auditor(TOOL, "1", log_path=path).invocation("before"):
        pass
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.writer.append_worker", "fragment", str(path), "200000"],
        cwd=_REPO,
        env={**os.environ, "PYTHONPATH": str(_REPO)},
        stdout=subprocess.PIPE,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline() == b"ready\n"
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL
    assert not path.read_bytes().endswith(b"\n")
    with Auditor(TOOL, "1", log_path=path).invocation("after") as inv:
        pass
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert parse_line(lines[0])["command"] == "before"
    with pytest.raises(ContractError):
        parse_line(lines[1])  # the fragment stays alone on its line
    after = parse_line(lines[2])
    assert (after["command"], after["request_id"]) == ("after", inv.request_id)
    assert len(lines) == 4


def test_rotation_renames_and_keeps_n_files(tmp_path: Path) -> None:
    """Past rotate_bytes the live file is renamed to .1, .2 ...; rotate_keep siblings stay, in order."""
    path = tmp_path / "audit.jsonl"
    auditor = Auditor(TOOL, "1", log_path=path, rotate_bytes=2000, rotate_keep=2)
    for number in range(40):
        with auditor.invocation("r", {"n": number}):
            pass
    siblings = sorted(p.name for p in tmp_path.iterdir())
    assert siblings == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    kept = [
        r["params"]["n"]
        for name in ("audit.jsonl.2", "audit.jsonl.1", "audit.jsonl")
        for r in read_records(tmp_path / name)
    ]
    assert kept == list(range(40 - len(kept), 40))
    assert all((tmp_path / name).stat().st_size <= 2000 for name in siblings)


def test_write_failure_warns_once_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the log cannot be written the body's result is unchanged and exactly one warning line appears."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    auditor = Auditor(TOOL, "1", log_path=blocker / "sub" / "audit.jsonl")
    for _ in range(3):
        with auditor.invocation("x") as inv:
            inv.exit_code = 3
    assert inv.exit_code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"{TOOL}: warning: audit record not written")


def test_disk_full_in_strict_mode_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In strict mode a failed write (here ENOSPC) raises AuditWriteError instead of warning."""
    auditor = Auditor(TOOL, "1", log_path=tmp_path / "audit.jsonl", strict=True)

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(AuditWriteError, match="No space left"), auditor.invocation("x"):
        pass


def test_strict_mode_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WTEST_AUDIT_STRICT=1 turns a refused log path into an exception."""
    path = tmp_path / "audit.jsonl"
    path.mkdir()
    monkeypatch.setenv("WTEST_AUDIT_STRICT", "1")
    with pytest.raises(AuditWriteError), Auditor(TOOL, "1", log_path=path).invocation("x"):
        pass


def test_fsync_mode_writes_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flush='fsync' calls os.fsync on the log after the write."""
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    path = tmp_path / "audit.jsonl"
    with Auditor(TOOL, "1", log_path=path, flush="fsync").invocation("x"):
        pass
    assert len(read_records(path)) == 1
    assert synced


def test_location_env_override_and_disable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The XDG default, <TOOL>_AUDIT_LOG override and <TOOL>_AUDIT=0 are honoured."""
    auditor = Auditor(TOOL, "1")
    with auditor.invocation("a"):
        pass
    assert (tmp_path / "xdg" / TOOL / "audit.jsonl").exists()
    monkeypatch.setenv("WTEST_AUDIT_LOG", str(tmp_path / "elsewhere.jsonl"))
    with auditor.invocation("b"):
        pass
    assert read_records(tmp_path / "elsewhere.jsonl")[0]["command"] == "b"
    monkeypatch.setenv("WTEST_AUDIT", "0")
    with auditor.invocation("c"):
        pass
    assert len(read_records(tmp_path / "elsewhere.jsonl")) == 1


# -- a full disk: a record is written whole or not at all ----------------------------------------------------


@pytest.mark.parametrize("failure", ["short-write-then-enospc", "prefix-then-enospc"])
def test_disk_full_mid_record_leaves_no_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], failure: str
) -> None:
    """A write that lands only a prefix of the record (then ENOSPC) is cut back: the log stays whole lines.

    ``short-write-then-enospc`` is what the kernel does on a nearly full disk (a short count, then ENOSPC on
    the rest); ``prefix-then-enospc`` is a layer that lands a prefix and reports the error in the same call.
    """
    path = tmp_path / "audit.jsonl"
    auditor = Auditor(TOOL, "1", log_path=path)
    with auditor.invocation("before"):
        pass
    before = path.read_bytes()
    real_write = os.write
    calls: list[int] = []

    def nearly_full(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = real_write(fd, data[:150])
        if failure == "prefix-then-enospc":
            raise OSError(errno.ENOSPC, "No space left on device")
        return written

    monkeypatch.setattr(os, "write", nearly_full)
    for _ in range(2):
        with auditor.invocation("lost", {"pad": "x" * 300}) as inv:
            inv.exit_code = 4
        assert inv.exit_code == 4
        assert path.read_bytes() == before  # no fragment left behind
        calls.clear()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "audit record not written" in err
    monkeypatch.setattr(os, "write", real_write)
    with auditor.invocation("after"):
        pass
    assert [r["command"] for r in read_records(path)] == ["before", "after"]


def test_disk_full_in_strict_mode_raises_and_leaves_no_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strict mode raises AuditWriteError for a short write, and the partial record is gone."""
    path = tmp_path / "audit.jsonl"
    auditor = Auditor(TOOL, "1", log_path=path, strict=True)
    with auditor.invocation("before"):
        pass
    before = path.read_bytes()
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[:100]))
    with pytest.raises(AuditWriteError, match="short write"), auditor.invocation("x"):
        pass
    assert path.read_bytes() == before


def test_partial_record_followed_by_another_writer_is_blanked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another process appended after the partial record it cannot be cut off: it becomes a blank line.

    The other writer's record stays intact on its own line (without this it would be glued to the fragment).
    """
    path = tmp_path / "audit.jsonl"
    auditor = Auditor(TOOL, "1", log_path=path)
    with auditor.invocation("before"):
        pass
    other = b'{"other":"record"}\n'
    real_write = os.write

    def short_and_overtaken(fd: int, data: bytes) -> int:
        written = real_write(fd, data[:120])
        other_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        real_write(other_fd, other)
        os.close(other_fd)
        return written

    monkeypatch.setattr(os, "write", short_and_overtaken)
    with auditor.invocation("lost"):
        pass
    monkeypatch.setattr(os, "write", real_write)
    lines = path.read_bytes().split(b"\n")
    assert parse_line(lines[0])["command"] == "before"
    assert lines[1].strip() == b""
    assert len(lines[1]) == 119  # the fragment's bytes, blanked in place (its last byte is the newline)
    assert lines[2] == other.rstrip(b"\n")
    assert lines[3] == b""
    assert b'"lost"' not in path.read_bytes()


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted under tmp_path; skipped where mounting is not permitted."""
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    point = tmp_path / "small"
    point.mkdir()
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield point
    finally:
        subprocess.run([umount, str(point)], check=False)


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError, match="No space left"):  # noqa: PT012
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


def test_real_full_file_system_leaves_whole_records(
    small_tmpfs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a really full file system (a 64 KiB tmpfs) every call returns and the log holds only whole lines."""
    path = small_tmpfs / "audit.jsonl"
    auditor = Auditor(TOOL, "1", log_path=path)
    with auditor.invocation("first"):
        pass
    filler = small_tmpfs / "filler"
    _fill(filler)
    first = path.read_bytes()
    for number in range(3):  # each is bigger than the free tail of the log's last page: a short write
        with auditor.invocation("lost", {"n": number, "blob": "b" * 6000}) as inv:
            inv.exit_code = 0
        assert path.read_bytes() == first
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "audit record not written" in err
    filler.unlink()
    with auditor.invocation("after"):
        pass
    data = path.read_bytes()
    assert data.endswith(b"\n")
    assert [parse_line(line)["command"] for line in data.splitlines()] == ["first", "after"]


# -- hard links ----------------------------------------------------------------------------------------------


def test_hard_link_at_log_path_is_refused_and_target_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log path that is a second name (hard link) of another file is refused; that file keeps its bytes."""
    target = tmp_path / "precious.txt"
    target.write_bytes(b"do not touch\n")
    path = tmp_path / "audit.jsonl"
    os.link(target, path)
    with Auditor(TOOL, "1", log_path=path).invocation("x"):
        pass
    assert target.read_bytes() == b"do not touch\n"
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "hard link" in err


def test_log_that_gained_a_hard_link_is_refused_until_it_is_removed(tmp_path: Path) -> None:
    """The sink raises for a log with a link count above 1 and writes again once the extra name is gone."""
    path = tmp_path / "audit.jsonl"
    sink = FileSink(path)
    sink.write(b"{}\n")
    other = tmp_path / "elsewhere.jsonl"
    os.link(path, other)
    with pytest.raises(AuditWriteError, match="2 hard links"):
        sink.write(b"[]\n")
    assert other.read_bytes() == b"{}\n"
    other.unlink()
    sink.write(b"[]\n")
    assert path.read_bytes() == b"{}\n[]\n"

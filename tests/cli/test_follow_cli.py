"""``audit-log -f`` end to end: real follower processes (``auditview audit-log -f`` and the demo tool's
``audit-log -f``, the writer's own) while another process writes through ``auditview.writer.Auditor`` and
rotates the log by rename, by copytruncate and by the writer's own ``rotate_bytes``. Every record must be
printed exactly once, the follower must not die, and Ctrl-C must end it with 0 (items 3 and 4 of issue #11).
Also: ``--until`` keeps a record that started exactly at WHEN in every command that has it (item 17).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]

#: Writes ``count`` records numbered from ``first`` through ``Auditor`` and rotates the log as ``scenario``
#: says: ``rename`` (every 250 records: shift the siblings, ``mv log log.1``), ``mixed`` (every 100 records,
#: in turn: mv, copytruncate, mv...), ``rotate_bytes`` (the writer's own rotation at 64 KiB, 5 kept: the
#: oldest are deleted, maybe while the follower still drains them), ``none``; ``once`` = the one ``mv`` of the
#: issue (after half the records). ``pause`` (seconds) is slept every 50 records.
WRITER = r"""
import os, shutil, sys, time
from auditview.writer import Auditor

log, scenario = sys.argv[1], sys.argv[2]
first, count, pause = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
rotate = 64 << 10 if scenario == "rotate_bytes" else None
auditor = Auditor("demo", "1", log_path=log, rotate_bytes=rotate)

def shift():
    for gen in range(8, 0, -1):
        if os.path.exists(f"{log}.{gen}"):
            os.replace(f"{log}.{gen}", f"{log}.{gen + 1}")

turn = 0
for n, i in enumerate(range(first, first + count), start=1):
    with auditor.invocation("step", {"i": i}):
        pass
    if pause and n % 50 == 0:
        time.sleep(pause)
    if n == count:
        break
    if (scenario == "rename" and n % 250 == 0) or (scenario == "once" and n == count // 2):
        shift()
        os.replace(log, log + ".1")
    elif scenario == "mixed" and n % 100 == 0:
        shift()
        if turn % 2:
            shutil.copyfile(log, log + ".1")
            os.truncate(log, 0)
        else:
            os.replace(log, log + ".1")
        turn += 1
"""


def _env(home: Path, log: Path) -> dict[str, str]:
    skip = ("TOOL_", "AUDITVIEW_", "DEMO_", "NO_COLOR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        HOME=str(home),
        TZ="UTC",
        DEMO_AUDIT_LOG=str(log),
    )
    return env


def _follower_argv(kind: str, log: Path) -> list[str]:
    if kind == "auditview":
        return [sys.executable, "-m", "auditview", "audit-log", str(log), "-f", "-o", "jsonl"]
    return [sys.executable, "-m", "auditview.demo", "audit-log", "-f", "-o", "jsonl"]


def _writer(log: Path, env: dict[str, str], scenario: str, first: int, count: int, pause: float) -> list[str]:
    return [sys.executable, "-c", WRITER, str(log), scenario, str(first), str(count), str(pause)]


class _Output:
    """The follower's stdout, read without blocking: the records printed so far, by their ``params.i``."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buffer = b""

    def read_while(self, other: subprocess.Popen[bytes], timeout: float) -> int:
        """Keep reading (a follower blocked on a full pipe reads nothing) until ``other`` ends; its code."""
        deadline = time.monotonic() + timeout
        while other.poll() is None and time.monotonic() < deadline:
            self.read(0.02)
        return other.wait(timeout=max(deadline - time.monotonic(), 0.1))

    def read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        data = os.read(self.fd, 1 << 20)
        self.buffer += data
        return bool(data)

    def numbers(self) -> list[int]:
        complete = self.buffer[: self.buffer.rfind(b"\n") + 1]
        return [orjson.loads(line)["params"]["i"] for line in complete.splitlines()]

    def wait_for(self, count: int, deadline: float) -> list[int]:
        """Read until ``count`` records were printed (or the deadline passes, or the process ends), then read
        what else comes within a short quiet period, so that a duplicate printed late is seen too."""
        while len(self.numbers()) < count and time.monotonic() < deadline and self.proc.poll() is None:
            self.read(0.05)
        while self.read(0.3):
            pass
        return self.numbers()


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err.decode(errors="replace")


def _start(kind: str, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], _Output]:
    proc = subprocess.Popen(
        _follower_argv(kind, log), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO
    )
    return proc, _Output(proc)


def _check_every_record_once(numbers: list[int], expected: range, code: int, err: str) -> None:
    counts = Counter(numbers)
    missing = [i for i in expected if i not in counts]
    repeated = sorted(i for i, n in counts.items() if n > 1)
    assert (len(set(numbers) & set(expected)), missing[:10], repeated[:10]) == (len(expected), [], []), err
    assert set(numbers) <= set(expected)
    assert code == 0, err
    assert "Traceback" not in err, err
    assert "error" not in err, err


@pytest.mark.parametrize("kind", ["auditview", "demo"])
@pytest.mark.parametrize(
    ("scenario", "count"), [("once", 40), ("rename", 1000), ("mixed", 1000), ("rotate_bytes", 2000)]
)
def test_follow_prints_every_record_once_across_rotation(
    tmp_path: Path, kind: str, scenario: str, count: int
) -> None:
    """A follower started on a log prints each record written later exactly once, whatever the rotation: the
    issue's ``mv log log.1`` between two batches of 20, then 1,000 records with a rename every 250, with mv,
    copytruncate, mv... every 100, and 2,000 with the writer's own 64 KiB rotation (3 kept)."""
    log = tmp_path / "demo" / "audit.jsonl"
    env = _env(tmp_path, log)
    subprocess.run(_writer(log, env, "none", 0, 1, 0), env=env, check=True, timeout=30)
    proc, out = _start(kind, log, env)
    try:
        assert out.wait_for(1, time.monotonic() + 8) == [0]
        writer = subprocess.Popen(_writer(log, env, scenario, 1, count, 0.005), env=env, cwd=REPO)
        assert out.read_while(writer, timeout=20) == 0
        numbers = out.wait_for(count + 1, time.monotonic() + 5)
    finally:
        code, err = _stop(proc)
    _check_every_record_once(numbers, range(count + 1), code, err)


@pytest.mark.parametrize("kind", ["auditview", "demo"])
def test_follow_started_while_records_are_written_loses_none(tmp_path: Path, kind: str) -> None:
    """A follower started while another process keeps appending prints each record once: those it read at
    start and every one appended after, with no gap between the first read and following (item 4)."""
    log = tmp_path / "demo" / "audit.jsonl"
    env = _env(tmp_path, log)
    subprocess.run(_writer(log, env, "none", 0, 1, 0), env=env, check=True, timeout=30)
    writer = subprocess.Popen(_writer(log, env, "none", 1, 1000, 0.02), env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 5
        while log.stat().st_size < 20_000 and time.monotonic() < deadline:  # the writer is under way
            time.sleep(0.01)
        proc, out = _start(kind, log, env)
        try:
            assert out.read_while(writer, timeout=20) == 0
            numbers = out.wait_for(1001, time.monotonic() + 5)
        finally:
            code, err = _stop(proc)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    _check_every_record_once(numbers, range(1001), code, err)


@pytest.mark.parametrize("kind", ["auditview", "demo"])
def test_follow_reports_each_malformed_line_once(tmp_path: Path, kind: str) -> None:
    """A malformed line there at the start and one appended later are each reported once on stderr (never
    silently, never twice), and the records around them are printed."""
    log = tmp_path / "demo" / "audit.jsonl"
    env = _env(tmp_path, log)
    subprocess.run(_writer(log, env, "none", 0, 1, 0), env=env, check=True, timeout=30)
    with log.open("ab") as handle:
        handle.write(b"{not json\n")
    proc, out = _start(kind, log, env)
    try:
        assert out.wait_for(1, time.monotonic() + 8) == [0]
        with log.open("ab") as handle:
            handle.write(b"[1, 2]\n")
        subprocess.run(_writer(log, env, "none", 1, 1, 0), env=env, check=True, timeout=30)
        numbers = out.wait_for(2, time.monotonic() + 8)
    finally:
        code, err = _stop(proc)
    assert (numbers, code) == ([0, 1], 0), err
    if kind == "auditview":  # the lines there at the start are counted, those appended later named
        assert err.count("malformed line") == 2, err
    else:
        assert err.count(f"{log}:2:") == 1, err
    assert err.count(f"{log}:3:") == 1, err


# -- --until is inclusive everywhere -------------------------------------------------------------------------


def _stamped_log(tmp_path: Path) -> tuple[Path, list[str]]:
    """A log of three records one second apart; returns it and their timestamps."""
    log = tmp_path / "demo" / "audit.jsonl"
    log.parent.mkdir(parents=True)
    stamps = [f"2026-11-20T09:00:0{i}.000000Z" for i in range(3)]
    records = [
        {
            "timestamp": s,
            "tool": "demo",
            "command": "step",
            "params": {"i": i},
            "exit_code": 0,
            "duration_ms": 1.0,
        }
        for i, s in enumerate(stamps)
    ]
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return log, stamps


@pytest.mark.parametrize(
    "argv",
    [
        ["auditview", "audit-log", "{log}", "-o", "jsonl"],
        ["auditview", "audit-log", "{log}", "-o", "jsonl", "--command", "step"],
        ["auditview", "export", "{log}"],
        ["auditview", "export", "{log}", "--filter", "exit_code=0"],
        ["demo", "audit-log", "-o", "jsonl"],
    ],
)
def test_until_keeps_a_record_that_started_exactly_then(tmp_path: Path, argv: list[str]) -> None:
    """``--since A --until B`` keeps the records with A <= start <= B in every command (with and without a
    pushed-down selection), as the app's time range does."""
    log, stamps = _stamped_log(tmp_path)
    program = [sys.executable, "-m", "auditview" if argv[0] == "auditview" else "auditview.demo"]
    args = [part.format(log=log) for part in argv[1:]] + ["--since", stamps[0], "--until", stamps[1]]
    done = subprocess.run(
        [*program, *args], env=_env(tmp_path, log), capture_output=True, check=True, timeout=30, cwd=REPO
    )
    assert [orjson.loads(line)["params"]["i"] for line in done.stdout.splitlines()] == [0, 1]


@pytest.mark.parametrize("kind", ["auditview", "demo"])
def test_until_is_inclusive_while_following(tmp_path: Path, kind: str) -> None:
    """``-f --until B``: a record appended later that started exactly at B is printed, one after it is not."""
    log, _ = _stamped_log(tmp_path)
    env = _env(tmp_path, log)
    proc = subprocess.Popen(
        [*_follower_argv(kind, log), "--until", "2026-11-20T09:00:05Z"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    out = _Output(proc)
    try:
        assert out.wait_for(3, time.monotonic() + 8) == [0, 1, 2]
        with log.open("ab") as handle:
            for i, second in ((3, "06"), (4, "05"), (5, "05.000001")):
                stamp = f"2026-11-20T09:00:{second}Z"
                record = {"timestamp": stamp, "tool": "demo", "command": "step", "params": {"i": i}}
                handle.write(orjson.dumps(record) + b"\n")
        numbers = out.wait_for(4, time.monotonic() + 8)
    finally:
        code, err = _stop(proc)
    assert (numbers, code) == ([0, 1, 2, 4], 0), err

"""Signals: what a process sends the wrapper is passed on to the command; the terminal's Ctrl-C reaches the
command itself, once; the wrapper ends as the command ended."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditview.contract import check_record
from tests.wrap.conftest import RUN, only_record

#: Prints "ready", then "got N" and exits 7 on SIGTERM/SIGHUP/SIGINT/SIGUSR1 (1 if nothing comes).
TRAPPING = """
import signal, sys, time
def handler(signum, frame):
    print(f"got {signum}", flush=True)
    sys.exit(7)
for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1):
    signal.signal(sig, handler)
print("ready", flush=True)
time.sleep(30)
sys.exit(1)
"""

#: Prints "ready", then sleeps with default signal dispositions.
PLAIN = "import time\nprint('ready', flush=True)\ntime.sleep(30)"


def _start(argv: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1])
def test_signal_sent_to_the_wrapper_is_forwarded(sig: signal.Signals, log: Path) -> None:
    """kill -TERM/-HUP/-INT/-USR1 <wrapper>: the command gets it, once, and its exit status is ours."""
    proc = _start([*RUN, "--log", str(log), "--", sys.executable, "-c", TRAPPING])
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 7, err
    assert out == f"got {int(sig)}\n"
    record = only_record(log)
    check_record(record)
    assert record["exit_code"] == 7


def test_sigterm_kills_a_command_that_does_not_handle_it(log: Path) -> None:
    """The forwarded SIGTERM ends the command; the record says 143, the wrapper dies of SIGTERM."""
    proc = _start([*RUN, "--log", str(log), "--", sys.executable, "-c", PLAIN])
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == -signal.SIGTERM
    record = only_record(log)
    assert record["exit_code"] == 143
    assert record["error"]["type"] == "Signal"


def test_sigterm_forwarded_without_sigwaitinfo(log: Path) -> None:
    """The fallback for platforms without ``sigwaitinfo`` (handlers) forwards SIGTERM too."""
    launcher = (
        "import sys, auditview.writer.wrap as w\n"
        "w._wait = w._wait_handlers\nraise SystemExit(w.main(sys.argv[1:]))"
    )
    proc = _start([sys.executable, "-c", launcher, "--log", str(log), "--", sys.executable, "-c", TRAPPING])
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 7, err
    assert out == "got 15\n"
    assert only_record(log)["exit_code"] == 7


def _read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    """Read the pty master until ``marker`` shows (or EOF / the deadline)."""
    data = b""
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("own_group", [False, True])
def test_terminal_ctrl_c_reaches_the_command_once(own_group: bool, log: Path) -> None:
    """In a terminal, Ctrl-C goes to the foreground group (wrapper and command): the command gets it from the
    terminal (SI_KERNEL), sees a terminal, and its exit status is ours. The wrapper does not forward what
    the terminal sent: a command that left the group (``own_group``) gets no SIGINT at all."""
    child = (
        "import os, signal, sys, time\n"
        f"if {own_group}:\n"
        "    os.setpgid(0, 0)\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
        "print('tty', sys.stdin.isatty(), sys.stdout.isatty(), flush=True)\n"
        "print('ready', flush=True)\n"
        "codes = []\n"
        "end = time.monotonic() + 1.5\n"
        "while (left := end - time.monotonic()) > 0:\n"
        "    info = signal.sigtimedwait({signal.SIGINT}, left)\n"
        "    if info is not None:\n"
        "        codes.append(info.si_code)\n"
        "print('codes', codes, flush=True)\n"
        "raise SystemExit(9)\n"
    )
    argv = [*RUN, "--log", str(log), "--", sys.executable, "-c", child]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child process
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    try:
        deadline = time.monotonic() + 30
        output = _read_until(fd, b"ready", deadline)
        os.write(fd, b"\x03")
        output += _read_until(fd, b"codes", deadline)
        output += _read_until(fd, b"\n", deadline)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    text = output.decode(errors="replace")
    assert "tty True True" in text
    # SI_KERNEL is 128: the terminal's own signal; a forwarded one would be SI_USER (0)
    assert ("codes []" if own_group else "codes [128]") in text, text
    assert os.waitstatus_to_exitcode(status) == 9
    assert only_record(log)["exit_code"] == 9

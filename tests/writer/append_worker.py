"""A worker process for the concurrency and crash tests (``python -m tests.writer.append_worker MODE ...``).

Modes: ``api PATH N`` appends N records through ``Auditor.invocation``; ``split PATH N`` appends N records
with two ``os.write`` calls each (a deliberately broken writer, the negative control); ``fragment PATH BYTES``
writes half of a record carrying BYTES of data, prints ``ready`` and waits to be killed.
"""

from __future__ import annotations

import os
import sys
import time

from auditview.writer import Auditor


def _api(path: str, count: int) -> None:
    auditor = Auditor("wtest", "1.0.0", log_path=path)
    worker = os.getpid()
    for number in range(count):
        with auditor.invocation("append", {"worker": worker, "n": number, "pad": "x" * (number % 200)}):
            pass


def _split(path: str, count: int) -> None:
    auditor = Auditor("wtest", "1.0.0", log_path=path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    for number in range(count):
        with auditor.invocation("append", {"n": number}, record=False) as inv:
            pass
        line = auditor.render_line(auditor.build_record(inv))
        half = len(line) // 2
        os.write(fd, line[:half])
        os.sched_yield()
        os.write(fd, line[half:])
    os.close(fd)


def _fragment(path: str, size: int) -> None:
    auditor = Auditor("wtest", "1.0.0", log_path=path, max_record_bytes=4 * size)
    with auditor.invocation("huge", {"blob": "y" * size}, record=False) as inv:
        pass
    line = auditor.render_line(auditor.build_record(inv))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, line[: len(line) // 2])  # the kill lands here: half a record, no newline
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(60)


def main(argv: list[str]) -> int:
    mode, path, number = argv[0], argv[1], int(argv[2])
    {"api": _api, "split": _split, "fragment": _fragment}[mode](path, number)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

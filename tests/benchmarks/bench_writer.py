"""Writer benchmark (a script, not a test): ``python tests/benchmarks/bench_writer.py [--quick]``.

Prints per-invocation overhead p50/p99 (µs) of ``Auditor.invocation`` for flush modes ``none`` and ``fsync``,
records/s with 1 and 4 processes appending to one file, and how much ``import auditview.writer`` adds to a
bare interpreter start (medians). Everything is written under a temporary directory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _overhead(path: Path, flush: str, count: int) -> tuple[float, float]:
    from auditview.writer import Auditor

    auditor = Auditor("bench", "1.0.0", log_path=path, flush=flush)  # type: ignore[arg-type]
    samples: list[int] = []
    params = {"env": "prod", "service": "checkout", "replicas": 3, "token": "secret"}
    for number in range(count + 50):
        started = time.perf_counter_ns()
        with auditor.invocation("deploy", {**params, "n": number}) as inv:
            inv.meta()
        if number >= 50:  # warm-up excluded
            samples.append(time.perf_counter_ns() - started)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def _append(path: str, count: int) -> None:
    from auditview.writer import Auditor

    auditor = Auditor("bench", "1.0.0", log_path=path)
    for number in range(count):
        with auditor.invocation("append", {"n": number}):
            pass


def _throughput(path: Path, processes: int, per_process: int) -> float:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append, args=(str(path), per_process)) for _ in range(processes)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    lines = path.read_bytes().count(b"\n")
    assert lines == processes * per_process, (lines, processes * per_process)
    return lines / elapsed


def _median_start_ms(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    scale = 5 if args.quick else 1
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        p50, p99 = _overhead(root / "none.jsonl", "none", 20_000 // scale)
        rows.append(("overhead, flush=none  (p50 / p99)", f"{p50:.1f} µs / {p99:.1f} µs"))
        p50, p99 = _overhead(root / "fsync.jsonl", "fsync", 2_000 // scale)
        rows.append(("overhead, flush=fsync (p50 / p99)", f"{p50:.1f} µs / {p99:.1f} µs"))
        one = _throughput(root / "one.jsonl", 1, 40_000 // scale)
        rows.append(("records/s, 1 process", f"{one:,.0f}"))
        four = _throughput(root / "four.jsonl", 4, 20_000 // scale)
        rows.append(("records/s, 4 processes (one file)", f"{four:,.0f}"))
    runs = 21 if not args.quick else 7
    bare = _median_start_ms("pass", runs)
    with_writer = _median_start_ms("import auditview.writer", runs)
    with_contract = _median_start_ms("import auditview.contract", runs)
    rows.append(("python -c pass (median)", f"{bare:.1f} ms"))
    rows.append(("python -c 'import auditview.contract' (orjson)", f"{with_contract:.1f} ms"))
    rows.append(("python -c 'import auditview.writer' (median)", f"{with_writer:.1f} ms"))
    rows.append(("import auditview.writer adds", f"{with_writer - bare:.1f} ms"))
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

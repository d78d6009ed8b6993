"""Writer benchmark (a script, not a test): ``python tests/benchmarks/bench_writer.py [--quick]``.

Prints per-invocation overhead p50/p99 (µs) of ``Auditor.invocation`` for flush modes ``none`` and ``fsync``,
records/s with 1 and 4 processes appending to one file, and how much ``import auditview.writer`` adds to a
bare interpreter start (medians). Everything is written under a temporary directory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def _overhead(path: Path, flush: str, count: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall p50, p99) and (CPU p50, p99) in µs of one invocation, record written."""
    from auditview.writer import Auditor

    auditor = Auditor("bench", "1.0.0", log_path=path, flush=flush)  # type: ignore[arg-type]
    wall: list[int] = []
    cpu: list[int] = []
    params = {"env": "prod", "service": "checkout", "replicas": 3, "token": "secret"}
    for number in range(count + 50):
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        with auditor.invocation("deploy", {**params, "n": number}) as inv:
            inv.meta()
        if number >= 50:  # warm-up excluded
            wall.append(time.perf_counter_ns() - started)
            cpu.append(time.thread_time_ns() - started_cpu)
    return _percentiles(wall), _percentiles(cpu)


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


def _start_ms(code: str, runs: int, env: dict[str, str]) -> tuple[float, float, float]:
    """Median wall, median CPU (user + sys) and minimum CPU time in ms of ``python -c code``."""
    walls, cpus = [], []
    subprocess.run([sys.executable, "-c", code], check=True, env=env)  # warm-up (writes the bytecode cache)
    for _ in range(runs):
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", code], env=env)
        _pid, status, usage = os.wait4(child.pid, 0)
        walls.append((time.perf_counter() - started) * 1000)
        child.returncode = os.waitstatus_to_exitcode(status)
        assert child.returncode == 0
        cpus.append((usage.ru_utime + usage.ru_stime) * 1000)
    return statistics.median(walls), statistics.median(cpus), min(cpus)


def _importtime_ms(module: str, runs: int, env: dict[str, str]) -> float:
    """Minimum over ``runs`` of the cumulative ``-X importtime`` figure of ``module`` (ms)."""
    best = float("inf")
    for _ in range(runs):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            env=env,
            capture_output=True,
            text=True,
        ).stderr
        for line in err.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == module:
                best = min(best, int(parts[1]) / 1000)
    return best


def _import_rows(runs: int, env: dict[str, str], label: str) -> list[tuple[str, str]]:
    starts = {
        "pass": _start_ms("pass", runs, env),
        "import auditview.contract": _start_ms("import auditview.contract", runs, env),
        "import auditview.writer": _start_ms("import auditview.writer", runs, env),
    }
    rows = [
        (f"python -c '{code}' {label}", f"{wall:.1f} / {cpu:.1f} / {low:.1f} ms")
        for code, (wall, cpu, low) in starts.items()
    ]
    bare, writer = starts["pass"], starts["import auditview.writer"]
    added = f"{writer[0] - bare[0]:.1f} / {writer[1] - bare[1]:.1f} / {writer[2] - bare[2]:.1f} ms"
    rows.append((f"import auditview.writer adds {label}", added))
    for module in ("orjson", "auditview.contract", "auditview.writer"):
        rows.append(
            (
                f"-X importtime {module}, cumulative (min) {label}",
                f"{_importtime_ms(module, runs, env):.1f} ms",
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    scale = 5 if args.quick else 1
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for flush, count in (("none", 20_000), ("fsync", 2_000)):
            (p50, p99), (c50, c99) = _overhead(root / f"{flush}.jsonl", flush, count // scale)
            rows.append((f"overhead, flush={flush}, wall (p50 / p99)", f"{p50:.1f} µs / {p99:.1f} µs"))
            rows.append((f"overhead, flush={flush}, CPU  (p50 / p99)", f"{c50:.1f} µs / {c99:.1f} µs"))
        one = _throughput(root / "one.jsonl", 1, 40_000 // scale)
        rows.append(("records/s, 1 process", f"{one:,.0f}"))
        four = _throughput(root / "four.jsonl", 4, 20_000 // scale)
        rows.append(("records/s, 4 processes (one file)", f"{four:,.0f}"))
    runs = 21 if not args.quick else 7
    with tempfile.TemporaryDirectory() as cache:
        # An installed tool has byte-compiled modules; keep the cache out of the source tree.
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache
        rows.extend(_import_rows(runs, cached, "[pyc]"))
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        rows.extend(_import_rows(runs, dict(os.environ), "[no pyc]"))
    rows.append(("load average (1 min) at the end", f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"))
    rows.append(("(import rows: median wall / median CPU / min CPU)", "[pyc] = bytecode cache on"))
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

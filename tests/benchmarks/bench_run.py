"""Overhead of ``auditview run`` (a script, not a test): ``python tests/benchmarks/bench_run.py [--runs N]``.

Times, as wall-clock medians of N runs each (after one warm-up run), ``true``, ``python -c pass`` (the floor
of any Python program), ``auditview run -- true`` (the installed ``auditview`` script next to this
interpreter, writing its record to a temporary ``--log``) and ``python -m auditview.writer.wrap -- true``
(the same
wrapper without the ``auditview`` command's own imports), and prints them side by side with the wrapper's
overhead (its median minus ``true``'s). The runs alternate, so a load change on the machine affects all
three alike. Bytecode is cached for the runs (in a temporary ``PYTHONPYCACHEPREFIX``) as in a normal
install, even when ``PYTHONDONTWRITEBYTECODE`` is set here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="runs per command (default 20)")
    args = parser.parse_args()
    script = Path(sys.executable).parent / "auditview"
    auditview = [str(script)] if script.exists() else [sys.executable, "-m", "auditview"]
    wrap = [sys.executable, "-m", "auditview.writer.wrap"]
    true = shutil.which("true") or "/bin/true"
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=os.path.join(tmp, "pycache"), XDG_DATA_HOME=os.path.join(tmp, "data"))
        log = os.path.join(tmp, "audit.jsonl")
        commands = {
            "true": [true],
            "python -c pass": [sys.executable, "-c", "pass"],
            "auditview run -- true": [*auditview, "run", "--log", log, "--", true],
            "python -m auditview.writer.wrap -- true": [*wrap, "--log", log, "--", true],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():
            _time(argv, env)  # warm-up: fills the bytecode cache and the page cache
        for _ in range(args.runs):
            for name, argv in commands.items():
                samples[name].append(_time(argv, env))
        records = len(Path(log).read_bytes().splitlines())
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"median of {args.runs} runs each ({os.cpu_count()} CPUs, Python {sys.version.split()[0]})")
    width = max(map(len, samples))
    print(f"{'command':<{width}} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, values in samples.items():
        print(f"{name:<{width}} {medians[name]:>10.1f} {min(values):>8.1f} {max(values):>8.1f}")
    overhead = medians["auditview run -- true"] - medians["true"]
    over_python = medians["auditview run -- true"] - medians["python -c pass"]
    print(f"overhead of auditview run: {overhead:.1f} ms ({over_python:.1f} ms over a bare Python start)")
    print(f"records written: {records} (warm-up included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

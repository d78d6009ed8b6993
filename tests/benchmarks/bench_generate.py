"""Benchmark of the demo log generator: prints records/s, MB/s and bytes per record (a script, not a test).

Run ``python tests/benchmarks/bench_generate.py [--records N] [--repeat K]``. It writes to a temporary file
and removes it; it asserts nothing and is not collected by pytest (its name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from auditview.demo.generate import GeneratorConfig, write_log


def main() -> None:
    """Generate N records K times and print the median figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    seconds: list[float] = []
    size = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.jsonl"
        for _ in range(args.repeat):
            summary = write_log(out, GeneratorConfig(records=args.records, seed=args.seed))
            seconds.append(summary.seconds)
            size = summary.bytes
    median = statistics.median(seconds)
    print(f"records          {args.records}")
    print(f"runs             {args.repeat} (median of {', '.join(f'{s:.2f}' for s in seconds)} s)")
    print(f"time             {median:.2f} s")
    print(f"records/s        {args.records / median:,.0f}")
    print(f"MB/s             {size / 1e6 / median:.1f}")
    print(f"file size        {size / 1e6:.1f} MB ({size / max(1, args.records):.0f} bytes/record)")


if __name__ == "__main__":
    main()

"""The floor of a polars route, next to DuckDB and auditview: how close to DuckDB can an exact reader get?

Run it as a script (it is not a pytest test)::

    python tests/benchmarks/bench_floor.py [--runs 3] FILE [FILE...]

For each file and each task (``traces``: a GROUP BY trace_id with count, first and last time and the longest
duration; ``stats``: per tool and command the count, failures, p50/p95/p99 and max duration) it times, each
as its own process, alternating, the median of ``--runs``:

- **DuckDB**: the peer query of ``bench_engine.py`` (``read_json(..., ignore_errors=true)``, 2 threads);
- **polars read**: ``pl.scan_ndjson`` of just the task's fields, typed, ``ignore_errors=True``, then the same
  aggregation: polars' own parallel reader doing what DuckDB does, checking nothing (a bad line is skipped or
  coerced silently);
- **+ proof**: the polars read plus one pass over every line's text that an exact reader cannot skip: our
  writer's layout pattern (``writer_layout.LAYOUT_RE``, which proves a line valid without a decoder) for a
  file in the writer's layout, else a count of the known keys (what proves that no key is repeated or hidden
  for other layouts; the real checks do more). This is a lower bound of an exact polars reader's work;
- **auditview**: ``traces --no-findings -o json`` / ``stats -o json``, cold (a fresh, empty cache directory).

Each is printed with its ratio to DuckDB. The layout is told by the file's first line (writer layout or not).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_FIELDS = (
    '{"timestamp": pl.String, "trace_id": pl.String, "tool": pl.String, "command": pl.String, '
    '"exit_code": pl.Int64, "duration_ms": pl.Float64}'
)
_AGG = {
    "traces": (
        'frame.group_by("trace_id").agg(pl.len(), pl.col("timestamp").min().alias("first"), '
        'pl.col("timestamp").max().alias("last"), '
        'pl.col("duration_ms").max())'
    ),
    "stats": (
        'frame.group_by("tool", "command").agg(pl.len(), (pl.col("exit_code") != 0).sum().alias("errors"), '
        '*(pl.col("duration_ms").quantile(q, interpolation="linear").alias(str(q)) '
        "for q in (0.5, 0.95, 0.99)), "
        'pl.col("duration_ms").max().alias("max"))'
    ),
}
_READ = """
import sys, polars as pl
frame = pl.scan_ndjson(sys.argv[1], schema={fields}, ignore_errors=True)
print({agg}.collect().height)
"""
_PROOF = """
import sys, polars as pl
from auditview.core.writer_layout import LAYOUT_RE
from auditview.reader_contract import FIELDS
lines = pl.scan_csv(sys.argv[1], has_header=False, separator="\\x1f", quote_char=None,
                    schema={{"line": pl.String}}).select(pl.col("line").str.strip_chars_end("\\r"))
if sys.argv[2] == "writer":
    proof = lines.select(pl.col("line").str.contains(LAYOUT_RE).sum())
else:
    keys = "|".join(sorted(FIELDS))
    proof = lines.select(pl.col("line").str.count_matches('"(?:' + keys + ')":').sum())
frame = pl.scan_ndjson(sys.argv[1], schema={fields}, ignore_errors=True)
print(pl.collect_all([proof, {agg}])[1].height)
"""


def _duckdb_sql(task: str, path: Path) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.benchmarks.bench_engine import DUCKDB_TASKS

    return str(DUCKDB_TASKS[task]).format(src="'" + str(path).replace("'", "''") + "'")


def _duckdb_script() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.benchmarks.bench_engine import DUCKDB_SCRIPT

    return str(DUCKDB_SCRIPT)


def _layout(path: Path) -> str:
    import re

    from auditview.core.writer_layout import LAYOUT_RE

    with path.open("rb") as handle:
        first = handle.readline().rstrip(b"\r\n").decode("utf-8", errors="replace")
    return "writer" if re.match(LAYOUT_RE, first) else "other"


def _time(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    python = sys.executable
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}; medians of {args.runs} runs")
    print("| file | layout | task | DuckDB s | polars read s (×) | + proof s (×) | auditview s (×) |")
    print("|---|---|---|---:|---:|---:|---:|")
    for path in args.files:
        layout = _layout(path)
        for task in ("traces", "stats"):
            agg = _AGG[task]
            commands = {
                "duckdb": [python, "-c", _duckdb_script(), _duckdb_sql(task, path)],
                "read": [python, "-c", _READ.format(fields=_FIELDS, agg=agg), str(path)],
                "proof": [python, "-c", _PROOF.format(fields=_FIELDS, agg=agg), str(path), layout],
                "auditview": [
                    python, "-m", "auditview", task, *(["--no-findings"] if task == "traces" else []),
                    "-o", "json", str(path),
                ],
            }  # fmt: skip
            seconds: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, argv in commands.items():
                    with tempfile.TemporaryDirectory(prefix="auditview-floor-") as cache:
                        seconds[name].append(_time(argv, {**env, "XDG_CACHE_HOME": cache}))
            median = {name: statistics.median(values) for name, values in seconds.items()}
            peer = median["duckdb"]
            cells = [
                f"{median[name]:.2f} ({median[name] / peer:.2f}×)" for name in ("read", "proof", "auditview")
            ]
            print(f"| {path.name} | {layout} | {task} | {peer:.2f} | " + " | ".join(cells) + " |", flush=True)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

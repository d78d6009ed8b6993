"""Engine benchmark: whole-process time and peak memory of auditview's engine tasks next to baselines.

Run it as a script (it is not a pytest test)::

    python tests/benchmarks/bench_engine.py [--sizes 100000,1000000] [--runs 3] [--dir DIR]
        [--layout writer|foreign|both]

It generates demo logs with ``python -m auditview.demo.generate`` into ``DIR`` (default: ``auditview-bench``
under the system temporary directory; kept between runs), then times each task as a separate process, several
times, and prints the medians as a Markdown table. ``--layout both`` (or ``foreign`` alone) measures, in the
same run, the same records also as another producer writes them (``foreign_line``: Python ``json.dumps``
spacing, another key order, millisecond ``+00:00`` times, ``error`` as a string, some records without
``version`` or ``request_id``), which the fast paths leave to the reader contract line by line. It measures
the floor (``cat FILE``), ``jq -c 'select(.duration_ms > 10000)'`` when jq is installed, and a hand-written
polars scan (which, unlike auditview, aborts on the first malformed line and checks nothing). Peak memory is
the child's ``ru_maxrss`` from ``os.wait4``.

Tasks: ``auditview export --filter 'duration_ms>10s'`` (filter pushdown: only the lines that may match are
parsed; cold, it writes no cache); the same with ``--check-all`` (every line checked, the cache written);
``auditview traces -o json``; ``index`` (this script
in ``--task index`` mode: ``AuditIndex.load`` of every column, as the terminal app does, with
``auditview.configure_allocator()`` before polars is imported, then a new filter applied to the loaded
frame, timed inside the process). Each task runs **cold** (an empty index cache: a fresh ``XDG_CACHE_HOME``
per run, so the time includes writing the cache) and **warm** (the cache written by one untimed run before).
The load average is printed before and after (the machine is shared). auditview's bytecode is compiled first
and the children run without ``PYTHONDONTWRITEBYTECODE``, as an installed package runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SEED = 7
LAYOUTS = ("writer", "foreign")
#: Where cold runs get their empty cache directories (set by ``bench``).
_CACHE_ROOT: str | None = None
FILTER = "duration_ms>10s"
NEW_FILTER = "exit_code!=0 and duration_ms>1s"
#: DuckDB, the peer (``pip install '.[bench]'``), run as its own process on the same file: ``traces`` is a
#: GROUP BY trace_id (count, min/max time, max duration), ``index`` a CREATE TABLE AS of every column,
#: ``stats`` the per tool/command counts, errors and p50/p95/p99/max, ``export`` a raw-line filter with
#: json_extract.
DUCKDB_TASKS = {
    "traces": (
        "SELECT trace_id, count(*), min(timestamp), max(timestamp), max(duration_ms) FROM read_json({src}, "
        "format='newline_delimited', ignore_errors=true) GROUP BY trace_id"
    ),
    "index": (
        "CREATE TABLE t AS SELECT * FROM read_json({src}, format='newline_delimited', ignore_errors=true)"
    ),
    "stats": (
        "SELECT tool, command, count(*), count(*) FILTER (WHERE exit_code <> 0), quantile_cont(duration_ms, "
        "[0.5, 0.95, 0.99]), max(duration_ms) FROM read_json({src}, format='newline_delimited', "
        "ignore_errors=true) GROUP BY tool, command"
    ),
    "export": (
        "SELECT line FROM read_csv({src}, columns={{'line': 'VARCHAR'}}, delim=chr(31), quote='', "
        "escape='', header=false, auto_detect=false) WHERE "
        "TRY_CAST(json_extract(line, '$.duration_ms') AS DOUBLE) > 10000"
    ),
}
DUCKDB_SCRIPT = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET threads TO 2")
rows = con.execute(sys.argv[1]).fetchall()
print(len(rows))
"""

POLARS_SCAN = """
import sys, polars as pl
schema = {"timestamp": pl.String, "duration_ms": pl.Float64, "trace_id": pl.String, "exit_code": pl.Int64}
out = pl.scan_ndjson(sys.argv[1], schema=schema).filter(pl.col("duration_ms") > 10000).collect()
print(out.height)
"""


@dataclass
class Measurement:
    """The medians of several runs of one task on one file."""

    task: str
    records: int
    seconds: float
    peak_mb: float
    note: str = ""
    #: Whose line layout the log has: ``writer`` (ours) or ``foreign`` (``foreign_line``).
    layout: str = "writer"


def _run_once(
    argv: Sequence[str], env: dict[str, str] | None = None, *, fresh_cache: bool = False
) -> tuple[float, float, bytes]:
    """Run ``argv`` with stdout to /dev/null; return (wall seconds, peak RSS MB, stderr).

    ``fresh_cache``: with ``XDG_CACHE_HOME`` pointing at a new empty directory (removed afterwards).
    """
    if fresh_cache:
        with tempfile.TemporaryDirectory(prefix="auditview-bench-cache-", dir=_CACHE_ROOT) as directory:
            return _run_once(argv, {**(env or os.environ), "XDG_CACHE_HOME": directory})
    # as installed: pip compiles the bytecode at install time (see ``_compile_bytecode``)
    env = {name: value for name, value in (env or os.environ).items() if name != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0,):
        raise RuntimeError(
            f"{argv[:3]} failed ({process.returncode}): {stderr.decode(errors='replace')[-500:]}"
        )
    return elapsed, usage.ru_maxrss / 1024, stderr


def _measure(
    task: str,
    records: int,
    argv: Sequence[str],
    runs: int,
    note: str = "",
    env: dict[str, str] | None = None,
    *,
    fresh_cache: bool = False,
) -> Measurement:
    results = [_run_once(argv, env, fresh_cache=fresh_cache) for _ in range(runs)]
    seconds = statistics.median(r[0] for r in results)
    peak = max(r[1] for r in results)
    print(f"  {task:<40} {seconds:8.3f} s  {peak:8.0f} MB", file=sys.stderr, flush=True)
    return Measurement(task, records, seconds, peak, note)


def _ensure_log(directory: Path, records: int) -> Path:
    path = directory / f"demo-{records}.jsonl"
    if path.exists() and path.stat().st_size > 0:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    print(f"generating {records} records -> {path}", file=sys.stderr, flush=True)
    command = [
        sys.executable,
        "-m",
        "auditview.demo.generate",
        "--records",
        str(records),
        "--seed",
        str(SEED),
    ]
    subprocess.run([*command, "--out", str(partial)], check=True, stdout=subprocess.DEVNULL)
    partial.rename(path)
    return path


#: The foreign layout's key order: time and what happened first, as a hand-rolled producer might write them.
_FOREIGN_ORDER = ("timestamp", "command", "tool", "exit_code", "ok", "duration_ms", "operator", "trace_id")


def foreign_line(record: dict[str, Any], rng: random.Random) -> bytes:
    """A writer record as another producer writes it: Python ``json.dumps`` defaults (``", "``, ``": "``,
    ASCII escapes), keys in another order, the time in milliseconds with ``+00:00``, ``error`` as its message
    string, and about one record in four without ``version`` or ``request_id``."""
    moment = datetime.fromisoformat(record["timestamp"])
    out: dict[str, Any] = {
        "timestamp": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+00:00",
    }
    for key in (*_FOREIGN_ORDER, *record):
        if key not in out and key in record:
            out[key] = record[key]
    if isinstance(out.get("error"), dict):
        out["error"] = out["error"].get("message")
    if rng.random() < 0.25:
        del out[rng.choice(("version", "request_id"))]
    return (json.dumps(out) + "\n").encode()


def _ensure_foreign_log(directory: Path, records: int, writer_log: Path) -> Path:
    """The records of ``writer_log`` re-serialised by ``foreign_line`` (kept between runs like the demo
    log)."""
    path = directory / f"demo-{records}-foreign.jsonl"
    if path.exists() and path.stat().st_size > 0:
        return path
    partial = path.with_suffix(".partial")
    print(f"re-serialising {records} records in a foreign layout -> {path}", file=sys.stderr, flush=True)
    rng = random.Random(SEED)
    with writer_log.open("rb") as source, partial.open("wb") as target:
        target.writelines(foreign_line(json.loads(line), rng) for line in source if line.strip())
    partial.rename(path)
    return path


def _auditview() -> list[str]:
    found = shutil.which("auditview", path=str(Path(sys.executable).parent)) or shutil.which("auditview")
    return [found] if found else [sys.executable, "-m", "auditview"]


def _compile_bytecode() -> None:
    """Compile auditview's bytecode first, as ``pip install`` does, so that no timed run pays for compiling
    its modules (an editable install under ``PYTHONDONTWRITEBYTECODE=1`` would, about 60 ms a run)."""
    import auditview

    package = Path(auditview.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def bench(
    sizes: Sequence[int], runs: int, directory: Path, layouts: Sequence[str] = ("writer",)
) -> list[Measurement]:
    """Measure every task on every size and layout, cold (empty cache) and warm (cache present)."""
    global _CACHE_ROOT
    _compile_bytecode()
    jq = shutil.which("jq")
    auditview = _auditview()
    out: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="auditview-bench-", dir=directory) as scratch:
        _CACHE_ROOT = scratch
        warm_env = {**os.environ, "XDG_CACHE_HOME": str(Path(scratch) / "warm")}
        for records, layout in ((records, layout) for records in sizes for layout in layouts):
            path = _ensure_log(directory, records)
            if layout == "foreign":
                path = _ensure_foreign_log(directory, records, path)
            size_mb = path.stat().st_size / 1e6
            print(
                f"{records} records, {layout} layout, {size_mb:.0f} MB ({path})", file=sys.stderr, flush=True
            )
            reps = runs if records <= 1_000_000 else max(1, runs // 3)
            first = len(out)
            out.append(_measure("cat FILE > /dev/null", records, ["cat", str(path)], reps))
            if jq is not None:
                jq_argv = [jq, "-c", "select(.duration_ms > 10000)", str(path)]
                out.append(_measure("jq -c 'select(.duration_ms > 10000)'", records, jq_argv, reps))
            polars_argv = [sys.executable, "-c", POLARS_SCAN, str(path)]
            out.append(_measure("polars scan_ndjson + filter (reference)", records, polars_argv, reps))
            if _has_duckdb():
                source = "'" + str(path).replace("'", "''") + "'"
                for name, sql in DUCKDB_TASKS.items():
                    argv = [sys.executable, "-c", DUCKDB_SCRIPT, sql.format(src=source)]
                    out.append(_measure(f"duckdb {name}", records, argv, reps))
            tasks = [
                (
                    f"auditview export --filter '{FILTER}'",
                    [*auditview, "export", "--filter", FILTER, str(path)],
                ),
                (
                    f"auditview export --filter '{FILTER}' --check-all",
                    [*auditview, "export", "--filter", FILTER, "--check-all", str(path)],
                ),
                ("auditview traces -o json", [*auditview, "traces", "-o", "json", str(path)]),
                ("auditview stats -o json", [*auditview, "stats", "-o", "json", str(path)]),
            ]
            index_argv = [sys.executable, __file__, "--task", "index", str(path)]
            for label, argv in tasks:
                out.append(_measure(f"{label} — cold", records, argv, reps, fresh_cache=True))
            out.append(_index_measurement("cold", records, index_argv, reps, None, size_mb, fresh=True))
            _run_once(index_argv, warm_env)  # writes the full-column cache entry that every task can use
            for label, argv in tasks:
                out.append(_measure(f"{label} — warm", records, argv, reps, env=warm_env))
            out.append(_index_measurement("warm", records, index_argv, reps, warm_env, size_mb, fresh=False))
            for measurement in out[first:]:
                measurement.layout = layout
        _CACHE_ROOT = None
    return out


def _has_duckdb() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print("duckdb is not installed (pip install '.[bench]'): no peer column", file=sys.stderr)
        return False
    return True


def _index_measurement(
    label: str,
    records: int,
    argv: list[str],
    reps: int,
    env: dict[str, str] | None,
    size_mb: float,
    *,
    fresh: bool,
) -> Measurement:
    results = [_run_once(argv, env, fresh_cache=fresh) for _ in range(reps)]
    inner = [json.loads(r[2].decode().strip().splitlines()[-1]) for r in results]
    note = (
        f"load {statistics.median(i['load_s'] for i in inner):.2f} s in-process; new filter "
        f"{statistics.median(i['filter_ms'] for i in inner):.0f} ms; {inner[0]['rows']} rows, "
        f"{inner[0]['rejects']} rejects, {inner[0]['derived']} with derived values"
    )
    measurement = Measurement(
        f"index: AuditIndex.load (all columns) — {label}",
        records,
        statistics.median(r[0] for r in results),
        max(r[1] for r in results),
        note,
    )
    print(
        f"  {measurement.task:<40} {measurement.seconds:8.3f} s  {measurement.peak_mb:8.0f} MB  {note}",
        file=sys.stderr,
        flush=True,
    )
    measurement.note += f"; file {size_mb:.0f} MB, peak/file {measurement.peak_mb / size_mb:.2f}"
    return measurement


#: Which DuckDB task each auditview task is held to (``× DuckDB`` = auditview's time / DuckDB's).
_PEER_OF = {"traces": "traces", "index:": "index", "stats": "stats", "export": "export"}


def _peer(task: str) -> str | None:
    """The DuckDB task an auditview task is compared with (``export --check-all`` and jq have none)."""
    if "--check-all" in task:
        return None
    for word, peer in _PEER_OF.items():
        if task.startswith((f"auditview {word}", word)):
            return peer
    return None


def render(measurements: Sequence[Measurement]) -> str:
    """A Markdown table, with each task's time relative to DuckDB's (and jq's speed) on the same file."""
    jq = {(m.records, m.layout): m.seconds for m in measurements if m.task.startswith("jq")}
    duck = {
        (m.records, m.layout, m.task.removeprefix("duckdb ")): m.seconds
        for m in measurements
        if m.task.startswith("duckdb ")
    }
    lines = [
        "| records | layout | task | median s | peak RSS MB | × DuckDB | vs jq | note |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for m in measurements:
        key = (m.records, m.layout)
        ratio = f"{jq[key] / m.seconds:.1f}×" if key in jq else "—"
        peer = _peer(m.task)
        versus = duck.get((m.records, m.layout, peer)) if peer else None
        against = f"{m.seconds / versus:.2f}" if versus else "—"
        cells = [
            f"{m.records:,}",
            m.layout,
            m.task,
            f"{m.seconds:.3f}",
            f"{m.peak_mb:.0f}",
            against,
            ratio,
            m.note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def task_index(path: Path) -> None:
    """``--task index``: load every column as the app does, then time one new filter on the loaded frame."""
    from auditview.allocator import configure_allocator

    configure_allocator()  # before polars is imported, as the entry points should
    start = time.perf_counter()
    from auditview.core.index import AuditIndex
    from auditview.core.query import compile_filter
    from auditview.source.discover import discover

    index = AuditIndex.load(discover([str(path)]))
    frame = index.frame
    loaded = time.perf_counter() - start
    from auditview.core.cache import wait_pending

    wait_pending()  # a cold run writes the cache before exiting: part of the whole-process time
    compiled = compile_filter(NEW_FILTER)
    begin = time.perf_counter()
    matched = compiled.apply(frame)
    filter_ms = (time.perf_counter() - begin) * 1000
    result = {
        "load_s": loaded,
        "filter_ms": filter_ms,
        "rows": frame.height,
        "rejects": len(index.rejects),
        "derived": frame.height - frame["derived"].null_count(),
        "matched": matched.height,
        "frame_mb": frame.estimated_size("mb"),
    }
    print(json.dumps(result), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the benchmark (or one ``--task``)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated record counts")
    parser.add_argument("--runs", type=int, default=3, help="runs per task (median; 10M uses a third)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "auditview-bench")
    parser.add_argument(
        "--layout",
        choices=[*LAYOUTS, "both"],
        default="writer",
        help="the logs' line layout: our writer's, another producer's (foreign_line), or both in one run",
    )
    parser.add_argument("--task", choices=["index"], help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.task == "index":
        task_index(args.path)
        return 0
    sizes = [int(part) for part in args.sizes.split(",") if part]
    before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M")
    layouts = LAYOUTS if args.layout == "both" else (args.layout,)
    measurements = bench(sizes, args.runs, args.dir, layouts)
    after = os.getloadavg()
    print(
        f"Run {started}–{time.strftime('%H:%M')}, {os.cpu_count()} CPUs, load average (1/5/15 min) "
        f"before {before[0]:.2f}/{before[1]:.2f}/{before[2]:.2f}, after {after[0]:.2f}/{after[1]:.2f}/"
        f"{after[2]:.2f}; medians of {args.runs} runs (10M: {max(1, args.runs // 3)}).\n"
    )
    print(render(measurements))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Engine benchmark: auditview's engine tasks on every line layout, cold and warm, next to DuckDB.

Run it as a script (it is not a pytest test)::

    python tests/benchmarks/bench_engine.py [--sizes 100000,1000000] [--runs 3] [--dir DIR]
        [--layouts writer,foreign|all] [--baselines] [--save RESULTS.json]
    python tests/benchmarks/bench_engine.py --render RESULTS.json[,MORE.json]

It generates a demo log with ``python -m auditview.demo.generate`` into ``DIR`` (default: ``auditview-bench``
under the system temporary directory; kept between runs) and derives from it, deterministically (seeded), the
same records in each layout asked for (also kept):

- ``writer``: our generator's bytes;
- ``shuffled``: compact JSON (``orjson.dumps``), each line's top-level keys in a random order;
- ``spaced``: ``json.dumps(record)`` defaults (``", "`` and ``": "``, ASCII escapes), the writer's key order;
- ``foreign``: another producer's lines (``foreign_line``: ``json.dumps`` defaults, another key order,
  millisecond ``+00:00`` times, ``error`` as a string, some records without ``version`` or ``request_id``);
- ``LAYOUT-crlf``: the same lines ending in ``\\r\\n``. ``all`` is every layout and its crlf twin.

Then it times each task as a separate process, several times, and prints the medians as a Markdown table: per
size, layout and task the **cold** time (an empty index cache: a fresh ``XDG_CACHE_HOME`` per run, so the time
includes writing the cache), the **warm** time (the cache written by one untimed run before), DuckDB's time
for the same work (its own process on the same file, run right after each cold run so that both see the
same load) and the cold time as a multiple of it, and the peak memory (the child's ``ru_maxrss`` from
``os.wait4``: the largest of the process and its waited-for children, not their sum) as a multiple of the
file's size. When several sizes were run (or several ``--save`` files are rendered together), a line per
layout and task gives the time per million records at each size.

Tasks: ``export --filter 'duration_ms>10s'`` (filter pushdown: only the lines that may match are parsed; cold,
it writes no cache); the same with ``--check-all`` (every line checked, the cache written); ``traces -o
json``; ``stats -o json``; ``index`` (this script in ``--task index`` mode: ``AuditIndex.load`` of every
column, as the terminal app does, with ``configure_allocator()`` (``auditview.core.allocator``) first, then a
new filter applied to the loaded frame, timed inside the process). ``cat FILE`` is the floor;
``--baselines`` adds ``jq -c 'select(.duration_ms > 10000)'`` and a hand-written polars scan (which aborts on
the first malformed line and checks nothing). auditview's bytecode is compiled first and the children run
without ``PYTHONDONTWRITEBYTECODE``, as an installed package runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

SEED = 7
#: The line shapes; each also comes as ``SHAPE-crlf``.
SHAPES = ("writer", "shuffled", "spaced", "foreign")
LAYOUTS = (*SHAPES, *(f"{shape}-crlf" for shape in SHAPES))
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
class Timing:
    """Several runs of one command: the median wall time and the largest peak RSS."""

    seconds: float
    peak_bytes: int


@dataclass
class Row:
    """One task on one file: cold, warm and DuckDB's figures (absent where they do not apply)."""

    records: int
    layout: str
    task: str
    file_bytes: int
    cold: Timing
    warm: Timing | None = None
    duckdb: Timing | None = None


@dataclass
class Run:
    """One invocation's rows and the conditions they were measured under."""

    command: str
    started: str
    finished: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    runs: int
    cpus: int
    revision: str
    duckdb: str
    rows: list[Row] = field(default_factory=list)
    #: Per "records layout": what the index task saw (rows, rejects, in-process load and new filter).
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Samples:
    """Raw runs of one command, reduced to a ``Timing`` at the end."""

    seconds: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)
    stderr: list[bytes] = field(default_factory=list)

    def add(self, result: tuple[float, int, bytes]) -> None:
        self.seconds.append(result[0])
        self.peaks.append(result[1])
        self.stderr.append(result[2])

    def timing(self) -> Timing:
        return Timing(statistics.median(self.seconds), max(self.peaks))


def _run_once(
    argv: Sequence[str], env: dict[str, str] | None = None, *, fresh_cache: bool = False
) -> tuple[float, int, bytes]:
    """Run ``argv`` with stdout to /dev/null; return (wall seconds, peak RSS bytes, stderr).

    ``fresh_cache``: with ``XDG_CACHE_HOME`` pointing at a new empty directory (removed afterwards).
    """
    if fresh_cache:
        with tempfile.TemporaryDirectory(prefix="auditview-bench-cache-", dir=_CACHE_ROOT) as directory:
            return _run_once(argv, {**(env or os.environ), "XDG_CACHE_HOME": directory})
    # as installed: pip compiles the bytecode at install time (see ``_compile_bytecode``)
    env = {name: value for name, value in (env or os.environ).items() if name != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    # run in the scratch directory: a current directory holding another ``auditview/`` would shadow the one
    # this script imports (``python -m`` puts it first on ``sys.path``)
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=_CACHE_ROOT
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(
            f"{argv[:3]} failed ({process.returncode}): {stderr.decode(errors='replace')[-500:]}"
        )
    return elapsed, usage.ru_maxrss * 1024, stderr  # Linux reports ru_maxrss in KiB


def _progress(label: str, timing: Timing, file_bytes: int) -> None:
    print(
        f"  {label:<28} {timing.seconds:8.3f} s  {timing.peak_bytes / 2**20:7.0f} MiB "
        f"({timing.peak_bytes / file_bytes:.2f}× file)",
        file=sys.stderr,
        flush=True,
    )


# --- the logs, one per layout ---------------------------------------------------------------------------


def _ensure_writer_log(directory: Path, records: int) -> Path:
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


def shuffled_line(record: dict[str, Any], rng: random.Random) -> bytes:
    """The writer's values as compact JSON (``orjson``) with the top-level keys in a random order."""
    keys = list(record)
    rng.shuffle(keys)
    return orjson.dumps({key: record[key] for key in keys}) + b"\n"


def spaced_line(record: dict[str, Any], rng: random.Random) -> bytes:
    """The writer's record through ``json.dumps`` defaults: ``", "``, ``": "``, ASCII escapes, same order."""
    return (json.dumps(record) + "\n").encode()


#: How each shape but the writer's re-serialises a writer record.
_RESHAPE: dict[str, Callable[[dict[str, Any], random.Random], bytes]] = {
    "shuffled": shuffled_line,
    "spaced": spaced_line,
    "foreign": foreign_line,
}


def _write_atomically(path: Path, lines: Callable[[], Iterable[bytes]], what: str) -> Path:
    """Write ``lines()`` to ``path`` through a ``.partial`` file, unless ``path`` is already there."""
    if path.exists() and path.stat().st_size > 0:
        return path
    partial = path.with_suffix(".partial")
    print(f"writing {what} -> {path}", file=sys.stderr, flush=True)
    with partial.open("wb") as target:
        target.writelines(lines())
    partial.rename(path)
    return path


def ensure_log(directory: Path, records: int, layout: str) -> Path:
    """The log of ``records`` records in ``layout``, made (from the writer's log) when it is not in
    ``directory`` yet."""
    writer_log = _ensure_writer_log(directory, records)
    shape, crlf = layout.removesuffix("-crlf"), layout.endswith("-crlf")
    if crlf:
        source = ensure_log(directory, records, shape)

        def crlf_lines() -> Iterable[bytes]:
            with source.open("rb") as lines:
                for line in lines:
                    yield line.removesuffix(b"\n").removesuffix(b"\r") + b"\r\n"

        return _write_atomically(directory / f"demo-{records}-{layout}.jsonl", crlf_lines, layout)
    if shape == "writer":
        return writer_log
    reshape = _RESHAPE[shape]

    def reshaped_lines() -> Iterable[bytes]:
        rng = random.Random(SEED)
        with writer_log.open("rb") as lines:
            for line in lines:
                if line.strip():
                    yield reshape(orjson.loads(line), rng)

    return _write_atomically(directory / f"demo-{records}-{shape}.jsonl", reshaped_lines, layout)


# --- running ----------------------------------------------------------------------------------------------


def _auditview() -> list[str]:
    """``python -m auditview``: the package's own entry point, whatever console script is installed."""
    return [sys.executable, "-m", "auditview"]


def _package_root() -> Path:
    """The directory holding the ``auditview`` package this script imports (``PYTHONPATH`` can point it at
    another checkout); the children are made to import the same one."""
    import auditview

    return Path(auditview.__file__).resolve().parents[1]


def _compile_bytecode(root: Path) -> None:
    """Compile auditview's bytecode first, as ``pip install`` does, so that no timed run pays for compiling
    its modules (an editable install under ``PYTHONDONTWRITEBYTECODE=1`` would, about 60 ms a run)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "auditview")], check=True)


def _duckdb_version() -> str | None:
    try:
        import duckdb
    except ImportError:
        print("duckdb is not installed (pip install '.[bench]'): no peer column", file=sys.stderr)
        return None
    return str(duckdb.__version__)


def _tasks(auditview: list[str], path: Path) -> list[tuple[str, str | None, list[str]]]:
    """The tasks' short names (the table's rows), each with its DuckDB peer and its command."""
    return [
        ("export", "export", [*auditview, "export", "--filter", FILTER, str(path)]),
        ("export --check-all", None, [*auditview, "export", "--filter", FILTER, "--check-all", str(path)]),
        ("traces", "traces", [*auditview, "traces", "-o", "json", str(path)]),
        ("stats", "stats", [*auditview, "stats", "-o", "json", str(path)]),
        ("index", "index", [sys.executable, str(Path(__file__).resolve()), "--task", "index", str(path)]),
    ]


def _bench_file(
    records: int, layout: str, path: Path, reps: int, *, duckdb: bool, baselines: bool, warm_root: Path
) -> tuple[list[Row], str]:
    """Every task on one file; the rows and a note on what the index task saw."""
    size = path.stat().st_size
    print(f"{records} records, {layout}, {size / 1e6:.0f} MB ({path})", file=sys.stderr, flush=True)
    rows: list[Row] = []
    floors = [("cat (floor)", ["cat", str(path)])]
    if baselines:
        if jq := shutil.which("jq"):
            floors.append(("jq select", [jq, "-c", "select(.duration_ms > 10000)", str(path)]))
        floors.append(("polars scan", [sys.executable, "-c", POLARS_SCAN, str(path)]))
    for label, argv in floors:
        samples = _Samples()
        for _ in range(reps):
            samples.add(_run_once(argv))
        rows.append(Row(records, layout, label, size, samples.timing()))
        _progress(label, rows[-1].cold, size)
    tasks = _tasks(_auditview(), path)
    source = "'" + str(path).replace("'", "''") + "'"
    peers = {
        name: [sys.executable, "-c", DUCKDB_SCRIPT, sql.format(src=source)]
        for name, sql in DUCKDB_TASKS.items()
    }
    cold = {name: _Samples() for name, _, _ in tasks}
    peer = {name: _Samples() for name in peers}
    for _ in range(reps):  # each cold run next to its peer's, so that both see the same load
        for name, peer_name, argv in tasks:
            cold[name].add(_run_once(argv, fresh_cache=True))
            if duckdb and peer_name is not None:
                peer[peer_name].add(_run_once(peers[peer_name]))
    warm_env = {**os.environ, "XDG_CACHE_HOME": str(warm_root / f"{records}-{layout}")}
    _run_once(tasks[-1][2], warm_env)  # the index task writes the full-column entry every task can use
    warm = {name: _Samples() for name, _, _ in tasks}
    for _ in range(reps):
        for name, _, argv in tasks:
            warm[name].add(_run_once(argv, warm_env))
    for name, peer_name, _ in tasks:
        row = Row(records, layout, name, size, cold[name].timing(), warm[name].timing())
        if peer_name is not None and peer[peer_name].seconds:
            row.duckdb = peer[peer_name].timing()
        rows.append(row)
        for label, timing in (
            (f"{name} cold", row.cold),
            (f"{name} warm", row.warm),
            (f"duckdb {peer_name}", row.duckdb),
        ):
            if timing is not None:
                _progress(label, timing, size)
    inner = [json.loads(err.decode().strip().splitlines()[-1]) for err in cold["index"].stderr]
    note = (
        f"{size / 1e6:.0f} MB; index: {inner[0]['rows']:,} rows, {inner[0]['rejects']:,} rejects, "
        f"{inner[0]['derived']:,} with derived values; in-process load (cold) "
        f"{statistics.median(i['load_s'] for i in inner):.2f} s, a new filter on the loaded frame "
        f"{statistics.median(i['filter_ms'] for i in inner):.0f} ms"
    )
    print(f"  {note}", file=sys.stderr, flush=True)
    return rows, note


def bench(
    sizes: Sequence[int], runs: int, directory: Path, layouts: Sequence[str], *, baselines: bool, run: Run
) -> Run:
    """Measure every task on every size and layout, cold (empty cache) and warm (cache present)."""
    global _CACHE_ROOT
    root = _package_root()
    _compile_bytecode(root)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])
    directory = directory.resolve()
    duckdb = bool(run.duckdb)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="auditview-bench-", dir=directory) as scratch:
        _CACHE_ROOT = scratch
        for records in sizes:
            for layout in layouts:
                path = ensure_log(directory, records, layout)
                reps = runs if records <= 1_000_000 else max(1, runs // 3)
                rows, note = _bench_file(
                    records, layout, path, reps, duckdb=duckdb, baselines=baselines, warm_root=Path(scratch)
                )
                run.rows.extend(rows)
                run.notes[f"{records} {layout}"] = note
                shutil.rmtree(Path(scratch) / f"{records}-{layout}", ignore_errors=True)
        _CACHE_ROOT = None
    return run


# --- the report -------------------------------------------------------------------------------------------


def _size(records: int) -> str:
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if records >= unit and records % unit == 0:
            return f"{records // unit}{name}"
    return f"{records:,}"


def _seconds(timing: Timing | None) -> str:
    return "—" if timing is None else f"{timing.seconds:.2f}"


def _peak(timing: Timing | None, file_bytes: int) -> str:
    return "—" if timing is None else f"{timing.peak_bytes / file_bytes:.2f}×"


def header(run: Run) -> str:
    """When, how and under what load one invocation ran."""
    before = "/".join(f"{value:.2f}" for value in run.load_before)
    after = "/".join(f"{value:.2f}" for value in run.load_after)
    finished = run.finished.removeprefix(run.started[:11])  # the time alone on the same day
    return (
        f"`{run.command}` — {run.started} to {finished}, {run.cpus} CPUs, load average (1/5/15 min) "
        f"before {before}, after {after}; medians of {run.runs} runs ({max(1, run.runs // 3)} above 1M); "
        f"auditview {run.revision}; DuckDB {run.duckdb or 'not installed'}."
    )


def render(runs: Sequence[Run]) -> str:
    """The Markdown table of every row of ``runs``, notes per file, and the time per million records."""
    lines = [header(run) for run in runs]
    lines += [
        "",
        "| records | layout | task | cold s | warm s | DuckDB s | cold × DuckDB | peak cold | peak warm |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [row for run in runs for row in run.rows]
    for row in rows:
        ratio = f"{row.cold.seconds / row.duckdb.seconds:.2f}×" if row.duckdb else "—"
        cells = [
            _size(row.records),
            row.layout,
            row.task,
            _seconds(row.cold),
            _seconds(row.warm),
            _seconds(row.duckdb),
            ratio,
            _peak(row.cold, row.file_bytes),
            _peak(row.warm, row.file_bytes),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Tasks: `export` = `auditview export --filter '{FILTER}'` (pushdown; cold writes no cache); "
        "`export --check-all` the same checking every line; `traces` = `auditview traces -o json`; `stats` = "
        "`auditview stats -o json`; `index` = `AuditIndex.load` of every column, as the app does. Peak = the "
        "process's peak RSS ÷ the file's size. DuckDB = its own process on the same file (`read_json`; "
        "`export`: `json_extract` on raw lines; `index`: `CREATE TABLE AS`), two threads.",
        "",
    ]
    lines += [
        f"- {key.replace(' ', ' records, ', 1)}: {note}" for run in runs for key, note in run.notes.items()
    ]
    linearity = per_million(rows)
    if linearity:
        lines += ["", "Seconds per million records (cold / warm / DuckDB), by size:", "", *linearity]
    return "\n".join(lines)


def per_million(rows: Sequence[Row]) -> list[str]:
    """One line per layout and task measured at several sizes: its time per million records at each."""
    sizes = sorted({row.records for row in rows})
    if len(sizes) < 2:
        return []
    out = []
    for layout in dict.fromkeys(row.layout for row in rows):
        for task in dict.fromkeys(row.task for row in rows if row.layout == layout):
            found = {row.records: row for row in rows if row.layout == layout and row.task == task}
            if len(found) < 2:
                continue
            parts = []
            for records in sizes:
                if (row := found.get(records)) is None:
                    continue
                scale = 1_000_000 / records
                figures = [f"{t.seconds * scale:.2f}" for t in (row.cold, row.warm, row.duckdb) if t]
                parts.append(f"{_size(records)} {' / '.join(figures)}")
            out.append(f"- {layout}, {task}: " + " · ".join(parts))
    return out


def _revision() -> str:
    """The commit auditview was measured at (``+ uncommitted changes`` when the package has some), or the
    directory it was imported from when that is not a git checkout."""
    root = _package_root()
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "log", "--oneline", "-1", "--format=%h"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--short", "auditview"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"from {root} (not a git checkout)"
    return f"{commit}{' + uncommitted changes' if dirty else ''}"


def _load_runs(paths: Iterable[Path]) -> list[Run]:
    runs = []
    for path in paths:
        data = json.loads(path.read_text())
        rows = []
        for row in data.pop("rows"):
            cold, warm, duckdb = (
                Timing(**row[key]) if row[key] else None for key in ("cold", "warm", "duckdb")
            )
            assert cold is not None
            rows.append(
                Row(row["records"], row["layout"], row["task"], row["file_bytes"], cold, warm, duckdb)
            )
        data["load_before"], data["load_after"] = tuple(data["load_before"]), tuple(data["load_after"])
        runs.append(Run(**data, rows=rows))
    return runs


def task_index(path: Path) -> None:
    """``--task index``: load every column as the app does, then time one new filter on the loaded frame."""
    from auditview.core.allocator import configure_allocator

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


def _layouts(text: str) -> list[str]:
    """``--layouts``: a comma list of layout names, ``all`` for every one."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    out = [layout for name in names for layout in (LAYOUTS if name == "all" else (name,))]
    unknown = sorted(set(out) - set(LAYOUTS))
    if unknown or not out:
        raise argparse.ArgumentTypeError(
            f"unknown layout {', '.join(unknown)}; choose from {', '.join(LAYOUTS)}, all"
        )
    return list(dict.fromkeys(out))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the benchmark (or one ``--task``, or render saved results)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated record counts")
    parser.add_argument("--runs", type=int, default=3, help="runs per task (median; 10M uses a third)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "auditview-bench")
    parser.add_argument(
        "--layouts",
        type=_layouts,
        default=["writer"],
        help=f"comma list of the logs' line layouts ({', '.join(LAYOUTS)}) or all",
    )
    parser.add_argument("--baselines", action="store_true", help="also time jq and a bare polars scan")
    parser.add_argument("--save", type=Path, help="also write the results as JSON (for --render)")
    parser.add_argument("--render", help="print the table of saved results (comma list of --save files)")
    parser.add_argument("--task", choices=["index"], help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.task == "index":
        task_index(args.path)
        return 0
    if args.render:
        print(render(_load_runs(Path(part) for part in args.render.split(",") if part)))
        return 0
    sizes = [int(part) for part in args.sizes.split(",") if part]
    run = Run(
        command=shlex.join(["python", "tests/benchmarks/bench_engine.py", *sys.argv[1:]]),
        started=time.strftime("%Y-%m-%d %H:%M"),
        finished="",
        load_before=os.getloadavg(),
        load_after=(0.0, 0.0, 0.0),
        runs=args.runs,
        cpus=os.cpu_count() or 0,
        revision=_revision(),
        duckdb=_duckdb_version() or "",
    )
    bench(sizes, args.runs, args.dir, args.layouts, baselines=args.baselines, run=run)
    run.finished = time.strftime("%Y-%m-%d %H:%M")
    run.load_after = os.getloadavg()
    if args.save:
        args.save.write_text(json.dumps(asdict(run), indent=1))
    print(render([run]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Two checkouts of auditview on the same files in the same run: did a change make the engine slower?

Run it as a script (not a pytest test)::

    git worktree add --detach /tmp/before REV
    python tests/benchmarks/bench_revisions.py --before /tmp/before --after . FILE...

Each task runs as its own process with the checkout's package first on ``PYTHONPATH``, cold (an empty
``XDG_CACHE_HOME`` per run), ``--runs`` times, alternating before/after so that a change in the machine's load
hits both alike; the table gives the medians, the ratio after/before and the peak memory (``ru_maxrss``).
Tasks: ``traces -o json``, ``stats -o json``, ``export --filter 'duration_ms>10s'`` and the full index in
process (``AuditIndex.load`` of every column, as the app loads). The module paths of the index and of the
allocator settings are looked up in each checkout, so a checkout from before the house restructuring works
too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

CLI_TASKS: dict[str, list[str]] = {
    "traces -o json": ["traces", "-o", "json"],
    "stats -o json": ["stats", "-o", "json"],
    "export --filter 'duration_ms>10s'": ["export", "--filter", "duration_ms>10s"],
}
INDEX_TASK = "full index (in process)"
INDEX_CODE = (
    "import sys; from auditview.{allocator} import configure_allocator; configure_allocator(); "
    "from auditview.{index} import AuditIndex; from auditview.source.discover import discover; "
    "AuditIndex.load(discover([sys.argv[1]]), cache=True)"
)


def _module(tree: Path, *candidates: str) -> str:
    """The first of ``candidates`` (dotted, below ``auditview``) that exists in the checkout ``tree``."""
    for name in candidates:
        if (tree / "auditview" / (name.replace(".", "/") + ".py")).exists():
            return name
    raise SystemExit(f"{tree}: none of {candidates} found")


def run_once(tree: Path, task: str, path: str) -> tuple[float, float]:
    """Wall seconds and peak MiB of one cold run of ``task`` on ``path`` with the package of ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="bench-rev-")}
    if task == INDEX_TASK:
        code = INDEX_CODE.format(
            allocator=_module(tree, "core.allocator", "allocator"), index=_module(tree, "core.index", "index")
        )
        command = [sys.executable, "-c", code, path]
    else:
        command = [sys.executable, "-m", "auditview", *CLI_TASKS[task], path]
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{tree}: {task} on {path} failed ({status})")
    return wall, usage.ru_maxrss / 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the checkout before the change")
    parser.add_argument("--after", type=Path, required=True, help="the checkout after the change")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}, load {os.getloadavg()[0]:.1f}; cold runs, medians of "
        f"{args.runs}, before/after alternating"
    )
    print("| file | task | before | after | after/before | peak MiB before → after |")
    print("|---|---|---:|---:|---:|---|")
    for path in args.files:
        for task in [*CLI_TASKS, INDEX_TASK]:
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
            for _ in range(args.runs):
                for name, tree in trees.items():
                    runs[name].append(run_once(tree, task, path))
            before = statistics.median(wall for wall, _ in runs["before"])
            after = statistics.median(wall for wall, _ in runs["after"])
            peaks = [max(peak for _, peak in runs[name]) for name in trees]
            print(
                f"| {Path(path).name} | `{task}` | {before:.2f} s | {after:.2f} s | {after / before:.2f} | "
                f"{peaks[0]:.0f} → {peaks[1]:.0f} |",
                flush=True,
            )
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

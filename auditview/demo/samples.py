"""Regenerates the bundled ``sample_logs/``: small, deterministic, multi-tool audit logs and their README.

Owns the recipe of the samples (seed, start time, actors, which log rotates, which log carries malformed
lines) and the README that describes them, computed from the files themselves so that it cannot drift. Run
``python -m auditview.demo.samples [--out sample_logs]``. It must not hand-edit or post-process records: every
line comes from ``auditview.demo.generate``; it imports no polars and no UI library.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from auditview.contract import ContractError, parse_line, parse_timestamp
from auditview.demo.generate import GeneratorConfig, GeneratorSummary, write_log_dir

__all__ = [
    "MALFORMED_TOOL",
    "ROTATED_TOOL",
    "SAMPLE_CONFIG",
    "SampleFile",
    "main",
    "read_lines",
    "regenerate",
    "sample_files",
]

#: The log that carries the malformed lines, and the log that is rotated (``.1`` and ``.2.gz``).
MALFORMED_TOOL: Final = "verifyctl"
ROTATED_TOOL: Final = "deployctl"

#: The recipe: change it only together with the committed ``sample_logs/`` (regenerate them).
SAMPLE_CONFIG: Final = GeneratorConfig(
    records=520,
    seed=20261120,
    start=datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC),
    agents=4,
    humans=2,
    ci=1,
    malformed_rate=0.025,
    malformed_tools=frozenset({MALFORMED_TOOL}),
    failure_scale=1.5,
    slow_rate=0.006,
)
_ROTATE_BYTES: Final = {ROTATED_TOOL: 40_000}
_SLOW_MS: Final = 5_000.0
_MANAGED_PREFIX: Final = "audit.jsonl"


@dataclass(frozen=True, slots=True)
class SampleFile:
    """One file of the samples: its path relative to the samples directory and its decompressed lines."""

    name: str
    lines: list[bytes]


def read_lines(path: Path) -> list[bytes]:
    """The physical lines of a (possibly gzip-compressed) log, each with its ``\\n``."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.splitlines(keepends=True)


def _generation(path: Path) -> int:
    parts = path.name.removesuffix(".gz").split(".")
    return int(parts[-1]) if parts[-1].isdigit() else 0


def sample_files(root: Path) -> list[SampleFile]:
    """The log files under ``root``, per tool from the oldest rotated sibling to the live file."""
    files = [p for p in root.glob(f"*/{_MANAGED_PREFIX}*") if p.is_file()]
    files.sort(key=lambda p: (p.parent.name, -_generation(p)))
    return [SampleFile(p.relative_to(root).as_posix(), read_lines(p)) for p in files]


def regenerate(out: Path) -> GeneratorSummary:
    """Write the samples into ``out`` (replacing earlier ``*/audit.jsonl*`` files there) and its README."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"*/{_MANAGED_PREFIX}*"):
        stale.unlink()
    summary = write_log_dir(out, SAMPLE_CONFIG, rotate_bytes=_ROTATE_BYTES)
    (out / "README.md").write_text(describe(out, summary), encoding="utf-8")
    return summary


def describe(root: Path, summary: GeneratorSummary) -> str:
    """The README of the samples, computed from the files under ``root``."""
    files = sample_files(root)
    records: list[dict[str, Any]] = []
    malformed: list[tuple[str, int]] = []
    table: list[str] = []
    for sample in files:
        good = 0
        for number, line in enumerate(sample.lines, start=1):
            try:
                records.append(parse_line(line))
                good += 1
            except ContractError:
                malformed.append((sample.name, number))
        bad = len(sample.lines) - good
        table.append(f"| `{sample.name}` | {len(sample.lines)} | {good} | {bad} |")
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        traces[record["trace_id"]].append(record)
    failed = {tid for tid, steps in traces.items() if any(r["exit_code"] != 0 for r in steps)}
    rolled_back = {tid for tid in failed if any(r["command"] == "rollback" for r in traces[tid])}
    multi_tool = sum(1 for steps in traces.values() if len({r["tool"] for r in steps}) >= 3)
    sizes = [len(steps) for steps in traces.values()]
    operators = Counter(r["operator"] for r in records)
    slow = sorted((r for r in records if r["duration_ms"] > _SLOW_MS), key=lambda r: -r["duration_ms"])
    extra = sum(1 for r in records if set(r) - _KNOWN_FIELDS)
    starts = [parse_timestamp(r["timestamp"]) for r in records]
    kinds = summary.malformed_kinds
    lines = [
        "# sample_logs",
        "",
        "Small, deterministic audit logs made by the demo generator for the README quick start, the tests",
        "and the terminal-app snapshots. Do not edit them by hand: regenerate them with",
        "`python -m auditview.demo.samples --out sample_logs` (a test fails when they drift from the recipe",
        "in `auditview/demo/samples.py`). This README is generated too.",
        "",
        f"Seed {SAMPLE_CONFIG.seed}; {len(records)} records in {len(traces)} traces from "
        f"{SAMPLE_CONFIG.agents} concurrent agent runners, {SAMPLE_CONFIG.humans} humans and "
        f"{SAMPLE_CONFIG.ci} CI runner;\nstarts from {min(starts):%Y-%m-%dT%H:%M:%SZ} "
        f"to {max(starts):%Y-%m-%dT%H:%M:%SZ}.",
        "",
        "| file | lines | records | malformed |",
        "|---|---|---|---|",
        *table,
        "",
        "What to look for:",
        "",
        f"- **Traces across tools**: every trace has {min(sizes)}–{max(sizes)} steps;",
        f"  {multi_tool} traces span three or more tools, so one trace id appears in several files.",
        "  Children (a deploy's apply, verify and smoke-test; a rollback's apply and verify) carry",
        "  `parent_request_id`.",
        "- **Completion order**: records are appended when an invocation completes, so within a file the",
        "  line order is end order while `timestamp` is the start: parents come after their children.",
        f"- **Rotation**: `{ROTATED_TOOL}/audit.jsonl.2.gz` (gzip, oldest),",
        f"  `{ROTATED_TOOL}/audit.jsonl.1`, then the live `{ROTATED_TOOL}/audit.jsonl`.",
        f"- **Failures**: {len(failed)} traces have a failed step (`exit_code` != 0, `ok: false`, `error`);",
        f"  {len(rolled_back)} of them roll back, for example {_examples(rolled_back)}.",
        f"- **Slow steps** (over {_SLOW_MS / 1000:.0f} s): {len(slow)}; the slowest:",
        *(
            f"  - `{r['tool']} {r['command']}` {r['duration_ms'] / 1000:.1f} s in trace `{r['trace_id']}`"
            for r in slow[:4]
        ),
        f"- **Malformed lines**: {len(malformed)}, all in `{MALFORMED_TOOL}/audit.jsonl`,",
        "  each of a different kind; a reader must reject them with their place and reason, and go on:",
        *(f"  - line {number}: {kind}" for (_, number), kind in zip(malformed, kinds, strict=False)),
        f"- **Unknown fields**: {extra} records carry fields outside the contract (readers must keep them).",
        "- **Operators** (records): agents run as `agent-session-<n>`, humans by name, CI as `ci`:",
        *_wrap(", ".join(f"{name} ({count})" for name, count in sorted(operators.items())) + "."),
        "- Secrets are already redacted, as the writer does: URL passwords and tokens read `[REDACTED]`.",
        "",
    ]
    return "\n".join(lines)


_KNOWN_FIELDS: Final = frozenset(
    {
        "timestamp",
        "tool",
        "command",
        "params",
        "exit_code",
        "duration_ms",
        "request_id",
        "trace_id",
        "version",
        "operator",
        "ok",
        "error",
        "parent_request_id",
        "host",
        "pid",
        "schema_version",
        "truncated",
    }
)


def _wrap(text: str, width: int = 100) -> list[str]:
    lines: list[str] = []
    current = " "
    for word in text.split(" "):
        if len(current) + 1 + len(word) > width:
            lines.append(current)
            current = " "
        current += " " + word
    return [*lines, current]


def _examples(trace_ids: set[str]) -> str:
    return ", ".join(f"`{tid}`" for tid in sorted(trace_ids)[:2]) or "none"


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the samples; print a one-line summary on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m auditview.demo.samples", description="Regenerate the bundled sample_logs/."
    )
    parser.add_argument("--out", default="sample_logs", help="target directory (default sample_logs)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    summary = regenerate(Path(args.out))
    print(summary.describe(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

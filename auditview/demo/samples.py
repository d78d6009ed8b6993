"""Regenerates the bundled ``sample_logs/``: small, deterministic, multi-tool audit logs and their README.

Owns the recipe of the samples (seed, start time, actors, which log rotates, which log carries malformed
lines, when the incidents start), the foreign producer among them (``healthcheck/healthcheck.sh``, a shell
script that does not use the writer, and the lines it wrote) and the README that describes them, computed
from the files themselves and read by the reader contract so that it cannot drift. Run ``python -m
auditview.demo.samples [--out sample_logs]``. It must not hand-edit or post-process the writer's records:
every line of the writer's tools comes from ``auditview.demo.generate`` (the random workload) and then
``auditview.demo.incidents`` (scripted incidents, appended after the workload, so the workload's lines stay
where they are); every healthcheck line is what the script writes for that check (``HealthCheck.line``,
checked against the script by a test), plus one line a person appended by hand. It imports no polars and no
UI library.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import textwrap
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Final

from auditview.contract import ContractError, parse_line
from auditview.demo.generate import GeneratorConfig, GeneratorSummary, generate_lines, write_log_dir
from auditview.demo.incidents import DIFF_EXAMPLE, INCIDENTS, incident_records
from auditview.reader_contract import FieldMap, ReadRecord, read_line

__all__ = [
    "HEALTHCHECK_SCRIPT",
    "HEALTHCHECK_TOOL",
    "INCIDENTS_SEED",
    "INCIDENTS_START",
    "MALFORMED_TOOL",
    "ROTATED_TOOL",
    "SAMPLE_CONFIG",
    "HealthCheck",
    "SampleFile",
    "healthcheck_lines",
    "main",
    "read_lines",
    "regenerate",
    "sample_files",
    "workload_files",
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
#: When the scripted incidents start: after the workload's last step has ended (a test checks it).
INCIDENTS_START: Final = datetime(2026, 11, 20, 9, 30, 0, tzinfo=UTC)
#: The seed of the incidents' durations, think times and ids.
INCIDENTS_SEED: Final = f"{SAMPLE_CONFIG.seed}:incidents"
_ROTATE_BYTES: Final = {ROTATED_TOOL: 40_000}
_SLOW_MS: Final = 5_000.0
_MANAGED_PREFIX: Final = "audit.jsonl"
#: The samples are read with the built-in field names only, whatever ``--field`` / ``fields.toml`` say here.
_FIELDS: Final = FieldMap()


@dataclass(frozen=True, slots=True)
class SampleFile:
    """One file of the samples: its path relative to the samples directory and its decompressed lines."""

    name: str
    lines: list[bytes]


def read_lines(path: Path) -> list[bytes]:
    """The physical lines of a (possibly gzip-compressed) log, each with its ``\\n``."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.splitlines(keepends=True)


def workload_files() -> list[SampleFile]:
    """The generator's workload of the samples alone (no incidents), one unrotated file per tool."""
    lines: dict[str, list[bytes]] = defaultdict(list)
    for tool, line in generate_lines(SAMPLE_CONFIG):
        lines[tool].append(line)
    return [SampleFile(f"{tool}/{_MANAGED_PREFIX}", lines[tool]) for tool in sorted(lines)]


def _generation(path: Path) -> int:
    parts = path.name.removesuffix(".gz").split(".")
    return int(parts[-1]) if parts[-1].isdigit() else 0


def sample_files(root: Path) -> list[SampleFile]:
    """The log files under ``root``, per tool from the oldest rotated sibling to the live file."""
    files = [p for p in root.glob(f"*/{_MANAGED_PREFIX}*") if p.is_file()]
    files.sort(key=lambda p: (p.parent.name, -_generation(p)))
    return [SampleFile(p.relative_to(root).as_posix(), read_lines(p)) for p in files]


# -- the foreign producer -----------------------------------------------------------------------------------

#: The tool that does not use the writer: its directory, its script and its log.
HEALTHCHECK_TOOL: Final = "healthcheck"
_HEALTHCHECK_SCRIPT_NAME: Final = "healthcheck.sh"

#: ``healthcheck/healthcheck.sh``, written (executable) with the samples. ``HealthCheck.line`` must give the
#: bytes it appends; a test runs it with a fake ``date`` and ``curl`` to check that.
HEALTHCHECK_SCRIPT: Final = r"""#!/bin/sh
# healthcheck.sh ENV SERVICE: probe a service's /healthz with curl and append one audit line.
#
# A producer that does not use auditview's writer. It appends one line per run to $AUDIT_LOG (default:
# audit.jsonl next to this script) in the seed's hand-written shape: no tool, request_id or version;
# "trace_id" only when the caller set $TOOL_TRACE_ID; on failure, curl's message as a string "error".
# Times come from date(1), so they have whole seconds and duration_ms is a multiple of 1000 (date +%s is
# not POSIX, but GNU, BSD and BusyBox date all have it). Exits with curl's status.
set -u

if [ $# -ne 2 ]; then
    echo "usage: healthcheck.sh ENV SERVICE" >&2
    exit 2
fi
url=${HEALTHCHECK_URL:-https://$2.$1.internal.example/healthz}
log=${AUDIT_LOG:-$(dirname -- "$0")/audit.jsonl}

# A JSON string of $1: tabs and line breaks become blanks, bytes outside printable ASCII are dropped,
# backslashes and double quotes are escaped.
json() {
    printf '"%s"' "$({ printf '%s' "$1" | tr '\t\r\n' '   ' | LC_ALL=C tr -cd ' -~'; echo; } |
        sed 's/[\\"]/\\&/g')"
}

now=$(date -u '+%Y-%m-%dT%H:%M:%SZ %s')
started=${now#* }
message=$(curl -fsS -o /dev/null --max-time 10 "$url" 2>&1)
code=$?
ended=$(date -u +%s)

line="{\"timestamp\": \"${now% *}\", \"command\": \"check\""
line="$line, \"params\": {\"env\": $(json "$1"), \"service\": $(json "$2")}"
line="$line, \"exit_code\": $code, \"duration_ms\": $(( (ended - started) * 1000 ))"
line="$line, \"operator\": $(json "${TOOL_OPERATOR:-${USER:-$(id -un)}}")"
if [ -n "${TOOL_TRACE_ID:-}" ]; then
    line="$line, \"trace_id\": $(json "$TOOL_TRACE_ID")"
fi
if [ "$code" -ne 0 ]; then
    line="$line, \"error\": $(json "${message:-curl exited with $code}")"
fi
printf '%s}\n' "$line" >>"$log"
exit "$code"
"""

#: The curl statuses and messages of the failures the samples show (``curl -fsS``: HTTP error, time-out).
_HTTP_503: Final = (22, "curl: (22) The requested URL returned error: 503")
_TIMED_OUT: Final = (28, "curl: (28) Operation timed out after 10002 milliseconds with 0 bytes received")
_CRON_OPERATOR: Final = "svc-health"
_CRON_TARGET: Final = ("prod", "checkout")
_SHARED_CHECKS: Final = 12
#: The line a person appended by hand after checking by eye: not what the script writes.
_HAND_WRITTEN: Final = (
    '{{"timestamp": "{ts}", "command": "check", "params": {{"env": "prod", "service": "checkout"}}, '
    '"exit_code": 0, "duration_ms": "fast", "operator": "carol"}}\n'
)


def _sh_json(text: str) -> str:
    """What the script's ``json`` function prints for ``text``."""
    flat = "".join(" " if ch in "\t\r\n" else ch for ch in text)
    kept = "".join(ch for ch in flat if " " <= ch <= "~")
    return '"' + kept.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One run of ``healthcheck.sh``: what it was given and what happened."""

    start: datetime
    env: str
    service: str
    operator: str
    exit_code: int = 0
    seconds: int = 0
    trace_id: str | None = None
    error: str | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def line(self) -> bytes:
        """The bytes the script appends for this run (``error`` is curl's message; empty gives the script's
        ``curl exited with N``)."""
        text = (
            f'{{"timestamp": "{self.start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}", "command": "check", '
            f'"params": {{"env": {_sh_json(self.env)}, "service": {_sh_json(self.service)}}}, '
            f'"exit_code": {self.exit_code}, "duration_ms": {self.seconds * 1000}, '
            f'"operator": {_sh_json(self.operator)}'
        )
        if self.trace_id:
            text += f', "trace_id": {_sh_json(self.trace_id)}'
        if self.exit_code != 0:
            text += f', "error": {_sh_json(self.error or f"curl exited with {self.exit_code}")}'
        return (text + "}\n").encode()


def _next_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def healthcheck_lines(writer_lines: Sequence[SampleFile]) -> list[bytes]:
    """The healthcheck log, in file (completion) order, for the writer's workload ``writer_lines``.

    An agent runs the check right after some of its ``verify`` steps, inside the same trace (its runner
    exports ``TOOL_TRACE_ID``), and it fails when the verify failed; cron runs it every minute without a
    trace (while the workload runs: the later incidents are not given); one line was appended by hand.
    """
    rng = Random(f"{SAMPLE_CONFIG.seed}:{HEALTHCHECK_TOOL}")
    records = [record for record, _ in _read(writer_lines) if record is not None]
    spans: dict[str, tuple[datetime, datetime]] = {}
    for record in records:
        tid, end = record.values["trace_id"], _end(record)
        if tid is not None:
            first, last = spans.get(tid, (record.ts, end))
            spans[tid] = (min(first, record.ts), max(last, end))
    verifies: dict[str, list[ReadRecord]] = defaultdict(list)
    for record in records:
        values, params = record.values, record.values["params"]
        if (
            values["command"] == "verify"
            and str(values["trace_id"]).startswith("agent-session-")
            and isinstance(params, dict)
            and isinstance(params.get("env"), str)
            and isinstance(params.get("service"), str)
            and _next_second(_end(record)) + timedelta(seconds=1) <= spans[values["trace_id"]][1]
        ):
            verifies[values["trace_id"]].append(record)
    checks: list[HealthCheck] = []
    for tid in sorted(rng.sample(sorted(verifies), min(_SHARED_CHECKS, len(verifies)))):
        verify = rng.choice(verifies[tid])
        failed = verify.values["exit_code"] != 0
        code, error = _HTTP_503 if failed else (0, None)
        checks.append(
            HealthCheck(
                _next_second(_end(verify)) + timedelta(seconds=rng.randrange(2)),
                verify.values["params"]["env"],
                verify.values["params"]["service"],
                verify.values["operator"],
                code,
                0 if failed else rng.choice((0, 0, 1)),
                tid,
                error,
            )
        )
    first = min(record.ts for record in records).replace(second=0, microsecond=0)
    last = max(_end(record) for record in records)
    minutes = int((last - first).total_seconds() // 60)
    timed_out = rng.randrange(minutes // 2, minutes)
    for minute in range(minutes):
        code, error = _TIMED_OUT if minute == timed_out else (0, None)
        checks.append(
            HealthCheck(
                first + timedelta(minutes=minute, seconds=rng.randrange(2)),
                *_CRON_TARGET,
                _CRON_OPERATOR,
                code,
                10 if code else rng.choice((0, 0, 0, 1)),
                error=error,
            )
        )
    by_hand = first + timedelta(minutes=rng.randrange(minutes), seconds=30 + rng.randrange(20))
    lines = [(check.end, check.line()) for check in checks]
    lines.append((by_hand, _HAND_WRITTEN.format(ts=f"{by_hand:%Y-%m-%dT%H:%M:%SZ}").encode()))
    lines.sort(key=lambda item: item[0])
    return [line for _, line in lines]


def _end(record: ReadRecord) -> datetime:
    duration = record.values["duration_ms"]
    return record.ts + timedelta(milliseconds=duration or 0.0)


def _read(files: Sequence[SampleFile]) -> list[tuple[ReadRecord | None, str]]:
    """Every line of ``files`` read by the reader contract: ``(record, "")`` or ``(None, reason)``."""
    result: list[tuple[ReadRecord | None, str]] = []
    for sample in files:
        for line in sample.lines:
            try:
                result.append((read_line(line, path=sample.name, fields=_FIELDS), ""))
            except ContractError as exc:
                result.append((None, str(exc)))
    return result


def regenerate(out: Path) -> GeneratorSummary:
    """Write the samples (the workload, then the incidents) into ``out`` (replacing earlier
    ``*/audit.jsonl*`` files there), the healthcheck script and the README."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"*/{_MANAGED_PREFIX}*"):
        stale.unlink()
    incidents = incident_records(INCIDENTS_START, INCIDENTS_SEED)
    summary = write_log_dir(out, SAMPLE_CONFIG, rotate_bytes=_ROTATE_BYTES, then=incidents)
    directory = out / HEALTHCHECK_TOOL
    directory.mkdir(exist_ok=True)
    (directory / _MANAGED_PREFIX).write_bytes(b"".join(healthcheck_lines(workload_files())))
    script = directory / _HEALTHCHECK_SCRIPT_NAME
    script.write_text(HEALTHCHECK_SCRIPT, encoding="utf-8")
    script.chmod(0o755)
    (out / "README.md").write_text(describe(out, summary), encoding="utf-8")
    return summary


def describe(root: Path, summary: GeneratorSummary) -> str:
    """The README of the samples, computed from the files under ``root`` as the reader contract reads them."""
    files = sample_files(root)
    records: list[ReadRecord] = []
    warned: list[tuple[str, int, str]] = []
    broken: list[tuple[int, str, ReadRecord | None, str]] = []  # the writer's lines the writer would refuse
    table: list[str] = []
    for sample in files:
        good = warnings = 0
        read = _read([sample])
        for number, ((record, reason), line) in enumerate(zip(read, sample.lines, strict=True), start=1):
            if record is not None:
                records.append(record)
                good += 1
                warnings += bool(record.warnings)
                warned += [(sample.name, number, warning) for warning in record.warnings]
            if not sample.name.startswith(f"{HEALTHCHECK_TOOL}/"):
                try:
                    parse_line(line)
                except ContractError as exc:
                    broken.append((number, str(exc), record, reason))
        table.append(
            f"| `{sample.name}` | {len(sample.lines)} | {good} | {len(sample.lines) - good} | {warnings} |"
        )
    traces: dict[str, list[ReadRecord]] = defaultdict(list)
    for record in records:
        if record.values["trace_id"] is not None:
            traces[record.values["trace_id"]].append(record)
    orphans = sum(1 for r in records if r.values["trace_id"] is None)
    failed = {tid for tid, steps in traces.items() if any(_failed(r) for r in steps)}
    rolled_back = {tid for tid in failed if any(r.values["command"] == "rollback" for r in traces[tid])}
    multi_tool = sum(1 for steps in traces.values() if len({r.values["tool"] for r in steps}) >= 3)
    sizes = [len(steps) for steps in traces.values()]
    operators = Counter(str(r.values["operator"]) for r in records)
    slow = sorted((r for r in records if _duration(r) > _SLOW_MS), key=lambda r: -_duration(r))
    extra = sum(1 for r in records if r.extra)
    starts = [r.ts for r in records]
    health = [r for r in records if r.values["tool"] == HEALTHCHECK_TOOL]
    shared = sorted(str(r.values["trace_id"]) for r in health if r.values["trace_id"] is not None)
    health_lines = next(f.lines for f in files if f.name == f"{HEALTHCHECK_TOOL}/{_MANAGED_PREFIX}")
    shown = [
        next(line for line in health_lines if b'"trace_id"' in line),
        next(line for line in health_lines if b'"error"' in line and b'"trace_id"' not in line),
    ]
    hand = [number for name, number, _ in warned if name.startswith(f"{HEALTHCHECK_TOOL}/")]
    cron = sum(1 for r in health if r.values["operator"] == _CRON_OPERATOR)
    rejects = sum(1 for _, _, record, _ in broken if record is None)
    log_name, script_name = (
        f"{HEALTHCHECK_TOOL}/{_MANAGED_PREFIX}",
        f"{HEALTHCHECK_TOOL}/{_HEALTHCHECK_SCRIPT_NAME}",
    )
    lines = [
        "# sample_logs",
        "",
        "Small, deterministic audit logs made by the demo generator for the README quick start, the tests",
        "and the terminal-app snapshots, plus one tool that does not use the writer. Do not edit them by",
        "hand: regenerate them with `python -m auditview.demo.samples --out sample_logs` (a test fails when",
        "they drift from the recipe in `auditview/demo/samples.py`). This README is generated too; its",
        "counts are what the reader contract (`auditview/reader_contract.py`) makes of the files.",
        "",
        f"Seed {SAMPLE_CONFIG.seed}; {len(records)} records, {len(records) - orphans} of them in "
        f"{len(traces)} traces and {orphans} without a trace id;",
        f"from {SAMPLE_CONFIG.agents} concurrent agent runners, {SAMPLE_CONFIG.humans} humans and "
        f"{SAMPLE_CONFIG.ci} CI runner using the writer, and a cron job,",
        f"then {len(INCIDENTS)} scripted incidents; "
        f"starts from {min(starts):%Y-%m-%dT%H:%M:%SZ} to {max(starts):%Y-%m-%dT%H:%M:%SZ}.",
        "",
        "| file | lines | records | rejected | with a field warning |",
        "|---|---|---|---|---|",
        *table,
        "",
        "What to look for:",
        "",
        "- **Incidents**, scripted in `auditview/demo/incidents.py` and run after the random workload, for",
        "  the findings (`auditview traces sample_logs --filter 'trace.finding=retry-loop'`) and",
        "  `auditview diff`:",
        *(
            line
            for incident in INCIDENTS
            if incident.trace_id in traces
            for line in textwrap.wrap(
                f"`{incident.trace_id}` ({len(traces[incident.trace_id])} steps, "
                f"{incident.operator}): {incident.shows}.",
                width=100,
                initial_indent="  - ",
                subsequent_indent="    ",
            )
        ),
        f"  `auditview diff {DIFF_EXAMPLE} --previous sample_logs` compares the failing run with",
        "  its previous similar run, the working one.",
        f"- **Traces across tools**: every trace has {min(sizes)}–{max(sizes)} steps;",
        f"  {multi_tool} traces span three or more tools, so one trace id appears in several files.",
        "  Children (a deploy's apply, verify and smoke-test; a rollback's apply and verify) carry",
        "  `parent_request_id`.",
        f"- **Mixed producers**: `{log_name}` is appended by the shell script",
        f"  `{script_name}` (POSIX sh, `date`, `curl`), not by the writer.",
        "  It writes the seed's hand-written shape: no `tool`, `request_id` or `version` (readers take the",
        "  tool from the directory's name), whole seconds, `error` as a string, and `trace_id` only when",
        "  its caller exported `TOOL_TRACE_ID`:",
        "",
        "  ```",
        *(f"  {line.decode().rstrip()}" for line in shown),
        "  ```",
        "",
        f"  {len(shared)} of its {len(health)} records share a trace with the writer's tools (an agent's",
        f"  check right after a `verify`, for example in `{shared[0] if shared else '-'}`);",
        f"  {len(health) - len(shared)} have no trace id: {cron} from cron (every minute, as "
        f"`{_CRON_OPERATOR}`) and {len(health) - len(shared) - cron} by hand.",
        f"  {sum(1 for r in health if _failed(r))} failed, with curl's message as `error`. To try the script "
        "without touching",
        f"  the samples: `AUDIT_LOG=/tmp/hc.jsonl TOOL_TRACE_ID=t-1 sample_logs/{script_name} staging auth`.",
        f"- **Field warnings**: {len(warned)}; the record is kept and the field is read as unknown:",
        *(f"  - `{name}` line {number}: {warning}" for name, number, warning in warned),
        *(f"  (`{log_name}` line {number} was appended by hand, not by the script.)" for number in hand),
        "- **Completion order**: records are appended when an invocation completes, so within a file the",
        "  line order is end order while `timestamp` is the start: parents come after their children.",
        f"- **Rotation**: `{ROTATED_TOOL}/audit.jsonl.2.gz` (gzip, oldest),",
        f"  `{ROTATED_TOOL}/audit.jsonl.1`, then the live `{ROTATED_TOOL}/audit.jsonl`.",
        f"- **Failures**: {len(failed)} traces have a failed step (`exit_code` != 0; the writer's tools add",
        "  `ok: false` and an `error` object);",
        f"  {len(rolled_back)} of them roll back, for example {_examples(rolled_back)}.",
        f"- **Slow steps** (over {_SLOW_MS / 1000:.0f} s): {len(slow)}; the slowest:",
        *(
            f"  - `{r.values['tool']} {r.values['command']}` {_duration(r) / 1000:.1f} s in trace "
            f"`{r.values['trace_id']}`"
            for r in slow[:4]
        ),
        f"- **Malformed lines**: {len(broken)} lines break the writer contract, all in "
        f"`{MALFORMED_TOOL}/audit.jsonl`, each of a",
        f"  different kind. A reader rejects {rejects} of them with their place and reason, and goes on;",
        f"  {len(broken) - rejects} {'is a record' if len(broken) - rejects == 1 else 'are records'} "
        "to the reader contract, which is kinder than the writer's:",
        *(
            _broken_line(number, kind, strict, record, reason)
            for (number, strict, record, reason), kind in zip(broken, summary.malformed_kinds, strict=True)
        ),
        f"- **Unknown fields**: {extra} records carry fields outside the contract (readers must keep them).",
        "- **Operators** (records): agents run as `agent-session-<n>`, humans by name, CI as `ci`, the",
        f"  healthcheck's cron as `{_CRON_OPERATOR}`:",
        *_wrap(", ".join(f"{name} ({count})" for name, count in sorted(operators.items())) + "."),
        "- Secrets are already redacted, as the writer does: URL passwords and tokens read `[REDACTED]`.",
        "",
    ]
    return "\n".join(lines)


def _broken_line(number: int, kind: str, strict: str, record: ReadRecord | None, reason: str) -> str:
    """One README line about a line the writer's contract refuses: rejected, or how it is read."""
    if record is None:
        return f"  - line {number}: {kind}: rejected ({reason})"
    if record.warnings:
        return f"  - line {number}: {kind} ({strict}): a record, with a warning: {'; '.join(record.warnings)}"
    how = f" ({', '.join(record.derived)})" if record.derived else ""
    return f"  - line {number}: {kind} ({strict}): a record: the reader contract accepts that value{how}"


def _failed(record: ReadRecord) -> bool:
    return record.values["exit_code"] not in (0, None)


def _duration(record: ReadRecord) -> float:
    duration = record.values["duration_ms"]
    return float(duration) if duration is not None else 0.0


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

"""``auditview check``: grade any command-line tool against the seed's evaluation table (0-3) and its Check.

The seed (challenge §33, "Observability & Audit Trail") scores a tool:

- 0: no request_id, no timing, no audit log; tool calls cannot be correlated after the fact;
- 1: ``meta.request_id`` present on some responses; no ``duration_ms``; no audit log;
- 2: ``meta.request_id`` and ``meta.duration_ms`` on all responses; ``TOOL_TRACE_ID`` env var propagated;
- 3: ``meta.trace_id`` accepts a caller-supplied value; ``tool audit-log --output jsonl`` available;
  append-only audit log written automatically;

and its Check is: supply ``TOOL_TRACE_ID=test-123``, run any command, verify ``meta.trace_id == "test-123"``.

``check(argv)`` observes exactly that, with real processes: it runs the command twice with
``TOOL_TRACE_ID=test-123`` (in a temporary ``XDG_DATA_HOME``/``XDG_STATE_HOME`` unless ``keep_env``), reads
each JSON response's ``meta``, and after each run lists ``TOOL audit-log --since 1h --output jsonl``: each run
must have appended exactly one record carrying its request id and the trace id, and the log must only have
grown between the runs (the earlier lines, and in the sandbox the earlier bytes of the file, unchanged).
Propagation is observed where it can be: the second run gets ``AUDITVIEW_CHILD_PROBE=<path>`` (the child
probe protocol of ``auditview.writer.support``: the tool's child writes the ``TOOL_TRACE_ID`` it sees
there), and a record in the log whose ``parent_request_id`` is one of the runs' request ids shows a child
too. When neither is seen the condition is ``skip`` (it does not lower the score) unless ``child_probe``
requires it. The score is the highest level whose conditions, and those of every level below, all pass
(``skip`` counts as not failing; a level needs at least one ``pass``).

Every condition keeps its evidence: which run showed what. Nothing here imports polars or a UI library.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from auditview.contract import (
    ENV_PARENT_REQUEST_ID,
    ENV_TRACE_ID,
    ENV_TRACEPARENT,
    ContractError,
    parse_timestamp,
)
from auditview.reader_contract import ReadRecord, read_line
from auditview.text.sanitize import printable
from auditview.writer.support import ENV_CHILD_PROBE

__all__ = [
    "AUDIT_LOG_ARGS",
    "LEVELS",
    "TRACE_ID",
    "CheckError",
    "Condition",
    "Execution",
    "Report",
    "check",
    "render",
    "tool_words",
]

#: The caller-supplied trace id of the seed's Check.
TRACE_ID: Final = "test-123"
#: What follows the tool's words to list its audit log (the seed's command).
AUDIT_LOG_ARGS: Final = ("audit-log", "--since", "1h", "--output", "jsonl")
#: The seed's evaluation table.
LEVELS: Final[dict[int, str]] = {
    0: "No request_id, no timing, no audit log; tool calls cannot be correlated after the fact",
    1: "meta.request_id present on some responses; no duration_ms; no audit log",
    2: "meta.request_id and meta.duration_ms on all responses; TOOL_TRACE_ID env var propagated",
    3: (
        "meta.trace_id accepts caller-supplied value; tool audit-log --output jsonl available; "
        "append-only audit log written automatically"
    ),
}

_PASS: Final = "pass"
_FAIL: Final = "fail"
_SKIP: Final = "skip"
_INTERPRETERS: Final = re.compile(
    r"^(?:python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|ruby|perl|php|bash|sh|dash|zsh|ksh|env)$"
)
_PROBE_NAME: Final = "child-probe"
_SHOWN_CHARS: Final = 80


class CheckError(Exception):
    """The check cannot run at all (the command cannot be started); ``error_type`` names why."""

    def __init__(self, message: str, error_type: str = "CommandError") -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass
class Execution:
    """One process the check ran: what, with which variables set by the check, and how it ended."""

    name: str
    argv: list[str]
    env: dict[str, str]
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    seconds: float = 0.0
    error: str | None = None

    @property
    def shown(self) -> str:
        """The command line as a shell would take it, with the check's trace variables in front."""
        shown_env = {k: v for k, v in self.env.items() if k in (ENV_TRACE_ID, ENV_CHILD_PROBE)}
        words = [f"{k}={shlex.quote(v)}" for k, v in shown_env.items()]
        return " ".join([*words, shlex.join(self.argv)])

    def outcome(self) -> str:
        """``exit 0 in 0.41 s`` (or why there is no exit code)."""
        if self.error is not None:
            return self.error
        return f"exit {self.exit_code} in {self.seconds:.2f} s"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": self.shown,
            "argv": self.argv,
            "env": self.env,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "stdout_bytes": len(self.stdout),
            "stderr_bytes": len(self.stderr),
        }


@dataclass
class Condition:
    """One row of the grade: a condition of the seed's table, its level, the result and the evidence."""

    key: str
    level: int | None
    text: str
    result: str
    evidence: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "level": self.level,
            "condition": self.text,
            "result": self.result,
            "evidence": self.evidence,
            "runs": self.runs,
        }


@dataclass
class Report:
    """The grade of one command: the runs, the conditions, the score and whether it reaches ``min_score``."""

    command: list[str]
    tool: list[str]
    min_score: int
    runs: list[Execution]
    conditions: list[Condition]
    sandbox: dict[str, str] | None
    child_probe: bool

    @property
    def score(self) -> int:
        """The highest level whose conditions (and those below) all pass or skip, with one pass at least."""
        score = 0
        for level in (1, 2, 3):
            rows = [c for c in self.conditions if c.level == level]
            if any(c.result == _FAIL for c in rows) or not any(c.result == _PASS for c in rows):
                break
            score = level
        return score

    @property
    def passed(self) -> bool:
        return self.score >= self.min_score

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "trace_id": TRACE_ID,
            "score": self.score,
            "max_score": 3,
            "min_score": self.min_score,
            "passed": self.passed,
            "level": LEVELS[self.score],
            "tool": self.tool,
            "sandbox": self.sandbox,
            "child_probe_required": self.child_probe,
            "runs": [run.to_json() for run in self.runs],
            "conditions": [c.to_json() for c in self.conditions],
        }


# -- running -------------------------------------------------------------------------------------------------


def _environment(source: Mapping[str, str], sandbox: dict[str, str] | None) -> dict[str, str]:
    """The environment every process of the check gets: ``source`` without inherited trace variables (and,
    in the sandbox, without ``*_AUDIT_LOG`` redirections), with ``TOOL_TRACE_ID=test-123``."""
    dropped = {ENV_PARENT_REQUEST_ID, ENV_TRACEPARENT, ENV_CHILD_PROBE}
    env = {
        name: value
        for name, value in source.items()
        if name not in dropped
        and not name.endswith("_TRACE_ID")
        and not (sandbox is not None and name.endswith("_AUDIT_LOG"))
    }
    env.update(sandbox or {})
    env[ENV_TRACE_ID] = TRACE_ID
    return env


def _execute(
    name: str,
    argv: list[str],
    env: dict[str, str],
    shown: dict[str, str],
    *,
    timeout: float,
    cwd: str | None,
    must_start: bool,
) -> Execution:
    execution = Execution(name, argv, shown)
    started = time.monotonic()
    try:
        completed = subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        execution.seconds = time.monotonic() - started
        execution.error = f"timed out after {timeout:g} s"
        execution.stdout = exc.stdout or b""
        execution.stderr = exc.stderr or b""
        return execution
    except OSError as exc:
        if must_start:
            raise CheckError(f"cannot run {shlex.join(argv)}: {exc.strerror or exc}") from None
        execution.error = f"cannot run: {exc.strerror or exc}"
        return execution
    execution.seconds = time.monotonic() - started
    execution.exit_code = completed.returncode
    execution.stdout = completed.stdout
    execution.stderr = completed.stderr
    return execution


def tool_words(argv: Sequence[str], command: object) -> list[str]:
    """The words of ``argv`` that name the tool: those before the words of ``meta.command`` when the
    response gave one found in ``argv``, else the program (with its script or ``-m module`` when the
    program is an interpreter such as ``python``, ``node`` or ``sh``)."""
    words = command.split() if isinstance(command, str) else []
    if words:
        for start in range(1, len(argv) - len(words) + 1):
            if list(argv[start : start + len(words)]) == words:
                return list(argv[:start])
    if not argv:
        return []
    if _INTERPRETERS.match(os.path.basename(argv[0]).lower()):
        index = 1
        while index < len(argv):
            arg = argv[index]
            if arg == "-m" and index + 1 < len(argv):
                return list(argv[: index + 2])
            if arg.startswith("-") or (os.path.basename(argv[0]) == "env" and "=" in arg):
                index += 1
                continue
            if os.path.basename(argv[0]) == "env" and _INTERPRETERS.match(os.path.basename(arg).lower()):
                index += 1
                continue
            return list(argv[: index + 1])
    return list(argv[:1])


# -- reading what the tool printed ---------------------------------------------------------------------------


@dataclass
class _Response:
    body: dict[str, Any] | None
    how: str

    @property
    def meta(self) -> dict[str, Any] | None:
        meta = self.body.get("meta") if self.body is not None else None
        return meta if isinstance(meta, dict) else None


def _parse_response(stdout: bytes) -> _Response:
    text = stdout.strip()
    if not text:
        return _Response(None, "stdout is empty")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if isinstance(value, dict):
            return _Response(value, "stdout is one JSON object")
        return _Response(None, f"stdout is JSON but not an object ({_shown(value)})")
    for line in reversed(text.splitlines()):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return _Response(value, "the last JSON object line of stdout")
    return _Response(None, f"stdout is not JSON: {_shown(text.decode('utf-8', 'replace'))}")


@dataclass
class _Listing:
    """One ``audit-log --output jsonl`` listing: its lines and the records the reader contract reads."""

    execution: Execution
    lines: list[bytes]
    records: list[ReadRecord]
    not_json: int
    not_records: list[str]

    @property
    def usable(self) -> bool:
        return self.execution.exit_code == 0 and not self.not_json

    def carrying(self, request_id: str) -> list[ReadRecord]:
        return [r for r in self.records if r.values["request_id"] == request_id]


def _listing(execution: Execution) -> _Listing:
    lines = [line for line in execution.stdout.split(b"\n") if line.strip()]
    records: list[ReadRecord] = []
    not_json = 0
    not_records: list[str] = []
    for line in lines:
        try:
            records.append(read_line(line))
        except ContractError as exc:
            reason = str(exc)
            if reason.startswith(("invalid JSON", "not a JSON object")):
                not_json += 1
            not_records.append(reason)
    return _Listing(execution, lines, records, not_json, not_records)


def _shown(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    text = printable(text)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _read_probe(path: Path) -> dict[str, str] | None:
    """The variables the tool's child wrote: a JSON object, or ``NAME=value`` lines; ``None`` if no file."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    result: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        name, sep, text = line.partition("=")
        if sep:
            result[name.strip()] = text
    return result


def _snapshot(root: Path, request_id: str) -> dict[Path, bytes]:
    """The files under ``root`` holding ``request_id`` (the tool's audit log, in the sandbox): their bytes."""
    found: dict[Path, bytes] = {}
    needle = request_id.encode()
    for path in sorted(root.rglob("*")):
        if path.name == _PROBE_NAME or not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if needle in data:
            found[path] = data
    return found


# -- the conditions ------------------------------------------------------------------------------------------


def _request_id(response: _Response) -> str | None:
    meta = response.meta
    value = meta.get("request_id") if meta is not None else None
    return value if isinstance(value, str) and value else None


def _meta_field(name: str, response: _Response, label: str) -> str:
    """``run 1: meta.x = "..."`` or what is missing."""
    if response.body is None:
        return f"{label}: no JSON response ({response.how})"
    meta = response.meta
    if meta is None:
        return f"{label}: the response has no meta object"
    if name not in meta or meta[name] is None:
        return f"{label}: meta has no {name}"
    return f"{label}: meta.{name} = {_shown(meta[name])}"


def _conditions(
    responses: list[tuple[str, _Response]],
    listings: list[_Listing],
    probe: dict[str, str] | None,
    probe_run: str,
    files_before: dict[Path, bytes],
    files_after: dict[Path, bytes],
    sandbox: bool,
    child_probe: bool,
) -> list[Condition]:
    rows: list[Condition] = []
    labels = [label for label, _ in responses]
    ids = [_request_id(response) for _, response in responses]

    present = [rid is not None for rid in ids]
    evidence = [_meta_field("request_id", response, label) for label, response in responses]
    rows.append(
        Condition(
            "request_id",
            1,
            "meta.request_id present on some responses",
            _PASS if any(present) else _FAIL,
            evidence,
            labels,
        )
    )
    rows.append(
        Condition(
            "request_id_all",
            2,
            "meta.request_id on all responses",
            _PASS if all(present) else _FAIL,
            list(evidence),
            labels,
        )
    )
    if all(present):
        unique = len(set(ids)) == len(ids)
        why = (
            "a new request id per invocation"
            if unique
            else f"the same request id {_shown(ids[0])} for both invocations"
        )
        unique_evidence = [why]
    else:
        unique = False
        unique_evidence = ["not every response has a request id"]
    rows.append(
        Condition(
            "request_id_unique",
            2,
            "a new meta.request_id for every invocation",
            _PASS if unique else _FAIL,
            unique_evidence,
            labels,
        )
    )

    durations_ok = True
    duration_evidence: list[str] = []
    for label, response in responses:
        meta = response.meta or {}
        value = meta.get("duration_ms")
        good = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        )
        text = _meta_field("duration_ms", response, label)
        if value is not None and not good:
            text += " (not a number of milliseconds >= 0)"
        durations_ok = durations_ok and good
        duration_evidence.append(text)
    rows.append(
        Condition(
            "duration_ms",
            2,
            "meta.duration_ms on all responses",
            _PASS if durations_ok else _FAIL,
            duration_evidence,
            labels,
        )
    )

    rows.append(_propagation(ids, labels, listings, probe, probe_run, child_probe))

    trace_ok = True
    trace_evidence: list[str] = []
    for label, response in responses:
        meta = response.meta or {}
        trace_ok = trace_ok and meta.get("trace_id") == TRACE_ID
        trace_evidence.append(_meta_field("trace_id", response, label))
    rows.append(
        Condition(
            "trace_id",
            3,
            f'meta.trace_id accepts caller-supplied value (TOOL_TRACE_ID={TRACE_ID} gives "{TRACE_ID}")',
            _PASS if trace_ok else _FAIL,
            trace_evidence,
            labels,
        )
    )

    rows.append(_audit_log_available(listings))
    rows.append(_one_record_each(ids, labels, listings))
    rows.append(_append_only(listings, files_before, files_after, sandbox))

    complete = True
    complete_evidence: list[str] = []
    for label, response in responses:
        meta = response.meta or {}
        missing = []
        timestamp = meta.get("timestamp")
        try:
            if not isinstance(timestamp, str):
                raise ContractError("missing")
            parse_timestamp(timestamp)
        except ContractError:
            missing.append("timestamp (RFC 3339)")
        for name in ("command", "version"):
            value = meta.get(name)
            if not isinstance(value, str) or not value:
                missing.append(name)
        complete = complete and not missing
        shown = ", ".join(
            f"{name} = {_shown(meta.get(name))}" for name in ("timestamp", "command", "version")
        )
        text = f"{label}: meta.{shown}" if response.meta is not None else f"{label}: no meta"
        if missing and response.meta is not None:
            text += f" (missing or unusable: {', '.join(missing)})"
        complete_evidence.append(text)
    rows.append(
        Condition(
            "meta_complete",
            None,
            "meta.timestamp, meta.command and meta.version (the seed's example meta; not scored)",
            _PASS if complete else _FAIL,
            complete_evidence,
            labels,
        )
    )
    return rows


def _propagation(
    ids: list[str | None],
    labels: list[str],
    listings: list[_Listing],
    probe: dict[str, str] | None,
    probe_run: str,
    child_probe: bool,
) -> Condition:
    text = "TOOL_TRACE_ID env var propagated (to the tool's child processes)"
    evidence: list[str] = []
    seen_pass = seen_fail = False
    probe_index = labels.index(probe_run)
    if probe is not None:
        value = probe.get(ENV_TRACE_ID)
        parent = probe.get(ENV_PARENT_REQUEST_ID)
        line = f"{probe_run}'s child ({ENV_CHILD_PROBE}): {ENV_TRACE_ID} = {_shown(value)}"
        if parent is not None:
            line += f", {ENV_PARENT_REQUEST_ID} = {_shown(parent)}"
            line += f" ({probe_run}'s request id)" if parent == ids[probe_index] else f" (not {probe_run}'s)"
        evidence.append(line)
        if value == TRACE_ID:
            seen_pass = True
        else:
            seen_fail = True
    children: list[tuple[str, ReadRecord]] = []
    if listings:
        for label, rid in zip(labels, ids, strict=True):
            if rid is None:
                continue
            for record in listings[-1].records:
                if record.values["parent_request_id"] == rid:
                    children.append((label, record))
    for label, record in children[:3]:
        values = record.values
        evidence.append(
            f"audit log: a record of command {_shown(values['command'])} has parent_request_id = {label}'s "
            f"request id and trace_id = {_shown(values['trace_id'])}"
        )
        if values["trace_id"] == TRACE_ID:
            seen_pass = True
        else:
            seen_fail = True
    if seen_fail:
        return Condition("propagation", 2, text, _FAIL, evidence, labels)
    if seen_pass:
        return Condition("propagation", 2, text, _PASS, evidence, labels)
    evidence.append(
        f"not observed: no child wrote {ENV_CHILD_PROBE} in {probe_run}, and no record in the log names "
        "a run as its parent"
        + (" (required by --child-probe)" if child_probe else " (not counted; --child-probe requires it)")
    )
    return Condition("propagation", 2, text, _FAIL if child_probe else _SKIP, evidence, labels)


def _audit_log_available(listings: list[_Listing]) -> Condition:
    text = "tool audit-log --output jsonl available"
    evidence: list[str] = []
    ok = bool(listings)
    for listing in listings:
        execution = listing.execution
        line = f"{execution.name}: {execution.outcome()}"
        if execution.error is None:
            line += f", {len(listing.lines)} line(s)"
            if listing.not_json:
                line += f", {listing.not_json} not a JSON object"
            elif listing.not_records:
                line += f", {len(listing.not_records)} not a record ({printable(listing.not_records[0])})"
            if execution.exit_code != 0:
                stderr = execution.stderr.decode("utf-8", "replace").strip().splitlines()
                if stderr:
                    line += f"; stderr: {_shown(stderr[-1])}"
        evidence.append(line)
        ok = ok and listing.usable
    if not listings:
        evidence.append("not run: no tool words to run audit-log with")
    runs = [listing.execution.name for listing in listings]
    return Condition("audit_log", 3, text, _PASS if ok else _FAIL, evidence, runs)


def _one_record_each(ids: list[str | None], labels: list[str], listings: list[_Listing]) -> Condition:
    text = "each invocation appended exactly one record with its request_id and trace_id (automatically)"
    evidence: list[str] = []
    ok = len(listings) == len(ids)
    for label, rid, listing in zip(labels, ids, listings, strict=False):
        where = listing.execution.name
        if rid is None:
            evidence.append(f"{where}: {label} gave no request id to look for")
            ok = False
            continue
        if not listing.usable:
            evidence.append(f"{where}: no listing ({listing.execution.outcome()})")
            ok = False
            continue
        found = listing.carrying(rid)
        traces = sorted({str(r.values["trace_id"]) for r in found})
        if len(found) == 1 and found[0].values["trace_id"] == TRACE_ID:
            evidence.append(f'{where}: 1 record with {label}\'s request_id and trace_id "{TRACE_ID}"')
        else:
            ok = False
            shown = ", ".join(_shown(t) for t in traces) or "-"
            evidence.append(
                f"{where}: {len(found)} record(s) with {label}'s request_id {_shown(rid)} (trace_id {shown})"
            )
    return Condition("one_record", 3, text, _PASS if ok else _FAIL, evidence, [*labels])


def _append_only(
    listings: list[_Listing], before: dict[Path, bytes], after: dict[Path, bytes], sandbox: bool
) -> Condition:
    text = "append-only audit log: it only grew (earlier lines and bytes unchanged)"
    evidence: list[str] = []
    if len(listings) < 2 or not all(listing.usable for listing in listings):
        evidence.append("nothing to compare: the audit-log listings are missing (see the row above)")
        return Condition(
            "append_only", 3, text, _FAIL, evidence, [listing.execution.name for listing in listings]
        )
    first, second = listings[0], listings[1]
    missing = Counter(first.lines) - Counter(second.lines)
    ok = not missing and len(second.lines) > len(first.lines)
    line = (
        f"{second.execution.name} holds the {len(first.lines)} line(s) of {first.execution.name} byte for "
        f"byte, and {len(second.lines) - len(first.lines)} more"
    )
    if missing:
        gone = next(iter(missing))
        line = (
            f"{sum(missing.values())} line(s) of {first.execution.name} are gone or changed in "
            f"{second.execution.name}, e.g. {_shown(gone.decode('utf-8', 'replace'))}"
        )
    elif len(second.lines) <= len(first.lines):
        line = f"{second.execution.name} has no more lines than {first.execution.name}"
    evidence.append(line)
    if sandbox:
        if not before:
            evidence.append("the log file: not found in the sandbox (only the listings were compared)")
        for path, data in before.items():
            now = after.get(path)
            name = path.name if path.parent.name == "" else f"{path.parent.name}/{path.name}"
            if now is None:
                ok = False
                evidence.append(f"{name}: gone or no longer holds the first run's record")
            elif not now.startswith(data):
                ok = False
                evidence.append(
                    f"{name}: the first {len(data)} bytes changed ({len(data)} -> {len(now)} bytes)"
                )
            else:
                evidence.append(f"{name}: {len(data)} -> {len(now)} bytes, the first {len(data)} unchanged")
    else:
        evidence.append("the log file: not compared (--keep-env: only the listings)")
    runs = [listing.execution.name for listing in listings]
    return Condition("append_only", 3, text, _PASS if ok else _FAIL, evidence, runs)


# -- the check -----------------------------------------------------------------------------------------------


def check(
    argv: Sequence[str],
    *,
    min_score: int = 3,
    keep_env: bool = False,
    child_probe: bool = False,
    tool: Sequence[str] | None = None,
    timeout: float = 60.0,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Report:
    """Grade the command ``argv`` (see the module docstring); raises ``CheckError`` if it cannot start."""
    command = list(argv)
    if not command:
        raise CheckError("no command to check", "UsageError")
    source = os.environ if environ is None else environ
    with tempfile.TemporaryDirectory(prefix="auditview-check-") as scratch:
        root = Path(scratch)
        sandbox: dict[str, str] | None = None
        if not keep_env:
            sandbox = {}
            for name in ("XDG_DATA_HOME", "XDG_STATE_HOME"):
                path = root / name.lower()
                path.mkdir()
                sandbox[name] = str(path)
        env = _environment(source, sandbox)
        shown = {**(sandbox or {}), ENV_TRACE_ID: TRACE_ID}
        probe_path = root / _PROBE_NAME
        runs: list[Execution] = []

        first = _execute("run 1", command, env, shown, timeout=timeout, cwd=cwd, must_start=True)
        runs.append(first)
        first_response = _parse_response(first.stdout)
        meta = first_response.meta or {}
        words = list(tool) if tool else tool_words(command, meta.get("command"))
        audit_argv = [*words, *AUDIT_LOG_ARGS]

        listings: list[_Listing] = []
        if words:
            listed = _execute(
                "audit-log 1", audit_argv, env, shown, timeout=timeout, cwd=cwd, must_start=False
            )
            runs.append(listed)
            listings.append(_listing(listed))
        first_id = _request_id(first_response)
        before = _snapshot(root, first_id) if sandbox is not None and first_id else {}

        probed = {ENV_CHILD_PROBE: str(probe_path)}
        second = _execute(
            "run 2",
            command,
            {**env, **probed},
            {**shown, **probed},
            timeout=timeout,
            cwd=cwd,
            must_start=True,
        )
        runs.append(second)
        second_response = _parse_response(second.stdout)
        if words:
            listed = _execute(
                "audit-log 2", audit_argv, env, shown, timeout=timeout, cwd=cwd, must_start=False
            )
            runs.append(listed)
            listings.append(_listing(listed))
        after = {path: path.read_bytes() for path in before if path.is_file()}
        probe = _read_probe(probe_path)

    conditions = _conditions(
        [("run 1", first_response), ("run 2", second_response)],
        listings,
        probe,
        "run 2",
        before,
        after,
        sandbox is not None,
        child_probe,
    )
    return Report(command, words, min_score, runs, conditions, sandbox, child_probe)


# -- the table -----------------------------------------------------------------------------------------------


def render(report: Report) -> list[str]:
    """The report as text lines: the processes run, one row per condition with its evidence, the score."""
    lines = [f"auditview check: {printable(shlex.join(report.command))}"]
    width = max(len(run.name) for run in report.runs)
    for run in report.runs:
        response = ""
        if run.name.startswith("run") and run.error is None:
            response = f", {_parse_response(run.stdout).how}"
        lines.append(f"  {run.name:<{width}}  {printable(run.shown)}")
        lines.append(f"  {'':<{width}}  -> {printable(run.outcome())}{printable(response)}")
    if report.sandbox is not None:
        lines.append(
            f"  {'':<{width}}  (in a temporary XDG_DATA_HOME and XDG_STATE_HOME, removed afterwards; "
            "--keep-env to use yours)"
        )
    lines.append("")
    lines.append("level  result  condition")
    for row in report.conditions:
        level = "-" if row.level is None else str(row.level)
        lines.append(f"  {level:<4} {row.result:<7} {printable(row.text)}")
        lines.extend(f"               {printable(item)}" for item in row.evidence)
    lines.append("")
    score = report.score
    lines.append(f"score {score} of 3: {LEVELS[score]}")
    verdict = "reaches" if report.passed else "is below"
    lines.append(
        f"{'passed' if report.passed else 'FAILED'}: score {score} {verdict} --min-score {report.min_score}"
    )
    return lines

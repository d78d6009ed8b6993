"""The demo log generator: realistic, seedable, fast multi-tool audit logs that follow the contract.

Owns the synthetic workload used by the benchmarks, the tests, the terminal-app snapshots and
``sample_logs/``: concurrent agents, humans and CI running deploy → verify → rollback traces over several
tools, written the way the writer writes them (one line per invocation, appended at *completion*, so line
order is end order while ``timestamp`` is the start). Optional malformed lines of every kind a reader
must reject.

It must stay cheap and self-contained: standard library and orjson only (pendulum is imported lazily, only to
parse a relative ``--start``/``--end``), no polars and no UI library, and no wall clock in the output unless
the caller asks for one (``--end now``): the same arguments always give byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import itertools
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from typing import Any, BinaryIO, Final

import orjson

from auditview.contract import SCHEMA_VERSION, ContractError, parse_timestamp

__all__ = [
    "DEFAULT_START",
    "MALFORMED_KINDS",
    "TOOL_VERSIONS",
    "GeneratorConfig",
    "GeneratorSummary",
    "RecordClock",
    "generate_lines",
    "generate_records",
    "invocation_record",
    "main",
    "write_log",
    "write_log_dir",
]

#: Where generated time starts unless the caller says otherwise (fixed, so that output is deterministic).
DEFAULT_START: Final = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)

#: The tools of the demo workload and the version each one writes.
TOOL_VERSIONS: Final[dict[str, str]] = {
    "deployctl": "3.4.1",
    "verifyctl": "1.9.0",
    "dbctl": "0.14.2",
    "featureflags": "2.1.0",
    "rollbackctl": "1.2.3",
}

#: The kinds of malformed line the generator inserts, in the order it cycles through them.
MALFORMED_KINDS: Final = (
    "bad-json",
    "cut-line",
    "non-object",
    "missing-field",
    "wrong-type",
    "bad-timestamp",
    "invalid-utf8",
)

_US_PER_MS: Final = 1_000
_US_PER_S: Final = 1_000_000
_US_PER_DAY: Final = 86_400 * _US_PER_S

#: Median duration (ms) and log-normal sigma of the invocation's own work, per tool and command. A parent's
#: duration also covers its children.
_DURATIONS: Final[dict[tuple[str, str], tuple[float, float]]] = {
    ("deployctl", "status"): (140.0, 0.45),
    ("deployctl", "deploy"): (700.0, 0.5),
    ("deployctl", "apply"): (650.0, 0.5),
    ("deployctl", "canary"): (900.0, 0.5),
    ("deployctl", "scale"): (650.0, 0.6),
    ("deployctl", "logs"): (320.0, 0.5),
    ("verifyctl", "verify"): (480.0, 0.5),
    ("verifyctl", "smoke-test"): (850.0, 0.5),
    ("verifyctl", "health"): (170.0, 0.4),
    ("dbctl", "status"): (85.0, 0.4),
    ("dbctl", "migrate"): (1400.0, 0.6),
    ("dbctl", "backup"): (2400.0, 0.5),
    ("featureflags", "get"): (42.0, 0.35),
    ("featureflags", "set"): (78.0, 0.4),
    ("rollbackctl", "rollback"): (800.0, 0.5),
    ("rollbackctl", "plan"): (280.0, 0.4),
}

#: Probability that an invocation's own work fails, per tool and command (before ``failure_scale``).
_FAILURE_P: Final[dict[tuple[str, str], float]] = {
    ("deployctl", "status"): 0.004,
    ("deployctl", "deploy"): 0.012,
    ("deployctl", "apply"): 0.025,
    ("deployctl", "canary"): 0.03,
    ("deployctl", "scale"): 0.02,
    ("deployctl", "logs"): 0.002,
    ("verifyctl", "verify"): 0.045,
    ("verifyctl", "smoke-test"): 0.04,
    ("verifyctl", "health"): 0.01,
    ("dbctl", "status"): 0.004,
    ("dbctl", "migrate"): 0.035,
    ("dbctl", "backup"): 0.015,
    ("featureflags", "get"): 0.003,
    ("featureflags", "set"): 0.01,
    ("rollbackctl", "rollback"): 0.02,
    ("rollbackctl", "plan"): 0.01,
}

#: Errors per tool and command: (type, message template, exit code, fixed duration in ms or 0).
_ERRORS: Final[dict[tuple[str, str], tuple[tuple[str, str, int, int], ...]]] = {
    ("deployctl", "status"): (
        (
            "ConnectionRefused",
            "control plane unreachable: dial tcp 10.0.0.12:6443: connection refused",
            69,
            0,
        ),
    ),
    ("deployctl", "deploy"): (
        ("LockHeld", "another deploy of {service} to {env} holds the lock (since 4m12s)", 75, 0),
    ),
    ("deployctl", "apply"): (
        ("ImagePullBackOff", "image registry.internal/{service}:{version} not found", 1, 0),
        ("QuotaExceeded", "exceeded quota in {region}: requests.cpu 48 > 40", 1, 0),
        (
            "RolloutTimeout",
            "rollout of {service} did not finish within 300s (4/{replicas} ready)",
            124,
            300_000,
        ),
    ),
    ("deployctl", "canary"): (("CanaryRejected", "error rate 4.1% on canary above baseline 0.8%", 3, 0),),
    ("deployctl", "scale"): (("QuotaExceeded", "exceeded quota in {region}: pods 120 > 100", 1, 0),),
    ("deployctl", "logs"): (("NotFound", "no pods for {service} in {env}", 1, 0),),
    ("verifyctl", "verify"): (
        ("VerificationFailed", "3 of 12 checks failed: readiness, p99_latency, error_rate", 3, 0),
        ("HealthCheckTimeout", "{service} did not become healthy within 120s", 124, 120_000),
    ),
    ("verifyctl", "smoke-test"): (
        ("SmokeTestFailed", "POST /api/v1/{service}/orders returned 502 (expected 201)", 1, 0),
        ("ConnectionRefused", "connect ECONNREFUSED 10.4.7.21:8443", 1, 0),
    ),
    ("verifyctl", "health"): (("HealthCheckFailed", "GET /healthz returned 503", 1, 0),),
    ("dbctl", "status"): (
        ("ConnectionRefused", "could not connect to {database}-db.{env}.internal:5432", 69, 0),
    ),
    ("dbctl", "migrate"): (
        ("MigrationLockTimeout", "could not acquire the migration lock on {database} within 30s", 75, 30_000),
        ("MigrationFailed", 'relation "{database}_tmp" already exists', 1, 0),
    ),
    ("dbctl", "backup"): (
        ("BackupFailed", "upload to s3://backups-{env}/{database}/ failed: SlowDown", 1, 0),
    ),
    ("featureflags", "get"): (("NotFound", "flag {flag} does not exist in {env}", 1, 0),),
    ("featureflags", "set"): (("PermissionDenied", "operator may not change flags in {env}", 77, 0),),
    ("rollbackctl", "rollback"): (
        ("RollbackFailed", "revision {previous} not found in the history of {service}", 1, 0),
    ),
    ("rollbackctl", "plan"): (("NotFound", "no previous revision of {service} in {env}", 1, 0),),
}

_SERVICES: Final = (
    ("checkout", "orders"),
    ("payments", "ledger"),
    ("search", "catalog"),
    ("inventory", "stock"),
    ("auth", "identity"),
    ("notifications", "outbox"),
    ("orders-api", "orders"),
    ("web-frontend", "sessions"),
)
_ENVS: Final = ("prod", "prod", "staging", "staging", "staging", "dev")
_REGIONS: Final = ("eu-west-1", "us-east-1", "eu-central-1", "ap-southeast-2")
_FLAGS: Final = ("new-pricing", "fast-checkout", "search-v2", "batch-writes", "dark-mode", "async-notify")
_CHECKS: Final = (
    ("health", "readiness"),
    ("health", "readiness", "error_rate"),
    ("health", "readiness", "p99_latency", "error_rate"),
)
_MIGRATIONS: Final = (
    "add_index",
    "drop_legacy_column",
    "backfill_totals",
    "create_audit_table",
    "rename_status",
)
_HUMANS: Final = ("alice", "alice", "bob", "bob", "carol")
_ROLLBACK_REASONS: Final = ("verification failed", "smoke test failed", "error rate above SLO", "manual")
_EXTRA_FIELDS: Final[tuple[tuple[str, Any], ...]] = (
    ("ticket", "OPS-4412"),
    ("labels", {"team": "payments", "cost_center": "cc-210"}),
    ("x_agent", {"framework": "agentkit", "turn": 17}),
    ("retry", 1),
    ("dry_run_diff", {"added": 2, "changed": 5, "removed": 0}),
)


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """What to generate: ``records`` valid records from ``seed``, plus malformed lines at ``malformed_rate``.

    ``start`` places the first trace; ``end`` (exclusive with ``start``) instead shifts the whole log so that
    its last record completes exactly at ``end``. ``malformed_rate`` is the expected fraction of all lines
    that are malformed (0 <= rate < 1); ``malformed_tools`` limits them to the logs of those tools.
    """

    records: int
    seed: int = 0
    start: datetime | None = None
    end: datetime | None = None
    agents: int = 6
    humans: int = 2
    ci: int = 1
    malformed_rate: float = 0.0
    malformed_tools: frozenset[str] | None = None
    extra_field_rate: float = 0.02
    failure_scale: float = 1.0
    slow_rate: float = 0.004

    def __post_init__(self) -> None:
        if self.records < 0:
            raise ValueError("records must be >= 0")
        if not 0.0 <= self.malformed_rate < 1.0:
            raise ValueError("malformed_rate must be in [0, 1)")
        if self.start is not None and self.end is not None:
            raise ValueError("give start or end, not both")
        for moment in (self.start, self.end):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("start and end must be timezone-aware")
        if min(self.agents, self.humans, self.ci) < 0:
            raise ValueError("agents, humans and ci must be >= 0")
        if self.agents + self.humans + self.ci < 1:
            raise ValueError("at least one agent, human or CI lane is needed")


@dataclass(slots=True)
class GeneratorSummary:
    """What a run produced: counts, bytes, paths, the malformed kinds in line order, and how long it took."""

    records: int = 0
    malformed: int = 0
    traces: int = 0
    failed: int = 0
    bytes: int = 0
    seconds: float = 0.0
    paths: list[Path] = field(default_factory=list)
    malformed_kinds: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for stderr."""
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        where = ", ".join(str(p) for p in self.paths[:3]) + (" ..." if len(self.paths) > 3 else "")
        return (
            f"generated {self.records} records ({self.traces} traces, {self.failed} failed, "
            f"{self.malformed} malformed lines), {self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s "
            f"({rate / 1000:.0f}k records/s) -> {where}"
        )


@dataclass(frozen=True, slots=True)
class _Step:
    tool: str
    command: str
    children: tuple[_Step, ...] = ()
    overrides: tuple[tuple[str, Any], ...] = ()


_VERIFY: Final = _Step("verifyctl", "verify")
_SMOKE: Final = _Step("verifyctl", "smoke-test")
_APPLY: Final = _Step("deployctl", "apply")


@dataclass(slots=True)
class _TraceContext:
    """What the steps of one trace share: the actor and the service being changed."""

    trace_id: str
    operator: str
    host: str
    kind: str
    env: str = ""
    service: str = ""
    database: str = ""
    region: str = ""
    version: str = ""
    previous: str = ""
    replicas: int = 0
    flag: str = ""
    dsn: str = ""
    url: str = ""


@dataclass(slots=True)
class _Lane:
    """One concurrent actor: an agent runner, a human or a CI runner, running traces one after another."""

    kind: str
    next_start: int
    operator: str = ""
    host: str = ""
    session: int = 0
    session_left: int = 0
    step: int = 0


class RecordClock:
    """Turns microseconds after a base time (``base_us``, since the epoch) into contract timestamps and
    request ids, without per-record datetimes."""

    __slots__ = ("base_us", "days")

    def __init__(self, base_us: int) -> None:
        self.base_us = base_us
        self.days: dict[int, str] = {}

    def timestamp(self, rel_us: int) -> str:
        seconds, micros = divmod(self.base_us + rel_us, _US_PER_S)
        day, of_day = divmod(seconds, 86_400)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%dT")
            self.days[day] = prefix
        hours, rest = divmod(of_day, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{prefix}{hours:02d}:{minutes:02d}:{secs:02d}.{micros:06d}Z"

    def request_id(self, rel_us: int, random62: int) -> str:
        """``req-`` + a UUIDv7 like the writer's: 48-bit milliseconds, 12 bits of sub-millisecond time (where
        the writer keeps a counter), 62 random bits; so ids sort by start time."""
        moment = self.base_us + rel_us
        millis, micros = divmod(moment, _US_PER_MS)
        value = millis << 80 | 0x7 << 76 | (micros * 4096 // 1000) << 64 | 0b10 << 62 | random62
        d = f"{value:032x}"
        return f"req-{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:]}"


def _lognormal_us(rng: Random, median_ms: float, sigma: float) -> int:
    return max(50, int(median_ms * 1000.0 * 2.718281828459045 ** (sigma * rng.gauss(0.0, 1.0))))


class _Workload:
    """Generates whole traces in start order and hands out their records in end (completion) order."""

    def __init__(self, config: GeneratorConfig, base_us: int) -> None:
        self.config = config
        self.rng = Random(config.seed)
        self.fmt = RecordClock(base_us)
        self.seq = 0
        self.heap: list[tuple[int, int, dict[str, Any]]] = []
        self.traces = 0
        self.next_session = 17 + self.rng.randrange(40)
        self.next_ci_run = 8_800_000 + self.rng.randrange(100_000)
        rng = self.rng
        lanes = (
            [_Lane("agent", rng.randrange(30 * _US_PER_S)) for _ in range(config.agents)]
            + [_Lane("human", rng.randrange(120 * _US_PER_S)) for _ in range(config.humans)]
            + [_Lane("ci", rng.randrange(60 * _US_PER_S)) for _ in range(config.ci)]
        )
        self.lanes = [(lane.next_start, index, lane) for index, lane in enumerate(lanes)]
        heapq.heapify(self.lanes)
        self.ctx = _TraceContext("", "", "", "")
        self.failed_last = False
        self.last_error: tuple[str, str, int, int] = ("", "", 0, 0)

    # -- the stream ------------------------------------------------------------------------------------------

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(end_us, record)`` in completion order, exactly ``config.records`` of them."""
        remaining = self.config.records
        heap = self.heap
        while remaining > 0:
            start, index, lane = heapq.heappop(self.lanes)
            while heap and heap[0][0] <= start:
                end, _, record = heapq.heappop(heap)
                yield end, record
            steps = self._trace_length(remaining)
            trace_end = self._trace(lane, start, steps)
            remaining -= steps
            lane.next_start = trace_end + self._idle_us(lane.kind)
            heapq.heappush(self.lanes, (lane.next_start, index, lane))
        while heap:
            end, _, record = heapq.heappop(heap)
            yield end, record

    def _trace_length(self, remaining: int) -> int:
        steps = 3 + int(self.rng.random() * 18)
        if remaining - steps < 3:
            steps = remaining if remaining <= 20 else remaining - 3
        return steps

    def _idle_us(self, kind: str) -> int:
        if kind == "agent":
            return _lognormal_us(self.rng, 20_000.0, 1.0)
        if kind == "human":
            return _lognormal_us(self.rng, 480_000.0, 1.0)
        return _lognormal_us(self.rng, 90_000.0, 0.8)

    def _gap_us(self) -> int:
        kind = self.ctx.kind
        rng = self.rng
        if kind == "agent":
            if rng.random() < 0.04:
                return _lognormal_us(rng, 45_000.0, 0.5)  # a long think or a wait for a reviewer
            return _lognormal_us(rng, 1_800.0, 0.8)
        if kind == "human":
            return _lognormal_us(rng, 6_000.0, 1.0)
        return _lognormal_us(rng, 250.0, 0.5)

    # -- one trace -------------------------------------------------------------------------------------------

    def _actor(self, lane: _Lane) -> _TraceContext:
        rng = self.rng
        if lane.kind == "agent":
            if lane.session_left <= 0:
                lane.session = self.next_session
                self.next_session += 1 + int(rng.random() * 3)
                lane.session_left = 1 + int(rng.random() * 6)
                lane.step = 0
                lane.operator = f"agent-session-{lane.session}"
                lane.host = f"agent-runner-{1 + int(rng.random() * 4)}"
            lane.session_left -= 1
            lane.step += 1 + int(rng.random() * 3)
            if rng.random() < 0.85:
                trace_id = f"{lane.operator}-step-{lane.step}"
            else:
                trace_id = f"{rng.getrandbits(128):032x}"
            return _TraceContext(trace_id, lane.operator, lane.host, "agent")
        if lane.kind == "human":
            operator = _HUMANS[int(rng.random() * len(_HUMANS))]
            host = f"{operator}-laptop" if rng.random() < 0.6 else "bastion-eu-1"
            if rng.random() < 0.75:
                trace_id = f"{rng.getrandbits(128):032x}"
            else:
                trace_id = f"inc-{1000 + int(rng.random() * 9000)}-{operator}"
            return _TraceContext(trace_id, operator, host, "human")
        self.next_ci_run += 1 + int(rng.random() * 40)
        host = f"ci-runner-{1 + int(rng.random() * 8):02d}"
        if rng.random() < 0.6:
            trace_id = f"gha-{self.next_ci_run}-{1 + int(rng.random() * 1.3)}"
        else:
            trace_id = f"{rng.getrandbits(128):032x}"
        return _TraceContext(trace_id, "ci", host, "ci")

    def _new_cycle(self, ctx: _TraceContext) -> None:
        rng = self.rng
        ctx.service, ctx.database = _SERVICES[int(rng.random() * len(_SERVICES))]
        if not ctx.env or rng.random() < 0.3:
            ctx.env = _ENVS[int(rng.random() * len(_ENVS))]
            ctx.region = _REGIONS[int(rng.random() * len(_REGIONS))]
        major, minor, patch = 1 + int(rng.random() * 3), int(rng.random() * 30), int(rng.random() * 12)
        ctx.version = f"v{major}.{minor}.{patch + 1}"
        ctx.previous = f"v{major}.{minor}.{patch}"
        ctx.replicas = (2, 3, 4, 6, 8, 12)[int(rng.random() * 6)]
        ctx.flag = f"{ctx.service}.{_FLAGS[int(rng.random() * len(_FLAGS))]}"
        ctx.dsn = f"postgres://deploy:[REDACTED]@{ctx.database}-db.{ctx.env}:5432/{ctx.database}"
        ctx.url = f"https://{ctx.service}.{ctx.env}.internal/healthz"

    def _trace(self, lane: _Lane, start: int, steps: int) -> int:
        """Generate one trace of exactly ``steps`` records starting at ``start``; return its end."""
        self.traces += 1
        self.ctx = ctx = self._actor(lane)
        self._new_cycle(ctx)
        budget = steps
        now = start
        end = start
        script = self._script()
        while budget > 0:
            step = next(script)
            take = min(budget, 1 + len(step.children))
            if take < 1 + len(step.children):
                step = _Step(step.tool, step.command, step.children[: take - 1], step.overrides)
            end, failed, used = self._invoke(step, now, None)
            budget -= used
            self.failed_last = failed
            now = end + self._gap_us()
        return end

    def _script(self) -> Iterator[_Step]:
        """The agent's plan, one top-level step at a time; ``self.failed_last`` says how the last one went."""
        rng = self.rng
        ctx = self.ctx
        while True:
            for _ in range(1 + int(rng.random() * 2)):
                yield (
                    _Step("deployctl", "status"),
                    _Step("dbctl", "status"),
                    _Step("featureflags", "get"),
                    _Step("verifyctl", "health"),
                    _Step("rollbackctl", "plan"),
                )[int(rng.random() * 5)]
            failed = False
            if rng.random() < 0.35:
                if rng.random() < 0.4:
                    yield _Step("dbctl", "backup")
                    failed = self.failed_last
                if not failed and rng.random() < 0.5:
                    yield _Step("dbctl", "migrate", overrides=(("dry_run", True),))
                    failed = self.failed_last
                if not failed:
                    yield _Step("dbctl", "migrate")
                    failed = self.failed_last
            if not failed and rng.random() < 0.3:
                yield _Step("deployctl", "canary", (_VERIFY,))
                failed = self.failed_last
                if not failed:
                    yield _Step("featureflags", "set", overrides=(("percent", 25),))
                    failed = self.failed_last
            if not failed:
                children = (_APPLY, _VERIFY, _SMOKE) if rng.random() < 0.7 else (_APPLY, _VERIFY)
                yield _Step("deployctl", "deploy", children)
                failed = self.failed_last
            if not failed and rng.random() < 0.4:
                yield _Step("deployctl", "scale")
                failed = self.failed_last
            if not failed and rng.random() < 0.4:
                yield _Step("featureflags", "set", overrides=(("percent", 100),))
                failed = self.failed_last
            if not failed:
                yield (_SMOKE, _Step("deployctl", "status"))[int(rng.random() * 2)]
                failed = self.failed_last
            if failed:
                if rng.random() < 0.85:
                    revert = _Step("deployctl", "apply", overrides=(("version", ctx.previous),))
                    yield _Step("rollbackctl", "rollback", (revert, _VERIFY))
                    yield _Step("deployctl", "status")
                else:
                    yield _Step("deployctl", "logs")
                    yield _Step("deployctl", "status")
            self._new_cycle(ctx)

    def _invoke(self, step: _Step, start: int, parent: str | None) -> tuple[int, bool, int]:
        """Record one invocation (and its children) starting at ``start``; return (end, failed, records).

        A failed child fails its parent with the child's error type; the parent stops spawning children.
        """
        rng = self.rng
        config = self.config
        key = (step.tool, step.command)
        median, sigma = _DURATIONS[key]
        request_id = self.fmt.request_id(start, rng.getrandbits(62))
        used = 1
        error: tuple[str, str, int, int] | None = None
        if step.children:
            cursor = start + _lognormal_us(rng, median * 0.6, sigma)
            for child in step.children:
                child_end, child_failed, child_used = self._invoke(child, cursor, request_id)
                used += child_used
                cursor = child_end + 20_000 + int(rng.random() * 180_000)
                if child_failed:
                    child_error = self.last_error
                    message = (
                        f"{child.tool} {child.command} failed ({child_error[0]}): {{service}} not changed"
                    )
                    error = (child_error[0], message, 1, 0)
                    break
            own_end = cursor + _lognormal_us(rng, median * 0.4, sigma)
        else:
            own_end = start + _lognormal_us(rng, median, sigma)
        if error is None and rng.random() < _FAILURE_P[key] * config.failure_scale:
            choices = _ERRORS[key]
            error = choices[int(rng.random() * len(choices))]
            if error[3]:
                own_end = start + error[3] * _US_PER_MS + int(rng.random() * 900_000)
        if rng.random() < config.slow_rate and not step.children:
            # A rare slow outlier: 10 s to 4 min (log-uniform).
            own_end = start + int(10 * _US_PER_S * 24.0 ** rng.random())
        end = own_end
        params = self._params(step)
        outcome: tuple[str, str, int] | None = None
        if error is not None:
            error_type, template, code, _ = error
            self.last_error = error
            outcome = (error_type, template.format_map(_ctx_fields(self.ctx)), code)
        pid = 1200 + int(rng.random() * 98_000)
        extra = (
            _EXTRA_FIELDS[int(rng.random() * len(_EXTRA_FIELDS))]
            if rng.random() < config.extra_field_rate
            else None
        )
        record = invocation_record(
            timestamp=self.fmt.timestamp(start),
            tool=step.tool,
            command=step.command,
            params=params,
            request_id=request_id,
            trace_id=self.ctx.trace_id,
            parent_request_id=parent,
            version=TOOL_VERSIONS[step.tool],
            duration_ms=(end - start) / 1000,
            error=outcome,
            operator=self.ctx.operator,
            host=self.ctx.host,
            pid=pid,
            extra=extra,
        )
        self.seq += 1
        heapq.heappush(self.heap, (end, self.seq, record))
        return end, error is not None, used

    def _params(self, step: _Step) -> dict[str, Any]:
        ctx = self.ctx
        rng = self.rng
        tool, command = step.tool, step.command
        params: dict[str, Any]
        if tool == "deployctl":
            params = {"env": ctx.env, "service": ctx.service}
            if command == "deploy":
                params["version"] = ctx.version
                params["region"] = ctx.region
                params["replicas"] = ctx.replicas
                if rng.random() < 0.2:
                    params["strategy"] = "blue-green"
            elif command in ("apply", "canary"):
                params["version"] = ctx.version
                if command == "canary":
                    params["weight"] = (5, 10, 20)[int(rng.random() * 3)]
            elif command == "scale":
                params["replicas"] = ctx.replicas * 2
            elif command == "logs":
                params["tail"] = 200
        elif tool == "verifyctl":
            params = {"env": ctx.env, "service": ctx.service}
            if command == "verify":
                params["version"] = ctx.version
                if rng.random() < 0.3:
                    params["checks"] = list(_CHECKS[int(rng.random() * 3)])
            elif command == "smoke-test":
                params["url"] = ctx.url
        elif tool == "dbctl":
            params = {"env": ctx.env, "db": ctx.database}
            if command == "migrate":
                params["target"] = f"2026111{int(rng.random() * 9)}_{_MIGRATIONS[int(rng.random() * 5)]}"
                if rng.random() < 0.5:
                    params["dsn"] = ctx.dsn
        elif tool == "featureflags":
            params = {"env": ctx.env, "flag": ctx.flag}
            if command == "set":
                params["percent"] = 50
                if rng.random() < 0.2:
                    params["api_token"] = "[REDACTED]"
        else:
            params = {"env": ctx.env, "service": ctx.service}
            if command == "rollback":
                params["to_version"] = ctx.previous
                params["reason"] = _ROLLBACK_REASONS[int(rng.random() * len(_ROLLBACK_REASONS))]
        for name, value in step.overrides:
            params[name] = value
        return params


def invocation_record(
    *,
    timestamp: str,
    tool: str,
    command: str,
    params: dict[str, Any],
    request_id: str,
    trace_id: str,
    parent_request_id: str | None,
    version: str,
    duration_ms: float,
    error: tuple[str, str, int] | None,
    operator: str,
    host: str,
    pid: int,
    extra: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of one invocation with its fields in the writer's order (``auditview.writer.processors``):
    ``error`` is ``(type, message, exit code)`` for a failure, ``extra`` one field outside the contract."""
    record: dict[str, Any] = {
        "timestamp": timestamp,
        "tool": tool,
        "command": command,
        "params": params,
        "request_id": request_id,
        "trace_id": trace_id,
    }
    if parent_request_id is not None:
        record["parent_request_id"] = parent_request_id
    record["version"] = version
    record["exit_code"] = 0 if error is None else error[2]
    record["ok"] = error is None
    record["duration_ms"] = duration_ms
    if error is not None:
        record["error"] = {"type": error[0], "message": error[1]}
    record["operator"] = operator
    record["host"] = host
    record["pid"] = pid
    record["schema_version"] = SCHEMA_VERSION
    if extra is not None:
        record[extra[0]] = extra[1]
    return record


def _ctx_fields(ctx: _TraceContext) -> dict[str, Any]:
    return {
        "service": ctx.service,
        "env": ctx.env,
        "version": ctx.version,
        "previous": ctx.previous,
        "region": ctx.region,
        "replicas": ctx.replicas,
        "database": ctx.database,
        "flag": ctx.flag,
    }


# -- malformed lines ----------------------------------------------------------------------------------------


def _malformed_line(kind: str, record: dict[str, Any], rng: Random) -> bytes:
    """A line of ``kind``, derived from a plausible record of another invocation, that readers must reject."""
    bad = dict(record)
    bad["request_id"] = record["request_id"][:-6] + "".join(
        "0123456789abcdef"[int(rng.random() * 16)] for _ in range(6)
    )
    line = orjson.dumps(bad)
    if kind == "bad-json":
        # A tool that printed a Python dict instead of JSON.
        return repr(bad).encode() + b"\n"
    if kind == "cut-line":
        # A writer killed mid-record: the next append starts a new line after the fragment.
        return line[: 20 + int(rng.random() * (len(line) - 40))] + b"\n"
    if kind == "non-object":
        # A batching bug: a record wrapped in an array.
        return b"[" + line + b"]\n"
    if kind == "missing-field":
        del bad[("trace_id", "request_id", "operator", "exit_code")[int(rng.random() * 4)]]
        return orjson.dumps(bad) + b"\n"
    if kind == "wrong-type":
        name, value = (("exit_code", "0"), ("duration_ms", "1.2s"), ("params", "--env prod"))[
            int(rng.random() * 3)
        ]
        bad[name] = value
        return orjson.dumps(bad) + b"\n"
    if kind == "bad-timestamp":
        moment = parse_timestamp(record["timestamp"])
        bad["timestamp"] = moment.strftime("%d/%m/%Y %H:%M:%S")
        return orjson.dumps(bad) + b"\n"
    if kind == "invalid-utf8":
        # Latin-1 text pasted into a param: not UTF-8.
        bad["operator"] = "jos\u00e9"
        return orjson.dumps(bad).replace("\u00e9".encode(), b"\xe9") + b"\n"
    raise ValueError(f"unknown malformed kind {kind!r}")


# -- the public API -----------------------------------------------------------------------------------------


def _base_us(config: GeneratorConfig) -> int:
    if config.end is None:
        start = config.start or DEFAULT_START
        return int(start.timestamp()) * _US_PER_S + start.microsecond
    last_end = 0
    for end_us, _ in _Workload(config, 0).records():
        last_end = end_us
    end = config.end
    return int(end.timestamp()) * _US_PER_S + end.microsecond - last_end


def generate_lines(
    config: GeneratorConfig, summary: GeneratorSummary | None = None
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(tool, line)`` in file order: every line ends with ``\\n``; malformed lines are mixed in.

    ``summary`` (when given) is updated with the counts as lines are produced.
    """
    workload = _Workload(config, _base_us(config))
    bad_rng = Random(f"{config.seed}:malformed")
    rate = config.malformed_rate
    only = config.malformed_tools
    kinds = MALFORMED_KINDS
    kind_index = int(bad_rng.random() * len(kinds))
    dumps = orjson.dumps
    for _, record in workload.records():
        tool = record["tool"]
        if rate and (only is None or tool in only):
            while bad_rng.random() < rate:
                line = _malformed_line(kinds[kind_index % len(kinds)], record, bad_rng)
                kind_index += 1
                if summary is not None:
                    summary.malformed += 1
                    summary.malformed_kinds.append(kinds[(kind_index - 1) % len(kinds)])
                yield tool, line
        if summary is not None:
            summary.records += 1
            if record["exit_code"]:
                summary.failed += 1
        yield tool, dumps(record) + b"\n"
    if summary is not None:
        summary.traces = workload.traces


def generate_records(
    n: int,
    seed: int = 0,
    start: datetime | None = None,
    *,
    end: datetime | None = None,
    malformed_rate: float = 0.0,
) -> Iterator[bytes]:
    """Yield the lines of one interleaved log of ``n`` records, plus malformed lines at ``malformed_rate``."""
    config = GeneratorConfig(records=n, seed=seed, start=start, end=end, malformed_rate=malformed_rate)
    for _, line in generate_lines(config):
        yield line


def write_log(path: Path | str, config: GeneratorConfig) -> GeneratorSummary:
    """Write one file with all tools interleaved (``-`` means stdout); return the summary."""
    summary = GeneratorSummary()
    began = time.perf_counter()
    if str(path) == "-":
        _write_lines(sys.stdout.buffer, config, summary)
        sys.stdout.buffer.flush()
    else:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            _write_lines(out, config, summary)
        summary.paths.append(target)
    summary.seconds = time.perf_counter() - began
    return summary


def _write_lines(out: BinaryIO, config: GeneratorConfig, summary: GeneratorSummary) -> None:
    batch: list[bytes] = []
    written = 0
    for _, line in generate_lines(config, summary):
        batch.append(line)
        if len(batch) >= 8192:
            chunk = b"".join(batch)
            out.write(chunk)
            written += len(chunk)
            batch.clear()
    chunk = b"".join(batch)
    out.write(chunk)
    summary.bytes = written + len(chunk)


class _RotatingLog:
    """One tool's ``audit.jsonl`` rotated by size: ``.1`` plain, ``.N.gz`` (N >= ``gzip_from``) compressed."""

    def __init__(self, path: Path, rotate_bytes: int | None, keep: int | None, gzip_from: int) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes
        self.keep = keep
        self.gzip_from = gzip_from
        self.generations = 0
        self.size = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.out: BinaryIO = path.open("wb")

    def sibling(self, generation: int) -> Path:
        suffix = f".{generation}.gz" if generation >= self.gzip_from else f".{generation}"
        return self.path.with_name(self.path.name + suffix)

    def write(self, line: bytes) -> None:
        if self.rotate_bytes is not None and self.size and self.size + len(line) > self.rotate_bytes:
            self.rotate()
        self.out.write(line)
        self.size += len(line)

    def rotate(self) -> None:
        self.out.close()
        if self.keep is not None and self.generations >= self.keep:
            self.sibling(self.generations).unlink()
            self.generations -= 1
        for generation in range(self.generations, 0, -1):
            source, target = self.sibling(generation), self.sibling(generation + 1)
            if generation + 1 == self.gzip_from:
                _gzip_file(source, target)
                source.unlink()
            else:
                source.rename(target)
        if self.gzip_from <= 1:
            _gzip_file(self.path, self.sibling(1))
            self.path.unlink()
        else:
            self.path.rename(self.sibling(1))
        self.generations += 1
        self.size = 0
        self.out = self.path.open("wb")

    def paths(self) -> list[Path]:
        return [self.sibling(g) for g in range(self.generations, 0, -1)] + [self.path]

    def close(self) -> None:
        self.out.close()


def _gzip_file(source: Path, target: Path) -> None:
    """Compress deterministically: no file name and mtime 0 in the header."""
    with (
        source.open("rb") as raw_in,
        target.open("wb") as raw_out,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw_out, compresslevel=6, mtime=0) as packed,
    ):
        while chunk := raw_in.read(1 << 20):
            packed.write(chunk)


def write_log_dir(
    directory: Path | str,
    config: GeneratorConfig,
    *,
    rotate_bytes: int | Mapping[str, int] | None = None,
    keep: int | None = None,
    gzip_from: int = 2,
    then: Sequence[Mapping[str, Any]] = (),
) -> GeneratorSummary:
    """Write ``DIR/<tool>/audit.jsonl`` per tool, rotated by size when ``rotate_bytes`` says so.

    ``rotate_bytes`` is one size for every tool or a size per tool name. Rotated siblings are
    ``audit.jsonl.1`` and, from generation ``gzip_from`` on, ``audit.jsonl.N.gz``; ``keep`` (default: all)
    bounds how many rotated files are kept, as a writer's rotation would. ``then`` are records (in
    completion order) appended after the workload's, through the same rotation, and counted in the summary:
    scripted traces that run after the workload (``auditview.demo.incidents``).
    """
    root = Path(directory)
    summary = GeneratorSummary()
    began = time.perf_counter()
    logs: dict[str, _RotatingLog] = {}
    written = 0
    for tool, line in itertools.chain(generate_lines(config, summary), _scripted_lines(then, summary)):
        log = logs.get(tool)
        if log is None:
            size = rotate_bytes.get(tool) if isinstance(rotate_bytes, Mapping) else rotate_bytes
            log = logs[tool] = _RotatingLog(root / tool / "audit.jsonl", size, keep, gzip_from)
        log.write(line)
        written += len(line)
    for tool in sorted(logs):
        logs[tool].close()
        summary.paths.extend(logs[tool].paths())
    summary.bytes = written
    summary.seconds = time.perf_counter() - began
    return summary


def _scripted_lines(
    records: Sequence[Mapping[str, Any]], summary: GeneratorSummary
) -> Iterator[tuple[str, bytes]]:
    """``(tool, line)`` of each of ``records``, counted in ``summary`` (records, failed, traces)."""
    summary.traces += len({record["trace_id"] for record in records})
    for record in records:
        summary.records += 1
        summary.failed += bool(record["exit_code"])
        yield record["tool"], orjson.dumps(record) + b"\n"


# -- the command line ---------------------------------------------------------------------------------------


def _parse_when(text: str) -> datetime:
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        return parse_timestamp(text)
    except ContractError:
        pass
    from auditview.text.timeparse import TimeParseError, parse_when  # pendulum: only for relative forms

    try:
        return parse_when(text)
    except TimeParseError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parse_size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    cleaned = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        if cleaned and cleaned[-1] in units:
            return int(float(cleaned[:-1]) * units[cleaned[-1]])
        return int(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r}; expected e.g. 65536, 64k, 10M") from None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad rate {text!r}; expected a number in [0, 1)") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"bad rate {text!r}; expected a number in [0, 1)")
    return value


def build_parser(prog: str = "python -m auditview.demo generate") -> argparse.ArgumentParser:
    """The ``generate`` command's arguments (the demo tool mounts the same parser)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write realistic multi-tool audit logs (deterministic for a seed).",
    )
    parser.add_argument(
        "--records", "-n", type=int, default=10_000, help="valid records to write (default 10000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same bytes")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="PATH", help="one file with all tools interleaved (- for stdout)")
    target.add_argument("--out-dir", metavar="DIR", help="one DIR/<tool>/audit.jsonl per tool")
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--start",
        type=_parse_when,
        metavar="WHEN",
        help=f"when the first trace starts (default {DEFAULT_START.isoformat()})",
    )
    when.add_argument(
        "--end",
        type=_parse_when,
        metavar="WHEN",
        help="shift the log so that its last record completes at WHEN (e.g. now)",
    )
    parser.add_argument("--agents", type=int, default=6, help="concurrent agent sessions (default 6)")
    parser.add_argument("--humans", type=int, default=2, help="concurrent human operators (default 2)")
    parser.add_argument("--ci", type=int, default=1, help="concurrent CI runners (default 1)")
    parser.add_argument(
        "--malformed-rate", type=_rate, default=0.0, metavar="R", help="fraction of lines that are malformed"
    )
    parser.add_argument(
        "--failure-scale", type=float, default=1.0, metavar="X", help="multiply failure probabilities by X"
    )
    parser.add_argument(
        "--rotate-bytes",
        type=_parse_size,
        metavar="SIZE",
        help="with --out-dir: rotate each tool's log past SIZE (audit.jsonl.1, audit.jsonl.2.gz, ...)",
    )
    parser.add_argument("--keep", type=int, help="with --rotate-bytes: rotated files to keep (default all)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print no summary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator; print a one-line summary on stderr. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.records < 0:
        parser.error("--records must be >= 0")
    try:
        config = GeneratorConfig(
            records=args.records,
            seed=args.seed,
            start=args.start,
            end=args.end,
            agents=args.agents,
            humans=args.humans,
            ci=args.ci,
            malformed_rate=args.malformed_rate,
            failure_scale=args.failure_scale,
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        if args.out is not None:
            summary = write_log(args.out, config)
        else:
            summary = write_log_dir(args.out_dir, config, rotate_bytes=args.rotate_bytes, keep=args.keep)
    except OSError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(summary.describe(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

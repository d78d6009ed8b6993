"""The incident traces of ``sample_logs/``: short scripted stories for the findings and ``auditview diff``.

Owns what happens in each incident (who runs which steps of which tools, with which params, for how long and
how each step ends) and turns it into records in the generator's shape (``invocation_record``, with
timestamps and UUIDv7-like request ids from a ``RecordClock``), in completion order, as a writer appends
them. The random workload (``auditview.demo.generate``) rarely or never makes these cases: an agent's retry
loop, a flapping deploy, a rollback right after a successful verify, a reused request id, and a pair of
similar runs of one operator where the later one fails. Durations and think times vary a little from a
seed; whether a step fails never does. Standard library only: no polars and no UI library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from random import Random
from typing import Any, Final

from auditview.demo.generate import TOOL_VERSIONS, RecordClock, invocation_record

__all__ = ["DIFF_EXAMPLE", "INCIDENTS", "Call", "Incident", "incident_records"]

_US_PER_MS: Final = 1_000
#: How much a scripted duration or think time varies (a fraction of it, either way).
_JITTER: Final = 0.1
#: The usual time between two children of one parent.
_CHILD_GAP_MS: Final = 120.0
#: The part of a parent's own work done before its first child starts (the rest after its last child).
_LEAD: Final = 0.6

Error = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Call:
    """One scripted invocation: the tool, command and params, the time of its own work (``ms``; a parent
    also spans its children, run one after another inside it), the time before it (``gap_ms``, from the end
    of the step before it at its level; ignored for a first step or child), and ``error`` as ``(type,
    message, exit code)`` when it fails. ``same_request_id`` logs it with the request id of the top-level
    step before it."""

    tool: str
    command: str
    params: Mapping[str, Any]
    ms: float
    gap_ms: float = 1_500.0
    error: Error | None = None
    children: tuple[Call, ...] = ()
    same_request_id: bool = False


@dataclass(frozen=True, slots=True)
class Incident:
    """One trace: its id, who ran it where, when it starts (seconds after the incidents' start), its
    top-level steps, the tool versions that differ from ``TOOL_VERSIONS``, and what it shows (one line)."""

    trace_id: str
    operator: str
    host: str
    at_s: float
    calls: tuple[Call, ...]
    shows: str
    versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Service:
    """The params of the demo tools' calls about one service, as the generator writes them."""

    env: str
    service: str
    region: str
    db: str

    def _base(self) -> dict[str, Any]:
        return {"env": self.env, "service": self.service}

    def status(self, *, gap_ms: float = 1_500.0) -> Call:
        return Call("deployctl", "status", self._base(), 140.0, gap_ms)

    def deploy(
        self,
        version: str,
        replicas: int,
        children: tuple[Call, ...],
        *,
        ms: float = 700.0,
        gap_ms: float = 1_500.0,
        error: Error | None = None,
    ) -> Call:
        params = {**self._base(), "version": version, "region": self.region, "replicas": replicas}
        return Call("deployctl", "deploy", params, ms, gap_ms, error, children)

    def apply(self, version: str, *, gap_ms: float = _CHILD_GAP_MS, error: Error | None = None) -> Call:
        return Call("deployctl", "apply", {**self._base(), "version": version}, 650.0, gap_ms, error)

    def verify(self, version: str, *, gap_ms: float = _CHILD_GAP_MS, error: Error | None = None) -> Call:
        return Call("verifyctl", "verify", {**self._base(), "version": version}, 480.0, gap_ms, error)

    def smoke_test(self, *, error: Error | None = None) -> Call:
        url = f"https://{self.service}.{self.env}.internal/healthz"
        return Call("verifyctl", "smoke-test", {**self._base(), "url": url}, 850.0, _CHILD_GAP_MS, error)

    def health(self) -> Call:
        return Call("verifyctl", "health", self._base(), 170.0)

    def rollback(self, to_version: str, reason: str, *, gap_ms: float = 1_500.0) -> Call:
        params = {**self._base(), "to_version": to_version, "reason": reason}
        children = (self.apply(to_version), self.verify(to_version))
        return Call("rollbackctl", "rollback", params, 800.0, gap_ms, children=children)

    def migrate(self, target: str, *, ms: float, gap_ms: float) -> Call:
        return Call("dbctl", "migrate", {"env": self.env, "db": self.db, "target": target}, ms, gap_ms)

    def flag(
        self, name: str, percent: int | None = None, *, gap_ms: float = 1_500.0, same_request_id: bool = False
    ) -> Call:
        """``featureflags get`` of the service's flag ``name``, or ``set`` to ``percent``."""
        params: dict[str, Any] = {"env": self.env, "flag": f"{self.service}.{name}"}
        if percent is None:
            return Call("featureflags", "get", params, 42.0, gap_ms)
        params["percent"] = percent
        return Call("featureflags", "set", params, 78.0, gap_ms, same_request_id=same_request_id)


def _failed_child(child: Call) -> Error:
    """The error of a parent whose ``child`` failed, as the generator words it."""
    assert child.error is not None
    kind = child.error[0]
    return (kind, f"{child.tool} {child.command} failed ({kind}): {child.params['service']} not changed", 1)


_CHECKOUT: Final = _Service("prod", "checkout", "eu-west-1", "orders")
_PAYMENTS: Final = _Service("prod", "payments", "us-east-1", "ledger")
_SEARCH: Final = _Service("staging", "search", "eu-central-1", "catalog")
_AUTH: Final = _Service("prod", "auth", "eu-west-1", "identity")
_INVENTORY: Final = _Service("staging", "inventory", "ap-southeast-2", "stock")

_LOCK_HELD: Final = "another deploy of payments to prod holds the lock (since {age})"
_SMOKE_FAILED: Final = _CHECKOUT.smoke_test(
    error=("SmokeTestFailed", "POST /api/v1/checkout/orders returned 502 (expected 201)", 1)
)
_SEARCH_VERIFY_FAILED: Final = _SEARCH.verify(
    "v1.13.0", error=("VerificationFailed", "3 of 12 checks failed: readiness, p99_latency, error_rate", 3)
)
_SEARCH_DEPLOY: Final = _SEARCH.deploy(
    "v1.13.0",
    3,
    (_SEARCH.apply("v1.13.0"), _SEARCH_VERIFY_FAILED),
    error=_failed_child(_SEARCH_VERIFY_FAILED),
)
_MIGRATION: Final = "20261120_add_index"

#: The incidents, in start order (``at_s`` after the start the samples give them).
INCIDENTS: Final = (
    Incident(
        "incident-run-ok",
        "agent-session-70",
        "agent-runner-2",
        0.0,
        (
            _CHECKOUT.status(),
            _CHECKOUT.migrate(_MIGRATION, ms=1_300.0, gap_ms=1_800.0),
            _CHECKOUT.deploy(
                "v2.4.0",
                4,
                (_CHECKOUT.apply("v2.4.0"), _CHECKOUT.verify("v2.4.0"), _CHECKOUT.smoke_test()),
                gap_ms=2_100.0,
            ),
            _CHECKOUT.flag("fast-checkout", 100, gap_ms=1_600.0),
            _CHECKOUT.status(gap_ms=1_200.0),
        ),
        "an agent's deploy of checkout that works; `incident-run-fail` is its next run",
    ),
    Incident(
        "incident-retry",
        "agent-session-71",
        "agent-runner-3",
        90.0,
        (
            _PAYMENTS.status(),
            *(
                _PAYMENTS.deploy(
                    "v3.1.2", 6, (), ms=400.0, gap_ms=gap, error=("LockHeld", _LOCK_HELD.format(age=age), 75)
                )
                for gap, age in ((1_900.0, "4m12s"), (5_000.0, "4m18s"), (10_000.0, "4m29s"))
            ),
            _PAYMENTS.deploy(
                "v3.1.2",
                6,
                (_PAYMENTS.apply("v3.1.2"), _PAYMENTS.verify("v3.1.2"), _PAYMENTS.smoke_test()),
                gap_ms=20_000.0,
            ),
            _PAYMENTS.status(),
        ),
        "an agent retries the same deploy (same params) three times on a held lock; the fourth works",
    ),
    Incident(
        "incident-flap",
        "bob",
        "bastion-eu-1",
        180.0,
        (
            _SEARCH_DEPLOY,
            _SEARCH.rollback("v1.12.9", "verification failed", gap_ms=9_000.0),
            replace(_SEARCH_DEPLOY, gap_ms=24_000.0),
            _SEARCH.rollback("v1.12.9", "verification failed", gap_ms=7_000.0),
            _SEARCH.status(gap_ms=12_000.0),
        ),
        "a flapping deploy: deploy, rollback, deploy, rollback of search in staging",
    ),
    Incident(
        "incident-rollback",
        "alice",
        "alice-laptop",
        360.0,
        (
            _AUTH.deploy("v1.4.3", 4, (_AUTH.apply("v1.4.3"), _AUTH.verify("v1.4.3"), _AUTH.smoke_test())),
            _AUTH.verify("v1.4.3", gap_ms=6_000.0),
            _AUTH.rollback("v1.4.2", "manual", gap_ms=15_000.0),
            _AUTH.status(),
        ),
        "a rollback right after a successful verify",
    ),
    Incident(
        "incident-reused-id",
        "ci",
        "ci-runner-04",
        480.0,
        (
            _INVENTORY.flag("batch-writes"),
            _INVENTORY.flag("batch-writes", 50),
            _INVENTORY.flag("batch-writes", 50, gap_ms=3_000.0, same_request_id=True),
            _INVENTORY.health(),
        ),
        "a CI step re-run with the request id of its first run: one request id on two records",
    ),
    Incident(
        "incident-run-fail",
        "agent-session-70",
        "agent-runner-2",
        600.0,
        (
            _CHECKOUT.status(),
            _CHECKOUT.migrate(_MIGRATION, ms=41_000.0, gap_ms=1_800.0),
            _CHECKOUT.deploy(
                "v2.5.0",
                6,
                (
                    _CHECKOUT.apply(
                        "v2.5.0",
                        error=("ImagePullBackOff", "image registry.internal/checkout:v2.5.0 not found", 1),
                    ),
                    _CHECKOUT.apply("v2.5.0", gap_ms=4_000.0),
                    _CHECKOUT.verify("v2.5.0"),
                    _SMOKE_FAILED,
                ),
                gap_ms=2_100.0,
                error=_failed_child(_SMOKE_FAILED),
            ),
            _CHECKOUT.rollback("v2.4.0", "smoke test failed"),
            _CHECKOUT.status(gap_ms=1_200.0),
        ),
        "the same agent's next deploy of checkout fails: a slower migrate, a new version and replica count,"
        " a newer deployctl, a retried apply and a failed smoke test, then a rollback",
        versions={"deployctl": "3.5.0"},
    ),
)


#: The failing run of the pair, to show ``auditview diff B --previous`` on: its previous similar run is the
#: working one (the same first step by the same operator).
DIFF_EXAMPLE: Final = "incident-run-fail"


def _jittered_us(ms: float, rng: Random) -> int:
    return round(ms * _US_PER_MS * (1.0 + _JITTER * (2.0 * rng.random() - 1.0)))


class _Recorder:
    """Lays out the calls of the incidents in time and records them, collecting (end, order, record)."""

    def __init__(self, start: datetime, seed: int | str) -> None:
        moment = start.astimezone(UTC)
        self.clock = RecordClock(int(moment.timestamp()) * 1_000_000 + moment.microsecond)
        self.rng = Random(seed)
        self.records: list[tuple[int, int, dict[str, Any]]] = []

    def incident(self, incident: Incident) -> None:
        now = round(incident.at_s * 1_000_000) + self.rng.randrange(1_000_000)
        previous: str | None = None
        for number, call in enumerate(incident.calls):
            if number:
                now += _jittered_us(call.gap_ms, self.rng)
            reuse = previous if call.same_request_id else None
            now, previous = self.call(incident, call, now, None, reuse)

    def call(
        self, incident: Incident, call: Call, start: int, parent: str | None, reuse: str | None
    ) -> tuple[int, str]:
        """Record ``call`` (and its children) starting at ``start``; return its end and its request id."""
        rng = self.rng
        request_id = reuse or self.clock.request_id(start, rng.getrandbits(62))
        if call.children:
            cursor = start + _jittered_us(call.ms * _LEAD, rng)
            for number, child in enumerate(call.children):
                if number:
                    cursor += _jittered_us(child.gap_ms, rng)
                cursor, _ = self.call(incident, child, cursor, request_id, None)
            end = cursor + _jittered_us(call.ms * (1.0 - _LEAD), rng)
        else:
            end = start + _jittered_us(call.ms, rng)
        record = invocation_record(
            timestamp=self.clock.timestamp(start),
            tool=call.tool,
            command=call.command,
            params=dict(call.params),
            request_id=request_id,
            trace_id=incident.trace_id,
            parent_request_id=parent,
            version=incident.versions.get(call.tool, TOOL_VERSIONS[call.tool]),
            duration_ms=(end - start) / _US_PER_MS,
            error=call.error,
            operator=incident.operator,
            host=incident.host,
            pid=1200 + int(rng.random() * 98_000),
        )
        self.records.append((end, len(self.records), record))
        return end, request_id


def incident_records(start: datetime, seed: int | str) -> list[dict[str, Any]]:
    """The records of ``INCIDENTS`` from ``start`` (timezone-aware) on, in completion order; ``seed`` varies
    the durations, think times, request ids and process ids."""
    recorder = _Recorder(start, seed)
    for incident in INCIDENTS:
        recorder.incident(incident)
    return [record for _, _, record in sorted(recorder.records, key=lambda item: item[:2])]

"""Findings about agent behaviour: detectors over each trace and over all the loaded records.

Owns ``detect_findings`` (one row per finding: ``FINDINGS_SCHEMA``), ``FindingThresholds`` (every threshold
and word list, with defaults), ``group_findings`` (the findings of each trace as one list, for the CLI) and
the detector names (``DETECTORS``) with their severity. A finding has a ``name``, a ``severity``
(``error`` > ``warning`` > ``info``), the ``steps`` involved (request id and place: ``file_id``, byte
``offset``) and a one-line ``reason``. The detectors (also in the README, "Findings about agent behaviour"):

- **retry-loop** (error): the same tool, command and params (the JSON text as logged) run ``retry_runs``
  (3) or more times in a trace, each run but the last having failed: among the runs of that exact call, in
  start order, a chain of failures, ended by a success or not (other steps may run in between).
- **flapping** (error): deploy → rollback → deploy of the same target in a trace: two deploys with the same
  tool, command and target, and between them (by start) a rollback whose target covers theirs. A step's
  *target* is its params minus the keys of ``target_ignore_keys`` (versions, reasons, replica counts...);
  a rollback's target covers a deploy's when each of its keys has the same value in the deploy's (so
  ``{"env": "prod", "service": "api"}`` covers ``{"env": "prod", "service": "api", "region": "eu-1"}``).
  The rollback may come from another tool. All the cycles of one target make one finding.
- **rollback-after-verify** (warning): a rollback right after a successful verify: of the deploy, verify
  and rollback steps of the trace that ended by the time the rollback started, the last to end is a verify
  with exit code 0, and no step of the trace failed between that verify's end and the rollback's start.
- **deploy-without-verify** (warning): a deploy that succeeded (exit code 0) with no verify step starting
  at or after its start in the trace (its own children count: a deploy that runs its verify is verified).
- **long-think-gap** (info): a gap of the trace's timeline (``auditview.core.timeline``: time when no step was
  running) longer than ``max(gap_min_ms, gap_median_factor × the median of the trace's gaps)`` (30 s,
  5×); with the median over all its gaps, a trace needs three gaps or more for one to stand out.
- **duplicate-request-id** (warning): a request id that more than one loaded record carries (a re-run that
  reused an id, or a cached or earlier result logged again); one finding per trace and id, listing the
  trace's records with it.
- **new-error-code** (warning): a failed step whose exit code differs from the one of the latest earlier
  failure of the same tool and command across all the loaded records (orphans included). Comparing with
  the last run whatever its outcome would report nearly every failure; the first failure of a tool and
  command has nothing to compare with and is not reported.

Deploy, verify and rollback steps are told by the words of their command (split at anything but letters
and digits, lower-cased): a rollback word wins over a verify word, which wins over a deploy word. Records
without a usable trace id (orphans) carry no findings. The trace-level detectors see the whole of each
trace in the frame given; the cross-record ones (duplicate-request-id, new-error-code) see all of it.

Everything but flapping and rollback-after-verify is vectorised with polars; those two walk, in Python,
only the deploy, verify, rollback (and failed) steps of the traces where they can hold (a rollback between
two deploys of one tool and command; a rollback whose latest-ended step is a successful verify). This module
must not import a UI library and never reads files.

Only retry-loop and flapping read ``params``, and only of a few candidate steps (the runs of calls with
enough failures; the deploys and rollbacks of the traces that may flap). A frame without a ``params`` column
can come with ``params_of`` (``ParamsOf``), which gives the params text of just those rows from their places:
a one-shot caller then need not load ``params`` for every record.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import orjson
import polars as pl

from auditview.core.traces import failed_expr, has_trace_id
from auditview.text.humanize import format_duration

__all__ = [
    "DETECTORS",
    "FINDINGS_SCHEMA",
    "FINDING_COLUMNS",
    "FINDING_COLUMNS_WITHOUT_PARAMS",
    "SEVERITIES",
    "SEVERITY",
    "STEP_DTYPE",
    "FindingThresholds",
    "ParamsOf",
    "detect_findings",
    "empty_findings",
    "group_findings",
    "step_kind",
]

#: The detectors, in the order their findings are listed for a step at the same time.
DETECTORS: Final = (
    "retry-loop",
    "flapping",
    "rollback-after-verify",
    "deploy-without-verify",
    "long-think-gap",
    "duplicate-request-id",
    "new-error-code",
)
#: Severities, most severe first.
SEVERITIES: Final = ("error", "warning", "info")
SEVERITY: Final[dict[str, str]] = {
    "retry-loop": "error",
    "flapping": "error",
    "rollback-after-verify": "warning",
    "deploy-without-verify": "warning",
    "long-think-gap": "info",
    "duplicate-request-id": "warning",
    "new-error-code": "warning",
}

#: A step involved in a finding: its request id and its place.
STEP_DTYPE: Final = pl.Struct({"request_id": pl.String(), "file_id": pl.UInt32(), "offset": pl.Int64()})
FINDINGS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "trace_id": pl.String(),
    "name": pl.String(),
    "severity": pl.String(),
    #: The start of the first step involved (findings are listed by it).
    "ts": pl.Datetime("us", "UTC"),
    "reason": pl.String(),
    "steps": pl.List(STEP_DTYPE),
}
#: Index columns the detectors read (plus the location columns ``file_id`` and ``offset``).
FINDING_COLUMNS: Final = frozenset(
    {"trace_id", "ts", "duration_ms", "exit_code", "tool", "command", "params", "request_id"}
)
#: ``FINDING_COLUMNS`` but ``params``: what the detectors read when ``params_of`` gives the few params needed.
FINDING_COLUMNS_WITHOUT_PARAMS: Final = FINDING_COLUMNS - {"params"}
#: The params text (as the index's ``params`` column holds it) of each row of a frame of places (``file_id``,
#: ``offset``, ``length``), in order.
ParamsOf = Callable[[pl.DataFrame], pl.Series]

_WORD_SPLIT: Final = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class FindingThresholds:
    """Thresholds and word lists of the detectors (see the module docstring for what each one means)."""

    #: retry-loop: runs of the same call (each but the last failed) that make a loop; at least 2.
    retry_runs: int = 3
    #: long-think-gap: a gap is long when over ``max(gap_min_ms, gap_median_factor * median gap)``.
    gap_min_ms: float = 30_000.0
    gap_median_factor: float = 5.0
    #: Command words that make a step a deploy, a verify, a rollback.
    deploy_words: tuple[str, ...] = ("deploy", "release", "rollout", "promote")
    verify_words: tuple[str, ...] = ("verify", "check", "healthcheck", "health", "smoke", "test", "validate")
    rollback_words: tuple[str, ...] = ("rollback", "revert", "undo", "downgrade")
    #: Params keys that are not part of a step's target (flapping).
    target_ignore_keys: tuple[str, ...] = (
        "version", "to_version", "from_version", "previous_version", "target_version", "image", "tag",
        "sha", "commit", "revision", "build", "artifact", "reason", "message", "replicas", "strategy",
        "dry_run", "force", "timeout", "wait",
    )  # fmt: skip
    #: The detectors to run.
    detectors: tuple[str, ...] = DETECTORS

    def __post_init__(self) -> None:
        if self.retry_runs < 2:
            raise ValueError(f"retry_runs must be at least 2, not {self.retry_runs}")
        if self.gap_min_ms < 0 or self.gap_median_factor < 0:
            raise ValueError("gap_min_ms and gap_median_factor must not be negative")
        unknown = sorted(set(self.detectors) - set(DETECTORS))
        if unknown:
            raise ValueError(f"unknown detector(s): {', '.join(unknown)}; known: {', '.join(DETECTORS)}")

    def target(self, params: str | None) -> dict[str, Any] | str | None:
        """The target of a step with ``params`` (JSON text): the object minus ``target_ignore_keys``; a
        params text that is not an object is its own (opaque) target; ``None`` when there are no params."""
        if params is None:
            return None
        try:
            decoded = orjson.loads(params)
        except orjson.JSONDecodeError:
            return params
        if not isinstance(decoded, dict):
            return params
        ignored = set(self.target_ignore_keys)
        return {key: value for key, value in decoded.items() if key not in ignored}


def step_kind(command: str | None, thresholds: FindingThresholds | None = None) -> str | None:
    """``"rollback"``, ``"verify"``, ``"deploy"`` or ``None`` for a command, by its words (rollback words
    win over verify words, which win over deploy words)."""
    if not command:
        return None
    th = thresholds or FindingThresholds()
    words = set(_WORD_SPLIT.split(command.lower()))
    for kind, vocabulary in (
        ("rollback", th.rollback_words),
        ("verify", th.verify_words),
        ("deploy", th.deploy_words),
    ):
        if words & {word.lower() for word in vocabulary}:
            return kind
    return None


# ----------------------------------------------------------------------------------------------------
# The detectors

#: The step of a row of ``_base``, as a ``STEP_DTYPE`` value.
_STEP: Final = pl.struct(pl.col("request_id"), pl.col("file_id"), pl.col("offset"))
_OUT: Final = ("trace_id", "name", "ts", "reason", "steps")


def _column(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name).cast(dtype)
    return pl.lit(None, dtype=dtype)


def _base(frame: pl.DataFrame, thresholds: FindingThresholds, *, locate: bool = False) -> pl.DataFrame:
    """The columns the detectors read, one row per record (``row``: its place in ``frame``) with ``kind``,
    ``usable`` (a usable trace id), ``failed`` and ``trace`` (a UInt32 code per trace id: grouping by it is
    much cheaper than by the text), in start order (ties: frame order). ``locate``: without ``params`` but
    with ``length``, for ``params_of``."""
    start_us = pl.col("ts").dt.epoch("us")
    duration_us = (_column(frame, "duration_ms", pl.Float64()).fill_null(0.0) * 1000.0).round(0)
    trace_id = _column(frame, "trace_id", pl.String())
    base = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
        trace_id.alias("trace_id"),
        # codes of a Categories of this call's own: equal ids, equal codes (nothing is kept in the global one)
        trace_id.cast(pl.Categorical(pl.Categories.random())).to_physical().alias("trace"),
        pl.col("ts"),
        start_us.alias("start_us"),
        (start_us + duration_us.cast(pl.Int64)).alias("end_us"),
        _column(frame, "tool", pl.String()).alias("tool"),
        _column(frame, "command", pl.String()).alias("command"),
        *([] if locate else [_column(frame, "params", pl.String()).alias("params")]),
        _column(frame, "exit_code", pl.Int64()).alias("exit_code"),
        _column(frame, "request_id", pl.String()).alias("request_id"),
        _column(frame, "file_id", pl.UInt32()).alias("file_id"),
        _column(frame, "offset", pl.Int64()).alias("offset"),
        *([_column(frame, "length", pl.UInt32()).alias("length")] if locate else []),
    )
    if not base.get_column("start_us").is_sorted():
        # The index frame is in time order already; windows over a trace then see its steps by start.
        base = base.sort("start_us", "row")
    commands = base.get_column("command").unique().drop_nulls().to_list()
    kinds = {command: step_kind(command, thresholds) for command in commands}
    kinds = {command: kind for command, kind in kinds.items() if kind is not None}
    kind = (
        pl.col("command").replace_strict(kinds, default=None, return_dtype=pl.String())
        if kinds
        else pl.lit(None, dtype=pl.String())
    )
    return base.with_columns(
        has_trace_id().alias("usable"),
        failed_expr().alias("failed"),
        kind.alias("kind"),
    )


def _named(frame: pl.LazyFrame, name: str) -> pl.LazyFrame:
    return frame.with_columns(pl.lit(name).alias("name")).select(_OUT)


def _label(prefix: str = "") -> pl.Expr:
    """``tool command`` of a step, ``?`` for what the record does not say."""
    return pl.format(
        "{} {}", pl.col(prefix + "tool").fill_null("?"), pl.col(prefix + "command").fill_null("?")
    )


# Windows (``over``) below run over steps in start order (``_base``) and are never nested: a window inside
# another one's expression is evaluated group by group, hundreds of times slower.


def _retry_calls(base: pl.LazyFrame, th: FindingThresholds) -> pl.LazyFrame:
    """The runs of the calls that may hold a retry loop, whatever their params: all the runs of each tool and
    command of a trace run ``retry_runs`` times or more, ``retry_runs - 1`` of them failed (every call with
    the same params is among them, whole)."""
    key = ["trace", "tool", "command"]
    # the calls with enough failures, found among the few failed steps; then their runs (by trace code first:
    # a cheap semi join that leaves few rows for the one on the text columns)
    failing = (
        base.filter(pl.col("usable") & pl.col("failed"))
        .group_by(key)
        .agg(pl.len().alias("failures"))
        .filter(pl.col("failures") >= th.retry_runs - 1)
        .drop("failures")
    )
    return (
        base.join(failing.select("trace").unique(), on="trace", how="semi", maintain_order="left")
        .join(failing, on=key, how="semi", nulls_equal=True, maintain_order="left")
        .filter(pl.len().over(key) >= th.retry_runs)
    )


def _retry_loop(runs: pl.LazyFrame, th: FindingThresholds) -> pl.LazyFrame:
    """The retry loops among ``runs`` (``_retry_calls``, with ``params``)."""
    key = ["trace_id", "tool", "command", "params"]
    needed = th.retry_runs - 1
    failed = pl.col("failed")
    calls = (
        runs.with_columns(pl.len().over(key).alias("calls"), failed.sum().over(key).alias("call_failures"))
        .filter((pl.col("calls") >= th.retry_runs) & (pl.col("call_failures") >= needed))
        # a chain ends with the first run that did not fail: the next run of the call starts a new one
        .with_columns((~failed).shift(1, fill_value=False).cum_sum().over(key).alias("chain"))
    )
    chains = (
        calls.group_by([*key, "chain"], maintain_order=True)
        .agg(
            pl.len().alias("runs"),
            pl.col("exit_code").filter(failed).alias("codes"),
            (~failed.last()).alias("recovered"),
            pl.col("ts").first(),
            _STEP.alias("steps"),
        )
        .filter(pl.col("runs") >= th.retry_runs)
    )
    reason = pl.format(
        "{} ran {} times with the same params, each run after a failed one (exit {}); {}",
        _label(),
        pl.col("runs"),
        pl.col("codes").list.eval(pl.element().cast(pl.String())).list.join(", "),
        pl.when(pl.col("recovered"))
        .then(pl.lit("the last run succeeded"))
        .otherwise(pl.lit("none succeeded")),
    )
    return _named(chains.with_columns(reason.alias("reason")), "retry-loop")


def _deploy_without_verify(base: pl.LazyFrame) -> pl.LazyFrame:
    kind = pl.col("kind")
    usable = pl.col("usable")
    last_verify = (
        base.filter(usable & (kind == "verify"))
        .group_by("trace")
        .agg(pl.col("start_us").max().alias("last_verify"))
    )
    unverified = (
        base.filter(usable & (kind == "deploy") & (pl.col("exit_code") == 0))
        .join(last_verify, on="trace", how="left", maintain_order="left")
        .filter(pl.col("last_verify").is_null() | (pl.col("last_verify") < pl.col("start_us")))
    )
    reason = pl.format("{} succeeded, but no verify step started after it in this trace", _label())
    steps = pl.concat_list(_STEP)
    return _named(
        unverified.with_columns(reason.alias("reason"), steps.alias("steps")), "deploy-without-verify"
    )


def _long_think_gap(base: pl.LazyFrame, th: FindingThresholds) -> pl.LazyFrame:
    # The gaps of ``auditview.core.timeline``: per trace, by start, the time from the latest end so far to a
    # step's start when the step starts after it; the step that set that end (the last one to reach it)
    # opened the gap. The gaps are found on four columns with the steps sorted by trace (a stable sort keeps
    # each trace's steps by start), where a window is a pass over consecutive rows; the few long ones then
    # read the rest of their two steps.
    trace = pl.col("trace")
    covered = pl.col("covered")
    first = (trace != trace.shift(1)).fill_null(True)
    after_first = pl.when(first).then(None).otherwise
    steps = (
        base.filter(pl.col("usable"))
        .select("trace", "row", "start_us", "end_us")
        .sort("trace", maintain_order=True)
        .with_columns(trace.set_sorted())
        # the trace's rows are consecutive and in group order: "explode" lays the running max out as they are
        .with_columns(pl.col("end_us").cum_max().over("trace", mapping_strategy="explode").alias("reached"))
        .with_columns(after_first(pl.col("reached").shift(1)).alias("covered"))
        .with_columns(
            pl.when(covered.is_null() | (pl.col("end_us") >= covered)).then(pl.col("row")).alias("ender"),
            (pl.col("start_us") - covered).alias("gap_us"),
        )
        # a trace's first step is an ender (nothing covered yet): filling forward never crosses traces
        .with_columns(pl.col("ender").forward_fill().shift(1).alias("opener"))
    )
    gaps = steps.filter(pl.col("gap_us") > 0).with_columns(
        pl.col("gap_us").median().over("trace").alias("median_us")
    )
    limit = pl.max_horizontal(
        pl.lit(th.gap_min_ms * 1000.0), pl.col("median_us") * pl.lit(float(th.gap_median_factor))
    )
    # read three times below: computed once
    long = gaps.filter(pl.col("gap_us") > limit).select("row", "opener", "gap_us", "median_us").cache()
    involved = pl.concat([long.select("row"), long.select(pl.col("opener").alias("row"))]).unique()
    details = base.join(involved, on="row", how="semi").select(
        "row", "trace_id", "tool", "command", "ts", _STEP.alias("step")
    )
    openers = details.select(
        pl.col("row").alias("opener"),
        pl.col("tool").alias("opener_tool"),
        pl.col("command").alias("opener_command"),
        pl.col("ts").alias("opener_ts"),
        pl.col("step").alias("opener_step"),
    )
    found = long.join(details, on="row", how="left", maintain_order="left").join(
        openers, on="opener", how="left", maintain_order="left"
    )
    reason = pl.format(
        "{} idle between {} and {}, {}× the trace's median gap of {}",
        (pl.col("gap_us") / 1000.0).map_elements(format_duration, return_dtype=pl.String()),
        _label("opener_"),
        _label(),
        (pl.col("gap_us") / pl.col("median_us")).round(1),
        (pl.col("median_us") / 1000.0).map_elements(format_duration, return_dtype=pl.String()),
    )
    return _named(
        found.with_columns(
            reason.alias("reason"),
            pl.concat_list(pl.col("opener_step"), pl.col("step")).alias("steps"),
            pl.col("opener_ts").alias("ts"),
        ),
        "long-think-gap",
    )


def _duplicate_request_id(base: pl.LazyFrame) -> pl.LazyFrame:
    rid = pl.col("request_id")
    usable = rid.str.strip_chars().str.len_bytes().fill_null(0) > 0
    # Equal ids have equal hashes: the exact test runs on the (few) rows whose hash repeats, found by sorting
    # the hashes (cheaper than hashing them again).
    hashed = rid.hash().alias("__av_hash")
    repeats = (
        base.select(hashed).sort("__av_hash").filter(pl.col("__av_hash") == pl.col("__av_hash").shift(1))
    )
    repeated = (
        base.with_columns(hashed)
        .join(repeats.unique(), on="__av_hash", how="semi", maintain_order="left")
        .filter(usable)
        .filter(rid.is_duplicated())
        .with_columns(pl.len().over("request_id").alias("total"))
        .filter(pl.col("usable"))
        .group_by("trace_id", "request_id", maintain_order=True)
        .agg(pl.len().alias("here"), pl.col("total").first(), pl.col("ts").first(), _STEP.alias("steps"))
    )
    reason = pl.format(
        "request id {} is on {} records of the loaded logs ({} in this trace): a re-run that reused it, "
        "or a cached or earlier result logged again",
        rid,
        pl.col("total"),
        pl.col("here"),
    )
    return _named(repeated.with_columns(reason.alias("reason")), "duplicate-request-id")


def _new_error_code(base: pl.LazyFrame) -> pl.LazyFrame:
    pair = ["tool", "command"]
    failures = (
        base.filter(pl.col("exit_code").is_not_null() & (pl.col("exit_code") != 0))
        .with_columns(
            pl.col("exit_code").shift(1).over(pair).alias("previous_code"),
            pl.col("request_id").shift(1).over(pair).alias("previous_request_id"),
            pl.col("ts").shift(1).over(pair).alias("previous_ts"),
        )
        .filter(
            pl.col("usable")
            & pl.col("previous_code").is_not_null()
            & (pl.col("previous_code") != pl.col("exit_code"))
        )
    )
    reason = pl.format(
        "{} failed with exit {}; its previous failure (request {}, {}) exited {}",
        _label(),
        pl.col("exit_code"),
        pl.col("previous_request_id").fill_null("?"),
        pl.col("previous_ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
        pl.col("previous_code"),
    )
    steps = pl.concat_list(_STEP)
    return _named(failures.with_columns(reason.alias("reason"), steps.alias("steps")), "new-error-code")


# -- flapping and rollback-after-verify: Python over the few traces where they can hold ------------------


class _Step(NamedTuple):
    row: int
    kind: str | None
    tool: str | None
    command: str | None
    params: str | None
    exit_code: int | None
    failed: bool
    start_us: int
    end_us: int


#: A finding of the Python detectors: name, reason (``{0}``, ``{1}``... stand for the ``tool command`` of
#: the steps with those indices) and the steps, by start.
_Found = tuple[str, str, list[_Step]]
_Target = dict[str, Any] | str | None


def _traces(rows: pl.DataFrame, fields: Collection[str]) -> Iterator[tuple[str, list[_Step]]]:
    """The steps of ``rows`` (in start order) trace by trace, with only ``fields`` (besides ``row``,
    ``kind`` and the times) read; the others are None."""
    rows = rows.sort("trace_id", maintain_order=True)  # stable: each trace's steps stay by start
    wanted = {"row", "kind", "exit_code", "failed", "start_us", "end_us", *fields}
    columns = [
        rows.get_column(name).to_list() if name in wanted else itertools.repeat(None)
        for name in _Step._fields
    ]
    steps = list(map(_Step, *columns))
    position = 0
    for trace_id, group in itertools.groupby(rows.get_column("trace_id").to_list()):
        count = sum(1 for _ in group)
        yield trace_id, steps[position : position + count]
        position += count


def _flapping_rows(base: pl.LazyFrame) -> pl.LazyFrame:
    """The deploys and rollbacks of the traces where a rollback started between two deploys."""
    kind = pl.col("kind")
    start = pl.col("start_us")
    usable = pl.col("usable")
    deploys = (
        base.filter(usable & (kind == "deploy"))
        .group_by("trace")
        .agg(start.min().alias("first_deploy"), start.max().alias("last_deploy"))
    )
    candidates = (
        base.filter(usable & (kind == "rollback"))
        .select("trace", "start_us")
        .join(deploys, on="trace")
        .filter((start > pl.col("first_deploy")) & (start < pl.col("last_deploy")))
        .select("trace")
        .unique()
    )
    return base.filter(usable & kind.is_in(["deploy", "rollback"])).join(
        candidates, on="trace", how="semi", maintain_order="left"
    )


def _flapping_calls(rows: pl.DataFrame) -> pl.DataFrame:
    """Of ``_flapping_rows``, the deploys of a tool and command deployed twice in a trace with a rollback
    starting between (ties included: steps walk in start order) and the rollbacks of their traces. The
    deploys of any other tool and command complete no cycle, and the deploys of a cycle share their tool and
    command: the walk finds the same in these rows."""
    kind = pl.col("kind")
    start = pl.col("start_us")
    call = ["trace_id", "tool", "command"]
    deployed = (
        rows.lazy()
        .filter(kind == "deploy")
        .group_by(call)
        .agg(start.min().alias("first"), start.max().alias("last"), pl.len().alias("deploys"))
        .filter(pl.col("deploys") >= 2)
        .sort("first")
    )
    rollbacks = rows.lazy().filter(kind == "rollback").select("trace_id", start.alias("rollback_start"))
    # the first rollback starting at or after each call's first deploy: a cycle needs it by the last one
    live = (
        deployed.join_asof(
            rollbacks.sort("rollback_start"),
            left_on="first",
            right_on="rollback_start",
            by="trace_id",
            strategy="forward",
            check_sortedness=False,
        )
        .filter(pl.col("rollback_start") <= pl.col("last"))
        .select(*call, pl.lit(True).alias("live"))
    )
    flagged = rows.lazy().join(live, on=call, how="left", nulls_equal=True, maintain_order="left")
    live_trace = pl.col("live").fill_null(False).any().over("trace_id")
    return (
        flagged.filter(
            ((kind == "deploy") & pl.col("live").fill_null(False)) | ((kind == "rollback") & live_trace)
        )
        .drop("live")
        .collect()
    )


def _flapping(steps: Sequence[_Step], targets: _Targets) -> list[_Found]:
    # per deploy (tool, command, target): the last such deploy, and the rollback that covered it since
    cycles: dict[str, list[tuple[_Step, _Step, _Step]]] = {}
    last_deploy: dict[str, tuple[_Step, _Target]] = {}
    rolled_back: dict[str, tuple[_Step, _Step]] = {}
    for step in steps:
        target = targets.of(step.params)
        if step.kind == "deploy":
            key = orjson.dumps([step.tool, step.command, target], option=orjson.OPT_SORT_KEYS).decode()
            if key in rolled_back:
                first, rollback = rolled_back.pop(key)
                cycles.setdefault(key, []).append((first, rollback, step))
            last_deploy[key] = (step, target)
        elif step.kind == "rollback":
            for key, (deploy, deployed) in last_deploy.items():
                if key not in rolled_back and _covers(target, deployed):
                    rolled_back[key] = (deploy, step)
    found: list[_Found] = []
    for found_cycles in cycles.values():
        first, rollback, _ = found_cycles[0]
        involved = sorted(
            {step.row: step for cycle in found_cycles for step in cycle}.values(),
            key=lambda step: (step.start_us, step.row),
        )
        times = f" ({len(found_cycles)} times)" if len(found_cycles) > 1 else ""
        target = _target_text(targets.of(first.params)).replace("{", "{{").replace("}", "}}")
        deploy_at, rollback_at = involved.index(first), involved.index(rollback)
        cycle = f"deployed, rolled back ({{{rollback_at}}}) and deployed again{times}"
        reason = f"{{{deploy_at}}} of {target}: {cycle}"
        found.append(("flapping", reason, involved))
    return found


def _rollback_after_verify_rows(base: pl.LazyFrame) -> pl.LazyFrame:
    """The deploy, verify, rollback and failed steps of the traces where a rollback started after a
    successful verify ended (with ``first_verified``, the end of the trace's first successful verify)."""
    kind = pl.col("kind")
    usable = pl.col("usable")
    verified = (
        base.filter(usable & (kind == "verify") & (pl.col("exit_code") == 0))
        .group_by("trace")
        .agg(pl.col("end_us").min().alias("first_verified"))
    )
    candidates = (
        base.filter(usable & (kind == "rollback"))
        .select("trace", "start_us")
        .join(verified, on="trace")
        .filter(pl.col("start_us") >= pl.col("first_verified"))
        .select("trace")
        .unique()
    )
    return (
        base.filter(usable & (kind.is_not_null() | pl.col("failed")))
        .join(candidates, on="trace", how="semi", maintain_order="left")
        .join(verified, on="trace", how="left", maintain_order="left")
    )


def _after_verify_traces(collected: pl.DataFrame) -> pl.DataFrame:
    """Of ``_rollback_after_verify_rows``, the traces where a rollback may follow a successful verify: one
    that started after a successful verify ended, when the latest end among the trace's other deploys,
    verifies and rollbacks by its start is a successful verify's, and no failure ended after it by then (the
    walk leaves the rollback itself out of both; one that ends by its own start is kept unchecked)."""
    kind = pl.col("kind")
    start, end = pl.col("start_us"), pl.col("end_us")
    success = (kind == "verify") & (pl.col("exit_code") == 0)
    rows = collected.lazy()
    classified = rows.filter(kind.is_not_null())
    rollbacks = (
        rows.filter((kind == "rollback") & (start >= pl.col("first_verified")))
        .select("trace_id", "start_us", (end <= start).alias("instant"))
        .sort("start_us")
    )

    def latest_end(steps: pl.LazyFrame, name: str) -> pl.LazyFrame:
        # the latest end by each rollback's start among ``steps`` of its trace (which end is what counts)
        return steps.select("trace_id", end.alias(name)).sort(name)

    found = (
        rollbacks.join_asof(
            latest_end(classified, "last_end"),
            left_on="start_us",
            right_on="last_end",
            by="trace_id",
            check_sortedness=False,
        )
        .join_asof(
            latest_end(rows.filter(pl.col("failed")), "failure_end"),
            left_on="start_us",
            right_on="failure_end",
            by="trace_id",
            check_sortedness=False,
        )
        .join(
            classified.filter(success).select("trace_id", end.alias("verified_end")).unique(),
            left_on=["trace_id", "last_end"],
            right_on=["trace_id", "verified_end"],
            how="left",
            maintain_order="left",
            coalesce=False,
        )
        .filter(
            pl.col("instant")
            | (
                pl.col("verified_end").is_not_null()
                & (pl.col("failure_end").is_null() | (pl.col("failure_end") <= pl.col("last_end")))
            )
        )
        .select("trace_id")
        .unique()
    )
    return rows.join(found, on="trace_id", how="semi").drop("first_verified").collect()


def _rollback_after_verify(steps: Sequence[_Step]) -> list[_Found]:
    found: list[_Found] = []
    classified = [step for step in steps if step.kind is not None]
    failures = [step for step in steps if step.failed]
    for rollback in classified:
        if rollback.kind != "rollback":
            continue
        # the last to end by the rollback's start (ties: the later start, then the later in start order)
        before = [
            (step.end_us, step.start_us, i, step)
            for i, step in enumerate(classified)
            if step.row != rollback.row and step.end_us <= rollback.start_us
        ]
        if not before:
            continue
        last = max(before, key=lambda item: item[:3])[3]
        if last.kind != "verify" or last.exit_code != 0:
            continue
        if any(
            last.end_us < step.end_us <= rollback.start_us for step in failures if step.row != rollback.row
        ):
            continue
        after = format_duration((rollback.start_us - last.end_us) / 1000.0)
        reason = f"{{1}} started {after} after {{0}} succeeded, with no failure in between"
        found.append(("rollback-after-verify", reason, [last, rollback]))
    return found


class _Targets:
    """``FindingThresholds.target`` of params texts, each decoded once."""

    def __init__(self, thresholds: FindingThresholds) -> None:
        self._thresholds = thresholds
        self._known: dict[str | None, _Target] = {}

    def of(self, params: str | None) -> _Target:
        if params not in self._known:
            self._known[params] = self._thresholds.target(params)
        return self._known[params]


def _covers(outer: _Target, inner: _Target) -> bool:
    """Whether a rollback's target ``outer`` covers a deploy's ``inner`` (each key of outer, same value)."""
    if isinstance(outer, dict) and isinstance(inner, dict):
        return all(key in inner and inner[key] == value for key, value in outer.items())
    return outer == inner


def _target_text(target: _Target) -> str:
    if isinstance(target, dict):
        if not target:
            return "(no params)"
        return ", ".join(
            f"{key}={value if isinstance(value, str) else orjson.dumps(value).decode()}"
            for key, value in target.items()
        )
    return "(no params)" if target is None else target


def _walked(
    base: pl.DataFrame,
    flapping: pl.DataFrame | None,
    after_verify: pl.DataFrame | None,
    th: FindingThresholds,
) -> pl.DataFrame | None:
    """The findings of the Python detectors as ``_OUT`` columns: flapping over its ``_flapping_rows`` (with
    ``params``), rollback-after-verify over its ``_rollback_after_verify_rows`` (each ``None`` when off)."""
    found: list[tuple[str, _Found]] = []
    if flapping is not None:
        targets = _Targets(th)
        for trace_id, steps in _traces(flapping, ("tool", "command", "params")):
            found += [(trace_id, item) for item in _flapping(steps, targets)]
    if after_verify is not None:
        for trace_id, steps in _traces(after_verify, ()):
            found += [(trace_id, item) for item in _rollback_after_verify(steps)]
    if not found:
        return None
    rows = sorted({step.row for _, (_, _, steps) in found for step in steps})
    looked_up = base.filter(pl.col("row").is_in(pl.Series(rows, dtype=pl.UInt32).implode()))
    places: dict[int, tuple[str, dict[str, Any]]] = {
        row: (f"{tool or '?'} {command or '?'}", {"request_id": rid, "file_id": fid, "offset": offset})
        for row, tool, command, rid, fid, offset in looked_up.select(
            "row", "tool", "command", "request_id", "file_id", "offset"
        ).iter_rows()
    }
    return pl.DataFrame(
        {
            "trace_id": [trace_id for trace_id, _ in found],
            "name": [name for _, (name, _, _) in found],
            "ts_us": [steps[0].start_us for _, (_, _, steps) in found],
            "reason": [
                reason.format(*(places[step.row][0] for step in steps)) for _, (_, reason, steps) in found
            ],
            "steps": [[places[step.row][1] for step in steps] for _, (_, _, steps) in found],
        },
        schema={
            "trace_id": pl.String(),
            "name": pl.String(),
            "ts_us": pl.Int64(),
            "reason": pl.String(),
            "steps": pl.List(STEP_DTYPE),
        },
    ).select(
        "trace_id",
        "name",
        pl.col("ts_us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("ts"),
        "reason",
        "steps",
    )


# ----------------------------------------------------------------------------------------------------
# Entry points


def empty_findings() -> pl.DataFrame:
    """A findings frame without rows."""
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def _with_params(parts: list[pl.DataFrame], params_of: ParamsOf | None) -> list[pl.DataFrame]:
    """``parts`` (rows of ``_base``) with ``params``: as they hold it, else from ``params_of``, asked once
    for the rows of all of them."""
    if params_of is None or not parts or "params" in parts[0].columns:
        return parts
    places = pl.concat([part.select("row", "file_id", "offset", "length") for part in parts]).unique(
        "row", maintain_order=True
    )
    params = params_of(places.select("file_id", "offset", "length"))
    if params.len() != places.height:
        raise ValueError(f"params_of gave {params.len()} params for {places.height} rows")
    known = places.select("row", params.cast(pl.String()).alias("params"))
    return [part.join(known, on="row", how="left", maintain_order="left") for part in parts]


def _needing_params(
    own: pl.LazyFrame, th: FindingThresholds, params_of: ParamsOf | None
) -> list[pl.DataFrame | None]:
    """The rows retry-loop, flapping and rollback-after-verify run on (``None`` for a detector that is off),
    with ``params`` where read; polars collects them, then ``params_of`` gives the params of just those."""
    enabled = set(th.detectors)
    wanted = [
        _retry_calls(own, th) if "retry-loop" in enabled else None,
        _flapping_rows(own) if "flapping" in enabled else None,
        _rollback_after_verify_rows(own) if "rollback-after-verify" in enabled else None,
    ]
    collected = iter(pl.collect_all([rows for rows in wanted if rows is not None]))
    runs, flapping, after_verify = [next(collected) if rows is not None else None for rows in wanted]
    flapping = _flapping_calls(flapping) if flapping is not None else None
    after_verify = _after_verify_traces(after_verify) if after_verify is not None else None
    read = [rows for rows in (runs, flapping) if rows is not None]
    resolved = iter(_with_params(read, params_of))
    return [
        next(resolved) if runs is not None else None,
        next(resolved) if flapping is not None else None,
        after_verify,
    ]


def detect_findings(
    frame: pl.DataFrame,
    thresholds: FindingThresholds | None = None,
    *,
    trace_ids: Collection[str] | None = None,
    params_of: ParamsOf | None = None,
) -> pl.DataFrame:
    """Every finding in ``frame`` (an index frame, possibly projected: it needs ``ts`` and reads
    ``FINDING_COLUMNS`` and the location columns where present), one row each (``FINDINGS_SCHEMA``), by
    trace id, then the start of the first step involved, then ``DETECTORS`` order.

    ``trace_ids``: report the findings of these traces only (the cross-record detectors still look at every
    record, so each trace gets what the whole run gives it, only cheaper). ``params_of``: for a ``frame``
    without ``params`` (but with ``file_id``, ``offset`` and ``length``), the params of the few rows that
    retry-loop and flapping read; the findings are those of the frame with its ``params`` column. Without
    either, every step has no params.
    """
    th = thresholds or FindingThresholds()
    if frame.height == 0 or "trace_id" not in frame.columns or not th.detectors:
        return empty_findings()
    if "params" in frame.columns:
        params_of = None
    base = _base(frame, th, locate=params_of is not None)
    every = base.lazy()
    own = every
    if trace_ids is not None:
        own = every.filter(pl.col("trace_id").is_in(pl.Series(list(trace_ids), dtype=pl.String).implode()))
    enabled = set(th.detectors)
    parts: list[pl.LazyFrame] = []
    if "deploy-without-verify" in enabled:
        parts.append(_deploy_without_verify(own))
    if "long-think-gap" in enabled:
        parts.append(_long_think_gap(own, th))
    cross: list[pl.LazyFrame] = []
    if "duplicate-request-id" in enabled:
        cross.append(_duplicate_request_id(every))
    if "new-error-code" in enabled:
        cross.append(_new_error_code(every))
    if trace_ids is not None:
        ids = pl.Series(list(trace_ids), dtype=pl.String).implode()
        cross = [part.filter(pl.col("trace_id").is_in(ids)) for part in cross]
    schema = {name: FINDINGS_SCHEMA[name] for name in _OUT}
    lazy = [part.cast(schema) for part in (*parts, *cross)]  # type: ignore[arg-type]
    # polars computes the vectorised detectors (without the GIL) while Python walks the few traces left
    with ThreadPoolExecutor(max_workers=1) as pool:
        vectorised = pool.submit(pl.collect_all, lazy) if lazy else None
        runs, flapping, after_verify = _needing_params(own, th, params_of)
        looped = _retry_loop(runs.lazy(), th).collect() if runs is not None else None
        walked = _walked(base, flapping, after_verify, th)
        frames = vectorised.result() if vectorised is not None else []
    for found in (looped, walked):
        if found is not None:
            frames.append(found.cast(schema))  # type: ignore[arg-type]
    if not frames:
        return empty_findings()
    order = {name: i for i, name in enumerate(DETECTORS)}
    result = (
        pl.concat(frames, how="vertical")
        .lazy()
        .with_columns(
            pl.col("name").replace_strict(SEVERITY, return_dtype=pl.String()).alias("severity"),
            pl.col("name").replace_strict(order, return_dtype=pl.UInt8()).alias("order"),
        )
        .sort("trace_id", "ts", "order", maintain_order=True)
        .select(list(FINDINGS_SCHEMA))
        .collect()
    )
    return result.cast(FINDINGS_SCHEMA)  # type: ignore[arg-type]


#: The element of ``group_findings``' ``findings`` lists (``path`` in each step when paths are given).
GROUPED_FIELDS: Final = ("name", "severity", "reason", "steps")


def group_findings(findings: pl.DataFrame, paths: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per trace with findings: ``trace_id`` and ``findings``, a list of ``{name, severity, reason,
    steps}`` in ``findings``' order; ``paths`` (by ``file_id``) adds each step's ``path``."""
    if paths is not None and findings.height:
        names = pl.Series("path", list(paths), dtype=pl.String)
        places = (
            findings.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("finding"), "steps")
            .explode("steps")
            .unnest("steps")
            .with_columns(
                pl.col("file_id")
                .replace_strict(list(range(len(names))), names, default=None, return_dtype=pl.String())
                .alias("path")
            )
            .group_by("finding", maintain_order=True)
            .agg(pl.struct("request_id", "file_id", "offset", "path").alias("steps"))
        )
        findings = findings.with_columns(places.get_column("steps"))
    return findings.group_by("trace_id", maintain_order=True).agg(
        pl.struct(*GROUPED_FIELDS).alias("findings")
    )

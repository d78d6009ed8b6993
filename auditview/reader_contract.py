"""The reader contract: what any producer's audit-log line may be, and how it becomes index values.

The writer contract (``auditview.contract``) is what ``auditview.writer`` writes: every field, our types.
Readers are kinder, because the logs an incident is about come from tools nobody chose: the seed's hand-
written shape, Go and Node CLIs, shell scripts, logged JSON responses. A line is a record when it is a JSON
object with a usable time (``timestamp`` or an alias: RFC 3339 / ISO 8601 with any offset and precision, or an
epoch number); everything else is optional and typed when present. A known field with an unusable value costs
the field, not the record: it is read as unknown and the anomaly is kept as a warning. A field taken from
somewhere other than its own key (an alias, the response's ``meta``, the file's name, ``ok``) is named in
``derived`` so that nothing shown is mistaken for what the producer wrote.

This module is the reference every reader path applies (the engine's exact path, the writer's ``audit-log``);
the engine's fast paths only go faster on lines they prove the same. It imports only the standard library and
orjson, so that embedding the writer stays cheap. Must not: read files or import polars or a UI library.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import PurePath
from typing import Any, Final

import orjson

from auditview.contract import MAX_LINE_BYTES, META_FIELDS, ContractError, json_type_name, utc_moment

__all__ = [
    "BUILTIN_ALIASES",
    "DURATION_MAX",
    "ENV_FIELDS",
    "FIELDS",
    "TIME_KEYS",
    "FieldMap",
    "ReadRecord",
    "active_field_map",
    "derived_tool",
    "epoch_to_datetime",
    "extra_fields",
    "parse_field_option",
    "parse_time_text",
    "read_line",
    "read_record",
    "reset_active_field_map",
]

#: The record fields the reader knows, with the JSON types a present, non-null value must have.
FIELDS: Final[dict[str, str]] = {
    "timestamp": "time",
    "tool": "string",
    "command": "string",
    "params": "any",
    "exit_code": "integer",
    "duration_ms": "duration",
    "request_id": "string",
    "trace_id": "string",
    "parent_request_id": "string",
    "operator": "string",
    "version": "string",
    "host": "string",
    "pid": "integer",
    "schema_version": "integer",
    "ok": "boolean",
    "truncated": "boolean",
    "error": "error",
}

#: Keys that hold the record's time, in the order they are tried (the first usable one wins).
TIME_KEYS: Final = ("timestamp", "ts", "time", "@timestamp")

#: Other names common producers use for a field (tried after the field's own key, in this order). Only
#: names that say the same thing in the same unit: ``elapsed_ms`` is a duration in milliseconds, ``duration``
#: (seconds? nanoseconds?) is not mapped.
BUILTIN_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "timestamp": TIME_KEYS[1:],
    "tool": ("tool_name", "program"),
    "command": ("cmd", "subcommand"),
    "params": ("args", "arguments"),
    "exit_code": ("exitCode", "exit_status", "exitcode", "returncode", "rc"),
    "duration_ms": ("durationMs", "elapsed_ms", "elapsedMs", "latency_ms", "took_ms"),
    "request_id": ("requestId", "req_id"),
    "trace_id": ("traceId",),
    "parent_request_id": ("parentRequestId", "parent_id"),
    "operator": ("actor", "user"),
    "version": ("tool_version", "toolVersion"),
    "host": ("hostname",),
    "error": ("err",),
}

#: The environment variable that carries ``--field`` mappings to every process of one run.
ENV_FIELDS: Final = "AUDITVIEW_FIELDS"
_CONFIG_NAME: Final = "fields.toml"

#: The largest duration a float holds (any finite number the writer contract takes is kept).
DURATION_MAX: Final = 1.7976931348623157e308
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
#: ISO 8601 / RFC 3339: ``T`` or a blank between date and time, seconds optional, any fraction (``.`` or
#: ``,``), ``Z`` or an offset ``+02:00`` / ``+0200`` / ``+02``, or no offset at all (read as UTC, see below).
_TIME_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9})\d*)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
#: Epoch numbers: below 1e11 are seconds (up to the year 5138), below 1e14 milliseconds, below 1e17
#: microseconds, anything larger nanoseconds.
_EPOCH_LIMITS: Final = ((1e11, 1), (1e14, 1_000), (1e17, 1_000_000), (math.inf, 1_000_000_000))
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FieldMap:
    """Which keys give each field: its own name first, then the user's mappings, then the built-in aliases.

    ``user`` holds ``--field FIELD=KEY`` and config-file mappings; ``fingerprint`` names the whole map (the
    index cache keys entries by it, since another map reads the same bytes differently).
    """

    user: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def keys(self) -> dict[str, tuple[str, ...]]:
        """Field -> the keys tried for it, in order (without duplicates)."""
        result: dict[str, tuple[str, ...]] = {}
        for name in FIELDS:
            ordered = [name, *self.user.get(name, ()), *BUILTIN_ALIASES.get(name, ())]
            result[name] = tuple(dict.fromkeys(ordered))
        return result

    @cached_property
    def plan(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        """``(field, kind, alias keys)`` for every field but the time, in ``FIELDS`` order."""
        keys = self.keys
        return tuple((name, kind, keys[name][1:]) for name, kind in FIELDS.items() if name != "timestamp")

    @cached_property
    def alias_keys(self) -> frozenset[str]:
        """Every key that is read as another field (never a field's own name)."""
        return frozenset(key for name, keys in self.keys.items() for key in keys if key != name)

    @property
    def fingerprint(self) -> str:
        """A stable text naming the user's mappings ("" for none)."""
        return ";".join(f"{name}={','.join(keys)}" for name, keys in sorted(self.user.items()) if keys)


def parse_field_option(texts: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``["duration_ms=elapsed", ...]`` -> ``{"duration_ms": ("elapsed",)}``; raises ``ValueError`` with a
    plain reason for an unknown field or a malformed mapping."""
    mapping: dict[str, list[str]] = {}
    for text in texts:
        name, sep, key = text.partition("=")
        name, key = name.strip(), key.strip()
        if not sep or not name or not key:
            raise ValueError(f"--field wants FIELD=KEY, not {text!r}")
        if name not in FIELDS:
            raise ValueError(f"--field: unknown field {name!r} (one of {', '.join(FIELDS)})")
        mapping.setdefault(name, []).append(key)
    return {name: tuple(keys) for name, keys in mapping.items()}


def _config_path() -> PurePath:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return PurePath(base, "auditview", _CONFIG_NAME)


def _config_mapping() -> dict[str, tuple[str, ...]]:
    """``[fields]`` of ``$XDG_CONFIG_HOME/auditview/fields.toml``: ``duration_ms = "elapsed"`` or a list."""
    path = _config_path()
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    table = document.get("fields", {})
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [fields] must be a table of FIELD = KEY")
    texts: list[str] = []
    for name, value in table.items():
        keys = [value] if isinstance(value, str) else value
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise ValueError(f"{path}: fields.{name} must be a key or a list of keys")
        texts += [f"{name}={key}" for key in keys]
    try:
        return parse_field_option(texts)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


_ACTIVE: FieldMap | None = None


def active_field_map() -> FieldMap:
    """The map of this process: the config file's mappings, then ``AUDITVIEW_FIELDS`` (``--field``, which
    the CLI puts there so that child processes read the same), computed once."""
    global _ACTIVE  # one map per process, like the environment it comes from
    if _ACTIVE is None:
        merged: dict[str, tuple[str, ...]] = dict(_config_mapping())
        env = os.environ.get(ENV_FIELDS, "")
        for name, keys in parse_field_option(part for part in env.split("\n") if part.strip()).items():
            merged[name] = (*keys, *merged.get(name, ()))
        _ACTIVE = FieldMap(merged)
    return _ACTIVE


def reset_active_field_map() -> None:
    """Forget the computed map (after ``AUDITVIEW_FIELDS`` or the config file changed)."""
    global _ACTIVE
    _ACTIVE = None


def derived_tool(path: str | None) -> str | None:
    """The tool a file's records belong to when they do not say: the directory of ``<tool>/audit.jsonl``,
    else the file's name without ``.jsonl``/``.log``/``.json``, rotation numbers and compression suffixes;
    none for standard input and pipes."""
    if not path or path == "-" or path.startswith(("/dev/", "/proc/")):
        return None  # standard input, a pipe (``<(cmd)`` is /dev/fd/N): no name to go by
    pure = PurePath(path)
    name = pure.name
    while True:
        stem, dot, suffix = name.rpartition(".")
        if not dot or not stem:
            break
        if suffix.isdigit() or suffix in ("gz", "zst", "jsonl", "ndjson", "json", "log"):
            name = stem
            continue
        break
    if name == "audit" and pure.parent.name not in ("", ".", "/"):
        return pure.parent.name
    return name or None


def epoch_to_datetime(value: float) -> datetime:
    """An epoch number (seconds, milliseconds, microseconds or nanoseconds by its size) as UTC: an integer
    exactly (finer than microseconds: rounded down), a float as ``round(value * 1e6 / per_second)`` in IEEE
    arithmetic (ties to even), which a vectorised reader computes the same way."""
    for limit, per_second in _EPOCH_LIMITS:
        if abs(value) < limit:
            if isinstance(value, int):
                return _EPOCH + timedelta(microseconds=value * 1_000_000 // per_second)
            return _EPOCH + timedelta(microseconds=round(value * 1_000_000 / per_second))
    raise ContractError("epoch time is not finite")


def parse_time_text(text: str) -> tuple[datetime, bool]:
    """An ISO 8601 / RFC 3339 time as aware UTC and whether it had an offset (without one it is UTC).

    Fractions beyond microseconds are truncated. Raises ``ContractError`` on anything else.
    """
    match = _TIME_RE.fullmatch(text.strip())
    if match is None:
        raise ContractError(f"timestamp is not ISO 8601 / RFC 3339: {text[:64]!r}")
    offset = match.group(8)
    moment = utc_moment(text, *match.groups())
    return moment, offset is not None


def _time_of(value: Any) -> tuple[datetime, bool]:
    """The time a value gives and whether it was naive; ``ContractError`` when it gives none.

    The decimal text of an epoch number (``"1710167400"``) is that number, as for every numeric field."""
    if isinstance(value, str):
        if _NUMBER_TEXT.fullmatch(value):
            value = int(value) if _INTEGER_TEXT.fullmatch(value) else float(value)
        else:
            return parse_time_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ContractError("epoch time is not finite")
        try:
            return epoch_to_datetime(value), True
        except OverflowError:
            raise ContractError(f"epoch time out of range: {_shown(value)}") from None
    raise ContractError(f"timestamp must be a string or an epoch number, not {json_type_name(value)}")


@dataclass(slots=True)
class ReadRecord:
    """A line read under the reader contract: the index values, what was derived, and the warnings."""

    ts: datetime
    values: dict[str, Any]
    #: ``field<-source`` for every value not taken from the field's own key (``tool<-path``).
    derived: list[str]
    #: One reason per field whose value was unusable (the field is then unknown).
    warnings: list[str]
    #: Top-level keys that are neither known fields nor aliases the record was read from.
    extra: dict[str, Any]


def _shown(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    except TypeError:  # an integer past 64 bits (a dict from another decoder): its digits
        text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


_INTEGER_TEXT: Final = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)
_NUMBER_TEXT: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)
_BOOLEAN_TEXT: Final = {"true": True, "false": False}


def _from_text(kind: str, value: str) -> Any:
    """The number or boolean a logfmt-to-JSON shipper wrote as text (``"0"``, ``"12.5"``, ``"true"``), or
    ``None`` when the text is not exactly one."""
    if kind == "integer" and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    if kind == "duration" and _NUMBER_TEXT.fullmatch(value):
        return float(value)
    if kind == "boolean":
        return _BOOLEAN_TEXT.get(value)
    return None


def _typed(name: str, kind: str, value: Any) -> tuple[Any, str | None]:
    """``(value, None)`` when ``value`` has the field's type, else ``(None, reason)``."""
    if kind == "string":
        if isinstance(value, str):
            return value, None
        return None, f"{name} must be a string, not {json_type_name(value)} {_shown(value)}"
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():  # 1.0 (a decoder cannot tell it from 1 either)
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if _INT64_MIN <= value <= _INT64_MAX:
                return value, None
            return None, f"{name} is outside the signed 64-bit range"
        return None, f"{name} must be an integer, not {json_type_name(value)} {_shown(value)}"
    if kind == "duration":
        if isinstance(value, int | float) and not isinstance(value, bool):
            if (isinstance(value, float) and not math.isfinite(value)) or value < 0 or value > DURATION_MAX:
                return None, f"{name} must be a finite number of milliseconds >= 0, not {_shown(value)}"
            return float(value), None
        return None, f"{name} must be a number, not {json_type_name(value)} {_shown(value)}"
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        return None, f"{name} must be a boolean, not {json_type_name(value)} {_shown(value)}"
    raise AssertionError(kind)


def read_record(
    record: Any,
    *,
    path: str | None = None,
    fields: FieldMap | None = None,
) -> ReadRecord:
    """Read a decoded line under the reader contract. Raises ``ContractError`` (the reject's reason) only
    when ``record`` is not an object or has no usable time; every other anomaly is a warning.

    ``path`` is the line's file, whose name gives ``tool`` when the record does not (``derived_tool``).
    """
    if not isinstance(record, dict):
        raise ContractError(f"not a JSON object but {json_type_name(record)}")
    field_map = fields or active_field_map()
    keys = field_map.keys
    meta = record.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    derived: list[str] = []
    warnings: list[str] = []
    used: set[str] = set()
    # the time: the first usable one among its keys (an unusable one is a warning when another is usable)
    moment: datetime | None = None
    problems: list[str] = []
    candidates = [(key, record.get(key)) for key in keys["timestamp"]]
    candidates.append(("meta.timestamp", meta.get("timestamp")))
    for key, value in candidates:
        if value is None:
            continue
        try:
            moment, aware = _time_of(value)
        except ContractError as exc:
            problems.append(str(exc) if key == "timestamp" else f"{key}: {exc}")
            continue
        if key != "timestamp":
            derived.append(f"timestamp<-{key}")
            if not key.startswith("meta."):
                used.add(key)
        if not aware and isinstance(value, str):
            derived.append("timestamp<-naive-utc")
        break
    if moment is None:
        if problems:
            raise ContractError(problems[0])
        raise ContractError("no time: none of " + ", ".join(keys["timestamp"]) + " is present")
    warnings += [f"unusable time ignored: {problem}" for problem in problems]

    values: dict[str, Any] = {}
    for name, kind, names in field_map.plan:
        value = record.get(name)
        if value is None:  # not under its own key: an alias, then meta
            for key in names:
                value = record.get(key)
                if value is not None:
                    used.add(key)
                    derived.append(f"{name}<-{key}")
                    break
            else:
                if name in META_FIELDS and meta.get(name) is not None:
                    value = meta[name]
                    derived.append(f"{name}<-meta.{name}")
        if value is None:
            values[name] = None
            continue
        if (kind == "string" and type(value) is str) or kind == "any":  # the common cases, first
            values[name] = value
        elif kind == "error":
            if isinstance(value, dict):
                values["error"] = value
            elif isinstance(value, str):
                values["error"] = {"message": value}
            else:
                warnings.append(
                    f"error must be an object or a string, not {json_type_name(value)} {_shown(value)}"
                )
                values["error"] = None
        else:
            if isinstance(value, str) and kind != "string":
                parsed = _from_text(kind, value)
                if parsed is not None:
                    value = parsed
            typed, problem = _typed(name, kind, value)
            if problem is not None:
                warnings.append(problem)
            values[name] = typed
    if values["tool"] is None and "tool" not in _warned(warnings):
        tool = derived_tool(path)
        if tool is not None:
            values["tool"] = tool
            derived.append("tool<-path")
    if values["exit_code"] is None and "exit_code" not in _warned(warnings) and values["ok"] is not None:
        values["exit_code"] = 0 if values["ok"] else 1
        derived.append("exit_code<-ok")
    return ReadRecord(moment, values, derived, warnings, extra_fields(record, used))


def extra_fields(record: dict[str, Any], used: Collection[str]) -> dict[str, Any]:
    """A decoded record's top-level keys that are neither known fields nor the aliases ``used`` (read as a
    field), with their values, in the record's order: its ``extra`` (the engine's per-line step shares it)."""
    return {key: value for key, value in record.items() if key not in FIELDS and key not in used}


def _warned(warnings: list[str]) -> set[str]:
    """The fields named by ``warnings`` (their first word)."""
    return {warning.split(" ", 1)[0] for warning in warnings}


def read_line(line: bytes, *, path: str | None = None, fields: FieldMap | None = None) -> ReadRecord:
    """Decode one physical line (with or without its ``\\n``) and read it under the reader contract.

    Raises ``ContractError`` with the reason when the line is too long, not UTF-8 JSON, not an object or has
    no usable time.
    """
    if len(line) - line.endswith(b"\n") > MAX_LINE_BYTES:
        raise ContractError(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"invalid JSON: {exc}") from None
    return read_record(record, path=path, fields=fields)

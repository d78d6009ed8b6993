"""The audit-log contract: field names and types of a record and of ``meta``, and ``check_record()``.

This module is the single source of truth shared by the writer (which produces records) and every reader
(the engine, the CLI, the terminal app, the writer's own ``audit-log`` subcommand). It imports only the
standard library and orjson, so that embedding the writer stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

__all__ = [
    "ENV_OPERATOR",
    "ENV_PARENT_REQUEST_ID",
    "ENV_TRACEPARENT",
    "ENV_TRACE_ID",
    "MAX_LINE_BYTES",
    "MAX_TRACE_ID_LENGTH",
    "META_FIELDS",
    "OPTIONAL_FIELDS",
    "REQUIRED_FIELDS",
    "SCHEMA_VERSION",
    "ContractError",
    "check_record",
    "format_timestamp",
    "json_type_name",
    "meta_of",
    "parse_line",
    "parse_timestamp",
    "tool_env_prefix",
    "utc_moment",
]

SCHEMA_VERSION: Final = 1

#: Required fields of a record and the Python types a decoded value must have.
#: ``bool`` is excluded from the numeric fields explicitly by ``check_record``.
REQUIRED_FIELDS: Final[dict[str, tuple[type, ...]]] = {
    "timestamp": (str,),
    "tool": (str,),
    "command": (str,),
    "params": (dict,),
    "exit_code": (int,),
    "duration_ms": (int, float),
    "request_id": (str,),
    "trace_id": (str,),
    "version": (str,),
    "operator": (str,),
}

#: Optional fields; when present they must have these types (``None`` is allowed for all of them).
OPTIONAL_FIELDS: Final[dict[str, tuple[type, ...]]] = {
    "ok": (bool,),
    "error": (dict,),
    "parent_request_id": (str,),
    "host": (str,),
    "pid": (int,),
    "schema_version": (int,),
    "truncated": (bool,),
}

#: Keys of ``meta`` in every JSON response of an instrumented tool, in this order.
META_FIELDS: Final = ("request_id", "trace_id", "duration_ms", "timestamp", "command", "version")

#: Environment variables of the propagation protocol.
ENV_TRACE_ID: Final = "TOOL_TRACE_ID"
ENV_PARENT_REQUEST_ID: Final = "TOOL_PARENT_REQUEST_ID"
ENV_TRACEPARENT: Final = "TRACEPARENT"
ENV_OPERATOR: Final = "TOOL_OPERATOR"

#: A caller-supplied trace id longer than this (or with control characters) is not used.
MAX_TRACE_ID_LENGTH: Final = 256

#: Readers reject physical lines longer than this many bytes (the writer caps records far below it).
MAX_LINE_BYTES: Final = 1 << 20

_TIMESTAMP_RE: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})\Z",
    re.ASCII,
)
_ENV_NAME_RE: Final = re.compile(r"[^A-Z0-9]")
_INT64_FIELDS: Final = ("exit_code", "pid", "schema_version")
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1


class ContractError(ValueError):
    """A line or record that does not satisfy the contract; ``str()`` is the human-readable reason."""


def tool_env_prefix(tool: str) -> str:
    """Return the tool-specific environment prefix: ``my-tool`` gives ``MY_TOOL``."""
    return _ENV_NAME_RE.sub("_", tool.upper())


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with microseconds and ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with any UTC offset into an aware UTC datetime.

    Fractions beyond microseconds are truncated. Raises ``ContractError`` on anything else: a reader must
    reject a record whose time it cannot place rather than guess.
    """
    match = _TIMESTAMP_RE.match(text)
    if match is None:
        raise ContractError(f"timestamp is not RFC 3339 with an offset: {text[:64]!r}")
    return utc_moment(text, *match.groups())


def utc_moment(
    text: str,
    year: str,
    month: str,
    day: str,
    hour: str,
    minute: str,
    second: str | None,
    fraction: str | None,
    offset: str | None,
) -> datetime:
    """The UTC instant of a matched time's parts (no offset: UTC); ``text`` only names it in errors.

    Fractions beyond microseconds are truncated; an offset past ``±23:59`` (RFC 3339's time-numoffset) and a
    date that does not exist or leaves years 1-9999 raise ``ContractError``. Shared by the writer contract
    (``parse_timestamp``) and the reader contract's wider forms.
    """
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=UTC
        )
    except ValueError as exc:
        raise ContractError(f"timestamp out of range: {text[:64]!r}") from exc
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "").ljust(4, "0")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ContractError(f"timestamp offset out of range: {text[:64]!r}")
        try:
            moment = moment - timedelta(minutes=sign * (hours * 60 + minutes))
        except OverflowError:
            raise ContractError(f"timestamp out of range: {text[:64]!r}") from None
    return moment


def check_record(record: Any) -> None:
    """Raise ``ContractError`` unless ``record`` is a dict satisfying the contract's types.

    Unknown fields are allowed and left alone.
    """
    if not isinstance(record, dict):
        raise ContractError(f"not a JSON object but {json_type_name(record)}")
    for name, types in REQUIRED_FIELDS.items():
        if name not in record:
            raise ContractError(f"required field {name!r} is missing")
        _check_type(name, record[name], types)
    for name, types in OPTIONAL_FIELDS.items():
        value = record.get(name)
        if value is not None:
            _check_type(name, value, types)
    if record["duration_ms"] < 0:
        raise ContractError("duration_ms is negative")
    for name in _INT64_FIELDS:
        value = record.get(name)
        if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
            raise ContractError(f"field {name!r} is outside the signed 64-bit range")
    parse_timestamp(record["timestamp"])


def parse_line(line: bytes) -> dict[str, Any]:
    """Decode one physical line (without or with its ``\\n``) into a contract-checked record.

    Raises ``ContractError`` with the reason when the line is not valid UTF-8 JSON, not an object, or breaks
    the contract.
    """
    if len(line) - line.endswith(b"\n") > MAX_LINE_BYTES:
        raise ContractError(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"invalid JSON: {exc}") from None
    check_record(record)
    return record  # type: ignore[no-any-return]


def meta_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``meta`` object that a JSON response carries for ``record``."""
    return {name: record[name] for name in META_FIELDS}


def _check_type(name: str, value: Any, types: tuple[type, ...]) -> None:
    if isinstance(value, bool) and bool not in types:
        raise ContractError(f"field {name!r} must be {_type_names(types)}, not boolean")
    if not isinstance(value, types):
        raise ContractError(f"field {name!r} must be {_type_names(types)}, not {json_type_name(value)}")


def _type_names(types: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", dict: "an object", bool: "a boolean"}
    if types == (int, float):
        return "a number"
    return " or ".join(names.get(t, t.__name__) for t in types)


def json_type_name(value: Any) -> str:
    """How a reason names a decoded JSON value's type: ``a string``, ``a number``, ``null``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

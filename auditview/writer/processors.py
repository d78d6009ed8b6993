"""The record pipeline: small composable steps with one signature, and the default serializer.

A processor is ``(invocation, record) -> record``; the auditor starts from ``{}`` and runs its chain in order,
then serializes the result with an injectable serializer (``orjson`` by default). Like structlog's processors,
each step does one thing and a tool can insert its own. Processors never touch files or the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from auditview.contract import ENV_OPERATOR, OPTIONAL_FIELDS, REQUIRED_FIELDS, SCHEMA_VERSION
from auditview.writer.context import Invocation
from auditview.writer.redact import Redactor, cap_record_size, redact_url_passwords

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "CapRecordSize",
    "Processor",
    "RedactParams",
    "RedactRecord",
    "Serializer",
    "add_extra_fields",
    "add_identity",
    "add_origin",
    "add_outcome",
    "default_processors",
    "default_serializer",
    "operator_name",
    "run_processors",
]

Processor = Callable[[Invocation, dict[str, Any]], dict[str, Any]]
Serializer = Callable[[dict[str, Any]], bytes]

DEFAULT_MAX_RECORD_BYTES: Final = 64 * 1024


def _fallback(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1
_MAX_DEPTH: Final = 64


def _coerce(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of what orjson refuses: huge ints, lone surrogates, odd keys, deep nesting."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _UINT64_MAX else str(value)
    if depth >= _MAX_DEPTH:
        return _coerce(repr(value)[:1000])
    if isinstance(value, dict):
        return {_coerce(str(k)): _coerce(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_coerce(v, depth + 1) for v in value]
    return _coerce(str(_fallback(value)))


def default_serializer(record: dict[str, Any]) -> bytes:
    """Compact JSON via orjson; non-string keys are stringified, unknown objects become ``str(obj)``.

    When orjson refuses a value (an integer beyond 64 bits, a lone surrogate, nesting deeper than orjson
    allows) the record is coerced to something JSON can carry instead of being lost.
    """
    try:
        return orjson.dumps(record, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return orjson.dumps(_coerce(record), default=_fallback, option=orjson.OPT_NON_STR_KEYS)


_operator_cache: str | None = None


def operator_name() -> str:
    """``TOOL_OPERATOR`` if set, else the OS user name (login variables, password database, uid)."""
    explicit = os.environ.get(ENV_OPERATOR)
    if explicit:
        return explicit
    global _operator_cache
    if _operator_cache is None:
        for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
            value = os.environ.get(name)
            if value:
                _operator_cache = value
                break
        else:
            try:
                import pwd

                _operator_cache = pwd.getpwuid(os.getuid()).pw_name
            except (ImportError, KeyError):
                _operator_cache = str(os.getuid())
    return _operator_cache


def add_identity(inv: Invocation, record: dict[str, Any]) -> dict[str, Any]:
    """Add timestamp, tool, command, request/trace/parent ids and version."""
    record["timestamp"] = inv.timestamp
    record["tool"] = inv.tool
    record["command"] = inv.command
    record["params"] = inv.params
    record["request_id"] = inv.request_id
    record["trace_id"] = inv.trace_id
    if inv.parent_request_id:
        record["parent_request_id"] = inv.parent_request_id
    record["version"] = inv.version
    return record


def add_outcome(inv: Invocation, record: dict[str, Any]) -> dict[str, Any]:
    """Add exit_code, ok, duration_ms and (when failed) error, URL passwords redacted from its message."""
    record["exit_code"] = inv.exit_code if inv.exit_code is not None else 0
    record["ok"] = record["exit_code"] == 0
    record["duration_ms"] = inv.duration_ms
    if inv.error is not None:
        record["error"] = {
            "type": str(inv.error.get("type", "Error")),
            "message": redact_url_passwords(str(inv.error.get("message", ""))),
        }
    return record


def add_origin(inv: Invocation, record: dict[str, Any]) -> dict[str, Any]:
    """Add operator, host, pid and schema_version."""
    record["operator"] = operator_name()
    record["host"] = os.uname().nodename
    record["pid"] = os.getpid()
    record["schema_version"] = SCHEMA_VERSION
    return record


def add_extra_fields(inv: Invocation, record: dict[str, Any]) -> dict[str, Any]:
    """Add the fields the tool attached with ``Invocation.annotate()``, never overriding contract fields."""
    for name, value in inv.extra.items():
        record.setdefault(name, value)
    return record


class RedactParams:
    """Replace ``params`` with its redacted copy (only params: the default chain uses ``RedactRecord``)."""

    __slots__ = ("redactor",)

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def __call__(self, inv: Invocation, record: dict[str, Any]) -> dict[str, Any]:
        record["params"] = self.redactor(record.get("params") or {})
        return record


#: Fields the pipeline itself fills; any other top-level field (annotations, a tool's processors) is redacted.
_CONTRACT_FIELDS: Final = frozenset(REQUIRED_FIELDS) | frozenset(OPTIONAL_FIELDS)


class RedactRecord:
    """Redact everything a secret can reach the record through: params, the error message and extra fields.

    ``params`` is redacted as a whole; ``error.message`` as text (a ``password=…`` or a token in an exception
    message); every field that is not a contract field (``annotate()`` fields, fields added by a tool's own
    processors) by its name and value, like a params entry.
    """

    __slots__ = ("redactor",)

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def __call__(self, inv: Invocation, record: dict[str, Any]) -> dict[str, Any]:
        redactor = self.redactor
        record["params"] = redactor(record.get("params") or {})
        error = record.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            record["error"] = {**error, "message": redactor.redact_text(error["message"])}
        for name in record.keys() - _CONTRACT_FIELDS:
            record[name] = redactor.redact_field(name, record[name])
        return record


class CapRecordSize:
    """Cut long values so the record fits ``max_bytes``; a cut record says ``"truncated": true``."""

    __slots__ = ("max_bytes", "serializer")

    def __init__(self, max_bytes: int, serializer: Serializer) -> None:
        self.max_bytes = max_bytes
        self.serializer = serializer

    def __call__(self, inv: Invocation, record: dict[str, Any]) -> dict[str, Any]:
        return cap_record_size(record, self.max_bytes, self.serializer)


def default_processors(redactor: Redactor, *, extra: Sequence[Processor] = ()) -> list[Processor]:
    """The standard chain; ``extra`` steps run after the built-in fields and before redaction (so the fields
    they add are redacted too).

    The size cap is not a step of this chain: the auditor applies it to the serialized line
    (``Auditor.render_line``), so a record is serialized once in the common case. ``CapRecordSize`` is there
    for custom chains.
    """
    return [
        add_identity,
        add_outcome,
        add_origin,
        add_extra_fields,
        *extra,
        RedactRecord(redactor),
    ]


def run_processors(processors: Sequence[Processor], inv: Invocation) -> dict[str, Any]:
    """Build the record of ``inv`` by running ``processors`` in order from an empty dict."""
    record: dict[str, Any] = {}
    for processor in processors:
        record = processor(inv, record)
    return record

"""The contracts as JSON Schema (2020-12) documents, for producers and validators in any language.

Three documents, built here from the Python contracts and shipped as ``auditview/schemas/<name>.schema.json``
(``python -m auditview.schema --write`` regenerates them; a test fails when they drift):

- ``writer``: a record as ``auditview.writer`` writes it (``contract.REQUIRED_FIELDS``/``OPTIONAL_FIELDS``,
  ``check_record``'s ranges);
- ``reader``: a line any producer may write that auditview reads as a record (``reader_contract``); its
  ``$defs/clean`` also requires every known field it names to be usable;
- ``meta``: the ``meta`` object of a JSON response (``contract.META_FIELDS``), with ``$defs/response``.

JSON Schema cannot say everything the Python contracts check; each document's ``description`` names what it
leaves out, and the tests exclude exactly those cases when they hold the schemas to the Python code.

Patterns use only syntax that ECMA-262 and Python's ``re`` read alike (``[0-9]``, not ``\\d``), and end in
``(?![\\s\\S])`` rather than ``$``, which in Python also matches before a final newline.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from importlib import resources
from typing import Any, Final

from auditview.contract import META_FIELDS, OPTIONAL_FIELDS, REQUIRED_FIELDS, SCHEMA_VERSION
from auditview.reader_contract import BUILTIN_ALIASES, FIELDS, TIME_KEYS

__all__ = [
    "DIALECT",
    "SCHEMA_NAMES",
    "WRITER_TIMESTAMP_PATTERN",
    "build_schema",
    "load_schema",
    "main",
    "schema_file",
    "schema_text",
]

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_NAMES: Final = ("writer", "reader", "meta")

_END: Final = r"(?![\s\S])"
_YEAR: Final = "(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
#: Month and day together, so that the day is in range for its month (February: up to 29 in every year).
_MONTH_DAY: Final = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-9]))"
)
_HOUR: Final = "(?:[01][0-9]|2[0-3])"
_MINUTE: Final = "[0-5][0-9]"

#: ``contract.parse_timestamp``: RFC 3339 with ``T``, ``t`` or a blank, seconds, 1-9 fraction digits and an
#: offset (``Z``, ``z``, ``+hh:mm`` or ``+hhmm``, hours up to 23).
WRITER_TIMESTAMP_PATTERN: Final = (
    f"^{_YEAR}-{_MONTH_DAY}[Tt ]{_HOUR}:{_MINUTE}:{_MINUTE}(?:\\.[0-9]{{1,9}})?"
    f"(?:[Zz]|[+-]{_HOUR}:?{_MINUTE}){_END}"
)

#: ``reader_contract.parse_time_text``: ISO 8601 / RFC 3339, blanks around, seconds optional, any fraction
#: (``.`` or ``,``), an offset ``Z``, ``+hh:mm``, ``+hhmm``, ``+hh`` or none.
_READER_TIME_PATTERN: Final = (
    f"^\\s*{_YEAR}-{_MONTH_DAY}[Tt ]{_HOUR}:{_MINUTE}(?::{_MINUTE}(?:[.,][0-9]+)?)?"
    f"\\s*(?:[Zz]|[+-]{_HOUR}(?::?{_MINUTE})?)?\\s*{_END}"
)
#: ``reader_contract``'s decimal text of a number (an epoch time, a duration written as text).
_NUMBER_TEXT_PATTERN: Final = f"^-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?{_END}"
_NON_NEGATIVE_TEXT_PATTERN: Final = f"^(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?{_END}"
_INTEGER_TEXT_PATTERN: Final = f"^-?(?:0|[1-9][0-9]*){_END}"

_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
_INT64_FIELDS: Final = ("exit_code", "pid", "schema_version")

_WRITER_DESCRIPTIONS: Final[dict[str, str]] = {
    "timestamp": "Start of the invocation, RFC 3339 with an offset (the writer: UTC, microseconds, Z).",
    "tool": "The tool's name.",
    "command": "The sub-command that ran (e.g. deploy, db migrate).",
    "params": "The invocation's parameters after redaction; {} when none.",
    "exit_code": "The process exit code the invocation ended with (Ctrl-C = 130).",
    "duration_ms": "Wall time from a monotonic clock, in milliseconds.",
    "request_id": "This invocation's id (the writer: req- and a UUIDv7).",
    "trace_id": "The trace this invocation belongs to, verbatim as supplied.",
    "version": "The tool's version.",
    "operator": "Who ran it: TOOL_OPERATOR, else the OS user name.",
    "ok": "exit_code == 0.",
    "error": "{type, message} when the invocation failed.",
    "parent_request_id": "The request that spawned this invocation.",
    "host": "Host name.",
    "pid": "Process id.",
    "schema_version": f"The contract's version ({SCHEMA_VERSION}).",
    "truncated": "True when long values were cut to respect the record size cap.",
}

_WRITER_DESCRIPTION: Final = (
    "A record of auditview's writer contract (auditview/contract.py: REQUIRED_FIELDS, OPTIONAL_FIELDS, "
    "check_record): one JSON object per line of an append-only audit log, one per invocation. Unknown "
    "fields are allowed; null is allowed for optional fields only. What this schema cannot express, and "
    "check_record does: (1) February 29 of a year that is not a leap year (the pattern allows day 29 in "
    "every February; it does check the days of every other month); (2) a time that its offset moves before "
    "0001-01-01 or after 9999-12-31 UTC (e.g. 0001-01-01T00:30:00+01:00); (3) JSON Schema counts 1.0 as an "
    "integer, check_record does not (exit_code, pid and schema_version must be written without a "
    "fraction). JSON itself has no NaN or Infinity, so duration_ms >= 0 is all there is to say about it."
)


def _json_type(types: tuple[type, ...]) -> str:
    if types == (int, float):
        return "number"
    names = {str: "string", int: "integer", float: "number", dict: "object", bool: "boolean"}
    (only,) = types
    return names[only]


def _writer_field(name: str, types: tuple[type, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": _WRITER_DESCRIPTIONS[name], "type": _json_type(types)}
    if name in _INT64_FIELDS:
        schema["minimum"] = _INT64_MIN
        schema["maximum"] = _INT64_MAX
    if name == "duration_ms":
        schema["minimum"] = 0
    if name == "timestamp":
        schema["pattern"] = WRITER_TIMESTAMP_PATTERN
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    result = dict(schema)
    result["type"] = [schema["type"], "null"]
    return result


def _writer_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, types in REQUIRED_FIELDS.items():
        properties[name] = _writer_field(name, types)
    for name, types in OPTIONAL_FIELDS.items():
        properties[name] = _nullable(_writer_field(name, types))
    return {
        "$schema": DIALECT,
        "$id": "urn:auditview:schema:writer",
        "title": "auditview writer contract: an audit record",
        "description": _WRITER_DESCRIPTION,
        "type": "object",
        "required": list(REQUIRED_FIELDS),
        "properties": properties,
    }


def _meta_schema() -> dict[str, Any]:
    properties = {name: _writer_field(name, REQUIRED_FIELDS[name]) for name in META_FIELDS}
    return {
        "$schema": DIALECT,
        "$id": "urn:auditview:schema:meta",
        "title": "auditview meta: the meta object of a JSON response",
        "description": (
            "The meta object every JSON response of an instrumented tool carries (auditview/contract.py "
            "META_FIELDS): the same values as the invocation's audit record, joined on request_id. Other "
            "keys are allowed (auditview's own commands add e.g. count). $defs/response is the envelope "
            '{"ok": ..., "data" or "error": ..., "meta": {...}}. The limits of the writer schema\'s '
            "timestamp pattern apply (February 29 of a non-leap year, offsets past year 1 or 9999)."
        ),
        "type": "object",
        "required": list(META_FIELDS),
        "properties": properties,
        "$defs": {
            "response": {
                "description": "A JSON response: ok, then data (success) or error (failure), and meta.",
                "type": "object",
                "required": ["ok", "meta"],
                "properties": {
                    "ok": {"type": "boolean"},
                    "error": {
                        "type": "object",
                        "required": ["type", "message"],
                        "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                    },
                    "meta": {"$ref": "#"},
                },
            }
        },
    }


_READER_KINDS: Final[dict[str, dict[str, Any]]] = {
    "string": {"type": "string"},
    "any": {},
    "integer": {
        "anyOf": [
            {"type": "integer", "minimum": _INT64_MIN, "maximum": _INT64_MAX},
            {"type": "string", "pattern": _INTEGER_TEXT_PATTERN},
        ]
    },
    "duration": {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": _NON_NEGATIVE_TEXT_PATTERN},
        ]
    },
    "boolean": {"anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]},
    "error": {"type": ["object", "string"]},
    "time": {"$ref": "#/$defs/time"},
}

_READER_DESCRIPTION: Final = (
    "A line of any producer's audit log that auditview reads as a record (auditview/reader_contract.py): "
    "a JSON object with a usable time under timestamp, ts, time or @timestamp, or under meta.timestamp. "
    "Valid here = a record; invalid = a reject (auditview rejects lists it). Every other field is "
    "optional: a known field with an unusable value costs the field (a warning), never the record, so the"
    " root does not type the fields; $defs/clean does (a record whose known fields, under their own keys,"
    " their aliases and meta, are all usable). What JSON Schema cannot express: alias precedence (a "
    "field's own key wins over --field mappings, the built-in aliases and meta, and the first usable time"
    " key wins; $defs/clean checks every key present, so it also rejects an unusable alias, later time "
    "key or meta value that the reader never looks at because an earlier key gave the field); --field "
    "mappings and fields.toml (only the built-in aliases are here); what is derived (tool from the file's"
    " path, exit_code from ok); calendar validity beyond the days of each month (February 29 of a "
    "non-leap year); the range an epoch number or an offset must keep the time within (years 1 to 9999); "
    "numbers written as text past the 64-bit integer or the float range; and the reader's whitespace rule"
    " for times, which is Python's (str.strip), approximated by \\s."
)


def _reader_field(name: str, kind: str) -> dict[str, Any]:
    return {"anyOf": [{"type": "null"}, _READER_KINDS[kind]]} if _READER_KINDS[kind] else {}


def _reader_schema() -> dict[str, Any]:
    time_ref = {"$ref": "#/$defs/time"}
    candidates: list[dict[str, Any]] = [
        {"required": [key], "properties": {key: time_ref}} for key in TIME_KEYS
    ]
    candidates.append(
        {
            "required": ["meta"],
            "properties": {
                "meta": {"type": "object", "required": ["timestamp"], "properties": {"timestamp": time_ref}}
            },
        }
    )
    clean: dict[str, Any] = {}
    for name, kind in FIELDS.items():
        if kind == "any":
            continue
        for key in (name, *BUILTIN_ALIASES.get(name, ())):
            clean[key] = _reader_field(name, kind)
    meta_fields = {name: _reader_field(name, FIELDS[name]) for name in META_FIELDS}
    clean["meta"] = {"properties": meta_fields}  # a meta that is no object is ignored by the reader
    return {
        "$schema": DIALECT,
        "$id": "urn:auditview:schema:reader",
        "title": "auditview reader contract: an audit-log line of any producer",
        "description": _READER_DESCRIPTION,
        "$ref": "#/$defs/record",
        "$defs": {
            "record": {
                "description": "A JSON object with a usable time (else the line is a reject).",
                "type": "object",
                "anyOf": candidates,
            },
            "clean": {
                "description": (
                    "A record whose known fields are all usable where they are present and not null: no "
                    "field warning (own keys, built-in aliases and meta alike; see the root's description)."
                ),
                "allOf": [{"$ref": "#/$defs/record"}],
                "properties": clean,
            },
            "time": {
                "description": (
                    "A usable time: ISO 8601 / RFC 3339 text (naive = UTC), an epoch number (below 1e11 "
                    "seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds) or its "
                    "decimal text."
                ),
                "anyOf": [
                    {"type": "string", "pattern": _READER_TIME_PATTERN},
                    {"type": "string", "pattern": _NUMBER_TEXT_PATTERN},
                    {"type": "number"},
                ],
            },
        },
    }


def build_schema(name: str) -> dict[str, Any]:
    """The schema document ``name`` (``writer``, ``reader`` or ``meta``), built from the Python contracts."""
    builders = {"writer": _writer_schema, "reader": _reader_schema, "meta": _meta_schema}
    if name not in builders:
        raise ValueError(f"unknown schema {name!r} (one of {', '.join(SCHEMA_NAMES)})")
    return builders[name]()


def schema_text(name: str) -> str:
    """``build_schema(name)`` as the shipped file holds it: 2-space indented JSON and a final newline."""
    return json.dumps(build_schema(name), indent=2, ensure_ascii=False) + "\n"


def schema_file(name: str) -> Any:
    """The shipped file of schema ``name`` (an ``importlib.resources`` traversable)."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r} (one of {', '.join(SCHEMA_NAMES)})")
    return resources.files("auditview").joinpath("schemas", f"{name}.schema.json")


def load_schema(name: str) -> dict[str, Any]:
    """The shipped schema document ``name``."""
    loaded: dict[str, Any] = json.loads(schema_file(name).read_text(encoding="utf-8"))
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m auditview.schema --write``: regenerate the shipped files; ``--check``: exit 1 on drift."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m auditview.schema", description=main.__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite auditview/schemas/*.schema.json")
    args = parser.parse_args(argv)
    directory = Path(__file__).parent / "schemas"
    drift = 0
    for name in SCHEMA_NAMES:
        path = directory / f"{name}.schema.json"
        text = schema_text(name)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.write:
            directory.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        else:
            print(f"{path}: differs from the contract", file=sys.stderr)
            drift += 1
    return 1 if drift else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Trace-id resolution and propagation to child processes.

Resolution, first match wins: the tool's ``--trace-id`` option, ``<TOOL>_TRACE_ID``, ``TOOL_TRACE_ID``, the
trace id of a valid W3C ``TRACEPARENT``, else a generated id (32 lowercase hex). A supplied value is kept
verbatim; one with control characters or longer than ``contract.MAX_TRACE_ID_LENGTH`` is not used (an id is
generated and the caller is told why). Propagation sets ``TOOL_TRACE_ID``, ``TOOL_PARENT_REQUEST_ID`` and a
consistent ``TRACEPARENT`` in ``os.environ`` and restores the previous values afterwards. This module prints
nothing; the auditor warns.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Final

from auditview.contract import (
    ENV_PARENT_REQUEST_ID,
    ENV_TRACE_ID,
    ENV_TRACEPARENT,
    MAX_TRACE_ID_LENGTH,
    tool_env_prefix,
)
from auditview.writer.ids import hashed_hex_id, new_trace_id, span_id_for

__all__ = [
    "EnvironmentPatch",
    "TraceResolution",
    "parse_traceparent",
    "propagation_environ",
    "resolve_trace_id",
    "trace_id_problem",
    "traceparent_for",
]

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
_TRACEPARENT: Final = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_HEX32: Final = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class TraceResolution:
    """The resolved trace id, its source, and why a supplied value was not used (``None`` if it was)."""

    trace_id: str
    source: str
    rejected: str | None = None


def trace_id_problem(value: str) -> str | None:
    """Say why ``value`` cannot be used as a trace id, or return ``None`` when it can."""
    if len(value) > MAX_TRACE_ID_LENGTH:
        return f"longer than {MAX_TRACE_ID_LENGTH} characters"
    if _CONTROL.search(value):
        return "contains control characters"
    return None


def parse_traceparent(value: str) -> str | None:
    """Return the trace id of a valid W3C ``traceparent`` header value, or ``None``."""
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id


def resolve_trace_id(
    tool: str, option: str | None = None, environ: Mapping[str, str] | None = None
) -> TraceResolution:
    """Resolve the trace id of an invocation of ``tool`` (``option`` is the value of its ``--trace-id``)."""
    env = os.environ if environ is None else environ
    tool_var = f"{tool_env_prefix(tool)}_TRACE_ID"
    candidates = [
        ("--trace-id", option),
        (tool_var, env.get(tool_var)),
        (ENV_TRACE_ID, env.get(ENV_TRACE_ID)),
    ]
    for source, value in candidates:
        if value is None or not value.strip():
            continue
        problem = trace_id_problem(value)
        if problem is not None:
            return TraceResolution(new_trace_id(), "generated", f"{source} {problem}")
        return TraceResolution(value, source)
    traceparent = env.get(ENV_TRACEPARENT)
    if traceparent:
        parsed = parse_traceparent(traceparent)
        if parsed is not None:
            return TraceResolution(parsed, ENV_TRACEPARENT)
    return TraceResolution(new_trace_id(), "generated")


def traceparent_for(trace_id: str, request_id: str) -> str:
    """Build the ``TRACEPARENT`` a child should see: this trace, with this request as the parent span.

    A trace id that is not 32 lowercase hex (e.g. ``test-123``) is mapped to one by a stable hash, so every
    process of the trace derives the same W3C trace id.
    """
    w3c = trace_id if _HEX32.match(trace_id) and trace_id != "0" * 32 else hashed_hex_id(trace_id, 16)
    return f"00-{w3c}-{span_id_for(request_id)}-01"


def propagation_environ(
    tool: str, trace_id: str, request_id: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """The variables a child process must inherit to join this invocation's trace.

    ``<TOOL>_TRACE_ID`` is included only when it is already set (it would otherwise win over ``TOOL_TRACE_ID``
    in a child of the same tool and split the trace).
    """
    patch = {
        ENV_TRACE_ID: trace_id,
        ENV_PARENT_REQUEST_ID: request_id,
        ENV_TRACEPARENT: traceparent_for(trace_id, request_id),
    }
    tool_var = f"{tool_env_prefix(tool)}_TRACE_ID"
    if tool_var in environ:
        patch[tool_var] = trace_id
    return patch


class EnvironmentPatch:
    """Set some environment variables and put the previous values (or absence) back on ``restore()``."""

    __slots__ = ("_environ", "_saved")

    def __init__(self, values: Mapping[str, str], environ: MutableMapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._saved = {name: self._environ.get(name) for name in values}
        self._environ.update(values)

    def restore(self) -> None:
        """Put back what was there before; safe to call more than once."""
        for name, value in self._saved.items():
            if value is None:
                self._environ.pop(name, None)
            else:
                self._environ[name] = value
        self._saved = {}

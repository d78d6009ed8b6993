"""The JSON response of an audited command: ``{"ok", "data" | "error", "meta"}``, printed in one call.

``respond(data, output=args.output)`` inside an audited invocation (``run_command``'s handler, a click command
of an ``AuditedGroup``, or a ``with auditor.invocation(...)`` block) prints, for ``-o json``::

    {"ok": true, "data": {...}, "meta": {"request_id": ..., "trace_id": ..., "duration_ms": ..., ...}}
    {"ok": false, "error": {"type": "VerifyFailed", "message": "..."}, "meta": {...}}

(``data`` on success, ``error`` instead when the invocation failed), and for any other output the ``text``
given (or ``data`` rendered as indented JSON). ``error=`` records the
failure in the invocation too (``inv.fail``), so the response and the audit record agree; ``meta`` freezes the
duration so both carry the same number. It returns the exit code (0, or the invocation's non-zero code). This
module imports only the standard library and orjson.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Final, TextIO

import orjson

from auditview.writer.context import Invocation, current_invocation

__all__ = ["OUTPUT_CHOICES", "envelope", "respond"]

#: The values of the ``-o/--output`` option the adapters add (``add_output_option``, ``output_option``).
OUTPUT_CHOICES: Final = ("text", "json")

_JSON_OPTS: Final = orjson.OPT_NON_STR_KEYS


def _error_body(error: BaseException | Mapping[str, Any] | str, error_type: str) -> dict[str, str]:
    if isinstance(error, BaseException):
        return {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, Mapping):
        return {
            "type": str(error.get("type") or error_type),
            "message": str(error.get("message", "")),
        }
    return {"type": error_type, "message": str(error)}


def envelope(inv: Invocation, data: Any = None) -> dict[str, Any]:
    """The response of ``inv`` as a dict: ``{"ok": true, "data": data, "meta"}`` on success, ``{"ok": false,
    "error": {"type", "message"}, "meta"}`` when the invocation failed; ``meta`` freezes the duration."""
    ok = inv.error is None and not inv.exit_code
    body: dict[str, Any] = {"ok": ok}
    if ok:
        body["data"] = data
    elif inv.error is not None:
        body["error"] = dict(inv.error)
    else:
        body["error"] = {"type": "Error", "message": f"exit code {inv.exit_code}"}
    body["meta"] = inv.meta()
    return body


def respond(
    data: Any = None,
    *,
    output: str | None = "json",
    text: str | None = None,
    error: BaseException | Mapping[str, Any] | str | None = None,
    error_type: str = "Error",
    exit_code: int = 1,
    inv: Invocation | None = None,
    stream: TextIO | None = None,
) -> int:
    """Print the response of the current invocation and return its exit code.

    ``output="json"`` prints the envelope on one line; anything else prints ``text`` (default: ``data`` as
    indented JSON, a string as itself) and, on failure, ``error: <message>`` on stderr. ``error`` (an
    exception, ``{"type", "message"}`` or a message with ``error_type``) marks the invocation failed with
    ``exit_code`` first. ``inv`` defaults to the running invocation; outside one this raises ``RuntimeError``.
    """
    inv = inv if inv is not None else current_invocation()
    if inv is None:
        raise RuntimeError("respond() called outside an audited invocation")
    if error is not None:
        body = _error_body(error, error_type)
        inv.fail(body["message"], error_type=body["type"], exit_code=exit_code)
    out = stream if stream is not None else sys.stdout
    if output == "json":
        line = orjson.dumps(envelope(inv, data), default=str, option=_JSON_OPTS).decode()
        out.write(line + "\n")
    else:
        inv.freeze()
        if text is None and data is not None:
            text = (
                data
                if isinstance(data, str)
                else orjson.dumps(data, default=str, option=_JSON_OPTS | orjson.OPT_INDENT_2).decode()
            )
        if text is not None:
            out.write(text + ("" if text.endswith("\n") else "\n"))
        if inv.error is not None:
            sys.stderr.write(f"error: {inv.error.get('message', '')}\n")
            sys.stderr.flush()
    out.flush()
    ok = inv.error is None and not inv.exit_code
    return 0 if ok else (inv.exit_code or 1)

"""``auditview.writer``: the audit writer that any Python command-line tool embeds.

Public API::

    from auditview.writer import Auditor
    auditor = Auditor(tool="mytool", version="1.2.0")
    with auditor.invocation("deploy", params={"env": "prod"}, trace_id=args.trace_id) as inv:
        ...
        print(json.dumps({"ok": True, "meta": inv.meta()}))

Importing this package loads only the standard library and orjson (a subprocess test checks it): the argparse
and click adapters and the ``audit-log`` reader (which needs pendulum) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditview.writer.auditor import Auditor, InvocationScope, default_log_path
from auditview.writer.context import (
    Invocation,
    current_invocation,
    current_request_id,
    current_trace_id,
    exit_code_for,
)
from auditview.writer.ids import new_request_id, new_trace_id
from auditview.writer.processors import Processor, Serializer, default_serializer
from auditview.writer.redact import REDACTED, RedactionRule, Redactor
from auditview.writer.sink import AuditWriteError, FileSink
from auditview.writer.trace import TraceResolution, resolve_trace_id

if TYPE_CHECKING:
    from auditview.writer.argparse_support import add_audit_log_command, add_trace_id_option, run_command
    from auditview.writer.testing import capture_records

__all__ = [
    "REDACTED",
    "AuditWriteError",
    "Auditor",
    "FileSink",
    "Invocation",
    "InvocationScope",
    "Processor",
    "RedactionRule",
    "Redactor",
    "Serializer",
    "TraceResolution",
    "add_audit_log_command",
    "add_trace_id_option",
    "capture_records",
    "current_invocation",
    "current_request_id",
    "current_trace_id",
    "default_log_path",
    "default_serializer",
    "exit_code_for",
    "new_request_id",
    "new_trace_id",
    "resolve_trace_id",
    "run_command",
]

_LAZY = {
    "add_audit_log_command": "auditview.writer.argparse_support",
    "add_trace_id_option": "auditview.writer.argparse_support",
    "run_command": "auditview.writer.argparse_support",
    "capture_records": "auditview.writer.testing",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'auditview.writer' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value

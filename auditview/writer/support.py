"""What the argparse and click adapters share: the record of a usage error, and the child probe.

**Usage errors.** A call the tool's parser rejects (a missing required option, an unknown option or command:
exit 2) never reaches the command, yet an agent that called the tool wrongly must find that call in the audit
log too. ``record_usage_error`` writes its record: ``exit_code`` 2, ``error`` ``{"type": "UsageError",
"message": <the parser's message>}``, ``params`` ``{"argv": [...]}`` (redacted like any params), the trace id
of a ``--trace-id`` in argv or the environment, and as ``command`` the sub-command whose parser rejected the
call (``deploy``, ``db migrate``), or ``main`` when the top level did (no or an unknown sub-command).

**The child probe.** ``auditview check`` shows that a tool's child processes see the trace by running it with
``AUDITVIEW_CHILD_PROBE=<path>``: the tool starts one child process, in the environment its children get, that
writes that environment's ``TOOL_TRACE_ID`` (with ``TOOL_PARENT_REQUEST_ID`` and ``TRACEPARENT`` when set) to
``<path>``, as a JSON object or ``NAME=value`` lines, creating the file (never overwriting one). The adapters
do it at the start of each audited command; a tool in another language does the same, e.g. with
``sh -c 'env | grep "^TOOL_" > "$AUDITVIEW_CHILD_PROBE"'`` from where it runs its children. Without the
variable nothing happens. This module imports only the standard library.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from auditview.writer.auditor import Auditor

__all__ = [
    "ENV_CHILD_PROBE",
    "PROBE_VARIABLES",
    "USAGE_EXIT_CODE",
    "record_usage_error",
    "run_child_probe",
    "trace_option_in",
]

#: The variable naming the file a tool's child writes its trace variables to (see the module docstring).
ENV_CHILD_PROBE: Final = "AUDITVIEW_CHILD_PROBE"
#: What the probe child reports.
PROBE_VARIABLES: Final = ("TOOL_TRACE_ID", "TOOL_PARENT_REQUEST_ID", "TRACEPARENT")
#: The exit code of a usage error (argparse's and click's).
USAGE_EXIT_CODE: Final = 2
#: The command recorded for a usage error the top-level parser reported.
TOP_LEVEL_COMMAND: Final = "main"

_PROBE_CODE: Final = (
    "import json, os, sys\n"
    f"names = {PROBE_VARIABLES!r}\n"
    "data = {name: os.environ[name] for name in names if name in os.environ}\n"
    "flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0)\n"
    "fd = os.open(sys.argv[1], flags, 0o600)\n"
    "os.write(fd, json.dumps(data).encode())\n"
    "os.close(fd)\n"
)


def trace_option_in(argv: Sequence[str], option: str = "--trace-id") -> str | None:
    """The value of ``--trace-id ID`` / ``--trace-id=ID`` in ``argv`` (before any ``--``), or ``None``."""
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == option and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(option + "="):
            return arg[len(option) + 1 :]
    return None


def record_usage_error(auditor: Auditor, command: str, argv: Sequence[str], message: str) -> None:
    """Append the record of a call the parser rejected (exit 2, error type ``UsageError``); never raises."""
    try:
        trace_id = trace_option_in(argv)
        with auditor.invocation(command, {"argv": list(argv)}, trace_id=trace_id) as inv:
            inv.fail(message, error_type="UsageError", exit_code=USAGE_EXIT_CODE)
    except Exception as exc:  # the tool's own usage message and exit code come first
        auditor.warn(f"usage error not recorded: {type(exc).__name__}: {exc}")


def run_child_probe() -> bool:
    """If ``AUDITVIEW_CHILD_PROBE`` is set, run the probe child once (then unset it); True when it ran.

    Call it inside an invocation (the trace variables are set then). Failures are ignored: a probe must
    never change what the tool does.
    """
    path = os.environ.pop(ENV_CHILD_PROBE, "")
    if not path or not sys.executable:
        return False
    import subprocess  # only when probed: tools start without it

    try:
        completed = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _PROBE_CODE, path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return completed.returncode == 0

"""argparse adapters: a ``--trace-id`` option, ``run_command()`` and a one-line ``audit-log`` mount.

Usage::

    parser = argparse.ArgumentParser(prog="mytool")
    add_trace_id_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    deploy = sub.add_parser("deploy"); deploy.add_argument("--env"); deploy.set_defaults(handler=do_deploy)
    add_audit_log_command(sub, auditor)                    # `mytool audit-log ...` now works
    args = parser.parse_args(argv)
    return run_command(auditor, args, args.handler)        # handler(args, inv) -> exit code

This module imports argparse (standard library) and nothing else heavy; the ``audit-log`` reader loads on use.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, cast

from auditview.writer.auditor import Auditor
from auditview.writer.context import Invocation

__all__ = ["add_audit_log_command", "add_trace_id_option", "params_from_args", "run_command"]

_AUDIT_LOG_HELP = "show this tool's audit log (audit-log -h for options)"


def add_trace_id_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--trace-id ID`` (it wins over ``<TOOL>_TRACE_ID``, ``TOOL_TRACE_ID`` and ``TRACEPARENT``)."""
    parser.add_argument(
        "--trace-id", metavar="ID", default=None, help="trace id to record (default: from the environment)"
    )


class _AuditLogParser(argparse.ArgumentParser):
    """A sub-parser that runs the audit-log command on everything after ``audit-log`` and exits."""

    _auditview_auditor: Auditor

    def parse_known_args(  # type: ignore[override]
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> NoReturn:
        raise SystemExit(self._auditview_auditor.audit_log_main(list(args or []), prog=self.prog))


def add_audit_log_command(
    subparsers: argparse._SubParsersAction[Any], auditor: Auditor, *, name: str = "audit-log"
) -> argparse.ArgumentParser:
    """Mount ``<tool> audit-log [...]`` on an argparse tool in one line.

    When argparse reaches the sub-command, the audit-log command runs and the process exits with its code
    (``SystemExit``), so the tool's own dispatch never sees it.
    """
    parser = subparsers.add_parser(name, help=_AUDIT_LOG_HELP, add_help=False)
    parser.__class__ = _AuditLogParser
    mounted = cast(_AuditLogParser, parser)
    mounted._auditview_auditor = auditor
    return mounted


def params_from_args(args: argparse.Namespace, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The params of an invocation: the parsed arguments minus callables, ``trace_id`` and ``exclude``."""
    skip = {"trace_id", *exclude}
    return {k: v for k, v in vars(args).items() if k not in skip and not callable(v)}


def run_command(
    auditor: Auditor,
    args: argparse.Namespace,
    handler: Callable[[argparse.Namespace, Invocation], int | None],
    *,
    command: str | None = None,
    command_dest: str = "command",
    exclude: Iterable[str] = (),
) -> int:
    """Run ``handler(args, inv)`` as one audited invocation and return its exit code.

    The command name is ``command``, else ``args.<command_dest>``; params are ``params_from_args(args)``
    without the command itself; ``args.trace_id`` (from ``add_trace_id_option``) is the ``--trace-id`` value.
    """
    name = command or str(getattr(args, command_dest, None) or handler.__name__)
    params = params_from_args(args, exclude=(command_dest, *exclude))
    option = getattr(args, "trace_id", None)
    with auditor.invocation(name, params, trace_id=option if isinstance(option, str) else None) as inv:
        result = handler(args, inv)
        if result is not None:
            inv.exit_code = int(result)
        elif inv.exit_code is None:
            inv.exit_code = 0
    return inv.exit_code if inv.exit_code is not None else 0

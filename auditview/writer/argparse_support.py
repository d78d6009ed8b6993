"""argparse adapters: ``--trace-id`` and ``-o`` options, audited parsing and running, one-line ``audit-log``.

Usage::

    def do_deploy(args, inv):
        return respond({"env": args.env}, output=args.output)   # {"ok", "data", "meta"} with -o json

    parser = argparse.ArgumentParser(prog="mytool")
    add_trace_id_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    deploy = sub.add_parser("deploy"); deploy.add_argument("--env", required=True)
    add_output_option(deploy); deploy.set_defaults(handler=do_deploy)
    add_audit_log_command(sub, auditor)                    # `mytool audit-log ...` now works
    args = parse_args(auditor, parser, argv)               # a usage error (exit 2) is recorded too
    return run_command(auditor, args, args.handler)        # handler(args, inv) -> exit code

This module imports argparse (standard library) and nothing else heavy; the ``audit-log`` reader loads on use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn, cast

from auditview.writer.auditor import Auditor
from auditview.writer.context import Invocation
from auditview.writer.response import OUTPUT_CHOICES, respond
from auditview.writer.support import TOP_LEVEL_COMMAND, record_usage_error, run_child_probe

__all__ = [
    "add_audit_log_command",
    "add_output_option",
    "add_trace_id_option",
    "params_from_args",
    "parse_args",
    "respond",
    "run_command",
]

_AUDIT_LOG_HELP = "show this tool's audit log (audit-log -h for options)"


def add_trace_id_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--trace-id ID`` (it wins over ``<TOOL>_TRACE_ID``, ``TOOL_TRACE_ID`` and ``TRACEPARENT``)."""
    parser.add_argument(
        "--trace-id", metavar="ID", default=None, help="trace id to record (default: from the environment)"
    )


def add_output_option(parser: argparse.ArgumentParser, *, default: str = "text") -> None:
    """Add ``-o/--output text|json`` (``args.output``), for ``respond(data, output=args.output)``."""
    parser.add_argument(
        "-o", "--output", choices=OUTPUT_CHOICES, default=default, help=f"output format (default: {default})"
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


def _subparsers_of(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _parser_tree(
    parser: argparse.ArgumentParser, path: str = TOP_LEVEL_COMMAND
) -> Iterator[tuple[argparse.ArgumentParser, str]]:
    """``(parser, command)`` for ``parser`` and every sub-parser below it (aliases once, under the name)."""
    yield parser, path
    action = _subparsers_of(parser)
    if action is None:
        return
    seen: set[int] = set()
    for name, sub in action.choices.items():
        if id(sub) in seen or isinstance(sub, _AuditLogParser):
            continue
        seen.add(id(sub))
        yield from _parser_tree(sub, name if path == TOP_LEVEL_COMMAND else f"{path} {name}")


def _command_in(parser: argparse.ArgumentParser, argv: Sequence[str], commands: dict[int, str]) -> str:
    """The deepest sub-command named in ``argv`` (for an error of the top-level parser), else ``main``."""
    current, command = parser, TOP_LEVEL_COMMAND
    for arg in argv:
        if arg == "--":
            break
        action = _subparsers_of(current)
        if action is None:
            break
        sub = action.choices.get(arg)
        if sub is not None and id(sub) in commands:
            current, command = sub, commands[id(sub)]
    return command


def parse_args(
    auditor: Auditor,
    parser: argparse.ArgumentParser,
    args: Sequence[str] | None = None,
    namespace: argparse.Namespace | None = None,
) -> argparse.Namespace:
    """``parser.parse_args(args)``, and a call it rejects (exit 2) is recorded before argparse exits.

    The record has ``exit_code`` 2, ``error`` ``{"type": "UsageError", "message": <argparse's message>}``,
    ``params`` ``{"argv": [...]}`` and as ``command`` the sub-command whose parser rejected the call, or
    ``main`` for the top level. ``--help`` and ``--version`` (exit 0) are not recorded.
    """
    argv = list(sys.argv[1:] if args is None else args)
    tree = list(_parser_tree(parser))
    commands = {id(sub): command for sub, command in tree}
    hooked: list[tuple[argparse.ArgumentParser, Any]] = []

    def hook(sub: argparse.ArgumentParser, command: str) -> Callable[[str], NoReturn]:
        original = sub.error

        def error(message: str) -> NoReturn:
            where = _command_in(parser, argv, commands) if sub is parser else command
            record_usage_error(auditor, where, argv, message)
            original(message)

        return error

    for sub, command in tree:
        hooked.append((sub, vars(sub).get("error")))
        sub.error = hook(sub, command)  # type: ignore[method-assign,assignment]
    try:
        return parser.parse_args(argv, namespace)
    finally:
        for sub, previous in hooked:
            if previous is None:
                del sub.error
            else:
                sub.error = previous  # type: ignore[method-assign]


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
    Under ``AUDITVIEW_CHILD_PROBE`` (``auditview check``) the child probe runs first (``support``).
    """
    name = command or str(getattr(args, command_dest, None) or handler.__name__)
    params = params_from_args(args, exclude=(command_dest, *exclude))
    option = getattr(args, "trace_id", None)
    with auditor.invocation(name, params, trace_id=option if isinstance(option, str) else None) as inv:
        run_child_probe()
        result = handler(args, inv)
        if result is not None:
            inv.exit_code = int(result)
        elif inv.exit_code is None:
            inv.exit_code = 0
    return inv.exit_code if inv.exit_code is not None else 0

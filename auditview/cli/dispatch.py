"""Running one ``auditview`` command: parse, resolve the shared options, dispatch, render failures, audit.

Dispatch is manual on the first argument: a subcommand name runs that command (``auditview.cli.commands``,
each module imported only when its command runs); anything else (nothing, an option, a path) belongs to the
terminal app, so that ``auditview sample_logs/`` and ``auditview --since 1h`` open the app, which the caller
opens through ``open_app`` (the CLI never imports the app). Every invocation appends its own record through
``auditview.writer`` (tool name ``auditview``); a failure is exit code, stderr and, under ``-o json``, the
``{"ok": false}`` envelope, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Final

from auditview import __version__
from auditview.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from auditview.cli.output import Run, is_tty, prescan_output, report_error, stderr
from auditview.cli.parser import DEFAULT_SLOW, SUBCOMMANDS, HelpShown, build_parser

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from auditview.launch import AppLauncher
    from auditview.writer.context import Invocation

__all__ = ["main"]

#: The module of ``auditview.cli.commands`` that runs each command (its function ``execute``).
_COMMAND_MODULES: Final[dict[str, str]] = {
    "app": "app",
    "export": "export",
    "traces": "traces",
    "trace": "trace",
    "diff": "diff",
    "report": "report",
    "stats": "stats",
    "rejects": "rejects",
    "audit-log": "audit_log",
    "cache": "cache",
    "check": "check",
    "schema": "schema",
}


def _command(name: str) -> Callable[[Run], int]:
    """The function that runs command ``name``, its module imported now."""
    module = importlib.import_module(f"auditview.cli.commands.{_COMMAND_MODULES[name]}")
    execute: Callable[[Run], int] = module.execute
    return execute


def _mistyped_command(arg: str) -> str | None:
    """The subcommand ``arg`` is probably a typo of (``trcaes`` -> ``traces``), or ``None``.

    Only for a first argument that cannot be meant for the app: not an option, not an existing path, no ``/``
    and no glob character, and close to one command name (``difflib``, ratio >= 0.6).
    """
    if not arg or arg.startswith("-") or "/" in arg or any(ch in arg for ch in "*?[") or os.path.lexists(arg):
        return None
    import difflib

    close = difflib.get_close_matches(arg.lower(), SUBCOMMANDS, n=1, cutoff=0.6)
    return close[0] if close else None


def main(argv: list[str], *, open_app: AppLauncher) -> int:
    """Run ``auditview`` with ``argv`` (the arguments after the program name) and return the exit code.

    ``open_app`` runs the terminal app with the options of a run without subcommand.
    """
    args = list(argv)
    command = args[0] if args and args[0] in SUBCOMMANDS else "app"
    rest = args[1:] if command != "app" else args
    from auditview.core.allocator import configure_allocator

    # Before polars is imported: freed memory goes back to the system soon (see allocator.ALLOCATOR_CONF; cold
    # export of 1M records: peak 272 -> 224 MB in the same time).
    configure_allocator()
    try:
        suggestion = _mistyped_command(args[0]) if command == "app" and args else None
        if suggestion is not None:
            raise CliError(
                f"unknown command {args[0]!r} (and no such file or directory): did you mean {suggestion!r}?"
                f" (commands: {', '.join(SUBCOMMANDS)})",
                exit_code=EXIT_USAGE,
                error_type="UsageError",
                extra={"suggestion": suggestion},
            )
        ns = build_parser(command).parse_args(rest)
    except HelpShown as shown:
        return shown.status
    except CliError as error:
        with _Invocation(command, {"argv": args}) as inv:
            meta = inv.meta() if inv is not None else {}
            report_error(error, output=prescan_output(rest), command=command, meta=meta)
            if inv is not None:
                inv.fail(error.message, error_type=error.error_type, exit_code=error.exit_code)
        return error.exit_code

    default = "jsonl" if command == "export" or not is_tty(sys.stdout) else "table"
    output = getattr(ns, "output", None) or default
    with _Invocation(command, _params_of(ns)) as inv:
        run = Run(command=command, ns=ns, output=output, inv=inv, open_app=open_app)
        code = EXIT_OK
        try:
            _resolve_options(run)
            code = _command(command)(run)
            run.stdout.flush()
            for note in run.notes:  # after the output, where a human reading a table sees it
                stderr(note)
        except CliError as error:
            report_error(error, output=output, command=command, meta=run.meta())
            code = error.exit_code
            if inv is not None:
                inv.fail(error.message, error_type=error.error_type, exit_code=code)
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly; keep the interpreter from complaining at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            code = EXIT_OK
        except KeyboardInterrupt:
            code = 130
            if inv is not None:
                inv.fail("interrupted", error_type="KeyboardInterrupt", exit_code=code)
        except Exception as exc:  # anything else is exit 1 with the reason, never a traceback for users
            failure = CliError(
                f"{type(exc).__name__}: {exc}", exit_code=EXIT_FAILURE, error_type=type(exc).__name__
            )
            report_error(failure, output=output, command=command, meta=run.meta())
            code = EXIT_FAILURE
            if inv is not None:
                inv.fail(str(exc), error_type=type(exc).__name__, exit_code=code)
            if os.environ.get("AUDITVIEW_DEBUG"):
                raise
        if inv is not None:
            inv.exit_code = code
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()
    return code


class _Invocation:
    """The writer's invocation for this run, or ``None`` when the writer cannot be set up (never fatal)."""

    def __init__(self, command: str, params: dict[str, object]) -> None:
        self._command = command
        self._params = params
        self._cm: AbstractContextManager[Invocation] | None = None

    def __enter__(self) -> Invocation | None:
        try:
            from auditview.writer import Auditor

            auditor = Auditor(tool="auditview", version=__version__)
            self._cm = auditor.invocation(self._command, params=self._params)
            inv: Invocation = self._cm.__enter__()
        except Exception as exc:  # the CLI works without its own audit trail
            stderr(f"auditview: warning: cannot record this invocation: {exc}")
            self._cm = None
            return None
        return inv

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if self._cm is None:
            return False
        return bool(self._cm.__exit__(exc_type, exc, traceback))


def _params_of(ns: argparse.Namespace) -> dict[str, object]:
    """The options worth recording: everything set to a non-default, non-empty value."""
    params: dict[str, object] = {}
    for key, value in vars(ns).items():
        if value is None or value is False or value == "" or value == []:
            continue
        if key == "slow" and value == DEFAULT_SLOW:
            continue
        params[key] = value
    return params


def _resolve_fields(run: Run) -> None:
    """Put ``--field`` mappings where every reader of this run finds them (``AUDITVIEW_FIELDS``: the app's
    indexer is another process) and check them with the config file's (exit 2 on a bad one)."""
    from auditview.reader_contract import (
        ENV_FIELDS,
        active_field_map,
        parse_field_option,
        reset_active_field_map,
    )

    texts = getattr(run.ns, "field", None) or []
    try:
        parse_field_option(texts)
        if texts:
            os.environ[ENV_FIELDS] = "\n".join(
                [*texts, *filter(None, os.environ.get(ENV_FIELDS, "").split("\n"))]
            )
        reset_active_field_map()
        active_field_map()
    except ValueError as exc:
        raise CliError(str(exc), exit_code=EXIT_USAGE, error_type="UsageError") from None


def _resolve_options(run: Run) -> None:
    """Parse WHEN, DURATION and FIELD options (exit 2 on a bad one) before any file is read."""
    ns = run.ns
    _resolve_fields(run)
    since_text = getattr(ns, "since", None)
    until_text = getattr(ns, "until", None)
    slow_text = getattr(ns, "slow", None)
    if since_text is None and until_text is None and slow_text in (None, DEFAULT_SLOW):
        return
    from auditview.text.timeparse import TimeParseError, parse_duration_ms, parse_when

    try:
        if since_text is not None:
            run.since = parse_when(since_text)
        if until_text is not None:
            run.until = parse_when(until_text)
        if slow_text is not None:
            run.slow_ms = parse_duration_ms(slow_text, default_unit="ms")
    except TimeParseError as exc:
        raise CliError(str(exc), exit_code=EXIT_USAGE, error_type="TimeParseError") from None
    if run.since is not None and run.until is not None and run.until < run.since:
        raise CliError("--until is before --since", exit_code=EXIT_USAGE, error_type="UsageError")

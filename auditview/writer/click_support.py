"""click adapters: an audited group class, ``--trace-id`` and ``-o`` options, ``respond`` and ``audit-log``.

Usage::

    @click.group(cls=AuditedGroup, auditor=auditor)
    def cli() -> None: ...

    @cli.command()
    @click.option("--env", required=True)
    @trace_id_option()
    @output_option()
    def deploy(env: str, trace_id: str | None, output: str) -> None:
        respond({"env": env}, output=output)        # {"ok", "data", "meta"} with -o json

    cli.add_command(audit_log_command(auditor))     # `mytool audit-log ...`, a click command

Every command added to an ``AuditedGroup`` (nested groups included) runs inside ``auditor.invocation()`` with
its parsed parameters as params; a call click rejects (a missing option, an unknown command: exit 2) is
recorded too, with error type ``UsageError`` (``auditview.writer.support``). ``ctx.exit(n)`` records exit code
``n`` without an error. This is the only writer module that imports click; ``auditview.writer`` never
imports it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import click

from auditview.writer import response
from auditview.writer.auditor import Auditor
from auditview.writer.context import current_invocation
from auditview.writer.support import TOP_LEVEL_COMMAND, record_usage_error, run_child_probe

__all__ = [
    "AuditedGroup",
    "audit_command",
    "audit_log_command",
    "current_meta",
    "output_option",
    "respond",
    "trace_id_option",
]

_TRACE_PARAM: Final = "trace_id"
_ARGV_KEY: Final = "auditview.argv"
_RECORDED: Final = "_auditview_recorded"


def trace_id_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--trace-id ID``: wins over ``<TOOL>_TRACE_ID``, ``TOOL_TRACE_ID`` and ``TRACEPARENT``."""
    return click.option(
        "--trace-id", _TRACE_PARAM, default=None, metavar="ID", help="Trace id to record (default: from env)."
    )


def output_option(default: str = "text") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-o/--output text|json`` (parameter ``output``), for ``respond(data, output=output)``."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(response.OUTPUT_CHOICES),
        default=default,
        show_default=True,
        help="Output format.",
    )


def respond(
    data: Any = None,
    *,
    output: str | None = "json",
    text: str | None = None,
    error: BaseException | Mapping[str, Any] | str | None = None,
    error_type: str = "Error",
    exit_code: int = 1,
) -> None:
    """Print the response of the running audited command (``auditview.writer.response.respond``) and, when
    it failed, end the command with its exit code (``ctx.exit``: click ignores a command's return value)."""
    code = response.respond(
        data, output=output, text=text, error=error, error_type=error_type, exit_code=exit_code
    )
    if code:
        click.get_current_context().exit(code)


def current_meta() -> dict[str, Any]:
    """``meta`` of the running audited command, for its JSON response (freezes the recorded duration)."""
    inv = current_invocation()
    if inv is None:
        raise RuntimeError("current_meta() called outside an audited command")
    return inv.meta()


def _command_name(ctx: click.Context) -> str:
    parts = ctx.command_path.split(" ")
    return " ".join(parts[1:]) if len(parts) > 1 else (ctx.info_name or "main")


def audit_command(auditor: Auditor) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator (innermost, right above ``def``) that runs a click callback as one audited invocation.

    Params are the callback's keyword arguments without ``trace_id``; an ``int`` return value is the exit code
    recorded (click itself ignores return values in standalone mode). ``ctx.exit(n)`` records exit code ``n``
    and no error (an error recorded before, e.g. by ``respond``, stays). Under ``AUDITVIEW_CHILD_PROBE``
    (``auditview check``) the child probe runs first (``support``).
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            option = kwargs.get(_TRACE_PARAM)
            if option is None:
                option = _inherited_trace_option(ctx)
            params = {k: v for k, v in kwargs.items() if k != _TRACE_PARAM}
            trace_id = option if isinstance(option, str) else None
            exited: click.exceptions.Exit | None = None
            result: Any = None
            try:
                with auditor.invocation(_command_name(ctx), params, trace_id=trace_id) as inv:
                    ctx.meta["auditview.invocation"] = inv
                    run_child_probe()
                    try:
                        result = func(*args, **kwargs)
                    except click.exceptions.Exit as exc:  # ctx.exit(n): an exit code, not an error
                        inv.exit_code = exc.exit_code
                        exited = exc
                    else:
                        if isinstance(result, int) and not isinstance(result, bool):
                            inv.exit_code = result
            except BaseException as exc:
                setattr(exc, _RECORDED, True)  # recorded: the group must not record it again
                raise
            if exited is not None:
                raise exited
            return result

        wrapper.__auditview_audited__ = True  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _inherited_trace_option(ctx: click.Context) -> object:
    parent = ctx.parent
    while parent is not None:
        value = parent.params.get(_TRACE_PARAM)
        if value is not None:
            return value
        parent = parent.parent
    return None


class AuditedGroup(click.Group):
    """A click group whose commands (and sub-groups' commands) are audited by ``auditor``.

    A call click rejects with a usage error (exit 2: a missing or bad option, an unknown command) is recorded
    as well: ``command`` is the command whose parameters were rejected (``main`` at the top level), ``params``
    ``{"argv": [...]}``, ``error`` ``{"type": "UsageError", "message": ...}``. ``audit-log`` is not recorded.
    """

    def __init__(self, *args: Any, auditor: Auditor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.auditor = auditor
        for command in list(self.commands.values()):
            self._instrument(command)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """The top-level group keeps the whole argv (for usage-error records) and records its own errors."""
        argv = list(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            if parent is None:
                self._record(exc, argv)
            raise
        if parent is None:
            ctx.meta[_ARGV_KEY] = argv
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        """Run the sub-command; a usage error on the way (its options, an unknown name) is recorded."""
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            argv = ctx.find_root().meta.get(_ARGV_KEY)
            self._record(exc, argv if isinstance(argv, list) else list(ctx.args))
            raise

    def _record(self, exc: click.UsageError, argv: Sequence[str]) -> None:
        if getattr(exc, _RECORDED, False):
            return
        setattr(exc, _RECORDED, True)
        where = exc.ctx
        if where is not None and getattr(where.command, "__auditview_audit_log__", False):
            return
        command = TOP_LEVEL_COMMAND
        if where is not None and where.parent is not None:
            command = _command_name(where)
        record_usage_error(self.auditor, command, argv, exc.format_message())

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Register ``cmd`` and wrap its callback in an audited invocation (``audit-log`` excepted)."""
        self._instrument(cmd)
        super().add_command(cmd, name)

    def group(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Group]:
        """Sub-groups are ``AuditedGroup``s of the same auditor unless ``cls`` says otherwise."""
        if "cls" not in kwargs:
            kwargs["cls"] = AuditedGroup
            kwargs["auditor"] = self.auditor
        decorator: Callable[[Callable[..., Any]], click.Group] = super().group(*args, **kwargs)
        return decorator

    def _instrument(self, cmd: click.Command) -> None:
        if isinstance(cmd, click.Group) or getattr(cmd, "__auditview_audit_log__", False):
            return
        callback = cmd.callback
        if callback is None or getattr(callback, "__auditview_audited__", False):
            return
        cmd.callback = audit_command(self.auditor)(callback)


class _AuditLogCommand(click.Command):
    """The click ``audit-log``: its epilog names the ``WHEN`` forms, loaded only when help is shown."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from auditview.text.timeparse import WHEN_HELP

        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(f"WHEN is {WHEN_HELP}.")


def audit_log_command(auditor: Auditor, name: str = "audit-log") -> click.Command:
    """The ``audit-log`` command for ``group.add_command(...)``: a click command with click's help.

    Its options are those of the writer's ``audit-log`` (``auditview.writer.auditlog.build_parser``), which
    then reads and prints the log: exit 0, 1 (log unreadable) or 2 (bad ``WHEN``; click's own usage errors
    are 2 as well). It is not recorded, not even for a usage error.
    """

    @click.command(
        name,
        cls=_AuditLogCommand,
        context_settings={"help_option_names": ["-h", "--help"]},
        help="Show this tool's audit log, oldest first.",
        short_help="Show this tool's audit log.",
    )
    @click.option("--since", metavar="WHEN", help="Only records that started at or after WHEN.")
    @click.option("--until", metavar="WHEN", help="Only records that started at or before WHEN.")
    @click.option("--trace-id", "trace_id", metavar="ID", help="Only records of this trace.")
    @click.option("--command", "command_name", metavar="NAME", help="Only records of this command.")
    @click.option("-f", "--follow", is_flag=True, help="Keep printing new records as they arrive.")
    @click.option(
        "-n", "--lines", type=click.IntRange(min=0), metavar="N", help="Only the last N matching records."
    )
    @click.option(
        "-o",
        "--output",
        type=click.Choice(["jsonl", "json", "table"]),
        help="Output format (default: table on a terminal, else jsonl).",
    )
    @click.pass_context
    def audit_log(
        ctx: click.Context,
        since: str | None,
        until: str | None,
        trace_id: str | None,
        command_name: str | None,
        follow: bool,
        lines: int | None,
        output: str | None,
    ) -> None:
        argv: list[str] = []
        for option, value in (
            ("--since", since),
            ("--until", until),
            ("--trace-id", trace_id),
            ("--command", command_name),
            ("--lines", None if lines is None else str(lines)),
            ("--output", output),
        ):
            if value is not None:
                argv.append(f"{option}={value}")
        if follow:
            argv.append("--follow")
        ctx.exit(auditor.audit_log_main(argv, prog=ctx.command_path))

    audit_log.__auditview_audit_log__ = True  # type: ignore[attr-defined]
    return audit_log

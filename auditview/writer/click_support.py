"""click adapters: an audited group class, a ``--trace-id`` option and a one-line ``audit-log``.

Usage::

    @click.group(cls=AuditedGroup, auditor=auditor)
    def cli() -> None: ...

    @cli.command()
    @click.option("--env")
    @trace_id_option()
    def deploy(env: str, trace_id: str | None) -> None:
        click.echo(json.dumps({"ok": True, "meta": current_meta()}))

    cli.add_command(audit_log_command(auditor))     # `mytool audit-log ...`

Every command added to an ``AuditedGroup`` (nested groups included) runs inside ``auditor.invocation()`` with
its parsed parameters as params. This is the only writer module that imports click; ``auditview.writer`` never
imports it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from auditview.writer.auditor import Auditor
from auditview.writer.context import current_invocation

__all__ = ["AuditedGroup", "audit_command", "audit_log_command", "current_meta", "trace_id_option"]

_TRACE_PARAM = "trace_id"


def trace_id_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--trace-id ID``: wins over ``<TOOL>_TRACE_ID``, ``TOOL_TRACE_ID`` and ``TRACEPARENT``."""
    return click.option(
        "--trace-id", _TRACE_PARAM, default=None, metavar="ID", help="Trace id to record (default: from env)."
    )


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
    recorded (click itself ignores return values in standalone mode).
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
            with auditor.invocation(_command_name(ctx), params, trace_id=trace_id) as inv:
                ctx.meta["auditview.invocation"] = inv
                result = func(*args, **kwargs)
                if isinstance(result, int) and not isinstance(result, bool):
                    inv.exit_code = result
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
    """A click group whose commands (and sub-groups' commands) are audited by ``auditor``."""

    def __init__(self, *args: Any, auditor: Auditor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.auditor = auditor
        for command in list(self.commands.values()):
            self._instrument(command)

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


def audit_log_command(auditor: Auditor, name: str = "audit-log") -> click.Command:
    """The ``audit-log`` command for ``group.add_command(...)``; the writer parses its options."""

    @click.command(
        name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
        add_help_option=False,
        help="Show this tool's audit log (audit-log -h for options).",
    )
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    @click.pass_context
    def audit_log(ctx: click.Context, argv: tuple[str, ...]) -> None:
        ctx.exit(auditor.audit_log_main(list(argv), prog=ctx.command_path))

    audit_log.__auditview_audit_log__ = True  # type: ignore[attr-defined]
    return audit_log

"""The ``Auditor`` (a tool's configured writer) and ``invocation()``, which instruments one run.

It resolves configuration (explicit keywords, then ``<TOOL>_AUDIT_*`` environment variables), assigns ids,
binds the invocation in a context variable, patches the environment for child processes, builds the record
through the processor chain and hands the line to the sink. A failure to write becomes one stderr warning (or,
in strict mode, an ``AuditWriteError``); the tool's own output and exit code are never changed otherwise. It
must not import anything beyond the standard library and orjson: argparse, click and the ``audit-log`` reader
load lazily.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar

from auditview.contract import ENV_PARENT_REQUEST_ID, tool_env_prefix
from auditview.writer import capture
from auditview.writer.context import Invocation, current_invocation
from auditview.writer.ids import new_request_id
from auditview.writer.processors import (
    DEFAULT_MAX_RECORD_BYTES,
    Processor,
    Serializer,
    default_processors,
    default_serializer,
    run_processors,
)
from auditview.writer.redact import DEFAULT_SECRET_KEYS, RedactionRule, Redactor, cap_record_size
from auditview.writer.sink import AuditWriteError, FileSink, FlushMode
from auditview.writer.trace import EnvironmentPatch, propagation_environ, resolve_trace_id, trace_id_problem

__all__ = ["Auditor", "InvocationScope", "default_log_path"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})
_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
_warned_trace_sources: set[str] = set()


def default_log_path(tool: str, environ: Mapping[str, str] | None = None) -> str:
    """``$XDG_DATA_HOME/<tool>/audit.jsonl``; ``~/.local/share/...`` when unset or relative."""
    env = os.environ if environ is None else environ
    data_home = env.get("XDG_DATA_HOME", "")
    if not data_home or not os.path.isabs(data_home):
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, tool, "audit.jsonl")


def _check_tool_name(tool: str) -> None:
    if not tool or tool in (".", "..") or "/" in tool or "\x00" in tool or tool != tool.strip():
        raise ValueError(f"tool name must be a plain non-empty file name, not {tool!r}")


class Auditor:
    """The audit writer of one tool.

    Keywords override the defaults; environment variables (``<TOOL>_AUDIT_LOG``, ``<TOOL>_AUDIT=0``,
    ``<TOOL>_AUDIT_FLUSH=fsync``, ``<TOOL>_AUDIT_STRICT=1``) override both, so an operator can always redirect
    or silence the log without touching the tool.
    """

    def __init__(
        self,
        tool: str,
        version: str,
        *,
        log_path: str | os.PathLike[str] | None = None,
        enabled: bool = True,
        strict: bool = False,
        flush: FlushMode = "none",
        rotate_bytes: int | None = None,
        rotate_keep: int = 5,
        redact_keys: Iterable[str] = (),
        redact_rules: Iterable[RedactionRule] = (),
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        serializer: Serializer = default_serializer,
        processors: Sequence[Processor] | None = None,
        extra_processors: Sequence[Processor] = (),
    ) -> None:
        _check_tool_name(tool)
        if max_record_bytes < 1024:
            raise ValueError("max_record_bytes must be at least 1024")
        self.tool = tool
        self.version = version
        self.env_prefix = tool_env_prefix(tool)
        self._log_path = os.fspath(log_path) if log_path is not None else None
        self._enabled = enabled
        self._strict = strict
        self._flush: FlushMode = flush
        self.rotate_bytes = rotate_bytes
        self.rotate_keep = rotate_keep
        self.redactor = Redactor(keys=(*DEFAULT_SECRET_KEYS, *redact_keys), rules=redact_rules)
        self.serializer = serializer
        self.max_record_bytes = max_record_bytes
        self.processors: list[Processor] = (
            list(processors)
            if processors is not None
            else default_processors(
                self.redactor,
                extra=extra_processors,
            )
        )
        self._warned = False

    # -- configuration ---------------------------------------------------------------------------------------

    def _env(self, suffix: str) -> str | None:
        value = os.environ.get(f"{self.env_prefix}_{suffix}")
        return value if value else None

    @property
    def log_path(self) -> str:
        """Where records go: ``<TOOL>_AUDIT_LOG``, else the ``log_path`` keyword, else the XDG default."""
        return self._env("AUDIT_LOG") or self._log_path or default_log_path(self.tool)

    @property
    def enabled(self) -> bool:
        """False when the ``enabled`` keyword is False or ``<TOOL>_AUDIT`` is 0/false/no/off."""
        value = self._env("AUDIT")
        return self._enabled and not (value is not None and value.strip().lower() in _FALSE_WORDS)

    @property
    def strict(self) -> bool:
        """In strict mode a failed write raises ``AuditWriteError`` instead of warning."""
        value = self._env("AUDIT_STRICT")
        return value.strip().lower() in _TRUE_WORDS if value is not None else self._strict

    @property
    def flush(self) -> FlushMode:
        """``none`` (default) or ``fsync`` after each record; ``<TOOL>_AUDIT_FLUSH`` overrides."""
        value = (self._env("AUDIT_FLUSH") or "").strip().lower()
        return "fsync" if value == "fsync" else "none" if value == "none" else self._flush

    def sink(self) -> FileSink:
        """A sink for the current configuration."""
        return FileSink(
            self.log_path, flush=self.flush, rotate_bytes=self.rotate_bytes, rotate_keep=self.rotate_keep
        )

    # -- instrumenting ---------------------------------------------------------------------------------------

    def invocation(
        self,
        command: str,
        params: Mapping[str, Any] | None = None,
        *,
        trace_id: str | None = None,
        record: bool = True,
    ) -> InvocationScope:
        """Instrument one run of ``command``; ``trace_id`` is the tool's ``--trace-id`` value, if any.

        ``record=False`` assigns ids, times and propagates but writes no record (e.g. for read-only commands).
        """
        return InvocationScope(self, command, params, trace_id, record)

    def audited(
        self, command: str | None = None, *, trace_id_param: str = "trace_id"
    ) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
        """Decorator form: the keyword arguments are the params, an ``int`` return value is the exit code."""

        def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
            name = command or func.__name__.replace("_", "-")

            @functools.wraps(func)
            def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
                params = {k: v for k, v in kwargs.items() if k != trace_id_param}
                option = kwargs.get(trace_id_param)
                with self.invocation(
                    name, params, trace_id=option if isinstance(option, str) else None
                ) as inv:
                    result = func(*args, **kwargs)
                    if isinstance(result, int) and not isinstance(result, bool):
                        inv.exit_code = result
                    return result

            return wrapper

        return decorate

    # -- records ---------------------------------------------------------------------------------------------

    def build_record(self, inv: Invocation) -> dict[str, Any]:
        """Run the processor chain for a finished invocation."""
        return run_processors(self.processors, inv)

    def render_line(self, record: dict[str, Any]) -> bytes:
        """Serialize ``record`` into exactly one physical line ending in ``\\n``, within ``max_record_bytes``.

        An oversized record is cut by ``cap_record_size`` (and says ``"truncated": true``). Raw CR/LF bytes
        can only be insignificant whitespace in valid JSON (inside strings they are escaped), so a serializer
        that pretty-prints still yields one line.
        """
        data = self.serializer(record)
        if len(data) > self.max_record_bytes:
            data = self.serializer(cap_record_size(record, self.max_record_bytes, self.serializer))
        if b"\n" in data or b"\r" in data:
            data = data.replace(b"\r", b" ").replace(b"\n", b" ")
        return data + b"\n"

    def record_for(self, inv: Invocation) -> dict[str, Any]:
        """The record exactly as it would be written (processed, and capped if too large)."""
        record = self.build_record(inv)
        if len(self.serializer(record)) > self.max_record_bytes:
            record = cap_record_size(record, self.max_record_bytes, self.serializer)
        return record

    def emit(self, inv: Invocation) -> None:
        """Build, serialize and append the record of ``inv`` (or hand it to an active ``capture_records``)."""
        if capture.active():
            capture.deliver(self.record_for(inv))
            return
        if not self.enabled:
            return
        try:
            line = self.render_line(self.build_record(inv))
            self.sink().write(line)
        except AuditWriteError as exc:
            if self.strict:
                raise
            self.warn(f"audit record not written: {exc}")
        except Exception as exc:  # a bug or a hostile param must never break the tool
            if self.strict:
                raise AuditWriteError(0, f"audit record not written: {type(exc).__name__}: {exc}") from exc
            self.warn(f"audit record not written: {type(exc).__name__}: {exc}")

    def warn(self, message: str) -> None:
        """Print one warning per auditor on stderr; later ones are dropped so the output stays readable."""
        if self._warned:
            return
        self._warned = True
        _print_warning(self.tool, message)

    # -- the audit-log subcommand ----------------------------------------------------------------------------

    def audit_log_main(self, argv: Sequence[str], *, prog: str | None = None) -> int:
        """Run ``<tool> audit-log ARGS``; returns 0, 1 (unreadable log) or 2 (bad usage)."""
        from auditview.writer.auditlog import run_audit_log

        return run_audit_log(self, list(argv), prog=prog)


def _print_warning(tool: str, message: str) -> None:
    from auditview.text.sanitize import printable

    try:
        sys.stderr.write(f"{tool}: warning: {printable(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class InvocationScope:
    """The context manager returned by ``Auditor.invocation()``; ``__enter__`` gives the ``Invocation``."""

    __slots__ = ("_auditor", "_command", "_env_patch", "_inv", "_option", "_params", "_record", "_token")

    def __init__(
        self,
        auditor: Auditor,
        command: str,
        params: Mapping[str, Any] | None,
        trace_id: str | None,
        record: bool,
    ) -> None:
        self._auditor = auditor
        self._command = command
        self._params = params
        self._option = trace_id
        self._record = record
        self._inv: Invocation | None = None
        self._env_patch: EnvironmentPatch | None = None
        self._token: Any = None

    def __enter__(self) -> Invocation:
        start_ns = time.perf_counter_ns()
        started_at = datetime.now(UTC)
        auditor = self._auditor
        parent = current_invocation()
        if parent is not None and self._option is None:
            trace_id = parent.trace_id
            parent_request_id: str | None = parent.request_id
        else:
            resolution = resolve_trace_id(auditor.tool, self._option)
            trace_id = resolution.trace_id
            if resolution.rejected is not None and resolution.rejected not in _warned_trace_sources:
                _warned_trace_sources.add(resolution.rejected)
                _print_warning(
                    auditor.tool, f"{resolution.rejected}: not used; generated trace id {trace_id}"
                )
            inherited = os.environ.get(ENV_PARENT_REQUEST_ID, "").strip()
            # Same sanity rule as trace ids: a forged or garbled value is dropped, not recorded.
            parent_request_id = inherited if inherited and trace_id_problem(inherited) is None else None
        inv = Invocation(
            tool=auditor.tool,
            version=auditor.version,
            command=self._command,
            params=self._params,
            request_id=new_request_id(),
            trace_id=trace_id,
            parent_request_id=parent_request_id,
            started_at=started_at,
            start_ns=start_ns,
        )
        self._inv = inv
        self._env_patch = EnvironmentPatch(
            propagation_environ(auditor.tool, trace_id, inv.request_id, os.environ)
        )
        self._token = inv.bind()
        return inv

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        inv = self._inv
        assert inv is not None, "InvocationScope exited without being entered"
        inv.finish(exc)
        Invocation.unbind(self._token)
        if self._env_patch is not None:
            self._env_patch.restore()
        if self._record:
            self._auditor.emit(inv)

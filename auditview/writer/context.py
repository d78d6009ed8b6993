"""The invocation: its ids, its monotonic timing, its outcome, and the context variable that makes it current.

An ``Invocation`` is created by ``Auditor.invocation()``; this module owns its state and the rules that turn
how the body ended (normally, explicit ``exit_code``, an exception, ``SystemExit``, ``KeyboardInterrupt``)
into ``exit_code``, ``ok`` and ``error``. It knows nothing about files or serialization.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar, Token
from datetime import datetime
from typing import Any, Final

from auditview.contract import META_FIELDS, format_timestamp

__all__ = [
    "INTERRUPTED_EXIT_CODE",
    "Invocation",
    "current_invocation",
    "current_request_id",
    "current_trace_id",
    "exit_code_for",
]

#: Exit code recorded for Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT_CODE: Final = 130

_MAX_ERROR_MESSAGE: Final = 2000

_current: ContextVar[Invocation | None] = ContextVar("auditview_writer_invocation", default=None)


def current_invocation() -> Invocation | None:
    """The invocation running in this context, or ``None``."""
    return _current.get()


def current_trace_id() -> str | None:
    """The trace id of the current invocation, or ``None`` outside one."""
    inv = _current.get()
    return inv.trace_id if inv is not None else None


def current_request_id() -> str | None:
    """The request id of the current invocation, or ``None`` outside one."""
    inv = _current.get()
    return inv.request_id if inv is not None else None


def exit_code_for(exc: BaseException) -> int:
    """The process exit code an exception ending an invocation stands for.

    ``SystemExit`` carries its own (``None`` is 0, a message is 1), ``KeyboardInterrupt`` is 130, an exception
    with an integer ``exit_code`` attribute (click's ``Exit`` and ``ClickException``) uses it, anything else
    is 1.
    """
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int) and not isinstance(code, bool):
            return code
        return 1
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED_EXIT_CODE
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return 1


class Invocation:
    """One run of one command: ids, start time, monotonic timing and outcome.

    Set ``exit_code`` to record an explicit exit code (otherwise 0, or what an exception implies), ``error``
    to record a failure without raising, and use ``annotate()`` for extra record fields.
    """

    __slots__ = (
        "_frozen_ms",
        "_start_ns",
        "_timestamp",
        "command",
        "error",
        "exit_code",
        "extra",
        "params",
        "parent_request_id",
        "request_id",
        "started_at",
        "tool",
        "trace_id",
        "version",
    )

    def __init__(
        self,
        *,
        tool: str,
        version: str,
        command: str,
        params: Mapping[str, Any] | None,
        request_id: str,
        trace_id: str,
        parent_request_id: str | None,
        started_at: datetime,
        start_ns: int | None = None,
    ) -> None:
        self.tool = tool
        self.version = version
        self.command = command
        self.params: dict[str, Any] = dict(params) if params else {}
        self.request_id = request_id
        self.trace_id = trace_id
        self.parent_request_id = parent_request_id
        self.started_at = started_at
        self._start_ns = time.perf_counter_ns() if start_ns is None else start_ns
        self._frozen_ms: float | None = None
        self._timestamp: str | None = None
        self.exit_code: int | None = None
        self.error: dict[str, str] | None = None
        self.extra: dict[str, Any] = {}

    @property
    def timestamp(self) -> str:
        """The start of the invocation as the contract formats it (RFC 3339, UTC, microseconds, ``Z``)."""
        if self._timestamp is None:
            self._timestamp = format_timestamp(self.started_at)
        return self._timestamp

    def elapsed_ms(self) -> float:
        """Milliseconds since the start on the monotonic clock, rounded to 3 decimals (never frozen)."""
        return round((time.perf_counter_ns() - self._start_ns) / 1_000_000, 3)

    @property
    def duration_ms(self) -> float:
        """The frozen duration if ``meta()`` or ``freeze()`` was called, else the time elapsed so far."""
        return self._frozen_ms if self._frozen_ms is not None else self.elapsed_ms()

    def freeze(self) -> float:
        """Fix the duration now (first call wins) and return it; the record carries exactly this value."""
        if self._frozen_ms is None:
            self._frozen_ms = self.elapsed_ms()
        return self._frozen_ms

    def meta(self) -> dict[str, Any]:
        """The ``meta`` object of the JSON response; freezes the duration so response and record agree."""
        self.freeze()
        values = {
            "request_id": self.request_id,
            "trace_id": self.trace_id,
            "duration_ms": self._frozen_ms,
            "timestamp": self.timestamp,
            "command": self.command,
            "version": self.version,
        }
        return {name: values[name] for name in META_FIELDS}

    def annotate(self, **fields: Any) -> None:
        """Add extra top-level fields to the record (they never replace contract fields)."""
        self.extra.update(fields)

    def fail(self, message: str, *, error_type: str = "Error", exit_code: int = 1) -> None:
        """Record a failure without raising: sets ``error`` and (if not already non-zero) ``exit_code``."""
        self.error = {"type": error_type, "message": message[:_MAX_ERROR_MESSAGE]}
        if not self.exit_code:
            self.exit_code = exit_code

    @property
    def ok(self) -> bool:
        """True when the invocation ended (or would end) with exit code 0."""
        return (self.exit_code or 0) == 0

    def finish(self, exc: BaseException | None) -> None:
        """Settle ``exit_code`` and ``error`` from how the body ended, and freeze the duration."""
        self.freeze()
        if exc is not None:
            self.exit_code = exit_code_for(exc)
            if isinstance(exc, SystemExit):
                if not isinstance(exc.code, int | None) and self.error is None:
                    self.error = {"type": "SystemExit", "message": str(exc.code)[:_MAX_ERROR_MESSAGE]}
            elif isinstance(exc, KeyboardInterrupt):
                self.error = {"type": "KeyboardInterrupt", "message": "interrupted"}
            else:
                self.error = {"type": type(exc).__name__, "message": str(exc)[:_MAX_ERROR_MESSAGE]}
        elif self.exit_code is None:
            self.exit_code = 0

    def bind(self) -> Token[Invocation | None]:
        """Make this the current invocation; returns the token for ``unbind``."""
        return _current.set(self)

    @staticmethod
    def unbind(token: Token[Invocation | None]) -> None:
        """Restore the invocation that was current before ``bind``."""
        _current.reset(token)

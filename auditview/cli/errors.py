"""The CLI's exit codes and its one failure type: ``CliError`` carries what the user is shown.

Owns the exit codes (as documented in ``--help``), ``CliError`` (message, exit code, the ``error.type`` of the
JSON envelope, a detail for stderr, extra keys for the envelope) and ``write_errors`` (a target that cannot be
written, as a ``CliError``). Rendering an error is ``auditview.cli.output``'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

__all__ = [
    "EXIT_CODES",
    "EXIT_DATAERR",
    "EXIT_FAILURE",
    "EXIT_NOINPUT",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "usage_error",
    "write_errors",
]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_DATAERR: Final = 65
EXIT_NOINPUT: Final = 66

#: Exit codes and their meaning, as documented in ``--help``.
EXIT_CODES: Final[dict[int, str]] = {
    EXIT_OK: "success (including no matching record)",
    EXIT_FAILURE: "any other failure (e.g. trace not found, --to file exists without --force)",
    EXIT_USAGE: "usage error: bad option, WHEN, duration, filter or --field; a mistyped command",
    EXIT_DATAERR: "malformed lines under --strict, or not one line of the inputs is a record",
    EXIT_NOINPUT: "an input is missing, unreadable, holds no audit log, a device, or a FIFO with no writer",
}


class CliError(Exception):
    """A failure shown to the user: ``exit_code``, ``error_type`` for the JSON envelope, and ``detail``."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: int,
        error_type: str,
        detail: str = "",
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.error_type = error_type
        self.detail = detail
        self.extra = extra or {}


def usage_error(message: str) -> CliError:
    """A usage error (exit 2, ``UsageError``): a bad option or combination of options."""
    return CliError(message, exit_code=EXIT_USAGE, error_type="UsageError")


@contextlib.contextmanager
def write_errors(target: str) -> Iterator[None]:
    """An export target that cannot be written: a usage-level message and exit 1, no traceback."""
    try:
        yield
    except (FileExistsError, IsADirectoryError, FileNotFoundError) as exc:
        raise CliError(str(exc), exit_code=EXIT_FAILURE, error_type=type(exc).__name__) from None
    except PermissionError as exc:
        raise CliError(
            f"cannot write {exc.filename or target}: {exc.strerror or exc}",
            exit_code=EXIT_FAILURE,
            error_type="PermissionError",
        ) from None

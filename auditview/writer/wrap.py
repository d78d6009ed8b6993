"""``auditview run [OPTIONS] [--] COMMAND [ARGS...]``: run any command unchanged and write its audit record.

The command gets our stdin, stdout, stderr (inherited descriptors: a terminal stays a terminal, nothing is
piped, buffered or reordered; only ``--json-meta`` captures stdout), working directory and process group, plus
the propagation variables of the writer (``TOOL_TRACE_ID``, ``TOOL_PARENT_REQUEST_ID``, ``TRACEPARENT``), so
an instrumented tool it starts joins the trace with this run as its parent. Its exit status is ours; when it
is killed by signal N the record says 128+N and we kill ourselves with the same signal, so the caller sees
what it would have seen without the wrapper (``$?`` is 128+N, a bash script stops on Ctrl-C).

Signals: the child stays in our process group, so the terminal's Ctrl-C, Ctrl-\\ and hangup reach it
directly; while it runs the wrapper blocks SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 and takes
them with ``sigwaitinfo``: a signal another process sent (``kill``, a supervisor, ``timeout``) is passed on to
the child, one the kernel sent to the whole foreground group (the terminal) is not (the child got it too).

The record is the writer's: ``Auditor`` and ``invocation()`` give the ids, the trace resolution, the
propagation, the redaction and the sink; this module only chooses ``tool`` (the command's basename),
``command`` (its first non-option argument), ``params`` (``{"argv": ARGS}``, the arguments after the command
name, ``--secret-opt`` values redacted before the writer's own redaction) and sets the outcome. The record is
written when the command cannot start too (127 not found, 126 not executable or a bad interpreter).

The command is looked up on PATH as a shell does, except that the file named by ``--wrapper`` (a wrapper
script named like the tool passes its ``"$0"``) is skipped; ``AUDITVIEW_RUN_DEPTH`` stops a wrapper that
finds itself anyway after ``MAX_DEPTH`` nested runs.

The start path imports the standard library, orjson and the writer only (``posix_spawn``, not
``subprocess``); never polars, Textual or pendulum (``--audit-log``'s reader loads pendulum when it answers).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from auditview.writer.auditor import Auditor
    from auditview.writer.context import Invocation

__all__ = [
    "DEPTH_ENV",
    "MAX_DEPTH",
    "Outcome",
    "Resolution",
    "RunOptions",
    "UsageError",
    "command_name",
    "main",
    "parse_args",
    "redact_secret_opts",
    "resolve_command",
    "run_child",
    "signals_blocked",
    "with_meta",
]

PROG: Final = "auditview run"

EXIT_USAGE: Final = 2
EXIT_CANNOT_EXECUTE: Final = 126
EXIT_NOT_FOUND: Final = 127

#: How many ``auditview run`` are nested in the chain of processes (a guard against a wrapper script that
#: finds itself on PATH); ``MAX_DEPTH`` nested runs are refused with 126.
DEPTH_ENV: Final = "AUDITVIEW_RUN_DEPTH"
MAX_DEPTH: Final = 10

#: Signals taken while the command runs. Those another process sends are forwarded to the command.
_FORWARDED: Final = (
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
#: Python ignores these at startup; the command must get the defaults (as ``subprocess`` restores them).
_RESTORED: Final = (signal.SIGPIPE, signal.SIGXFSZ)

USAGE: Final = f"usage: {PROG} [OPTIONS] [--] COMMAND [ARGS...]"

HELP: Final = f"""{USAGE}

Run COMMAND unchanged (same stdin, stdout, stderr, working directory; its exit status is ours) and append
its audit record to the tool's audit log. The command inherits TOOL_TRACE_ID (the current trace, or a new
one), TOOL_PARENT_REQUEST_ID (this run's request id) and TRACEPARENT.

options:
  --tool NAME          tool name of the record (default: the command's basename); the log is
                       $XDG_DATA_HOME/NAME/audit.jsonl unless --log or NAME_AUDIT_LOG says otherwise
  --command NAME       command of the record (default: the first argument not starting with '-',
                       else the tool name)
  --tool-version V     version of the record (default: unknown)
  --log PATH           append the record to PATH (the <TOOL>_AUDIT_LOG variable still wins)
  --secret-opt OPT     also redact the value of option OPT (-p x, -px, --opt x, --opt=x); repeatable
  --trace-id ID        use this trace id (default: TOOL_TRACE_ID / TRACEPARENT, else a new one)
  --wrapper FILE       never run FILE when looking COMMAND up on PATH: a wrapper script named like the
                       tool passes "$0" here
  --json-meta          when the command prints one JSON object, print it with "meta" added
                       (its stdout is captured for that; stderr still passes through)
  --audit-log          answer 'COMMAND audit-log [ARGS]' from the tool's audit log instead of running it
  -v, --verbose        print the trace id, request id and log path on stderr
  -h, --help           show this help

exit codes:
  the command's own status; 128+N when it was killed by signal N (the wrapper then kills itself with N)
  126  the command was found but cannot be executed     127  command not found
  2    usage error of auditview run (no record is written)
"""


class UsageError(Exception):
    """A bad ``auditview run`` command line; the message says why."""


@dataclass
class RunOptions:
    """The parsed command line of ``auditview run``."""

    argv: list[str]
    tool: str | None = None
    command: str | None = None
    tool_version: str = "unknown"
    log: str | None = None
    secret_opts: list[str] = field(default_factory=list)
    trace_id: str | None = None
    wrapper: str | None = None
    json_meta: bool = False
    audit_log: bool = False
    verbose: bool = False
    help: bool = False


_VALUED: Final = {
    "--tool": "tool",
    "--command": "command",
    "--tool-version": "tool_version",
    "--log": "log",
    "--secret-opt": "secret_opts",
    "--trace-id": "trace_id",
    "--wrapper": "wrapper",
}
_FLAGS: Final = {
    "--json-meta": "json_meta",
    "--audit-log": "audit_log",
    "-v": "verbose",
    "--verbose": "verbose",
    "-h": "help",
    "--help": "help",
}


def parse_args(args: Sequence[str]) -> RunOptions:
    """Parse ``auditview run``'s options; the command starts after ``--`` or at the first non-option."""
    opts = RunOptions(argv=[])
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            index += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, has_value, value = arg.partition("=")
        if name in _FLAGS and not has_value:
            setattr(opts, _FLAGS[name], True)
            index += 1
            if opts.help:
                return opts
            continue
        if name not in _VALUED:
            raise UsageError(f"unknown option {arg!r} (put the command after '--')")
        if not has_value:
            if index + 1 >= len(args):
                raise UsageError(f"option {name} needs a value")
            index += 1
            value = args[index]
        index += 1
        attribute = _VALUED[name]
        if attribute == "secret_opts":
            if not value.startswith("-") or value in ("-", "--"):
                raise UsageError(f"--secret-opt takes an option name like -p or --pass, not {value!r}")
            opts.secret_opts.append(value)
        else:
            setattr(opts, attribute, value)
    opts.argv = list(args[index:])
    if not opts.argv and not opts.help:
        raise UsageError("no command given")
    return opts


# -- what the record says ------------------------------------------------------------------------------------


def redact_secret_opts(args: Sequence[str], secret_opts: Iterable[str]) -> list[str]:
    """``args`` with the values of the ``--secret-opt`` options replaced by ``[REDACTED]``.

    ``OPT VALUE`` and ``OPT=VALUE``; a one-letter option also ``-pVALUE`` (as mysql's ``-p``). The writer's
    own redaction (``--password=x``, ``--token x``, URL passwords, token shapes) runs on the result.
    """
    from auditview.writer.redact import REDACTED

    options = tuple(secret_opts)
    out: list[str] = []
    redact_next = False
    for arg in args:
        if redact_next:
            out.append(REDACTED)
            redact_next = False
            continue
        for option in options:
            if arg == option:
                redact_next = True
                break
            if arg.startswith(f"{option}="):
                arg = f"{option}={REDACTED}"
                break
            if len(option) == 2 and option[1] != "-" and arg.startswith(option) and len(arg) > 2:
                arg = f"{option}{REDACTED}"
                break
        out.append(arg)
    return out


def command_name(args: Sequence[str], redacted: Sequence[str], default: str) -> str:
    """The first argument not starting with ``-`` whose redaction left it unchanged, else ``default``.

    A value the redaction touched (a secret option's value, a URL with a password) is never a command name.
    """
    for original, shown in zip(args, redacted, strict=True):
        if not original.startswith("-") and original == shown:
            return original
    return default


def tool_name(argv0: str) -> str:
    """The tool name the command's record gets by default: the basename of the command."""
    return os.path.basename(argv0.rstrip("/")) or argv0


# -- finding the command -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where the command is (``path``), or the exit code and reason why it cannot run."""

    path: str | None
    exit_code: int = 0
    reason: str = ""
    error_type: str = ""


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def resolve_command(name: str, path_env: str | None, skip: Iterable[str] = ()) -> Resolution:
    """Find ``name`` as a shell would: a name with ``/`` is used as is, any other is searched on PATH.

    A PATH candidate that is the same file as one of ``skip`` (``--wrapper``) is passed over. Not found is
    127; found but not executable (or a directory) is 126, with the reason.
    """
    if "/" in name:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            return Resolution(None, EXIT_NOT_FOUND, f"{name}: No such file or directory", "CommandNotFound")
        except OSError as exc:
            return Resolution(None, EXIT_CANNOT_EXECUTE, f"{name}: {exc.strerror}", "CannotExecute")
        if stat.S_ISDIR(st.st_mode):
            return Resolution(None, EXIT_CANNOT_EXECUTE, f"{name}: Is a directory", "CannotExecute")
        if not os.access(name, os.X_OK):
            return Resolution(None, EXIT_CANNOT_EXECUTE, f"{name}: Permission denied", "CannotExecute")
        return Resolution(name)
    skipped = {file_id for file_id in map(_file_id, skip) if file_id is not None}
    denied: str | None = None
    for directory in (os.defpath if path_env is None else path_env).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in skipped:
            continue
        if os.access(candidate, os.X_OK):
            return Resolution(candidate)
        denied = denied or candidate
    if denied is not None:
        return Resolution(None, EXIT_CANNOT_EXECUTE, f"{denied}: Permission denied", "CannotExecute")
    return Resolution(None, EXIT_NOT_FOUND, f"{name}: command not found", "CommandNotFound")


# -- running it ----------------------------------------------------------------------------------------------


def _spawn(
    path: str, argv: list[str], env: Mapping[str, str], stdout_fd: int | None, mask: Iterable[int]
) -> int:
    """Start ``path`` with ``argv``; one the kernel cannot execute is run by ``/bin/sh`` (as execvp does)."""
    actions = [(os.POSIX_SPAWN_DUP2, stdout_fd, 1)] if stdout_fd is not None else None
    try:
        return os.posix_spawn(
            path, argv, env, file_actions=actions, setsigmask=mask, setsigdef=_restored_signals()
        )
    except OSError as exc:
        if exc.errno != errno.ENOEXEC:
            raise
    return os.posix_spawn(
        "/bin/sh",
        ["/bin/sh", path, *argv[1:]],
        env,
        file_actions=actions,
        setsigmask=mask,
        setsigdef=_restored_signals(),
    )


def _restored_signals() -> list[signal.Signals]:
    return [sig for sig in _RESTORED if signal.getsignal(sig) == signal.SIG_IGN]


def _wait_sigwaitinfo(pid: int, watched: set[signal.Signals]) -> int:
    """Wait for ``pid`` with the watched signals blocked; forward those a process (not the kernel) sent."""
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return status
            continue
        # si_code > 0 (SI_KERNEL): generated by the terminal for the whole foreground process group, which
        # the child is in, so it has it already; SI_USER / SI_QUEUE / SI_TKILL (<= 0): sent by a process.
        if info.si_code <= 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, info.si_signo)


def _wait_handlers(pid: int, watched: set[signal.Signals]) -> int:
    """Without ``sigwaitinfo`` (macOS): handlers forward TERM/HUP/USR1/USR2; INT and QUIT are ignored."""

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def ignore(_signum: int, _frame: Any) -> None:
        return None

    previous: dict[signal.Signals, Any] = {}
    for sig in _FORWARDED:
        if signal.getsignal(sig) == signal.SIG_IGN:
            continue
        handler = ignore if sig in (signal.SIGINT, signal.SIGQUIT) else forward
        previous[sig] = signal.signal(sig, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, watched)
    try:
        return os.waitpid(pid, 0)[1]
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_wait: Callable[[int, set[signal.Signals]], int] = (
    _wait_sigwaitinfo if hasattr(signal, "sigwaitinfo") else _wait_handlers
)


@dataclass
class Outcome:
    """How the command ended: exit code (128+N for a signal), the signal, and its captured stdout."""

    exit_code: int
    signum: int | None = None
    stdout: bytes | None = None


#: Everything ``run_child`` waits for; blocked by ``signals_blocked()`` for the whole audited run.
WATCHED: Final = frozenset({signal.SIGCHLD, *_FORWARDED})


class signals_blocked:  # noqa: N801 - used like a function: ``with signals_blocked() as mask``
    """Block ``WATCHED`` (the child gets the mask we had); after the run, pending ones are dropped.

    From before the command starts until its record is written, no signal can end the wrapper: a signal
    sent to it is passed on to the command while it runs, and one arriving after it ended is dropped.
    """

    def __enter__(self) -> set[int]:
        if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # else the kernel reaps it and its status is lost
        self._old = signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        return self._old

    def __exit__(self, *exc: object) -> None:
        _take_pending()
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


def run_child(
    path: str, argv: list[str], env: Mapping[str, str], *, capture: bool, mask: Iterable[int]
) -> Outcome:
    """Run the command to its end (inside ``signals_blocked``; ``mask`` is the one it gets).

    Raises OSError if it cannot start. Its stdout is captured only when ``capture``.
    """
    chunks: list[bytes] = []
    reader = None
    if capture:
        read_fd, write_fd = os.pipe()
        try:
            pid = _spawn(path, argv, env, write_fd, mask)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        reader = _start_reader(read_fd, chunks)
    else:
        pid = _spawn(path, argv, env, None, mask)
    status = _wait(pid, set(WATCHED))
    if reader is not None:
        # Normally the output ends with the command; a background process it left holding stdout is not
        # waited for once a signal says to stop (what was read so far is used).
        while True:
            reader.join(0.05)
            if not reader.is_alive() or _take_pending():
                break
    code = os.waitstatus_to_exitcode(status)
    stdout = b"".join(chunks) if capture else None
    if code < 0:
        return Outcome(128 - code, -code, stdout)
    return Outcome(code, None, stdout)


def _start_reader(fd: int, chunks: list[bytes]) -> Any:
    """A thread reading the command's stdout to its end (it inherits the blocked signal mask)."""
    import threading

    def pump() -> None:
        try:
            while True:
                data = os.read(fd, 1 << 16)
                if not data:
                    break
                chunks.append(data)
        except OSError:
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=pump, name="auditview-run-stdout", daemon=True)
    thread.start()
    return thread


def _take_pending() -> bool:
    """Discard the watched signals pending now; True if one of them was not SIGCHLD."""
    if not hasattr(signal, "sigtimedwait"):
        return False
    stop = False
    while signal.sigpending() & WATCHED:
        info = signal.sigtimedwait(WATCHED, 0)
        if info is None:
            break
        stop = stop or info.si_signo != signal.SIGCHLD
    return stop


def die_like(signum: int) -> None:
    """Kill this process with ``signum`` (default action, no core file), as the command was killed."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, OSError, ValueError):
        pass
    with contextlib.suppress(OSError, ValueError):  # SIGKILL / SIGSTOP keep their default anyway
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    os.kill(os.getpid(), signum)


# -- --json-meta ---------------------------------------------------------------------------------------------


def with_meta(output: bytes, meta: dict[str, Any]) -> bytes | None:
    """``output`` with ``meta`` set, when it is exactly one JSON object; else ``None``.

    An existing ``meta`` is replaced (it describes this run). Output that spanned several lines is printed
    indented by two spaces, a one-line object compactly; key order is kept.
    """
    import orjson

    text = output.strip()
    if not text.startswith(b"{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    value.pop("meta", None)
    value["meta"] = meta
    option = orjson.OPT_INDENT_2 if b"\n" in text else 0
    return orjson.dumps(value, option=option) + b"\n"


# -- main ----------------------------------------------------------------------------------------------------


def _stderr(message: str) -> None:
    from auditview.text.sanitize import printable

    try:
        sys.stderr.write(f"{PROG}: {printable(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _write_stdout(data: bytes) -> None:
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        pass
    except (OSError, ValueError) as exc:
        _stderr(f"warning: output not written: {exc}")


def _depth() -> int:
    try:
        return max(int(os.environ.get(DEPTH_ENV, "0")), 0)
    except ValueError:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``auditview run ARGS`` (default ``sys.argv[1:]``); returns the exit code.

    When the command was killed by a signal, this process kills itself with the same signal after the record
    is written (so it returns only when that signal does not end a process).
    """
    try:
        opts = parse_args(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        sys.stderr.write(f"{USAGE}\n{PROG}: error: {exc}\n")
        return EXIT_USAGE
    if opts.help:
        sys.stdout.write(HELP)
        return 0
    from auditview.writer import Auditor

    tool = opts.tool or tool_name(opts.argv[0])
    try:
        auditor = Auditor(tool=tool, version=opts.tool_version, log_path=opts.log)
    except ValueError as exc:
        sys.stderr.write(f"{USAGE}\n{PROG}: error: {exc} (use --tool NAME)\n")
        return EXIT_USAGE
    if opts.audit_log and len(opts.argv) > 1 and opts.argv[1] == "audit-log":
        return auditor.audit_log_main(opts.argv[2:], prog=f"{os.path.basename(opts.argv[0])} audit-log")
    with signals_blocked() as mask:
        outcome = _run_audited(auditor, opts, mask)
    if outcome.signum is not None:
        die_like(outcome.signum)
    return outcome.exit_code


def _run_audited(auditor: Auditor, opts: RunOptions, mask: Iterable[int]) -> Outcome:
    from auditview.writer import AuditWriteError

    args = opts.argv[1:]
    redacted = auditor.redactor(redact_secret_opts(args, opts.secret_opts))
    command = opts.command or command_name(args, redacted, auditor.tool)
    source = "new"
    if opts.verbose:  # the writer's own resolution, before the invocation sets the propagation variables
        from auditview.writer.trace import resolve_trace_id

        if resolve_trace_id(auditor.tool, opts.trace_id).source != "generated":
            source = "inherited"
    outcome = Outcome(0)
    try:
        with auditor.invocation(command, {"argv": redacted}, trace_id=opts.trace_id) as inv:
            if opts.verbose:
                _stderr(
                    f"trace_id={inv.trace_id} ({source}) request_id={inv.request_id} log={auditor.log_path}"
                )
            outcome = _run_in(inv, opts, mask)
    except AuditWriteError as exc:  # <TOOL>_AUDIT_STRICT=1: a record that was not written is a failure
        _stderr(f"error: {exc}")
        if outcome.exit_code == 0:
            outcome = Outcome(1)
    return outcome


def _run_in(inv: Invocation, opts: RunOptions, mask: Iterable[int]) -> Outcome:
    depth = _depth()
    if depth >= MAX_DEPTH:
        reason = (
            f"{DEPTH_ENV}={depth}: {MAX_DEPTH} nested runs; is a wrapper script running itself? "
            'pass --wrapper "$0"'
        )
        return _cannot_start(inv, Resolution(None, EXIT_CANNOT_EXECUTE, reason, "Recursion"))
    resolution = resolve_command(opts.argv[0], os.environ.get("PATH"), [opts.wrapper] if opts.wrapper else ())
    if resolution.path is None:
        return _cannot_start(inv, resolution)
    inv.annotate(executable=os.path.abspath(resolution.path))
    env = dict(os.environ)  # the writer has set the propagation variables in os.environ
    env[DEPTH_ENV] = str(depth + 1)
    try:
        outcome = run_child(resolution.path, opts.argv, env, capture=opts.json_meta, mask=mask)
    except OSError as exc:
        reason = f"{resolution.path}: {exc.strerror or exc}"
        if exc.errno == errno.ENOENT:
            reason = f"{resolution.path}: bad interpreter or loader: {exc.strerror}"
        return _cannot_start(inv, Resolution(None, EXIT_CANNOT_EXECUTE, reason, "CannotExecute"))
    inv.exit_code = outcome.exit_code
    if outcome.signum is not None:
        name = _signal_name(outcome.signum)
        inv.error = {"type": "Signal", "message": f"killed by signal {outcome.signum} ({name})"}
    if outcome.stdout is not None:
        shown = with_meta(outcome.stdout, inv.meta())
        if shown is None:
            _write_stdout(outcome.stdout)
            what = "the output is not one JSON object" if outcome.stdout.strip() else "there was no output"
            _stderr(f"warning: --json-meta: {what}; printed unchanged")
        else:
            _write_stdout(shown)
    return outcome


def _cannot_start(inv: Invocation, resolution: Resolution) -> Outcome:
    _stderr(resolution.reason)
    inv.fail(resolution.reason, error_type=resolution.error_type, exit_code=resolution.exit_code)
    return Outcome(resolution.exit_code)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


if __name__ == "__main__":  # ``python -m auditview.writer.wrap ARGS``: the same as ``auditview run ARGS``
    raise SystemExit(main())

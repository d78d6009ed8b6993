"""The ``auditview`` command: a headless CLI over the engine for scripts and agents, and the app's launcher.

Owns: argument parsing, dispatch, output modes (``table`` / ``json`` / ``jsonl``), the JSON envelope, exit
codes, and the instrumentation of auditview itself (every invocation appends its own record through
``auditview.writer``, tool name ``auditview``). It must not: compute anything the engine computes, import
polars or the engine before a command needs them, or import Textual/Rich at all (the terminal app is imported
lazily, and only when no subcommand is given). Tables are plain text rendered by ``auditview.cli_render``.

Dispatch is manual on the first argument: a subcommand name runs that command; anything else (nothing, an
option, a path) belongs to the terminal app, so that ``auditview sample_logs/`` and ``auditview --since 1h``
open the app.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn, TextIO, cast

import orjson

from auditview import __version__

if TYPE_CHECKING:
    import polars as pl

    from auditview.core.index import AuditIndex
    from auditview.core.pushdown import Prefilter
    from auditview.source.types import Chunk
    from auditview.writer.context import Invocation

__all__ = ["EXIT_CODES", "SUBCOMMANDS", "CliError", "main"]

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

SUBCOMMANDS: Final = (
    "export",
    "traces",
    "trace",
    "diff",
    "report",
    "stats",
    "rejects",
    "audit-log",
    "cache",
    "check",
    "schema",
)
OUTPUTS: Final = ("table", "json", "jsonl")
TRACE_SORTS: Final = ("start", "span", "steps", "failed", "slowest")
DEFAULT_SLOW: Final = "5s"
_JSON_OPTS: Final = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
_EXCERPT_CHARS: Final = 200

_EPILOG: Final = (
    "WHEN: a duration ago (30m, 1h, 2d, 1h30m), now, today, yesterday, an RFC 3339 / ISO 8601 time"
    + " (naive means local), or epoch seconds as @1700000000.\n"
    + "With no PATH, every audit log under $XDG_DATA_HOME/*/ and $XDG_STATE_HOME/*/ is read.\n"
    + 'Output: -o json prints {"ok": true, "data": ..., "meta": {...}}; -o jsonl one object per line; the'
    + " default is a table on a terminal and jsonl otherwise (export: always jsonl, the source lines byte"
    + " for byte).\n"
    + "\nexit codes:\n"
    + "\n".join(f"  {code:<3} {text}" for code, text in EXIT_CODES.items())
)


class CliError(Exception):
    """A failure shown to the user: ``exit_code``, ``error_type`` for the JSON envelope, and ``detail``."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: int,
        error_type: str,
        detail: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.error_type = error_type
        self.detail = detail
        self.extra = extra or {}


class _HelpShownError(Exception):
    """argparse printed help or the version; carries the exit status it asked for."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so that errors can be shown as JSON and audited."""

    def error(self, message: str) -> NoReturn:
        raise CliError(
            message, exit_code=EXIT_USAGE, error_type="UsageError", detail=self.format_usage().rstrip()
        )

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _HelpShownError(status)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _new_parser(prog: str, description: str) -> _Parser:
    return _Parser(
        prog=prog,
        description=description,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )


def _add_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="audit log files, directories, globs or - for stdin (default: every audit log found)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="parse every input afresh instead of using the index cache (also AUDITVIEW_CACHE=0)",
    )
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="FIELD=KEY",
        help="read FIELD from the key KEY of producers that name it otherwise, e.g. duration_ms=elapsed "
        "(repeatable; also [fields] in $XDG_CONFIG_HOME/auditview/fields.toml)",
    )


def _add_time(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="WHEN", help="only records that started at or after WHEN")
    parser.add_argument("--until", metavar="WHEN", help="only records that started at or before WHEN")


def _add_filter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--filter",
        metavar="EXPR",
        default="",
        help="filter expression, e.g. 'exit_code!=0 and duration_ms>5s'",
    )


def _add_slow(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--slow",
        metavar="DURATION",
        default=DEFAULT_SLOW,
        help=f"a step is slow above this duration, or well above its p95 (default {DEFAULT_SLOW})",
    )


def _add_output(parser: argparse.ArgumentParser, *, help_text: str | None = None) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=OUTPUTS,
        default=None,
        help=help_text or "output format (default: table on a terminal, jsonl otherwise)",
    )


def _add_strict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true", help="exit 65 when any input line is malformed")


def _add_check_all(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check-all",
        action="store_true",
        help="check every line, also those the filter rules out by their text (implied by --strict and "
        "--manifest): every malformed line is reported, and the index cache is written",
    )


def build_parser(command: str) -> _Parser:
    """The parser of one subcommand (``"app"`` for the terminal app / top level)."""
    if command == "app":
        parser = _new_parser(
            "auditview",
            "Audit trails of command-line tools.\n\n"
            "  auditview [PATH...] [--since WHEN] [--filter EXPR] ...   open the terminal app\n"
            "  auditview export    [PATH...] ...   matching records as JSONL, byte for byte\n"
            "  auditview traces    [PATH...] ...   trace summaries (sortable)\n"
            "  auditview trace ID  [PATH...] ...   the timeline of one trace (a waterfall)\n"
            "  auditview diff A B  [PATH...] ...   compare two runs (traces) step by step; B --previous\n"
            "  auditview report ID [PATH...] ...   one trace as a Markdown/HTML report (--export DIR)\n"
            "  auditview stats     [PATH...] ...   per tool and command: count, error rate, p50/p95/p99/max\n"
            "  auditview rejects   [PATH...] ...   malformed lines and why\n"
            "  auditview audit-log [PATH...] ...   the audit-log contract's subcommand over all sources\n"
            "  auditview cache     [--warm] ...    prune, clear or warm the index cache\n"
            "  auditview check     -- COMMAND...   grade a tool against the audit contract (score 0-3)\n"
            "  auditview schema    [writer|reader|meta]   the contracts as JSON Schema\n"
            "  auditview run [OPTIONS] -- COMMAND [ARGS...]   run any command and write its audit record\n\n"
            "Run 'auditview COMMAND --help' for a command's options.",
        )
        parser.add_argument("--version", action="version", version=f"auditview {__version__}")
        _add_paths(parser)
        _add_time(parser)
        _add_filter(parser)
        _add_slow(parser)
        parser.add_argument(
            "--demo", action="store_true", help="run the demo tool in the background and watch it"
        )
        parser.add_argument("--no-follow", action="store_true", help="do not follow the logs as they grow")
        return parser
    if command == "export":
        parser = _new_parser(
            "auditview export",
            "Print the matching records as JSONL, each line byte-identical to its source line, oldest first.",
        )
        _add_paths(parser)
        _add_time(parser)
        _add_filter(parser)
        parser.add_argument("--trace", metavar="ID", help="only the records of this trace")
        parser.add_argument("--to", metavar="FILE", help="write to FILE atomically instead of stdout")
        parser.add_argument("--force", action="store_true", help="overwrite an existing --to FILE")
        parser.add_argument(
            "--manifest", metavar="FILE", help="also write a manifest (sources, counts, sha256)"
        )
        parser.add_argument(
            "--format",
            choices=("jsonl", "otlp-json"),
            help="jsonl (default): the source lines byte for byte; otlp-json: one OpenTelemetry span per"
            " record, as OTLP/JSON ExportTraceServiceRequest lines (Jaeger, Tempo, otel-tui, a collector)",
        )
        parser.add_argument(
            "--semconv",
            choices=("cli", "genai"),
            help="with otlp-json: cli (default): the CLI-program conventions; genai: also an agent's tool"
            " calls (gen_ai.operation.name=execute_tool, the trace as the agent's conversation)",
        )
        parser.add_argument(
            "--otlp-endpoint",
            metavar="URL",
            help="send the OTLP/JSON to a collector over OTLP/HTTP (POST; /v1/traces is appended to a URL"
            " without a path; implies --format otlp-json)",
        )
        _add_output(
            parser,
            help_text="jsonl (default): the source lines; json: the parsed records in an envelope; table"
            " (with --format otlp-json: the summary of --to or --otlp-endpoint)",
        )
        _add_strict(parser)
        _add_check_all(parser)
        return parser
    if command == "traces":
        parser = _new_parser(
            "auditview traces", "Summaries of the traces: span, steps, failures, slowest step."
        )
        _add_paths(parser)
        _add_time(parser)
        _add_filter(parser)
        _add_slow(parser)
        parser.add_argument(
            "--sort",
            choices=TRACE_SORTS,
            default="start",
            help="start: newest first; span/steps/failed/slowest: largest first (default start)",
        )
        parser.add_argument(
            "--limit", type=_positive_int, metavar="N", help="show only the first N after sorting"
        )
        parser.add_argument("--reverse", action="store_true", help="reverse the sort order")
        parser.add_argument(
            "--no-findings",
            action="store_true",
            help="skip the findings (about 1 s at 1M records; their column and JSON key are then absent)",
        )
        _add_output(parser)
        _add_strict(parser)
        return parser
    if command == "trace":
        parser = _new_parser(
            "auditview trace",
            "The timeline of one trace: steps with offsets, durations, gaps, nesting, slow steps, failures\n"
            "and the critical path. ID may be a unique prefix.",
        )
        parser.add_argument("trace_id", metavar="ID", help="the trace id (or a unique prefix of it)")
        _add_paths(parser)
        _add_time(parser)
        _add_filter(parser)
        _add_slow(parser)
        _add_output(parser)
        _add_strict(parser)
        return parser
    if command == "diff":
        return _diff_parser()
    if command == "report":
        parser = _new_parser(
            "auditview report",
            "One trace as a report to attach to a ticket: header, waterfall, failed and slow steps with\n"
            "params and errors, long gaps, the diff against the previous similar run, findings, and the\n"
            "manifest (sources, byte ranges, sha256) of its records. ID may be a unique prefix.",
        )
        parser.add_argument("trace_id", metavar="ID", help="the trace id (or a unique prefix of it)")
        _add_paths(parser)
        _add_time(parser)
        _add_filter(parser)
        _add_slow(parser)
        parser.add_argument(
            "--format", choices=("md", "html"), default="md", help="md (default): Markdown; html: one file"
        )
        parser.add_argument(
            "--gap", metavar="DURATION", default="30s", help="list idle gaps at least this long (default 30s)"
        )
        parser.add_argument(
            "--export",
            metavar="DIR",
            help="write report.md/report.html, trace.jsonl (the records byte for byte) and manifest.json"
            " into DIR instead of printing the report",
        )
        parser.add_argument("--force", action="store_true", help="write into a non-empty --export DIR")
        _add_strict(parser)
        return parser
    if command == "stats":
        parser = _new_parser(
            "auditview stats", "Per tool and command: count, errors, error rate and p50/p95/p99/max duration."
        )
        _add_paths(parser)
        _add_time(parser)
        _add_filter(parser)
        _add_output(parser)
        _add_strict(parser)
        _add_check_all(parser)
        return parser
    if command == "rejects":
        parser = _new_parser(
            "auditview rejects",
            "The malformed lines of the inputs: file:line, byte offset, reason and an excerpt.",
        )
        _add_paths(parser)
        parser.add_argument(
            "--warnings",
            action="store_true",
            help="list the field warnings instead: records kept with a field whose value was unusable",
        )
        parser.add_argument("--limit", type=_positive_int, metavar="N", help="show only the first N")
        _add_output(parser)
        _add_strict(parser)
        return parser
    if command == "audit-log":
        parser = _new_parser(
            "auditview audit-log",
            "The audit-log subcommand of the contract, over all sources: stored lines oldest first.",
        )
        _add_paths(parser)
        _add_time(parser)
        parser.add_argument("--trace-id", metavar="ID", help="only the records of this trace")
        parser.add_argument("--command", metavar="NAME", help="only the records of this command")
        _add_filter(parser)
        parser.add_argument(
            "-f", "--follow", action="store_true", help="keep printing records as they arrive"
        )
        parser.add_argument(
            "-n", "--lines", type=_positive_int, metavar="N", dest="last", help="only the last N records"
        )
        _add_output(parser)
        _add_strict(parser)
        _add_check_all(parser)
        return parser
    if command == "cache":
        parser = _new_parser(
            "auditview cache",
            "Prune the index cache: remove the entries of logs that are gone or changed, then the least\n"
            "recently used ones until the cache fits its cap (AUDITVIEW_CACHE_MAX_BYTES, default 2G).\n"
            "The cache only makes loading faster; removing entries never changes a result.",
        )
        parser.add_argument("--clear", action="store_true", help="remove every entry instead")
        parser.add_argument(
            "--warm",
            action="store_true",
            help="instead: index PATH... (default: every audit log found) into the cache now, every\n"
            "column, so that the app and later commands start warm (e.g. from cron after rotation)",
        )
        _add_paths(parser)
        parser.add_argument(
            "--max-bytes",
            metavar="SIZE",
            type=_size,
            help="the cap for this prune (500M, 1.5G; 0 or off: no cap)",
        )
        _add_output(parser)
        return parser
    if command == "check":
        return _check_parser()
    if command == "schema":
        return _schema_parser()
    raise ValueError(f"unknown command {command!r}")


def _check_parser() -> _Parser:
    parser = _new_parser(
        "auditview check",
        "Grade any command-line tool against the observability contract (the seed's evaluation table, score\n"
        "0-3, and its Check): COMMAND runs twice with TOOL_TRACE_ID=test-123; its JSON response's meta, the\n"
        "records of 'TOOL audit-log --since 1h --output jsonl' after each run and the propagation of the\n"
        "trace to its child processes are checked. Each condition is shown with its evidence.",
    )
    parser.epilog = (
        "COMMAND runs twice: give it one without lasting effects (a dry run, a status query).\n"
        "The tool's child probe: the second run has AUDITVIEW_CHILD_PROBE=PATH; a tool shows that its\n"
        "children see the trace by having one child write its TOOL_TRACE_ID there (auditview's writer\n"
        "adapters do). Without --child-probe, propagation nobody can observe is 'skip', not 'fail'.\n"
        "\nexit codes:\n"
        f"  {EXIT_OK:<3} the score reaches --min-score\n"
        f"  {EXIT_FAILURE:<3} the score is below --min-score\n"
        f"  {EXIT_USAGE:<3} usage error, or COMMAND cannot be started\n"
        f"  ({EXIT_DATAERR} and {EXIT_NOINPUT}, input errors of the commands that read logs, do not occur)"
    )
    parser.add_argument(
        "--min-score",
        type=int,
        choices=range(4),
        default=3,
        metavar="N",
        help="exit 0 when the score is at least N, else 1 (0-3, default 3)",
    )
    parser.add_argument(
        "--keep-env",
        action="store_true",
        help="run in your environment (your XDG_DATA_HOME, your logs) instead of a temporary XDG_DATA_HOME "
        "and XDG_STATE_HOME",
    )
    parser.add_argument(
        "--child-probe",
        action="store_true",
        help="require that propagation is observed (AUDITVIEW_CHILD_PROBE or a child record in the log)",
    )
    parser.add_argument(
        "--tool",
        metavar="WORDS",
        help="the words of COMMAND that run the tool, for 'WORDS audit-log ...' (default: those before "
        "meta.command, else the program and its script)",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="per process (default 60)"
    )
    parser.add_argument(
        "-o", "--output", choices=("table", "json"), default=None, help="table (default) or json"
    )
    parser.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]", help="the command to grade"
    )
    return parser


class _IntermixedParser(_Parser):
    """Positionals may come after options (``diff B --previous PATH``): optional positionals would
    otherwise be taken as empty before the first option."""

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        return self.parse_intermixed_args(args, namespace)


def _diff_parser() -> _Parser:
    parser = _IntermixedParser(
        prog="auditview diff",
        usage="auditview diff A B [PATH...] [options]\n"
        "       auditview diff B --previous [PATH...] [options]   (or: auditview diff prev B [PATH...])",
        description="Compare two runs: the steps of trace A (then) and trace B (now), each ordered by\n"
        "start, aligned by (tool, command) so that an inserted retry or a missing step shows as an\n"
        "insertion (+) or a deletion (-); paired steps (= alike, ~ changed) show the duration then and\n"
        "now, its change (delta and ratio), exit codes, changed params (by key), version, operator and\n"
        "host, and the gap before the step (think time). Then the span, the failures and the step that\n"
        "contributes most to the difference. A and B may be unique prefixes. --previous (or A given as\n"
        "'prev') compares B with its previous similar run: the latest trace that started before B with\n"
        "the same first step (tool, command) and the same operator, else the same first step, else the\n"
        "same operator.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "a", metavar="A", help="the trace id (or a unique prefix) of the run to compare with (then)"
    )
    parser.add_argument(
        "b", metavar="B", nargs="?", help="the trace id (or a unique prefix) of the run compared (now)"
    )
    _add_paths(parser)
    parser.add_argument(
        "--previous",
        action="store_true",
        help="compare the one trace given (B) with its previous similar run (same as A = prev)",
    )
    _add_time(parser)
    _add_filter(parser)
    _add_output(parser)
    _add_strict(parser)
    return parser


def _schema_parser() -> _Parser:
    from auditview.schema import SCHEMA_NAMES

    parser = _new_parser(
        "auditview schema",
        "Print a contract as a JSON Schema (2020-12) document, as shipped in auditview/schemas/:\n"
        "  writer  a record as auditview's writer writes it\n"
        "  reader  a line of any producer's log that auditview reads as a record ($defs/clean: no field\n"
        "          warning either)\n"
        "  meta    the meta object of a JSON response ($defs/response: the envelope)\n"
        "Each document's description says what JSON Schema cannot express of the contract.",
    )
    parser.epilog = (
        "exit codes:\n"
        f"  {EXIT_OK:<3} the document was printed\n"
        f"  {EXIT_USAGE:<3} usage error (e.g. an unknown NAME)\n"
        f"  ({EXIT_DATAERR} and {EXIT_NOINPUT}, input errors of the commands that read logs, do not occur)"
    )
    parser.add_argument("name", nargs="?", choices=SCHEMA_NAMES, default="writer", help="default: writer")
    parser.add_argument("--path", action="store_true", help="print the installed file's path instead")
    parser.add_argument(
        "-o",
        "--output",
        choices=("json",),
        default=None,
        help="json: the document as data of the envelope {ok, data, meta} (default: the document)",
    )
    return parser


def _size(text: str) -> int:
    from auditview.core.cache import parse_size

    size = parse_size(text)
    if size is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 500M, 1.5G, 0)")
    return size


# ----------------------------------------------------------------------------------------------------
# Running a command: output modes, the envelope, errors


@dataclass
class Run:
    """One CLI invocation in progress: parsed options, resolved output mode and the writer's invocation."""

    command: str
    ns: argparse.Namespace
    output: str
    inv: Invocation | None
    since: datetime | None = None
    until: datetime | None = None
    slow_ms: float = 5_000.0
    fields: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def stdout(self) -> TextIO:
        """The current ``sys.stdout`` (tests replace it)."""
        return sys.stdout

    def write_bytes(self, data: bytes) -> None:
        """Write raw bytes to stdout, after anything already written as text."""
        self.stdout.flush()
        self.stdout.buffer.write(data)

    def meta(self) -> dict[str, Any]:
        """The contract's ``meta`` for the JSON envelope (empty when auditing is unavailable)."""
        return self.inv.meta() if self.inv is not None else {}

    def emit_json(self, data: Any) -> None:
        """Print the success envelope ``{"ok": true, "data": ..., <fields>, "meta": ...}``."""
        envelope: dict[str, Any] = {"ok": True, "data": data}
        envelope.update(self.fields)
        envelope["meta"] = self.meta()
        self.write_bytes(_dumps(envelope) + b"\n")

    def emit_jsonl(self, items: Iterable[Any]) -> None:
        """Print one compact JSON object per line."""
        self.stdout.flush()
        out = self.stdout.buffer
        batch: list[bytes] = []
        for item in items:
            batch.append(_dumps(item))
            if len(batch) >= 4096:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")

    def emit_lines(self, lines: Iterable[str]) -> None:
        """Print already-rendered text lines."""
        text = "\n".join(lines)
        self.write_bytes(text.encode("utf-8", "replace") + (b"\n" if text else b""))

    def palette(self) -> Any:
        """The colour/glyph palette for tables on this stdout."""
        from auditview.cli_render import terminal_palette

        return terminal_palette(self.stdout)

    def width(self) -> int:
        """Terminal width for tables (``COLUMNS`` wins; 120 when not a terminal)."""
        return max(shutil.get_terminal_size((120, 24)).columns, 40)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default, option=_JSON_OPTS)


def _json_default(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "to_list"):
        return value.to_list()
    if hasattr(value, "total_seconds"):
        return value.total_seconds() * 1000.0
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _prescan_output(argv: Sequence[str]) -> str | None:
    """The ``-o`` value in raw argv, for rendering usage errors in the requested format."""
    for i, arg in enumerate(argv):
        if arg in ("-o", "--output") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--output="):
            return arg.split("=", 1)[1]
        if arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--"):
            return arg[2:].lstrip("=")
    return None


def _report_error(error: CliError, *, output: str | None, command: str, meta: dict[str, Any]) -> None:
    if output == "json":
        body = {"type": error.error_type, "message": error.message, **error.extra}
        envelope = {"ok": False, "error": body, "meta": meta}
        sys.stdout.flush()
        sys.stdout.buffer.write(_dumps(envelope) + b"\n")
        sys.stdout.flush()
    from auditview.text.sanitize import printable

    prog = "auditview" if command == "app" else f"auditview {command}"
    if error.detail and error.error_type == "UsageError":
        _stderr(error.detail)
    _stderr(f"{prog}: error: {printable(error.message)}")
    if error.detail and error.error_type != "UsageError":
        _stderr(error.detail)


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


def main(argv: list[str] | None = None) -> int:
    """Run ``auditview`` with ``argv`` (default ``sys.argv[1:]``) and return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "run":  # the wrapper (auditview.writer.wrap): imports nothing heavy, no self-audit
        from auditview.writer.wrap import main as run_main

        return run_main(args[1:])
    command = args[0] if args and args[0] in SUBCOMMANDS else "app"
    rest = args[1:] if command != "app" else args
    from auditview.allocator import configure_allocator

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
    except _HelpShownError as shown:
        return shown.status
    except CliError as error:
        with _invocation(command, {"argv": args}) as inv:
            meta = inv.meta() if inv is not None else {}
            _report_error(error, output=_prescan_output(rest), command=command, meta=meta)
            if inv is not None:
                inv.fail(error.message, error_type=error.error_type, exit_code=error.exit_code)
        return error.exit_code

    default = "jsonl" if command == "export" or not _is_tty(sys.stdout) else "table"
    output = getattr(ns, "output", None) or default
    with _invocation(command, _params_of(ns)) as inv:
        run = Run(command=command, ns=ns, output=output, inv=inv)
        code = EXIT_OK
        try:
            _resolve_options(run)
            code = _COMMANDS[command](run)
            run.stdout.flush()
            for note in run.notes:  # after the output, where a human reading a table sees it
                _stderr(note)
        except CliError as error:
            _report_error(error, output=output, command=command, meta=run.meta())
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
            _report_error(failure, output=output, command=command, meta=run.meta())
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


class _invocation:  # noqa: N801 - used like a function: ``with _invocation(...) as inv``
    """The writer's invocation for this run, or ``None`` when the writer cannot be set up (never fatal)."""

    def __init__(self, command: str, params: dict[str, Any]) -> None:
        self._command = command
        self._params = params
        self._cm: Any = None

    def __enter__(self) -> Invocation | None:
        try:
            from auditview.writer import Auditor

            auditor = Auditor(tool="auditview", version=__version__)
            self._cm = auditor.invocation(self._command, params=self._params)
            inv: Invocation = self._cm.__enter__()
        except Exception as exc:  # the CLI works without its own audit trail
            _stderr(f"auditview: warning: cannot record this invocation: {exc}")
            self._cm = None
            return None
        return inv

    def __exit__(self, *exc_info: Any) -> bool:
        if self._cm is None:
            return False
        return bool(self._cm.__exit__(*exc_info))


def _params_of(ns: argparse.Namespace) -> dict[str, Any]:
    """The options worth recording: everything set to a non-default, non-empty value."""
    params: dict[str, Any] = {}
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


# ----------------------------------------------------------------------------------------------------
# Loading through the engine


@dataclass
class Loaded:
    """The index, and the records left after the time range and the filter (``narrowed`` when any applied)."""

    index: AuditIndex
    frame: pl.DataFrame
    narrowed: bool


def _compile(run: Run) -> Any:
    text = getattr(run.ns, "filter", "") or ""
    if not text.strip():
        return None
    from auditview.core.query import FilterError, compile_filter

    try:
        return compile_filter(text, slow_rule=_slow_rule(run))
    except FilterError as exc:
        caret = "\n".join("  " + line for line in exc.caret().splitlines()) if exc.text else ""
        raise CliError(
            f"bad filter: {exc}",
            exit_code=EXIT_USAGE,
            error_type="FilterError",
            detail=caret,
            extra={"position": exc.position, "expected": exc.expected, "suggestion": exc.suggestion},
        ) from None


def _discover(run: Run) -> list[Any]:
    """The sources of ``PATH...``: a missing or unreadable input, a device, or a named directory without an
    audit log is exit 66; with no PATH, finding nothing under the XDG roots is noted (exit 0 stays)."""
    from auditview.source.discover import NoAuditLogs, SourceMissing, default_roots, discover

    try:
        sources = discover(list(run.ns.paths), require_logs=True)
    except NoAuditLogs as exc:
        example = ""
        if exc.candidates:
            example = f", e.g. '{shlex.join(['auditview', run.command, str(exc.candidates[0])])}'"
        raise CliError(
            f"{exc}{example}",
            exit_code=EXIT_NOINPUT,
            error_type="NoAuditLogs",
            extra={"candidates": [str(path) for path in exc.candidates]},
        ) from None
    except SourceMissing as exc:
        raise CliError(str(exc), exit_code=EXIT_NOINPUT, error_type="SourceMissing") from None
    if not sources and not run.ns.paths:
        roots = " or ".join(f"{root}/*/" for root in default_roots())
        run.notes.append(f"auditview: no audit logs under {roots} (name a file or directory to read)")
    return sources


def _load_index(
    run: Run,
    columns: frozenset[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    prefilter: Prefilter | None = None,
) -> AuditIndex:
    sources = _discover(run)
    from auditview.core.index import AuditIndex
    from auditview.source.discover import SourceMissing

    try:
        index = AuditIndex.load(
            sources,
            columns=columns,
            cache=False if run.ns.no_cache else None,
            progress=progress,
            prefilter=prefilter,
        )
    except SourceMissing as exc:
        raise CliError(str(exc), exit_code=EXIT_NOINPUT, error_type="SourceMissing") from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise CliError(
            f"cannot read {exc.filename or exc}: {exc.strerror or exc}",
            exit_code=EXIT_NOINPUT,
            error_type="SourceMissing",
        ) from None
    _check_not_audit_logs(run, index)
    _check_rejects(run, index)
    return index


def _check_not_audit_logs(run: Run, index: AuditIndex) -> None:
    """A file in which not one line is a record (a binary, another program's log) is not an audit log with bad
    lines: exit 65 when no input holds a record, a note naming it otherwise (``rejects`` lists the lines).

    Undecidable after filter pushdown (lines ruled out unparsed may be records): then nothing is said here.
    """
    if run.command in ("rejects", "cache") or index.unchecked or not index.rejects:
        return
    from collections import Counter

    rejected = Counter(reject.path for reject in index.rejects)
    reasons = {reject.path: reject.reason for reject in index.rejects}
    frame = index.frame
    with_rows = set(frame.get_column("file_id").unique().to_list()) if frame.height else set()
    empty = [
        (source.display, rejected[source.display])
        for file_id, source in enumerate(index.files)
        if file_id not in with_rows and rejected[source.display]
    ]
    if not empty:
        return

    def what(path: str, count: int) -> str:
        if count == 1:  # often the reader's own reject: a compressed stream cut short, say which
            return f"{path}: not one line is a record (1 malformed line: {reasons[path]})"
        return f"{path}: not one line is a record ({count} malformed lines) — is it an audit log?"

    if frame.height:
        run.notes.extend(f"auditview: {_printable(what(path, count))}" for path, count in empty)
        return
    hint = shlex.join(["auditview", "rejects", *run.ns.paths])
    raise CliError(
        f"{'; '.join(what(path, count) for path, count in empty)} (see '{hint}')",
        exit_code=EXIT_DATAERR,
        error_type="NotAuditLog",
    )


def _check_rejects(run: Run, index: AuditIndex) -> None:
    """Report malformed lines on stderr (never silently), and fail with 65 under ``--strict``."""
    count = len(index.rejects)
    run.fields["rejects"] = count
    warned = index.warning_count
    run.fields["warnings"] = warned
    if index.unchecked:
        run.fields["unchecked"] = index.unchecked
    if run.command == "rejects":
        return
    if warned:
        hint = shlex.join(["auditview", "rejects", "--warnings", *run.ns.paths])
        run.notes.append(
            f"auditview: {warned} field warning{'s' if warned != 1 else ''} (unusable values read as "
            f"unknown, their records kept); see '{hint}'"
        )
    if not count:
        return
    hint = shlex.join(["auditview", "rejects", *run.ns.paths])
    noun = "line" if count == 1 else "lines"
    if getattr(run.ns, "strict", False):
        raise CliError(
            f"{count} malformed {noun} in the input (--strict); see '{hint}'",
            exit_code=EXIT_DATAERR,
            error_type="RejectsPresent",
        )
    among = " among the lines the filter could match" if index.unchecked else ""
    run.notes.append(f"auditview: {count} malformed {noun}{among} skipped; see '{hint}'")


def _projection(compiled: Any, needed: Iterable[str] | None) -> frozenset[str] | None:
    """The index columns to build: what the command reads plus what the filter reads (``None`` = all).

    The filter's columns come from ``CompiledFilter.columns`` when the query engine provides it; without
    it a filter gets the full frame, which is always correct, only slower.
    """
    if needed is None:
        return None
    columns = set(needed)
    if compiled is not None:
        filter_columns = getattr(compiled, "columns", None)
        if filter_columns is None:
            return None
        columns |= set(filter_columns)
    return frozenset(columns)


def _load(
    run: Run, needed: Iterable[str] | None = None, *, selectors: Mapping[str, str] | None = None
) -> Loaded:
    """Discover and index the inputs (only the ``needed`` columns), then apply time range and filter.

    ``selectors`` (``{"trace_id": ID}``): exact selections the caller applies after this; passing them
    lets the load parse only the lines that may match everything (``_prefilter``).
    """
    compiled = _compile(run)
    needed_set = None if needed is None else {*needed, *(("ts",) if run.since or run.until else ())}
    prefilter = _prefilter(run, compiled, selectors) if selectors is not None else None
    index = _load_index(run, _projection(compiled, needed_set), prefilter=prefilter)
    frame = index.frame
    narrowed = False
    if run.since is not None or run.until is not None:
        from auditview.core.query import time_range

        frame = time_range(frame, run.since, run.until)
        narrowed = True
    if compiled is not None:
        frame = compiled.apply(frame)
        narrowed = True
    return Loaded(index=index, frame=frame, narrowed=narrowed)


def _prefilter(run: Run, compiled: Any, selectors: Mapping[str, str]) -> Prefilter | None:
    """The filter pushdown of a one-shot selection (export, audit-log, stats), unless every line must be
    checked (``--check-all``, ``--strict``, ``--manifest``, or ``AUDITVIEW_PUSHDOWN=0``)."""
    ns = run.ns
    every_line = ns.check_all or ns.strict or getattr(ns, "manifest", None)
    if every_line or os.environ.get("AUDITVIEW_PUSHDOWN") == "0":
        return None
    from auditview.core.pushdown import line_prefilter

    return line_prefilter(compiled, since=run.since, until=run.until, equals=selectors)


def _slow_rule(run: Run) -> Any:
    from auditview.core.slow import SlowStepRule

    return SlowStepRule(threshold_ms=run.slow_ms)


# ----------------------------------------------------------------------------------------------------
# Commands


#: Index columns each command reads (the index builds only these, plus the filter's and the locations).
RECORD_TABLE_COLUMNS: Final = frozenset(
    {"ts", "tool", "command", "duration_ms", "exit_code", "operator", "trace_id", "params"}
)
TRACE_SUMMARY_COLUMNS: Final = frozenset(
    {"ts", "tool", "command", "exit_code", "duration_ms", "request_id", "trace_id", "operator"}
)
STATS_COLUMNS: Final = frozenset({"ts", "tool", "command", "exit_code", "duration_ms"})


def _export_columns(run: Run) -> frozenset[str]:
    """Columns for export and audit-log: the sort key and the selectors, or a table's columns."""
    columns = {"ts"}
    if getattr(run.ns, "trace", None) is not None or getattr(run.ns, "trace_id", None) is not None:
        columns.add("trace_id")
    if getattr(run.ns, "command", None) is not None:
        columns.add("command")
    if run.output == "table":
        columns |= RECORD_TABLE_COLUMNS
    return frozenset(columns)


def _with_text_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetime columns as the contract writes timestamps: RFC 3339, UTC, microseconds, ``Z``."""
    import polars as pl

    return frame.with_columns(
        pl.col(pl.Datetime).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    )


def _frame_json(frame: pl.DataFrame) -> orjson.Fragment:
    """A frame as a JSON array of row objects, serialized by polars (no per-row Python)."""
    return orjson.Fragment(_with_text_times(frame).write_json())


def _frame_ndjson(frame: pl.DataFrame) -> bytes:
    """A frame as one JSON object per line, serialized by polars."""
    return _with_text_times(frame).write_ndjson().encode()


def _records_table(
    run: Run, index: AuditIndex, frame: pl.DataFrame, *, fixed: bool = False, header: bool = True
) -> list[str]:
    """A table of records: time, tool, command, duration, exit, operator, trace, params.

    ``fixed`` gives every column its full width whatever the rows hold, so that batches printed while
    following line up under one header.
    """
    from auditview.cli_render import Column, format_duration_ms, format_local_time, render_table

    columns = [
        Column("time", min_width=10, max_width=23, fixed=fixed),
        Column("tool", max_width=20, flex=True, fixed=fixed),
        Column("command", max_width=24, flex=True, fixed=fixed),
        Column("duration", align="right", max_width=8, fixed=fixed),
        Column("exit", align="right", max_width=4, fixed=fixed),
        Column("operator", max_width=16, flex=True, fixed=fixed),
        Column("trace", max_width=32, flex=True, fixed=fixed),
        Column("params", max_width=80, flex=True, fixed=fixed),
    ]
    rows: list[list[Any]] = []
    for rec in frame.select(
        "ts", "tool", "command", "duration_ms", "exit_code", "operator", "trace_id", "params"
    ).iter_rows(named=True):
        failed = rec["exit_code"] is not None and rec["exit_code"] != 0

        def text(value: Any) -> str:
            return "-" if value is None else str(value)

        rows.append(
            [
                format_local_time(rec["ts"]),
                text(rec["tool"]),
                text(rec["command"]),
                format_duration_ms(rec["duration_ms"]),
                (text(rec["exit_code"]), "red" if failed else None),
                text(rec["operator"]),
                text(rec["trace_id"]),
                text(rec["params"]),
            ]
        )
    lines = render_table(columns, rows, width=run.width(), palette=run.palette())
    return lines if header else lines[2:]


def _parsed_records(index: AuditIndex, frame: pl.DataFrame) -> Iterator[Any]:
    for raw in index.iter_raw(frame):
        yield orjson.loads(raw)


def _selection_text(filter_text: str, trace_id: str | None) -> str | None:
    """What selected the exported records, for the manifest: the filter, and-ed with ``--trace``."""
    parts = [f"({filter_text})" if trace_id is not None else filter_text] if filter_text.strip() else []
    if trace_id is not None:
        parts.append(f"trace_id={orjson.dumps(trace_id).decode()}")
    return " and ".join(parts) or None


@contextlib.contextmanager
def _write_errors(target: str) -> Iterator[None]:
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


def cmd_export(run: Run) -> int:
    """``auditview export``: matching records, byte-identical, to stdout or atomically to ``--to``; with
    ``--format otlp-json`` as OpenTelemetry spans (``_export_otlp``)."""
    ns = run.ns
    if ns.manifest and not ns.to:
        raise CliError("--manifest needs --to FILE", exit_code=EXIT_USAGE, error_type="UsageError")
    if ns.force and not ns.to:
        raise CliError("--force needs --to FILE", exit_code=EXIT_USAGE, error_type="UsageError")
    otlp = _otlp_options(run)
    if ns.to:
        from auditview.core.exporters.jsonl import check_targets

        with _write_errors(ns.to):  # before the load: a bad target fails at once
            check_targets(Path(ns.to), Path(ns.manifest) if ns.manifest else None, force=ns.force)
    columns = _export_columns(run)
    if otlp:
        from auditview.core.exporters.otlp import OTLP_COLUMNS

        columns = columns | OTLP_COLUMNS
    loaded = _load(run, columns, selectors={} if ns.trace is None else {"trace_id": ns.trace})
    frame = loaded.frame
    if ns.trace is not None:
        import polars as pl

        frame = frame.filter(pl.col("trace_id").cast(pl.String) == ns.trace)
    if otlp:
        return _export_otlp(run, loaded.index, frame)
    if ns.to:
        from auditview.core.exporters.jsonl import export_to_file

        with _write_errors(ns.to):
            result = export_to_file(
                loaded.index,
                frame,
                Path(ns.to),
                force=ns.force,
                manifest=Path(ns.manifest) if ns.manifest else None,
                filter_text=_selection_text(ns.filter, ns.trace),
                since=run.since,
                until=run.until,
            )
        summary = {
            "count": result.count,
            "bytes": result.bytes,
            "sha256": result.sha256,
            "path": str(result.path) if result.path is not None else ns.to,
            "manifest": ns.manifest,
        }
        if run.output == "json":
            run.emit_json(summary)
        elif run.output == "jsonl":
            run.emit_jsonl([summary])
        else:
            from auditview.text.sanitize import printable

            run.emit_lines(
                [
                    f"exported {result.count} record{'s' if result.count != 1 else ''} "
                    f"({result.bytes} bytes) to {printable(summary['path'])}",
                    f"sha256 {result.sha256}",
                ]
                + ([f"manifest {printable(ns.manifest)}"] if ns.manifest else [])
            )
        return EXIT_OK
    if run.output == "json":
        run.emit_json(list(_parsed_records(loaded.index, frame)))
    elif run.output == "table":
        run.emit_lines(_records_table(run, loaded.index, frame))
    else:
        from auditview.core.exporters.jsonl import export_lines

        run.stdout.flush()
        export_lines(loaded.index, frame, run.stdout.buffer)
        run.stdout.buffer.flush()
    return EXIT_OK


def _otlp_options(run: Run) -> bool:
    """Check the OTLP options of ``export`` (exit 2 on a bad combination); True when the export is OTLP."""
    ns = run.ns
    if ns.otlp_endpoint is not None and ns.format == "jsonl":
        raise CliError(
            "--otlp-endpoint sends OTLP: it needs --format otlp-json (or no --format)",
            exit_code=EXIT_USAGE,
            error_type="UsageError",
        )
    otlp = ns.format == "otlp-json" or ns.otlp_endpoint is not None
    if ns.semconv is not None and not otlp:
        raise CliError("--semconv needs --format otlp-json", exit_code=EXIT_USAGE, error_type="UsageError")
    if not otlp:
        return False
    if ns.otlp_endpoint is not None:
        from auditview.core.exporters.otlp import traces_url

        try:
            traces_url(ns.otlp_endpoint)
        except ValueError as exc:
            raise CliError(str(exc), exit_code=EXIT_USAGE, error_type="UsageError") from None
    elif not ns.to and ns.output in ("json", "table"):
        raise CliError(
            f"-o {ns.output} with --format otlp-json needs --to FILE or --otlp-endpoint URL (the OTLP/JSON"
            " itself goes to stdout as JSON lines)",
            exit_code=EXIT_USAGE,
            error_type="UsageError",
        )
    return True


def _export_otlp(run: Run, index: AuditIndex, frame: pl.DataFrame) -> int:
    """``export --format otlp-json``: the spans as OTLP/JSON lines to stdout, ``--to`` (atomically) and/or
    ``--otlp-endpoint``; a summary of what was written or sent when not on stdout."""
    from auditview.core.exporters.otlp import (
        OtlpSendError,
        Semconv,
        build_requests,
        counted_lines,
        send_otlp,
        write_otlp,
    )

    ns = run.ns
    semconv: Semconv = "genai" if ns.semconv == "genai" else "cli"
    places = [os.path.abspath(source.path) for source in index.files]

    def lines() -> Iterator[tuple[bytes, int]]:
        return counted_lines(build_requests(frame, semconv=semconv, places=places))

    summary: dict[str, Any] = {"format": "otlp-json", "semconv": semconv}
    if not ns.to and ns.otlp_endpoint is None:
        run.stdout.flush()
        write_otlp(lines(), run.stdout.buffer)
        run.stdout.buffer.flush()
        return EXIT_OK
    if ns.to:
        from auditview.core.exporters.jsonl import ExportResult, _atomic_write, build_manifest

        with _write_errors(ns.to):
            written = _atomic_write(Path(ns.to), lambda out: write_otlp(lines(), out), force=ns.force)
            if ns.manifest:
                result = ExportResult(written.spans, written.bytes, written.sha256, Path(ns.to))
                document = build_manifest(
                    index,
                    frame,
                    result,
                    filter_text=_selection_text(ns.filter, ns.trace),
                    since=run.since,
                    until=run.until,
                )
                manifest = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
                _atomic_write(Path(ns.manifest), lambda out: out.write(manifest), force=ns.force)
        summary.update(
            count=written.spans,
            requests=written.requests,
            bytes=written.bytes,
            sha256=written.sha256,
            path=ns.to,
            manifest=ns.manifest,
        )
    if ns.otlp_endpoint is not None:
        try:
            sent = send_otlp(ns.otlp_endpoint, lines())
        except OtlpSendError as exc:
            raise CliError(str(exc), exit_code=EXIT_FAILURE, error_type="OtlpSendError") from None
        summary.update(
            count=sent.spans,
            endpoint=sent.url,
            sent_requests=sent.requests,
            sent_bytes=sent.bytes,
            retries=sent.retries,
        )
    if run.output == "json":
        run.emit_json(summary)
    elif run.output == "jsonl":
        run.emit_jsonl([summary])
    else:
        from auditview.text.sanitize import printable

        spans = summary["count"]
        noun = f"{spans} span{'s' if spans != 1 else ''}"
        text: list[str] = []
        if ns.to:
            text.append(f"exported {noun} ({summary['bytes']} bytes, OTLP/JSON) to {printable(ns.to)}")
            text.append(f"sha256 {summary['sha256']}")
            if ns.manifest:
                text.append(f"manifest {printable(ns.manifest)}")
        if ns.otlp_endpoint is not None:
            retries = summary["retries"]
            again = f", {retries} retr{'ies' if retries != 1 else 'y'}" if retries else ""
            text.append(
                f"sent {noun} in {summary['sent_requests']} request"
                f"{'s' if summary['sent_requests'] != 1 else ''} to {printable(summary['endpoint'])}{again}"
            )
        run.emit_lines(text)
    return EXIT_OK


def _sorted_traces(run: Run, summary: pl.DataFrame) -> pl.DataFrame:
    key = {
        "start": "start",
        "span": "span_ms",
        "steps": "steps",
        "failed": "failed",
        "slowest": "slowest_ms",
    }[run.ns.sort]
    descending = not run.ns.reverse
    ties = ["start", "trace_id"] if key != "start" else ["trace_id"]
    summary = summary.sort([key, *ties], descending=[descending] + [descending] * len(ties), nulls_last=True)
    if run.ns.limit is not None:
        summary = summary.head(run.ns.limit)
    return summary


def _trace_findings(run: Run, loaded: Loaded, trace_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """The findings of each trace with any (``auditview.core.findings.group_findings``: ``trace_id``,
    ``findings``;
    steps with their ``path``), detected over the loaded records in --since/--until (the frame ``--filter``
    runs on, so they agree with ``trace.finding``), whatever the filter left; only ``trace_ids`` when given.
    """
    from auditview.core.findings import detect_findings, group_findings
    from auditview.core.query import time_range

    frame = time_range(loaded.index.frame, run.since, run.until)
    findings = detect_findings(frame, trace_ids=trace_ids)
    return group_findings(findings, [source.display for source in loaded.index.files])


def cmd_traces(run: Run) -> int:
    """``auditview traces``: one row per trace, sorted and limited, with its findings."""
    import polars as pl

    from auditview.core.findings import FINDING_COLUMNS
    from auditview.core.traces import orphans, summarize_traces

    with_findings = not run.ns.no_findings
    loaded = _load(run, TRACE_SUMMARY_COLUMNS | (FINDING_COLUMNS if with_findings else frozenset()))
    rule = _slow_rule(run)
    frame = loaded.frame
    if loaded.narrowed:
        # "Usually" means in all the loaded data, not in the slice the filter left.
        frame = rule.annotate(frame, reference=loaded.index.frame)
    summary = _sorted_traces(run, summarize_traces(frame, rule))
    if with_findings:
        selected = loaded.narrowed or run.ns.limit is not None
        wanted = summary.get_column("trace_id").to_list() if selected else None
        grouped = _trace_findings(run, loaded, wanted)
        summary = summary.join(grouped, on="trace_id", how="left", maintain_order="left").with_columns(
            pl.col("findings").fill_null(pl.lit([], dtype=grouped.schema["findings"]))
        )
    run.fields["orphans"] = orphans(loaded.frame).height
    if run.output == "json":
        run.emit_json(_frame_json(summary))
    elif run.output == "jsonl":
        run.write_bytes(_frame_ndjson(summary))
    else:
        from auditview.cli_render import (
            Column,
            findings_cell,
            format_duration_ms,
            format_local_time,
            render_table,
        )

        palette = run.palette()
        columns = [
            Column("trace", min_width=23, max_width=40, keep_end=True),
            Column("start", min_width=10, max_width=23),
            Column("span", align="right"),
            Column("steps", align="right"),
            Column("failed", align="right"),
            Column("slow", align="right"),
            *([Column("findings", min_width=8, max_width=32)] if with_findings else []),
            Column("slowest step", min_width=8, max_width=40, flex=True),
            Column("tools", min_width=8, max_width=60, flex=True),
            Column("operators", min_width=8, max_width=40, flex=True),
        ]
        rows: list[list[Any]] = []
        for t in summary.iter_rows(named=True):
            failed = int(t.get("failed") or 0)
            slow = int(t.get("slow") or 0)
            rows.append(
                [
                    str(t["trace_id"]),
                    format_local_time(t["start"]),
                    format_duration_ms(t["span_ms"]),
                    str(t["steps"]),
                    (str(failed), "red" if failed else None),
                    (str(slow), "yellow" if slow else None),
                    *([findings_cell(t.get("findings") or [], palette)] if with_findings else []),
                    f"{t.get('slowest_command') or '-'} {format_duration_ms(t.get('slowest_ms'))}",
                    ",".join(str(x) for x in (t.get("tools") or [])),
                    ",".join(str(x) for x in (t.get("operators") or [])),
                ]
            )
        lines = render_table(columns, rows, width=run.width(), palette=palette)
        total = summary.height
        lines.append(f"{total} trace{'s' if total != 1 else ''}, {run.fields['orphans']} orphan records")
        run.emit_lines(lines)
    return EXIT_OK


def _find_trace_id(frame: pl.DataFrame, wanted: str) -> str:
    """``wanted`` when it is a trace id in ``frame``, else the one trace id it is a unique prefix of."""
    import polars as pl

    ids = frame.get_column("trace_id").cast(pl.String)
    if (ids == wanted).any():
        return wanted
    if wanted:
        candidates = ids.filter(ids.str.starts_with(wanted)).unique().sort().to_list()
        if len(candidates) == 1:
            return str(candidates[0])
        if len(candidates) > 1:
            from auditview.text.sanitize import printable

            shown = ", ".join(printable(str(c)) for c in candidates[:5])
            more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
            raise CliError(
                f"trace id prefix {wanted!r} is ambiguous: {shown}{more}",
                exit_code=EXIT_USAGE,
                error_type="UsageError",
            )
    raise CliError(
        f"no trace {wanted!r} in the selected records", exit_code=EXIT_FAILURE, error_type="TraceNotFound"
    )


def _step_details(frame: pl.DataFrame, trace_id: str) -> dict[tuple[int, int], dict[str, Any]]:
    """Per step of the trace, by its place (``file_id``, ``offset``): parsed params, error, host, and which
    fields were derived or unusable (``derived``, ``warnings``), which the timeline does not carry."""
    import polars as pl

    details: dict[tuple[int, int], dict[str, Any]] = {}
    wanted = ("file_id", "offset", "params", "error_type", "error_message", "host", "derived", "warnings")
    cols = [c for c in wanted if c in frame.columns]
    rows = frame.filter(pl.col("trace_id").cast(pl.String) == trace_id).select(cols)
    for row in rows.iter_rows(named=True):
        try:
            params = orjson.loads(row["params"]) if row.get("params") is not None else None
        except orjson.JSONDecodeError:
            params = row["params"]
        error = None
        if row.get("error_type") is not None or row.get("error_message") is not None:
            error = {"type": row.get("error_type"), "message": row.get("error_message")}
        details[(row["file_id"], row["offset"])] = {
            "params": params,
            "error": error,
            "host": row.get("host"),
            "derived": row["derived"].split(",") if row.get("derived") else [],
            "warnings": row["warnings"].split("\n") if row.get("warnings") else [],
        }
    return details


def cmd_trace(run: Run) -> int:
    """``auditview trace ID``: the timeline as a text waterfall, or as JSON; with the trace's findings."""
    import polars as pl

    from auditview.core.timeline import TraceNotFoundError, build_timeline

    loaded = _load(run)
    trace_id = _find_trace_id(loaded.frame, run.ns.trace_id)
    rule = _slow_rule(run)
    # Slow means "slow compared with all the loaded data", whatever slice the filter left.
    rows = rule.annotate(
        loaded.frame.filter(pl.col("trace_id").cast(pl.String) == trace_id), reference=loaded.index.frame
    )
    try:
        timeline = build_timeline(rows, trace_id, rule)
    except TraceNotFoundError:
        raise CliError(
            f"no usable trace {trace_id!r}", exit_code=EXIT_FAILURE, error_type="TraceNotFound"
        ) from None
    grouped = _trace_findings(run, loaded, [trace_id])
    findings: list[dict[str, Any]] = grouped.get_column("findings")[0].to_list() if grouped.height else []
    if run.output == "table":
        from auditview.cli_render import render_findings, render_waterfall

        palette = run.palette()
        lines = render_waterfall(timeline, width=run.width(), palette=palette)
        # the findings go above the legend, which stays the last line
        lines[-1:-1] = render_findings(findings, width=run.width(), palette=palette)
        run.emit_lines(lines)
        return EXIT_OK
    involved: dict[tuple[int, int], list[str]] = {}
    for finding in findings:
        for place in finding["steps"]:
            names = involved.setdefault((place["file_id"], place["offset"]), [])
            if finding["name"] not in names:
                names.append(finding["name"])
    details = _step_details(loaded.frame, trace_id)
    steps = []
    for step in timeline.steps:
        item = asdict(step)
        item["path"] = loaded.index.files[step.file_id].display
        item.update(details.get((step.file_id, step.offset), {}))
        item["findings"] = involved.get((step.file_id, step.offset), [])
        steps.append(item)
    if run.output == "jsonl":
        run.emit_jsonl(steps)
    else:
        data = asdict(timeline)
        data["steps"] = steps
        data["findings"] = findings
        run.emit_json(data)
    return EXIT_OK


def _diff_trace(frame: pl.DataFrame, wanted: str, side: str) -> str:
    """``_find_trace_id`` for one side of a diff, its message naming the side."""
    try:
        return _find_trace_id(frame, wanted)
    except CliError as error:
        raise CliError(
            f"{side}: {error.message}", exit_code=error.exit_code, error_type=error.error_type
        ) from None


def cmd_diff(run: Run) -> int:
    """``auditview diff A B``: two runs aligned step by step (``auditview.core.diff``)."""
    ns = run.ns
    previous_wanted = ns.previous or ns.a == "prev"
    if ns.previous:
        if ns.a == "prev":
            raise CliError("give either 'prev' or --previous", exit_code=EXIT_USAGE, error_type="UsageError")
        b_text = ns.a
        if ns.b is not None:  # with --previous the second word is the first PATH
            ns.paths = [ns.b, *ns.paths]
    else:
        b_text = ns.b
    if b_text is None:
        raise CliError(
            "two trace ids are needed: auditview diff A B [PATH...] (or: auditview diff B --previous)",
            exit_code=EXIT_USAGE,
            error_type="UsageError",
        )
    from auditview.core.diff import DIFF_COLUMNS, diff_runs, previous_run
    from auditview.core.timeline import TraceNotFoundError

    loaded = _load(run, DIFF_COLUMNS)
    frame = loaded.frame
    previous = None
    if previous_wanted:
        b_id = _diff_trace(frame, b_text, "B")
        previous = previous_run(frame, b_id)
        if previous is None:
            raise CliError(
                f"no earlier trace with the same first step or operator as {b_id!r} in the selected records",
                exit_code=EXIT_FAILURE,
                error_type="TraceNotFound",
            )
        a_id = previous.trace_id
    else:
        a_id = _diff_trace(frame, ns.a, "A")
        b_id = _diff_trace(frame, b_text, "B")
    try:
        diff = diff_runs(frame, a_id, b_id, previous=previous)
    except TraceNotFoundError as exc:
        raise CliError(
            f"no usable trace {exc.args[0]!r}", exit_code=EXIT_FAILURE, error_type="TraceNotFound"
        ) from None
    if run.output == "json":
        run.emit_json(diff.to_json())
    elif run.output == "jsonl":
        run.emit_jsonl(pair.to_json() for pair in diff.pairs)
    else:
        from auditview.cli_render import render_diff

        run.emit_lines(render_diff(diff, width=run.width(), palette=run.palette()))
    return EXIT_OK


def cmd_report(run: Run) -> int:
    """``auditview report ID``: one trace as Markdown or HTML (``auditview.core.exporters.report``), or
    ``--export DIR``."""
    import io

    import polars as pl

    from auditview.core.diff import diff_runs, previous_run
    from auditview.core.exporters.jsonl import build_manifest, export_lines
    from auditview.core.exporters.report import TraceReport, check_export_dir, render, write_export_dir
    from auditview.core.timeline import TraceNotFoundError, build_timeline
    from auditview.text.timeparse import TimeParseError, parse_duration_ms

    ns = run.ns
    try:
        gap_ms = parse_duration_ms(ns.gap, default_unit="ms")
    except TimeParseError as exc:
        raise CliError(str(exc), exit_code=EXIT_USAGE, error_type="TimeParseError") from None
    if ns.force and not ns.export:
        raise CliError("--force needs --export DIR", exit_code=EXIT_USAGE, error_type="UsageError")
    target = Path(ns.export) if ns.export else None
    if target is not None:
        with _write_errors(ns.export):  # before the load: a bad target fails at once
            check_export_dir(target, force=ns.force)
    loaded = _load(run)
    trace_id = _find_trace_id(loaded.frame, ns.trace_id)
    rule = _slow_rule(run)
    rows = loaded.frame.filter(pl.col("trace_id").cast(pl.String) == trace_id)
    try:
        timeline = build_timeline(rule.annotate(rows, reference=loaded.index.frame), trace_id, rule)
    except TraceNotFoundError:
        raise CliError(
            f"no usable trace {trace_id!r}", exit_code=EXIT_FAILURE, error_type="TraceNotFound"
        ) from None
    grouped = _trace_findings(run, loaded, [trace_id])
    findings: list[dict[str, Any]] = grouped.get_column("findings")[0].to_list() if grouped.height else []
    diff = None
    previous = previous_run(loaded.frame, trace_id)
    if previous is not None:
        with contextlib.suppress(TraceNotFoundError):
            diff = diff_runs(loaded.frame, previous.trace_id, trace_id, previous=previous)
    buffer = io.BytesIO()
    result = export_lines(loaded.index, rows, buffer)
    if target is not None:
        from auditview.core.exporters.jsonl import ExportResult

        result = ExportResult(result.count, result.bytes, result.sha256, target / "trace.jsonl")
    manifest = build_manifest(
        loaded.index,
        rows,
        result,
        filter_text=_selection_text(ns.filter, trace_id),
        since=run.since,
        until=run.until,
    )
    report = TraceReport(
        timeline=timeline,
        details=_step_details(loaded.frame, trace_id),
        paths=[source.display for source in loaded.index.files],
        findings=findings,
        diff=diff,
        manifest=manifest,
        gap_threshold_ms=gap_ms,
    )
    text = render(report, ns.format)
    if target is None:
        run.emit_lines(text.rstrip("\n").split("\n"))
        return EXIT_OK
    with _write_errors(ns.export):
        written = write_export_dir(
            target,
            report_text=text,
            fmt=ns.format,
            jsonl=buffer.getvalue(),
            manifest=manifest,
            force=ns.force,
        )
    from auditview.text.sanitize import printable

    run.emit_lines(
        [f"wrote {printable(str(path))}" for path in written]
        + [f"{result.count} record{'s' if result.count != 1 else ''}, {result.bytes} bytes"]
        + [f"sha256 {result.sha256}"]
    )
    return EXIT_OK


def cmd_stats(run: Run) -> int:
    """``auditview stats``: per tool and command: count, errors, error rate and duration percentiles."""
    from auditview.core.stats import command_stats

    loaded = _load(run, STATS_COLUMNS, selectors={})
    stats = command_stats(loaded.frame)
    if run.output == "json":
        run.emit_json(_frame_json(stats))
    elif run.output == "jsonl":
        run.write_bytes(_frame_ndjson(stats))
    else:
        from auditview.cli_render import Column, format_duration_ms, render_table

        columns = [
            Column("tool", max_width=24, flex=True),
            Column("command", max_width=30, flex=True),
            Column("count", align="right"),
            Column("errors", align="right"),
            Column("error rate", align="right"),
            Column("p50", align="right"),
            Column("p95", align="right"),
            Column("p99", align="right"),
            Column("max", align="right"),
        ]
        rows: list[list[Any]] = []
        for s in stats.iter_rows(named=True):
            errors = int(s.get("errors") or 0)
            rate = s.get("error_rate")
            rows.append(
                [
                    "-" if s["tool"] is None else str(s["tool"]),
                    "-" if s["command"] is None else str(s["command"]),
                    str(s["count"]),
                    (str(errors), "red" if errors else None),
                    f"{rate * 100:.1f}%" if rate is not None else "-",
                    format_duration_ms(s.get("p50_ms")),
                    format_duration_ms(s.get("p95_ms")),
                    format_duration_ms(s.get("p99_ms")),
                    format_duration_ms(s.get("max_ms")),
                ]
            )
        run.emit_lines(render_table(columns, rows, width=run.width(), palette=run.palette()))
    return EXIT_OK


def _reject_item(reject: Any) -> dict[str, Any]:
    raw: bytes = reject.raw
    text = raw[: _EXCERPT_CHARS * 4].decode("utf-8", "backslashreplace")[:_EXCERPT_CHARS]
    return {
        "path": str(reject.path),
        "line": reject.line,
        "offset": reject.offset,
        "reason": reject.reason,
        "excerpt": text,
        "length": len(raw),
    }


def cmd_rejects(run: Run) -> int:
    """``auditview rejects``: the malformed lines, where they are and why (``--warnings``: the field
    warnings)."""
    index = _load_index(run, frozenset({"ts"}))
    if run.ns.warnings:
        warnings = index.field_warnings()
        items = [{"path": w.path, "line": w.line, "offset": w.offset, "reason": w.reason} for w in warnings]
        _emit_places(run, items, ("warning", 100), None, f"{len(items)} field warning")
        return EXIT_OK
    rejects = sorted(index.rejects, key=lambda r: (str(r.path), r.offset))
    items = [_reject_item(r) for r in rejects]
    _emit_places(run, items, ("reason", 60), "excerpt", f"{len(items)} malformed line")
    if index.rejects and run.ns.strict:
        return EXIT_DATAERR
    return EXIT_OK


def _emit_places(
    run: Run, items: list[dict[str, Any]], reason: tuple[str, int], extra: str | None, total: str
) -> None:
    """Rejects or field warnings (``path``, ``line``, ``offset``, ``reason``...), the first ``--limit`` of
    them, as JSON, JSON lines or a table whose last line is ``total`` (pluralised by its count)."""
    count = len(items)
    if run.ns.limit is not None:
        items = items[: run.ns.limit]
    if run.output == "json":
        run.emit_json(items)
        return
    if run.output == "jsonl":
        run.emit_jsonl(items)
        return
    from auditview.cli_render import Column, render_table

    columns = [
        Column("where", min_width=20, max_width=60, keep_end=True),
        Column("offset", align="right"),
        Column(reason[0], max_width=reason[1], flex=True),
        *([Column(extra, max_width=80, flex=True)] if extra else []),
    ]
    rows: list[list[Any]] = [
        [f"{i['path']}:{i['line']}", str(i["offset"]), i["reason"], *([i[extra]] if extra else [])]
        for i in items
    ]
    lines = render_table(columns, rows, width=run.width(), palette=run.palette())
    lines.append(total + ("s" if count != 1 else ""))
    run.emit_lines(lines)


def cmd_audit_log(run: Run) -> int:
    """``auditview audit-log``: the contract's subcommand over every source, stored lines oldest first."""

    if run.ns.follow and run.output == "json":
        raise CliError(
            "--follow cannot be used with -o json (use jsonl or table)",
            exit_code=EXIT_USAGE,
            error_type="UsageError",
        )
    if run.ns.follow:
        return _follow_audit_log(run)
    selectors = {"trace_id": run.ns.trace_id, "command": run.ns.command}
    loaded = _load(
        run,
        _export_columns(run),
        selectors={name: value for name, value in selectors.items() if value is not None},
    )
    frame = _audit_log_selection(run, loaded.frame)
    if run.ns.last is not None:
        frame = frame.tail(run.ns.last)
    if run.output == "json":
        run.emit_json(list(_parsed_records(loaded.index, frame)))
    elif run.output == "table":
        run.emit_lines(_records_table(run, loaded.index, frame))
    else:
        _write_raw(run, loaded.index, frame)
    return EXIT_OK


def _audit_log_selection(run: Run, frame: pl.DataFrame) -> pl.DataFrame:
    """The ``--trace-id`` and ``--command`` selectors of the contract's audit-log subcommand."""
    import polars as pl

    if run.ns.trace_id is not None:
        frame = frame.filter(pl.col("trace_id").cast(pl.String) == run.ns.trace_id)
    if run.ns.command is not None:
        frame = frame.filter(pl.col("command").cast(pl.String) == run.ns.command)
    return frame


def _write_raw(run: Run, index: AuditIndex, frame: pl.DataFrame) -> None:
    """The stored lines of ``frame``'s records, byte for byte, each with its ``\\n``."""
    run.stdout.flush()
    out = run.stdout.buffer
    batch: list[bytes] = []
    for raw in index.iter_raw(frame):
        batch.append(raw)
        if len(batch) >= 4096:
            out.write(b"\n".join(batch) + b"\n")
            batch.clear()
    if batch:
        out.write(b"\n".join(batch) + b"\n")
    out.flush()


_FOLLOW_WAIT_S: Final = 0.25


class _HeldLines:
    """The bytes of the chunks read, by ``file_id``: ``-f -o jsonl`` prints each record's stored line from
    what the follower read, never by reading the file back, which may have been rotated, truncated or
    replaced meanwhile (and the path would then name other bytes)."""

    def __init__(self) -> None:
        self._chunks: dict[int, list[Chunk]] = {}
        self._starts: dict[int, list[int]] = {}

    def add(self, file_id: int, chunk: Chunk) -> None:
        self._chunks.setdefault(file_id, []).append(chunk)
        self._starts.setdefault(file_id, []).append(chunk.offset)

    def lines(self, rows: pl.DataFrame) -> Iterator[bytes]:
        """Each row's line (without ``\\n``), in the rows' order."""
        from bisect import bisect_right

        for file_id, offset, length in rows.select("file_id", "offset", "length").iter_rows():
            place = bisect_right(self._starts[file_id], offset) - 1
            chunk = self._chunks[file_id][place]
            start = offset - chunk.offset
            yield chunk.data[start : start + length]


def _follow_audit_log(run: Run) -> int:
    """``audit-log -f``: the matching records there now, then every new one as it is appended (Ctrl-C ends).

    It runs the shared follow loop (``auditview.source.tail``, as the app and the writer's own ``audit-log
    -f`` do) and applies each item to its index as the app does (``apply_to_index``: rotations and
    truncations re-point or drop rows), so a trace-level filter sees the records as they are now. New
    records are printed in the order they arrive (each batch by start time); ``-o jsonl`` prints the bytes
    the follower read, so a rotation, truncation or replacement of the file cannot change what is printed.
    """

    from auditview.core.index import AuditIndex
    from auditview.core.query import time_range
    from auditview.source.discover import SourceMissing
    from auditview.source.events import FileUnreadable
    from auditview.source.follow import Follower
    from auditview.source.tail import CaughtUp, apply_to_index, tail
    from auditview.source.types import Chunk

    compiled = _compile(run)
    try:
        follower = Follower(list(run.ns.paths))
    except SourceMissing as exc:
        raise CliError(str(exc), exit_code=EXIT_NOINPUT, error_type="SourceMissing") from None
    needed = None if compiled is not None and compiled.uses_trace else _export_columns(run)
    index = AuditIndex(columns=_projection(compiled, needed))
    raw = run.output == "jsonl"

    def select(rows: pl.DataFrame) -> pl.DataFrame:
        rows = _audit_log_selection(run, time_range(rows, run.since, run.until))
        if compiled is None:
            return rows
        if not compiled.uses_trace:
            return cast("pl.DataFrame", compiled.apply(rows))
        # Trace-level predicates depend on the whole trace: decide on everything, keep the new rows.
        matched = compiled.apply(index.frame).select("file_id", "offset")
        return rows.join(matched, on=["file_id", "offset"], how="semi")

    def emit(rows: pl.DataFrame, held: _HeldLines | None, *, first: bool) -> None:
        if held is not None:
            if rows.height:
                out = run.stdout.buffer
                run.stdout.flush()
                out.write(b"".join(line + b"\n" for line in held.lines(rows)))
                out.flush()
        else:
            lines = _records_table(run, index, rows, fixed=True, header=first)
            if lines:
                run.emit_lines(lines)
                run.stdout.flush()

    initial: _HeldLines | None = _HeldLines() if raw else None
    seen_rejects = 0
    try:
        for item in tail(follower, wait=_FOLLOW_WAIT_S):
            if isinstance(item, CaughtUp):
                if item.initial:
                    _check_rejects(run, index)
                    seen_rejects = len(index.rejects)  # reported just now
                    for note in run.notes:
                        _stderr(note)
                    run.notes.clear()
                    current = select(index.frame)
                    last = run.ns.last
                    emit(current.tail(last) if last is not None else current, initial, first=True)
                    initial = None  # printed: the bytes read so far are no longer needed
                for reject in index.rejects[seen_rejects:]:
                    _stderr(f"auditview: malformed line skipped: {_printable(reject.where)}: {reject.reason}")
                seen_rejects = len(index.rejects)
                continue
            change = apply_to_index(index, item)
            if isinstance(item, Chunk):
                if initial is not None:  # the lines there at the start: printed together, sorted, at the end
                    initial.add(index.file_id(item.source), item)
                elif change.rows is not None:
                    held = None
                    if raw:
                        held = _HeldLines()
                        held.add(index.file_id(item.source), item)
                    emit(select(change.rows), held, first=False)
            elif isinstance(item, FileUnreadable):
                _stderr(f"auditview: warning: cannot read {_printable(item.source.display)}: {item.reason}")
        return EXIT_OK  # (tail without ``stop`` never ends)
    except KeyboardInterrupt:
        return EXIT_OK  # Ctrl-C is how a follow ends
    finally:
        follower.close()


def _printable(text: str) -> str:
    from auditview.text.sanitize import printable

    return printable(text)


def _interactive_terminal() -> bool:
    """True when both stdin and stdout are terminals (the app cannot run otherwise)."""
    return _is_tty(sys.stdin) and _is_tty(sys.stdout)


def cmd_app(run: Run) -> int:
    """No subcommand: validate the options and hand over to the terminal app (imported only now)."""
    ns = run.ns
    _compile(run)
    if not _interactive_terminal():
        raise CliError(
            "the terminal app needs a terminal; for scripts use a subcommand, e.g. 'auditview traces -o json'"
            " (see 'auditview --help')",
            exit_code=EXIT_USAGE,
            error_type="UsageError",
        )
    from auditview.tui.app import AppOptions, run_app

    if ns.no_cache:
        os.environ["AUDITVIEW_CACHE"] = "0"  # the app's loader reads the index cache setting from there
    options = AppOptions(
        paths=list(ns.paths),
        since=run.since,
        until=run.until,
        filter_text=ns.filter or "",
        slow_ms=run.slow_ms,
        demo=ns.demo,
        follow=not ns.no_follow,
    )
    return int(run_app(options))


def cmd_cache(run: Run) -> int:
    """``auditview cache``: prune or clear the index cache; exit 1 when some files could not be removed."""
    from auditview.core import cache

    if run.ns.clear and run.ns.max_bytes is not None:
        raise CliError(
            "--clear and --max-bytes exclude each other", exit_code=EXIT_USAGE, error_type="UsageError"
        )
    if run.ns.warm:
        if run.ns.clear or run.ns.max_bytes is not None:
            raise CliError(
                "--warm cannot be combined with --clear or --max-bytes",
                exit_code=EXIT_USAGE,
                error_type="UsageError",
            )
        return _warm_cache(run)
    if run.ns.paths:
        raise CliError("PATH... is only read with --warm", exit_code=EXIT_USAGE, error_type="UsageError")
    report = cache.clear() if run.ns.clear else cache.prune(run.ns.max_bytes)
    removed = [{"path": entry.path, "reason": entry.reason, "bytes": entry.size} for entry in report.removed]
    directory = str(cache.cache_dir())
    summary = {
        "directory": directory,
        "removed": removed,
        "freed_bytes": report.freed_bytes,
        "kept_entries": report.kept_entries,
        "kept_bytes": report.kept_bytes,
        "errors": report.errors,
    }
    if run.output == "json":
        run.emit_json(summary)
    elif run.output == "jsonl":
        run.emit_jsonl(removed)
    else:
        from auditview.text.sanitize import printable

        reasons: dict[str, int] = {}
        for entry in report.removed:
            reasons[entry.reason] = reasons.get(entry.reason, 0) + 1
        why = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        noun = "entry" if len(removed) == 1 else "entries"
        lines = [
            f"  {entry.reason:<8} {_mib(entry.size):>10}  {printable(entry.path)}" for entry in report.removed
        ]
        lines.append(
            f"removed {len(removed)} {noun}{f' ({why})' if why else ''}, freed {_mib(report.freed_bytes)}; "
            f"kept {report.kept_entries}, {_mib(report.kept_bytes)} in {printable(directory)}"
        )
        if report.errors:
            lines.append(f"{report.errors} file(s) could not be removed")
        run.emit_lines(lines)
    return EXIT_FAILURE if report.errors else EXIT_OK


def _warm_cache(run: Run) -> int:
    """``auditview cache --warm``: build (or extend) the full index cache of the sources now."""
    import time

    from auditview.core import cache

    started = time.perf_counter()
    if not cache.cache_enabled():
        raise CliError(
            "the index cache is turned off (AUDITVIEW_CACHE=0)", exit_code=EXIT_USAGE, error_type="UsageError"
        )
    index = _load_index(run, progress=_progress_meter() if _is_tty(sys.stderr) else None)
    cache.wait_pending()
    counts = dict(index.frame.group_by("file_id").len().iter_rows())
    files = [
        {"path": source.display, "records": int(counts.get(file_id, 0))}
        for file_id, source in enumerate(index.files)
    ]
    summary = {
        "files": files,
        "records": index.frame.height,
        "rejects": len(index.rejects),
        "seconds": round(time.perf_counter() - started, 3),
        "directory": str(cache.cache_dir()),
    }
    if run.output == "json":
        run.emit_json(summary)
    elif run.output == "jsonl":
        run.emit_jsonl(files)
    else:
        from auditview.text.sanitize import printable

        lines = [f"  {item['records']:>10,}  {printable(str(item['path']))}" for item in files]
        lines.append(
            f"indexed {index.frame.height:,} records of {len(files)} file{'s' if len(files) != 1 else ''} "
            f"into {printable(str(summary['directory']))} in {summary['seconds']} s"
        )
        run.emit_lines(lines)
    return EXIT_OK


def _progress_meter() -> Callable[[int, int], None]:
    """A progress line on a terminal's stderr (``indexing 42% of 428 MB``), redrawn at most every 0.2 s and
    cleared at the end."""
    import time

    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.2:
            return
        last[0] = now
        if done >= total:
            sys.stderr.write("\r\x1b[K")
        else:
            sys.stderr.write(f"\rindexing {done * 100 // max(total, 1)}% of {total / 1e6:,.0f} MB")
        sys.stderr.flush()

    return report


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def cmd_check(run: Run) -> int:
    """``auditview check [OPTIONS] -- COMMAND [ARGS...]``: grade a tool (``auditview.grade``)."""
    from auditview import grade

    argv = list(run.ns.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise CliError(
            "no COMMAND to check: auditview check [OPTIONS] -- COMMAND [ARGS...]",
            exit_code=EXIT_USAGE,
            error_type="UsageError",
        )
    if run.ns.timeout <= 0:
        raise CliError("--timeout must be more than 0", exit_code=EXIT_USAGE, error_type="UsageError")
    try:
        report = grade.check(
            argv,
            min_score=run.ns.min_score,
            keep_env=run.ns.keep_env,
            child_probe=run.ns.child_probe,
            tool=shlex.split(run.ns.tool) if run.ns.tool else None,
            timeout=run.ns.timeout,
        )
    except grade.CheckError as exc:
        raise CliError(str(exc), exit_code=EXIT_USAGE, error_type=exc.error_type) from None
    if run.ns.output == "json":
        envelope = {"ok": report.passed, "data": report.to_json(), "meta": run.meta()}
        run.write_bytes(_dumps(envelope) + b"\n")
    else:
        run.emit_lines(grade.render(report))
    return EXIT_OK if report.passed else EXIT_FAILURE


def cmd_schema(run: Run) -> int:
    """``auditview schema [writer|reader|meta]``: print a shipped JSON Schema (``auditview.schema``)."""
    from auditview import schema

    source = schema.schema_file(run.ns.name)
    if run.ns.output == "json":
        run.emit_json(
            {"name": run.ns.name, "path": str(source)} if run.ns.path else schema.load_schema(run.ns.name)
        )
    elif run.ns.path:
        run.emit_lines([str(source)])
    else:
        run.write_bytes(source.read_bytes())
    return EXIT_OK


_COMMANDS: Final[dict[str, Callable[[Run], int]]] = {
    "app": cmd_app,
    "export": cmd_export,
    "traces": cmd_traces,
    "trace": cmd_trace,
    "diff": cmd_diff,
    "report": cmd_report,
    "stats": cmd_stats,
    "rejects": cmd_rejects,
    "audit-log": cmd_audit_log,
    "cache": cmd_cache,
    "check": cmd_check,
    "schema": cmd_schema,
}

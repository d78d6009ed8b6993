"""The ``auditview`` command line: one argparse parser per subcommand, and the app's (the top level).

Owns ``build_parser``, the subcommand names, the shared options (paths, time range, filter, slow, output,
strict) and the help text with its exit codes. Parsing never exits the process: a usage error is a
``CliError`` (rendered and audited like any failure), shown help or version is ``HelpShown``. Must not import
polars or the engine (``auditview export --help`` stays cheap).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Final, NoReturn

from auditview import __version__
from auditview.cli.errors import (
    EXIT_CODES,
    EXIT_DATAERR,
    EXIT_FAILURE,
    EXIT_NOINPUT,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)

__all__ = ["DEFAULT_SLOW", "OUTPUTS", "SUBCOMMANDS", "TRACE_SORTS", "HelpShown", "build_parser"]

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


class HelpShown(Exception):  # noqa: N818 - not an error: argparse printed help or the version
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
        raise HelpShown(status)


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

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
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

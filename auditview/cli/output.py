"""What a CLI run prints: the output modes (``table``, ``json``, ``jsonl``), the JSON envelope, errors, notes.

Owns ``Run`` (one invocation in progress: its options, output mode, the writer's invocation, the envelope's
extra fields and the stderr notes), the JSON serialization of results (orjson; polars frames serialized by
polars), ``report_error`` (an error on stderr, and as ``{"ok": false, ...}`` under ``-o json``) and
``terminal_palette``. Must not import polars, the engine or a UI library at import time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

import orjson

from auditview.cli.errors import CliError
from auditview.text.plain import Palette
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    import polars as pl

    from auditview.core.index import AuditIndex
    from auditview.launch import AppLauncher
    from auditview.writer.context import Invocation

__all__ = [
    "Run",
    "dumps",
    "frame_json",
    "frame_ndjson",
    "is_tty",
    "parsed_records",
    "prescan_output",
    "report_error",
    "stderr",
    "terminal_palette",
]

_JSON_OPTS: Final = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


@dataclass
class Run:
    """One CLI invocation in progress: parsed options, resolved output mode and the writer's invocation.

    ``since``, ``until`` and ``slow_ms`` are the parsed ``--since``, ``--until`` and ``--slow``; ``fields``
    are added to the JSON envelope next to ``data``; ``notes`` go to stderr after the output. ``open_app``
    runs the terminal app (given by the program's entry point, ``auditview.main``: the CLI never imports the
    app).
    """

    command: str
    ns: argparse.Namespace
    output: str
    inv: Invocation | None
    open_app: AppLauncher
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

    def meta(self) -> dict[str, object]:
        """The contract's ``meta`` for the JSON envelope (empty when auditing is unavailable)."""
        return self.inv.meta() if self.inv is not None else {}

    def emit_json(self, data: object) -> None:
        """Print the success envelope ``{"ok": true, "data": ..., <fields>, "meta": ...}``."""
        envelope: dict[str, object] = {"ok": True, "data": data}
        envelope.update(self.fields)
        envelope["meta"] = self.meta()
        self.write_bytes(dumps(envelope) + b"\n")

    def emit_jsonl(self, items: Iterable[object]) -> None:
        """Print one compact JSON object per line."""
        self.stdout.flush()
        out = self.stdout.buffer
        batch: list[bytes] = []
        for item in items:
            batch.append(dumps(item))
            if len(batch) >= 4096:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")

    def emit_lines(self, lines: Iterable[str]) -> None:
        """Print already-rendered text lines."""
        text = "\n".join(lines)
        self.write_bytes(text.encode("utf-8", "replace") + (b"\n" if text else b""))

    def emit_summary(self, summary: dict[str, object], lines: Iterable[str]) -> None:
        """A summary of what a command wrote: the envelope (``json``), one line (``jsonl``) or ``lines``."""
        if self.output == "json":
            self.emit_json(summary)
        elif self.output == "jsonl":
            self.emit_jsonl([summary])
        else:
            self.emit_lines(lines)

    def palette(self) -> Palette:
        """The colour/glyph palette for tables on this stdout."""
        return terminal_palette(self.stdout)

    def width(self) -> int:
        """Terminal width for tables (``COLUMNS`` wins; 120 when not a terminal)."""
        return max(shutil.get_terminal_size((120, 24)).columns, 40)


def terminal_palette(stream: TextIO, environ: os._Environ[str] | dict[str, str] | None = None) -> Palette:
    """Colour only on a terminal and never when ``NO_COLOR`` is non-empty; Unicode glyphs when UTF-8."""
    env = os.environ if environ is None else environ
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return Palette(colour=is_tty(stream) and not env.get("NO_COLOR"), unicode=encoding.startswith("utf"))


def dumps(value: object) -> bytes:
    """``value`` as compact JSON: dataclasses as objects, paths and bytes as text, timedeltas in ms."""
    return orjson.dumps(value, default=_json_default, option=_JSON_OPTS)


def _json_default(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    to_list = getattr(value, "to_list", None)
    if to_list is not None:
        return to_list()
    total_seconds = getattr(value, "total_seconds", None)
    if total_seconds is not None:
        return float(total_seconds()) * 1000.0
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _with_text_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetime columns as the contract writes timestamps: RFC 3339, UTC, microseconds, ``Z``."""
    import polars as pl

    return frame.with_columns(
        pl.col(pl.Datetime).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    )


def frame_json(frame: pl.DataFrame) -> orjson.Fragment:
    """A frame as a JSON array of row objects, serialized by polars (no per-row Python)."""
    return orjson.Fragment(_with_text_times(frame).write_json())


def frame_ndjson(frame: pl.DataFrame) -> bytes:
    """A frame as one JSON object per line, serialized by polars."""
    return _with_text_times(frame).write_ndjson().encode()


def parsed_records(index: AuditIndex, frame: pl.DataFrame) -> Iterator[object]:
    """The records of ``frame`` parsed from their stored lines (for ``-o json``: every key, as written)."""
    for raw in index.iter_raw(frame):
        yield orjson.loads(raw)


def stderr(message: str) -> None:
    """Write one line to stderr now (a note, a warning, an error)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def is_tty(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a closed or replaced stream is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def prescan_output(argv: Sequence[str]) -> str | None:
    """The ``-o`` value in raw argv, for rendering usage errors in the requested format."""
    for i, arg in enumerate(argv):
        if arg in ("-o", "--output") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--output="):
            return arg.split("=", 1)[1]
        if arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--"):
            return arg[2:].lstrip("=")
    return None


def report_error(error: CliError, *, output: str | None, command: str, meta: dict[str, object]) -> None:
    """Show ``error``: the ``{"ok": false, "error": ...}`` envelope on stdout under ``-o json``, and always
    ``auditview COMMAND: error: MESSAGE`` on stderr (a usage error after its usage line, other details after
    the message)."""
    if output == "json":
        body = {"type": error.error_type, "message": error.message, **error.extra}
        envelope = {"ok": False, "error": body, "meta": meta}
        sys.stdout.flush()
        sys.stdout.buffer.write(dumps(envelope) + b"\n")
        sys.stdout.flush()
    prog = "auditview" if command == "app" else f"auditview {command}"
    if error.detail and error.error_type == "UsageError":
        stderr(error.detail)
    stderr(f"{prog}: error: {printable(error.message)}")
    if error.detail and error.error_type != "UsageError":
        stderr(error.detail)

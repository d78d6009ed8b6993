"""Turning ``Chunk``s of complete JSONL lines into typed index rows and exact ``Reject``s.

Owns: the index frame's schema (``SCHEMA``), ``parse_chunk()`` (a fast polars path that decides only the lines
it can prove ordinary and hands every other line to the reader contract in Python) and ``parse_lines_exact()``
(the reference path: one ``reader_contract.read_line`` per line). Both give the same rows and the same
rejects: the reader contract decides, polars only goes faster. The fast paths take only lines that meet the
writer contract (every field, our types), on which the reader contract derives nothing and warns of nothing,
or that ``any_layout`` proves; any other line is read by the reference. A line proven but for unknown
top-level keys gets its ``extra`` from a decode of that line alone by the reference's decoder. Must not: read
files, sort or merge frames of several chunks (``auditview.core.index`` does), drop a line silently, or import
any UI library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson
import polars as pl

from auditview.contract import MAX_LINE_BYTES, OPTIONAL_FIELDS, REQUIRED_FIELDS, ContractError
from auditview.core import any_layout
from auditview.core import writer_layout as layout
from auditview.reader_contract import FieldMap, ReadRecord, active_field_map, derived_tool, read_line
from auditview.source.types import Chunk, Reject

if TYPE_CHECKING:
    from auditview.core.pushdown import Prefilter

__all__ = [
    "LOCATION_COLUMNS",
    "LOW_CARDINALITY",
    "SCHEMA",
    "empty_frame",
    "parse_chunk",
    "parse_chunk_exact",
    "parse_chunk_prefiltered",
    "parse_lines_exact",
    "project_schema",
    "record_row",
]

#: Columns with few distinct values, stored as ``Categorical`` to save memory.
LOW_CARDINALITY: Final = ("tool", "command", "operator", "host", "version")

#: The index frame's columns in order (see INTERFACES.md).
SCHEMA: Final[dict[str, pl.DataType]] = {
    "ts": pl.Datetime("us", "UTC"),
    "tool": pl.Categorical(),
    "command": pl.Categorical(),
    "exit_code": pl.Int64(),
    "duration_ms": pl.Float64(),
    "request_id": pl.String(),
    "trace_id": pl.String(),
    "parent_request_id": pl.String(),
    "operator": pl.Categorical(),
    "host": pl.Categorical(),
    "version": pl.Categorical(),
    "pid": pl.Int64(),
    "schema_version": pl.Int64(),
    "truncated": pl.Boolean(),
    "ok": pl.Boolean(),
    "error_type": pl.String(),
    "error_message": pl.String(),
    "params": pl.String(),
    "extra": pl.String(),
    #: ``field<-source`` entries (comma-separated) for values not read from the field's own key; null if none.
    "derived": pl.String(),
    #: One reason per unusable field (newline-separated), the field then unknown; null if none.
    "warnings": pl.String(),
    "file_id": pl.UInt32(),
    "offset": pl.Int64(),
    "length": pl.UInt32(),
    "line": pl.UInt32(),
}

#: Location columns, present in every (also projected) frame.
LOCATION_COLUMNS: Final = ("file_id", "offset", "length", "line")

_KNOWN_FIELDS: Final = frozenset(REQUIRED_FIELDS) | frozenset(OPTIONAL_FIELDS)
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1


def _json_text(value: Any) -> str | None:
    """A string stays itself; any other JSON value becomes its compact JSON text; ``None`` stays null."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def record_row(read: ReadRecord, raw: bytes | None = None) -> tuple[Any, ...]:
    """The index values (``ts`` .. ``warnings``) of a line read under the reader contract, in ``SCHEMA``
    order.

    ``params`` is its source text in ``raw`` (the record's line) where the fast path would keep that text too
    (``_params_source``), else orjson's compact encoding: the same line gives the same text whichever path
    decides it.
    """
    values = read.values
    error = values["error"]
    params = values["params"]
    params_text = None
    if params is not None:
        params_text = (
            _params_source(raw, params) if raw is not None and isinstance(params, dict) else None
        ) or orjson.dumps(params).decode()
    return (
        read.ts,
        values["tool"],
        values["command"],
        values["exit_code"],
        values["duration_ms"],
        values["request_id"],
        values["trace_id"],
        values["parent_request_id"],
        values["operator"],
        values["host"],
        values["version"],
        values["pid"],
        values["schema_version"],
        values["truncated"],
        values["ok"],
        _json_text(error.get("type")) if error is not None else None,
        _json_text(error.get("message")) if error is not None else None,
        params_text,
        any_layout.extra_text(read.extra),
        ",".join(read.derived) or None,
        "\n".join(read.warnings) or None,
    )


def _params_source(raw: bytes, params: dict[str, Any]) -> str | None:
    """The text the fast paths keep for ``params``: the object of the first ``"params": {...}`` of a line
    without backslashes (``any_layout.PARAMS_ANY_RE``), when it decodes to the record's ``params``; ``None``
    otherwise."""
    if b"\\" in raw:
        return None
    match = _PARAMS_SOURCE.search(raw.decode())
    if match is None:
        return None
    text = match.group(1)
    try:
        same = orjson.loads(text) == params
    except orjson.JSONDecodeError:
        return None
    return text if same else None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ContractError):
        return str(exc)
    # parse_timestamp can overflow when an offset moves a date past year 1 or 9999.
    return f"timestamp out of range ({type(exc).__name__}: {exc})"


def empty_frame(columns: Collection[str] | None = None) -> pl.DataFrame:
    """An empty frame with the index schema (optionally projected to ``columns`` + the location columns)."""
    return pl.DataFrame(schema=_project(SCHEMA, columns))


def project_schema(columns: Collection[str] | None) -> dict[str, pl.DataType]:
    """The index schema projected to ``columns`` plus the location columns (``None`` = all), in order."""
    return _project(SCHEMA, columns)


def _project(schema: dict[str, pl.DataType], columns: Collection[str] | None) -> dict[str, pl.DataType]:
    if columns is None:
        return dict(schema)
    return {name: dtype for name, dtype in schema.items() if name in columns or name in LOCATION_COLUMNS}


def parse_lines_exact(
    lines: Sequence[bytes],
    offsets: Sequence[int],
    line_numbers: Sequence[int],
    file_id: int,
    path: str,
    columns: Collection[str] | None = None,
    *,
    tool_path: str | None = None,
    fields: FieldMap | None = None,
) -> tuple[pl.DataFrame, list[Reject]]:
    """The reference path: ``reader_contract.read_line`` on every line (without ``\\n``); rows in input order.

    ``tool_path`` names the log the lines belong to (its name gives ``tool`` to records without one).
    """
    rows: list[tuple[Any, ...]] = []
    rejects: list[Reject] = []
    fields = fields or active_field_map()
    for raw, offset, number in zip(lines, offsets, line_numbers, strict=True):
        try:
            row = record_row(read_line(raw, path=tool_path, fields=fields), raw)
        except (ContractError, ValueError, OverflowError) as exc:
            rejects.append(Reject(path, number, offset, _reason(exc), raw))
            continue
        rows.append((*row, file_id, offset, len(raw), number))
    return _rows_frame(rows, columns), rejects


def _rows_frame(rows: list[tuple[Any, ...]], columns: Collection[str] | None) -> pl.DataFrame:
    string_schema = {
        name: (pl.String() if name in LOW_CARDINALITY else dtype) for name, dtype in SCHEMA.items()
    }
    frame = pl.DataFrame(rows, schema=string_schema, orient="row")
    if columns is not None:
        frame = frame.select(list(_project(SCHEMA, columns)))
    return frame.cast(_project(SCHEMA, columns))  # type: ignore[arg-type]


def _split(data: bytes) -> tuple[list[bytes], list[int]]:
    """The complete lines of ``data`` (without ``\\n``) and their offsets relative to ``data``."""
    end = data.rfind(b"\n")
    lines = data[:end].split(b"\n") if end >= 0 else []
    offsets: list[int] = []
    position = 0
    for raw in lines:
        offsets.append(position)
        position += len(raw) + 1
    return lines, offsets


# -- the fast path -----------------------------------------------------------------------------------------
#
# polars' NDJSON reader decodes the values quickly but differs from orjson (the contract's decoder) in ways
# that matter: it keeps the first of duplicate keys (orjson the last), turns numbers and objects into text
# when a String column is asked for, decodes lone surrogates, and skips blank lines. So a line is decided
# here only when cheap counts over its text prove none of that can apply; every other line, and every line
# of a range the reader refuses, goes to ``contract.parse_line``. The counts are exact only
# because lines with a backslash (escaped quotes, ``\u`` escapes) never take this path: every ``"`` then
# delimits a string.

_STRING_FIELDS: Final = (
    "timestamp", "tool", "command", "request_id", "trace_id", "version", "operator",
    "parent_request_id", "host",
)  # fmt: skip
_REQUIRED_COLUMNS: Final = tuple(REQUIRED_FIELDS)

#: The reader's schema: every contract field, typed so that the reader itself refuses most wrong types.
_NDJSON_SCHEMA: Final[dict[str, pl.DataType]] = {
    "timestamp": pl.String(),
    "tool": pl.Categorical(),
    "command": pl.Categorical(),
    "params": pl.Struct({}),
    "exit_code": pl.Int64(),
    "duration_ms": pl.Float64(),
    "request_id": pl.String(),
    "trace_id": pl.String(),
    "version": pl.Categorical(),
    "operator": pl.Categorical(),
    "ok": pl.Boolean(),
    "error": pl.Struct({"type": pl.String(), "message": pl.String()}),
    "parent_request_id": pl.String(),
    "host": pl.Categorical(),
    "pid": pl.Int64(),
    "schema_version": pl.Int64(),
    "truncated": pl.Boolean(),
}
assert set(_NDJSON_SCHEMA) == set(_KNOWN_FIELDS)

_KNOWN_ALT: Final = "|".join(sorted(_KNOWN_FIELDS))
_KNOWN_KEY_RE: Final = rf'"(?:{_KNOWN_ALT})"\s*:'
#: The known keys of ``line`` (blanks allowed before the colon), wherever they are.
_KNOWN_COUNT: Final = pl.col("line").str.count_matches(_KNOWN_KEY_RE)
#: What polars makes of a number, boolean, object or array read into a String column: such a value of a
#: String-typed field is decided exactly (it may have been a JSON string that only looks like this).
_COERCED_RE: Final = r"^(?:-?[0-9][0-9.eE+-]*|true|false|\{.*|\[.*)$"
_COERCIBLE: Final = ("request_id", "trace_id", "parent_request_id")
#: Without backslashes or a blank after a ``"``, every key ends in ``":`` (a string starting with ":" adds
#: one more).
_KEY_END: Final = '":'
_ERROR_KEY: Final = '"error":'
_STR: Final = any_layout.PLAIN_STRING_RE
#: ``"error":`` and a flat object (anything nested in it is decided exactly).
_ERROR_RE: Final = rf'"error":[ \t]*\{{(?:[^{{}}\[\]\"]|{_STR})*\}}'
#: The reference's pattern for the text of ``params`` (blanks allowed around the colon), the text captured.
_PARAMS_SOURCE: Final = re.compile(any_layout.PARAMS_SOURCE_RE)
_TIMESTAMP_RE: Final = layout.UTC_TIMESTAMP_RE
#: polars' NDJSON reader nests a little deeper than orjson: long lines with many brackets are decided exactly.
_DEEP_LINE_BYTES: Final = 2048
#: Lines are split by reading the chunk as a one-column CSV with this separator (absent from the data).
_SPLIT_SEPARATOR: Final = "\x1f"
#: At most this many fields besides ``ts`` are read off the writer's layout (see ``_light``).
_LIGHT_MAX_FIELDS: Final = 3
#: ``timestamp`` (as the reader gives it) -> ``ts``; null where the date does not exist.
_TS_EXPR: Final = pl.col("timestamp").str.to_datetime("%+", time_unit="us", time_zone="UTC", strict=False)
#: Lines a prefilter keeps in a chunk up to which the contract decides them (17 µs a line; the fast paths
#: cost about 10 ms a chunk whatever they decide).
_SUBSET_EXACT_LINES: Final = 512
#: A range the reader refuses is halved until it is this small, then decided line by line.
_BISECT_LINES: Final = 16
#: A projection's typed read proves rows by the whole-row count first (cheaper than the counts of known keys,
#: which then run only over the rows it leaves) from this many rows on; below, the second pass costs more
#: than it saves (e.g. the few lines of a writer's chunk that its layout leaves, most with unknown keys).
_WHOLE_ROW_FIRST_LINES: Final = 2048
#: Lines (spread over the chunk) that choose which fast path runs first: a path none of them fits is not
#: tried on the chunk. Only the speed depends on the choice: each path proves what it decides (the writer's
#: layout, the typed read, the text read) and leaves the rest to the next path or the reference.
_ROUTE_SAMPLE: Final = 16
#: A ``timestamp`` key with a UTC time in the writer's form: the typed read proves no line without one.
_TYPED_HINT_RE: Final = rf'"timestamp"[ \t]*:[ \t]*"{layout.UTC_TIMESTAMP_TEXT}"'


def _line_table(data: bytes) -> pl.DataFrame | None:
    """``line`` (text without its ending), ``length`` (bytes before ``\\n``) and ``start`` of every line of
    ``data``; None when unsure.

    Unsure: invalid UTF-8 or the split separator in the data (the CSV reader refuses both), a carriage return
    inside a line, or a split that does not add up to the data's length (the reader dropped a byte-order mark,
    or a line, or a ``\\r`` before some ``\\n`` but not all: a chunk whose every line ends in ``\\r\\n`` is
    taken, with the ``\\r`` counted in ``length`` but not in ``line``). The checks run in polars, mostly
    without the GIL.
    """
    try:
        table = pl.read_csv(
            data,
            has_header=False,
            separator=_SPLIT_SEPARATOR,
            quote_char=None,
            schema={"line": pl.String()},
            comment_prefix=None,
            empty_string_is_null=False,
            row_index_name="i",
        )
    except pl.exceptions.PolarsError:
        return None
    # (an empty line reads as "", never as null; a null would mean a split this code does not understand)
    if table["line"].null_count() or table["line"].str.contains("\r", literal=True).any():
        return None
    lengths = table["line"].str.len_bytes()
    if int(lengths.sum()) + table.height != len(data):
        # Every line ending in "\r\n" (a log written on Windows): the reader dropped each "\r", which is JSON
        # whitespace. The text parses the same without it; ``length`` (the raw line) keeps it.
        crlf = int(lengths.sum()) + 2 * table.height == len(data) and data.count(b"\r\n") == table.height
        if not crlf:
            return None
        lengths = lengths + 1
    steps = lengths.cast(pl.Int64) + 1
    starts = steps.cum_sum() - steps
    return table.with_columns(length=lengths, start=starts)


def _decode_range(
    data: bytes,
    starts: pl.Series,
    lo: int,
    hi: int,
    decoded: list[pl.DataFrame],
    exact: list[tuple[int, int]],
    schema: dict[str, pl.DataType] = _NDJSON_SCHEMA,
) -> None:
    """Decode lines ``lo``..``hi`` with polars; ranges it refuses (or where it skipped a line) are halved."""
    if hi <= lo:
        return
    begin = int(starts[lo])
    end = int(starts[hi]) if hi < len(starts) else len(data)
    try:
        frame = pl.read_ndjson(data[begin:end], schema=schema)
    except pl.exceptions.PolarsError:
        frame = None
    if frame is not None and frame.height == hi - lo:
        decoded.append(frame.with_row_index("i", offset=lo))
        return
    if hi - lo <= _BISECT_LINES:
        exact.append((lo, hi))
        return
    middle = (lo + hi) // 2
    _decode_range(data, starts, lo, middle, decoded, exact, schema)
    _decode_range(data, starts, middle, hi, decoded, exact, schema)


def _screen(
    frame: pl.DataFrame, *, full: bool, errors: bool, extra: bool = False
) -> tuple[pl.DataFrame, list[int]]:
    """Split decoded rows into those the counts prove ordinary and the rest (their line indices).

    Proven rows get ``ts`` (and, when ``full``, ``params_text`` and ``extra``; without ``full`` they lack the
    decoded ``params``). ``errors`` (always, with ``full``) also proves ``error.type`` and ``error.message``
    were strings. ``extra``: the rows' ``extra`` is wanted (see ``_screen_full``).
    """
    line = pl.col("line")
    present = pl.sum_horizontal(pl.col(name).is_not_null().cast(pl.Int32) for name in _NDJSON_SCHEMA)
    # The low-cardinality string fields are read as Categorical, which the reader fills only from JSON
    # strings; a timestamp that was not a string cannot pass _TIMESTAMP_RE; the others are checked here.
    coerced = pl.any_horizontal(
        pl.col(name).str.contains(_COERCED_RE).fill_null(False) for name in _COERCIBLE
    )
    base = (
        pl.all_horizontal(pl.col(name).is_not_null() for name in _REQUIRED_COLUMNS)
        & pl.col("ts").is_not_null()
        & pl.col("timestamp").str.contains(_TIMESTAMP_RE)
        & (pl.col("duration_ms") >= 0)
        & (pl.col("length") <= MAX_LINE_BYTES)
        & ~coerced
        & ~line.str.contains("\\", literal=True)
        & pl.when(pl.col("length") >= _DEEP_LINE_BYTES)
        .then(line.str.count_matches(r"[\[{]") < 512)
        .otherwise(True)
    )
    ts = _TS_EXPR
    if not full and frame.height < _WHOLE_ROW_FIRST_LINES:
        return _screen_known(frame, base & ~_names_alias(), ts=ts, present=present, errors=errors)
    # the key count proves the line has no key besides the known fields: no unknown alias either
    whole, left = _screen_full(frame, base, ts=ts, present=present, extra=extra if full else None)
    if full or not left:
        return (whole, left) if full else (whole.drop("params_text", "params", "extra"), left)
    # A projection takes the whole-row proof (one literal count) where it holds, and the counts of known keys
    # only over the lines it leaves (unknown keys, an error object the projection does not read, ...).
    rest_frame = frame.filter(pl.col("i").is_in(pl.Series(left, dtype=frame["i"].dtype).implode()))
    known, doubtful = _screen_known(rest_frame, base & ~_names_alias(), ts=ts, present=present, errors=errors)
    # (the decoded ``params``, an empty struct no projection reads, is left out: merge_sorted fails on it)
    kept = [name for name in frame.columns if name not in ("line", "params")]
    return whole.select(*kept, "ts").merge_sorted(known.select(*kept, "ts"), key="i"), doubtful


def _screen_known(
    frame: pl.DataFrame, base: pl.Expr, *, ts: pl.Expr, present: pl.Expr, errors: bool
) -> tuple[pl.DataFrame, list[int]]:
    """``_screen`` of a projection by the counts of known keys (unknown keys allowed, ``params`` text only
    where a known key hides in it)."""
    has_error = pl.col("error").is_not_null()
    flags = (
        frame.lazy()
        .with_columns(ts=ts, present=present, known=_KNOWN_COUNT)
        .select("ts", "present", "known", base=base.fill_null(False), has_error=has_error)
        .collect()
    )
    # Adding and selecting existing columns shares their memory; only the final filter copies the rows.
    frame = frame.hstack(flags.select("ts", "present", "known"))
    # Most lines name no contract field inside params: then the counts need no params text at all.
    simple = flags["base"] & (flags["known"] == flags["present"])
    if errors:
        simple = simple & ~flags["has_error"]
    rest = frame.select("i", "line", "present", "known", "error").filter(flags["base"] & ~simple)
    proven_rest = _settle(rest.with_columns(_params_text(rest["line"])))
    if errors:
        proven_rest = proven_rest.filter(_errors_ok(proven_rest))
    keep = simple | frame["i"].is_in(proven_rest["i"].implode())
    proven = frame.select(pl.exclude("line")).filter(keep)
    return proven, frame["i"].filter(~keep).to_list()


def _screen_full(
    frame: pl.DataFrame, base: pl.Expr, *, ts: pl.Expr, present: pl.Expr, extra: bool | None
) -> tuple[pl.DataFrame, list[int]]:
    """``_screen`` by one count of key ends, which proves the whole row; with ``extra`` not None (every row
    needs its params text) the rows it leaves are tried by the counts of known keys.

    In a line without backslashes where no ``"`` is followed by whitespace, every key ends in ``":`` and
    every other ``":`` (a string starting with ``:``) only adds to the count. Each non-null top-level field
    holds at least one key outside ``params`` and, when present, the error object holds at least its
    ``type`` and ``message``; so when the key ends outside ``params`` equal that minimum, there is no
    duplicate, no unknown (extra) field, no null-valued key and no nesting outside ``params``. Rows with an
    error object are further held to ``_error_ok`` (the error's two keys are ``type`` and ``message``, string
    valued). The rows it leaves that have unknown top-level keys are proven by ``_prove_known`` (their
    ``extra`` decoded per line when ``extra``).
    """
    line = pl.col("line")
    has_error = pl.col("error").is_not_null()
    counted = frame.lazy().with_columns(ts=ts, present=present, params_text=_params_text(frame["line"]))
    keys = line.str.count_matches(_KEY_END) - pl.col("params_text").str.count_matches(_KEY_END)
    flags = counted.select(
        "ts",
        "params_text",
        "present",
        base=base.fill_null(False),
        whole=(
            ~_names_alias(known_only=True)
            & pl.col("params_text").is_not_null()
            & ~_spaced()
            & (keys == pl.col("present") + pl.when(has_error).then(2).otherwise(0))
        ).fill_null(False),
    ).collect()
    ok = flags["base"] & flags["whole"] & _errors_ok(frame)
    extra_texts = pl.Series("extra", [None] * frame.height, dtype=pl.String)
    if extra is not None:
        ok, extra_texts = _prove_known(frame, flags, ok, extra_texts, extra=extra)
    proven = (
        frame.select(pl.exclude("line")).hstack([flags["ts"], flags["params_text"], extra_texts]).filter(ok)
    )
    return proven, frame["i"].filter(~ok).to_list()


def _prove_known(
    frame: pl.DataFrame, flags: pl.DataFrame, ok: pl.Series, extra_texts: pl.Series, *, extra: bool
) -> tuple[pl.Series, pl.Series]:
    """``ok`` and ``extra_texts`` with the rows that ``_screen_full``'s count left but the counts of known
    keys prove (``_settle``, ``_errors_ok``: unknown top-level keys allowed, no alias of a field the row
    lacks, so that the reader reads no alias and ``extra`` is every unknown key). With ``extra`` wanted, each
    such line is decoded by the reference's decoder for its ``extra`` (``any_layout.line_extras``)."""
    rows = (~ok & flags["base"]).arg_true()
    if not len(rows):
        return ok, extra_texts
    rest = (
        frame.select("i", "line", "error")
        .gather(rows)
        .hstack(flags.select("present", "params_text").gather(rows))
        .with_columns(row=rows)
    )
    candidates = _settle(rest.filter(~_names_alias()).with_columns(known=_KNOWN_COUNT))
    proven = candidates.filter(_errors_ok(candidates))
    if not proven.height:
        return ok, extra_texts
    if not extra:
        return ok.scatter(proven["row"], True), extra_texts
    positions, texts = any_layout.line_extras(proven["line"].to_list())
    decided = proven["row"].gather(positions)
    return ok.scatter(decided, True), extra_texts.scatter(decided, pl.Series(texts, dtype=pl.String))


def _names_alias(*, known_only: bool = False) -> pl.Expr:
    """The line holds a key the reader contract reads as a field a record may lack (``hostname`` for
    ``host``, ``err`` for ``error``, a ``--field`` mapping): the fast path reads only the fields' own keys, so
    such a line is decided exactly. Required fields need no check: the fast path takes only lines that have
    them, and their own key wins over any alias. ``known_only``: only the aliases that are themselves known
    fields' keys (``--field parent_request_id=request_id``), for paths that already prove there is no other
    key (the key count, the writer's layout)."""
    keys = active_field_map().keys
    optional = sorted(
        {
            key
            for name, names in keys.items()
            if name not in REQUIRED_FIELDS
            for key in names[1:]
            if not known_only or key in _KNOWN_FIELDS
        }
    )
    if not optional:
        return pl.lit(False)
    # the quoted names anywhere (also as values: those lines are merely decided exactly), found in one pass
    return pl.col("line").str.contains_any([f'"{key}"' for key in optional])


def _params_text(lines: pl.Series) -> pl.Series:
    """The text of the first ``params`` object in ``lines`` (null where none; ``any_layout.params_match``)."""
    found = any_layout.params_match(lines)
    return pl.select(any_layout.params_object(pl.lit(found)).alias("params_text")).to_series()


def _settle(counted: pl.DataFrame) -> pl.DataFrame:
    """Keep the rows where every known key outside the ``params`` object (``params_text``) is a top-level one
    with a non-null value, once (no duplicates)."""
    inner = pl.col("params_text")
    ok = inner.is_not_null() & (pl.col("known") - inner.str.count_matches(_KNOWN_KEY_RE) == pl.col("present"))
    return counted.filter(ok.fill_null(False))


def _spaced() -> pl.Expr:
    """A ``"`` followed by a blank: the only way a key can end other than in ``":`` (counts would miss it)."""
    line = pl.col("line")
    return line.str.contains('" ', literal=True) | line.str.contains('"\t', literal=True)


def _error_ok(lines: pl.Series) -> pl.Series:
    """Per line (each with an error object): whether the top-level error object (the line's only
    ``"error":``) has ``type`` and ``message`` as strings.

    With the key count of ``_screen_full``/``_settle`` it then holds exactly those two keys (the reader
    keeps the first of duplicates, the contract the last; a number or object would be turned into text).
    """
    line = pl.col("line")
    found = line.str.extract(_ERROR_RE, 0)  # (a match without captures is the cheaper search)
    error_text = pl.col("error_text")
    return (
        pl.DataFrame([lines.alias("line")])
        .lazy()
        .with_columns(error_text=found.str.slice(found.str.find("{", literal=True)))
        .select(
            (
                ~_spaced()
                & (line.str.count_matches(_ERROR_KEY, literal=True) == 1)
                & (error_text.str.count_matches(_KEY_END, literal=True) == 2)
                & (error_text.str.count_matches('"type":[ \t]*"') == 1)
                & (error_text.str.count_matches('"message":[ \t]*"') == 1)
            ).fill_null(False)
        )
        .collect()
        .to_series()
    )


def _errors_ok(frame: pl.DataFrame) -> pl.Series:
    """Per row of ``frame``: no error object, or one whose ``type`` and ``message`` were strings, each once
    (``_error_ok``, run only on the rows with one)."""
    has_error = frame["error"].is_not_null()
    rows = has_error.arg_true()
    ok = ~has_error
    return ok.scatter(rows, _error_ok(frame["line"].gather(rows))) if len(rows) else ok


def _fast_columns(columns: Collection[str] | None) -> list[pl.Expr]:
    exprs: dict[str, pl.Expr] = {
        "ts": pl.col("ts"),
        "tool": pl.col("tool"),
        "command": pl.col("command"),
        "exit_code": pl.col("exit_code"),
        "duration_ms": pl.col("duration_ms"),
        "request_id": pl.col("request_id"),
        "trace_id": pl.col("trace_id"),
        "parent_request_id": pl.col("parent_request_id"),
        "operator": pl.col("operator"),
        "host": pl.col("host"),
        "version": pl.col("version"),
        "pid": pl.col("pid"),
        "schema_version": pl.col("schema_version"),
        "truncated": pl.col("truncated"),
        "ok": pl.col("ok"),
        "error_type": pl.col("error").struct.field("type"),
        "error_message": pl.col("error").struct.field("message"),
        "params": pl.col("params_text"),
        "extra": pl.col("extra"),  # wanted only with ``params``: the full screen adds it
        "derived": pl.lit(None, pl.String),
        "warnings": pl.lit(None, pl.String),
    }
    wanted = _project(SCHEMA, columns)
    return [expr.alias(name) for name, expr in exprs.items() if name in wanted]


def parse_chunk(
    chunk: Chunk, file_id: int, columns: Collection[str] | None = None
) -> tuple[pl.DataFrame, list[Reject]]:
    """Parse every complete line of ``chunk`` into index rows (in line order) and rejects.

    ``columns`` projects the frame to those index columns plus the location columns (``None`` = all); every
    line is still checked in full, so the rejects do not depend on the projection. A trailing fragment without
    ``\\n`` (which a ``Chunk`` never holds) is ignored. Rows and rejects equal ``parse_chunk_exact``'s.
    """
    frame, rejects, _ = parse_chunk_prefiltered(chunk, file_id, columns, None)
    return frame, rejects


def parse_chunk_prefiltered(
    chunk: Chunk, file_id: int, columns: Collection[str] | None, prefilter: Prefilter | None
) -> tuple[pl.DataFrame, list[Reject], int]:
    """``parse_chunk`` of only the lines ``prefilter`` keeps (all without one), and the chunk's line count.

    The lines kept are decided in full (rows and rejects as ``parse_chunk`` gives them); the others are
    neither rows nor rejects. Line numbers and offsets stay those of the whole chunk.
    """
    data = chunk.data[: chunk.data.rfind(b"\n") + 1]
    if not data:
        return empty_frame(columns), [], 0
    table = _line_table(data)
    if table is None:  # not UTF-8, or bytes that could confuse the line splitter: decide every line exactly
        exact_frame, exact_rejects = parse_chunk_exact(chunk, file_id, columns)
        return exact_frame, exact_rejects, exact_frame.height + len(exact_rejects)
    schema = _project(SCHEMA, columns)
    if prefilter is not None:
        kept = prefilter.keep(table)
        if kept.height > _SUBSET_EXACT_LINES:
            parts, exact_lines = _parse_subset(table, kept, columns, chunk.source.log_key)
        elif _light(columns):  # a few lines: the layout's reads, then the contract for the rest
            light, rest = _read_layout_lines(kept, columns)
            parts, exact_lines = [light], rest["i"].to_list()
        else:  # a few lines: the contract decides them sooner than the fast paths are set up
            parts, exact_lines = [], kept["i"].to_list()
    else:
        parts, exact_lines = _parse_table(data, table, columns, chunk.source.log_key)
    located = [_locate(part, table, chunk, file_id).cast(schema) for part in parts if part.height]  # type: ignore[arg-type]
    rejects: list[Reject] = []
    if exact_lines:
        exact_lines.sort()
        spans = list(
            zip(
                table["start"].gather(exact_lines).to_list(),
                table["length"].gather(exact_lines).to_list(),
                strict=True,
            )
        )
        frame, rejects = parse_lines_exact(
            [data[start : start + length] for start, length in spans],
            [chunk.offset + start for start, _ in spans],
            [chunk.first_line + i for i in exact_lines],
            file_id,
            chunk.source.display,
            columns,
            tool_path=chunk.source.log_key,
        )
        located.append(frame.cast(schema))  # type: ignore[arg-type]
    if not located:
        return empty_frame(columns), rejects, table.height
    if len(located) == 1:
        return located[0], rejects, table.height
    # one sort of the parts together costs half the merges of parts already in line order (which copy the
    # rows once per part)
    return pl.concat(located, how="vertical").sort("line"), rejects, table.height


def _parse_table(
    data: bytes, table: pl.DataFrame, columns: Collection[str] | None, tool_path: str | None
) -> tuple[list[pl.DataFrame], list[int]]:
    """The rows the fast paths decide over ``table`` (the lines of ``data``; value columns and ``i``, each
    part in line order) and the indices of the lines left to the contract. ``tool_path``: the log the lines
    belong to (its name gives ``tool`` to records without one)."""
    parts: list[pl.DataFrame] = []
    exact_lines: list[int] = []
    if (_light(columns) or _projected(columns)) and _sampled(table, layout.LAYOUT_RE):
        light, rest = (
            _read_layout_lines(table, columns)
            if _light(columns)
            else _decode_layout_lines(data, table, columns)
        )
        parts.append(light)
        if rest.height == table.height:  # no line was decided by the layout: the general path over all
            decided, doubtful = _decide(data, table, columns, tool_path)
            parts.append(decided)
            exact_lines.extend(doubtful)
        elif rest.height:
            subset, doubtful = _parse_subset(table, rest, columns, tool_path, layout_tried=True)
            parts += subset
            exact_lines += doubtful
    else:
        decided, doubtful = _decide(data, table, columns, tool_path)
        parts.append(decided)
        exact_lines.extend(doubtful)
    return parts, exact_lines


def _sampled(table: pl.DataFrame, pattern: str | list[str]) -> bool:
    """Whether one of the ``_ROUTE_SAMPLE`` lines spread over ``table`` holds a match of ``pattern`` (a
    regex, or any of a list of texts)."""
    count = min(table.height, _ROUTE_SAMPLE)
    sample = table["line"].gather([k * table.height // count for k in range(count)])
    found = sample.str.contains(pattern) if isinstance(pattern, str) else sample.str.contains_any(pattern)
    return bool(found.any())


def _parse_subset(
    table: pl.DataFrame,
    rest: pl.DataFrame,
    columns: Collection[str] | None,
    tool_path: str | None,
    *,
    layout_tried: bool = False,
) -> tuple[list[pl.DataFrame], list[int]]:
    """``_parse_table`` of some lines of ``table`` (``rest``, with their ``i``), joined again into one block;
    the results' ``i`` map back to ``table``. ``layout_tried``: the layout already failed them."""

    def decide(sub_data: bytes, sub_table: pl.DataFrame) -> tuple[list[pl.DataFrame], list[int]]:
        if layout_tried:
            decided, doubtful = _decide(sub_data, sub_table, columns, tool_path)
            return [decided], doubtful
        return _parse_table(sub_data, sub_table, columns, tool_path)

    return _in_block(rest, decide)


def _in_block(
    rest: pl.DataFrame, decide: Callable[[bytes, pl.DataFrame], tuple[list[pl.DataFrame], list[int]]]
) -> tuple[list[pl.DataFrame], list[int]]:
    """``decide`` over some lines of a table (``rest``: their ``i`` and ``line``) joined into a block of
    their own; the parts' ``i`` and the doubtful indices map back to the table (all doubtful when the block
    cannot be split the same way)."""
    sub_data = (rest["line"].str.join("\n").item() + "\n").encode()
    sub_table = _line_table(sub_data)
    if sub_table is None or sub_table.height != rest.height:
        return [], rest["i"].to_list()
    found, doubtful = decide(sub_data, sub_table)
    back = rest["i"]
    parts = [part.with_columns(back.gather(part["i"]).alias("i")) for part in found if part.height]
    return parts, back.gather(doubtful).to_list()


#: Columns a line in the writer's layout never has a value for (it derives nothing and warns of nothing).
_NEVER_IN_LAYOUT: Final = ("derived", "warnings")


def _light(columns: Collection[str] | None) -> bool:
    """Whether to read a projection off the writer's layout: a few of its scalar fields (each is one pass
    over the text; the decoder reads any number of fields in about the time of three)."""
    if columns is None:
        return False
    wanted = set(columns) - set(LOCATION_COLUMNS) - {"ts"} - set(_NEVER_IN_LAYOUT)
    return wanted <= layout.LIGHT_COLUMNS and len(wanted) <= _LIGHT_MAX_FIELDS


def _projected(columns: Collection[str] | None) -> bool:
    """Whether a projection decodes the lines in the writer's layout with only its own fields (the layout
    proves the rest): any projection without ``params``/``extra``, whose text the general path extracts."""
    return columns is not None and not ({"params", "extra"} & set(columns))


#: Index columns -> the reader's fields they come from.
_SOURCE_FIELDS: Final[dict[str, str]] = {
    "error_type": "error",
    "error_message": "error",
    "ts": "timestamp",
}


def _decode_layout_lines(
    data: bytes, table: pl.DataFrame, columns: Collection[str] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Like ``_read_layout_lines`` for any projection: the reader decodes just the wanted fields of every
    line, and the rows of lines in the writer's layout are kept (the layout proves them); the other lines of
    ``table`` are returned for the general path (all of them when the reader refuses the chunk)."""
    wanted = [name for name in _project(SCHEMA, columns) if name not in LOCATION_COLUMNS]
    fields = {_SOURCE_FIELDS.get(name, name) for name in wanted} | {"timestamp"}
    schema = {name: dtype for name, dtype in _NDJSON_SCHEMA.items() if name in fields}
    try:
        decoded = pl.read_ndjson(data, schema=schema)
    except pl.exceptions.PolarsError:
        decoded = None
    if decoded is None or decoded.height != table.height:  # a line the reader refused, or a blank one
        return pl.DataFrame(), table
    fits = table.select(layout.matches() & ~_names_alias(known_only=True)).to_series()
    values = decoded.hstack([table["i"]]).filter(fits)
    values = values.with_columns(ts=_TS_EXPR)
    proven = values.filter(pl.col("ts").is_not_null())
    return proven.select(*_fast_columns(columns), "i"), _others(table, proven)


def _read_layout_lines(
    table: pl.DataFrame, columns: Collection[str] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows of the lines in the writer's layout (value columns and ``i``); the other lines of ``table``."""
    wanted = [name for name in _project(SCHEMA, columns) if name not in LOCATION_COLUMNS]
    flagged = table.select("i", "line", fits=layout.matches() & ~_names_alias(known_only=True))
    fitting = flagged.filter("fits")
    values = fitting.select(
        "i",
        *(
            pl.lit(None, pl.String).alias(name) if name in _NEVER_IN_LAYOUT else layout.column(name)
            for name in wanted
        ),
    )
    # a date that does not exist (2026-02-30) leaves ts null: the general path rejects that line
    proven = values.filter(pl.col("ts").is_not_null()) if "ts" in wanted else values
    return proven.select(*wanted, "i"), _others(table, proven)


def _others(table: pl.DataFrame, proven: pl.DataFrame) -> pl.DataFrame:
    """The lines of ``table`` whose index ``i`` is not among ``proven``'s (left for the general path)."""
    if proven.height == table.height:
        return table.clear()
    return table.filter(~pl.col("i").is_in(proven["i"].implode()))


def _decide(
    data: bytes, table: pl.DataFrame, columns: Collection[str] | None, tool_path: str | None
) -> tuple[pl.DataFrame, list[int]]:
    """The general fast paths over ``table`` (the lines of ``data``): rows they prove (value columns and
    ``i``, in line order) and the indices of the lines left to the reference.

    First the writer contract's typed read (our writer's lines in any byte layout); when polars refuses the
    chunk under it (a field of another type somewhere: another producer's log), or for the lines it could not
    prove, the reader contract's text read (``any_layout``). The typed read is not tried on a chunk where no
    sampled line has the UTC ``timestamp`` it needs (another producer's log)."""
    strict = None
    if _sampled(table, _TYPED_HINT_RE):
        try:
            strict = pl.read_ndjson(data, schema=_NDJSON_SCHEMA)
        except pl.exceptions.PolarsError:
            strict = None
    if strict is None or strict.height != table.height:
        return _decide_any(data, table, columns, tool_path)
    values = strict.with_row_index("i").hstack(table.select("line", "length", "start"))
    wanted = _project(SCHEMA, columns)
    full = "params" in wanted or "extra" in wanted
    errors = "error_type" in wanted or "error_message" in wanted
    good, doubtful = _screen(values, full=full, errors=errors, extra="extra" in wanted)
    good = good.select(*_fast_columns(columns), "i")
    if len(doubtful) <= _SUBSET_EXACT_LINES:
        return good, doubtful
    rest = table.select("i", "line").filter(pl.col("i").is_in(doubtful))

    def decide_rest(sub_data: bytes, sub_table: pl.DataFrame) -> tuple[list[pl.DataFrame], list[int]]:
        decided, left = _decide_any(sub_data, sub_table, columns, tool_path)
        return [decided], left

    subset, still = _in_block(rest, decide_rest)
    if not subset:
        return good, still
    return good.merge_sorted(subset[0].select(good.columns).cast(good.schema), key="i"), still


def _decide_any(
    data: bytes,
    table: pl.DataFrame,
    columns: Collection[str] | None,
    tool_path: str | None,
    *,
    scan: bool = False,
) -> tuple[pl.DataFrame, list[int]]:
    """``any_layout.decide_any`` over ``table``: the reader decodes every known key as text (ranges it
    refuses, which only invalid JSON or a blank line makes it do, are halved down to the reference).

    The aliases the decoder reads are those some line holds (``source_schema``); when no sampled line holds
    one (most logs), none (the search for them costs a tenth of the chunk), and the few lines that turn out to
    hold one are decided again in a block of their own, their aliases searched for (``scan``)."""
    fields = active_field_map()
    patterns = any_layout.alias_patterns(fields)
    unread: list[str] = []
    if scan or not patterns or _sampled(table, patterns):
        schema = any_layout.source_schema(fields, table["line"])
    else:
        schema, unread = any_layout.source_schema(fields, aliases=False), patterns
    decoded: list[pl.DataFrame] = []
    exact_ranges: list[tuple[int, int]] = []
    _decode_range(data, table["start"], 0, table.height, decoded, exact_ranges, schema)
    exact_lines = [i for lo, hi in exact_ranges for i in range(lo, hi)]
    if not decoded:
        return pl.DataFrame(), exact_lines
    wanted = [name for name in _project(SCHEMA, columns) if name not in LOCATION_COLUMNS]
    rows, doubtful = any_layout.decide_any(
        table,
        pl.concat(decoded, how="vertical"),
        wanted,
        tool_from_path=derived_tool(tool_path),
        fields=fields,
        unread=unread,
    )
    rows = rows.select(*wanted, "i")
    if unread and doubtful:
        left = table.select("i", "line").filter(
            pl.col("i").is_in(pl.Series(doubtful, dtype=pl.UInt32).implode())
        )
        rescan = left.filter(pl.col("line").str.contains_any(unread))
        if rescan.height:

            def decide(sub_data: bytes, sub_table: pl.DataFrame) -> tuple[list[pl.DataFrame], list[int]]:
                found, still = _decide_any(sub_data, sub_table, columns, tool_path, scan=True)
                return [found], still

            parts, still = _in_block(rescan, decide)
            rescanned = set(rescan["i"].to_list())
            doubtful = [i for i in doubtful if i not in rescanned] + still
            if parts:
                rows = pl.concat([rows, parts[0].select(rows.columns).cast(rows.schema)]).sort("i")
    exact_lines.extend(doubtful)
    exact_lines.sort()
    return rows, exact_lines


def _locate(part: pl.DataFrame, table: pl.DataFrame, chunk: Chunk, file_id: int) -> pl.DataFrame:
    """``part``'s rows with their location columns (from ``i``, their index in ``table``) instead of ``i``."""
    index = part["i"]
    return part.drop("i").with_columns(
        pl.lit(file_id, pl.UInt32).alias("file_id"),
        (table["start"].gather(index) + chunk.offset).alias("offset"),
        table["length"].gather(index).cast(pl.UInt32).alias("length"),
        (index.cast(pl.Int64) + chunk.first_line).cast(pl.UInt32).alias("line"),
    )


def parse_chunk_exact(
    chunk: Chunk, file_id: int, columns: Collection[str] | None = None
) -> tuple[pl.DataFrame, list[Reject]]:
    """The reference for ``parse_chunk``: ``contract.parse_line`` on every complete line of ``chunk``."""
    lines, offsets = _split(chunk.data)
    return parse_lines_exact(
        lines,
        [chunk.offset + offset for offset in offsets],
        range(chunk.first_line, chunk.first_line + len(lines)),
        file_id,
        chunk.source.display,
        columns,
        tool_path=chunk.source.log_key,
    )

"""The reader contract applied in polars to lines of any producer's layout, without Python per line.

``auditview.core.writer_layout`` proves lines in our writer's exact byte layout; this module takes everything
else a
vectorised decoder can settle: other key orders, JSON with blanks (``json.dumps`` defaults), missing fields,
aliases (``ts``, ``cmd``, ``durationMs``...), numbers written as text, naive and offset times, epoch numbers,
string errors. polars' NDJSON reader decodes every field the contract knows as text (``String``: it renders
numbers, booleans, objects and arrays as text, never refusing a line for a field's type); polars expressions
then type each field and derive what the contract derives, per column.

A line is decided here only when cheap checks over its text prove that the result is the reference's
(``reader_contract.read_line``); every other line is returned for the reference to decide:

* the line has no backslash (every ``"`` delimits a string; no escape to decode differently);
* its top-level keys among the known ones are counted in its text (a key is a string followed by ``:``) and
  equal the fields the decoder found, with their ``null`` values: so no key is repeated (the decoder keeps
  the first of duplicates, the contract the last), and no known key hides in an object the count misses;
* each field's chosen value is usable and unambiguous as rendered: a string field whose text could be a
  rendered number, boolean, object or array, an integer field that is not an integer, a time that is not
  one of the common ISO 8601 forms or an epoch number, a logged response's ``meta``, an ``error`` object, an
  unusable value (a warning) all go to the reference;
* with ``extra`` wanted: it is null where the line has no key besides the known fields and the aliases
  actually read; the other proven lines are decoded one by one by the reference's decoder for it (the fields
  already proven, only the unknown keys' values are taken from it).

``params`` keeps its source text, found with the pattern the reference uses. Must not: read files, decide a
line it cannot prove, or import a UI library.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any, Final

import orjson
import polars as pl

from auditview.contract import MAX_LINE_BYTES
from auditview.core import writer_layout as layout
from auditview.reader_contract import FIELDS, FieldMap, extra_fields

__all__ = [
    "PARAMS_ANY_RE",
    "PARAMS_OBJECT_RE",
    "PARAMS_SOURCE_RE",
    "PLAIN_STRING_RE",
    "alias_patterns",
    "decide_any",
    "extra_text",
    "line_extras",
    "params_match",
    "params_object",
    "source_schema",
]

_WS: Final = "[ \\t\\r\\n]*"
#: A JSON string in a line without backslashes (every ``"`` delimits one).
PLAIN_STRING_RE: Final = r'"[^"]*"'
_STR: Final = PLAIN_STRING_RE
_OBJ0: Final = rf"\{{(?:[^{{}}\[\]\"]|{_STR})*\}}|\[(?:[^{{}}\[\]\"]|{_STR})*\]"
_OBJ1: Final = rf"\{{(?:[^{{}}\[\]\"]|{_STR}|{_OBJ0})*\}}|\[(?:[^{{}}\[\]\"]|{_STR}|{_OBJ0})*\]"
#: The first ``"params": {...}`` of a line (blanks allowed around the colon), nested up to three levels deep;
#: the reference (``parse._params_source``) keeps this text as ``params`` when it decodes to the record's.
_PARAMS_KEY: Final = rf'"params"{_WS}:{_WS}'
#: An object nested at most three levels deep, strings read whole (deeper ones are left to the reference).
PARAMS_OBJECT_RE: Final = rf"\{{(?:[^{{}}\[\]\"]|{_STR}|{_OBJ1})*\}}"
PARAMS_ANY_RE: Final = _PARAMS_KEY + PARAMS_OBJECT_RE
#: The same, with the object's text as its one capture group (for a per-line search).
PARAMS_SOURCE_RE: Final = f"{_PARAMS_KEY}({PARAMS_OBJECT_RE})"
#: ``PARAMS_ANY_RE`` at the start of the text only (tried where the line's first ``"params"`` starts).
_PARAMS_AT_START: Final = f"^(?:{PARAMS_ANY_RE})"
#: What polars renders for a value that is not a JSON string (decimal numbers without exponent, booleans,
#: objects, arrays): a string field holding such text may have been a non-string, which the contract warns of.
_RENDERED_NON_STRING: Final = r"^(?:-?[0-9]+(?:\.[0-9]+)?|true|false|[\[{].*)$"
_INTEGER: Final = r"^-?(?:0|[1-9][0-9]*)$"
_DECIMAL: Final = r"^-?(?:0|[1-9][0-9]*)\.[0-9]+$"
_DURATION: Final = r"^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$"
_HOUR: Final = "(?:[01][0-9]|2[0-3])"
_SIXTY: Final = "[0-5][0-9]"
_DATE_TIME: Final = rf"{layout.YEAR}-[0-9]{{2}}-[0-9]{{2}}[Tt ]{_HOUR}:{_SIXTY}:{_SIXTY}(?:\.[0-9]+)?"
#: Times read here: ISO 8601 with seconds, any fraction (cut past microseconds), ``Z``, ``±HH:MM`` or naive.
_AWARE_TIME: Final = rf"^{_DATE_TIME}(?:[Zz]|[+-]{_HOUR}:{_SIXTY})$"
_NAIVE_TIME: Final = rf"^{_DATE_TIME}$"
_DEEP_LINE_BYTES: Final = 2048
_US_MIN: Final = -62135596800000000  # 0001-01-01T00:00:00Z
_US_MAX: Final = 253402300799999999  # 9999-12-31T23:59:59.999999Z
_EPOCH_LIMITS: Final = ((1e11, 1), (1e14, 1_000), (1e17, 1_000_000))
#: Fields typed here, by the contract's kind.
_STRING_FIELDS: Final = tuple(name for name, kind in FIELDS.items() if kind == "string")
_INTEGER_FIELDS: Final = tuple(name for name, kind in FIELDS.items() if kind == "integer")
_BOOLEAN_FIELDS: Final = tuple(name for name, kind in FIELDS.items() if kind == "boolean")


def extra_text(extra: dict[str, Any]) -> str | None:
    """The index's ``extra``: the compact JSON of a record's extra fields, null when it has none."""
    return orjson.dumps(extra).decode() if extra else None


def params_match(lines: pl.Series) -> pl.Series:
    """The first ``PARAMS_ANY_RE`` match of each line (null where none).

    Tried first where the line's first ``"params"`` starts, which no match can precede (anchored, the regex
    scans only the object: half the cost of a search); only where it fails there (a ``"params"`` value, a
    deeper object) and the line holds another ``"params"`` the search runs.
    """
    start = lines.str.find('"params"', literal=True)
    found = lines.str.slice(start).str.extract(_PARAMS_AT_START, 0)
    rows = (found.is_null() & start.is_not_null()).arg_true()
    if len(rows):
        found = found.scatter(rows, lines.gather(rows).str.extract_all(PARAMS_ANY_RE).list.first())
    return found


def params_object(found: pl.Expr) -> pl.Expr:
    """The object's text of a ``params_match`` (without the key and colon before its first ``{``)."""
    return found.str.slice(found.str.find("{", literal=True))


def line_extras(
    lines: Sequence[str], used: Sequence[Collection[str]] | None = None
) -> tuple[list[int], list[str | None]]:
    """``extra_text`` of each line whose every other field is proven (``used``: per line, the aliases read
    as fields; none without), decoded by the reference's own decoder: the positions of the lines that decode
    to an object, and their texts. The others (not JSON as orjson reads it) are left to the reference."""
    positions: list[int] = []
    texts: list[str | None] = []
    for position, line in enumerate(lines):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        try:
            text = extra_text(extra_fields(record, used[position] if used is not None else ()))
        except TypeError:  # a value orjson cannot encode again: the reference decides
            continue
        positions.append(position)
        texts.append(text)
    return positions, texts


def alias_patterns(fields: FieldMap) -> list[str]:
    """``"alias":`` for every alias the contract reads (the keys ``source_schema`` may leave out)."""
    return [f'"{key}":' for key in sorted(fields.alias_keys - set(FIELDS))]


def source_schema(
    fields: FieldMap, lines: pl.Series | None = None, *, aliases: bool = True
) -> dict[str, pl.DataType]:
    """The decoder's schema: every key the contract reads (fields and aliases) and ``meta``, as text.

    With ``lines``: the aliases none of them holds as ``"alias":`` are left out (a third fewer columns to
    decode in a log that uses none: most of them). A line holding one only as ``"alias" :`` is left to the
    reference anyway (``decide_any`` refuses a blank after a quote). Without ``aliases``: none of them (a
    line holding one is then refused by ``decide_any``, given them as ``unread``)."""
    names = sorted(fields.alias_keys - set(FIELDS)) if aliases else []
    if lines is not None and names:
        found = lines.str.extract_many(alias_patterns(fields)).explode().drop_nulls().unique()
        names = sorted({text[1:-2] for text in found.to_list()})
    return {name: pl.String() for name in sorted(set(FIELDS) | set(names) | {"meta"})}


def _key_count(keys: Collection[str], *, null: bool = False) -> str:
    """A pattern of the keys ``keys`` (a string followed directly by ``:``), optionally with a ``null``
    value."""
    alternatives = "|".join(re.escape(key) for key in sorted(keys))
    return f'"(?:{alternatives})":' + (f"{_WS}null" if null else "")


def _contains_where(text: pl.Series, pattern: str, literal: str) -> pl.Series:
    """``text.str.contains(pattern)``, searched only in the values holding ``literal`` (which every match of
    ``pattern`` holds): the others are False without a pass of the regex."""
    hint = text.str.contains(literal, literal=True)
    rows = hint.arg_true()
    if not len(rows):
        return hint
    return hint.scatter(rows, text.gather(rows).str.contains(pattern))


def _chosen(keys: tuple[str, ...]) -> tuple[pl.Expr, pl.Expr]:
    """The first non-null of ``keys`` and the index of the key it came from (null when none)."""
    value = pl.coalesce([pl.col(key) for key in keys]) if len(keys) > 1 else pl.col(keys[0])
    source = pl.lit(None, pl.Int32)
    for index in reversed(range(len(keys))):
        source = pl.when(pl.col(keys[index]).is_not_null()).then(pl.lit(index, pl.Int32)).otherwise(source)
    return value, source


def _derived_from(name: str, keys: tuple[str, ...], source: pl.Expr) -> pl.Expr:
    """``name<-alias`` where the value came from an alias (null for the field's own key or no value)."""
    entry = pl.lit(None, pl.String)
    for index in range(1, len(keys)):
        entry = pl.when(source == index).then(pl.lit(f"{name}<-{keys[index]}")).otherwise(entry)
    return entry


def _epoch_us(text: pl.Expr) -> pl.Expr:
    """Microseconds since the epoch of a rendered epoch number, as ``reader_contract.epoch_to_datetime``
    computes them (integers exactly, floor below microseconds; floats in IEEE arithmetic, ties to even);
    null when it is not one or overflows."""
    integer = text.str.contains(_INTEGER)
    whole = text.cast(pl.Int64, strict=False)
    magnitude = whole.abs()
    from_int = (
        pl.when(magnitude < int(_EPOCH_LIMITS[0][0]))
        .then(whole * 1_000_000)
        .when(magnitude < int(_EPOCH_LIMITS[1][0]))
        .then(whole * 1_000)
        .when(magnitude < int(_EPOCH_LIMITS[2][0]))
        .then(whole)
        .otherwise(whole.floordiv(1_000))
    )
    real = text.cast(pl.Float64, strict=False)
    size = real.abs()
    per_second = (
        pl.when(size < _EPOCH_LIMITS[0][0])
        .then(1.0)
        .when(size < _EPOCH_LIMITS[1][0])
        .then(1_000.0)
        .when(size < _EPOCH_LIMITS[2][0])
        .then(1_000_000.0)
        .otherwise(1_000_000_000.0)
    )
    scaled = (real * 1_000_000.0) / per_second
    from_float = (
        pl.when(scaled.abs() < 9e18)
        .then(scaled.round(0, mode="half_to_even").cast(pl.Int64, strict=False))
        .otherwise(None)
    )
    return (
        pl.when(integer)
        .then(from_int)
        .when(text.str.contains(_DECIMAL))
        .then(from_float)
        .otherwise(pl.lit(None, pl.Int64))
    )


def _only(values: pl.Series, keep: pl.Series) -> pl.Series:
    """``values`` where ``keep`` holds, null elsewhere."""
    return (
        pl.select(pl.when(pl.lit(keep.fill_null(False))).then(pl.lit(values))).to_series().alias(values.name)
    )


def _time(text: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The UTC time of each rendered time value and whether it was naive; null where not read here. The
    common form (ISO 8601 with an offset) is parsed for all; the others only for the values it left."""
    cut = text.str.replace(r"(\.[0-9]{6})[0-9]+", "${1}")  # the contract truncates past microseconds
    moment = _only(
        cut.str.to_datetime("%+", time_unit="us", time_zone="UTC", strict=False),
        text.str.contains(_AWARE_TIME),
    )
    naive_form = text.str.contains(_NAIVE_TIME).fill_null(False)
    left = moment.is_null() & text.is_not_null()
    if left.any():
        rows = left.arg_true()
        naive = _only(
            cut.gather(rows)
            .str.replace(" ", "T", literal=True)
            .str.replace("t", "T", literal=True)
            .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False)
            .dt.replace_time_zone("UTC"),
            naive_form.gather(rows),
        )
        epoch = pl.select(_epoch_us(pl.lit(text.gather(rows)))).to_series()
        epoch = _only(epoch, epoch.is_between(_US_MIN, _US_MAX))
        from_epoch = pl.from_epoch(epoch, time_unit="us").dt.replace_time_zone("UTC")
        moment = moment.scatter(rows, naive.fill_null(from_epoch))
    year = moment.dt.year()
    return _only(moment, (year >= 1) & (year <= 9999)), naive_form


def _with_key_counts(
    frame: pl.DataFrame, all_keys: Collection[str], nested: pl.Expr, unread: Sequence[str]
) -> pl.DataFrame:
    """``frame`` with, per line, the keys outside the rendered params ``nested`` (``__av_keys``: every
    ``":``), the known ones among them (``__av_known``: the decoder's keys), the decoder's non-null fields
    (``__av_present``) and whether the line holds one of the ``unread`` patterns (``__av_unread``).

    Each field the decoder found has its ``"key":`` outside params, in a line without backslashes or blanks
    after a quote (others are refused): so keys >= known >= present, and where keys == present the known keys
    are present too, without their (slower) count, which runs only on the other lines (unknown keys, ...);
    so does the search for ``unread`` keys (a line with no key besides the decoder's holds none).
    """
    line = pl.col("__av_line")
    every_key = '":'
    counts = frame.select(
        __av_keys=line.str.count_matches(every_key).cast(pl.Int64)
        - nested.str.count_matches(every_key).cast(pl.Int64),
        __av_present=pl.sum_horizontal(pl.col(key).is_not_null().cast(pl.Int64) for key in all_keys),
    )
    known = counts["__av_present"].alias("__av_known")
    found = pl.Series("__av_unread", [False] * frame.height, dtype=pl.Boolean)
    rows = (counts["__av_keys"] != counts["__av_present"]).fill_null(True).arg_true()
    if len(rows):
        pattern = _key_count(all_keys)
        others = frame.gather(rows)
        counted = others.select(
            line.str.count_matches(pattern).cast(pl.Int64) - nested.str.count_matches(pattern).cast(pl.Int64)
        )
        known = known.scatter(rows, counted.to_series())
        if unread:
            found = found.scatter(rows, others["__av_line"].str.contains_any(list(unread)))
    return frame.hstack([*counts, known, found])


def _with_extra(result: pl.DataFrame, used: list[pl.Expr]) -> pl.DataFrame:
    """``result`` with ``__av_extra``: null on the proven lines whose keys are all read (``__av_clean``),
    decoded per line on the other proven lines (``__av_ok`` then holds only where that succeeded)."""
    ok = result["__av_ok"]
    rows = (ok & ~result["__av_clean"].fill_null(False)).arg_true()
    extra = pl.Series("__av_extra", [None] * result.height, dtype=pl.String)
    if len(rows):
        unclean = result.gather(rows)
        keys = (
            unclean.select(pl.concat_list(used).list.drop_nulls()).to_series().to_list()
            if used
            else [[] for _ in range(len(rows))]
        )
        positions, texts = line_extras(unclean["__av_line"].to_list(), keys)
        ok = ok.scatter(rows, False).scatter(rows.gather(positions), True)
        extra = extra.scatter(rows.gather(positions), pl.Series(texts, dtype=pl.String))
    return result.with_columns(ok.alias("__av_ok"), extra)


def decide_any(
    table: pl.DataFrame,
    decoded: pl.DataFrame,
    columns: Collection[str],
    *,
    tool_from_path: str | None,
    fields: FieldMap,
    unread: Sequence[str] = (),
) -> tuple[pl.DataFrame, list[int]]:
    """The rows of ``table``'s lines that the checks prove (the wanted index ``columns`` and ``i``, in line
    order) and the indices of the lines left to the reference.

    ``decoded`` is ``read_ndjson`` of those lines with ``source_schema(fields)``, one row per line with its
    ``i``; ``tool_from_path``: the tool the file's name gives a record without one; ``unread``: the
    ``alias_patterns`` the decoder did not read (``source_schema`` without ``aliases``): a line holding one is
    left to the caller.
    """
    all_keys = [name for name in decoded.columns if name != "i"]
    keys = {name: tuple(key for key in names if key in all_keys) for name, names in fields.keys.items()}
    text = table.select("i", __av_line="line", __av_length="length")
    if decoded.height == table.height and decoded["i"].equals(table["i"]):  # every line decoded: side by side
        frame = decoded.hstack(text.drop("i"))
    else:
        frame = decoded.join(text, on="i", how="inner")
    # a known key with a null value (refused below), looked for only in lines that hold a "null" at all
    frame = frame.with_columns(
        __av_null_key=_contains_where(frame["__av_line"], _key_count(all_keys, null=True), "null")
    )
    line = pl.col("__av_line")

    exprs: dict[str, pl.Expr] = {}
    checks: list[pl.Expr] = [
        ~line.str.contains("\\", literal=True),
        pl.col("__av_length") <= MAX_LINE_BYTES,
        pl.when(pl.col("__av_length") >= _DEEP_LINE_BYTES)
        .then(line.str.count_matches(r"[\[{]") < 512)
        .otherwise(True),
        pl.col("meta").is_null(),
    ]
    derived: list[pl.Expr] = []

    # the time: the first key present must give one (else the reference decides, maybe with a warning)
    time_keys = keys["timestamp"]
    time_text, time_source = _chosen(time_keys)
    moment, naive = _time(frame.select(time_text).to_series())
    frame = frame.with_columns(__av_ts=moment, __av_naive=naive, __av_params=params_match(frame["__av_line"]))
    checks.append(pl.col("__av_ts").is_not_null())
    exprs["ts"] = pl.col("__av_ts")
    derived.append(_derived_from("timestamp", time_keys, time_source))
    derived.append(pl.when(pl.col("__av_naive")).then(pl.lit("timestamp<-naive-utc")))

    chosen: dict[str, pl.Expr] = {}
    sources: dict[str, pl.Expr] = {}
    for name in FIELDS:
        if name == "timestamp":
            continue
        value, source = _chosen(keys[name])
        chosen[name], sources[name] = value, source
        derived.append(_derived_from(name, keys[name], source))
        present = value.is_not_null()
        if name in _STRING_FIELDS:
            checks.append(~(present & value.str.contains(_RENDERED_NON_STRING)).fill_null(False))
            exprs[name] = value
        elif name in _INTEGER_FIELDS:
            number = value.cast(pl.Int64, strict=False)
            checks.append(~present | (value.str.contains(_INTEGER) & number.is_not_null()).fill_null(False))
            exprs[name] = number
        elif name in _BOOLEAN_FIELDS:
            checks.append(~present | value.is_in(["true", "false"]).fill_null(False))
            exprs[name] = value == "true"
        elif name == "duration_ms":
            number = value.cast(pl.Float64, strict=False)
            checks.append(~present | (value.str.contains(_DURATION) & number.is_finite()).fill_null(False))
            exprs[name] = number
        elif name == "error":  # a string is its message; an object (or anything else) goes to the reference
            checks.append(~(present & value.str.contains(_RENDERED_NON_STRING)).fill_null(False))
            exprs["error_type"] = pl.lit(None, pl.String)
            exprs["error_message"] = value
        elif name == "params":  # the source text of an object under its own key, found once
            params_key = f'"params"{_WS}:'
            found = pl.col("__av_params")
            source_text = params_object(found)
            inner = value.str.count_matches(params_key)
            # the line's only top-level "params", and the match is it (not one nested in a deeper params)
            once = (line.str.count_matches(params_key) == 1 + inner) & (
                found.str.count_matches(params_key) == 1 + inner
            )
            checks.append(
                ~present
                | ((source == 0) & value.str.starts_with("{") & once & source_text.is_not_null()).fill_null(
                    False
                )
            )
            exprs["params"] = pl.when(present).then(source_text)
    derived.append(
        pl.when(chosen["tool"].is_null() & pl.lit(tool_from_path is not None)).then(pl.lit("tool<-path"))
    )
    derived.append(
        pl.when(chosen["exit_code"].is_null() & chosen["ok"].is_not_null()).then(pl.lit("exit_code<-ok"))
    )
    if tool_from_path is not None:
        exprs["tool"] = pl.coalesce(exprs["tool"], pl.lit(tool_from_path))
    exprs["exit_code"] = pl.coalesce(
        exprs["exit_code"], pl.when(exprs["ok"].is_not_null()).then(pl.when(exprs["ok"]).then(0).otherwise(1))
    )

    # every known key counted in the text is a top-level field the decoder found (nested ones are in the
    # rendered params, where the same keys are counted)
    # (a null-valued known key at the top is left to the reference: with a repeated key, which of the two
    # the decoder kept could not be told from the counts)
    # Keys are counted as ``"name":`` (no blank before the colon: a line with a ``"`` followed by a blank,
    # rare outside hand-aligned JSON, is left to the reference), so plain substring counts do.
    checks.append(~(line.str.contains('" ', literal=True) | line.str.contains('"\t', literal=True)))
    frame = _with_key_counts(frame, all_keys, chosen["params"].fill_null(""), unread)
    checks.append(pl.col("__av_known") == pl.col("__av_present"))
    checks.append(~pl.col("__av_unread"))
    checks.append(~pl.col("__av_null_key"))

    wanted = set(columns)
    clean: list[pl.Expr] = []
    used: list[pl.Expr] = []
    if "extra" in wanted:
        # ``extra`` is null where there is no key besides the fields' own and the aliases read: every key of
        # the line is a counted one, no alias or meta is present unread (null-valued ones are refused above),
        # no field has two keys given. The other lines' extra is decoded per line (``line_extras``) with the
        # aliases read (``used``), which the reader leaves out of it.
        clean.append(pl.col("__av_keys") == pl.col("__av_known"))
        for name in FIELDS:
            clean.append(
                pl.sum_horizontal(pl.col(key).is_not_null().cast(pl.Int32) for key in keys[name]) <= 1
            )
        sources["timestamp"] = time_source
        used = [
            pl.when(sources[name] == index).then(pl.lit(key))
            for name in FIELDS
            for index, key in enumerate(keys[name])
            if index
        ]
        exprs["extra"] = pl.col("__av_extra")
    exprs["derived"] = pl.concat_str(derived, separator=",", ignore_nulls=True).replace("", None)
    exprs["warnings"] = pl.lit(None, pl.String)

    ok = pl.all_horizontal(checks).fill_null(False)
    out = [expr.alias(name) for name, expr in exprs.items() if name in wanted]
    if not clean:
        result = frame.lazy().with_columns(__av_ok=ok).collect()
    else:
        result = frame.lazy().with_columns(__av_ok=ok, __av_clean=pl.all_horizontal(clean)).collect()
        result = _with_extra(result, used)
    decided = result.filter(pl.col("__av_ok")).select(*out, "i")
    doubtful = result.filter(~pl.col("__av_ok"))["i"].to_list()
    return decided, doubtful

"""Writing a cache entry: in a background thread, atomically, never failing the load that asked for it.

Owns: ``store`` (the entry of one source: its rows and rejects as Parquet and its metadata as JSON, each
0600 and renamed in, in a 0700 directory; the metadata last, so a reader finds the whole entry or none; the
files it named before removed after) and the eviction every store ends with (``eviction.after_store``). A
cache that cannot be written (read-only home, full disk) is skipped silently; the cache never changes a
result.
Must not: decide whether an entry is usable (``entries``), parse lines, or raise into the caller.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from auditview import __version__
from auditview.core.cache.entries import Fingerprint, file_fingerprint, reading_settings
from auditview.core.cache.eviction import after_store
from auditview.core.cache.layout import (
    CACHE_VERSION,
    STALE_SECONDS,
    cache_dir,
    entry_key,
    meta_path,
    write_atomic,
)
from auditview.core.cache.pending import start_write
from auditview.source.storage import LOCAL
from auditview.source.types import FileState, Reject, SourceFile

if TYPE_CHECKING:
    import polars as pl

__all__ = ["store"]

_LOG = logging.getLogger(__name__)
_PARQUET: Final[dict[str, Any]] = {"compression": "lz4", "statistics": False}


def store(
    source: SourceFile,
    identity: FileState,
    fingerprint: Fingerprint,
    next_line: int,
    frame: pl.DataFrame,
    columns: Collection[str],
    rejects: Sequence[Reject],
    partial: int,
) -> None:
    """Write the entry for ``source`` in a background thread (``wait_pending`` joins it); never raises.

    ``identity``: the state of the file taken before it was read; ``fingerprint``: of the bytes parsed
    (plain files) — for compressed files it is recomputed here from the raw file. ``frame``: file-relative
    rows sorted by ts, offset; ``columns``: the index columns it holds.
    """
    if source.path == Path("-"):
        return
    start_write(
        _store_quietly,
        # what decides the rows is taken now, not when the thread runs (the next run may change it)
        (
            source,
            identity,
            fingerprint,
            next_line,
            frame,
            frozenset(columns),
            list(rejects),
            partial,
            reading_settings(source),
        ),
    )


def _store_quietly(
    source: SourceFile,
    identity: FileState,
    fingerprint: Fingerprint,
    next_line: int,
    frame: pl.DataFrame,
    columns: frozenset[str],
    rejects: list[Reject],
    partial: int,
    reading: list[str | None],
) -> None:
    """``_store``, then the eviction after it; logs (at debug level) instead of raising."""
    try:
        if not _store(source, identity, fingerprint, next_line, frame, columns, rejects, partial, reading):
            return
    except Exception as exc:
        _LOG.debug("auditview cache: not written for %s: %s", source.path, exc)
        return
    try:
        after_store(cache_dir())
    except Exception as exc:
        _LOG.debug("auditview cache: not pruned: %s", exc)


def _store(
    source: SourceFile,
    identity: FileState,
    fingerprint: Fingerprint,
    next_line: int,
    frame: pl.DataFrame,
    columns: frozenset[str],
    rejects: list[Reject],
    partial: int,
    reading: list[str | None],
) -> bool:
    """Write the entry; ``False`` when the file changed while it was read (nothing written)."""
    import polars as pl

    head, tail = fingerprint.head, fingerprint.tail
    if source.compression != "none":
        with LOCAL.open(source.path) as file:
            info = file.state()
            same = (info.identity, info.size, info.mtime_ns) == (
                identity.identity,
                identity.size,
                identity.mtime_ns,
            )
            if not same:  # changed while it was read: do not cache what cannot be identified
                return False
            head, tail = file_fingerprint(file, info.size)
    directory = cache_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = entry_key(source.path)
    token = secrets.token_hex(6)
    rows_name = f"{key}-{token}.rows.parquet"
    rejects_name = f"{key}-{token}.rejects.parquet" if rejects else None
    written: list[Path] = []
    try:
        rows_bytes = write_atomic(directory / rows_name, lambda out: frame.write_parquet(out, **_PARQUET))
        written.append(directory / rows_name)
        if rejects_name is not None:
            table = pl.DataFrame(
                {
                    "line": [r.line for r in rejects],
                    "offset": [r.offset for r in rejects],
                    "reason": [r.reason for r in rejects],
                    "raw": [r.raw for r in rejects],
                    "length": [r.length for r in rejects],
                },
                schema={
                    "line": pl.Int64(),
                    "offset": pl.Int64(),
                    "reason": pl.String(),
                    "raw": pl.Binary(),
                    "length": pl.Int64(),
                },
            )
            write_atomic(directory / rejects_name, lambda out: table.write_parquet(out, **_PARQUET))
            written.append(directory / rejects_name)
        from auditview.core.parse import LOCATION_COLUMNS

        meta = {
            "version": CACHE_VERSION,
            "auditview": __version__,
            "path": os.path.abspath(source.path),
            "compression": source.compression,
            "reading": reading,
            "dev": identity.identity[0],
            "ino": identity.identity[1],
            "size": identity.size,
            "mtime_ns": identity.mtime_ns,
            "covered": fingerprint.covered,
            "head": head,
            "tail": tail,
            "next_line": next_line,
            "partial": partial,
            "columns": sorted(columns),
            "order": frame.columns,
            "locations": [name for name in LOCATION_COLUMNS if name in frame.columns],
            "rows": rows_name,
            "rows_bytes": rows_bytes,
            "row_count": frame.height,
            "rejects": rejects_name,
            "reject_count": len(rejects),
        }
        text = json.dumps(meta).encode()
        write_atomic(meta_path(directory, key), lambda out: out.write(text))
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    # The metadata now names the new files: remove the ones it named before (readers that still have them
    # open keep their data; only whole files are ever replaced, never rewritten in place).
    keep = {rows_name, rejects_name, f"{key}.json"}
    for old in directory.glob(f"{key}*"):
        if old.name not in keep:
            with contextlib.suppress(OSError):
                old.unlink()
    # temporary files of writers that were killed (a live writer finishes within seconds)
    for stale in directory.glob(f".{key}*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()
    return True

"""The persistent index cache: the parsed rows and rejects of each source file, so a second look costs little.

Owns: where cache files live (``$XDG_CACHE_HOME/auditview/index/``, default ``~/.cache/auditview/index/``),
their format (one Parquet file of rows, one of rejects, and a JSON metadata record per source, keyed by a hash
of the file's absolute path), when a cached entry may be used (``lookup``) and how it is written
(``store``: atomic, 0600 files in a 0700 directory, in a background thread that ``wait_pending`` joins), and
``configure_allocator`` (which must run before polars is imported, so this module imports polars lazily).

A cached entry covers the stream bytes ``[0, covered)`` of one file: every complete line there, as
file-relative index rows (no ``file_id``) sorted by ``ts`` then ``offset``, and the rejects. It is used
only when:

* plain file: the same ``(st_dev, st_ino)``, the size is at least ``covered``, the blake2b fingerprints of the
  first and the last 64 KiB of ``[0, covered)`` equal those of the bytes that were parsed, and — when the
  size is unchanged — the same ``mtime_ns``. The caller then parses only ``[covered, size)`` (appended lines);
* compressed file (immutable in practice): the same identity, size and ``mtime_ns`` and the same fingerprints
  of the raw (compressed) file's first and last 64 KiB; the trailing partial line is remembered.

Anything else (truncated, replaced, rewritten, another cache or auditview version, a cache file missing,
unreadable or inconsistent with its metadata) is a miss: the caller parses from scratch and stores again.
A cache that cannot be written (read-only home, full disk) is skipped silently; the cache never changes a
result. Limits: a rewrite that keeps the inode and the first and last 64 KiB and changes only bytes in
between while the file also grows (or keeps its size and mtime) is not noticed. ``AUDITVIEW_CACHE=0``
turns the cache off.
Must not: parse lines, read sources beyond fingerprints, or import any UI library.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from auditview import __version__
from auditview.source.types import Reject, SourceFile

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "CACHE_VERSION",
    "CacheEntry",
    "Fingerprint",
    "cache_dir",
    "cache_enabled",
    "configure_allocator",
    "fingerprint_data",
    "lookup",
    "store",
    "wait_pending",
]

#: Bumped whenever the rows, rejects or metadata format (or the parser's output) changes.
CACHE_VERSION: Final = 2
#: Bytes hashed at each end of the covered range.
FINGERPRINT_BYTES: Final = 64 << 10
_LOG = logging.getLogger(__name__)
#: Temporary cache files older than this are left over from a killed writer and removed.
_STALE_SECONDS: Final = 3600
_REJECT_COLUMNS: Final = ("line", "offset", "reason", "raw", "length")


def configure_allocator() -> None:
    """Make polars' allocator return freed memory at once (lower peak RSS); call before importing polars.

    Sets ``_RJEM_MALLOC_CONF`` unless the user set it. Has no effect once polars is loaded.
    """
    os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")


def cache_enabled(cache: bool | None = None) -> bool:
    """``cache`` when given; else on unless ``AUDITVIEW_CACHE`` is ``0``/``false``/``no``/``off``."""
    if cache is not None:
        return cache
    return os.environ.get("AUDITVIEW_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/auditview/index`` (``~/.cache/auditview/index`` when unset or relative)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "auditview" / "index"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies the bytes a cache entry was built from."""

    covered: int  # stream bytes [0, covered) hold the cached lines
    head: str  # blake2b of the first FINGERPRINT_BYTES of the covered range (raw file for compressed)
    tail: str  # blake2b of the last FINGERPRINT_BYTES of the covered range (raw file for compressed)


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def fingerprint_data(head: bytes, tail: bytes, covered: int) -> Fingerprint:
    """The fingerprint of a parsed range from its first and last bytes (each at most 64 KiB are used)."""
    return Fingerprint(covered, _hash(head[:FINGERPRINT_BYTES]), _hash(tail[-FINGERPRINT_BYTES:]))


def _file_fingerprint(fd: int, end: int) -> tuple[str, str]:
    head = os.pread(fd, min(FINGERPRINT_BYTES, end), 0)
    start = max(0, end - FINGERPRINT_BYTES)
    tail = os.pread(fd, end - start, start)
    return _hash(head), _hash(tail)


@dataclass(slots=True)
class CacheEntry:
    """A usable cached entry: the rows (file-relative, sorted by ts, offset), rejects, and where to go on."""

    frame: pl.DataFrame
    rejects: list[Reject]
    columns: frozenset[str]  # index columns held by ``frame`` besides the location columns
    covered: int  # parse again from this stream offset ...
    next_line: int  # ... with this line number
    partial: int  # compressed files: trailing partial lines (0 or 1) remembered, nothing to parse
    complete: bool = field(default=False)  # compressed: nothing after ``covered`` needs reading
    rows_path: Path | None = None
    row_count: int = 0

    def read_all(self) -> pl.DataFrame | None:
        """All the columns of the cached rows (``frame`` may hold fewer); ``None`` if no longer readable."""
        import polars as pl

        if self.rows_path is None:
            return None
        try:
            frame = pl.read_parquet(self.rows_path)
        except Exception as exc:
            _LOG.debug("auditview cache: %s vanished: %s", self.rows_path, exc)
            return None
        return frame if frame.height == self.row_count else None


def _key(path: Path) -> str:
    return hashlib.blake2b(os.fsencode(os.path.abspath(path)), digest_size=20).hexdigest()


def _meta_path(directory: Path, key: str) -> Path:
    return directory / f"{key}.json"


_pending: list[threading.Thread] = []
_pending_lock = threading.Lock()


def wait_pending() -> None:
    """Wait until every cache write started by this process has finished."""
    while True:
        with _pending_lock:
            if not _pending:
                return
            thread = _pending.pop()
        thread.join()


def lookup(source: SourceFile, wanted: Collection[str]) -> CacheEntry | None:
    """The cached entry for ``source`` holding at least the index columns ``wanted``, or ``None`` (a miss)."""
    if source.path == Path("-"):
        return None
    wait_pending()
    try:
        return _lookup(source, frozenset(wanted))
    except Exception as exc:
        _LOG.debug("auditview cache: ignoring the entry for %s: %s", source.path, exc)
        return None


def cached_columns(source: SourceFile) -> frozenset[str]:
    """The index columns the cached entry of ``source`` holds (empty when none is readable)."""
    try:
        meta = json.loads(_meta_path(cache_dir(), _key(source.path)).read_bytes())
        return frozenset(meta["columns"]) if meta.get("version") == CACHE_VERSION else frozenset()
    except Exception:
        return frozenset()


def _lookup(source: SourceFile, wanted: frozenset[str]) -> CacheEntry | None:
    import polars as pl

    directory = cache_dir()
    meta_file = _meta_path(directory, _key(source.path))
    try:
        meta: dict[str, Any] = json.loads(meta_file.read_bytes())
    except FileNotFoundError:
        return None
    if (
        meta.get("version") != CACHE_VERSION
        or meta.get("auditview") != __version__
        or meta.get("path") != os.path.abspath(source.path)
        or meta.get("compression") != source.compression
    ):
        return None
    columns = frozenset(meta["columns"])
    if not wanted <= columns:
        return None
    covered = int(meta["covered"])
    if not stat.S_ISREG(os.stat(source.path).st_mode):  # never open a FIFO or device here: it may block
        return None
    fd = os.open(source.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (meta["dev"], meta["ino"]):
            return None
        compressed = source.compression != "none"
        if compressed:
            if info.st_size != meta["size"] or info.st_mtime_ns != meta["mtime_ns"]:
                return None
            head, tail = _file_fingerprint(fd, info.st_size)
        else:
            if info.st_size < covered:
                return None
            if info.st_size == meta["size"] and info.st_mtime_ns != meta["mtime_ns"]:
                return None
            head, tail = _file_fingerprint(fd, covered)
        if (head, tail) != (meta["head"], meta["tail"]):
            return None
    finally:
        os.close(fd)
    read_columns = [name for name in meta["order"] if name in wanted or name in meta["locations"]]
    rows_path = directory / meta["rows"]
    if rows_path.stat().st_size != meta["rows_bytes"]:
        return None
    frame = pl.read_parquet(rows_path, columns=read_columns)
    if frame.height != meta["row_count"]:
        return None
    rejects: list[Reject] = []
    if meta["rejects"] is not None:
        table = pl.read_parquet(directory / meta["rejects"])
        if table.height != meta["reject_count"]:
            return None
        display = source.display
        for line, offset, reason, raw, length in table.select(_REJECT_COLUMNS).iter_rows():
            rejects.append(Reject(display, int(line), int(offset), str(reason), bytes(raw), length))
    elif meta["reject_count"]:
        return None
    return CacheEntry(
        frame=frame,
        rejects=rejects,
        columns=columns,
        covered=covered,
        next_line=int(meta["next_line"]),
        partial=int(meta["partial"]),
        complete=compressed,
        rows_path=rows_path,
        row_count=frame.height,
    )


def store(
    source: SourceFile,
    identity: os.stat_result,
    fingerprint: Fingerprint,
    next_line: int,
    frame: pl.DataFrame,
    columns: Collection[str],
    rejects: Sequence[Reject],
    partial: int,
) -> None:
    """Write the entry for ``source`` in a background thread (``wait_pending`` joins it); never raises.

    ``identity``: ``os.stat`` of the file taken before it was read; ``fingerprint``: of the bytes parsed
    (plain files) — for compressed files it is recomputed here from the raw file. ``frame``: file-relative
    rows sorted by ts, offset; ``columns``: the index columns it holds.
    """
    if source.path == Path("-"):
        return
    thread = threading.Thread(
        target=_store_quietly,
        args=(source, identity, fingerprint, next_line, frame, frozenset(columns), list(rejects), partial),
        name="auditview-cache-write",
    )
    with _pending_lock:
        _pending.append(thread)
    thread.start()


def _store_quietly(
    source: SourceFile,
    identity: os.stat_result,
    fingerprint: Fingerprint,
    next_line: int,
    frame: pl.DataFrame,
    columns: frozenset[str],
    rejects: list[Reject],
    partial: int,
) -> None:
    try:
        _store(source, identity, fingerprint, next_line, frame, columns, rejects, partial)
    except Exception as exc:
        _LOG.debug("auditview cache: not written for %s: %s", source.path, exc)


def _store(
    source: SourceFile,
    identity: os.stat_result,
    fingerprint: Fingerprint,
    next_line: int,
    frame: pl.DataFrame,
    columns: frozenset[str],
    rejects: list[Reject],
    partial: int,
) -> None:
    import polars as pl

    head, tail = fingerprint.head, fingerprint.tail
    if source.compression != "none":
        fd = os.open(source.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            same = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns) == (
                identity.st_dev,
                identity.st_ino,
                identity.st_size,
                identity.st_mtime_ns,
            )
            if not same:  # changed while it was read: do not cache what cannot be identified
                return
            head, tail = _file_fingerprint(fd, info.st_size)
        finally:
            os.close(fd)
    directory = cache_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = _key(source.path)
    token = secrets.token_hex(6)
    rows_name = f"{key}-{token}.rows.parquet"
    rejects_name = f"{key}-{token}.rejects.parquet" if rejects else None
    written: list[Path] = []
    try:
        rows_bytes = _write_atomic(directory / rows_name, lambda out: frame.write_parquet(out, **_PARQUET))
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
            _write_atomic(directory / rejects_name, lambda out: table.write_parquet(out, **_PARQUET))
            written.append(directory / rejects_name)
        from auditview.parse import LOCATION_COLUMNS

        meta = {
            "version": CACHE_VERSION,
            "auditview": __version__,
            "path": os.path.abspath(source.path),
            "compression": source.compression,
            "dev": identity.st_dev,
            "ino": identity.st_ino,
            "size": identity.st_size,
            "mtime_ns": identity.st_mtime_ns,
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
        _write_atomic(_meta_path(directory, key), lambda out: out.write(text))
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
            if time.time() - stale.stat().st_mtime > _STALE_SECONDS:
                stale.unlink()


_PARQUET: Final[dict[str, Any]] = {"compression": "lz4", "statistics": False}


def _write_atomic(path: Path, write: Any) -> int:
    """Write through ``write(binary file)`` to a 0600 temporary file, then rename it to ``path``; its size."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            size = out.tell()
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return size

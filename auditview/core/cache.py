"""The persistent index cache: the parsed rows and rejects of each source file, so a second look costs little.

Owns: where cache files live (``$XDG_CACHE_HOME/auditview/index/``, default ``~/.cache/auditview/index/``),
their format (one Parquet file of rows, one of rejects, and a JSON metadata record per source, keyed by a hash
of the file's absolute path), when a cached entry may be used (``lookup``) and how it is written
(``store``: atomic, 0600 files in a 0700 directory, in a background thread that ``wait_pending`` joins), and
eviction (``prune``, ``clear``). It imports polars lazily.

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

Eviction (``prune``, ``clear``), so the cache does not grow forever: an entry whose source is gone, or can
never match again (another inode, or shorter than what the entry covers, or a compressed file of another
size), or whose metadata is unreadable, is stale and removed. Then, while the directory holds more than
``cache_max_bytes()`` (``AUDITVIEW_CACHE_MAX_BYTES``, default 2 GiB; ``0``/``off`` = no cap), the least
recently used entries go first; last use is the metadata file's mtime, set on every store and every hit.
Entries used in the last ``_IN_USE_SECONDS`` are not evicted for size (some process is likely reading them),
so the cap may be exceeded briefly. Every store ends with a cheap check (one directory listing, in the writer
thread): over the cap it evicts; the full stale scan (reading each entry's metadata, stat-ing its source)
runs at most once per ``PRUNE_INTERVAL_SECONDS`` per cache directory (``.last-prune`` stamp). Removal never
breaks a reader: metadata goes first and only while it is the one that was looked at, so a reader either
misses or finds data files that vanish under it, which is a miss too (``lookup`` and
``CacheEntry.read_all`` fall back to parsing); data files no metadata names are left alone for
``_STALE_SECONDS`` (a writer renames them in before its metadata).
Must not: parse lines, read sources beyond fingerprints, or import any UI library.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from auditview import __version__
from auditview.source.storage import LOCAL, StoredFile
from auditview.source.types import FileState, Reject, SourceFile

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_MAX_BYTES",
    "PRUNE_INTERVAL_SECONDS",
    "CacheEntry",
    "Fingerprint",
    "PruneReport",
    "RemovedEntry",
    "cache_dir",
    "cache_enabled",
    "cache_max_bytes",
    "clear",
    "fingerprint_data",
    "lookup",
    "prune",
    "store",
    "wait_pending",
]

#: Bumped whenever the rows, rejects or metadata format (or the parser's output) changes.
CACHE_VERSION: Final = 4  # 4: the reader contract (records of any producer, derived and warnings columns)
#: Bytes hashed at each end of the covered range.
FINGERPRINT_BYTES: Final = 64 << 10
_LOG = logging.getLogger(__name__)
#: Temporary cache files older than this are left over from a killed writer and removed.
_STALE_SECONDS: Final = 3600
_REJECT_COLUMNS: Final = ("line", "offset", "reason", "raw", "length")
#: The cap on the cache directory's total size unless ``AUDITVIEW_CACHE_MAX_BYTES`` says otherwise. An entry
#: is about 18% of its log (1M records: 428 MB of log, ~75 MB of cache), so this holds ~25 such logs.
DEFAULT_MAX_BYTES: Final = 2 << 30
#: The full prune (stale entries and leftovers) runs at most this often after stores.
PRUNE_INTERVAL_SECONDS: Final = 3600
#: Entries used (hit or written) this recently are not evicted for size: a process is likely reading them.
_IN_USE_SECONDS: Final = 60
_STAMP: Final = ".last-prune"


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


def _file_fingerprint(file: StoredFile, end: int) -> tuple[str, str]:
    head = file.read_range(0, min(FINGERPRINT_BYTES, end))
    start = max(0, end - FINGERPRINT_BYTES)
    tail = file.read_range(start, end - start)
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


def _reading(source: SourceFile) -> list[str | None]:
    """What besides the bytes decides the rows: the ``--field`` mappings in force and the tool a record
    without one gets from the file's name (an entry found for a renamed file must still agree)."""
    from auditview.reader_contract import active_field_map, derived_tool

    return [active_field_map().fingerprint, derived_tool(source.log_key)]


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
    meta = _read_meta_file(_meta_path(cache_dir(), _key(source.path)))
    try:
        return frozenset(meta["columns"]) if meta and meta.get("version") == CACHE_VERSION else frozenset()
    except (KeyError, TypeError):
        return frozenset()


def _lookup(source: SourceFile, wanted: frozenset[str]) -> CacheEntry | None:
    import polars as pl

    directory = cache_dir()
    meta_file = _meta_path(directory, _key(source.path))
    try:
        meta: dict[str, Any] | None = json.loads(meta_file.read_bytes())
    except FileNotFoundError:
        meta = None
    if not LOCAL.state(source.path).regular:  # never open a FIFO or device here: it may block
        return None
    moved = False
    with LOCAL.open(source.path) as file:
        info = file.state()
        if meta is None or info.identity != (meta.get("dev"), meta.get("ino")):
            # Not this file's entry: maybe the entry of the file this one was (a log renamed by rotation).
            found = _moved_entry(directory, source, info)
            if found is None:
                return None
            meta_file, meta = found
            moved = True
        if (
            meta.get("version") != CACHE_VERSION
            or meta.get("auditview") != __version__
            or (meta.get("path") != os.path.abspath(source.path) and not moved)
            or meta.get("compression") != source.compression
            or meta.get("reading") != _reading(source)
        ):
            return None
        columns = frozenset(meta["columns"])
        if not wanted <= columns:
            return None
        covered = int(meta["covered"])
        compressed = source.compression != "none"
        if compressed:
            if info.size != meta["size"] or info.mtime_ns != meta["mtime_ns"]:
                return None
            head, tail = _file_fingerprint(file, info.size)
        else:
            if info.size < covered:
                return None
            if info.size == meta["size"] and info.mtime_ns != meta["mtime_ns"]:
                return None
            head, tail = _file_fingerprint(file, covered)
        if (head, tail) != (meta["head"], meta["tail"]):
            return None
    if moved:
        meta_file, meta = _adopt(directory, meta_file, meta, source)
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
    with contextlib.suppress(OSError):  # last use, for eviction (a read-only cache just forgets it)
        os.utime(meta_file)
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


def _read_meta_file(path: Path) -> dict[str, Any] | None:
    """An entry's metadata, or ``None`` when it is gone, unreadable or not a JSON object."""
    try:
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _moved_entry(directory: Path, source: SourceFile, info: FileState) -> tuple[Path, dict[str, Any]] | None:
    """The entry made for this very file (device and inode) under another path that no longer names it: the
    same log after a rename (``audit.jsonl`` rotated to ``audit.jsonl.1``). Looked for only on a miss."""
    here = os.path.abspath(source.path)
    for name in _metas_by_inode(directory).get(info.identity, ()):
        meta = _read_meta_file(directory / name)
        if meta is None:
            continue
        if (meta.get("dev"), meta.get("ino")) != info.identity or meta.get("path") == here:
            continue
        try:
            if LOCAL.state(Path(str(meta.get("path")))).identity == info.identity:
                continue  # a second name (hard link) of a file that keeps its own entry
        except OSError:
            pass
        return directory / name, meta
    return None


_inode_index: tuple[str, int, dict[tuple[int, int], list[str]]] | None = None
_inode_index_lock = threading.Lock()


def _metas_by_inode(directory: Path) -> dict[tuple[int, int], list[str]]:
    """The metadata files of the cache by the device and inode they were made for; read once, and again only
    after the directory changed (a load that misses on many files scans it once, not once per file)."""
    global _inode_index
    try:
        stamp = os.stat(directory).st_mtime_ns
    except OSError:
        return {}
    with _inode_index_lock:
        if _inode_index is not None and _inode_index[:2] == (str(directory), stamp):
            return _inode_index[2]
    found: dict[tuple[int, int], list[str]] = {}
    try:
        names = [entry.name for entry in os.scandir(directory) if _META_NAME.fullmatch(entry.name)]
    except OSError:
        return {}
    for name in names:
        meta = _read_meta_file(directory / name)
        try:
            if meta is not None:
                found.setdefault((int(meta["dev"]), int(meta["ino"])), []).append(name)
        except (KeyError, TypeError, ValueError):
            continue
    with _inode_index_lock:
        _inode_index = (str(directory), stamp, found)
    return found


def _adopt(
    directory: Path, meta_file: Path, meta: dict[str, Any], source: SourceFile
) -> tuple[Path, dict[str, Any]]:
    """Move a renamed file's entry to its new path (data files renamed, metadata rewritten), so that the next
    look finds it directly and a new file at the old path does not replace it. When the cache cannot be
    written, the entry is used where it is."""
    key = _key(source.path)
    renamed = dict(meta, path=os.path.abspath(source.path))
    moves: list[tuple[Path, Path]] = []
    for field_name in ("rows", "rejects"):
        old_name = meta.get(field_name)
        if old_name is None:
            continue
        match = _DATA_NAME.fullmatch(str(old_name))
        if match is None:
            return meta_file, meta
        new_name = key + str(old_name)[len(match.group(1)) :]
        renamed[field_name] = new_name
        moves.append((directory / str(old_name), directory / new_name))
    try:
        for old_path, new_path in moves:
            os.replace(old_path, new_path)
    except OSError:
        for old_path, new_path in moves:  # put back what moved
            with contextlib.suppress(OSError):
                if new_path.exists() and not old_path.exists():
                    os.replace(new_path, old_path)
        return meta_file, meta
    new_meta = _meta_path(directory, key)
    text = json.dumps(renamed).encode()
    try:
        _write_atomic(new_meta, lambda out: out.write(text))
    except OSError:
        for old_path, new_path in moves:
            with contextlib.suppress(OSError):
                os.replace(new_path, old_path)
        return meta_file, meta
    with contextlib.suppress(OSError):
        meta_file.unlink()
    keep = {new_meta.name, *(new.name for _, new in moves)}
    for other in directory.glob(f"{key}*"):  # what an older entry at this path left
        if other.name not in keep:
            with contextlib.suppress(OSError):
                other.unlink()
    return new_meta, renamed


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
    thread = threading.Thread(
        target=_store_quietly,
        # what decides the rows is taken now, not when the thread runs (the next run may change it)
        args=(
            source,
            identity,
            fingerprint,
            next_line,
            frame,
            frozenset(columns),
            list(rejects),
            partial,
            _reading(source),
        ),
        name="auditview-cache-write",
    )
    with _pending_lock:  # started under the lock: ``wait_pending`` in another thread never joins it unstarted
        _pending.append(thread)
        thread.start()


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
    try:
        if not _store(source, identity, fingerprint, next_line, frame, columns, rejects, partial, reading):
            return
    except Exception as exc:
        _LOG.debug("auditview cache: not written for %s: %s", source.path, exc)
        return
    try:
        _after_store(cache_dir())
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
            head, tail = _file_fingerprint(file, info.size)
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
    return True


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


# --- eviction ---------------------------------------------------------------------------------------------

_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?")
_UNITS: Final = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_NO_CAP: Final = frozenset({"0", "off", "none", "no", "false", "unlimited"})
_META_NAME = re.compile(r"([0-9a-f]{40})\.json")
_DATA_NAME = re.compile(r"([0-9a-f]{40})-[0-9a-f]+\.(?:rows|rejects)\.parquet")
_TEMPORARY_NAME = re.compile(r"\..+\.tmp")

Reason = Literal["missing", "changed", "corrupt", "lru", "cleared"]


def cache_max_bytes() -> int:
    """The cap on the cache's total size in bytes, from ``AUDITVIEW_CACHE_MAX_BYTES``; ``0`` means no cap.

    Unset or empty: ``DEFAULT_MAX_BYTES`` (2 GiB). A number of bytes with an optional ``K``/``M``/``G``/``T``
    suffix in powers of 1024 (``500M``, ``1.5GiB``, ``2gb`` alike). ``0``, ``off``, ``none``, ``unlimited``:
    no cap (stale entries are still removed). Anything else: the default — a typo must not fill the disk.
    """
    text = os.environ.get("AUDITVIEW_CACHE_MAX_BYTES", "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    size = parse_size(text)
    if size is None:
        _LOG.debug("auditview cache: AUDITVIEW_CACHE_MAX_BYTES=%r not understood, using the default", text)
        return DEFAULT_MAX_BYTES
    return size


def parse_size(text: str) -> int | None:
    """A size as ``AUDITVIEW_CACHE_MAX_BYTES`` takes it (``500M``, ``1.5GiB``; ``0``/``off`` = 0, no cap);
    ``None`` when it is not one."""
    text = text.strip().lower()
    if text in _NO_CAP:
        return 0
    match = _SIZE.fullmatch(text)
    if match is None:
        return None
    number = float(match.group(1))
    if number == 0:
        return 0
    return max(1, int(number * _UNITS[match.group(2)]))


@dataclass(frozen=True, slots=True)
class RemovedEntry:
    """One cache entry that was removed, and why."""

    path: str  # the source file it was for ("" when its metadata was unreadable)
    reason: Reason  # missing/changed: can never be used again; corrupt; lru: over the cap; cleared
    size: int  # bytes freed


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What ``prune`` or ``clear`` removed and what is left (for a CLI to print)."""

    removed: tuple[RemovedEntry, ...] = ()
    leftovers: int = 0  # files of interrupted or superseded writers removed
    freed_bytes: int = 0  # by ``removed`` and ``leftovers`` together
    kept_entries: int = 0
    kept_bytes: int = 0
    errors: int = 0  # files that could not be removed (a read-only cache) or a directory that cannot be read


def prune(max_bytes: int | None = None) -> PruneReport:
    """Remove stale entries and leftovers, then least-recently-used entries until the cache fits the cap.

    ``max_bytes``: the cap; ``None`` = ``cache_max_bytes()``, ``0`` = no cap. Waits for this process's
    pending writes first; never raises (a missing, unreadable or read-only cache reports what it could do).
    """
    wait_pending()
    directory = cache_dir()
    limit = cache_max_bytes() if max_bytes is None else max(0, max_bytes)
    report = _Pruner(directory, time.time()).run(limit, full=True)
    _touch_stamp(directory)
    return report


def clear() -> PruneReport:
    """Remove every entry and cache file (not the directory); never raises.

    Safe while other processes use the cache: their lookups miss and parse; a write in flight elsewhere may
    still complete or fail quietly.
    """
    wait_pending()
    return _Pruner(cache_dir(), time.time()).run(0, full=False, everything=True)


def _after_store(directory: Path) -> None:
    """The eviction every store ends with: the full prune when it is due, else the cap check alone."""
    now = time.time()
    try:
        age = now - (directory / _STAMP).stat().st_mtime
    except OSError:
        age = float("inf")
    full = not 0 <= age < PRUNE_INTERVAL_SECONDS
    if full:
        _touch_stamp(directory)  # first, so that processes storing at the same time do not all scan
    _Pruner(directory, now).run(cache_max_bytes(), full=full)


def _touch_stamp(directory: Path) -> None:
    stamp = directory / _STAMP
    with contextlib.suppress(OSError):
        os.close(os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        os.utime(stamp)


@dataclass(slots=True)
class _Group:
    """The files of one cache key as listed: its metadata (if any) and its data files."""

    meta: os.stat_result | None = None
    data: dict[str, os.stat_result] = field(default_factory=dict)

    def last_use(self) -> int:
        if self.meta is not None:
            return self.meta.st_mtime_ns
        return max((info.st_mtime_ns for info in self.data.values()), default=0)


@dataclass(slots=True)
class _Pruner:
    """One pass over a cache directory; counts what it removed."""

    directory: Path
    now: float
    removed: list[RemovedEntry] = field(default_factory=list)
    leftovers: int = 0
    freed: int = 0
    errors: int = 0

    def run(self, limit: int, *, full: bool, everything: bool = False) -> PruneReport:
        """Remove all (``everything``) or stale (``full``) entries, old leftovers, then LRU over ``limit``."""
        listing = self._scan()
        if listing is None:
            return PruneReport(errors=self.errors)
        groups, temporaries = listing
        total = sum(info.st_size for info in temporaries.values())
        total += sum(_group_size(group) for group in groups.values())
        for name, info in temporaries.items():
            if everything or self._old(info):
                total -= self._remove_leftover(name, info)
        live: dict[str, tuple[_Group, dict[str, Any] | None]] = {}
        for key, group in groups.items():
            if group.meta is None:  # a writer in flight, or one that was killed before its metadata
                for name, info in group.data.items():
                    if everything or self._old(info):
                        total -= self._remove_leftover(name, info)
                continue
            if everything:
                freed = self._remove_entry(key, group, self._read_meta(key), "cleared", everything=True)
                if not freed:  # its metadata could not be removed: still an entry
                    live[key] = (group, None)
                total -= freed
                continue
            meta = self._read_meta(key) if full else None
            if full:
                reason = "corrupt" if meta is None else _stale_reason(meta)
                if reason is not None:
                    total -= self._remove_entry(key, group, meta, reason)
                    continue
                assert meta is not None
                named = _named_files(meta)
                for name, info in group.data.items():
                    if name not in named and self._old(info):
                        total -= self._remove_leftover(name, info)
            live[key] = (group, meta)
        kept = len(live)
        if limit > 0 and total > limit:
            for key, (group, meta) in sorted(live.items(), key=lambda item: (item[1][0].last_use(), item[0])):
                if total <= limit:
                    break
                if self.now - group.last_use() / 1e9 < _IN_USE_SECONDS:
                    break  # the rest were used even more recently
                freed = self._remove_entry(key, group, meta or self._read_meta(key), "lru")
                if freed:
                    kept -= 1
                    total -= freed
        return PruneReport(
            removed=tuple(self.removed),
            leftovers=self.leftovers,
            freed_bytes=self.freed,
            kept_entries=kept,
            kept_bytes=max(0, total),
            errors=self.errors,
        )

    def _scan(self) -> tuple[dict[str, _Group], dict[str, os.stat_result]] | None:
        """The cache's files by key, and its temporary files; ``None`` when there is no readable directory."""
        groups: dict[str, _Group] = {}
        temporaries: dict[str, os.stat_result] = {}
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:  # removed meanwhile
                        continue
                    if not stat.S_ISREG(info.st_mode):
                        continue
                    if match := _META_NAME.fullmatch(entry.name):
                        groups.setdefault(match.group(1), _Group()).meta = info
                    elif match := _DATA_NAME.fullmatch(entry.name):
                        groups.setdefault(match.group(1), _Group()).data[entry.name] = info
                    elif _TEMPORARY_NAME.fullmatch(entry.name):
                        temporaries[entry.name] = info
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            _LOG.debug("auditview cache: cannot list %s: %s", self.directory, exc)
            self.errors += 1
            return None
        return groups, temporaries

    def _read_meta(self, key: str) -> dict[str, Any] | None:
        return _read_meta_file(_meta_path(self.directory, key))

    def _old(self, info: os.stat_result) -> bool:
        return self.now - info.st_mtime > _STALE_SECONDS

    def _unlink(self, name: str, size: int) -> int:
        """Remove one file; the bytes now gone (also when another process removed it first), 0 on failure."""
        try:
            os.unlink(self.directory / name)
        except FileNotFoundError:
            return size
        except OSError as exc:
            _LOG.debug("auditview cache: cannot remove %s: %s", name, exc)
            self.errors += 1
            return 0
        self.freed += size
        return size

    def _remove_leftover(self, name: str, info: os.stat_result) -> int:
        gone = self._unlink(name, info.st_size)
        if gone:
            self.leftovers += 1
        return gone

    def _remove_entry(
        self,
        key: str,
        group: _Group,
        meta: dict[str, Any] | None,
        reason: Reason,
        *,
        everything: bool = False,
    ) -> int:
        """Remove the metadata, then the files it names (and the key's old leftovers); the bytes gone.

        The metadata goes only while it is the one listed (a store or a hit since then wins), so readers
        see either the whole entry or none; data files nobody names yet may be a live writer's: kept.
        """
        gone = 0
        if group.meta is not None:
            name = f"{key}.json"
            if not everything:
                try:
                    current = os.stat(self.directory / name, follow_symlinks=False)
                except FileNotFoundError:
                    current = None
                except OSError:
                    return 0
                if current is not None and (current.st_ino, current.st_mtime_ns) != (
                    group.meta.st_ino,
                    group.meta.st_mtime_ns,
                ):
                    return 0
            gone = self._unlink(name, group.meta.st_size)
            if not gone:
                return 0
        named = _named_files(meta) if meta is not None else set()
        for data_name, info in group.data.items():
            if everything or data_name in named or self._old(info):
                gone += self._unlink(data_name, info.st_size)
        path = meta.get("path") if meta is not None else None
        self.removed.append(RemovedEntry(path if isinstance(path, str) else "", reason, gone))
        return gone


def _group_size(group: _Group) -> int:
    size = sum(info.st_size for info in group.data.values())
    return size + (group.meta.st_size if group.meta is not None else 0)


def _named_files(meta: dict[str, Any]) -> set[str]:
    return {name for name in (meta.get("rows"), meta.get("rejects")) if isinstance(name, str)}


def _stale_reason(meta: dict[str, Any]) -> Reason | None:
    """``missing``/``changed`` when the entry can never be used again (``lookup`` would always miss)."""
    path = meta.get("path")
    if not isinstance(path, str):
        return "corrupt"
    try:
        info = LOCAL.state(Path(path))
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError:  # cannot tell now (permissions, a hung mount): keep
        return None
    if not info.regular:
        return "changed"
    if "dev" in meta and "ino" in meta and info.identity != (meta["dev"], meta["ino"]):
        return "changed"
    covered, size, compression = meta.get("covered"), meta.get("size"), meta.get("compression")
    if compression == "none":
        if isinstance(covered, int) and info.size < covered:
            return "changed"
    elif isinstance(compression, str) and isinstance(size, int) and info.size != size:
        return "changed"
    return None

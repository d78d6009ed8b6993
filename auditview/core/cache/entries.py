"""Cache entries: what identifies one, when it may be used (``lookup``), and adopting a renamed file's entry.

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
Limits: a rewrite that keeps the inode and the first and last 64 KiB and changes only bytes in between while
the file also grows (or keeps its size and mtime) is not noticed. A file found under a new name (a log
renamed by rotation) takes over the entry made under its old one (``_adopt``). A hit sets the metadata's
mtime: the entry's last use, for eviction.
Must not: write an entry (``writing``), evict (``eviction``), parse lines, or read sources beyond
fingerprints.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from auditview import __version__
from auditview.core.cache.layout import (
    CACHE_VERSION,
    DATA_NAME,
    META_NAME,
    cache_dir,
    entry_key,
    meta_path,
    read_meta,
    write_atomic,
)
from auditview.core.cache.pending import wait_pending
from auditview.source.storage import LOCAL, StoredFile
from auditview.source.types import FileState, Reject, SourceFile

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "FINGERPRINT_BYTES",
    "CacheEntry",
    "Fingerprint",
    "cached_columns",
    "file_fingerprint",
    "fingerprint_data",
    "lookup",
    "reading_settings",
]

#: Bytes hashed at each end of the covered range.
FINGERPRINT_BYTES: Final = 64 << 10
_LOG = logging.getLogger(__name__)
_REJECT_COLUMNS: Final = ("line", "offset", "reason", "raw", "length")


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


def file_fingerprint(file: StoredFile, end: int) -> tuple[str, str]:
    """The head and tail hashes of the stored bytes ``[0, end)`` of an open file."""
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


def reading_settings(source: SourceFile) -> list[str | None]:
    """What besides the bytes decides the rows: the ``--field`` mappings in force and the tool a record
    without one gets from the file's name (an entry found for a renamed file must still agree)."""
    from auditview.reader_contract import active_field_map, derived_tool

    return [active_field_map().fingerprint, derived_tool(source.log_key)]


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
    meta = read_meta(meta_path(cache_dir(), entry_key(source.path)))
    try:
        return frozenset(meta["columns"]) if meta and meta.get("version") == CACHE_VERSION else frozenset()
    except (KeyError, TypeError):
        return frozenset()


def _lookup(source: SourceFile, wanted: frozenset[str]) -> CacheEntry | None:
    import polars as pl

    directory = cache_dir()
    meta_file = meta_path(directory, entry_key(source.path))
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
            or meta.get("reading") != reading_settings(source)
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
            head, tail = file_fingerprint(file, info.size)
        else:
            if info.size < covered:
                return None
            if info.size == meta["size"] and info.mtime_ns != meta["mtime_ns"]:
                return None
            head, tail = file_fingerprint(file, covered)
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


def _moved_entry(directory: Path, source: SourceFile, info: FileState) -> tuple[Path, dict[str, Any]] | None:
    """The entry made for this very file (device and inode) under another path that no longer names it: the
    same log after a rename (``audit.jsonl`` rotated to ``audit.jsonl.1``). Looked for only on a miss."""
    here = os.path.abspath(source.path)
    for name in _metas_by_inode(directory).get(info.identity, ()):
        meta = read_meta(directory / name)
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
        names = [entry.name for entry in os.scandir(directory) if META_NAME.fullmatch(entry.name)]
    except OSError:
        return {}
    for name in names:
        meta = read_meta(directory / name)
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
    key = entry_key(source.path)
    renamed = dict(meta, path=os.path.abspath(source.path))
    moves: list[tuple[Path, Path]] = []
    for field_name in ("rows", "rejects"):
        old_name = meta.get(field_name)
        if old_name is None:
            continue
        match = DATA_NAME.fullmatch(str(old_name))
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
    new_meta = meta_path(directory, key)
    text = json.dumps(renamed).encode()
    try:
        write_atomic(new_meta, lambda out: out.write(text))
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

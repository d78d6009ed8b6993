"""Eviction, so the cache does not grow forever: ``prune``, ``clear``, and the check every store ends with.

An entry whose source is gone, or can never match again (another inode, or shorter than what the entry
covers, or a compressed file of another size), or whose metadata is unreadable, is stale and removed. Then,
while the directory holds more than ``cache_max_bytes()`` (``AUDITVIEW_CACHE_MAX_BYTES``, default 2 GiB;
``0``/``off`` = no cap), the least recently used entries go first; last use is the metadata file's mtime, set
on every store and every hit. Entries used in the last ``_IN_USE_SECONDS`` are not evicted for size (some
process is likely reading them), so the cap may be exceeded briefly. Every store ends with a cheap check
(``after_store``: one directory listing, in the writer thread): over the cap it evicts; the full stale scan
(reading each entry's metadata, stat-ing its source) runs at most once per ``PRUNE_INTERVAL_SECONDS`` per
cache directory (``.last-prune`` stamp). Removal never breaks a reader: metadata goes first and only while
it is the one that was looked at, so a reader either misses or finds data files that vanish under it, which
is a miss too (``lookup`` and ``CacheEntry.read_all`` fall back to parsing); data files no metadata names
are left alone for ``STALE_SECONDS`` (a writer renames them in before its metadata).
Must not: write or read entries' data, or raise (a missing, unreadable or read-only cache reports errors).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from auditview.core.cache.layout import (
    DATA_NAME,
    META_NAME,
    STALE_SECONDS,
    TEMPORARY_NAME,
    cache_dir,
    meta_path,
    read_meta,
)
from auditview.core.cache.pending import wait_pending
from auditview.source.storage import LOCAL

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PRUNE_INTERVAL_SECONDS",
    "PruneReport",
    "Reason",
    "RemovedEntry",
    "after_store",
    "cache_max_bytes",
    "clear",
    "parse_size",
    "prune",
]

_LOG = logging.getLogger(__name__)
#: The cap on the cache directory's total size unless ``AUDITVIEW_CACHE_MAX_BYTES`` says otherwise. An entry
#: is about 18% of its log (1M records: 428 MB of log, ~75 MB of cache), so this holds ~25 such logs.
DEFAULT_MAX_BYTES: Final = 2 << 30
#: The full prune (stale entries and leftovers) runs at most this often after stores.
PRUNE_INTERVAL_SECONDS: Final = 3600
#: Entries used (hit or written) this recently are not evicted for size: a process is likely reading them.
_IN_USE_SECONDS: Final = 60
_STAMP: Final = ".last-prune"
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?")
_UNITS: Final = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_NO_CAP: Final = frozenset({"0", "off", "none", "no", "false", "unlimited"})

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


def after_store(directory: Path) -> None:
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
                    if match := META_NAME.fullmatch(entry.name):
                        groups.setdefault(match.group(1), _Group()).meta = info
                    elif match := DATA_NAME.fullmatch(entry.name):
                        groups.setdefault(match.group(1), _Group()).data[entry.name] = info
                    elif TEMPORARY_NAME.fullmatch(entry.name):
                        temporaries[entry.name] = info
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            _LOG.debug("auditview cache: cannot list %s: %s", self.directory, exc)
            self.errors += 1
            return None
        return groups, temporaries

    def _read_meta(self, key: str) -> dict[str, Any] | None:
        return read_meta(meta_path(self.directory, key))

    def _old(self, info: os.stat_result) -> bool:
        return self.now - info.st_mtime > STALE_SECONDS

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

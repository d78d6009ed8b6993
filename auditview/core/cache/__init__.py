"""The persistent index cache: the parsed rows and rejects of each source file, so a second look costs little.

Each source file has at most one entry: one Parquet file of rows, one of rejects, and a JSON metadata record,
keyed by a hash of the file's absolute path, in ``$XDG_CACHE_HOME/auditview/index/`` (default
``~/.cache/auditview/index/``). The cache never changes a result: anything doubtful is a miss, and a cache
that cannot be written is skipped silently. ``AUDITVIEW_CACHE=0`` (or ``cache=False``) turns it off.

The modules, each importing only those listed before it:

* ``layout``: the directory, the on/off switch, the file names, reading metadata, atomic writes;
* ``pending``: the writes in flight in this process (``wait_pending``);
* ``eviction``: ``prune``, ``clear``, the size cap (``cache_max_bytes``) and the check after each store;
* ``entries``: fingerprints, ``CacheEntry``, when an entry may be used (``lookup``), renamed files' entries;
* ``writing``: ``store`` (in a background thread, atomically).

Callers use this package's names (``cache.lookup``, ``cache.store``, ``cache.prune``...). It imports polars
lazily. Must not: parse lines, read sources beyond fingerprints, or import any UI library.
"""

from __future__ import annotations

from auditview.core.cache.entries import (
    FINGERPRINT_BYTES,
    CacheEntry,
    Fingerprint,
    cached_columns,
    fingerprint_data,
    lookup,
)
from auditview.core.cache.eviction import (
    DEFAULT_MAX_BYTES,
    PRUNE_INTERVAL_SECONDS,
    PruneReport,
    RemovedEntry,
    cache_max_bytes,
    clear,
    parse_size,
    prune,
)
from auditview.core.cache.layout import CACHE_VERSION, cache_dir, cache_enabled
from auditview.core.cache.pending import wait_pending
from auditview.core.cache.writing import store

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_MAX_BYTES",
    "FINGERPRINT_BYTES",
    "PRUNE_INTERVAL_SECONDS",
    "CacheEntry",
    "Fingerprint",
    "PruneReport",
    "RemovedEntry",
    "cache_dir",
    "cache_enabled",
    "cache_max_bytes",
    "cached_columns",
    "clear",
    "fingerprint_data",
    "lookup",
    "parse_size",
    "prune",
    "store",
    "wait_pending",
]

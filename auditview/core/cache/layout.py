"""The cache directory: where it is, whether it is on, how its files are named, read and written.

Owns: the directory (``$XDG_CACHE_HOME/auditview/index/``, default ``~/.cache/auditview/index/``), the switch
(``AUDITVIEW_CACHE=0``), the format version, the names of an entry's files (``<key>.json`` metadata, where
``key`` hashes the source's absolute path; ``<key>-<token>.rows.parquet`` and ``.rejects.parquet`` data;
``.<name>.<token>.tmp`` while written), reading an entry's metadata and writing any cache file atomically
(0600, renamed in). Every other module of the package builds on these.
Must not: decide whether an entry is usable, parse, import polars or any UI library.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Final

__all__ = [
    "CACHE_VERSION",
    "DATA_NAME",
    "META_NAME",
    "STALE_SECONDS",
    "TEMPORARY_NAME",
    "cache_dir",
    "cache_enabled",
    "entry_key",
    "meta_path",
    "read_meta",
    "write_atomic",
]

#: Bumped whenever the rows, rejects or metadata format (or the parser's output) changes.
CACHE_VERSION: Final = 4  # 4: the reader contract (records of any producer, derived and warnings columns)
#: Temporary cache files older than this are left over from a killed writer and removed.
STALE_SECONDS: Final = 3600
#: An entry's metadata file, by its key.
META_NAME: Final = re.compile(r"([0-9a-f]{40})\.json")
#: An entry's rows or rejects, by its key.
DATA_NAME: Final = re.compile(r"([0-9a-f]{40})-[0-9a-f]+\.(?:rows|rejects)\.parquet")
#: A file being written (``write_atomic``), or left over by a writer that was killed.
TEMPORARY_NAME: Final = re.compile(r"\..+\.tmp")


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


def entry_key(path: Path) -> str:
    """The key of the entry of the source at ``path``: a hash of its absolute path."""
    return hashlib.blake2b(os.fsencode(os.path.abspath(path)), digest_size=20).hexdigest()


def meta_path(directory: Path, key: str) -> Path:
    """The metadata file of the entry ``key``."""
    return directory / f"{key}.json"


def read_meta(path: Path) -> dict[str, Any] | None:
    """An entry's metadata, or ``None`` when it is gone, unreadable or not a JSON object."""
    try:
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def write_atomic(path: Path, write: Any) -> int:
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

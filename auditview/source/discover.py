"""Finding audit logs: named files, directories, globs, stdin, or every tool's log under the XDG roots.

Owns: turning the user's ``PATH...`` arguments into an ordered list of ``SourceFile`` — which files are audit
logs, which rotated siblings belong to which live log (``log_key``), their order (``generation``: oldest
sibling highest, live file 0) and their compression (by magic bytes, falling back to the suffix when the file
cannot be opened).

Accepted inputs:

* ``-``: standard input (``SourceFile(Path("-"), log_key="-")``), listed last;
* a file: always included, whatever its name (``foo.jsonl.1`` is grouped under ``foo.jsonl``);
* a directory: searched recursively for ``audit*.jsonl`` and their rotated siblings;
* a glob (``*``, ``?``, ``[``; ``**`` recurses): matched files as if named, matched directories as if named;
* nothing: every ``audit*.jsonl`` (+ siblings) directly inside ``<root>/<tool>/`` for each of
  ``default_roots()``.

Rotated siblings recognised (``.gz``, ``.zst`` or ``.zstd`` may follow each, and the contents decide):
``audit.jsonl.N`` (logrotate/writer counters, higher N older), ``audit.jsonl-YYYYMMDD[..]`` (logrotate
``dateext``), ``audit-<timestamp>.jsonl`` (e.g. ``audit-2026-11-20T09-00-00.jsonl``; a sibling of
``audit.jsonl``). Timestamped siblings are ordered by their stamp and count as older than counter siblings.
When a generation exists both plain and compressed (a compressor is still running), only the plain file is
listed.

Output order is deterministic: groups by ``log_key``, each oldest sibling first, stdin last; one file reached
twice (through a directory and a glob, or two names) is listed once.

Must not: read records, import polars or any UI library. ``SourceMissing`` is raised for a named input that
does not exist or cannot be read (the CLI maps it to exit 66); files found by scanning are listed even if
unreadable (the reader raises ``SourceMissing`` naming them).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from auditview.source.types import Compression, SourceFile

__all__ = [
    "STDIN",
    "SourceMissing",
    "classify_name",
    "default_roots",
    "detect_compression",
    "discover",
    "is_audit_log_name",
]

#: The ``SourceFile`` that stands for standard input.
STDIN: Final = SourceFile(path=Path("-"), log_key="-")

LIVE_PATTERN: Final = "audit*.jsonl"

_EXT = r"(?P<ext>\.gz|\.zst|\.zstd)?"
_COUNTER_RE: Final = re.compile(rf"^(?P<live>.+\.jsonl)\.(?P<n>\d{{1,6}}){_EXT}$")
_DATEEXT_RE: Final = re.compile(rf"^(?P<live>.+\.jsonl)[-.](?P<stamp>\d{{8}}(?:[-_T]?\d{{2,6}})?){_EXT}$")
_STAMPED_RE: Final = re.compile(
    r"^(?P<stem>.+?)-(?P<stamp>\d{4}-?\d{2}-?\d{2}(?:[T_]?\d{2}[-:]?\d{2}(?:[-:]?\d{2}(?:[.,]\d+)?)?)?Z?)"
    rf"\.jsonl{_EXT}$"
)
_GLOB_CHARS: Final = frozenset("*?[")
_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"


class SourceMissing(OSError):  # noqa: N818 - the name is part of the shared API
    """A named input is missing or unreadable; the message names the path (the CLI maps it to exit 66)."""


@dataclass(frozen=True, slots=True)
class NameClass:
    """What a file name says about its place in a log: ``rank`` orders siblings, older first."""

    live_name: str
    rank: tuple[int, str, int]
    rotated: bool
    compressed_suffix: bool


def default_roots() -> list[Path]:
    """``$XDG_DATA_HOME`` (default ``~/.local/share``), ``$XDG_STATE_HOME`` (default ``~/.local/state``)."""
    roots: list[Path] = []
    for variable, fallback in (("XDG_DATA_HOME", ".local/share"), ("XDG_STATE_HOME", ".local/state")):
        value = os.environ.get(variable, "")
        # The XDG spec says relative values are invalid and must be ignored.
        root = Path(value) if value and os.path.isabs(value) else Path.home() / fallback
        if root not in roots:
            roots.append(root)
    return roots


def classify_name(name: str) -> NameClass:
    """Tell from a file name which live log it belongs to and where it sorts among that log's siblings."""
    match = _COUNTER_RE.match(name)
    if match:
        n = int(match["n"])
        return NameClass(match["live"], (1, "", -n), True, match["ext"] is not None)
    match = _DATEEXT_RE.match(name)
    if match:
        return NameClass(match["live"], (0, _digits(match["stamp"]), 0), True, match["ext"] is not None)
    match = _STAMPED_RE.match(name)
    if match:
        live = f"{match['stem']}.jsonl"
        return NameClass(live, (0, _digits(match["stamp"]), 0), True, match["ext"] is not None)
    return NameClass(name, (2, "", 0), False, False)


def is_audit_log_name(name: str) -> bool:
    """True for ``audit*.jsonl`` and the rotated siblings of such a file."""
    return fnmatch.fnmatchcase(classify_name(name).live_name, LIVE_PATTERN)


def detect_compression(path: Path) -> Compression:
    """The compression of a file by its first bytes; by its suffix when it cannot be opened."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return suffix_compression(path)
    return magic_compression(head)


def suffix_compression(path: Path) -> Compression:
    """The compression that a file name's suffix suggests."""
    suffix = path.suffix
    return "gzip" if suffix == ".gz" else "zstd" if suffix in (".zst", ".zstd") else "none"


def magic_compression(head: bytes) -> Compression:
    """The compression that the first (up to 4) bytes of a stream announce."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return "none"


def discover(paths: Sequence[str]) -> list[SourceFile]:
    """The ``SourceFile``s for ``paths`` (see the module docstring); raises ``SourceMissing``."""
    return find_sources(paths, strict=True)


def find_sources(paths: Sequence[str], *, strict: bool, sniff: bool = True) -> list[SourceFile]:
    """``discover()``; with ``strict=False`` missing inputs are skipped, not raised (used while following).

    ``sniff=False`` takes the compression from the suffix instead of opening each file (the follower sniffs
    only the files it has not seen before).
    """
    found: list[Path] = []
    stdin = False
    if not paths:
        for root in default_roots():
            found.extend(_scan_default_root(root))
    for arg in paths:
        if arg == "-":
            stdin = True
            continue
        found.extend(_expand(arg, strict=strict))
    sources = _group(_unique(found), sniff=sniff)
    if stdin:
        sources.append(STDIN)
    return sources


def _expand(arg: str, *, strict: bool) -> list[Path]:
    text = os.path.expanduser(arg)
    path = Path(text)
    if os.path.lexists(text) or not _GLOB_CHARS.intersection(text):
        return _expand_existing(path, strict=strict)
    matches = sorted(glob.glob(text, recursive=True))
    if not matches:
        if strict:
            raise SourceMissing(f"{arg}: no file matches this pattern")
        return []
    out: list[Path] = []
    for match in matches:
        out.extend(_expand_existing(Path(match), strict=False))
    return out


def _expand_existing(path: Path, *, strict: bool) -> list[Path]:
    try:
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise SourceMissing(f"{path}: directory is not readable")
            return _scan_dir(path)
        if not path.exists():
            raise SourceMissing(f"{path}: no such file or directory")
        if not os.access(path, os.R_OK):
            raise SourceMissing(f"{path}: permission denied")
    except SourceMissing:
        if strict:
            raise
        return []
    return [path]


def _scan_dir(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        out.extend(base / name for name in sorted(filenames) if is_audit_log_name(name))
    return out


def _scan_default_root(root: Path) -> list[Path]:
    out: list[Path] = []
    try:
        tools = [entry for entry in os.scandir(root) if entry.is_dir()]
    except OSError:
        return out
    for tool in sorted(tools, key=lambda entry: entry.name):
        try:
            names = sorted(entry.name for entry in os.scandir(tool.path) if entry.is_file())
        except OSError:
            continue
        out.extend(Path(tool.path) / name for name in names if is_audit_log_name(name))
    return out


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: set[tuple[int, int] | str] = set()
    out: list[Path] = []
    for path in paths:
        key: tuple[int, int] | str
        try:
            stat = path.stat()
            key = (stat.st_dev, stat.st_ino)
        except OSError:
            key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _group(paths: Iterable[Path], *, sniff: bool) -> list[SourceFile]:
    groups: dict[str, dict[tuple[int, str, int], tuple[Path, NameClass]]] = {}
    for path in paths:
        name_class = classify_name(path.name)
        log_key = str(path.parent / name_class.live_name)
        members = groups.setdefault(log_key, {})
        previous = members.get(name_class.rank)
        # Same generation plain and compressed: a compressor is still running; the plain file is complete.
        if previous is None or (previous[1].compressed_suffix and not name_class.compressed_suffix):
            members[name_class.rank] = (path, name_class)
    sources: list[SourceFile] = []
    for log_key in sorted(groups):
        ordered = sorted(groups[log_key].items())
        rotated_count = sum(1 for _, (_, name_class) in ordered if name_class.rotated)
        generation = rotated_count
        for _, (path, name_class) in ordered:
            gen = generation if name_class.rotated else 0
            if name_class.rotated:
                generation -= 1
            compression = detect_compression(path) if sniff else suffix_compression(path)
            sources.append(SourceFile(path, log_key, gen, compression))
    return sources


def _digits(stamp: str) -> str:
    return "".join(ch for ch in stamp if ch.isdigit()).ljust(20, "0")

"""Finding audit logs: named files, directories, globs, stdin, or every tool's log under the XDG roots.

Owns: turning the user's ``PATH...`` arguments into an ordered list of ``SourceFile`` — which files are audit
logs, which rotated siblings belong to which live log (``log_key``), their order (``generation``: oldest
sibling highest, live file 0) and their compression (by magic bytes, falling back to the suffix when the file
cannot be opened).

Accepted inputs:

* ``-``: standard input (``SourceFile(Path("-"), log_key="-")``), listed last;
* a file: always included, whatever its name (``foo.jsonl.1`` is grouped under ``foo.jsonl``);
* a pipe or named FIFO (``<(cmd)`` gives ``/dev/fd/63``; ``/dev/stdin`` on a pipe): included as a *stream*
  (``SourceFile.stream``) without being opened here — a pipe's bytes can be read only once, and closing a FIFO
  would end its writer — so its compression is left to the reader, which tells it from the bytes it reads;
* a character or block device (``/dev/zero``, ``/dev/tty``, a disk): refused with ``SourceMissing`` (it may
  never end; a pipe in disguise such as ``/dev/stdin`` on a pipe is a FIFO, not a device);
* a directory: searched recursively for regular files named ``audit*.jsonl`` and their rotated siblings (FIFOs
  and devices in it are skipped); with ``require_logs=True`` a named directory in which none is found raises
  ``NoAuditLogs``, naming the files there that look like JSON lines (``json_lines_candidates()``);
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

Must not: read records, import polars or any UI library, or open a stream (only regular files are sniffed).
``SourceMissing`` is raised for a named input that does not exist, cannot be read or is a device (the CLI maps
it to exit 66); files found by scanning are listed even if unreadable (the reader raises ``SourceMissing``
naming them).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from auditview.source.types import Compression, SourceFile

__all__ = [
    "STDIN",
    "NoAuditLogs",
    "SourceMissing",
    "classify_name",
    "default_roots",
    "detect_compression",
    "discover",
    "is_audit_log_name",
    "json_lines_candidates",
    "log_sources",
    "rotated_siblings",
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
#: Names (once a rotation counter and a compression suffix are taken off) that may hold JSON lines.
_JSON_LINES_SUFFIXES: Final = (".jsonl", ".ndjson", ".log")
_ROTATION_TAIL_RE: Final = re.compile(r"(?:[-.]\d+)?(?:\.gz|\.zst|\.zstd)?$")
#: How many files ``json_lines_candidates`` looks into, and how many bytes of each.
_CANDIDATES_LOOKED_AT: Final = 200
_CANDIDATE_HEAD_BYTES: Final = 64 << 10


class SourceMissing(OSError):  # noqa: N818 - the name is part of the shared API
    """A named input is missing or unreadable; the message names the path (the CLI maps it to exit 66)."""


class NoAuditLogs(SourceMissing):
    """A named directory holds no audit log (``discover(require_logs=True)``).

    ``directory``: the one named; ``candidates``: files under it that look like JSON lines but are not named
    like audit logs (``json_lines_candidates``) — name one to read it.
    """

    def __init__(self, directory: Path, candidates: Sequence[Path]) -> None:
        self.directory = directory
        self.candidates = list(candidates)
        looked = "looked for audit*.jsonl and their rotated siblings"
        if self.candidates:
            shown = ", ".join(str(path) for path in self.candidates[:10])
            more = f" and {len(self.candidates) - 10} more" if len(self.candidates) > 10 else ""
            found = f"files that look like JSON lines: {shown}{more} — name a file to read it"
        else:
            found = "no other file there looks like JSON lines either"
        super().__init__(f"no audit logs under {directory} ({looked}); {found}")


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
    """The compression of a regular file by its first 4 bytes; by its suffix when it cannot be opened.

    Anything else (a pipe, a FIFO, a device) is not opened at all: a peek would swallow a pipe's bytes and
    closing a FIFO ends its writer. The reader tells a stream's compression from the bytes it reads once.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return suffix_compression(path)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return suffix_compression(path)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the stat
            return suffix_compression(path)
        head = os.pread(fd, 4, 0)
    except OSError:
        return suffix_compression(path)
    finally:
        os.close(fd)
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


def discover(paths: Sequence[str], *, require_logs: bool = False) -> list[SourceFile]:
    """The ``SourceFile``s for ``paths`` (see the module docstring); raises ``SourceMissing``.

    ``require_logs``: a named directory (or a glob that matched only directories) in which no audit log is
    found raises ``NoAuditLogs`` instead of contributing nothing (one-shot commands; a follower waits for
    logs to appear instead).
    """
    return find_sources(paths, strict=True, require_logs=require_logs)


def find_sources(
    paths: Sequence[str], *, strict: bool, sniff: bool = True, require_logs: bool = False
) -> list[SourceFile]:
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
        found.extend(_expand(arg, strict=strict, require_logs=require_logs))
    unique, streams = _unique(found)
    sources = _group(unique, sniff=sniff, streams=streams)
    if stdin:
        sources.append(STDIN)
    return sources


def rotated_siblings(live: Path) -> list[Path]:
    """The rotated siblings of the live file ``live`` in its directory (``audit.jsonl.1``, ``.2.gz``,
    ``-20261120``...: every name ``classify_name`` files under it), in directory order; none if unlistable."""
    try:
        names = os.listdir(live.parent)
    except OSError:
        return []
    found: list[Path] = []
    for name in names:
        if name == live.name:
            continue
        name_class = classify_name(name)
        if name_class.rotated and name_class.live_name == live.name:
            found.append(live.parent / name)
    return found


def log_sources(live: Path) -> list[SourceFile]:
    """One log: ``live`` (when it exists) and its ``rotated_siblings``, ordered and sniffed like
    ``discover()`` lists them. Nothing is refused here: the reader names what it cannot read."""
    paths = rotated_siblings(live)
    if os.path.lexists(live):
        paths.append(live)
    unique, streams = _unique(paths)
    return _group(unique, sniff=True, streams=streams)


def json_lines_candidates(root: Path) -> list[Path]:
    """Files under ``root`` that look like JSON lines but are not named like audit logs: named ``*.jsonl``,
    ``*.ndjson`` or ``*.log`` (optionally rotated and compressed), regular, and — when not compressed — whose
    first non-blank line starts with ``{``. Looks into at most 200 files; sorted like a directory scan."""
    out: list[Path] = []
    looked = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if is_audit_log_name(name) or not _ROTATION_TAIL_RE.sub("", name).endswith(_JSON_LINES_SUFFIXES):
                continue
            if looked >= _CANDIDATES_LOOKED_AT:
                return out
            looked += 1
            path = Path(dirpath) / name
            if _looks_like_json_lines(path):
                out.append(path)
    return out


def _looks_like_json_lines(path: Path) -> bool:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as handle:
            head = handle.read(_CANDIDATE_HEAD_BYTES)
    except OSError:
        return False
    if magic_compression(head) != "none":
        return True  # named like JSON lines and compressed: say so rather than decompress here
    for line in head.splitlines():
        text = line.strip().removeprefix(b"\xef\xbb\xbf")
        if text:
            return text.startswith(b"{")
    return False


def _expand(arg: str, *, strict: bool, require_logs: bool = False) -> list[Path]:
    text = os.path.expanduser(arg)
    path = Path(text)
    if os.path.lexists(text) or not _GLOB_CHARS.intersection(text):
        found = _expand_existing(path, strict=strict)
        if require_logs and not found and path.is_dir():
            raise NoAuditLogs(path, json_lines_candidates(path))
        return found
    matches = sorted(glob.glob(text, recursive=True))
    if not matches:
        if strict:
            raise SourceMissing(f"{arg}: no file matches this pattern")
        return []
    out: list[Path] = []
    for match in matches:
        out.extend(_expand_existing(Path(match), strict=False))
    if require_logs and not out and all(os.path.isdir(match) for match in matches):
        raise NoAuditLogs(Path(arg), [c for match in matches for c in json_lines_candidates(Path(match))])
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
        _refuse_devices(path)
    except SourceMissing:
        if strict:
            raise
        return []
    return [path]


def _refuse_devices(path: Path) -> None:
    """A device may never end (``/dev/zero``) or wait for a person (``/dev/tty``): refuse it by name."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # the reader names it
    kind = (
        "a character device"
        if stat.S_ISCHR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else None
    )
    if kind is not None:
        raise SourceMissing(
            f"{path}: is {kind}, not a log (auditview reads regular files, pipes and FIFOs; for a terminal"
            " use '-')"
        )


def _scan_dir(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        out.extend(
            base / name for name in sorted(filenames) if is_audit_log_name(name) and _scannable(base / name)
        )
    return out


def _scannable(path: Path) -> bool:
    """False for a FIFO, device or socket met by a directory scan (never opened: it could block or never
    end); an unreadable or vanished entry stays listed, and the reader names it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


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


def _unique(paths: Iterable[Path]) -> tuple[list[Path], set[Path]]:
    """``paths`` without a second name for one file, and which of them are streams (a FIFO, a pipe)."""
    seen: set[tuple[int, int] | str] = set()
    out: list[Path] = []
    streams: set[Path] = set()
    for path in paths:
        key: tuple[int, int] | str
        fifo = False
        try:
            info = path.stat()
            key = (info.st_dev, info.st_ino)
            fifo = stat.S_ISFIFO(info.st_mode)
        except OSError:
            key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
            if fifo:
                streams.add(path)
    return out, streams


def _group(paths: Iterable[Path], *, sniff: bool, streams: set[Path]) -> list[SourceFile]:
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
            if path in streams:  # never opened here: see the module docstring
                sources.append(SourceFile(path, log_key, gen, "none", stream=True))
                continue
            compression = detect_compression(path) if sniff else suffix_compression(path)
            sources.append(SourceFile(path, log_key, gen, compression))
    return sources


def _digits(stamp: str) -> str:
    return "".join(ch for ch in stamp if ch.isdigit()).ljust(20, "0")

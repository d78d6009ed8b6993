"""Following audit logs as they grow, across appends, truncation, rename rotation and copytruncate.

Owns ``Follower``:

* ``Follower(paths, *, poll_interval=0.1, rotated_grace=10.0, poll_bytes=64 MiB, use_inotify=True,
  read_siblings=False, missing_ok=False)``: the inputs as for ``discover()`` (files, directories, globs,
  ``-``; none = every tool under the XDG roots). A named file or directory that does not exist raises
  ``SourceMissing`` (unless ``missing_ok``: it is followed once it appears); a glob may match nothing yet.
* A live file named directly (``audit.jsonl``, not a directory or glob) has its rotated siblings in its
  directory watched like a directory's, so that what follows a rotation (a generation rotated away unseen
  between two polls, copytruncate's copy) is found. Siblings there at the start are not read (the input is
  the file named), unless ``read_siblings`` (the writer's ``audit-log -f``: this log and its rotated
  siblings) or a position is given for them.
* ``positions``: ``{(st_dev, st_ino): (offset, next line number)}`` — where ``initial()`` starts reading each
  file instead of its beginning, for files an index already holds up to that offset (the app loads big logs
  with ``AuditIndex.load`` first, then follows from where the load stopped). Used only for that inode and
  only when the file is not shorter than the offset (a shrunk file is read from 0); a compressed rotated
  sibling with a position is not read at all (it cannot grow). The file's first bytes are still remembered
  for copy detection; the truncation check by content starts once new bytes were read (a shrink is always
  seen).
* ``initial()``: yields every complete line there now as ``Chunk``s (oldest rotated sibling first); the events
  it produces (rejects) wait for the next ``poll()``. A rotated sibling read whole there whose last line has
  no ``\n`` reports that line as ``LineRejected`` (nobody will complete it).
* ``auditview.source.tail.tail()``: the loop every consumer runs over ``initial()``, ``poll()`` and
  ``wait()``.
* ``poll()``: ``Chunk``s and ``SourceEvent``s (see ``events.py``) since the last call, in the order they
  happened; reads at most about ``poll_bytes`` per file per call (``wait()`` then returns at once).
* ``wait(timeout)``: blocks until something may have changed: inotify (ctypes) on the directories involved,
  capped at 0.2 s as a safety net; plain ``poll_interval`` sleeps without inotify. ``close()`` from another
  thread wakes it at once.
* ``close()``; ``partial_lines()`` (lines still being written, for an "incomplete" count); ``following``.

How files are tracked: by ``(st_dev, st_ino)``, with the file descriptor kept open (read-only, no locks, so a
writer is never held back) while the file is live and for ``rotated_grace`` seconds of quiet after it is
rotated away; keeping it open also stops the inode number from being reused meanwhile.

* Append: read from the remembered offset; a trailing partial line is held until its ``\\n`` arrives.
* Truncation (size below the offset read, or the bytes just before that offset changed — a truncate followed
  by new writes): ``FileTruncated``, then the file is read again from offset 0, line 1.
* Rename rotation (the path now names another inode): ``FileRotated(source, moved_to)``; the rest of the old
  inode is read through the still-open descriptor (also what a writer adds to it after the rename, during the
  grace period), then the new file is followed from its start (``FileAppeared``). Nothing is missed or read
  twice, and a half-written line is completed from the old inode. A new rotated sibling (``audit.jsonl.1``,
  ``.2.gz``...) of a log already being followed whose first 256 bytes (decompressed) match the start of a file
  already read is a copy (copytruncate) or a compressed copy and is not read; one that matches nothing is a
  generation never seen live (the writer rotated twice between two polls) and is read from 0. When a copy
  replaces a file that was read (``audit.jsonl.1`` compressed into ``audit.jsonl.1.gz``), ``FileRotated``
  says so.
* Several rotations between two polls: the inode we hold is found under its new name (``.2``), drained, and
  the generation in between is read as above. Siblings are checked by inode when they are read (a name found
  by a scan may name another file a moment later, while a rotation shifts ``.1`` to ``.2``): one renamed
  since is decided next round under its new name.
* Copytruncate (the live file copied to ``audit.jsonl.1``, then truncated in place): when the truncation is
  seen, the follower looks for the copy among the new siblings of that log (listing the directory again for
  one the round's scan missed), recognises it by the 256 bytes just before the offset already read, and
  reads the copy from that offset on — recovering lines appended between the last poll and the copy — then
  reads the truncated file from 0 (``FileTruncated.copied_to``). A new sibling that starts like a live file
  found in the same round and not read yet is taken for its copy only until that file was read (it may have
  been truncated meanwhile: then the sibling holds lines seen nowhere else and is read).
* A file no longer read (rotated and quiet, or a copy) that changes was rewritten in place (``cp
  audit.jsonl audit.jsonl.1`` over an existing ``.1``): it is forgotten and looked at again as a new sibling.
  A rotated file still being drained that is truncated or rewritten with a copy of a file read
  (``FileTruncated``) is no longer read: it is a copy now (and a candidate for that file's copytruncate).
* New files in a followed directory, glob or XDG root are picked up (``FileAppeared``) and read from 0.
* stdin (``-``): read as a stream without blocking; ``StreamEnded`` at its end.
* A partial line that can never be completed (its file truncated or rotated away for good, or stdin ended) is
  reported as ``LineRejected`` rather than dropped.

Limits (nothing can do better from outside the writer):

* Copytruncate: lines appended after the copy was taken and before the truncation exist in neither file and
  are lost. If the bytes before our offset cannot be matched in the copy (e.g. an over-long line was last),
  nothing is recovered from it and lines appended between our last poll and the copy are missed.
* A truncation followed, within one poll interval, by rewrites that end with exactly the same 256 bytes at the
  same offset is taken for an append (the fingerprint cannot tell them apart).
* A truncate-and-regrow between ``poll()``'s size check and its read (microseconds) is not detected.
* A new sibling that starts with exactly the same bytes as a file already read is taken for a copy of it
  (records carry unique ids and timestamps near their start, so this takes a byte-identical first line).
* Compressed files are read as they are found; a ``.gz`` still being written by a compressor for a log seen
  for the first time is read only as far as it got.

Must not: parse records, import polars or any UI library, take locks on the logs, or write to them.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from auditview.source.discover import (
    STDIN,
    SourceMissing,
    classify_name,
    default_roots,
    detect_compression,
    find_sources,
    magic_compression,
    rotated_siblings,
)
from auditview.source.events import (
    FileAppeared,
    FileRotated,
    FileTruncated,
    FileUnreadable,
    FileVanished,
    LineRejected,
    SourceEvent,
    StreamEnded,
)
from auditview.source.read import DEFAULT_CHUNK_BYTES, FileReader, read_span
from auditview.source.types import Chunk, PartialLine, Reject, SourceFile
from auditview.source.watch import ChangeNotifier

__all__ = [
    "FileAppeared",
    "FileRotated",
    "FileTruncated",
    "FileUnreadable",
    "FileVanished",
    "Follower",
    "LineRejected",
    "SourceEvent",
    "StreamEnded",
]

#: With inotify, ``wait()`` still returns after this long so that changes it cannot see are found anyway.
SAFETY_RESCAN_SECONDS: Final = 0.2
DEFAULT_POLL_BYTES: Final = 64 << 20
#: How many leading bytes of each file read are remembered to recognise copies of it.
HEAD_BYTES: Final = 256
_HEADS_KEPT: Final = 64
_GLOB_CHARS: Final = frozenset("*?[")

Identity = tuple[int, int]
Item = Chunk | SourceEvent


@dataclass(slots=True)
class _Entry:
    """One inode the follower knows: followed (``reader`` open) or remembered (closed)."""

    identity: Identity
    source: SourceFile
    live: bool
    read: bool
    reader: FileReader | None
    size: int
    mtime_ns: int
    ctime_ns: int
    changed_at: float
    unlinked: bool = False
    unreadable: bool = False
    head: bytes = b""  # the first HEAD_BYTES of the file as read (since its last truncation)
    #: Taken for a copy of a live file not read yet (it starts like it): decided again next round, once that
    #: file was read (it may have been truncated meanwhile: then this holds lines seen nowhere else).
    provisional: bool = False
    #: A sibling of a file named directly, there when following started: not an input, never read.
    watched_only: bool = False


class Follower:
    """Follows a set of inputs (files, dirs, globs, or none = defaults): new complete lines within 250 ms."""

    def __init__(
        self,
        paths: Sequence[str],
        *,
        poll_interval: float = 0.1,
        rotated_grace: float = 10.0,
        poll_bytes: int = DEFAULT_POLL_BYTES,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        use_inotify: bool = True,
        positions: Mapping[Identity, tuple[int, int]] | None = None,
        read_siblings: bool = False,
        missing_ok: bool = False,
    ) -> None:
        self._positions: dict[Identity, tuple[int, int]] = dict(positions or {})
        #: Standard input and named pipes (``<(cmd)``, a FIFO): read once as streams, never scanned again.
        stream_paths = [p for p in paths if p != "-" and _is_stream(p)]
        self._paths = [p for p in paths if p != "-" and p not in stream_paths]
        for arg in self._paths:
            text = os.path.expanduser(arg)
            if not missing_ok and not _GLOB_CHARS.intersection(text) and not os.path.exists(text):
                raise SourceMissing(f"{arg}: no such file or directory")
        #: Files named directly (no glob) whose names are live names: their rotated siblings are watched.
        self._named_live = [
            Path(os.path.expanduser(arg))
            for arg in self._paths
            if not _GLOB_CHARS.intersection(os.path.expanduser(arg))
            and not classify_name(os.path.basename(os.path.expanduser(arg))).rotated
        ]
        self._read_siblings = read_siblings
        self._siblings: set[Path] = set()  # the siblings found for ``_named_live`` by the last scan
        self._scan_files = bool(self._paths) or not paths
        self.poll_interval = poll_interval
        self.rotated_grace = rotated_grace
        self.poll_bytes = poll_bytes
        self.chunk_bytes = chunk_bytes
        self._files: dict[Identity, _Entry] = {}
        self._logs: set[str] = set()
        self._heads: dict[str, deque[bytes]] = {}
        self._queue: list[Item] = []
        self._streams = [FileReader(STDIN, chunk_bytes=chunk_bytes)] if "-" in paths else []
        self._streams += [
            FileReader(SourceFile(Path(p), p, stream=True), chunk_bytes=chunk_bytes) for p in stream_paths
        ]
        self._streams_ended: set[int] = set()
        self._notifier = ChangeNotifier(use_inotify=use_inotify)
        self._lock = threading.RLock()
        self._closed = False
        self._backlog = False
        self._limit: int | None = poll_bytes

    # -- public API ----------------------------------------------------------------------------------------
    @property
    def uses_inotify(self) -> bool:
        """True when ``wait()`` is woken by inotify rather than by its polling interval alone."""
        return self._notifier.uses_inotify

    @property
    def following(self) -> list[SourceFile]:
        """The files currently open and followed."""
        with self._lock:
            return [e.source for e in self._ordered() if e.reader is not None]

    @property
    def files_read(self) -> list[SourceFile]:
        """Every file read so far that is still there (followed or finished), under its current name."""
        with self._lock:
            return [e.source for e in self._ordered() if e.read and not e.unlinked]

    @property
    def streams(self) -> list[SourceFile]:
        """The streams read (standard input, named pipes), ended or not."""
        return [reader.source for reader in self._streams]

    def partial_lines(self) -> list[PartialLine]:
        """Trailing lines still being written (not records, not rejects yet)."""
        with self._lock:
            readers = [e.reader for e in self._ordered() if e.reader is not None]
            readers += self._streams
            return [p for p in (r.partial() for r in readers) if p is not None]

    def initial(self) -> Iterator[Chunk]:
        """Everything there now, oldest rotated sibling first; afterwards new lines come from ``poll()``."""
        with self._lock:
            for item in self._cycle(initial=True):
                if isinstance(item, Chunk):
                    yield item
                else:
                    self._queue.append(item)

    def poll(self) -> list[Chunk | SourceEvent]:
        """What is new since the last call (chunks and events, in order); never blocks for long."""
        with self._lock:
            if self._closed:
                return []
            out, self._queue = self._queue, []
            out.extend(self._cycle(initial=False))
            return out

    def wait(self, timeout: float) -> None:
        """Block until something may have changed, ``timeout`` passes, or ``close()`` is called."""
        if self._closed or self._backlog or self._queue:
            return
        cap = (
            max(self.poll_interval, SAFETY_RESCAN_SECONDS)
            if self._notifier.uses_inotify
            else self.poll_interval
        )
        extra = [0] if any(r.source is STDIN for r in self._open_streams()) else []
        self._notifier.wait(min(timeout, cap), extra)

    def close(self) -> None:
        """Stop following: wake a waiting thread and close every descriptor (stdin stays open)."""
        self._closed = True
        self._notifier.close()
        with self._lock:
            for entry in self._files.values():
                if entry.reader is not None:
                    entry.reader.close()
                    entry.reader = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- one round -----------------------------------------------------------------------------------------
    def _cycle(self, *, initial: bool) -> Iterator[Item]:
        now = time.monotonic()
        self._backlog = False
        self._limit = None if initial else self.poll_bytes  # initial() reads everything there
        # Sizes first, then the directory scan: a copy that copytruncate made before a truncation we see is
        # then always in the scan.
        sizes: dict[Identity, os.stat_result] = {}
        for entry in self._files.values():
            if entry.reader is not None:
                with contextlib.suppress(OSError):
                    sizes[entry.identity] = os.fstat(entry.reader.fd)
        located = self._scan() if self._scan_files else {}
        for entry in list(self._files.values()):
            if entry.provisional and not entry.read:
                del self._files[entry.identity]  # looked at again below, against what was read since
        for entry in self._ordered():
            yield from self._reconcile(entry, located, now)
        new_live = self._new_live_heads(located)
        for identity, (source, info) in located.items():
            if identity in self._files or source.log_key not in self._logs or source.generation == 0:
                continue
            head = _head(source, identity)
            if head is None:
                continue  # renamed since the scan: decided next round, under its new name
            if self._is_copy(source.log_key, head):
                # A new sibling of a log already followed that starts like a file already read: a copy
                # (copytruncate) or a compressed copy. Registered before reading, so that a copytruncate
                # seen in this round finds its copy.
                self._files[identity] = _known(identity, source, info, now)
            elif any(_same_start(head, live) for live in new_live.get(source.log_key, ())):
                entry = self._files[identity] = _known(identity, source, info, now)
                entry.provisional = True
            # Otherwise it is a generation never seen live (rotated twice between polls): read as new.
        for entry in self._ordered():
            if self._closed:
                return
            if entry.reader is not None:
                yield from self._advance(entry, sizes.get(entry.identity), located, now)
        for identity, (source, info) in located.items():
            if self._closed:
                return
            if identity not in self._files or self._retry_unreadable(self._files[identity], info):
                if initial and self._watched_only(identity, source):
                    # A sibling of a file named directly, there before we started: not an input, but known,
                    # so that it is neither taken for a new generation nor for a copy later.
                    entry = self._files[identity] = _known(identity, source, info, now)
                    entry.watched_only = True
                    continue
                yield from self._admit(identity, source, info, initial=initial, now=now)
        for reader in self._open_streams():
            yield from self._advance_stream(reader)

    def _watched_only(self, identity: Identity, source: SourceFile) -> bool:
        """True for a rotated sibling found only because a live file was named: watched, but not read."""
        return not self._read_siblings and source.path in self._siblings and identity not in self._positions

    def _new_live_heads(
        self, located: dict[Identity, tuple[SourceFile, os.stat_result]]
    ) -> dict[str, list[bytes]]:
        """The first bytes of each live file found this round and not read yet, by log: a new sibling that
        starts like one is taken for its copy (copytruncate before the live file was ever read), provisionally
        (``_Entry.provisional``)."""
        heads: dict[str, list[bytes]] = {}
        for identity, (source, _) in located.items():
            if source.generation == 0 and identity not in self._files and source.log_key in self._logs:
                head = _head(source, identity)
                if head:
                    heads.setdefault(source.log_key, []).append(head)
        return heads

    def _is_copy(self, log_key: str, head: bytes) -> bool:
        """True when a file of ``log_key`` that begins with ``head`` begins with the same bytes as a file (or
        truncation epoch) already read; also for an empty (or unreadable) one: never guess that it holds new
        lines (a file not read is looked at again when it changes)."""
        if not head:
            return True
        heads = list(self._heads.get(log_key, ()))
        heads += [e.head for e in self._files.values() if e.read and e.source.log_key == log_key]
        return any(_same_start(head, known) for known in heads)

    def _remember_head(self, entry: _Entry) -> None:
        if entry.head:
            self._heads.setdefault(entry.source.log_key, deque(maxlen=_HEADS_KEPT)).append(entry.head)

    def _ordered(self) -> list[_Entry]:
        return sorted(self._files.values(), key=lambda e: (e.source.log_key, e.live, -e.source.generation))

    def _scan(self) -> dict[Identity, tuple[SourceFile, os.stat_result]]:
        located: dict[Identity, tuple[SourceFile, os.stat_result]] = {}
        watch_dirs: set[str] = set()
        siblings = self._sibling_paths()
        self._siblings = set(siblings)
        for source in find_sources([*self._paths, *map(str, siblings)], strict=False, sniff=False):
            try:
                info = os.stat(source.path)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            located.setdefault((info.st_dev, info.st_ino), (source, info))
            watch_dirs.add(str(source.path.parent))
        watch_dirs.update(self._input_dirs())
        self._notifier.watch(sorted(watch_dirs))
        return located

    def _sibling_paths(self) -> list[Path]:
        """The rotated siblings (``audit.jsonl.1``, ``.2.gz``, ``-20261120``...) of each live file named."""
        return [path for live in self._named_live if not live.is_dir() for path in rotated_siblings(live)]

    def _input_dirs(self) -> list[str]:
        dirs = [str(live.parent) for live in self._named_live if live.parent.is_dir() and not live.is_dir()]
        if not self._paths:
            for root in default_roots():
                dirs.append(str(root))
                with contextlib.suppress(OSError):
                    dirs.extend(e.path for e in os.scandir(root) if e.is_dir())
        for arg in self._paths:
            text = os.path.expanduser(arg)
            if _GLOB_CHARS.intersection(text):
                static = text[: min(text.find(c) for c in _GLOB_CHARS if c in text)]
                text = os.path.dirname(static) or "."
                dirs.extend(
                    m for m in glob.glob(os.path.dirname(os.path.expanduser(arg))) if os.path.isdir(m)
                )
            if os.path.isdir(text):
                dirs.append(text)
        return dirs

    # -- known inodes: where are they now? --------------------------------------------------------------
    def _reconcile(
        self, entry: _Entry, located: dict[Identity, tuple[SourceFile, os.stat_result]], now: float
    ) -> Iterator[Item]:
        found = located.get(entry.identity)
        if found is None and entry.reader is not None and not entry.unlinked:
            renamed = self._find_renamed(entry)
            if renamed is not None:
                found = (renamed, os.fstat(entry.reader.fd))
        if found is None:
            if entry.reader is not None:  # still open: keep draining it through the descriptor
                if not entry.unlinked:
                    yield from self._moved(entry, None, now)
                return
            del self._files[entry.identity]
            self._remember_head(entry)
            if entry.read:
                successor = self._compressed_successor(entry, located)
                yield FileRotated(entry.source, successor) if successor else FileVanished(entry.source)
            return
        source, info = found
        changed = (info.st_size, info.st_mtime_ns) != (entry.size, entry.mtime_ns)
        if entry.reader is None and (
            (source.generation == 0 and not entry.live)
            or info.st_size < entry.size
            or (changed and not entry.unreadable and not entry.watched_only)
        ):
            # A file no longer read (rotated, or a copy) never becomes the live file again and never
            # changes: its inode number was reused by a new file after the one we knew was deleted, or it was
            # rewritten in place (``cp audit.jsonl audit.jsonl.1`` over an existing ``.1``). Forgotten here,
            # it is looked at below as any new sibling: a copy of a file read, or a generation never seen.
            del self._files[entry.identity]
            self._remember_head(entry)
            if entry.read:
                yield FileVanished(entry.source)
            return
        if source.path != entry.source.path:
            yield from self._moved(entry, source, now)

    def _moved(self, entry: _Entry, source: SourceFile | None, now: float) -> Iterator[Item]:
        old = entry.source
        if source is None:
            # Unlinked: name it like /proc does, so that it is never confused with the new file at its path.
            entry.unlinked = True
            source = SourceFile(
                Path(f"{old.path} (deleted)"), old.log_key, max(old.generation, 1), old.compression
            )
        else:
            source = SourceFile(source.path, source.log_key, source.generation, old.compression)
        if entry.live and source.generation == 0 and not entry.unlinked:
            entry.live = True  # renamed to another live name
        else:
            entry.live = False
        entry.changed_at = now
        entry.source = source
        if entry.reader is not None:
            entry.reader.source = source
        if entry.read:  # a file never read (a copy, a sibling only watched) has nothing to re-point
            yield FileRotated(old, None if entry.unlinked else source)

    def _find_renamed(self, entry: _Entry) -> SourceFile | None:
        """Look for the inode under another name in its directory (a rename the scan does not cover)."""
        directory = entry.source.path.parent
        try:
            with os.scandir(directory) as scan:
                for item in scan:
                    if item.inode() != entry.identity[1]:
                        continue
                    info = item.stat(follow_symlinks=False)
                    if (info.st_dev, info.st_ino) == entry.identity:
                        name_class = classify_name(item.name)
                        generation = (
                            -name_class.rank[2] if name_class.rank[0] == 1 else int(name_class.rotated)
                        )
                        return SourceFile(Path(item.path), entry.source.log_key, generation)
        except OSError:
            return None
        return None

    def _compressed_successor(
        self, entry: _Entry, located: dict[Identity, tuple[SourceFile, os.stat_result]]
    ) -> SourceFile | None:
        """The compressed copy (``audit.jsonl.1.gz``) that replaced a vanished ``audit.jsonl.1``, if any."""
        rank = classify_name(entry.source.path.name).rank
        for source, _ in located.values():
            if source.log_key != entry.source.log_key or source.path == entry.source.path:
                continue
            name_class = classify_name(source.path.name)
            if name_class.rank == rank and name_class.compressed_suffix:
                return _sniffed(source)
        return None

    # -- reading -------------------------------------------------------------------------------------------
    def _advance(
        self,
        entry: _Entry,
        info: os.stat_result | None,
        located: dict[Identity, tuple[SourceFile, os.stat_result]],
        now: float,
    ) -> Iterator[Item]:
        reader = entry.reader
        assert reader is not None
        if info is None:
            try:
                info = os.fstat(reader.fd)
            except OSError:
                return
        if not reader.compressed and self._was_truncated(entry, reader, info):
            yield from self._truncated(entry, reader, located)
            if not entry.live and self._is_copy(entry.source.log_key, _pread_head(reader.fd)):
                # A rotated file rewritten in place (``cp audit.jsonl audit.jsonl.1`` over it): now a copy, or
                # empty while the copy starts. Not read again: known, and looked at anew once it changes (a
                # copy, a candidate for a copytruncate, or else a generation never seen). One truncated while
                # live and renamed since, holding new lines, is read again from 0 like any truncated file.
                reader.close()
                self._files[entry.identity] = _known(entry.identity, entry.source, info, now)
                return
        before = reader.position
        yield from self._read(reader, entry)
        if reader.hit_limit:
            self._backlog = True
        if reader.position != before:
            entry.changed_at = now
        entry.size, entry.mtime_ns, entry.ctime_ns = info.st_size, info.st_mtime_ns, info.st_ctime_ns
        if not entry.live and not reader.hit_limit and now - entry.changed_at >= self.rotated_grace:
            yield from self._retire(entry)

    def _was_truncated(self, entry: _Entry, reader: FileReader, info: os.stat_result) -> bool:
        if info.st_size < reader.position:
            return True
        if (info.st_size, info.st_mtime_ns) == (entry.size, entry.mtime_ns):
            return False
        tail = reader.tail
        if not tail or reader.offset < len(tail):
            return False
        try:
            return os.pread(reader.fd, len(tail), reader.offset - len(tail)) != tail
        except OSError:
            return False

    def _truncated(
        self, entry: _Entry, reader: FileReader, located: dict[Identity, tuple[SourceFile, os.stat_result]]
    ) -> Iterator[Item]:
        size_before = reader.position
        recovered: list[Item] = []
        copied_to: SourceFile | None = None
        tail, offset, line = reader.tail, reader.offset, reader.line
        if tail and offset >= len(tail):
            candidates = [
                e
                for e in self._files.values()
                if e.source.log_key == entry.source.log_key and not e.read and e.reader is None and not e.live
            ]
            # The copy exists now (it was made before the truncation), but this round's scan may have
            # missed it: a sibling renamed (``.1`` -> ``.2``) between the directory listing and its stat is
            # in neither name's result. So the siblings not seen this round are looked at too, listed now.
            ordered = sorted(candidates, key=lambda e: e.source.generation)
            for candidate in itertools.chain(ordered, self._unseen(entry)):
                items = self._read_copy(candidate, offset, line, tail)
                if items is not None:
                    candidate.read = True
                    with contextlib.suppress(OSError):  # as read: a later change is a rewrite
                        info = os.stat(candidate.source.path)
                        candidate.size, candidate.mtime_ns = info.st_size, info.st_mtime_ns
                    self._files[candidate.identity] = candidate
                    copied_to, recovered = candidate.source, items
                    break
        lost = reader.partial()
        self._remember_head(entry)
        entry.head = b""
        yield FileTruncated(entry.source, size_before, copied_to)
        yield from recovered
        if lost is not None and copied_to is None:
            yield LineRejected(_lost_partial(lost, reader, "its file was truncated"))
        reader.reset()

    def _unseen(self, entry: _Entry) -> Iterator[_Entry]:
        """The rotated siblings of ``entry``'s log in its directory now that the follower does not know, as
        entries not read (a scan that raced with renames missed them)."""
        log = Path(entry.source.log_key)
        try:
            names = os.listdir(log.parent)
        except OSError:
            return
        now = time.monotonic()
        for name in names:
            name_class = classify_name(name)
            if not name_class.rotated or name_class.live_name != log.name:
                continue
            path = log.parent / name
            try:
                info = os.stat(path)
            except OSError:
                continue
            identity = (info.st_dev, info.st_ino)
            if identity in self._files or not stat.S_ISREG(info.st_mode):
                continue
            generation = -name_class.rank[2] if name_class.rank[0] == 1 else 1
            yield _known(identity, SourceFile(path, entry.source.log_key, max(generation, 1)), info, now)

    def _read_copy(self, candidate: _Entry, offset: int, line: int, tail: bytes) -> list[Item] | None:
        """The lines of ``candidate`` from ``offset`` on when the ``tail`` bytes just before it match (it is a
        copy of what was read up to there); ``None`` otherwise. The inode is checked: a sibling renamed since
        the scan (``.1`` -> ``.2``) is followed to its new name, never confused with what took its name."""
        for _ in range(3):
            source = candidate.source
            if source.compression == "none":
                source = candidate.source = _sniffed(source)
            try:
                copy = FileReader(source, offset=offset, line=line, chunk_bytes=self.chunk_bytes)
            except (OSError, ValueError):
                return None
            with copy:
                try:
                    if copy.identity() != candidate.identity:
                        renamed = self._find_renamed(candidate)
                        if renamed is None:
                            return None
                        candidate.source = renamed
                        continue
                    if copy.compressed:
                        before = read_span(source, offset - len(tail), len(tail))
                    else:
                        before = os.pread(copy.fd, len(tail), offset - len(tail))
                    if before != tail:
                        return None
                    items = list(self._read(copy))
                except (OSError, ValueError):
                    return None
                lost = copy.partial()
                if lost is not None:
                    why = "the copy ends inside it and the original was truncated"
                    items.append(LineRejected(_lost_partial(lost, copy, why)))
                return items
        return None

    def _read(self, reader: FileReader, entry: _Entry | None = None) -> Iterator[Item]:
        for item in reader.read_events(limit=self._limit):
            if isinstance(item, Chunk):
                if entry is not None and item.offset == len(entry.head) < HEAD_BYTES:
                    entry.head += item.data[: HEAD_BYTES - item.offset]
                yield item
            else:
                yield LineRejected(item)

    def _retire(self, entry: _Entry) -> Iterator[Item]:
        """Stop reading a rotated file that stayed quiet for the grace period."""
        reader = entry.reader
        assert reader is not None
        lost = reader.partial()
        if lost is not None:
            yield LineRejected(_lost_partial(lost, reader, "its file was rotated and never completed it"))
        reader.close()
        entry.reader = None
        if entry.unlinked:
            del self._files[entry.identity]
            self._remember_head(entry)
            yield FileVanished(entry.source)

    def _retry_unreadable(self, entry: _Entry, info: os.stat_result) -> bool:
        return entry.unreadable and info.st_ctime_ns != entry.ctime_ns

    def _admit(
        self, identity: Identity, source: SourceFile, info: os.stat_result, *, initial: bool, now: float
    ) -> Iterator[Item]:
        base = _known(identity, source, info, now)
        source = _sniffed(source)
        reader = FileReader(source, chunk_bytes=self.chunk_bytes)
        try:
            opened = reader.identity()
        except SourceMissing as exc:
            reader.close()
            if os.path.exists(source.path):
                base.unreadable = True
                self._files[identity] = base
                yield FileUnreadable(source, str(exc))
            return
        if opened != identity:  # replaced between the scan and the open: next round
            reader.close()
            return
        self._logs.add(source.log_key)
        entry = _known(identity, source, info, now)
        entry.read, entry.reader = True, reader
        self._files[identity] = entry
        position = self._positions.pop(identity, None) if initial else None
        if position is not None and self._start_at(entry, reader, position, info):
            if source.generation > 0 and reader.compressed:
                reader.close()  # a compressed older sibling never grows: nothing after what was indexed
                entry.reader = None
                return
            reader = entry.reader
            assert reader is not None
        if not initial:
            yield FileAppeared(source)
        yield from self._read(reader, entry)
        if reader.hit_limit:
            self._backlog = True
        elif source.generation > 0 and (initial or reader.compressed):
            lost = reader.partial()
            if lost is not None:
                yield LineRejected(_lost_partial(lost, reader, "its file is a rotated one, read whole"))
            reader.close()  # an older sibling: read once, no longer appended to
            entry.reader = None

    def _start_at(
        self, entry: _Entry, reader: FileReader, position: tuple[int, int], info: os.stat_result
    ) -> bool:
        """Resume ``entry`` at a starting position handed to the constructor (what an index already holds).

        The position is used only when it is plausible for this inode (a plain file no shorter than the
        offset, or a compressed one); the file's first bytes are remembered as if read, so that copies of it
        are still recognised. Returns False (read from the start) otherwise.
        """
        offset, line = position
        if offset <= 0:
            return False
        if not reader.compressed and info.st_size < offset:
            return False  # shrank since it was indexed: a truncation, read it again from the start
        try:
            entry.head = read_span(entry.source, 0, min(HEAD_BYTES, offset))
        except (OSError, ValueError):
            return False
        resumed = FileReader(entry.source, offset=offset, line=max(line, 1), chunk_bytes=self.chunk_bytes)
        try:
            if resumed.identity() != entry.identity:
                resumed.close()
                return False
        except SourceMissing:
            resumed.close()
            return False
        reader.close()
        entry.reader = resumed
        return True

    def _open_streams(self) -> list[FileReader]:
        """The stream readers that have not ended."""
        return [r for r in self._streams if id(r) not in self._streams_ended]

    def _advance_stream(self, reader: FileReader) -> Iterator[Item]:
        yield from self._read(reader)
        if reader.hit_limit:
            self._backlog = True
        if reader.eof or reader.broken is not None:
            self._streams_ended.add(id(reader))
            lost = reader.partial()
            if lost is not None:
                yield LineRejected(_lost_partial(lost, reader, "the input ended"))
            yield StreamEnded(reader.source)


def _is_stream(arg: str) -> bool:
    """A named pipe (a FIFO, ``/dev/fd/N`` of ``<(cmd)``): read once, as standard input is."""
    try:
        return stat.S_ISFIFO(os.stat(os.path.expanduser(arg)).st_mode)
    except OSError:
        return False


def _sniffed(source: SourceFile) -> SourceFile:
    """``source`` with its compression read from its first bytes."""
    return SourceFile(source.path, source.log_key, source.generation, detect_compression(source.path))


def _head(source: SourceFile, identity: Identity) -> bytes | None:
    """The first ``HEAD_BYTES`` of ``source`` (decompressed); ``None`` when its path names another inode now
    (renamed since it was found); ``b""`` when it cannot be read."""
    try:
        fd = os.open(source.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None if not os.path.lexists(source.path) else b""
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != identity:
            return None
        head = os.pread(fd, HEAD_BYTES, 0)
        if magic_compression(head[:4]) == "none":
            return head
        # Compressed: decompressed by path; the inode is checked again after, so a rename meanwhile is seen.
        head = read_span(_sniffed(source), 0, HEAD_BYTES)
        after = os.stat(source.path)
        return head if (after.st_dev, after.st_ino) == identity else None
    except (OSError, ValueError):
        return b""
    finally:
        os.close(fd)


def _same_start(head: bytes, known: bytes) -> bool:
    """True when two files' first bytes agree as far as both go (neither empty)."""
    return bool(known) and head[: len(known)] == known[: len(head)]


def _pread_head(fd: int) -> bytes:
    """The first ``HEAD_BYTES`` of an open plain file (``b""`` when it cannot be read)."""
    try:
        return os.pread(fd, HEAD_BYTES, 0)
    except OSError:
        return b""


def _known(identity: Identity, source: SourceFile, info: os.stat_result, now: float) -> _Entry:
    """An entry for an inode that is remembered but not (yet) read."""
    return _Entry(
        identity=identity,
        source=source,
        live=source.generation == 0,
        read=False,
        reader=None,
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        ctime_ns=info.st_ctime_ns,
        changed_at=now,
    )


def _lost_partial(partial: PartialLine, reader: FileReader, why: str) -> Reject:
    reason = f"incomplete last line (no newline): {why}"
    length = partial.length if partial.length != len(reader.pending) else None
    return Reject(partial.source.display, partial.line, partial.offset, reason, reader.pending, length)

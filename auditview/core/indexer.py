"""Cold indexing in a child process, so that the parse never holds the terminal app's GIL.

The live loader (``auditview.core.live.load_and_follow``, which the app's worker runs) calls
``index_in_child`` before its own ``AuditIndex.load`` when the persistent index cache is on (its
``LoaderOptions.cache`` and ``AUDITVIEW_CACHE``, checked by ``cache_writable``) and writable and the sources
hold at least ``COLD_PROCESS_MIN`` bytes that no cache entry covers; with the cache off no child is started.
The child (``python -m auditview.core.indexer PATH...``) discovers the same sources, runs
``AuditIndex.load(sources, cache=True)``, waits for the cache writer and exits: its only product is the
cache. It prints ``done total`` progress lines on stdout and exits as soon as its stdin closes (the app
died). The app's own load then reads the cache and parses only what was appended meanwhile.

Must not: touch a widget, or be the only way to index (every failure here means "load in-process").
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from auditview.source.storage import LOCAL
from auditview.source.types import SourceFile

__all__ = ["COLD_PROCESS_MIN", "cache_writable", "index_in_child", "main", "uncached_bytes"]

#: Uncached bytes (all sources together) from which the cold parse runs in a child process.
COLD_PROCESS_MIN: Final = 8 << 20
#: Seconds between progress lines printed by the child.
_PROGRESS_INTERVAL: Final = 0.1

Cancelled = Callable[[], bool]
Progress = Callable[[int, int], None]


def cache_writable(enabled: bool | None = None) -> bool:
    """Whether the index cache is on (``enabled``, as ``cache.cache_enabled`` takes it: ``None`` = unless
    ``AUDITVIEW_CACHE`` turns it off) and its directory can be created and written."""
    from auditview.core import cache

    if not cache.cache_enabled(enabled):
        return False
    directory = cache.cache_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def uncached_bytes(sources: Sequence[SourceFile]) -> int:
    """Bytes of the file sources no cache entry covers, from the entries' metadata only (no hashing).

    An entry counts when it names the same inode and the file is not shorter than what it covers; a
    stale entry that passes this cheap test costs nothing worse than a short-lived child.
    """
    from auditview.core.cache.layout import cache_dir, entry_key, meta_path

    directory = cache_dir()
    total = 0
    for source in sources:
        if source.reads_once:
            continue
        try:
            info = LOCAL.state(source.path)
        except OSError:
            continue
        covered = 0
        try:
            meta = json.loads(meta_path(directory, entry_key(source.path)).read_bytes())
            if (meta["dev"], meta["ino"]) == info.identity and info.size >= meta["covered"]:
                covered = info.size if source.compression != "none" else int(meta["covered"])
        except (OSError, ValueError, KeyError, TypeError):
            covered = 0
        total += max(info.size - covered, 0)
    return total


def index_in_child(paths: Sequence[str], progress: Progress, cancelled: Cancelled) -> bool:
    """Run the cold parse of ``paths`` in a child process; ``True`` when it finished cleanly.

    ``progress(done, total)`` is called from this thread for every progress line. When ``cancelled()``
    turns true the child is killed within ~0.1 s and ``False`` is returned.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH", "")]))
    try:
        child = _spawn(
            [sys.executable, "-m", "auditview.core.indexer", "--", *paths],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
    except OSError:
        return False
    assert child.stdout is not None
    stdout = child.stdout.fileno()
    buffer = b""
    try:
        while True:
            if cancelled():
                return False
            ready, _, _ = select.select([stdout], [], [], 0.1)
            if not ready:
                continue
            data = os.read(stdout, 65536)
            if not data:
                break
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            if lines:
                try:
                    done, total = (int(part) for part in lines[-1].split())
                except ValueError:
                    continue
                progress(done, total)
        while child.poll() is None:
            if cancelled():
                return False
            time.sleep(0.02)
        return child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


def _spawn(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start the child (one place for tests to replace)."""
    return subprocess.Popen(command, **kwargs)


def _exit_when_parent_goes() -> None:
    """Block on stdin; when the parent closes it or dies, leave at once (no cache write is half-visible)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(3)


def main(argv: Sequence[str] | None = None) -> int:
    """The child: index ``argv`` paths into the cache, printing ``done total`` lines; 0 on success."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    threading.Thread(target=_exit_when_parent_goes, daemon=True, name="auditview-parent-watch").start()
    # Background work: on a small machine the app's UI thread must win the CPU whenever it wants it.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    from auditview.core.allocator import configure_allocator

    configure_allocator()
    from auditview.core import cache
    from auditview.core.index import AuditIndex
    from auditview.source.discover import discover

    last = 0.0

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= _PROGRESS_INTERVAL:
            last = now
            sys.stdout.write(f"{done} {total}\n")
            sys.stdout.flush()

    sources = discover(args)
    index = AuditIndex.load(sources, progress=report, cache=True)
    index.close()
    cache.wait_pending()  # the cache writes run in background threads: they are the whole point
    return 0


if __name__ == "__main__":
    # os._exit: the parent-watch thread is blocked reading stdin, which a normal shutdown cannot interrupt;
    # every cache write has been joined by then.
    try:
        code = main()
    except BaseException:
        code = 1
    sys.stdout.flush()
    os._exit(code)

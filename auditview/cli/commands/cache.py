"""``auditview cache``: prune or clear the index cache (``auditview.core.cache``), or ``--warm`` it: index the
inputs now, every column, so that the app and later commands start warm."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from auditview.cli.errors import EXIT_FAILURE, EXIT_OK, usage_error
from auditview.cli.output import Run, is_tty
from auditview.core import cache
from auditview.text.humanize import format_count, format_size
from auditview.text.sanitize import printable

__all__ = ["execute", "progress_meter"]


def execute(run: Run) -> int:
    """Prune (``--max-bytes``), clear or warm the cache; exit 1 when some files could not be removed."""
    if run.ns.clear and run.ns.max_bytes is not None:
        raise usage_error("--clear and --max-bytes exclude each other")
    if run.ns.warm:
        if run.ns.clear or run.ns.max_bytes is not None:
            raise usage_error("--warm cannot be combined with --clear or --max-bytes")
        return _warm(run)
    if run.ns.paths:
        raise usage_error("PATH... is only read with --warm")
    report = cache.clear() if run.ns.clear else cache.prune(run.ns.max_bytes)
    removed = [{"path": entry.path, "reason": entry.reason, "bytes": entry.size} for entry in report.removed]
    directory = str(cache.cache_dir())
    summary = {
        "directory": directory,
        "removed": removed,
        "freed_bytes": report.freed_bytes,
        "kept_entries": report.kept_entries,
        "kept_bytes": report.kept_bytes,
        "errors": report.errors,
    }
    if run.output == "json":
        run.emit_json(summary)
    elif run.output == "jsonl":
        run.emit_jsonl(removed)
    else:
        reasons: dict[str, int] = {}
        for entry in report.removed:
            reasons[entry.reason] = reasons.get(entry.reason, 0) + 1
        why = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        noun = "entry" if len(removed) == 1 else "entries"
        lines = [
            f"  {entry.reason:<8} {format_size(entry.size):>10}  {printable(entry.path)}"
            for entry in report.removed
        ]
        freed = format_size(report.freed_bytes)
        lines.append(
            f"removed {len(removed)} {noun}{f' ({why})' if why else ''}, freed {freed}; "
            f"kept {report.kept_entries}, {format_size(report.kept_bytes)} in {printable(directory)}"
        )
        if report.errors:
            lines.append(f"{report.errors} file(s) could not be removed")
        run.emit_lines(lines)
    return EXIT_FAILURE if report.errors else EXIT_OK


def _warm(run: Run) -> int:
    """``auditview cache --warm``: build (or extend) the full index cache of the sources now."""
    from auditview.cli.loading import load_index, selection_of

    started = time.perf_counter()
    if not cache.cache_enabled():
        raise usage_error("the index cache is turned off (AUDITVIEW_CACHE=0)")
    index = load_index(run, selection_of(run), progress=progress_meter() if is_tty(sys.stderr) else None)
    cache.wait_pending()
    counts = dict(index.frame.group_by("file_id").len().iter_rows())
    counted = [(source.display, int(counts.get(file_id, 0))) for file_id, source in enumerate(index.files)]
    files = [{"path": path, "records": records} for path, records in counted]
    seconds = round(time.perf_counter() - started, 3)
    directory = str(cache.cache_dir())
    summary = {
        "files": files,
        "records": index.frame.height,
        "rejects": len(index.rejects),
        "seconds": seconds,
        "directory": directory,
    }
    if run.output == "json":
        run.emit_json(summary)
    elif run.output == "jsonl":
        run.emit_jsonl(files)
    else:
        lines = [f"  {format_count(records):>10}  {printable(path)}" for path, records in counted]
        lines.append(
            f"indexed {format_count(index.frame.height)} records of {len(files)} "
            f"file{'s' if len(files) != 1 else ''} into {printable(directory)} in {seconds} s"
        )
        run.emit_lines(lines)
    return EXIT_OK


def progress_meter() -> Callable[[int, int], None]:
    """A progress line on a terminal's stderr (``indexing 42% of 428 MB``), redrawn at most every 0.2 s and
    cleared at the end."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.2:
            return
        last[0] = now
        if done >= total:
            sys.stderr.write("\r\x1b[K")
        else:
            sys.stderr.write(f"\rindexing {done * 100 // max(total, 1)}% of {total / 1e6:,.0f} MB")
        sys.stderr.flush()

    return report

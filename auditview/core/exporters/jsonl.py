"""Export: the records of a frame as JSONL, each line byte-identical to its source line, plus a manifest.

Owns: ``export_lines`` (to any binary stream), ``export_to_file`` (atomic: a temporary file in the target's
directory, then a rename; refuses to replace an existing file unless ``force``) and the manifest (sources with
byte ranges, counts, sha256, filter text, time range). Must not: re-serialise a record (the bytes always come
from the source files through ``AuditIndex.iter_raw``), filter or sort (the caller passes the frame in the
order it wants), or import any UI library.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson
import polars as pl

from auditview.core.index import AuditIndex

__all__ = [
    "ExportResult",
    "atomic_write",
    "build_manifest",
    "check_targets",
    "export_lines",
    "export_to_file",
]

_BATCH: int = 4096


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: ``count`` lines, ``bytes`` bytes (newlines included), their ``sha256``."""

    count: int
    bytes: int
    sha256: str
    path: Path | None


def export_lines(index: AuditIndex, frame: pl.DataFrame, out: BinaryIO | IO[bytes]) -> ExportResult:
    """Write the source bytes of every row of ``frame`` + ``\\n`` to ``out``, in frame order."""
    digest = hashlib.sha256()
    count = 0
    size = 0
    batch: list[bytes] = []
    for raw in index.iter_raw(frame):
        batch.append(raw)
        if len(batch) >= _BATCH:
            size += _flush(batch, out, digest)
            count += len(batch)
            batch = []
    if batch:
        size += _flush(batch, out, digest)
        count += len(batch)
    return ExportResult(count, size, digest.hexdigest(), None)


def _flush(batch: list[bytes], out: BinaryIO | IO[bytes], digest: Any) -> int:
    block = b"\n".join(batch) + b"\n"
    out.write(block)
    digest.update(block)
    return len(block)


def export_to_file(
    index: AuditIndex,
    frame: pl.DataFrame,
    path: Path,
    *,
    force: bool = False,
    manifest: Path | None = None,
    filter_text: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ExportResult:
    """Export ``frame`` to ``path`` atomically; with ``manifest``, also write the manifest JSON there.

    Raises ``FileExistsError`` when ``path`` (or ``manifest``) exists and ``force`` is false,
    ``IsADirectoryError`` when it is a directory, ``FileNotFoundError`` when its directory does not exist;
    nothing is written then. An empty frame writes an empty file.
    """
    path = Path(path)
    check_targets(path, manifest, force=force)

    def write(out: IO[bytes]) -> ExportResult:
        return export_lines(index, frame, out)

    result = atomic_write(path, write, force=force)
    result = ExportResult(result.count, result.bytes, result.sha256, path)
    if manifest is not None:
        document = build_manifest(index, frame, result, filter_text=filter_text, since=since, until=until)
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        atomic_write(Path(manifest), lambda out: out.write(text), force=force)
    return result


def check_targets(path: Path, manifest: Path | None = None, *, force: bool = False) -> None:
    """Raise what ``export_to_file`` would refuse, before any work is done (see there)."""
    for target in (Path(path), manifest):
        if target is None:
            continue
        if target.is_dir():
            raise IsADirectoryError(f"{target} is a directory (name a file in it)")
        if not force and target.exists():
            raise FileExistsError(f"{target} exists (use --force to replace it)")
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise FileNotFoundError(f"cannot write {target}: the directory {parent} does not exist")


def atomic_write(path: Path, write: Any, *, force: bool) -> Any:
    """``write(out)`` into a temporary file beside ``path``, then moved onto it (refused when ``path`` exists
    unless ``force``); returns what ``write`` returned. Every exporter writes its files through it."""
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            result = write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the target appeared meanwhile: never clobber
            os.unlink(temporary)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return result


def build_manifest(
    index: AuditIndex,
    frame: pl.DataFrame,
    result: ExportResult,
    *,
    filter_text: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The manifest of an export: what was exported, from which bytes of which files, and how chosen."""
    sources: list[dict[str, Any]] = []
    if frame.height:
        located = frame.select("file_id", "offset", "length").sort("file_id", "offset")
        for (file_id,), part in located.group_by("file_id", maintain_order=True):
            source = index.files[int(file_id)]
            sources.append(
                {
                    "path": str(source.path),
                    "log": source.log_key,
                    "compression": source.compression,
                    "records": part.height,
                    "byte_ranges": _ranges(part),
                }
            )
    first = frame["ts"].min() if frame.height and "ts" in frame.columns else None
    last = frame["ts"].max() if frame.height and "ts" in frame.columns else None
    return {
        "created": datetime.now(UTC).isoformat(),
        "export": str(result.path) if result.path is not None else None,
        "count": result.count,
        "bytes": result.bytes,
        "sha256": result.sha256,
        "filter": filter_text or None,
        "since": since.isoformat() if since is not None else None,
        "until": until.isoformat() if until is not None else None,
        "first_timestamp": first.isoformat() if isinstance(first, datetime) else None,
        "last_timestamp": last.isoformat() if isinstance(last, datetime) else None,
        "rejects_in_sources": len(index.rejects),
        "sources": sources,
    }


def _ranges(part: pl.DataFrame) -> list[list[int]]:
    """Merge the lines' ``[offset, end)`` spans (``end`` includes the ``\\n``) where they touch."""
    ranges: list[list[int]] = []
    for offset, length in part.select("offset", "length").iter_rows():
        end = offset + length + 1
        if ranges and ranges[-1][1] == offset:
            ranges[-1][1] = end
        else:
            ranges.append([offset, end])
    return ranges

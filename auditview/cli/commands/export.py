"""``auditview export``: the matching records, byte-identical to their source lines, to stdout or atomically
to ``--to`` (with a manifest); with ``--format otlp-json`` as OpenTelemetry spans, to a file, stdout or a
collector (``--otlp-endpoint``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from auditview.cli.errors import EXIT_FAILURE, EXIT_OK, CliError, usage_error, write_errors
from auditview.cli.loading import listing_columns, load, selection_text
from auditview.cli.output import Run, parsed_records
from auditview.cli.tables import records_table
from auditview.text.sanitize import printable

if TYPE_CHECKING:
    import polars as pl

    from auditview.core.index import AuditIndex

__all__ = ["execute"]


def execute(run: Run) -> int:
    """Export the matching records: JSONL byte for byte (stdout or ``--to``), parsed (``-o json``), a table,
    or OTLP/JSON spans (``_export_otlp``)."""
    ns = run.ns
    if ns.manifest and not ns.to:
        raise usage_error("--manifest needs --to FILE")
    if ns.force and not ns.to:
        raise usage_error("--force needs --to FILE")
    otlp = _otlp_options(run)
    if ns.to:
        from auditview.core.exporters.jsonl import check_targets

        with write_errors(ns.to):  # before the load: a bad target fails at once
            check_targets(Path(ns.to), Path(ns.manifest) if ns.manifest else None, force=ns.force)
    columns = listing_columns(run)
    if otlp:
        from auditview.core.exporters.otlp import OTLP_COLUMNS

        columns = columns | OTLP_COLUMNS
    selected = load(run, columns, trace_id=ns.trace, pushdown=True)
    frame = selected.frame
    if otlp:
        return _export_otlp(run, selected.index, frame)
    if ns.to:
        from auditview.core.exporters.jsonl import export_to_file

        with write_errors(ns.to):
            result = export_to_file(
                selected.index,
                frame,
                Path(ns.to),
                force=ns.force,
                manifest=Path(ns.manifest) if ns.manifest else None,
                filter_text=selection_text(ns.filter, ns.trace),
                since=run.since,
                until=run.until,
            )
        path = str(result.path) if result.path is not None else ns.to
        summary: dict[str, object] = {
            "count": result.count,
            "bytes": result.bytes,
            "sha256": result.sha256,
            "path": path,
            "manifest": ns.manifest,
        }
        run.emit_summary(
            summary,
            [
                f"exported {result.count} record{'s' if result.count != 1 else ''} "
                f"({result.bytes} bytes) to {printable(path)}",
                f"sha256 {result.sha256}",
            ]
            + ([f"manifest {printable(ns.manifest)}"] if ns.manifest else []),
        )
        return EXIT_OK
    if run.output == "json":
        run.emit_json(list(parsed_records(selected.index, frame)))
    elif run.output == "table":
        run.emit_lines(records_table(frame, width=run.width(), palette=run.palette()))
    else:
        from auditview.core.exporters.jsonl import export_lines

        run.stdout.flush()
        export_lines(selected.index, frame, run.stdout.buffer)
        run.stdout.buffer.flush()
    return EXIT_OK


def _otlp_options(run: Run) -> bool:
    """Check the OTLP options of ``export`` (exit 2 on a bad combination); True when the export is OTLP."""
    ns = run.ns
    if ns.otlp_endpoint is not None and ns.format == "jsonl":
        raise usage_error("--otlp-endpoint sends OTLP: it needs --format otlp-json (or no --format)")
    otlp = ns.format == "otlp-json" or ns.otlp_endpoint is not None
    if ns.semconv is not None and not otlp:
        raise usage_error("--semconv needs --format otlp-json")
    if not otlp:
        return False
    if ns.otlp_endpoint is not None:
        from auditview.core.exporters.otlp import traces_url

        try:
            traces_url(ns.otlp_endpoint)
        except ValueError as exc:
            raise usage_error(str(exc)) from None
    elif not ns.to and ns.output in ("json", "table"):
        raise usage_error(
            f"-o {ns.output} with --format otlp-json needs --to FILE or --otlp-endpoint URL (the OTLP/JSON"
            " itself goes to stdout as JSON lines)"
        )
    return True


def _export_otlp(run: Run, index: AuditIndex, frame: pl.DataFrame) -> int:
    """``export --format otlp-json``: the spans as OTLP/JSON lines to stdout, ``--to`` (atomically) and/or
    ``--otlp-endpoint``; a summary of what was written or sent when not on stdout."""
    from auditview.core.exporters.otlp import (
        OtlpSendError,
        Semconv,
        export_otlp_to_file,
        index_lines,
        send_otlp,
        write_otlp,
    )

    ns = run.ns
    semconv: Semconv = "genai" if ns.semconv == "genai" else "cli"

    def lines() -> Iterator[tuple[bytes, int]]:
        return index_lines(index, frame, semconv=semconv)

    summary: dict[str, object] = {"format": "otlp-json", "semconv": semconv}
    if not ns.to and ns.otlp_endpoint is None:
        run.stdout.flush()
        write_otlp(lines(), run.stdout.buffer)
        run.stdout.buffer.flush()
        return EXIT_OK
    if ns.to:
        with write_errors(ns.to):
            written = export_otlp_to_file(
                index,
                frame,
                Path(ns.to),
                semconv=semconv,
                force=ns.force,
                manifest=Path(ns.manifest) if ns.manifest else None,
                filter_text=selection_text(ns.filter, ns.trace),
                since=run.since,
                until=run.until,
            )
        summary.update(
            count=written.spans,
            requests=written.requests,
            bytes=written.bytes,
            sha256=written.sha256,
            path=ns.to,
            manifest=ns.manifest,
        )
    if ns.otlp_endpoint is not None:
        try:
            sent = send_otlp(ns.otlp_endpoint, lines())
        except OtlpSendError as exc:
            raise CliError(str(exc), exit_code=EXIT_FAILURE, error_type="OtlpSendError") from None
        summary.update(
            count=sent.spans,
            endpoint=sent.url,
            sent_requests=sent.requests,
            sent_bytes=sent.bytes,
            retries=sent.retries,
        )
    spans = summary["count"]
    noun = f"{spans} span{'s' if spans != 1 else ''}"
    text: list[str] = []
    if ns.to:
        text.append(f"exported {noun} ({summary['bytes']} bytes, OTLP/JSON) to {printable(ns.to)}")
        text.append(f"sha256 {summary['sha256']}")
        if ns.manifest:
            text.append(f"manifest {printable(ns.manifest)}")
    if ns.otlp_endpoint is not None:
        retries = summary["retries"]
        again = f", {retries} retr{'ies' if retries != 1 else 'y'}" if retries else ""
        requests = summary["sent_requests"]
        text.append(
            f"sent {noun} in {requests} request{'s' if requests != 1 else ''} to "
            f"{printable(str(summary['endpoint']))}{again}"
        )
    run.emit_summary(summary, text)
    return EXIT_OK

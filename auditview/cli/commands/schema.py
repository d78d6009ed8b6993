"""``auditview schema [writer|reader|meta]``: print a shipped JSON Schema (``auditview.schema``), its path, or
the document in the envelope."""

from __future__ import annotations

from auditview import schema
from auditview.cli.errors import EXIT_OK
from auditview.cli.output import Run

__all__ = ["execute"]


def execute(run: Run) -> int:
    """Print the document byte for byte (default), its installed path (``--path``) or ``-o json``."""
    source = schema.schema_file(run.ns.name)
    if run.ns.output == "json":
        run.emit_json(
            {"name": run.ns.name, "path": str(source)} if run.ns.path else schema.load_schema(run.ns.name)
        )
    elif run.ns.path:
        run.emit_lines([str(source)])
    else:
        run.write_bytes(source.read_bytes())
    return EXIT_OK

"""``auditview check [OPTIONS] -- COMMAND [ARGS...]``: grade a tool against the audit contract
(``auditview.grade``): score 0-3 with the evidence of each condition."""

from __future__ import annotations

import shlex

from auditview import grade
from auditview.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError, usage_error
from auditview.cli.output import Run, dumps

__all__ = ["execute"]


def execute(run: Run) -> int:
    """Run the grading; exit 0 when the score reaches ``--min-score``, else 1."""
    argv = list(run.ns.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise usage_error("no COMMAND to check: auditview check [OPTIONS] -- COMMAND [ARGS...]")
    if run.ns.timeout <= 0:
        raise usage_error("--timeout must be more than 0")
    try:
        report = grade.check(
            argv,
            min_score=run.ns.min_score,
            keep_env=run.ns.keep_env,
            child_probe=run.ns.child_probe,
            tool=shlex.split(run.ns.tool) if run.ns.tool else None,
            timeout=run.ns.timeout,
        )
    except grade.CheckError as exc:
        raise CliError(str(exc), exit_code=EXIT_USAGE, error_type=exc.error_type) from None
    if run.ns.output == "json":
        envelope = {"ok": report.passed, "data": report.to_json(), "meta": run.meta()}
        run.write_bytes(dumps(envelope) + b"\n")
    else:
        run.emit_lines(grade.render(report))
    return EXIT_OK if report.passed else EXIT_FAILURE

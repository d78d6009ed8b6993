"""No subcommand: check the app's options (WHEN, filter, a terminal) and hand them over as ``AppOptions``.

The CLI never imports the app: the run's ``open_app`` (given by ``auditview.main``) opens it.
"""

from __future__ import annotations

import sys

from auditview.cli.errors import usage_error
from auditview.cli.output import Run, is_tty
from auditview.launch import AppOptions

__all__ = ["execute"]


def _interactive_terminal() -> bool:
    """True when both stdin and stdout are terminals (the app cannot run otherwise)."""
    return is_tty(sys.stdin) and is_tty(sys.stdout)


def execute(run: Run) -> int:
    """Validate the options, then run the app until the user quits."""
    ns = run.ns
    if ns.filter.strip():  # checked before the terminal: a bad filter is exit 2 wherever it runs
        from auditview.cli.loading import compile_filter, selection_of

        compile_filter(selection_of(run))
    if not _interactive_terminal():
        raise usage_error(
            "the terminal app needs a terminal; for scripts use a subcommand, e.g. 'auditview traces -o json'"
            " (see 'auditview --help')"
        )
    options = AppOptions(
        paths=list(ns.paths),
        since=run.since,
        until=run.until,
        filter_text=ns.filter or "",
        slow_ms=run.slow_ms,
        demo=ns.demo,
        follow=not ns.no_follow,
        cache=not ns.no_cache,
    )
    return run.open_app(options)

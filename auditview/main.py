"""The ``auditview`` program: ``auditview run`` (the wrapper), the headless CLI, or the terminal app.

``main`` dispatches ``run`` to ``auditview.writer.wrap`` before importing anything else (a wrapped command's
startup cost matters), and everything else to the CLI (``auditview.cli``), giving it the way to open the
terminal app (``auditview.tui``, imported only then): the one place that knows both front ends.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditview.launch import AppOptions

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run ``auditview`` with ``argv`` (default ``sys.argv[1:]``) and return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "run":  # the wrapper: imports nothing heavy, no self-audit
        from auditview.writer.wrap import main as run_main

        return run_main(args[1:])
    from auditview.cli import main as cli_main

    return cli_main(args, open_app=open_app)


def open_app(options: AppOptions) -> int:
    """Run the terminal app (imported now) with ``options`` until the user quits."""
    from auditview.tui.app import run_app

    return int(run_app(options))

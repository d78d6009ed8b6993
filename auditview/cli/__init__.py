"""The ``auditview`` command line: a headless CLI over the engine for scripts and agents.

Owns arguments (``parser``), output modes and the JSON envelope (``output``), exit codes (``errors``), the
plain-text tables (``tables``), dispatch and self-auditing (``dispatch``), and one module per subcommand
(``commands/``). It must not compute anything the engine computes (``auditview.core``; a selection is
``core.selection``'s), import polars before a command needs it, or import Textual/Rich or the terminal app at
all: the program's entry point, ``auditview.main``, opens the app.
"""

from auditview.cli.dispatch import main

__all__ = ["main"]

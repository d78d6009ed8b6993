"""One module per ``auditview`` subcommand (and ``app``, the checks before the terminal app opens).

Each has ``execute(run) -> int``: read the run's options, ask the engine, render; ``auditview.cli.dispatch``
imports a command's module only when it runs.
"""

"""What a front end is asked to open: ``AppOptions``, the plain options of the terminal app.

The CLI parses and checks the options of ``auditview [PATH...] [--since ...]`` and builds an ``AppOptions``;
the program's entry point (``auditview.main``) hands it to the app through an ``AppLauncher``. So the two
front ends share this value and never import each other. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["AppLauncher", "AppOptions"]


@dataclass
class AppOptions:
    """What the CLI asks the app to show.

    ``cache``: use the index cache (``--no-cache`` turns it off, for this app only).
    """

    paths: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    filter_text: str = ""
    slow_ms: float = 5000.0
    demo: bool = False
    follow: bool = True
    cache: bool = True


#: Runs the terminal app with these options until the user quits; returns the process exit code.
AppLauncher = Callable[[AppOptions], int]

"""Entry point of ``python -m auditview.demo``; all behaviour lives in ``auditview.demo.tool``."""

from __future__ import annotations

from auditview.demo.tool import main

raise SystemExit(main())

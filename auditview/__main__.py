"""``python -m auditview``: the same as the ``auditview`` command."""

from auditview.cli import main

raise SystemExit(main())

"""``python -m auditview``: the same as the ``auditview`` command."""

from auditview.main import main

raise SystemExit(main())

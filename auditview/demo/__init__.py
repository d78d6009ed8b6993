"""The demo tool (``python -m auditview.demo``) and the sample-log generator.

``tool`` is a small deploy/verify/rollback tool instrumented with ``auditview.writer``; ``generate`` writes
large realistic logs. Importing this package loads neither.
"""

"""auditview: audit trails for command-line tools.

Kept tiny on purpose: ``import auditview.writer`` must stay cheap for the tools that embed it.
"""

__version__ = "0.1.0"

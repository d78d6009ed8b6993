"""Score 3 with auditview's click adapter and ``respond``: no response or audit code of its own."""

import click

from auditview.writer import Auditor
from auditview.writer.click_support import (
    AuditedGroup,
    audit_log_command,
    output_option,
    respond,
    trace_id_option,
)

auditor = Auditor(tool="gradeclick", version="1.0.0")


@click.group(cls=AuditedGroup, auditor=auditor)
def cli() -> None:
    """A click tool graded by auditview check."""


@cli.command()
@click.option("--env", required=True)
@trace_id_option()
@output_option()
def deploy(env: str, trace_id: str | None, output: str) -> None:
    """Deploy."""
    respond({"env": env, "effect": "deployed"}, output=output)


cli.add_command(audit_log_command(auditor))

if __name__ == "__main__":
    cli()

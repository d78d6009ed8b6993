"""Score 3 with auditview's argparse adapter and ``respond``: no response or audit code of its own."""

import argparse
import sys

from auditview.writer import Auditor
from auditview.writer.argparse_support import (
    add_audit_log_command,
    add_output_option,
    add_trace_id_option,
    parse_args,
    respond,
    run_command,
)

auditor = Auditor(tool="gradetool", version="1.0.0")


def deploy(args: argparse.Namespace, inv: object) -> int:
    return respond({"env": args.env, "effect": "deployed"}, output=args.output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gradetool")
    add_trace_id_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("deploy")
    cmd.add_argument("--env", required=True)
    add_output_option(cmd)
    cmd.set_defaults(handler=deploy)
    add_audit_log_command(sub, auditor)
    args = parse_args(auditor, parser, argv)
    return run_command(auditor, args, args.handler)


if __name__ == "__main__":
    sys.exit(main())

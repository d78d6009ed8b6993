"""``demo``: a small, realistic deploy tool built on ``auditview.writer`` (README, tests, the app).

Commands: ``deploy --env ENV [--service S] [--version V] [--verify]`` (``--verify`` runs ``verify`` as a child
process, so the trace spans processes), ``verify``, ``rollback``, ``status``, ``agent`` (an AI-agent session:
sequences of deploy → verify → rollback-on-failure, each step a subprocess with one ``TOOL_TRACE_ID`` per
sequence), ``generate`` (the log generator, ``auditview.demo.generate``) and ``audit-log``. Every command
prints readable text or, with ``-o json``, ``{"ok": ..., ..., "meta": {...}}``. Durations are log-normal and
seedable (``--seed``); ``--speed`` or ``DEMO_SPEED`` scales the sleeps (0 = no sleeping, for tests);
``--fail-rate`` makes steps fail. The log goes where the writer says (``DEMO_AUDIT_LOG`` overrides). This
module owns no log format.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Final

import orjson

from auditview import __version__
from auditview.contract import (
    ENV_OPERATOR,
    ENV_PARENT_REQUEST_ID,
    ENV_TRACE_ID,
    ENV_TRACEPARENT,
    tool_env_prefix,
)
from auditview.text.sanitize import printable
from auditview.writer import Auditor, Invocation, new_trace_id
from auditview.writer.argparse_support import (
    add_audit_log_command,
    add_trace_id_option,
    parse_args,
    run_command,
)

__all__ = ["AUDITOR", "TOOL", "build_parser", "main"]

TOOL: Final = "demo"
AUDITOR: Final = Auditor(tool=TOOL, version=__version__)

SERVICES: Final = ("checkout", "payments", "search", "inventory", "auth", "notifications")
ENVIRONMENTS: Final = ("dev", "staging", "prod")
SPEED_ENV: Final = "DEMO_SPEED"

#: (step name, median ms) per command; each step sleeps a log-normal duration clamped to 20-300 ms.
_STEPS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "deploy": (("resolve", 30.0), ("build", 90.0), ("push", 60.0), ("apply", 70.0), ("rollout", 80.0)),
    "verify": (("health-check", 40.0), ("smoke-test", 90.0), ("metrics", 35.0)),
    "rollback": (("resolve-previous", 25.0), ("apply", 70.0), ("rollout", 80.0)),
    "status": (("query", 25.0),),
}
_FAILURES: Final[dict[str, tuple[str, ...]]] = {
    "build": ("compiler exited with status 2", "dependency resolution timed out"),
    "push": ("registry returned 503 Service Unavailable", "layer upload interrupted"),
    "apply": ("admission webhook denied the request", "quota exceeded for cpu"),
    "rollout": ("readiness probe failed on 2/3 pods", "image pull backoff"),
    "health-check": ("GET /healthz returned 503", "connection refused on port 8080"),
    "smoke-test": ("checkout flow returned HTTP 500", "p95 latency 2300 ms over budget 800 ms"),
    "metrics": ("error rate 4.1% above threshold 1%",),
    "resolve": ("no such service in catalogue",),
    "resolve-previous": ("no previous release recorded",),
    "query": ("cluster API timed out",),
}


class StepFailedError(Exception):
    """A simulated step failed; the message says which and why."""


@dataclass
class Simulation:
    """Seeded randomness and time scaling for one command run."""

    rng: random.Random
    speed: float
    fail_rate: float
    steps: list[dict[str, Any]] = field(default_factory=list)

    def run_steps(self, command: str) -> None:
        """Sleep through the steps of ``command``; raise ``StepFailedError`` at a step that fails.

        ``fail_rate`` is the probability that the command fails, spread evenly over its steps.
        """
        steps = _STEPS[command]
        step_rate = 1 - (1 - self.fail_rate) ** (1 / len(steps)) if self.fail_rate < 1 else 1.0
        for name, median in steps:
            simulated = min(max(self.rng.lognormvariate(math.log(median), 0.45), 20.0), 300.0)
            failed = self.rng.random() < step_rate
            if self.speed > 0:
                time.sleep(simulated * self.speed / 1000)
            self.steps.append({"name": name, "simulated_ms": round(simulated, 1), "ok": not failed})
            if failed:
                raise StepFailedError(f"{name}: {self.rng.choice(_FAILURES.get(name, ('failed',)))}")

    def child_seed(self) -> int:
        """A seed for a child process, drawn from this run's generator (so the whole tree is reproducible)."""
        return self.rng.randrange(2**31)


def _speed_default() -> float:
    try:
        return max(float(os.environ.get(SPEED_ENV, "1")), 0.0)
    except ValueError:
        return 1.0


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    add_trace_id_option(common)
    common.add_argument("--seed", type=int, default=None, help="seed for durations and failures")
    common.add_argument(
        "--fail-rate",
        type=float,
        default=None,
        metavar="P",
        help="probability that the command fails, 0-1 (default 0; for agent 0.15)",
    )
    common.add_argument(
        "--speed",
        type=float,
        default=None,
        help=f"multiply sleeps by this factor, 0 = no sleeping (default: ${SPEED_ENV} or 1)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the demo tool."""
    parser = argparse.ArgumentParser(
        prog="python -m auditview.demo", description="A demo deploy tool that writes an audit log."
    )
    parser.add_argument("--version", action="version", version=f"demo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()

    deploy = sub.add_parser("deploy", parents=[common], help="deploy a service to an environment")
    deploy.add_argument("--env", required=True, help="target environment, e.g. staging")
    deploy.add_argument("--service", default="checkout", help="service to deploy (default: checkout)")
    deploy.add_argument("--version", dest="release", default=None, help="release to deploy (default: random)")
    deploy.add_argument("--verify", action="store_true", help="run `verify` as a child process afterwards")
    deploy.set_defaults(handler=_deploy)

    verify = sub.add_parser("verify", parents=[common], help="check a deployed service")
    verify.add_argument("--env", default="staging")
    verify.add_argument("--service", default="checkout")
    verify.set_defaults(handler=_verify)

    rollback = sub.add_parser(
        "rollback", parents=[common], help="roll a service back to its previous release"
    )
    rollback.add_argument("--env", default="staging")
    rollback.add_argument("--service", default="checkout")
    rollback.add_argument("--to", dest="target", default=None, help="release to roll back to")
    rollback.add_argument("--reason", default=None, help="why (recorded in params)")
    rollback.set_defaults(handler=_rollback)

    status = sub.add_parser("status", parents=[common], help="show what runs where")
    status.add_argument("--env", default="staging")
    status.set_defaults(handler=_status)

    agent = sub.add_parser(
        "agent", parents=[common], help="simulate an AI agent: deploy → verify → rollback sequences"
    )
    agent.add_argument("--sequences", type=int, default=5, help="how many sequences (0 = until interrupted)")
    agent.add_argument("--pace", type=float, default=0.5, metavar="SECONDS", help="pause between steps")
    agent.add_argument("--env", action="append", dest="envs", default=None, help="environments to use")
    agent.add_argument(
        "--session",
        default=str(os.getpid()),
        help="session name in trace ids and the operator (agent-session-SESSION); default: the process id",
    )
    agent.set_defaults(handler=None)

    sub.add_parser(
        "generate", help="write a large realistic multi-tool log (see generate -h)", add_help=False
    )
    add_audit_log_command(sub, AUDITOR)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo tool; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "generate":
        return _generate(args_list[1:])
    args = parse_args(AUDITOR, build_parser(), args_list)  # a rejected call is recorded too
    if args.speed is None:
        args.speed = _speed_default()
    if args.command == "agent":
        return _agent(args)
    return run_command(AUDITOR, args, args.handler)


def _generate(argv: list[str]) -> int:
    try:
        from auditview.demo.generate import main as generate_main
    except ImportError as exc:
        sys.stderr.write(f"demo generate: not available ({exc})\n")
        return 2
    return generate_main(argv)


# -- commands ------------------------------------------------------------------------------------------------


def _simulation(args: argparse.Namespace) -> Simulation:
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    return Simulation(random.Random(seed), args.speed, min(max(args.fail_rate or 0.0, 0.0), 1.0))


def _finish(args: argparse.Namespace, inv: Invocation, body: dict[str, Any], text: str) -> int:
    """Print the response (text or JSON with ``meta``) and return the exit code."""
    ok = inv.error is None and not inv.exit_code
    if args.output == "json":
        response = {"ok": ok, **body}
        if inv.error is not None:
            response["error"] = inv.error
        response["meta"] = inv.meta()
        sys.stdout.write(orjson.dumps(response).decode() + "\n")
    else:
        inv.freeze()
        status = (
            "ok" if ok else f"FAILED: {inv.error['message'] if inv.error else 'exit ' + str(inv.exit_code)}"
        )
        sys.stdout.write(
            f"{printable(text)}: {printable(status)} in {inv.duration_ms:.0f} ms\n"
            f"  request {inv.request_id}  trace {printable(inv.trace_id)}\n"
        )
    sys.stdout.flush()
    return 0 if ok else (inv.exit_code or 1)


def _run_simulated(sim: Simulation, inv: Invocation, command: str) -> None:
    try:
        sim.run_steps(command)
    except StepFailedError as exc:
        inv.fail(str(exc), error_type="StepFailed")


def _deploy(args: argparse.Namespace, inv: Invocation) -> int:
    sim = _simulation(args)
    release = args.release or f"1.{sim.rng.randint(0, 9)}.{sim.rng.randint(0, 20)}"
    _run_simulated(sim, inv, "deploy")
    body: dict[str, Any] = {"env": args.env, "service": args.service, "version": release, "steps": sim.steps}
    if args.verify and inv.error is None:
        child = _run_child(
            "verify", "--env", args.env, "--service", args.service, *_child_options(args, sim.child_seed())
        )
        body["verify"] = child
        if not child.get("ok"):
            inv.fail(
                f"verification failed: {child.get('error', {}).get('message', 'unknown')}",
                error_type="VerifyFailed",
            )
    return _finish(args, inv, body, f"deploy {args.service} {release} to {args.env}")


def _verify(args: argparse.Namespace, inv: Invocation) -> int:
    sim = _simulation(args)
    _run_simulated(sim, inv, "verify")
    body = {"env": args.env, "service": args.service, "steps": sim.steps}
    return _finish(args, inv, body, f"verify {args.service} in {args.env}")


def _rollback(args: argparse.Namespace, inv: Invocation) -> int:
    sim = _simulation(args)
    target = args.target or f"1.{sim.rng.randint(0, 9)}.{sim.rng.randint(0, 20)}"
    _run_simulated(sim, inv, "rollback")
    body = {"env": args.env, "service": args.service, "version": target, "steps": sim.steps}
    return _finish(args, inv, body, f"rollback {args.service} in {args.env} to {target}")


def _status(args: argparse.Namespace, inv: Invocation) -> int:
    sim = _simulation(args)
    _run_simulated(sim, inv, "status")
    services = {name: f"1.{sim.rng.randint(0, 9)}.{sim.rng.randint(0, 20)}" for name in SERVICES}
    body = {"env": args.env, "services": services}
    return _finish(args, inv, body, f"status of {args.env}")


def _child_options(args: argparse.Namespace, seed: int) -> list[str]:
    fail_rate = str(args.fail_rate or 0.0)
    return ["-o", "json", "--seed", str(seed), "--fail-rate", fail_rate, "--speed", str(args.speed)]


def _run_child(*argv: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m auditview.demo ARGV`` as a child process and return its JSON response."""
    completed = subprocess.run(
        [sys.executable, "-m", "auditview.demo", *argv],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    try:
        response = orjson.loads(completed.stdout)
    except orjson.JSONDecodeError:
        message = completed.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit {completed.returncode}"
        return {
            "ok": False,
            "exit_code": completed.returncode,
            "error": {"type": "ChildFailed", "message": message},
        }
    if not isinstance(response, dict):
        return {
            "ok": False,
            "exit_code": completed.returncode,
            "error": {"type": "ChildFailed", "message": "bad output"},
        }
    response["exit_code"] = completed.returncode
    return response


# -- agent ---------------------------------------------------------------------------------------------------


class _StopRequestedError(Exception):
    pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError


def _agent(args: argparse.Namespace) -> int:
    """Simulate an AI agent session; each sequence is one trace of child processes. Not itself recorded."""
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    fail_rate = args.fail_rate if args.fail_rate is not None else 0.15
    envs = args.envs or list(ENVIRONMENTS)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    sequences: list[dict[str, Any]] = []
    params = {"sequences": args.sequences, "pace": args.pace, "envs": envs, "seed": seed}
    with AUDITOR.invocation("agent", params, trace_id=args.trace_id, record=False) as inv:
        try:
            number = 0
            while args.sequences <= 0 or number < args.sequences:
                number += 1
                sequences.append(_agent_sequence(args, rng, envs, fail_rate, number))
        except (_StopRequestedError, KeyboardInterrupt):
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        if args.output == "json":
            body = {"ok": True, "sequences": sequences, "meta": inv.meta()}
            sys.stdout.write(orjson.dumps(body).decode() + "\n")
    return 0


def _agent_sequence(
    args: argparse.Namespace, rng: random.Random, envs: list[str], fail_rate: float, number: int
) -> dict[str, Any]:
    # Named as an agent would name them: one session, one trace id per operation.
    session = f"agent-session-{args.session}"
    trace_id = f"{session}-seq-{number}-{new_trace_id()[:4]}"
    env = dict(os.environ)
    for name in (ENV_PARENT_REQUEST_ID, ENV_TRACEPARENT, f"{tool_env_prefix(TOOL)}_TRACE_ID"):
        env.pop(name, None)
    env[ENV_TRACE_ID] = trace_id
    env.setdefault(ENV_OPERATOR, session)
    target_env = rng.choice(envs)
    service = rng.choice(SERVICES)
    release = f"1.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
    common = ["--env", target_env, "--service", service]
    plan: list[tuple[str, list[str]]] = [("deploy", ["--version", release]), ("verify", [])]
    steps: list[dict[str, Any]] = []
    failed = False
    for command, extra in plan:
        if failed:
            break
        options = ["-o", "json", "--seed", str(rng.randrange(2**31))]
        options += ["--fail-rate", str(fail_rate), "--speed", str(args.speed)]
        response = _run_child(command, *common, *extra, *options, env=env)
        steps.append(_agent_step(command, response))
        failed = not response.get("ok")
        _pace(args.pace, rng)
    if failed:
        reason = ["--reason", f"{steps[-1]['command']} failed"]
        options = ["-o", "json", "--seed", str(rng.randrange(2**31)), "--fail-rate", str(fail_rate / 3)]
        response = _run_child("rollback", *common, *reason, *options, "--speed", str(args.speed), env=env)
        steps.append(_agent_step("rollback", response))
        _pace(args.pace, rng)
    if args.output == "text":
        summary = " → ".join(f"{s['command']}({'ok' if s['ok'] else 'FAILED'})" for s in steps)
        sys.stdout.write(
            f"sequence {number} trace {trace_id}: {service} {release} to {target_env}: {summary}\n"
        )
        sys.stdout.flush()
    return {"trace_id": trace_id, "env": target_env, "service": service, "version": release, "steps": steps}


def _agent_step(command: str, response: dict[str, Any]) -> dict[str, Any]:
    meta = response.get("meta") if isinstance(response.get("meta"), dict) else {}
    return {
        "command": command,
        "ok": bool(response.get("ok")),
        "request_id": meta.get("request_id") if meta else None,
        "duration_ms": meta.get("duration_ms") if meta else None,
    }


def _pace(seconds: float, rng: random.Random) -> None:
    if seconds > 0:
        time.sleep(seconds * rng.uniform(0.5, 1.5))

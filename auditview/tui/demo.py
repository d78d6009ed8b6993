"""``auditview --demo``: live traffic for a newcomer, in a temporary directory, with the app open on it.

It writes half an hour of history with the demo generator (``auditview.demo.generate``, ending now), starts
the demo tool's ``agent`` command in the background (``python -m auditview.demo agent``, with
``DEMO_AUDIT_LOG`` pointing into the same directory) so records keep arriving — deploys, verifies, rollbacks,
slow steps, failures — and opens the app on the directory. The child is stopped and the directory removed
when the app exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from auditview.tui.app import AppOptions

__all__ = ["run_demo", "start_demo_traffic", "stop_child"]

HISTORY_RECORDS: Final = 3_000


def start_demo_traffic(directory: Path, *, history: int = HISTORY_RECORDS) -> subprocess.Popen[bytes]:
    """Write the history, then start the agent writing live records into ``directory/demo/audit.jsonl``."""
    env = dict(os.environ)
    if history:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "auditview.demo.generate",
                "--records",
                str(history),
                "--seed",
                "7",
                "--out-dir",
                str(directory / "history"),
                "--end",
                "now",
                "--quiet",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    live = directory / "demo" / "audit.jsonl"
    live.parent.mkdir(parents=True, exist_ok=True)
    live.touch()
    env["DEMO_AUDIT_LOG"] = str(live)
    return subprocess.Popen(
        [sys.executable, "-m", "auditview.demo", "agent", "--sequences", "0", "--pace", "0.4"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """Stop the agent and the steps it started (its own process group), politely first."""
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=3)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=3)


def run_demo(options: AppOptions) -> int:
    """Run the demo traffic and the app on it; clean up on exit."""
    from auditview.tui.app import create_app

    with tempfile.TemporaryDirectory(prefix="auditview-demo-") as tmp:
        directory = Path(tmp)
        child = start_demo_traffic(directory)
        try:
            app = create_app(replace(options, paths=[str(directory)], demo=False, follow=True))
            result = app.run()
            return int(result or app.return_code or 0)
        finally:
            stop_child(child)

"""``auditview --demo``: live traffic for a newcomer, in a temporary directory, for the app to open.

``demo_traffic`` writes half an hour of history with the demo generator (``auditview.demo.generate``, ending
now), starts the demo tool's ``agent`` command in the background (``python -m auditview.demo agent``, with
``DEMO_AUDIT_LOG`` pointing into the same directory) so records keep arriving — deploys, verifies, rollbacks,
slow steps, failures — and yields the directory; ``app.run_app`` opens the app on it. The child is stopped and
the directory removed when the app exits. This module knows nothing of the app (no import circle).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = ["demo_traffic", "start_demo_traffic", "stop_child"]

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


@contextmanager
def demo_traffic() -> Iterator[Path]:
    """A temporary directory with the demo history and live agent traffic; both cleaned up on exit."""
    with tempfile.TemporaryDirectory(prefix="auditview-demo-") as tmp:
        directory = Path(tmp)
        child = start_demo_traffic(directory)
        try:
            yield directory
        finally:
            stop_child(child)

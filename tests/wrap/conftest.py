"""Helpers for the ``auditview run`` tests: run the wrapper as a process and read the records it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

#: The wrapper as users start it (``python -m auditview`` is the ``auditview`` command).
RUN = (sys.executable, "-m", "auditview", "run")

#: A child that prints the propagation variables it got, as one JSON object.
PRINT_ENV = (
    sys.executable,
    "-c",
    "import json, os; print(json.dumps({k: os.environ.get(k) for k in"
    " ('TOOL_TRACE_ID', 'TOOL_PARENT_REQUEST_ID', 'TRACEPARENT', 'AUDITVIEW_RUN_DEPTH')}))",
)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """The ``--log`` path of a test."""
    return tmp_path / "log" / "audit.jsonl"


def wrapped(
    options: Sequence[str],
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``auditview run OPTIONS -- COMMAND`` and wait for it (output captured as text)."""
    return subprocess.run(
        [*RUN, *options, "--", *command],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def records(path: Path) -> list[dict[str, Any]]:
    """The records of the log at ``path`` (none when it does not exist)."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def only_record(path: Path) -> dict[str, Any]:
    """The one record of the log at ``path``."""
    found = records(path)
    assert len(found) == 1, found
    return found[0]

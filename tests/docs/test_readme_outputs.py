"""The README's incident examples are real output: each block marked ``<!-- real-output: ARGS -->`` is what
``auditview ARGS`` prints on ``sample_logs/`` today (standard output only, 120 columns, UTC, no cache).

``python -m tests.docs.test_readme_outputs`` rewrites those blocks from the current code; the test fails when
the README and the code disagree, so an example can never go stale unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: ``<!-- real-output: ARGS -->`` (``pretty``: the JSON output indented for reading; ``head=N``: only the
#: first N lines are shown), then a fenced block whose first line is ``$ auditview ARGS`` (so a block
#: can never run on into the next one).
MARKER = re.compile(
    r"<!-- real-output(?P<pretty> pretty)?(?: head=(?P<head>\d+))?: (?P<args>[^\n]*?) -->\n"
    r"(?P<fence>`{3,})[a-z]*\n(?P<body>\$ auditview [^\n]*(?:\n.*?)?)\n(?P=fence)\n",
    re.DOTALL,
)


def run_example(args: str, head: int | None, *, pretty: bool = False) -> str:
    """What the README shows for ``auditview ARGS``: the command line, then its standard output."""
    env = {**os.environ, "COLUMNS": "120", "TZ": "UTC", "AUDITVIEW_CACHE": "0", "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "auditview", *shlex.split(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    out = json.dumps(json.loads(done.stdout), indent=2) if pretty else done.stdout
    lines = out.rstrip("\n").split("\n")
    if head is not None and len(lines) > head:
        lines = [*lines[:head], "..."]
    return "\n".join([f"$ auditview {args}", *lines])


def examples(text: str) -> list[re.Match[str]]:
    return list(MARKER.finditer(text))


def test_the_readme_has_real_output_examples() -> None:
    """The incident section keeps its examples (diff, report, findings, OTLP): the check below runs."""
    found = {match["args"].split()[0] for match in examples(README.read_text(encoding="utf-8"))}
    assert {"diff", "report", "traces", "trace", "export"} <= found


@pytest.mark.parametrize(
    "match", examples(README.read_text(encoding="utf-8")), ids=lambda match: match["args"][:60]
)
def test_readme_example_is_what_the_command_prints(match: re.Match[str]) -> None:
    head = int(match["head"]) if match["head"] else None
    assert match["body"] == run_example(match["args"], head, pretty=bool(match["pretty"]))


def update() -> None:
    """Rewrite every marked block of the README from the current code."""
    text = README.read_text(encoding="utf-8")

    def fill(match: re.Match[str]) -> str:
        head = int(match["head"]) if match["head"] else None
        body = run_example(match["args"], head, pretty=bool(match["pretty"]))
        fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", body))])
        prefix = text[match.start() : match.start("fence")]
        return f"{prefix}{fence}console\n{body}\n{fence}\n"

    README.write_text(MARKER.sub(fill, text), encoding="utf-8")


if __name__ == "__main__":
    update()

"""The README's writer examples run as shown: every Python block of "Instrument a tool" is a whole program,
saved under the name its first line gives, run in a subprocess; the tools score 3 with ``auditview check``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from auditview.grade import check

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Instrument a tool: `auditview.writer`"
TOOLS = ("anytool.py", "mytool.py", "mytool_click.py")


def section_blocks() -> dict[str, str]:
    """The fenced python blocks of the section, by the file name each one's first line gives."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.index("\n## ", start + 1)
    blocks: dict[str, str] = {}
    for block in re.findall(r"^```python\n(.*?)^```$", text[start:end], re.S | re.M):
        first = block.splitlines()[0]
        match = re.match(r"# (\w+\.py)\b", first)
        assert match is not None, f"a python block does not start with '# NAME.py': {first!r}"
        blocks[match[1]] = block
    return blocks


@pytest.fixture
def programs(tmp_path: Path) -> Path:
    """The section's blocks saved as files in a fresh directory."""
    for name, block in section_blocks().items():
        (tmp_path / name).write_text(block, encoding="utf-8")
    (tmp_path / "xdg").mkdir()
    return tmp_path


def _run(directory: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "XDG_DATA_HOME": str(directory / "xdg"), **env}
    return subprocess.run(
        [sys.executable, *argv], cwd=directory, env=environ, capture_output=True, text=True, timeout=120
    )


def test_the_section_has_whole_programs() -> None:
    assert set(section_blocks()) == {*TOOLS, "test_mytool.py"}


@pytest.mark.parametrize("name", TOOLS)
def test_readme_tool_runs_as_shown(programs: Path, name: str) -> None:
    """`TOOL_TRACE_ID=test-123 python NAME deploy --env staging -o json` prints meta with the trace id and
    appends one record; text output works; `audit-log` lists the record."""
    done = _run(programs, name, "deploy", "--env", "staging", "-o", "json", TOOL_TRACE_ID="test-123")
    assert done.returncode == 0, done.stderr
    body = orjson.loads(done.stdout)
    assert (body["ok"], body["meta"]["trace_id"], body["meta"]["command"]) == (True, "test-123", "deploy")
    text = _run(programs, name, "deploy", "--env", "prod")
    assert (text.returncode, text.stdout) == (0, "deployed to prod\n")
    listed = _run(programs, name, "audit-log", "--output", "jsonl")
    records = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert [r["request_id"] for r in records][:1] == [body["meta"]["request_id"]]
    assert len(records) == 2


@pytest.mark.parametrize("name", ["mytool.py", "mytool_click.py"])
def test_readme_adapters_record_a_wrong_call(programs: Path, name: str) -> None:
    """A missing required option exits 2 and is in the audit log (UsageError)."""
    wrong = _run(programs, name, "deploy")
    assert wrong.returncode == 2
    listed = _run(programs, name, "audit-log", "--output", "jsonl")
    (record,) = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert (record["exit_code"], record["error"]["type"], record["params"]) == (
        2,
        "UsageError",
        {"argv": ["deploy"]},
    )


@pytest.mark.parametrize("name", TOOLS)
def test_readme_tools_score_3(programs: Path, name: str) -> None:
    """`auditview check -- python NAME deploy --env staging -o json` gives every README tool score 3."""
    report = check([sys.executable, name, "deploy", "--env", "staging", "-o", "json"], cwd=str(programs))
    assert report.score == 3, [c.to_json() for c in report.conditions]


def test_readme_test_example_passes(programs: Path) -> None:
    """The "Testing your tool" block passes under pytest, next to mytool.py."""
    done = _run(programs, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mytool.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout

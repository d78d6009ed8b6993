"""The README's Screenshots section shows every screen the screenshot script makes, and only those."""

from __future__ import annotations

import re
from pathlib import Path

from auditview.tui.screenshots import SHOTS

REPO = Path(__file__).resolve().parents[2]


def test_every_screenshot_is_in_the_readme() -> None:
    """Each ``SHOTS`` name has its ``screenshots/<name>.svg`` committed and shown in the Screenshots section,
    which shows no other."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Screenshots\n", 1)[1].split("\n## ", 1)[0]
    shown = set(re.findall(r"\]\(screenshots/([\w-]+)\.svg\)", section))
    assert shown == set(SHOTS)
    assert all((REPO / "screenshots" / f"{name}.svg").is_file() for name in SHOTS)

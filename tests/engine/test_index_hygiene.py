"""The engine modules load no UI library: importing them never pulls in textual, rich or click."""

from __future__ import annotations

import json
import subprocess
import sys


def test_engine_imports_no_ui_library() -> None:
    """Importing auditview.core.index, auditview.core.parse, auditview.core.exporters.jsonl and the live
    view's engine (auditview.core.live, auditview.core.view) loads no textual, rich or click."""
    code = (
        "import sys, json\n"
        "import auditview.core.index, auditview.core.parse, auditview.core.exporters.jsonl\n"
        "import auditview.core.live, auditview.core.view\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    assert "polars" in loaded
    assert not loaded & {"textual", "rich", "click"}

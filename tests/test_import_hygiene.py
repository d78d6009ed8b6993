"""Layering is a checked fact: the writer and the engine import no UI library (the writer no polars)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after_import(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


def test_writer_imports_only_stdlib_and_orjson() -> None:
    """Importing the writer loads no polars, textual, rich, click or pendulum."""
    loaded = _modules_after_import("import auditview.writer")
    heavy = {"polars", "textual", "rich", "click", "pendulum"}
    assert not {name.split(".")[0] for name in loaded} & heavy


@pytest.mark.parametrize(
    "module",
    [
        "auditview.contract",
        "auditview.source",
        "auditview.source.follow",
        "auditview.source.storage",
        "auditview.source.tail",
        "auditview.text.timeparse",
        "auditview.text.sanitize",
    ],
)
def test_source_layer_imports_no_polars_or_ui(module: str) -> None:
    """The contract and source layers never load polars or a UI library."""
    loaded = _modules_after_import(f"import {module}")
    assert not {name.split(".")[0] for name in loaded} & {"polars", "textual", "rich", "click"}

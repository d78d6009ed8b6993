"""Export round trips (hypothesis): every exported line is its source line byte for byte, in time order, and
loading the export gives the same records again."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auditview.core.exporters.jsonl import export_lines
from auditview.core.index import AuditIndex
from auditview.reader_contract import parse_time_text
from auditview.source.types import SourceFile

TEXT = st.text(st.characters(codec="utf-8"), max_size=6)


@st.composite
def lines(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A record line in one of several producers' styles (some fields left out), or a junk line; with whether
    the reader contract makes it a record."""
    if draw(st.integers(0, 6)) == 0:
        junk = [b"junk", b"{}", b"[1]", b'{"timestamp": true}', b'{"ts": "noon"}']
        return draw(st.sampled_from(junk)), False
    record: dict[str, Any] = {
        "timestamp": f"2026-11-27T10:{draw(st.integers(0, 59)):02d}:{draw(st.integers(0, 59)):02d}"
        + draw(st.sampled_from(["Z", ".5Z", "+01:00", ".123456-02:30"])),
        "tool": draw(TEXT),
        "command": "c",
        "params": draw(st.dictionaries(TEXT, st.one_of(TEXT, st.integers(), st.booleans()), max_size=3)),
        "exit_code": draw(st.integers(-5, 300)),
        "duration_ms": draw(st.floats(0, 1e6)),
        "request_id": draw(TEXT),
        "trace_id": draw(TEXT),
        "version": "1",
        "operator": draw(TEXT),
    }
    if draw(st.booleans()):
        record["note"] = draw(TEXT)
    # other producers leave fields out (the tool stays: a re-read file has another name to derive it from)
    for key in draw(st.lists(st.sampled_from(["command", "exit_code", "request_id", "trace_id", "version"]))):
        record.pop(key, None)
    style = draw(st.integers(0, 2))
    text = json.dumps(record, ensure_ascii=style == 0, separators=(",", ":") if style < 2 else None)
    return text.encode(), True


@settings(max_examples=60, deadline=None)
@given(st.lists(lines(), min_size=0, max_size=30))
def test_export_round_trips_byte_for_byte(drawn: list[tuple[bytes, bool]]) -> None:
    """The export holds exactly the valid lines, verbatim, sorted by time then offset; re-reading agrees."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "audit.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line, _ in drawn))
        index = AuditIndex.load([SourceFile(path, str(path))])
        out = io.BytesIO()
        result = export_lines(index, index.frame, out)
        exported = out.getvalue().split(b"\n")[:-1] if out.getvalue() else []
        valid_lines = [
            (parse_time_text(json.loads(line)["timestamp"])[0], n, line)
            for n, (line, ok) in enumerate(drawn)
            if ok
        ]
        assert exported == [line for _, _, line in sorted(valid_lines)]
        assert result.count == len(exported) == index.frame.height
        assert len(index.rejects) == sum(1 for _, valid in drawn if not valid)
        again_path = Path(directory) / "export.jsonl"
        again_path.write_bytes(out.getvalue())
        again = AuditIndex.load([SourceFile(again_path, str(again_path))])
        columns = [c for c in index.frame.columns if c not in {"file_id", "offset", "line"}]
        assert again.frame.select(columns).equals(index.frame.select(columns))
        assert again.rejects == []

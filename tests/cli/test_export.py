"""``auditview export``: byte-exact lines, filters, atomic ``--to`` refusing to overwrite, the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from auditview.main import main
from tests.cli.conftest import DEPLOY_RECORDS, VERIFY_RECORDS, line_of, record


def _expected(request_ids: list[str] | None = None) -> bytes:
    """The source lines of the fixture's valid records, by start time, optionally only some of them."""
    records = sorted(DEPLOY_RECORDS + VERIFY_RECORDS, key=lambda r: r["timestamp"])
    if request_ids is not None:
        records = [r for r in records if r["request_id"] in request_ids]
    return b"".join(line_of(r, spaced=r["request_id"] == "req-02") + b"\n" for r in records)


def test_export_to_stdout_is_byte_identical_and_time_ordered(
    logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Each exported line is the exact source line (even non-compact JSON), ordered by timestamp."""
    assert main(["export", str(logs)]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == _expected()
    assert b"1 malformed line skipped" in captured.err


def test_export_filter_trace_and_time_range(logs: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """``--filter``, ``--trace`` and ``--since`` narrow the slice; the lines stay byte-identical."""
    main(["export", str(logs), "--filter", "duration_ms>1s"])
    assert capsysbinary.readouterr().out == _expected(["req-01", "req-02", "req-05"])
    main(["export", str(logs), "--trace", "trace-a", "--since", "2026-11-20T09:00:02Z"])
    assert capsysbinary.readouterr().out == _expected(["req-02", "req-03", "req-04", "req-05"])


def test_export_with_no_match_is_empty_and_succeeds(
    logs: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """An export that matches nothing prints nothing and exits 0."""
    assert main(["export", str(logs), "--trace", "no-such-trace"]) == 0
    assert capsysbinary.readouterr().out == b""


def test_export_to_file_atomically_with_manifest(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--to`` writes the slice; ``--manifest`` records sources, counts and the sha256 of those bytes."""
    target = tmp_path / "out" / "slice.jsonl"
    target.parent.mkdir()
    manifest = tmp_path / "out" / "slice.manifest.json"
    argv = [
        "export",
        str(logs),
        "--filter",
        "tool=verifier",
        "--to",
        str(target),
        "--manifest",
        str(manifest),
    ]
    assert main([*argv, "-o", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["data"]
    data = target.read_bytes()
    assert data == _expected(["req-04", "req-05"])
    digest = hashlib.sha256(data).hexdigest()
    assert summary["count"] == 2
    assert summary["sha256"] == digest
    assert summary["bytes"] == len(data)
    doc = json.loads(manifest.read_text())
    assert doc["sha256"] == digest
    assert doc["count"] == 2
    assert doc["filter"] == "tool=verifier"
    assert [Path(s["path"]).parent.name for s in doc["sources"]] == ["verifier"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["slice.jsonl", "slice.manifest.json"]


def test_export_refuses_to_overwrite_without_force(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing ``--to`` file is left untouched (exit 1) unless ``--force`` is given."""
    target = tmp_path / "slice.jsonl"
    target.write_bytes(b"precious\n")
    assert main(["export", str(logs), "--to", str(target)]) == 1
    assert "exists" in capsys.readouterr().err
    assert target.read_bytes() == b"precious\n"
    assert main(["export", str(logs), "--to", str(target), "--force", "-o", "table"]) == 0
    assert target.read_bytes() == _expected()
    assert "exported 7 records" in capsys.readouterr().out


def test_manifest_and_force_need_to(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--manifest`` or ``--force`` without ``--to`` is a usage error."""
    assert main(["export", str(logs), "--manifest", "m.json"]) == 2
    assert main(["export", str(logs), "--force"]) == 2
    assert "--manifest needs --to" in capsys.readouterr().err


def test_export_json_mode_wraps_the_parsed_records(
    logs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``export -o json`` gives the parsed records (unknown fields kept) in the envelope with meta."""
    monkeypatch.setenv("TOOL_TRACE_ID", "ticket-42")
    assert main(["export", str(logs), "--trace", "trace-a", "-o", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["meta"]["trace_id"] == "ticket-42"
    assert [r["request_id"] for r in body["data"]] == ["req-01", "req-02", "req-03", "req-04", "req-05"]
    assert body["data"][1]["hostname_extra"] == "kept"


def test_exported_slice_is_valid_auditview_input(
    logs: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A slice written by export reads back through auditview with the same records and no rejects."""
    target = tmp_path / "slice.jsonl"
    assert main(["export", str(logs), "--to", str(target), "--strict"]) == 65
    assert main(["export", str(logs), "--to", str(target)]) == 0
    capsysbinary.readouterr()
    assert main(["export", str(target), "--strict"]) == 0
    assert capsysbinary.readouterr().out == target.read_bytes()


def test_manifest_names_the_trace_selection(logs: Path, tmp_path: Path) -> None:
    """With ``--trace`` the manifest's filter says which trace was exported, together with the filter."""
    manifest = tmp_path / "m.json"
    argv = ["export", str(logs), "--trace", "trace-a", "--filter", "exit_code!=0"]
    assert main([*argv, "--to", str(tmp_path / "s.jsonl"), "--manifest", str(manifest)]) == 0
    assert json.loads(manifest.read_text())["filter"] == '(exit_code!=0) and trace_id="trace-a"'


PUSHDOWN_CASES = [
    ["--filter", "duration_ms>1s"],
    ["--filter", "not (exit_code=0) or command=plan"],
    ["--filter", "tool in (verifier) and duration<1s"],
    ["--filter", "deployctl and not failed"],
    ["--trace", "trace-a", "--since", "2026-11-20T09:00:02Z"],
    ["--until", "2026-11-20T09:00:03Z", "--filter", "operator=alice"],
    ["--filter", "params.env=prod"],
]


@pytest.mark.parametrize("argv", PUSHDOWN_CASES)
def test_pushdown_exports_the_same_bytes_as_checking_every_line(
    logs: Path, argv: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Parsing only the lines the filter may match exports exactly what checking every line exports."""
    sample = Path(__file__).resolve().parents[2] / "sample_logs"
    exported = []
    for paths in ([str(logs)], [str(sample)]):
        assert main(["export", *paths, *argv]) == 0
        pushed = capsysbinary.readouterr().out
        assert main(["export", *paths, *argv, "--check-all"]) == 0
        assert capsysbinary.readouterr().out == pushed
        exported.append(pushed)
    assert exported[0]  # every case selects something from the fixture


def test_pushdown_reports_only_the_malformed_lines_it_checked(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed line the filter rules out by its text is not reported; ``--check-all`` and ``--strict``
    check it. The note says which lines were checked."""
    path = logs / "verifier" / "audit.jsonl"
    path.write_bytes(path.read_bytes() + b'{"duration_ms": 5, "cut off\n')
    assert main(["export", str(logs), "--filter", "duration_ms>1s"]) == 0
    err = capsys.readouterr().err
    assert "1 malformed line among the lines the filter could match skipped" in err  # "this is not json"
    assert main(["export", str(logs), "--filter", "duration_ms>1s", "--check-all"]) == 0
    assert "2 malformed lines skipped" in capsys.readouterr().err
    assert main(["export", str(logs), "--filter", "duration_ms>1s", "--strict"]) == 65
    assert "2 malformed lines" in capsys.readouterr().err


def test_audit_log_selectors_push_down_to_the_same_lines(
    logs: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """``audit-log --command/--trace-id --since`` gives the same bytes with and without pushdown."""
    argv = ["audit-log", str(logs), "--command", "plan", "--trace-id", "trace-a", "--since", "2026-11-01"]
    assert main(argv) == 0
    pushed = capsysbinary.readouterr().out
    monkeypatch.setenv("AUDITVIEW_PUSHDOWN", "0")
    assert main(argv) == 0
    assert capsysbinary.readouterr().out == pushed == line_of(DEPLOY_RECORDS[0]) + b"\n"


def test_stats_with_a_filter_pushes_down_to_the_same_figures(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``stats --filter/--since`` counts the same records whether or not every line is checked."""
    sample = Path(__file__).resolve().parents[2] / "sample_logs"
    for argv in (["--filter", "duration_ms>1s or failed"], ["--since", "2026-11-20T09:00:01Z"]):
        for paths in ([str(logs)], [str(sample)]):
            assert main(["stats", *paths, *argv, "-o", "json"]) == 0
            pushed = json.loads(capsys.readouterr().out)["data"]
            assert main(["stats", *paths, *argv, "-o", "json", "--check-all"]) == 0
            assert json.loads(capsys.readouterr().out)["data"] == pushed


def test_a_filter_on_slow_steps_is_not_pushed_down(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """``slow`` compares a step with the usual duration of its tool and command in the loaded records: ruling
    the other records out by their text would change that, so such a filter checks every line."""
    path = tmp_path / "audit.jsonl"
    records = [
        record(at_s=i, duration_ms=100 + i, request_id=f"req-{i:02d}", trace_id=f"t-{i}") for i in range(30)
    ]
    records.append(record(at_s=40, duration_ms=1000, request_id="req-slow", trace_id="t-slow"))
    path.write_bytes(b"".join(line_of(r) + b"\n" for r in records))
    for argv in (["--filter", "duration_ms>500ms and slow"], ["--filter", "slow", "--trace", "t-slow"]):
        assert main(["export", str(path), *argv]) == 0
        assert capsysbinary.readouterr().out == line_of(records[-1]) + b"\n"


def test_json_envelope_says_how_many_lines_pushdown_left_unchecked(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent reading ``-o json`` can tell that ``rejects`` covers only the lines that were parsed."""
    assert main(["export", str(logs), "--filter", "duration_ms>1s", "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["unchecked"] == 4  # req-03, req-04, req-10 and req-20 take at most 700 ms
    assert document["rejects"] == 1
    assert main(["export", str(logs), "--filter", "duration_ms>1s", "-o", "json", "--check-all"]) == 0
    assert "unchecked" not in json.loads(capsys.readouterr().out)


def test_export_target_that_cannot_be_written_fails_before_loading(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory, or a file in a directory that does not exist: a plain message and exit 1, nothing written,
    and before the inputs are read (a missing input is not even looked at)."""
    missing_input = str(tmp_path / "no-such-log.jsonl")
    assert main(["export", missing_input, "--to", str(tmp_path)]) == 1
    assert f"{tmp_path} is a directory" in capsys.readouterr().err
    assert main(["export", str(logs), "--to", str(tmp_path), "--force"]) == 1
    assert "is a directory" in capsys.readouterr().err
    target = tmp_path / "nowhere" / "slice.jsonl"
    assert main(["export", missing_input, "--to", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {target}: the directory {target.parent} does not exist" in err
    assert "Traceback" not in err
    manifest_dir = tmp_path / "m"
    manifest_dir.mkdir()
    out = tmp_path / "slice.jsonl"
    assert main(["export", str(logs), "--to", str(out), "--manifest", str(manifest_dir)]) == 1
    assert not out.exists()

"""The audit-log subcommand: order, filters, formats, rotated siblings, malformed lines, bad WHEN."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditview.contract import format_timestamp
from auditview.writer import Auditor


def _record(minutes_ago: float, command: str = "deploy", trace_id: str = "t1", **extra: Any) -> bytes:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    record = {
        "timestamp": format_timestamp(moment),
        "tool": "wtest",
        "command": command,
        "params": {},
        "exit_code": 0,
        "duration_ms": 1.5,
        "request_id": f"req-{minutes_ago}",
        "trace_id": trace_id,
        "version": "1",
        "operator": "me",
        **extra,
    }
    return orjson.dumps(record)


def _run(auditor: Auditor, *argv: str) -> tuple[int, bytes, str]:
    out, err = io.BytesIO(), io.StringIO()
    from auditview.writer.auditlog import run_audit_log

    code = run_audit_log(auditor, list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_jsonl_is_byte_for_byte_and_sorted_by_timestamp(auditor: Auditor, log_path: Path) -> None:
    """Lines are printed exactly as stored (odd spacing and unknown fields kept), oldest timestamp first."""
    log_path.parent.mkdir(parents=True)
    late, early = _record(1), _record(30, extra_field={"kept": True})
    spaced = _record(10).replace(b'"tool":', b'"tool" :  ')
    log_path.write_bytes(late + b"\n" + early + b"\n" + spaced + b"\n")
    code, out, err = _run(auditor, "-o", "jsonl")
    assert (code, err) == (0, "")
    assert out == early + b"\n" + spaced + b"\n" + late + b"\n"


def test_filters_and_last_n(auditor: Auditor, log_path: Path) -> None:
    """--since/--until/--trace-id/--command select records and -n keeps the most recent N, oldest first."""
    log_path.parent.mkdir(parents=True)
    lines = [
        _record(300, "deploy", "a"),
        _record(50, "verify", "a"),
        _record(40, "deploy", "b"),
        _record(5, "deploy", "a"),
    ]
    log_path.write_bytes(b"".join(line + b"\n" for line in lines))
    assert _run(auditor, "--since", "1h", "-o", "jsonl")[1] == b"".join(x + b"\n" for x in lines[1:])
    assert (
        _run(auditor, "--since", "1h", "--until", "10m", "-o", "jsonl")[1]
        == lines[1] + b"\n" + lines[2] + b"\n"
    )
    assert (
        _run(auditor, "--trace-id", "a", "--command", "deploy", "-o", "jsonl")[1]
        == lines[0] + b"\n" + lines[3] + b"\n"
    )
    assert _run(auditor, "-n", "2", "-o", "jsonl")[1] == lines[2] + b"\n" + lines[3] + b"\n"


def test_json_output_shape(auditor: Auditor, log_path: Path) -> None:
    """-o json prints {ok: true, data: [...], meta: {...}} with the audit-log invocation's meta."""
    with auditor.invocation("deploy", {"env": "prod"}) as inv:
        pass
    code, out, _ = _run(auditor, "-o", "json")
    body = orjson.loads(out)
    assert code == 0
    assert body["ok"] is True
    assert [r["request_id"] for r in body["data"]] == [inv.request_id]
    assert body["meta"]["command"] == "audit-log"
    assert body["meta"]["count"] == 1


def test_rotated_siblings_are_read(log_path: Path) -> None:
    """Records in audit.jsonl.N, .N.gz and .N.zst siblings are included, merged by time."""
    import gzip

    auditor = Auditor("wtest", "1", log_path=log_path)
    log_path.parent.mkdir(parents=True)
    import zstandard

    (log_path.parent / "audit.jsonl.3.zst").write_bytes(
        zstandard.ZstdCompressor().compress(_record(40) + b"\n")
    )
    (log_path.parent / "audit.jsonl.2.gz").write_bytes(gzip.compress(_record(30) + b"\n"))
    (log_path.parent / "audit.jsonl.1").write_bytes(_record(20) + b"\n")
    log_path.write_bytes(_record(10) + b"\n")
    out = _run(auditor, "-o", "jsonl")[1]
    assert out.count(b"\n") == 4
    ids = [orjson.loads(line)["request_id"] for line in out.splitlines()]
    assert ids == ["req-40", "req-30", "req-20", "req-10"]


def test_malformed_lines_are_skipped_with_a_located_warning(auditor: Auditor, log_path: Path) -> None:
    """Bad JSON, contract violations and a trailing fragment each give a file:line warning, no crash."""
    log_path.parent.mkdir(parents=True)
    good = _record(5)
    log_path.write_bytes(b"{not json\n" + good + b"\n" + b'{"tool": "x"}\n' + b"\x1b[31m\n" + b'{"partial')
    code, out, err = _run(auditor, "-o", "jsonl")
    assert code == 0
    assert out == good + b"\n"
    warnings = err.splitlines()
    assert len(warnings) == 4
    assert f"{log_path}:1:" in warnings[0]
    assert f"{log_path}:3:" in warnings[1]
    assert f"{log_path}:4:" in warnings[2]
    assert "incomplete" in warnings[3]
    assert "\x1b" not in err


@pytest.mark.parametrize("value", ["bogus", "1x", "", "-5m", "2026-13-45", "@abc", "tomorrowish"])
def test_bad_since_exits_2_with_the_accepted_forms(auditor: Auditor, value: str) -> None:
    """A WHEN that cannot be parsed exits 2 and says what is accepted."""
    from auditview.text.timeparse import WHEN_HELP

    code, out, err = _run(auditor, "--since", value)
    assert code == 2
    assert out == b""
    assert WHEN_HELP in err


def test_bad_options_exit_2(auditor: Auditor) -> None:
    """Unknown options and -n with a negative number exit 2."""
    assert _run(auditor, "--frobnicate")[0] == 2
    assert _run(auditor, "-n", "-1")[0] == 2
    assert _run(auditor, "-f", "-o", "json")[0] == 2


def test_table_escapes_control_characters(auditor: Auditor, log_path: Path) -> None:
    """-o table shows one row per record with control characters made visible."""
    with auditor.invocation("de\x1b[31mploy\nx"):
        pass
    code, out, _ = _run(auditor, "-o", "table")
    text = out.decode()
    assert code == 0
    assert "\x1b" not in text
    assert len(text.splitlines()) == 2
    assert "\\x1b" in text


def test_missing_log_prints_nothing(auditor: Auditor) -> None:
    """With no log file yet, jsonl prints nothing and exits 0."""
    assert _run(auditor, "-o", "jsonl") == (0, b"", "")


def test_follow_prints_new_records_and_survives_rotation(tmp_path: Path) -> None:
    """audit-log -f prints records appended later, including after the live file is rotated away."""
    import os
    import subprocess
    import sys
    import time

    log = tmp_path / "audit.jsonl"
    auditor = Auditor("wtest", "1", log_path=log, rotate_bytes=600, rotate_keep=3)
    with auditor.invocation("first"):
        pass
    code = (
        "import sys; from auditview.writer import Auditor\n"
        f"sys.exit(Auditor('wtest', '1', log_path={str(log)!r}).audit_log_main(['-f', '-o', 'jsonl']))\n"
    )
    follower = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=dict(os.environ))
    try:
        assert follower.stdout is not None
        assert orjson.loads(follower.stdout.readline())["command"] == "first"
        time.sleep(0.5)
        for name in ("second", "third"):  # the third rotates the file (600 bytes)
            with auditor.invocation(name, {"pad": "p" * 150}):
                pass
            time.sleep(0.4)
        seen = [orjson.loads(follower.stdout.readline())["command"] for _ in range(2)]
    finally:
        follower.kill()
        follower.wait()
    assert seen == ["second", "third"]
    assert (tmp_path / "audit.jsonl.1").exists()


class _Terminal(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_default_output_is_table_on_a_terminal_and_jsonl_otherwise(auditor: Auditor, log_path: Path) -> None:
    """Without -o, a terminal gets the table and a pipe gets the stored lines."""
    from auditview.writer.auditlog import run_audit_log

    with auditor.invocation("deploy"):
        pass
    terminal = _Terminal()
    assert run_audit_log(auditor, [], stdout=terminal, stderr=io.StringIO()) == 0
    assert terminal.getvalue().startswith(b"TIME (UTC)")
    assert _run(auditor)[1] == log_path.read_bytes()


def test_until_is_inclusive_like_the_engine(tmp_path: Path) -> None:
    """--until keeps a record that started exactly at WHEN, as the engine's time_range does."""
    log = tmp_path / "audit.jsonl"
    auditor = Auditor(tool="t", version="1", log_path=log)
    with auditor.invocation("one"):
        pass
    stamp = orjson.loads(log.read_bytes())["timestamp"]
    out = _run(auditor, "--until", stamp, "-o", "jsonl")[1]
    assert out.count(b"\n") == 1


# -- the reader contract: lines from other producers ---------------------------------------------------------

#: A line in the seed's hand-written shape: no tool, request_id, trace_id or version; blanks after : and ,.
SEED_LINE = (
    b'{"timestamp": "2024-03-11T14:30:00Z", "command": "deploy", "params": {"env": "staging"}, '
    b'"exit_code": 0, "duration_ms": 4521, "operator": "agent-session-42"}'
)


def test_a_foreign_line_in_the_seeds_shape_is_listed(auditor: Auditor, log_path: Path) -> None:
    """A line another producer appended (the seed's shape, an offset time) is a record like the writer's:
    byte for byte in jsonl, as written in json, with ``-`` for what it does not give in the table."""
    with auditor.invocation("status"):
        pass
    ours = log_path.read_bytes()
    offset = (
        b'{"timestamp": "2024-03-11T16:31:00+02:00", "command": "verify", "exit_code": 1, "error": "boom"}'
    )
    with log_path.open("ab") as handle:
        handle.write(SEED_LINE + b"\n" + offset + b"\n")
    code, out, err = _run(auditor, "-o", "jsonl")
    assert (code, err) == (0, "")
    assert out == SEED_LINE + b"\n" + offset + b"\n" + ours  # 14:30Z, then 16:31+02:00 = 14:31Z, then now
    body = orjson.loads(_run(auditor, "-o", "json")[1])
    assert body["data"][0] == orjson.loads(SEED_LINE)
    assert body["meta"]["count"] == 3
    assert body["meta"]["warnings"] == 0
    rows = _run(auditor, "-o", "table")[1].decode().splitlines()
    assert len(rows) == 4
    assert rows[1].split() == ["2024-03-11", "14:30:00.000", "deploy", "0", "4521.0", "ms", "-", "-"]
    assert rows[2].split() == ["2024-03-11", "14:31:00.000", "verify", "1", "-", "-", "-"]
    assert _run(auditor, "--command", "deploy", "-o", "jsonl")[1] == SEED_LINE + b"\n"


def test_a_field_warning_is_reported_and_the_record_kept(auditor: Auditor, log_path: Path) -> None:
    """An unusable field value costs the field, not the record: ``file:line: warning: reason`` on the warning
    stream, the line still printed, the field shown as unknown."""
    log_path.parent.mkdir(parents=True)
    fast = SEED_LINE.replace(b'"duration_ms": 4521', b'"duration_ms": "fast"')
    ours = _record(5)
    log_path.write_bytes(ours + b"\n" + fast + b"\n")
    code, out, err = _run(auditor, "-o", "jsonl")
    assert code == 0
    assert out == fast + b"\n" + ours + b"\n"
    assert err.splitlines() == [f"{log_path}:2: warning: duration_ms must be a number, not a string 'fast'"]
    code, out, err = _run(auditor, "-o", "table")
    assert "warning: duration_ms" in err
    assert out.decode().splitlines()[1].split()[3:5] == ["0", "-"]
    body = orjson.loads(_run(auditor, "-o", "json")[1])
    assert body["meta"]["warnings"] == 1
    assert body["data"][0]["duration_ms"] == "fast"


def test_a_non_object_line_is_still_skipped_with_its_reason(auditor: Auditor, log_path: Path) -> None:
    """Only a line that is no record is skipped: not an object, or no usable time; each says why."""
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"[" + SEED_LINE + b"]\n" + b'"text"\n' + b'{"command": "x"}\n' + SEED_LINE + b"\n")
    code, out, err = _run(auditor, "-o", "jsonl")
    assert code == 0
    assert out == SEED_LINE + b"\n"
    assert err.splitlines() == [
        f"warning: {log_path}:1: skipped: not a JSON object but an array",
        f"warning: {log_path}:2: skipped: not a JSON object but a string",
        f"warning: {log_path}:3: skipped: no time: none of timestamp, ts, time, @timestamp is present",
    ]


def test_filters_match_read_values_from_meta_and_aliases(auditor: Auditor, log_path: Path) -> None:
    """``--trace-id`` and ``--command`` match what the reader contract reads: a logged response's ``meta``,
    aliases (``ts``, ``cmd``, ``traceId``), not only the top-level keys."""
    log_path.parent.mkdir(parents=True)
    response = (
        b'{"ok": true, "data": {"replicas": 3}, "meta": {"timestamp": "2024-03-11T14:00:00Z", '
        b'"trace_id": "t-meta", "command": "scale", "duration_ms": 12}}'
    )
    aliased = b'{"ts": 1710165660, "cmd": "scale", "traceId": "t-alias", "exitCode": 0}'
    ours = _record(5, "scale", "t-other")
    log_path.write_bytes(response + b"\n" + aliased + b"\n" + ours + b"\n")
    assert _run(auditor, "--trace-id", "t-meta", "-o", "jsonl")[1] == response + b"\n"
    assert _run(auditor, "--trace-id", "t-alias", "-o", "jsonl")[1] == aliased + b"\n"
    both = _run(auditor, "--command", "scale", "-o", "jsonl")[1]
    assert both.splitlines() == [response, aliased, ours]  # the epoch 1710165660 is 2024-03-11 14:01:00Z
    rows = _run(auditor, "--trace-id", "t-meta", "-o", "table")[1].decode().splitlines()
    assert rows[1].split() == ["2024-03-11", "14:00:00.000", "scale", "0", "12.0", "ms", "t-meta", "-"]


def test_field_warnings_are_reported_for_the_records_shown(auditor: Auditor, log_path: Path) -> None:
    """A record that a filter leaves out does not report its field warning; a skipped line always does."""
    log_path.parent.mkdir(parents=True)
    fast = SEED_LINE.replace(b'"duration_ms": 4521', b'"duration_ms": "fast"')
    log_path.write_bytes(fast + b"\n" + b"[1]\n" + _record(5, "verify") + b"\n")
    code, out, err = _run(auditor, "--command", "verify", "-o", "jsonl")
    assert code == 0
    assert out.count(b"\n") == 1
    assert err.splitlines() == [f"warning: {log_path}:2: skipped: not a JSON object but an array"]


# -- -f: following from the exact place the first read stopped ---------------------------------------------


class _AppendAfterFirstPrint(io.BytesIO):
    """A stdout that appends a record to the log right after the first print is flushed, i.e. between the
    first read and the start of following, and ends the command (Ctrl-C) once that record was printed."""

    def __init__(self, auditor: Auditor) -> None:
        super().__init__()
        self.auditor = auditor
        self.appended = False

    def flush(self) -> None:
        if not self.appended:
            self.appended = True
            with self.auditor.invocation("late"):
                pass

    def write(self, data: Any) -> int:
        written = super().write(data)
        if b'"command":"late"' in self.getvalue():
            raise KeyboardInterrupt
        return written


def test_follow_loses_no_record_appended_between_the_first_read_and_following(
    auditor: Auditor, log_path: Path
) -> None:
    """``-f`` goes on from the exact byte (and inode) its first read stopped at: a record appended after the
    first print, before following started, is printed (it used to reopen the log at its end then: lost)."""
    import _thread
    import threading

    with auditor.invocation("early"):
        pass
    out = _AppendAfterFirstPrint(auditor)
    give_up = threading.Timer(8.0, _thread.interrupt_main)  # the old code would follow forever
    give_up.start()
    try:
        code = run_audit_log_quietly(auditor, ["-f", "-o", "jsonl"], out)
    finally:
        give_up.cancel()
    assert code == 0
    assert [orjson.loads(line)["command"] for line in out.getvalue().splitlines()] == ["early", "late"]


def run_audit_log_quietly(auditor: Auditor, argv: list[str], out: io.BytesIO) -> int:
    from auditview.writer.auditlog import run_audit_log

    return run_audit_log(auditor, argv, stdout=out, stderr=io.StringIO())


def test_follow_reads_a_log_that_does_not_exist_yet_and_its_rotation(tmp_path: Path) -> None:
    """``-f`` on a log not created yet prints its records once it appears, then follows a rename rotation;
    records of a sibling rotated away before following started are printed first."""
    import _thread
    import threading

    log = tmp_path / "logs" / "audit.jsonl"
    writer = Auditor("wtest", "1", log_path=log, rotate_bytes=700)
    reader = Auditor("wtest", "1", log_path=log)
    out = io.BytesIO()
    done = threading.Event()

    def write() -> None:
        time.sleep(0.3)
        for i in range(6):  # about three records a file: two rotations
            with writer.invocation(f"c{i}", {"pad": "p" * 100}):
                pass
        deadline = time.monotonic() + 8
        while out.getvalue().count(b"\n") < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        done.set()
        _thread.interrupt_main()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert run_audit_log_quietly(reader, ["-f", "-o", "jsonl"], out) == 0
    finally:
        thread.join()
    assert done.is_set()
    assert [orjson.loads(line)["command"] for line in out.getvalue().splitlines()] == [
        f"c{i}" for i in range(6)
    ]
    assert (tmp_path / "logs" / "audit.jsonl.1").exists()


# -- --until: inclusive, and said so everywhere ------------------------------------------------------------


def test_until_is_documented_as_inclusive_like_it_behaves() -> None:
    """``--until`` keeps a record that started exactly at WHEN (``test_until_is_inclusive_like_the_engine``),
    and the README's audit-log section, the writer's ``--help`` and auditview's ``--help`` all say so."""
    from auditview.cli.parser import build_parser as cli_parser
    from auditview.writer.auditlog import build_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### `audit-log`") : readme.index("### The demo tool")]
    assert "exclusive" not in section
    assert "`--since` and `--until` are both inclusive" in section
    for help_text in (build_parser("tool audit-log").format_help(), cli_parser("audit-log").format_help()):
        assert "only records that started at or before WHEN" in " ".join(help_text.split())

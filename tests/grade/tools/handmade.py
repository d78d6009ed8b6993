"""Score 3 by hand, standard library only (the contract in any language), with flaws to switch on.

``HANDMADE_FLAW`` breaks one condition: ``same-id`` (a fixed request id), ``own-trace`` (ignores
``TOOL_TRACE_ID``), ``no-duration``, ``twice`` (two records per invocation), ``rewrite`` (rewrites the
earlier records), ``no-log`` (writes nothing), ``hidden-trace`` (children do not see the trace).
"""

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

FLAW = os.environ.get("HANDMADE_FLAW", "")
data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
LOG = os.path.join(data_home, "handmade", "audit.jsonl")


def audit_log() -> int:
    try:
        with open(LOG, "rb") as handle:
            sys.stdout.buffer.write(handle.read())
    except FileNotFoundError:
        pass
    return 0


def deploy() -> int:
    started = time.monotonic()
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    request_id = "req-fixed" if FLAW == "same-id" else f"req-{uuid.uuid4()}"
    trace_id = os.environ.get("TOOL_TRACE_ID") or uuid.uuid4().hex
    if FLAW == "own-trace":
        trace_id = uuid.uuid4().hex
    child_env = {**os.environ, "TOOL_TRACE_ID": trace_id, "TOOL_PARENT_REQUEST_ID": request_id}
    if FLAW == "hidden-trace":
        del child_env["TOOL_TRACE_ID"]
    if os.environ.get("AUDITVIEW_CHILD_PROBE"):
        probe = 'set -C; env | grep "^TOOL_" > "$AUDITVIEW_CHILD_PROBE"'
        subprocess.run(["sh", "-c", probe], env=child_env, check=False)
    meta = {
        "request_id": request_id,
        "trace_id": trace_id,
        "duration_ms": round((time.monotonic() - started) * 1000, 3),
        "timestamp": timestamp,
        "command": "deploy",
        "version": "0.0.1",
    }
    if FLAW == "no-duration":
        del meta["duration_ms"]
    record = {"timestamp": timestamp, "tool": "handmade", "command": "deploy", "params": {}, "exit_code": 0}
    record.update(duration_ms=meta.get("duration_ms", 0), request_id=request_id, trace_id=trace_id)
    record.update(version="0.0.1", operator="tester")
    if FLAW != "no-log":
        os.makedirs(os.path.dirname(LOG), exist_ok=True)
        if FLAW == "rewrite" and os.path.exists(LOG):
            with open(LOG, encoding="utf-8") as handle:
                old = [json.loads(line) for line in handle if line.strip()]
            with open(LOG, "w", encoding="utf-8") as handle:
                for item in old:
                    handle.write(json.dumps({**item, "rewritten": True}) + "\n")
        with open(LOG, "a", encoding="utf-8") as handle:
            for _ in range(2 if FLAW == "twice" else 1):
                handle.write(json.dumps(record) + "\n")
    print(json.dumps({"ok": True, "data": {"effect": "deployed"}, "meta": meta}))
    return 0


if __name__ == "__main__":
    sys.exit(audit_log() if sys.argv[1:2] == ["audit-log"] else deploy())

"""Score 2: request id, duration and trace id in ``meta``; the trace reaches its children; no audit log.

It shows the child probe without auditview: under ``AUDITVIEW_CHILD_PROBE`` one child (a shell) writes the
``TOOL_*`` variables it sees there, never overwriting a file (``set -C``).
"""

import json
import os
import subprocess
import sys
import time
import uuid

started = time.monotonic()
if sys.argv[1:2] == ["audit-log"]:
    sys.exit("level2: unknown command 'audit-log'")
request_id = f"req-{uuid.uuid4()}"
os.environ["TOOL_TRACE_ID"] = os.environ.get("TOOL_TRACE_ID") or uuid.uuid4().hex
os.environ["TOOL_PARENT_REQUEST_ID"] = request_id
if os.environ.get("AUDITVIEW_CHILD_PROBE"):
    subprocess.run(["sh", "-c", 'set -C; env | grep "^TOOL_" > "$AUDITVIEW_CHILD_PROBE"'], check=False)
meta = {
    "request_id": request_id,
    "trace_id": os.environ["TOOL_TRACE_ID"],
    "duration_ms": round((time.monotonic() - started) * 1000, 3),
}
print(json.dumps({"ok": True, "effect": "deployed", "meta": meta}))

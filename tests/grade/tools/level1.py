"""Score 1: ``meta.request_id`` on its responses, and nothing else (no duration, no audit log)."""

import json
import sys
import uuid

if sys.argv[1:2] == ["audit-log"]:
    sys.exit("level1: unknown command 'audit-log'")
print(json.dumps({"ok": True, "effect": "deployed", "meta": {"request_id": f"req-{uuid.uuid4()}"}}))

"""Score 0: JSON on stdout, but no meta at all (the seed's `{"ok": true, "effect": "deployed"}`)."""

import json
import sys

if sys.argv[1:2] == ["audit-log"]:
    sys.exit("level0: unknown command 'audit-log'")
print(json.dumps({"ok": True, "effect": "deployed"}))

#!/bin/sh
# healthcheck.sh ENV SERVICE: probe a service's /healthz with curl and append one audit line.
#
# A producer that does not use auditview's writer. It appends one line per run to $AUDIT_LOG (default:
# audit.jsonl next to this script) in the seed's hand-written shape: no tool, request_id or version;
# "trace_id" only when the caller set $TOOL_TRACE_ID; on failure, curl's message as a string "error".
# Times come from date(1), so they have whole seconds and duration_ms is a multiple of 1000 (date +%s is
# not POSIX, but GNU, BSD and BusyBox date all have it). Exits with curl's status.
set -u

if [ $# -ne 2 ]; then
    echo "usage: healthcheck.sh ENV SERVICE" >&2
    exit 2
fi
url=${HEALTHCHECK_URL:-https://$2.$1.internal.example/healthz}
log=${AUDIT_LOG:-$(dirname -- "$0")/audit.jsonl}

# A JSON string of $1: tabs and line breaks become blanks, bytes outside printable ASCII are dropped,
# backslashes and double quotes are escaped.
json() {
    printf '"%s"' "$({ printf '%s' "$1" | tr '\t\r\n' '   ' | LC_ALL=C tr -cd ' -~'; echo; } |
        sed 's/[\\"]/\\&/g')"
}

now=$(date -u '+%Y-%m-%dT%H:%M:%SZ %s')
started=${now#* }
message=$(curl -fsS -o /dev/null --max-time 10 "$url" 2>&1)
code=$?
ended=$(date -u +%s)

line="{\"timestamp\": \"${now% *}\", \"command\": \"check\""
line="$line, \"params\": {\"env\": $(json "$1"), \"service\": $(json "$2")}"
line="$line, \"exit_code\": $code, \"duration_ms\": $(( (ended - started) * 1000 ))"
line="$line, \"operator\": $(json "${TOOL_OPERATOR:-${USER:-$(id -un)}}")"
if [ -n "${TOOL_TRACE_ID:-}" ]; then
    line="$line, \"trace_id\": $(json "$TOOL_TRACE_ID")"
fi
if [ "$code" -ne 0 ]; then
    line="$line, \"error\": $(json "${message:-curl exited with $code}")"
fi
printf '%s}\n' "$line" >>"$log"
exit "$code"

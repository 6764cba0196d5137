"""HTTP serving: auth, DNS-rebinding protection, body limit, /healthz, refusal beyond loopback, real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from retention_mcp import __version__
from retention_mcp.http import (
    allowed_hosts,
    check_serving_settings,
    create_app,
    is_loopback,
    serve_http,
    settings_from_env_json,
    settings_to_env,
)
from retention_mcp.settings import Settings

TOKEN = "team-secret-7f3a"
PORT = 8000  # the in-process app never binds; the port only shapes the allowed Host header
BASE = f"http://127.0.0.1:{PORT}"
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@pytest.fixture
def http_settings(settings: Settings) -> Settings:
    return settings.with_(port=PORT)


@asynccontextmanager
async def asgi_client(app, headers: dict[str, str] | None = None) -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client talking to the app in-process, with the app's lifespan (the MCP session manager) running."""
    transport = httpx2.ASGITransport(app=app)
    async with (app.router.lifespan_context(app),
                httpx2.AsyncClient(transport=transport, base_url=BASE, headers=headers or {}) as http):
        yield http


async def post_list_tools(http: httpx2.AsyncClient, **headers: str) -> httpx2.Response:
    return await http.post("/mcp", json=LIST_TOOLS, headers={**JSON_HEADERS, **headers})


# -- configuration checks (no server needed)

@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "hr-tools.example.com", ""])
def test_non_loopback_hosts(host):
    assert not is_loopback(host)


def test_non_loopback_without_token_refuses_to_start(http_settings):
    refused = http_settings.with_(host="0.0.0.0", token=None)
    with pytest.raises(ValueError, match=r"--token-file.*RETENTION_MCP_TOKEN"):
        serve_http(refused)  # raises before binding anything
    with pytest.raises(ValueError, match="token"):
        create_app(refused)
    check_serving_settings(refused.with_(token=TOKEN))  # with a token it is allowed


def test_other_refused_settings(http_settings):
    for bad in (dict(workers=0), dict(port=0), dict(max_request_kb=0), dict(token="  ")):
        with pytest.raises(ValueError):
            check_serving_settings(http_settings.with_(**bad))


def test_allowed_hosts_cover_configured_host_and_port(http_settings):
    assert allowed_hosts(http_settings.with_(host="10.1.2.3", port=9000, token=TOKEN), {}) == ["10.1.2.3:9000"]
    loopback = allowed_hosts(http_settings.with_(port=9000), {})
    assert {"127.0.0.1:9000", "localhost:9000", "[::1]:9000"} <= set(loopback)
    extra = allowed_hosts(http_settings.with_(host="0.0.0.0", token=TOKEN),
                          {"RETENTION_MCP_ALLOWED_HOSTS": "hr.example.com, hr.example.com:443"})
    assert {"hr.example.com", "hr.example.com:443", f"127.0.0.1:{PORT}"} <= set(extra)


def test_settings_survive_the_trip_to_worker_processes(http_settings):
    original = http_settings.with_(token=TOKEN, workers=3, prompts_dir=Path("/tmp/prompts"), max_request_kb=12.5)
    assert settings_from_env_json(settings_to_env(original)) == original


# -- the app in-process

@pytest.mark.anyio
async def test_healthz_without_auth(http_settings):
    async with asgi_client(create_app(http_settings.with_(token=TOKEN))) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


@pytest.mark.anyio
async def test_token_required_when_configured(http_settings):
    async with asgi_client(create_app(http_settings.with_(token=TOKEN))) as http:
        missing = await post_list_tools(http)
        wrong = await post_list_tools(http, authorization="Bearer not-the-token")
        wrong_scheme = await post_list_tools(http, authorization=f"Basic {TOKEN}")
        right = await post_list_tools(http, authorization=f"Bearer {TOKEN}")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in missing.text
    assert wrong.status_code == 401
    assert wrong_scheme.status_code == 401
    assert right.status_code == 200, right.text
    names = {tool["name"] for tool in right.json()["result"]["tools"]}
    assert "list_templates" in names


@pytest.mark.anyio
async def test_no_token_on_loopback_is_open(http_settings):
    async with asgi_client(create_app(http_settings)) as http:
        response = await post_list_tools(http)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")  # JSON responses, not SSE
    assert "mcp-session-id" not in response.headers  # stateless


@pytest.mark.anyio
async def test_dns_rebinding_protection(http_settings):
    async with asgi_client(create_app(http_settings)) as http:
        bad_host = await post_list_tools(http, host="attacker.example")
        wrong_port = await post_list_tools(http, host="127.0.0.1:9")
        bad_origin = await post_list_tools(http, origin="http://attacker.example")
        good_origin = await post_list_tools(http, origin=BASE)
    assert bad_host.status_code == 421
    assert wrong_port.status_code == 421
    assert bad_origin.status_code == 403
    assert good_origin.status_code == 200


@pytest.mark.anyio
async def test_oversized_body_rejected(http_settings):
    app = create_app(http_settings.with_(max_request_kb=1))
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "list_templates", "arguments": {"padding": "x" * 4096}}}
    async with asgi_client(app) as http:
        big = await http.post("/mcp", content=json.dumps(call), headers=JSON_HEADERS)
        small = await post_list_tools(http)
    assert big.status_code == 413
    assert small.status_code == 200  # and the app still answers


@pytest.mark.anyio
async def test_sdk_client_in_process_with_token(http_settings):
    app = create_app(http_settings.with_(token=TOKEN))
    async with (asgi_client(app, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
                Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client):
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} >= {"list_templates", "render_template"}
        listed = await client.call_tool("list_templates", {})
        assert not listed.is_error


# -- real processes on a loopback port

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_MCP_")}
    return {**env, **extra}


@contextmanager
def running_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``python -m retention_mcp serve --http`` on a free loopback port; always stopped (then killed) on exit."""
    port = free_port()
    log = (tmp_path / f"server-{port}.log").open("w+")
    cmd = [sys.executable, "-m", "retention_mcp", "serve", "--http", "--port", str(port),
           "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out"), *args]
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env or child_env())
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"server did not start (exit {child.poll()}):\n{log.read()}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)
        log.close()


@pytest.mark.anyio
async def test_real_server_with_sdk_client(tmp_path):
    with running_server(tmp_path) as url:
        for mode in ("auto", "legacy"):  # 2026-07-28 stateless requests and the 2025 initialize handshake
            async with Client(f"{url}/mcp", mode=mode) as client:
                tools = await client.list_tools()
                assert "list_templates" in {t.name for t in tools.tools}


@pytest.mark.anyio
async def test_real_server_two_workers_with_token_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with running_server(tmp_path, "--workers", "2", "--token-file", str(token_file)) as url:
        assert httpx2.post(f"{url}/mcp", json=LIST_TOOLS, headers=JSON_HEADERS, timeout=10).status_code == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (httpx2.AsyncClient(headers=headers, timeout=30) as http,
                    Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client):
            for _ in range(6):  # several requests, spread over the workers by the kernel
                assert not (await client.call_tool("list_templates", {})).is_error
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert "workers=2" in log and "auth=bearer token" in log
    assert TOKEN not in log  # the token is never logged


def test_real_token_from_environment(tmp_path):
    with running_server(tmp_path, env=child_env(RETENTION_MCP_TOKEN=TOKEN)) as url:
        assert httpx2.post(f"{url}/mcp", json=LIST_TOOLS, headers=JSON_HEADERS, timeout=10).status_code == 401
        ok = httpx2.post(f"{url}/mcp", json=LIST_TOOLS, timeout=10,
                         headers={**JSON_HEADERS, "Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200


def test_cli_refuses_non_loopback_without_token(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "retention_mcp", "serve", "--http", "--host", "0.0.0.0", "--port", str(free_port()),
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=child_env())
    assert done.returncode == 2
    assert "--token-file" in done.stderr and "RETENTION_MCP_TOKEN" in done.stderr
    assert done.stdout == ""

"""HTTP serving: auth, DNS-rebinding protection, body limit, /healthz, refusal beyond loopback, real processes.

Real-process tests run ``python -m retention_mcp serve --http`` on a free loopback port; each is bounded
by socket and process timeouts.
"""

from __future__ import annotations

import json
import pickle
import signal
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
    RetentionConfig,
    TimedH11Protocol,
    allowed_hosts,
    check_serving_settings,
    create_app,
    http_server,
    is_loopback,
    load_credentials,
    parse_tokens_file,
    serve_http,
)
from retention_mcp.identity import Caller
from retention_mcp.oauth import CallerVerifier
from retention_mcp.settings import Settings
from server_process import Started, child_env, free_port, started_server

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


def test_settings_and_tokens_survive_the_trip_to_worker_processes(http_settings):
    # Workers receive the uvicorn config pickled through multiprocessing's pipe: settings and tokens included.
    original = http_settings.with_(token=TOKEN, workers=3, prompts_dir=Path("/tmp/prompts"), max_request_kb=12.5,
                                   header_timeout_s=1.5, body_timeout_s=2.5)
    people = {TOKEN: Caller("team"), "alice-token-0123456789": parse_tokens_file(
        "alice: alice-token-0123456789 manager department=Sales hide=pay\n")["alice-token-0123456789"]}
    config = pickle.loads(pickle.dumps(RetentionConfig(original, people)))
    assert config.retention_settings == original
    assert config.credentials == people  # roles and scopes included
    assert (config.header_timeout_s, config.body_timeout_s, config.workers) == (1.5, 2.5, 3)


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

@contextmanager
def running_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``serve --http`` on a free loopback port with the test's data and output folders; yields the base URL."""
    port = free_port()
    argv = ["serve", "--http", "--port", str(port), "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out"),
            *args]
    with started_server(tmp_path, argv, port, env) as server:
        yield server.url


@pytest.mark.anyio
async def test_real_server_with_sdk_client(tmp_path):
    with running_server(tmp_path) as url:
        for mode in ("auto", "legacy"):  # 2026-07-28 stateless requests and the 2025 initialize handshake
            async with Client(f"{url}/mcp", mode=mode) as client:
                tools = await client.list_tools()
                assert "list_templates" in {t.name for t in tools.tools}


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


# -- GET /mcp, 401 challenges, per-person tokens (in-process)

ALICE, BOB = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef"
TOKENS_FILE = f"""# the retention team
alice: {ALICE}
  # a comment line, and a blank one

bob: {BOB}   # laptop
"""


@pytest.mark.anyio
async def test_get_mcp_is_405_not_an_idle_event_stream(http_settings):
    async with asgi_client(create_app(http_settings.with_(token=TOKEN))) as http:
        for headers in ({"accept": "text/event-stream"}, {"accept": "text/event-stream",
                                                           "authorization": f"Bearer {TOKEN}"}):
            response = await http.get("/mcp", headers=headers, timeout=5)
            assert response.status_code == 405
            assert response.headers["allow"] == "POST"
            assert response.headers["content-type"] == "application/json"
            assert "POST /mcp" in response.json()["error"]["message"]
        assert (await http.delete("/mcp", headers={"authorization": f"Bearer {TOKEN}"}, timeout=5)).status_code == 405
        assert (await post_list_tools(http, authorization=f"Bearer {TOKEN}")).status_code == 200


@pytest.mark.anyio
async def test_401_says_whether_the_token_is_missing_or_invalid(http_settings):
    async with asgi_client(create_app(http_settings.with_(token=TOKEN))) as http:
        wrong = await post_list_tools(http, authorization="Bearer not-the-token")
        missing = await post_list_tools(http)
        basic = await post_list_tools(http, authorization=f"Basic {TOKEN}")
    assert wrong.status_code == 401
    challenge = wrong.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    description = challenge.split('error_description="', 1)[1].rstrip('"')
    assert "not valid" in description and "OAuth" in description
    assert '"' not in description and "\\" not in description  # a valid RFC 6750 quoted string
    assert wrong.json() == {"error": "invalid_token", "error_description": description}
    # No credentials at all: a plain challenge without an error code (RFC 6750 section 3.1), a body saying what to send.
    for response in (missing, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="retention-mcp"'
        assert "Authorization: Bearer" in response.json()["error_description"]
    assert all(TOKEN not in r.text and TOKEN not in r.headers["www-authenticate"] for r in (wrong, missing, basic))


def names(credentials: dict[str, Caller]) -> dict[str, str]:
    return {token: caller.name for token, caller in credentials.items()}


def test_tokens_file_lines_comments_and_errors_that_never_show_a_token():
    assert names(parse_tokens_file(TOKENS_FILE)) == {ALICE: "alice", BOB: "bob"}
    assert {c.role for c in parse_tokens_file(TOKENS_FILE).values()} == {"analyst"}  # the old lines: analysts
    assert names(parse_tokens_file("Li Wei 李伟: li-wei-token-0123456789\n")) == {
        "li-wei-token-0123456789": "Li Wei 李伟"}
    bad = {
        "alice\n": "line 1",
        f"alice {ALICE}\n": "line 1",
        ": " + ALICE: "line 1",
        f"# x\nalice: {ALICE}\nbob: {ALICE}\n": "already on line 2",
        "carol: short-token\n": "shorter than 16",
        f"carol: {ALICE} extra\n": "is not a role",
        "# only comments\n\n": "no 'name: token' lines",
    }
    for text, needle in bad.items():
        with pytest.raises(ValueError, match=needle) as caught:
            parse_tokens_file(text)
        assert ALICE not in str(caught.value) and "short-token" not in str(caught.value)


def test_credentials_combine_the_tokens_file_and_the_shared_team_token(http_settings, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKENS_FILE, encoding="utf-8")
    assert names(load_credentials(http_settings.with_(tokens_file=tokens, token=TOKEN))) == {
        ALICE: "alice", BOB: "bob", TOKEN: "team"}
    assert load_credentials(http_settings) == {}
    with pytest.raises(ValueError, match="cannot read the tokens file"):
        load_credentials(http_settings.with_(tokens_file=tmp_path / "missing"))
    # A tokens file alone is enough to listen beyond loopback.
    check_serving_settings(http_settings.with_(host="0.0.0.0", tokens_file=tokens))


@pytest.mark.anyio
async def test_verifier_compares_every_token_and_names_the_person():
    verifier = CallerVerifier({ALICE: Caller("alice"), BOB: Caller("bob"), TOKEN: Caller("team")})
    assert (await verifier.verify_token(ALICE)).client_id == "alice"
    assert (await verifier.verify_token(BOB)).client_id == "bob"
    assert (await verifier.verify_token(TOKEN)).client_id == "team"
    for wrong in ("", ALICE[:-1], ALICE + "x", BOB.upper()):
        assert await verifier.verify_token(wrong) is None


def test_each_token_reaches_tools_as_its_persons_name(http_settings, tmp_path):
    import threading

    import uvicorn
    from mcp.server.auth.middleware.auth_context import get_access_token

    tokens = tmp_path / "tokens"
    tokens.write_text(TOKENS_FILE, encoding="utf-8")
    port = free_port()
    settings = http_settings.with_(tokens_file=tokens, token=TOKEN, port=port)
    server = http_server(settings)

    def whoami() -> str:
        """The caller's name, as a tool sees it."""
        token = get_access_token()
        return token.client_id if token else "nobody"

    server.add_tool(whoami)
    # Real HTTP on a loopback socket: uvicorn with the server's own protocol class, in a thread.
    web = uvicorn.Server(uvicorn.Config(create_app(settings, server=server), host="127.0.0.1", port=port,
                                        http=TimedH11Protocol, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not web.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert web.started
        call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
        seen = {}
        for token in (ALICE, BOB, TOKEN):
            response = httpx2.post(f"http://127.0.0.1:{port}/mcp", json=call, timeout=10,
                                   headers={**JSON_HEADERS, "authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            seen[token] = response.json()["result"]["structuredContent"]["result"]
        assert seen == {ALICE: "alice", BOB: "bob", TOKEN: "team"}
    finally:
        web.should_exit = True
        thread.join(timeout=10)



# -- real processes: deadlines, workers, signals, command line

linux_only = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] == pid:
            found.append(int(entry.name))
    return found


def wait_for_workers(server: Started, count: int, timeout: float = 30) -> list[int]:
    """Pids of the parent's uvicorn workers once ``count`` of them have finished starting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [pid for pid in children(server.process.pid)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        started = server.log.read_text().count("Application startup complete")
        if len(workers) == count and started >= count:
            return workers
        time.sleep(0.2)
    pytest.fail(f"{count} workers did not start:\n{server.log.read_text()}")


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def open_connection(url: str, first_bytes: bytes = b"") -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def request_head(url: str, content_length: int, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST /mcp HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\n{auth}Content-Length: {content_length}\r\n\r\n").encode()


def test_slow_clients_are_cut_off_within_the_deadlines_and_others_are_served(tmp_path):
    with running_server(tmp_path, "--header-timeout", "1", "--body-timeout", "2") as url:
        started = time.monotonic()
        silent = [open_connection(url) for _ in range(10)]
        loris = [open_connection(url, b"POST /mcp HTTP/1.1\r\nHost: x\r\nX-Slow: ") for _ in range(20)]
        slow_body = open_connection(url, request_head(url, 500) + b'{"jsonrpc": "2.0", ')
        # While they hang on, others are served, including a client that sends its headers in two pieces.
        assert httpx2.post(f"{url}/mcp", json=LIST_TOOLS, headers=JSON_HEADERS, timeout=10).status_code == 200
        body = json.dumps(LIST_TOOLS).encode()
        head = request_head(url, len(body))
        pieces = open_connection(url, head[:30])
        time.sleep(0.4)
        pieces.sendall(head[30:] + body)
        assert pieces.recv(4096).startswith(b"HTTP/1.1 200")
        pieces.close()

        for sock in loris:
            assert read_until_closed(sock).startswith(b"HTTP/1.1 408")
        loris_closed = time.monotonic() - started
        for sock in silent:
            assert read_until_closed(sock) == b""  # nothing was asked, so nothing is answered: just closed
        answer = read_until_closed(slow_body)
        body_closed = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408") and b"body not received within 2 s" in answer
        # Never before the deadline; above it, generous: the clock started before 31 connections and a first
        # tools/list, and a loaded machine (the suite beside two busy processes) is slow to schedule.
        assert 0.9 <= loris_closed <= 10.0, loris_closed
        assert 1.9 <= body_closed <= 12.0, body_closed
        for sock in [*silent, *loris, slow_body]:
            sock.close()
        assert httpx2.post(f"{url}/mcp", json=LIST_TOOLS, headers=JSON_HEADERS, timeout=10).status_code == 200
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert "Traceback" not in log  # a client cut off mid-body is not a server error


@linux_only
@pytest.mark.anyio
async def test_two_workers_know_every_token_but_their_environments_hold_none(tmp_path):
    token_file, tokens = tmp_path / "token", tmp_path / "tokens"
    token_file.write_text(TOKEN + "\n")
    tokens.write_text(TOKENS_FILE, encoding="utf-8")
    env_token = "token-from-the-environment-0123"  # given too, then overridden by --token-file
    port = free_port()
    argv = ["serve", "--http", "--port", str(port), "--workers", "2", "--token-file", str(token_file),
            "--tokens-file", str(tokens), "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")]
    secrets = (TOKEN, ALICE, BOB, env_token)
    with started_server(tmp_path, argv, port, env=child_env(RETENTION_MCP_TOKEN=env_token)) as server:
        wait_for_workers(server, 2)
        # The check can see an environment variable: the parent was started with one.
        assert env_token.encode() in Path(f"/proc/{server.process.pid}/environ").read_bytes()
        for pid in children(server.process.pid):  # the two workers and multiprocessing's resource tracker
            for part in ("environ", "cmdline"):
                exposed = Path(f"/proc/{pid}/{part}").read_bytes()
                assert not any(secret.encode() in exposed for secret in secrets), (pid, part)
        url = server.url
        assert httpx2.post(f"{url}/mcp", json=LIST_TOOLS, headers=JSON_HEADERS, timeout=10).status_code == 401
        # ...and yet every worker knows every token: new connections are spread over both.
        for token in (TOKEN, ALICE, BOB) * 4:
            response = httpx2.post(f"{url}/mcp", json=LIST_TOOLS, timeout=10,
                                   headers={**JSON_HEADERS, "Authorization": f"Bearer {token}", "Connection": "close"})
            assert response.status_code == 200
        async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {ALICE}"}, timeout=30) as http,
                    Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client):
            for _ in range(4):
                assert not (await client.call_tool("list_templates", {})).is_error
    log = server.log.read_text()
    assert "workers=2" in log and "auth=bearer token (shared team token + 2 personal token(s) (analyst))" in log
    assert not any(secret in log for secret in secrets)  # tokens are never logged


@linux_only
def test_sigterm_to_the_parent_stops_every_worker_within_10_s(tmp_path):
    port = free_port()
    argv = ["serve", "--http", "--port", str(port), "--workers", "2", "--data-dir", str(tmp_path),
            "--output-dir", str(tmp_path / "out")]
    with started_server(tmp_path, argv, port) as server:
        workers = wait_for_workers(server, 2)
        # Requests in flight (bodies still coming) and idle keep-alive connections, spread over the workers.
        hanging = [open_connection(server.url, request_head(server.url, 100) + b"{") for _ in range(6)]
        idle = [open_connection(server.url, b"") for _ in range(4)]
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        while (server.process.poll() is None or any(alive(pid) for pid in workers)) \
                and time.monotonic() - started < 15:
            time.sleep(0.1)
        stopped_after = time.monotonic() - started
        assert not any(alive(pid) for pid in workers) and server.process.poll() is not None
        assert stopped_after < 10, stopped_after
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        # A request still sending its body is told to retry, not held for the graceful period.
        assert all(read_until_closed(sock).startswith(b"HTTP/1.1 503") for sock in hanging)
        for sock in hanging + idle:
            sock.close()


@linux_only
def test_workers_stop_when_their_parent_is_killed(tmp_path):
    port = free_port()
    argv = ["serve", "--http", "--port", str(port), "--workers", "2", "--data-dir", str(tmp_path),
            "--output-dir", str(tmp_path / "out")]
    with started_server(tmp_path, argv, port) as server:
        workers = wait_for_workers(server, 2)
        started = time.monotonic()
        server.process.kill()  # no chance to stop its workers: they notice on their own
        server.process.wait(timeout=5)
        while any(alive(pid) for pid in workers) and time.monotonic() - started < 15:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "orphaned workers kept serving"
        assert time.monotonic() - started < 10
    assert "parent process" in server.log.read_text() and "is gone" in server.log.read_text()


def test_a_process_whose_shutdown_hangs_exits_after_the_deadline(tmp_path):
    # What a worker does when graceful shutdown never ends (a tool's thread that does not return).
    code = ("import signal, sys, threading, time\n"
            "from retention_mcp.http import _arm_exit_deadline\n"
            "signal.signal(signal.SIGTERM, lambda *a: None)  # a shutdown that never completes\n"
            "_arm_exit_deadline(1.0)\n"
            "threading.Thread(target=time.sleep, args=(60,)).start()\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=child_env())
    try:
        assert child.stdout.readline() == b"ready\n"
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 1
        assert 0.9 <= time.monotonic() - started < 5
        assert b"exiting now" in child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=5)


@pytest.mark.anyio
async def test_oauth_discovery_and_registration_say_the_server_takes_a_static_token(http_settings):
    # After a 401, OAuth clients (mcp-remote) look for metadata, then register; they print the body they get.
    async with asgi_client(create_app(http_settings.with_(token=TOKEN))) as http:
        for method, path in (("GET", "/.well-known/oauth-protected-resource/mcp"),
                             ("GET", "/.well-known/oauth-authorization-server"), ("POST", "/register")):
            response = await http.request(method, path, json={} if method == "POST" else None)
            assert response.status_code == 404
            assert "static bearer token" in response.json()["error_description"]
        assert (await http.get("/healthz")).status_code == 200  # other paths are untouched

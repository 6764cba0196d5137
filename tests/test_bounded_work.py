"""Bounded work: every call has a time and a memory bound, a cancelled or abandoned call stops using CPU (its worker
is killed; the 2-second promise is measured in bench/bench_isolation.py, these tests wait for it with a generous
deadline), and concurrent first calls on one file parse it once. Each test is bounded in time."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from mcp import Client

from retention_mcp.runtime.pool import shared_pool
from retention_mcp.sample_data import write_large_event_file
from retention_mcp.server import build_server
from retention_mcp.settings import Settings


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600,000-row event export (~45 MB): its first parse takes a second or two."""
    return write_large_event_file(tmp_path_factory.mktemp("big") / "events.csv", rows=600_000)


def workers() -> list[int]:
    return [w.process.pid for w in shared_pool(2)._workers]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux), or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_within(candidates: Callable[[], list[int]], within: float = 30.0) -> list[int]:
    """The processes (from ``candidates()``, re-read each time) busy right now — more CPU over a 0.3 s look than
    :func:`stops_using_cpu` calls idle (0.02 s: a busy process on a machine loaded 7-fold still gets 0.08 s) — as
    soon as there is one, waiting up to ``within`` seconds. On a loaded machine a call may take a while to
    get going, so this waits for the condition instead of looking once after a fixed sleep; an idle process (the
    fork server, a worker done with its call) never counts."""
    deadline = time.monotonic() + within
    while True:
        pids = candidates()
        before = {pid: cpu_seconds(pid) for pid in pids}
        time.sleep(0.3)
        busy = [pid for pid in pids if (after := cpu_seconds(pid)) is not None and before[pid] is not None
                and after - before[pid] >= 0.02]
        if busy or time.monotonic() > deadline:
            return busy


#: How long a test waits for a stopped call's worker to go quiet. The server stops it at once (a kill; bench_isolation
#: measures 0.06 s from cancel to quiet); the wait is generous because the suite runs on loaded, shared machines, and
#: speed is measured in the benchmarks, not asserted here.
QUIET_WITHIN_S = 10.0


def stops_using_cpu(pids: list[int], within: float = QUIET_WITHIN_S) -> bool:
    """True when each process is gone, or idle (no CPU time gained over 0.3 s), within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = [cpu_seconds(pid) for pid in pids]
        time.sleep(0.3)
        after = [cpu_seconds(pid) for pid in pids]
        if all(a is None or (b is not None and a - b < 0.02) for a, b in zip(after, before, strict=True)):
            return True
    return False


pytestmark = [pytest.mark.timeout(180), pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                            reason="reads CPU time from /proc")]


@pytest.mark.anyio
async def test_a_call_over_its_time_bound_is_stopped_and_the_server_carries_on(big_file: Path, tmp_path) -> None:
    # 1 s: a first parse of 600,000 rows takes several times that on any machine, and a fresh worker's first small
    # call fits it even on a loaded machine. The workspace exists already (creating it is a first call's work).
    from retention_mcp.workspace.engine import get_engine

    database = f"sqlite:///{tmp_path / 'ws.sqlite3'}"
    get_engine(database)
    settings = Settings(data_dirs=(big_file.parent,), output_dir=tmp_path, log_level="WARNING", call_timeout_s=1.0,
                        database_url=database)
    async with Client(build_server(settings)) as client:
        await client.call_tool("list_templates", {})  # a worker is up: what follows times the call alone
        started = time.monotonic()
        slow = await client.call_tool("turnover_breakdown", {"path": big_file.name, "by": ["department"]})
        assert time.monotonic() - started < 10  # the kill is at 1 s; the rest is a loaded machine
        assert slow.is_error
        message = slow.content[0].text
        assert "longer than 1 seconds" in message and "RETENTION_MCP_CALL_TIMEOUT_S" in message
        quick = await client.call_tool("hiring_forecast", {"current_headcount": 100, "expected_turnover_rate": 0.1})
        assert not quick.is_error and quick.structured_content["hires_needed"] == 10


@pytest.mark.anyio
async def test_a_call_over_its_memory_bound_is_stopped(big_file: Path, tmp_path) -> None:
    settings = Settings(data_dirs=(big_file.parent,), output_dir=tmp_path, log_level="WARNING", call_memory_mb=300)
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("turnover_breakdown", {"path": big_file.name, "by": ["department"]})
        assert result.is_error
        assert "more than 300 MB" in result.content[0].text and "RETENTION_MCP_CALL_MEMORY_MB" in result.content[0].text
        assert not (await client.call_tool("list_templates", {})).is_error


@pytest.mark.anyio
async def test_a_cancelled_call_stops_using_cpu_within_two_seconds(big_file: Path, tmp_path) -> None:
    settings = Settings(data_dirs=(big_file.parent,), output_dir=tmp_path, log_level="WARNING")
    async with Client(build_server(settings)) as client:
        await client.call_tool("list_templates", {})
        async with anyio.create_task_group() as group:
            async def call() -> None:
                await client.call_tool("turnover_breakdown", {"path": big_file.name, "by": ["department", "shift"]})

            group.start_soon(call)
            # Cancel only once a worker is really at it (on a loaded machine the call takes a while to start).
            busy = await anyio.to_thread.run_sync(busy_within, workers)
            assert busy, "a worker should be busy with the call"
            group.cancel_scope.cancel()
        cancelled_at = time.monotonic()
        assert stops_using_cpu(busy)
        assert time.monotonic() - cancelled_at < QUIET_WITHIN_S + 1
        # The next call is served (by a fresh worker if the old one was killed).
        assert not (await client.call_tool("list_templates", {})).is_error


@pytest.mark.anyio
async def test_concurrent_first_calls_on_one_file_parse_it_once(big_file: Path, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="retention_mcp.data.dataset")
    copy = tmp_path / "data" / "same.csv"
    copy.parent.mkdir()
    copy.write_bytes(big_file.read_bytes())
    settings = Settings(data_dirs=(copy.parent,), output_dir=tmp_path / "out", log_level="INFO")
    results = []
    async with Client(build_server(settings)) as client:
        async def one() -> None:
            results.append(await client.call_tool("turnover_breakdown", {"path": "same.csv"}))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)
    assert len(results) == 20 and not any(r.is_error for r in results)
    assert len({json.dumps(r.structured_content["overall"]) for r in results}) == 1
    prepared = [r for r in caplog.records if r.getMessage().startswith("preparing same.csv")]
    assert len(prepared) == 1


def test_killing_the_stdio_client_stops_the_server_and_its_workers(big_file: Path, tmp_path) -> None:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "XDG_DATA_HOME") if k in os.environ}
    server = subprocess.Popen([sys.executable, "-m", "retention_mcp", "--data-dir", str(big_file.parent),
                               "--output-dir", str(tmp_path), "--log-level", "WARNING"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        assert server.stdin and server.stdout
        messages = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "turnover_breakdown", "arguments": {"path": big_file.name, "by": ["department", "shift"]}}},
        ]
        server.stdin.write(json.dumps(messages[0]).encode() + b"\n")
        server.stdin.flush()
        server.stdout.readline()
        for message in messages[1:]:
            server.stdin.write(json.dumps(message).encode() + b"\n")
        server.stdin.flush()
        assert busy_within(lambda: worker_processes(server.pid)), "a worker should be busy with the call"
        family = descendants(server.pid)
        server.stdin.close()  # the client is gone
        killed_at = time.monotonic()
        server.wait(timeout=10)
        assert stops_using_cpu(family)
        assert time.monotonic() - killed_at < QUIET_WITHIN_S + 5
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGKILL)


def worker_processes(server_pid: int) -> list[int]:
    """The server's tool workers: below the fork server, itself the server's child (busy with its own imports at
    first, which is not the call)."""
    children = set(children_of(server_pid))
    return [pid for pid in descendants(server_pid) if pid not in children]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def test_a_dropped_http_request_stops_using_cpu(big_file: Path, tmp_path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "XDG_DATA_HOME") if k in os.environ}
    server = subprocess.Popen([sys.executable, "-m", "retention_mcp", "serve", "--http", "--port", str(port),
                               "--data-dir", str(big_file.parent), "--output-dir", str(tmp_path),
                               "--log-level", "WARNING"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "turnover_breakdown", "arguments": {"path": big_file.name, "by": ["department", "shift"]}}})
        request = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                   "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(request)
        busy = busy_within(lambda: worker_processes(server.pid))  # the call is under way in a worker
        assert busy, "a worker should be busy with the call"
        connection.close()  # the client goes away without waiting for the answer
        assert stops_using_cpu(busy)
        assert server.poll() is None  # the server itself carries on
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


@pytest.mark.anyio
async def test_a_slow_team_template_is_stopped_by_the_time_bound(tmp_path) -> None:
    # Nine million loop steps with a comparison each (over 10 s; 3 s leaves a fresh worker time to parse the
    # templates for the next prompt on a loaded machine) pass every size limit of the sandbox; only the
    # time bound stops them.
    team = tmp_path / "team-prompts"
    team.mkdir()
    (team / "slow.en.md").write_text(
        "---\nname: slow\ntitle: Slow\ndescription: A team template that loops.\nlanguage: en\n"
        "arguments:\n  - name: team\n---\n{% set s = 'x' * 3000 %}{% for a in s %}{% for b in s %}"
        "{% if a == b and loop.index > 0 %}{% endif %}{% endfor %}{% endfor %}done for {{ team }}\n", encoding="utf-8")
    (team / "quick.en.md").write_text(
        "---\nname: quick\ntitle: Quick\ndescription: A team template.\nlanguage: en\n"
        "arguments:\n  - name: team\n---\nready for {{ team }}\n", encoding="utf-8")
    settings = Settings(data_dirs=(tmp_path,), output_dir=tmp_path / "out", prompts_dir=team, log_level="WARNING",
                        call_timeout_s=3.0)
    async with Client(build_server(settings)) as client:
        await client.call_tool("list_templates", {})  # a worker is up
        started = time.monotonic()
        with pytest.raises(Exception) as info:
            await client.get_prompt("slow", {"team": "Ops"})
        assert time.monotonic() - started < 15  # stopped at 3 s; the rest is a loaded machine
        assert getattr(getattr(info.value, "error", None), "code", None) == -32602
        assert "longer than 3 seconds" in str(info.value) and "RETENTION_MCP_CALL_TIMEOUT_S" in str(info.value)
        assert stops_using_cpu(workers())
        prompt = await client.get_prompt("quick", {"team": "Ops"})
        assert "ready for Ops" in prompt.messages[0].content.text


@pytest.mark.anyio
async def test_a_result_is_bounded_by_a_stated_factor_of_its_request(tmp_path) -> None:
    from retention_mcp.runtime.result_size import RESULT_FACTOR, result_bound

    # The largest KPI set build_kpis accepts: 100 KPIs, each with long names and texts that findings repeat.
    items = [{"name": f"KPI {i} " + "名" * 190, "definition": "d" * 2000, "formula": "f" * 500, "objective": "o" * 500,
              "weight": 1, "target": 1, "baseline": 0} for i in range(100)]
    request = len(json.dumps({"items": items}, ensure_ascii=False).encode("utf-8"))
    settings = Settings(data_dirs=(tmp_path,), output_dir=tmp_path / "out", log_level="WARNING")
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("build_kpis", {"items": items})
    assert not result.is_error
    text = result.content[0].text
    structured = json.dumps(result.structured_content, ensure_ascii=False).encode("utf-8")
    slack = 4096  # the evidence line and the truncation note, added after the bound is applied
    assert len(text.encode("utf-8")) + len(structured) <= result_bound(request) + slack
    assert result_bound(request) == RESULT_FACTOR * request
    assert "**Result truncated**" in text and "findings: the first" in text
    # What is left is still a valid result: the KPI list holds whole items, in order.
    kpis = result.structured_content["kpis"]
    assert 0 < len(kpis) <= 100 and kpis[0]["name"] == items[0]["name"]
    async with Client(build_server(settings)) as client:
        small = await client.call_tool("build_kpis", {"items": items[:10]})
    assert "truncated" not in small.content[0].text and len(small.structured_content["kpis"]) == 10

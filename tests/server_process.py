"""Test support: ``python -m retention_mcp`` as a real process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a server process: ours without RETENTION_MCP_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_MCP_")}
    return {**env, **extra}


class Started:
    def __init__(self, url: str, process: subprocess.Popen, log: Path) -> None:
        self.url, self.process, self.log = url, process, log


def stop(child: subprocess.Popen, grace: float) -> None:
    """SIGTERM, then SIGKILL if ``child`` has not exited within ``grace`` seconds."""
    if child.poll() is None:
        child.terminate()
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=10)


def wait_until_answering(url: str, child: subprocess.Popen, log: Path, timeout: float, what: str = "server") -> None:
    """Poll ``url`` until it answers 200; fail the test with ``log`` when ``child`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx2.get(url, timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if child.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start (exit {child.poll()}):\n{log.read_text()}")
        time.sleep(0.2)


@contextmanager
def started_server(tmp_path: Path, argv: list[str], port: int, env: dict[str, str] | None = None,
                   cwd: Path | None = None, name: str = "server", start_timeout: float = 30) -> Iterator[Started]:
    """``python -m retention_mcp <argv>`` answering /healthz on ``port``; always stopped (then killed) on exit."""
    log_path = tmp_path / f"{name}-{port}.log"
    log = log_path.open("w+")
    child = subprocess.Popen([sys.executable, "-m", "retention_mcp", *argv], stdout=subprocess.DEVNULL, stderr=log,
                             env=env or child_env(), cwd=cwd)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/healthz", child, log_path, start_timeout)
        yield Started(f"http://127.0.0.1:{port}", child, log_path)
    finally:
        stop(child, grace=12)
        log.close()


@contextmanager
def http_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None, name: str = "server") -> Iterator[str]:
    """``python -m retention_mcp serve --http`` on a free loopback port; yields http://127.0.0.1:PORT."""
    port = free_port()
    argv = ["serve", "--http", "--port", str(port), *args]
    with started_server(tmp_path, argv, port, env=env, name=name, start_timeout=START_TIMEOUT_S) as server:
        yield server.url


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

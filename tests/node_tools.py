"""Test support: the Node tools in ``tests/node`` (the MCP Apps host bridge, the MCP Bundle CLI, the MCP Inspector
CLI), installed with ``npm ci`` from the lock file on first use, and headless Chromium for the views.

What cannot be installed here (no npm, the registry unreachable, no Chromium) skips the tests that need it,
saying what is missing; ``.ci/run`` installs Chromium and ``npm ci`` runs in the first test that needs the tools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from functools import cache
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
_install_lock = threading.Lock()
#: Chromium flags for a closed network: no background requests of its own, a fresh profile each launch.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


def node_bin(name: str) -> Path:
    """``tests/node/node_modules/.bin/<name>``, installing the tools first if needed; skip when impossible."""
    with _install_lock:
        binary = NODE_DIR / "node_modules" / ".bin" / name
        if not binary.exists():
            npm = shutil.which("npm")
            if npm is None or shutil.which("node") is None:
                pytest.skip("Node.js and npm are not installed: the MCP Apps host bridge, mcpb and the Inspector "
                            "come from npm")
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                                  capture_output=True, text=True, timeout=600)
            if done.returncode != 0 or not binary.exists():
                pytest.skip(f"could not install the Node test tools with npm ci in {NODE_DIR}: "
                            f"{(done.stderr or done.stdout)[-500:]}")
        return binary


@cache
def views_host_script() -> str:
    """The test host (tests/node/views_host.js with the ext-apps AppBridge) bundled into one browser script."""
    esbuild = node_bin("esbuild")
    done = subprocess.run([str(esbuild), "views_host.js", "--bundle", "--minify", "--format=iife",
                           "--platform=browser", "--log-level=warning"], cwd=NODE_DIR, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"esbuild failed: {done.stderr}")
    return done.stdout


def chromium_path() -> str:
    """Debian's Chromium (``apt-get install chromium``), or skip saying how to get it."""
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                      "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")

"""What every client gets from tools/list, checked with a real client: the MCP Inspector CLI (2.12) over stdio
with --strict reports no schema-portability finding; every tool has a title and read-only / destructive hints
(what a directory review asks); output schemas can be left out for clients with a small budget; the size of
the answer is printed for the record."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from node_tools import node_bin
from retention_mcp.schemas import listing_bytes

pytestmark = pytest.mark.slow


def inspector_list(tmp_path, *server_args: str) -> subprocess.CompletedProcess:
    inspector = node_bin("mcp-inspector")
    # The Inspector starts the server with a minimal environment: keep this interpreter's module path.
    path = ["-e", f"PYTHONPATH={os.environ['PYTHONPATH']}"] if os.environ.get("PYTHONPATH") else []
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [str(inspector), "--cli", "--strict", "--format", "json",
         *path, sys.executable, "-m", "retention_mcp",
         "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out"), *server_args, "--method", "tools/list"],
        capture_output=True, text=True, timeout=180,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("RETENTION_MCP_")}, "HOME": str(home)})


def test_the_inspector_finds_no_portability_problem(tmp_path):
    done = inspector_list(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    envelope = json.loads(done.stdout)
    assert "schemaFindings" not in envelope, json.dumps(envelope.get("schemaFindings"))[:2000]
    assert "portability" not in done.stderr.lower(), done.stderr[-2000:]
    tools = envelope["result"]["tools"]
    sizes = listing_bytes(tools)
    print(f"\ntools/list: {sizes}")
    assert sizes["tools"] >= 30
    for tool in tools:
        assert tool.get("title"), tool["name"]
        hints = tool.get("annotations") or {}
        assert isinstance(hints.get("readOnlyHint"), bool), tool["name"]
        if not hints["readOnlyHint"]:
            assert isinstance(hints.get("destructiveHint"), bool), tool["name"]


def test_output_schemas_can_be_left_out_of_the_list(tmp_path):
    done = inspector_list(tmp_path, "--no-output-schemas")
    assert done.returncode == 0, done.stderr[-2000:]
    tools = json.loads(done.stdout)["result"]["tools"]
    assert tools and not any("outputSchema" in tool for tool in tools)
    full = json.loads(inspector_list(tmp_path).stdout)["result"]["tools"]
    print(f"\nwith output schemas {listing_bytes(full)['total']:,} bytes, without {listing_bytes(tools)['total']:,}")
    assert listing_bytes(tools)["total"] < 0.6 * listing_bytes(full)["total"]

"""Cold start: spawn -> initialize answered -> tools/list answered, ours vs a bare MCPServer.

Both servers are spawned alternately in the same run (so machine noise hits both alike) and driven
with raw JSON-RPC over stdio. Prints each median and the ratio ours / bare (target for spawn -> initialize:
<= 1.05; tools/list also pays for building the tools' schemas, which a bare server with one tool does not).

    .venv/bin/python bench/cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_SERVER = '''
from mcp.server import MCPServer
mcp = MCPServer("bare")

@mcp.tool()
def ping(text: str) -> str:
    """Echo."""
    return text

mcp.run()
'''

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "cold-start-bench", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def time_one(command: list[str], cwd: str) -> tuple[float, float, int]:
    """Seconds to the initialize answer and to the tools/list answer, and the number of tools."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, cwd=cwd, text=True, bufsize=1)
    try:
        assert process.stdin and process.stdout
        process.stdin.write(json.dumps(INITIALIZE) + "\n")
        process.stdin.flush()
        json.loads(process.stdout.readline())
        initialized = time.perf_counter() - start
        process.stdin.write(json.dumps(INITIALIZED) + "\n")
        process.stdin.write(json.dumps(TOOLS_LIST) + "\n")
        process.stdin.flush()
        answer = json.loads(process.stdout.readline())
        listed = time.perf_counter() - start
        return initialized, listed, len(answer["result"]["tools"])
    finally:
        process.kill()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        bare_script = Path(workdir) / "bare_server.py"
        bare_script.write_text(BARE_SERVER)
        ours = [sys.executable, "-m", "retention_mcp", "--data-dir", workdir, "--log-level", "WARNING"]
        bare = [sys.executable, str(bare_script)]
        os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "0")
        # One untimed run of each warms the OS file cache and writes bytecode.
        time_one(ours, workdir)
        time_one(bare, workdir)
        results: dict[str, list[tuple[float, float, int]]] = {"ours": [], "bare": []}
        for _ in range(args.runs):
            results["ours"].append(time_one(ours, workdir))
            results["bare"].append(time_one(bare, workdir))

    def median(name: str, index: int) -> float:
        return statistics.median(r[index] for r in results[name])

    print(f"runs: {args.runs} each, interleaved; tools listed: ours {results['ours'][0][2]}, "
          f"bare {results['bare'][0][2]}")
    print(f"{'':28}{'ours':>10}{'bare':>10}{'ratio':>8}")
    for label, index in (("spawn -> initialize (s)", 0), ("spawn -> tools/list (s)", 1)):
        ours_median, bare_median = median("ours", index), median("bare", index)
        print(f"{label:28}{ours_median:10.3f}{bare_median:10.3f}{ours_median / bare_median:8.2f}")
    ratio = median("ours", 0) / median("bare", 0)
    print(f"target: spawn -> initialize ratio <= 1.05 -> {'met' if ratio <= 1.05 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

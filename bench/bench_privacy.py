"""What protected mode costs: the same tools on the same 1,000,000-row event file, exact mode against protected mode
(the cell key method) in the same run.

Run: ``.venv/bin/python bench/bench_privacy.py`` (reuses bench/_work/events_1m.csv from bench_turnover.py).

Each mode gets its own in-memory server (same data folder, same output folder so one secret); every figure is the
median of 5 interleaved warm calls, after a first call that also computes the record keys (protected mode: one
keyed hash of every person's ID, once per file). Ratio = protected ÷ exact; target: warm calls <= 3x.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_turnover import FILE, generate

CALLS = {
    "turnover_breakdown by department": ("turnover_breakdown", {"by": ["department"]}),
    "retention_curve by department": ("retention_curve", {"by": ["department"]}),
    "describe_groups by department": ("describe_groups", {"by": ["department"], "columns": ["performance"]}),
}
TARGET = 3.0


async def measure() -> dict[str, dict[str, list[float]]]:
    from mcp import Client

    from retention_mcp.server import build_server
    from retention_mcp.settings import Settings

    out = Path(tempfile.mkdtemp())
    clients = {}
    times: dict[str, dict[str, list[float]]] = {name: {"exact": [], "protected": [], "first": []} for name in CALLS}
    for mode in ("exact", "protected"):
        settings = Settings(data_dirs=(FILE.parent,), output_dir=out, log_level="WARNING", privacy_mode=mode,
                            database_url=f"sqlite:///{out / 'workspace.sqlite3'}")
        clients[mode] = Client(build_server(settings), raise_exceptions=True)
    async with clients["exact"] as exact, clients["protected"] as protected:
        connected = {"exact": exact, "protected": protected}
        for mode, client in connected.items():
            started = time.perf_counter()
            result = await client.call_tool("turnover_breakdown", {"path": FILE.name})
            assert not result.is_error, result.content[0].text
            print(f"{mode}: first call (parse{' and record keys' if mode == 'protected' else ''}) "
                  f"{time.perf_counter() - started:.2f} s")
        for _ in range(5):
            for name, (tool, arguments) in CALLS.items():
                for mode, client in connected.items():
                    started = time.perf_counter()
                    result = await client.call_tool(tool, {"path": FILE.name, **arguments})
                    assert not result.is_error, result.content[0].text
                    times[name][mode].append(time.perf_counter() - started)
    return times


def main() -> int:
    if not FILE.is_file():
        FILE.parent.mkdir(parents=True, exist_ok=True)
        generate(FILE)
    times = anyio.run(measure)
    worst = 0.0
    print("| call | exact | protected | ratio |\n|---|---:|---:|---:|")
    for name, by_mode in times.items():
        exact, protected = statistics.median(by_mode["exact"]), statistics.median(by_mode["protected"])
        worst = max(worst, protected / exact)
        print(f"| {name} | {exact * 1000:.0f} ms | {protected * 1000:.0f} ms | {protected / exact:.2f}x |")
    print(f"worst ratio {worst:.2f}x (target <= {TARGET:g}x)")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())

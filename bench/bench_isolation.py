"""What running tools in worker processes costs, and what it buys.

    .venv/bin/python bench/bench_isolation.py [--rows 1000000] [--calls 200]

1. Per-call overhead: the median of ``--calls`` calculate_roi calls through an in-memory MCP client, with the
   tool run in a worker process (as served) and in a thread of the server process (the old way), same run.
2. Memory: 20 concurrent first calls of turnover_breakdown on one generated ``--rows``-row file: the peak
   resident memory of every worker and of the server (one parse, on the worker that owns the file).
3. Cancellation: a 20,000-row DOCX export and a first turnover call on a fresh copy of the big file (never
   parsed before), cancelled after 0.3 s while still running: seconds until the worker stops using CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROI = {"headcount": 200, "current_turnover_rate": "12.6%", "target_turnover_rate": "10%",
       "average_annual_cost": 60000, "cost_preset": "frontline", "program_cost_one_off": 80000}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seconds_until_idle(pids: list[int], limit: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = [cpu_seconds(p) for p in pids]
        time.sleep(0.05)
        after = [cpu_seconds(p) for p in pids]
        if all(a is None or (b is not None and a - b < 0.004) for a, b in zip(after, before, strict=True)):
            return time.monotonic() - started
    return float("inf")


async def overhead(settings, calls: int) -> tuple[float, float]:
    from mcp import Client

    from retention_mcp.runtime import dispatch
    from retention_mcp.runtime.worker import resolve
    from retention_mcp.server import build_server

    async def median_of(client) -> float:
        await client.call_tool("calculate_roi", ROI)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            result = await client.call_tool("calculate_roi", ROI)
            times.append(time.perf_counter() - started)
            assert not result.is_error
        return statistics.median(times)

    async with Client(build_server(settings)) as client:
        in_worker = await median_of(client)
    real_run = dispatch.ToolRuntime.run

    async def in_thread(self, target, arguments, ctx=None, affinity=None):
        return await anyio.to_thread.run_sync(
            lambda: resolve(target)(settings=self.worker_settings, progress=lambda *_: None, **arguments))

    dispatch.ToolRuntime.run = in_thread
    try:
        async with Client(build_server(settings)) as client:
            in_process = await median_of(client)
    finally:
        dispatch.ToolRuntime.run = real_run
    return in_worker, in_process


async def parallel_first_calls(settings, name: str) -> tuple[float, list[float], float]:
    from mcp import Client

    from retention_mcp.runtime.pool import shared_pool
    from retention_mcp.server import build_server

    async with Client(build_server(settings)) as client:
        await client.call_tool("list_templates", {})
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(client.call_tool, "turnover_breakdown", {"path": name, "by": ["department"]})
        took = time.perf_counter() - started
        workers = [peak_rss_mb(w.process.pid) for w in shared_pool(1)._workers]
    return took, workers, peak_rss_mb(os.getpid())


async def cancelled(settings, name: str) -> dict[str, float]:
    from mcp import Client

    from retention_mcp.runtime.pool import shared_pool
    from retention_mcp.server import build_server

    table = "| agent | calls | csat |\n|---|---:|---:|\n" + "".join(f"| A{i:04d} | {i} | 4.{i % 10} |\n"
                                                                    for i in range(20_000))
    out: dict[str, float] = {}
    async with Client(build_server(settings)) as client:
        for label, tool, arguments in (
                ("docx export, 20,000-row table", "export_report",
                 {"title": "big", "markdown": table, "format": "docx", "filename": "cancel.docx"}),
                ("first turnover call on the big file", "turnover_breakdown", {"path": name, "by": ["department"]})):
            await client.call_tool("list_templates", {})
            started = time.perf_counter()
            with anyio.move_on_after(0.3) as scope:
                await client.call_tool(tool, arguments)
            if not scope.cancelled_caught:
                raise SystemExit(f"{label}: finished before 0.3 s; nothing to cancel (make the work bigger)")
            pids = [w.process.pid for w in shared_pool(1)._workers] + [os.getpid()]
            ran = time.perf_counter() - started
            out[label] = ran + seconds_until_idle(pids)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    import subprocess

    from retention_mcp.settings import Settings

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        # Generated in a child process, so this process's peak memory is the server's own.
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from retention_mcp.sample_data import write_large_event_file as w; "
                        "w(Path(sys.argv[1]), rows=int(sys.argv[2]))", str(folder / "events.csv"), str(args.rows)],
                       check=True)
        settings = Settings(data_dirs=(folder,), output_dir=folder / "out", log_level="WARNING")

        in_worker, in_process = anyio.run(overhead, settings, args.calls)
        print(f"calculate_roi, median of {args.calls}: worker process {in_worker * 1000:.2f} ms, "
              f"server thread {in_process * 1000:.2f} ms, overhead {(in_worker - in_process) * 1000:+.2f} ms "
              f"({in_worker / in_process:.2f}x)")

        took, workers, server = anyio.run(parallel_first_calls, settings, "events.csv")
        print(f"20 concurrent first calls on {args.rows:,} rows: {took:.2f} s; peak RSS per worker "
              f"{', '.join(f'{w:.0f}' for w in workers)} MB, server {server:.0f} MB")

        shutil.copyfile(folder / "events.csv", folder / "events_copy.csv")
        for label, seconds in anyio.run(cancelled, settings, "events_copy.csv").items():
            print(f"cancelled after 0.3 s: {label}: CPU released {seconds:.2f} s after the call started")
    return 0


if __name__ == "__main__":
    sys.exit(main())

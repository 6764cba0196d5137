"""Benchmark turnover_breakdown on a generated 1,000,000-row event file, against hand-written pandas.

Run: ``.venv/bin/python bench/bench_turnover.py`` (writes bench/_work/events_1m.csv once, ~70 MB).

One process measures:
- first call: the tool through an in-memory MCP client, file parse included, vs ``pandas.read_csv``
  plus the equivalent hand-written groupby (average month-end headcount and leavers by department). The
  server's worker process is started first (one untimed ``list_templates``), as it is on a server that has
  been up a second; starting from nothing is measured by ``bench_peers.py``;
- warm call: the tool again (parsed table cached) vs the hand-written groupby on the loaded frame;
- peak RSS of the server process and of the worker that ran the calls.
Targets: first <= 1.3x, warm <= 1.5x, peak RSS <= 1.5 GB.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

import anyio
import pandas as pd

ROWS = 1_000_000
WORK = Path(__file__).resolve().parent / "_work"
FILE = WORK / "events_1m.csv"
TARGETS = {"first": 1.3, "warm": 1.5, "rss_gb": 1.5}


def generate(path: Path, rows: int = ROWS, seed: int = 7) -> None:
    from retention_mcp.sample_data import write_large_event_file

    write_large_event_file(path, rows, seed)


def hand_groupby(df: pd.DataFrame) -> pd.Series:
    """The equivalent hand-written pandas: 12 months ending at the latest date, average month-end headcount."""
    end = max(df["hire_date"].max(), df["termination_date"].max())
    start = end - pd.DateOffset(months=12) + pd.Timedelta(days=1)
    days = [end - pd.DateOffset(months=k) for k in range(12)]
    heads = sum(df[(df["hire_date"] <= d) & (df["termination_date"].isna() | (df["termination_date"] >= d))]
                .groupby("department").size() for d in days) / 12
    leavers = df[df["termination_date"].between(start, end)].groupby("department").size()
    return leavers / heads


def hand_first() -> pd.Series:
    df = pd.read_csv(FILE, parse_dates=["hire_date", "termination_date"])
    return hand_groupby(df), df


def peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


async def tool_call(client) -> dict:
    result = await client.call_tool("turnover_breakdown", {"path": FILE.name, "by": ["department"]})
    if result.is_error:
        raise RuntimeError(result.content[0].text)
    return result.structured_content


async def main() -> int:
    from mcp import Client

    from retention_mcp.server import build_server
    from retention_mcp.settings import Settings

    if not FILE.exists():
        print(f"generating {FILE} ({ROWS:,} rows)...", file=sys.stderr)
        generate(FILE)
    FILE.read_bytes()  # warm the OS file cache so both sides read from memory
    settings = Settings(data_dirs=(WORK,), output_dir=WORK / "out", log_level="WARNING")

    t = time.perf_counter()
    expected, df = hand_first()
    hand_first_s = time.perf_counter() - t

    async with Client(build_server(settings), raise_exceptions=True) as client:
        await client.call_tool("list_templates", {})  # a worker is up
        t = time.perf_counter()
        first = await tool_call(client)
        tool_first_s = time.perf_counter() - t

        tool_warm, hand_warm = [], []
        for _ in range(5):
            t = time.perf_counter()
            warm = await tool_call(client)
            tool_warm.append(time.perf_counter() - t)
            t = time.perf_counter()
            hand_groupby(df)
            hand_warm.append(time.perf_counter() - t)
        from retention_mcp.runtime.pool import shared_pool

        worker_peak_gb = max(peak_rss_gb(w.process.pid) for w in shared_pool(1)._workers)

    got = {r["label"]: r["rate"] for r in first["rows"]}
    for dept, rate in expected.items():  # same answer as the hand-written version
        assert abs(got[dept] - rate) < 1e-9, (dept, got[dept], rate)
    assert warm["overall"] == first["overall"]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # this process: hand-written + server
    first_ratio = tool_first_s / hand_first_s
    warm_ratio = statistics.median(tool_warm) / statistics.median(hand_warm)
    print(f"rows: {ROWS:,}  file: {FILE.stat().st_size / 1e6:.0f} MB")
    print(f"first call: tool {tool_first_s:.2f} s vs read_csv+groupby {hand_first_s:.2f} s -> {first_ratio:.2f}x "
          f"(target <= {TARGETS['first']}x)")
    print(f"warm call:  tool {statistics.median(tool_warm):.3f} s vs groupby {statistics.median(hand_warm):.3f} s "
          f"-> {warm_ratio:.2f}x (target <= {TARGETS['warm']}x)")
    print(f"peak RSS: worker {worker_peak_gb:.2f} GB (target <= {TARGETS['rss_gb']} GB); this process (server and "
          f"the hand-written pandas) {peak_gb:.2f} GB")
    ok = first_ratio <= TARGETS["first"] and warm_ratio <= TARGETS["warm"] and worker_peak_gb <= TARGETS["rss_gb"]
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(anyio.run(main))

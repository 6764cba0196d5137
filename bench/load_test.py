"""Load test: N concurrent MCP clients x M calls against `retention-mcp serve --http`, with 1 then 2 workers.

Starts the server itself on a free loopback port (bearer token on, as a team would run it), drives a mix of
`turnover_breakdown` on the sample company, `calculate_roi` and `prompts/get retention_strategy` (tools not
there yet are left out of the mix and said so), then stops it. Bounded: N x M calls per round and a hard
time limit per round. Prints throughput, p50/p95/p99 latency and errors per worker count; exit 1 on any error.

    .venv/bin/python bench/load_test.py                       # 50 clients x 20 calls, workers 1 and 2
    .venv/bin/python bench/load_test.py --clients 10 --calls 5 --workers 1 --json results.json
    .venv/bin/python bench/load_test.py --against /tmp/main-src --repeat 3   # before/after, rounds interleaved

``--against DIR`` runs the same rounds against another checkout's ``src`` (e.g. ``git archive main`` unpacked into
DIR), alternating with this one (theirs, ours, theirs, ours, ...) so both see the same machine load; the table shows
each round and the median per version.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

FALLBACK_CSV = "employee_id,department,shift,hire_date,termination_date,separation_type\n" + "\n".join(
    f"E{i:04d},{('Sales', 'R&D', 'Service')[i % 3]},{('day', 'night')[i % 2]},2021-0{1 + i % 9}-15,"
    + (f"2024-0{1 + i % 9}-20,voluntary" if i % 5 == 0 else ",")
    for i in range(300)
) + "\n"

ROI_ARGS = {"headcount": 400, "current_turnover_rate": "24%", "target_turnover_rate": "18%",
            "average_annual_cost": 60000, "cost_preset": "call_center",
            "program_cost_one_off": 80000, "program_cost_annual": 120000}
STRATEGY_ARGS = {"company_info": "Sample Co, 1,500 people with a 24/7 customer-service center",
                 "employee_group": "Customer-service agents on night shifts", "satisfaction_score": "61",
                 "turnover_rate": "18%", "engagement_score": "57",
                 "employee_feedback": "Night shifts are not shared fairly.", "language": "en"}


@dataclass
class Operation:
    name: str
    kind: str  # "tool" or "prompt"
    target: str
    arguments: dict[str, Any]


@dataclass
class RoundResult:
    workers: int
    calls_planned: int
    wall_seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_errors: list[str] = field(default_factory=list)
    timed_out: bool = False

    @property
    def completed(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values()) + (self.calls_planned - self.completed - sum(self.errors.values()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_data(folder: Path) -> str:
    """The sample company's HR export in `folder`; returns its file name."""
    try:
        from retention_mcp.sample_data import write_sample_company
    except ImportError:
        (folder / "fallback_company.csv").write_text(FALLBACK_CSV, encoding="utf-8")
        print("note: retention_mcp.sample_data is not there yet; using a small generated CSV", file=sys.stderr)
        return "fallback_company.csv"
    files = write_sample_company(folder)
    return files["sample_company.csv"].name if "sample_company.csv" in files else next(iter(files.values())).name


class Server:
    """`python -m retention_mcp serve --http` in a child process; always stopped."""

    def __init__(self, workdir: Path, workers: int, token: str, source: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{workers}w-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_MCP_")}
        env["RETENTION_MCP_TOKEN"] = token
        # Each server has its own workspace database, so rounds do not grow one another's evidence table.
        env["XDG_DATA_HOME"] = str(workdir / f"user-data-{self.port}")
        if source is not None:  # another checkout's code (PYTHONPATH comes before the editable install)
            env["PYTHONPATH"] = str(source / "src")
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "retention_mcp", "serve", "--http", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers), "--data-dir", str(workdir / "data"),
             "--output-dir", str(workdir / "out"), "--log-level", "WARNING"],
            stdout=subprocess.DEVNULL, stderr=self._log, env=env)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


def connect(url: str, token: str) -> tuple[httpx2.AsyncClient, Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(60.0))
    # cache=None: every call must reach the server.
    return http, Client(streamable_http_client(f"{url}/mcp", http_client=http), cache=None)


async def choose_operations(url: str, token: str, sample: str) -> tuple[list[Operation], list[str]]:
    http, client = connect(url, token)
    async with http, client:
        tools = {t.name for t in (await client.list_tools()).tools}
        prompts = {p.name for p in (await client.list_prompts()).prompts}
    wanted = [
        Operation("turnover_breakdown", "tool", "turnover_breakdown", {"path": sample, "by": ["department"]}),
        Operation("calculate_roi", "tool", "calculate_roi", ROI_ARGS),
        Operation("prompts/get retention_strategy", "prompt", "retention_strategy", STRATEGY_ARGS),
    ]
    chosen = [op for op in wanted if op.target in (tools if op.kind == "tool" else prompts)]
    missing = [op.name for op in wanted if op not in chosen]
    if missing and "list_templates" in tools:  # a stand-in for what is not there yet, so the mix stays mixed
        chosen.append(Operation("list_templates (stand-in)", "tool", "list_templates", {}))
    return chosen, missing


async def call(client: Client, op: Operation) -> str | None:
    """Run one operation; the error text, or None when it succeeded."""
    if op.kind == "tool":
        result = await client.call_tool(op.target, op.arguments)
        if result.is_error:
            return " ".join(getattr(c, "text", "") for c in result.content)[:200]
        return None
    result = await client.get_prompt(op.target, op.arguments)
    return None if result.messages else "empty prompt"


class RawClient:
    """Plain JSON-RPC POSTs (no SDK client): far less client CPU, so the server is what gets measured."""

    def __init__(self, url: str, http: httpx2.AsyncClient) -> None:
        self.url, self.http, self.next_id = f"{url}/mcp", http, 0

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        response = await self.http.post(self.url, json={"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                                         "params": params},
                                        headers={"accept": "application/json, text/event-stream"})
        response.raise_for_status()
        answer = response.json()
        if "error" in answer:
            raise RuntimeError(f"JSON-RPC error {answer['error']}")
        return answer["result"]


async def raw_call(client: RawClient, op: Operation) -> str | None:
    if op.kind == "tool":
        result = await client.request("tools/call", {"name": op.target, "arguments": op.arguments})
        return str(result.get("content"))[:200] if result.get("isError") else None
    result = await client.request("prompts/get", {"name": op.target, "arguments": op.arguments})
    return None if result.get("messages") else "empty prompt"


async def run_round(url: str, token: str, operations: list[Operation], workers: int, clients: int, calls: int,
                    time_limit: float, raw: bool = False) -> RoundResult:
    outcome = RoundResult(workers=workers, calls_planned=clients * calls)

    # Warm-up, not timed: each worker imports pandas and parses the file on first use.
    for _ in range(2 * workers):
        http, client = connect(url, token)
        async with http, client:
            for op in operations:
                await call(client, op)

    async def one_client(index: int) -> None:
        http, client = connect(url, token)
        async with http, (nullcontext(RawClient(url, http)) if raw else client) as session:
            for j in range(calls):
                op = operations[(index + j) % len(operations)]
                start = time.perf_counter()
                try:
                    error = await (raw_call(session, op) if raw else call(session, op))
                except Exception as exc:  # a failed call is a data point, not the end of the run
                    error = f"{type(exc).__name__}: {exc}"[:200]
                if error is None:
                    outcome.latencies[op.name].append(time.perf_counter() - start)
                else:
                    outcome.errors[op.name] += 1
                    if len(outcome.first_errors) < 5:
                        outcome.first_errors.append(f"{op.name}: {error}")

    started = time.perf_counter()
    with anyio.move_on_after(time_limit) as scope:
        async with anyio.create_task_group() as group:
            for i in range(clients):
                group.start_soon(one_client, i)
    outcome.wall_seconds = time.perf_counter() - started
    outcome.timed_out = scope.cancelled_caught
    return outcome


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def summary(outcome: RoundResult) -> dict[str, Any]:
    every = [v for values in outcome.latencies.values() for v in values]

    def stats(values: list[float]) -> dict[str, float]:
        return {"calls": len(values), "p50_ms": round(percentile(values, 50) * 1000, 1),
                "p95_ms": round(percentile(values, 95) * 1000, 1), "p99_ms": round(percentile(values, 99) * 1000, 1)}

    return {
        "workers": outcome.workers, "calls_planned": outcome.calls_planned, "calls_ok": outcome.completed,
        "errors": outcome.error_count, "timed_out": outcome.timed_out,
        "wall_seconds": round(outcome.wall_seconds, 2),
        "throughput_per_s": round(outcome.completed / outcome.wall_seconds, 1) if outcome.wall_seconds else 0.0,
        **stats(every), "by_operation": {name: stats(v) for name, v in outcome.latencies.items()},
        "first_errors": outcome.first_errors,
    }


def print_table(results: list[dict[str, Any]], clients: int, calls: int, operations: list[Operation],
                raw: bool) -> None:
    print(f"\nload test: {clients} clients x {calls} calls ({'raw JSON-RPC' if raw else 'SDK Client'}), loopback, "
          f"bearer token on, {os.cpu_count()} CPU(s); mix: "
          + ", ".join(op.name for op in operations))
    header = f"{'version':>12} {'workers':>7} {'calls ok':>9} {'errors':>6} {'wall s':>7} {'calls/s':>8} " \
             f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['version']:>12} {r['workers']:>7} {r['calls_ok']:>9} {r['errors']:>6} {r['wall_seconds']:>7} "
              f"{r['throughput_per_s']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8}"
              + ("  TIMED OUT" if r["timed_out"] else ""))
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in results:
        groups[(r["version"], r["workers"])].append(r["throughput_per_s"])
    if any(len(v) > 1 for v in groups.values()) or len({v for v, _ in groups}) > 1:
        medians = [f"{version} {workers}w {statistics.median(values):.1f} ({len(values)} rounds)"
                   for (version, workers), values in groups.items()]
        print("median calls/s: " + "; ".join(medians))
    for r in results:
        for name, s in r["by_operation"].items():
            print(f"  {r['version']} {r['workers']}w {name:<34} n={s['calls']:<5} p50 {s['p50_ms']} ms, "
                  f"p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms")
        for line in r["first_errors"]:
            print(f"  {r['version']} {r['workers']}w error: {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--calls", type=int, default=20, help="calls per client (default 20)")
    parser.add_argument("--workers", default="1,2", help="worker counts to test, comma separated (default 1,2)")
    parser.add_argument("--time-limit", type=float, default=180.0,
                        help="hard limit per round in seconds; unfinished calls count as errors (default 180)")
    parser.add_argument("--raw", action="store_true",
                        help="plain JSON-RPC POSTs instead of the SDK client: less client CPU, so on a small machine "
                             "the server rather than the load generator is measured")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--against", type=Path, help="another checkout to compare with, rounds interleaved")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per version and worker count (default 1)")
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 500 and 1 <= args.calls <= 1000):
        parser.error("--clients must be 1..500 and --calls 1..1000 (the test is bounded on purpose)")
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]

    token = secrets.token_urlsafe(24)
    results: list[dict[str, Any]] = []
    operations: list[Operation] = []
    versions: list[tuple[str, Path | None]] = [("this", None)]
    if args.against is not None:
        versions = [(args.against.name or str(args.against), args.against.resolve()), ("this", None)]
    with tempfile.TemporaryDirectory(prefix="retention-load-") as tmp:
        workdir = Path(tmp)
        (workdir / "data").mkdir()
        sample = prepare_data(workdir / "data")
        for workers in worker_counts:
            for repetition in range(args.repeat):
                for label, source in versions:
                    server = Server(workdir, workers, token, source)
                    try:
                        server.wait_ready()
                        operations, missing = anyio.run(choose_operations, server.url, token, sample)
                        if missing:
                            print(f"note: not in the server yet, left out of the mix: {', '.join(missing)}",
                                  file=sys.stderr)
                        print(f"round {repetition + 1}: {label}, {workers} worker(s) at {server.url} ...",
                              file=sys.stderr)
                        outcome = anyio.run(run_round, server.url, token, operations, workers, args.clients,
                                            args.calls, args.time_limit, args.raw)
                        results.append({"version": label, **summary(outcome)})
                    finally:
                        server.stop()
    print_table(results, args.clients, args.calls, operations, args.raw)
    if args.json:
        args.json.write_text(json.dumps({"clients": args.clients, "calls": args.calls, "raw": args.raw,
                                         "rounds": results}, indent=2))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())

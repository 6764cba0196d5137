"""Our server against fresh-process pandas, DuckDB, polars and fastexcel scripts, on the same files, one run.

    .venv/bin/python bench/bench_peers.py [--runs 5]

The comparison libraries (duckdb, polars) are installed by this bench into the running environment when
missing; the package itself does not depend on them.

Files (written once into bench/_work): a 1,000,000-row event CSV and a 100,000-row XLSX export.

Each figure is a fresh process, as a person's first question would be:
- ours: spawn ``retention-mcp`` (stdio), answer initialize, wait 1.5 s (an assistant reading the tool list),
  then send ``turnover_breakdown`` by department; timed from sending the call to its answer. The server
  warms itself up in the background after the handshake, as it does for every client. Also spawn -> answer.
- peers: ``python -c`` scripts that compute the same table (12 months to the latest date that is not in the
  future, average month-end headcount, leavers in the period, by department), timed spawn -> exit.
Runs alternate (ours, duckdb, polars, pandas, ...) and medians are compared; every peer's rates are checked
against ours before any time is reported. Targets: CSV within 1.5x DuckDB, XLSX within 1.3x fastexcel+pandas.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
CSV = WORK / "events_1m.csv"
XLSX = WORK / "hr_100k.xlsx"

# The shared definition every peer computes: the ends of the 12 months ending at the latest date.
PERIOD = """
import datetime as dt, calendar
def add_months(day, months):
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))
def month_ends(end):  # the end of each month of the period: calendar month ends, or the period end's day
    if end.day == calendar.monthrange(end.year, end.month)[1]:
        firsts = [add_months(dt.date(end.year, end.month, 1), -k) for k in range(12)]
        return [dt.date(f.year, f.month, calendar.monthrange(f.year, f.month)[1]) for f in firsts]
    return [add_months(end, -k) for k in range(12)]
def start_of(end):
    return add_months(end, -12) + dt.timedelta(days=1)
"""

PANDAS = PERIOD + """
import sys, json, pandas as pd
path, hire_col, term_col, dept_col = sys.argv[1:5]
df = pd.read_excel(path) if path.endswith(".xlsx") else pd.read_csv(path)
hire = pd.to_datetime(df[hire_col]); term = pd.to_datetime(df[term_col])
dates = pd.concat([hire, term]).dropna()
end = dates[dates <= pd.Timestamp(dt.date.today())].max().date()  # future dates are planned, not yet happened
heads = sum(df[(hire <= pd.Timestamp(d)) & (term.isna() | (term >= pd.Timestamp(d)))].groupby(dept_col).size()
            for d in month_ends(end)) / 12
left = df[(term >= pd.Timestamp(start_of(end))) & (term <= pd.Timestamp(end))].groupby(dept_col).size()
print(json.dumps({k: float(left.get(k, 0) / v) for k, v in heads.items()}))
"""

FASTEXCEL = PANDAS.replace("pd.read_excel(path) if path.endswith(\".xlsx\") else pd.read_csv(path)",
                           "__import__('fastexcel').read_excel(path).load_sheet(0).to_pandas()")

DUCKDB = PERIOD + """
import sys, json, duckdb
path, hire_col, term_col, dept_col = sys.argv[1:5]
con = duckdb.connect()
con.execute(f"create view e as select \\"{dept_col}\\" as dept, cast(\\"{hire_col}\\" as date) h, "
            f"try_cast(\\"{term_col}\\" as date) t from read_csv_auto('{path}')")
end = con.execute("select max(d) from (select h d from e union all select t from e) where d <= current_date"
                  ).fetchone()[0]
days = ", ".join(f"(date '{d}')" for d in month_ends(end))
rows = con.execute(f'''
  with d(day) as (values {days}),
  heads as (select dept, count(*) / 12.0 as heads from e, d where h <= day and (t is null or t >= day) group by dept),
  left_ as (select dept, count(*) as n from e where t between date '{start_of(end)}' and date '{end}' group by dept)
  select heads.dept, coalesce(left_.n, 0) / heads.heads from heads left join left_ using (dept)''').fetchall()
print(json.dumps({k: float(v) for k, v in rows}))
"""

POLARS = PERIOD + """
import sys, json, polars as pl
path, hire_col, term_col, dept_col = sys.argv[1:5]
df = pl.read_csv(path, try_parse_dates=True).select(pl.col(dept_col).alias("dept"),
    pl.col(hire_col).cast(pl.Date).alias("h"), pl.col(term_col).cast(pl.Date).alias("t"))
dates = pl.concat([df["h"], df["t"]]).drop_nulls()
end = dates.filter(dates <= dt.date.today()).max()
days = pl.DataFrame({"day": month_ends(end)})
heads = (df.join(days, how="cross").filter((pl.col("h") <= pl.col("day"))
         & (pl.col("t").is_null() | (pl.col("t") >= pl.col("day")))).group_by("dept").len()
         .with_columns(pl.col("len") / 12))
left = df.filter(pl.col("t").is_between(start_of(end), end)).group_by("dept").len().rename({"len": "n"})
out = heads.join(left, on="dept", how="left").fill_null(0)
print(json.dumps({r["dept"]: r["n"] / r["len"] for r in out.iter_rows(named=True)}))
"""

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}


def ensure_peers() -> None:
    missing = [name for name in ("duckdb", "polars") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"installing comparison libraries: {', '.join(missing)}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def make_files(xlsx_rows: int) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if not CSV.exists():
        from retention_mcp.sample_data import write_large_event_file

        write_large_event_file(CSV, rows=1_000_000)
    if not XLSX.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_xlsx import generate

        generate(XLSX, xlsx_rows)


def ours(path: Path, wait: float = 1.5) -> tuple[float, float, dict[str, float]]:
    """(seconds from sending the call to its answer, seconds from spawn to the answer, rates by group)."""
    spawned = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "retention_mcp", "--data-dir", str(path.parent),
                               "--output-dir", str(WORK / "out"), "--log-level", "WARNING"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdin and server.stdout
        server.stdin.write(json.dumps(INITIALIZE) + "\n")
        server.stdin.flush()
        server.stdout.readline()
        server.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        server.stdin.flush()
        time.sleep(wait)
        sent = time.perf_counter()
        server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "turnover_breakdown", "arguments": {"path": path.name, "by": ["department"]}}}) + "\n")
        server.stdin.flush()
        while True:
            answer = json.loads(server.stdout.readline())
            if answer.get("id") == 2:
                break
        done = time.perf_counter()
        rows = answer["result"]["structuredContent"]["rows"]
        return done - sent, done - spawned - wait, {r["label"]: r["rate"] for r in rows if not r["suppressed"]}
    finally:
        server.kill()
        server.wait()


def script(code: str, path: Path, columns: tuple[str, str, str]) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(path), *columns], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(out.stdout)


def same(ours_rates: dict[str, float], theirs: dict[str, float], label: str) -> None:
    for group, rate in theirs.items():
        if group in ours_rates:
            assert abs(ours_rates[group] - rate) < 1e-9, (label, group, ours_rates[group], rate)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    args = parser.parse_args()
    ensure_peers()
    make_files(args.xlsx_rows)
    for path in (CSV, XLSX):
        path.read_bytes()  # warm the OS file cache for everyone
    os.environ.setdefault("RETENTION_MCP_TOOL_WORKERS", "2")

    csv_columns = ("hire_date", "termination_date", "department")
    xlsx_columns = ("Hire Date", "Termination Date", "Department")
    times: dict[str, list[float]] = {k: [] for k in ("ours_csv", "ours_csv_spawn", "duckdb", "polars", "pandas",
                                                    "ours_xlsx", "ours_xlsx_spawn", "fastexcel")}
    for _ in range(args.runs):
        call, spawn, rates = ours(CSV)
        times["ours_csv"].append(call)
        times["ours_csv_spawn"].append(spawn)
        for name, code in (("duckdb", DUCKDB), ("polars", POLARS), ("pandas", PANDAS)):
            took, theirs = script(code, CSV, csv_columns)
            same(rates, theirs, name)
            times[name].append(took)
        call, spawn, rates = ours(XLSX)
        times["ours_xlsx"].append(call)
        times["ours_xlsx_spawn"].append(spawn)
        took, theirs = script(FASTEXCEL, XLSX, xlsx_columns)
        same(rates, theirs, "fastexcel")
        times["fastexcel"].append(took)

    m = {k: statistics.median(v) for k, v in times.items()}
    print(f"medians of {args.runs} fresh-process runs (seconds)")
    print(f"1M-row CSV: ours {m['ours_csv']:.2f} (call sent 1.5 s after initialize; {m['ours_csv_spawn']:.2f} "
          f"spawn -> answer without the wait) | duckdb {m['duckdb']:.2f} | polars {m['polars']:.2f} | "
          f"pandas {m['pandas']:.2f}")
    for name in ("duckdb", "polars", "pandas"):
        print(f"  ours / {name}: {m['ours_csv'] / m[name]:.2f}x")
    print(f"  target: ours / duckdb <= 1.5 -> {'met' if m['ours_csv'] <= 1.5 * m['duckdb'] else 'NOT met'}")
    print(f"100k-row XLSX: ours {m['ours_xlsx']:.2f} ({m['ours_xlsx_spawn']:.2f} spawn -> answer) | "
          f"fastexcel+pandas {m['fastexcel']:.2f}")
    print(f"  ours / fastexcel+pandas: {m['ours_xlsx'] / m['fastexcel']:.2f}x -> target 1.3: "
          f"{'met' if m['ours_xlsx'] <= 1.3 * m['fastexcel'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

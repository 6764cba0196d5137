"""Our server against fresh-process pandas, DuckDB, polars and fastexcel scripts, on the same files, one run.

    .venv/bin/python bench/bench_peers.py [--runs 5] [--skip-join]

polars is installed by this bench into the running environment when missing (DuckDB is our own dependency:
linked datasets join with it).

Files (written once into bench/_work): a 1,000,000-row event CSV, a 100,000-row XLSX export, and a
5,000,000-row attendance CSV of the event file's employees (five days each).

Each figure is a fresh process, as a person's first question would be:
- ours: spawn ``retention-mcp`` (stdio), answer initialize, wait 1.5 s (an assistant reading the tool list),
  then send ``turnover_breakdown`` by department; timed from sending the call to its answer. The server
  warms itself up in the background after the handshake, as it does for every client. Also spawn -> answer.
- peers: ``python -c`` scripts that compute the same table (12 months to the latest date that is not in the
  future, average month-end headcount, leavers in the period, by department), timed spawn -> exit.
- the join: the 1M-row roster linked with the 5M-row attendance (each person's latest shift) as a saved dataset
  (dataset_link once, untimed), then a fresh server's first ``turnover_breakdown`` by that joined column, against
  fresh-process scripts that read both CSVs, take each person's latest shift, join and compute the same table.
Runs alternate (ours, duckdb, polars, pandas, ...) and medians are compared; every peer's rates are checked
against ours before any time is reported. Peak memory: the largest resident set of our server's processes (the
worker) and of each peer process. Targets: CSV <= 1.0x DuckDB, join <= 1.2x DuckDB, XLSX <= 1.0x fastexcel+pandas.
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

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from bench_isolation import peak_rss_mb  # noqa: E402  (the bench folder's own helpers)
from server_process import descendants  # noqa: E402  (the tests' process helpers)

WORK = HERE / "_work"
CSV = WORK / "events_1m.csv"
XLSX = WORK / "hr_100k.xlsx"
ATTENDANCE = WORK / "attendance_5m.csv"
DATABASE = WORK / "bench-workspace.sqlite3"
DATASET = "roster_attendance"
TARGETS = {"csv": 1.0, "join": 1.2, "xlsx": 1.0}
#: Every peer script reports its own peak memory (KB) on its last stderr line: VmHWM, which starts afresh at exec.
#: (ru_maxrss does not: a child forked from this bench, which holds the generated files, inherited its ~1.2 GB.)
PEAK = ("\nimport sys as _s\ntry:\n"
        "    _p = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "except OSError:\n    import resource as _r; _p = _r.getrusage(_r.RUSAGE_SELF).ru_maxrss\n"
        "print(_p, file=_s.stderr)\n")

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

# The turnover table in SQL, over a table e(dept, h, t); shared by the single-file and the join scripts.
DUCKDB_TABLE = """
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

DUCKDB = PERIOD + """
import sys, json, duckdb
path, hire_col, term_col, dept_col = sys.argv[1:5]
con = duckdb.connect()
con.execute(f"create view e as select \\"{dept_col}\\" as dept, cast(\\"{hire_col}\\" as date) h, "
            f"try_cast(\\"{term_col}\\" as date) t from read_csv_auto('{path}')")
""" + DUCKDB_TABLE

DUCKDB_JOIN = PERIOD + """
import sys, json, duckdb
roster, attendance = sys.argv[1:3]
con = duckdb.connect()
con.execute(f"create temp table e as select coalesce(a.shift, '(missing)') as dept, cast(r.hire_date as date) h, "
            f"try_cast(r.termination_date as date) t from read_csv('{roster}') r left join (select employee_id, "
            f"arg_max(shift, date) as shift from read_csv('{attendance}') group by employee_id) a using (employee_id)")
""" + DUCKDB_TABLE

# The turnover table in polars, over a frame df(dept, h, t).
POLARS_TABLE = """
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

POLARS = PERIOD + """
import sys, json, polars as pl
path, hire_col, term_col, dept_col = sys.argv[1:5]
df = pl.read_csv(path, try_parse_dates=True).select(pl.col(dept_col).alias("dept"),
    pl.col(hire_col).cast(pl.Date).alias("h"), pl.col(term_col).cast(pl.Date).alias("t"))
""" + POLARS_TABLE

POLARS_JOIN = PERIOD + """
import sys, json, polars as pl
roster, attendance = sys.argv[1:3]
r = pl.read_csv(roster, columns=["employee_id", "hire_date", "termination_date"], try_parse_dates=True)
a = pl.read_csv(attendance, columns=["employee_id", "date", "shift"], try_parse_dates=True)
latest = a.group_by("employee_id").agg(pl.col("shift").sort_by("date").last())
df = r.join(latest, on="employee_id", how="left").select(pl.col("shift").fill_null("(missing)").alias("dept"),
    pl.col("hire_date").cast(pl.Date).alias("h"), pl.col("termination_date").cast(pl.Date).alias("t"))
""" + POLARS_TABLE

PANDAS_JOIN = PERIOD + """
import sys, json, pandas as pd
roster, attendance = sys.argv[1:3]
df = pd.read_csv(roster, usecols=["employee_id", "hire_date", "termination_date"])
a = pd.read_csv(attendance, usecols=["employee_id", "date", "shift"])
latest = a.sort_values(["employee_id", "date"]).groupby("employee_id")["shift"].last()
df["dept"] = df["employee_id"].map(latest).fillna("(missing)")
hire = pd.to_datetime(df["hire_date"]); term = pd.to_datetime(df["termination_date"])
dates = pd.concat([hire, term]).dropna()
end = dates[dates <= pd.Timestamp(dt.date.today())].max().date()
heads = sum(df[(hire <= pd.Timestamp(d)) & (term.isna() | (term >= pd.Timestamp(d)))].groupby("dept").size()
            for d in month_ends(end)) / 12
left = df[(term >= pd.Timestamp(start_of(end))) & (term <= pd.Timestamp(end))].groupby("dept").size()
print(json.dumps({k: float(left.get(k, 0) / v) for k, v in heads.items()}))
"""

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}


def ensure_peers() -> None:
    missing = [name for name in ("duckdb", "polars") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"installing comparison libraries: {', '.join(missing)}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def make_files(xlsx_rows: int, join: bool = True) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if not CSV.exists():
        from retention_mcp.sample_data import write_large_event_file

        write_large_event_file(CSV, rows=1_000_000)
    if join and not ATTENDANCE.exists():
        from retention_mcp.sample_data import write_large_attendance_file

        write_large_attendance_file(ATTENDANCE, people=1_000_000, days=5)
    if not XLSX.exists():
        from bench_xlsx import generate

        generate(XLSX, xlsx_rows)


def server_command(data: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "retention_mcp", "--data-dir", str(data), "--output-dir", str(WORK / "out"),
            "--log-level", "WARNING", "--database-url", f"sqlite:///{DATABASE}", *extra]


def rpc(server: subprocess.Popen, message: dict) -> dict:
    """Send a request and read until its answer (notifications in between are skipped)."""
    assert server.stdin and server.stdout
    server.stdin.write(json.dumps(message) + "\n")
    server.stdin.flush()
    while True:
        answer = json.loads(server.stdout.readline())
        if answer.get("id") == message["id"]:
            return answer


def ours(path: Path, wait: float = 1.5, arguments: dict | None = None) -> tuple[float, float, dict[str, float], float]:
    """(seconds from sending the call to its answer, seconds from spawn to the answer, rates by group, peak MB of
    the server's largest process)."""
    spawned = time.perf_counter()
    server = subprocess.Popen(server_command(path.parent), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        rpc(server, INITIALIZE)
        assert server.stdin
        server.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        server.stdin.flush()
        time.sleep(wait)
        sent = time.perf_counter()
        answer = rpc(server, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "turnover_breakdown", "arguments": arguments or {"path": path.name, "by": ["department"]}}})
        done = time.perf_counter()
        assert not answer["result"].get("isError"), answer["result"]["content"][0]["text"]
        rows = answer["result"]["structuredContent"]["rows"]
        peak = max(peak_rss_mb(pid) for pid in [server.pid, *descendants(server.pid)])
        return done - sent, done - spawned - wait, {r["label"]: r["rate"] for r in rows if not r["suppressed"]}, peak
    finally:
        server.kill()
        server.wait()


def link_once() -> None:
    """Save the roster ⨝ attendance dataset in the bench's workspace (untimed; every run reads it from there)."""
    server = subprocess.Popen(server_command(CSV.parent, "--call-timeout", "900"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        rpc(server, INITIALIZE)
        answer = rpc(server, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "dataset_link", "arguments": {"name": DATASET, "files": [
                {"path": CSV.name}, {"path": ATTENDANCE.name, "columns": {"shift_latest": "latest(shift)"},
                                     "order_by": "date"}]}}})
        assert not answer["result"].get("isError"), answer["result"]["content"][0]["text"]
    finally:
        server.kill()
        server.wait()


def script(code: str, *args: str | Path) -> tuple[float, dict[str, float], float]:
    """(seconds from spawn to exit, rates by group, peak MB) of a fresh-process peer."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + PEAK, *map(str, args)], capture_output=True, text=True,
                         check=True)
    took = time.perf_counter() - started
    # The table is printed last (DuckDB may draw a progress bar before it, with carriage returns).
    table = out.stdout[out.stdout.rfind("{"):]
    return took, json.loads(table), int(out.stderr.strip().splitlines()[-1]) / 1024


def same(ours_rates: dict[str, float], theirs: dict[str, float], label: str) -> None:
    for group, rate in theirs.items():
        if group in ours_rates:
            assert abs(ours_rates[group] - rate) < 1e-9, (label, group, ours_rates[group], rate)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--skip-join", action="store_true", help="leave out the 5M-row join (it takes longest)")
    args = parser.parse_args()
    ensure_peers()
    make_files(args.xlsx_rows, join=not args.skip_join)
    for path in (CSV, XLSX, *(() if args.skip_join else (ATTENDANCE,))):
        path.read_bytes()  # warm the OS file cache for everyone
    os.environ.setdefault("RETENTION_MCP_TOOL_WORKERS", "2")
    DATABASE.unlink(missing_ok=True)
    if not args.skip_join:
        link_once()

    csv_columns = ("hire_date", "termination_date", "department")
    xlsx_columns = ("Hire Date", "Termination Date", "Department")
    times: dict[str, list[float]] = {}
    peaks: dict[str, list[float]] = {}

    def note(name: str, seconds: float, peak: float) -> None:
        times.setdefault(name, []).append(seconds)
        peaks.setdefault(name, []).append(peak)
        print(f"  {name}: {seconds:.2f} s, {peak:.0f} MB", file=sys.stderr, flush=True)

    for _ in range(args.runs):
        call, spawn, rates, peak = ours(CSV)
        note("ours_csv", call, peak)
        note("ours_csv_spawn", spawn, peak)
        for name, code in (("duckdb", DUCKDB), ("polars", POLARS), ("pandas", PANDAS)):
            took, theirs, peak = script(code, CSV, *csv_columns)
            same(rates, theirs, name)
            note(name, took, peak)
        call, spawn, rates, peak = ours(XLSX)
        note("ours_xlsx", call, peak)
        note("ours_xlsx_spawn", spawn, peak)
        took, theirs, peak = script(FASTEXCEL, XLSX, *xlsx_columns)
        same(rates, theirs, "fastexcel")
        note("fastexcel", took, peak)
        if not args.skip_join:
            call, spawn, rates, peak = ours(CSV, arguments={"path": DATASET, "by": ["shift_latest"]})
            note("ours_join", call, peak)
            note("ours_join_spawn", spawn, peak)
            for name, code in (("duckdb_join", DUCKDB_JOIN), ("polars_join", POLARS_JOIN),
                               ("pandas_join", PANDAS_JOIN)):
                took, theirs, peak = script(code, CSV, ATTENDANCE)
                same(rates, theirs, name)
                assert set(theirs) == set(rates), (name, sorted(theirs), sorted(rates))
                note(name, took, peak)

    m = {k: statistics.median(v) for k, v in times.items()}
    mb = {k: max(v) for k, v in peaks.items()}
    print(f"medians of {args.runs} fresh-process runs (seconds; peak resident memory in MB)")
    print(f"1M-row CSV: ours {m['ours_csv']:.2f} (call sent 1.5 s after initialize; {m['ours_csv_spawn']:.2f} "
          f"spawn -> answer without the wait; {mb['ours_csv']:.0f} MB) | duckdb {m['duckdb']:.2f} "
          f"({mb['duckdb']:.0f} MB) | polars {m['polars']:.2f} ({mb['polars']:.0f} MB) | pandas {m['pandas']:.2f} "
          f"({mb['pandas']:.0f} MB)")
    for name in ("duckdb", "polars", "pandas"):
        print(f"  ours / {name}: {m['ours_csv'] / m[name]:.2f}x")
    print(f"  target: ours / duckdb <= {TARGETS['csv']} -> "
          f"{'met' if m['ours_csv'] <= TARGETS['csv'] * m['duckdb'] else 'NOT met'}")
    print(f"100k-row XLSX: ours {m['ours_xlsx']:.2f} ({m['ours_xlsx_spawn']:.2f} spawn -> answer; "
          f"{mb['ours_xlsx']:.0f} MB) | fastexcel+pandas {m['fastexcel']:.2f} ({mb['fastexcel']:.0f} MB)")
    print(f"  ours / fastexcel+pandas: {m['ours_xlsx'] / m['fastexcel']:.2f}x -> target {TARGETS['xlsx']}: "
          f"{'met' if m['ours_xlsx'] <= TARGETS['xlsx'] * m['fastexcel'] else 'NOT met'}")
    if not args.skip_join:
        print(f"1M roster x 5M attendance, turnover by the latest shift: ours {m['ours_join']:.2f} "
              f"({m['ours_join_spawn']:.2f} spawn -> answer; {mb['ours_join']:.0f} MB) | duckdb "
              f"{m['duckdb_join']:.2f} ({mb['duckdb_join']:.0f} MB) | polars {m['polars_join']:.2f} "
              f"({mb['polars_join']:.0f} MB) | pandas {m['pandas_join']:.2f} ({mb['pandas_join']:.0f} MB)")
        for name in ("duckdb_join", "polars_join", "pandas_join"):
            print(f"  ours / {name.removesuffix('_join')}: {m['ours_join'] / m[name]:.2f}x")
        print(f"  target: ours / duckdb <= {TARGETS['join']} -> "
              f"{'met' if m['ours_join'] <= TARGETS['join'] * m['duckdb_join'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

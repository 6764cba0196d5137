"""turnover_breakdown and inspect_dataset against independent calculations, privacy, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import policy, shared_dataset
from retention_mcp.analysis.stats import wilson_interval
from retention_mcp.analysis.turnover import headcount_days, months_between
from retention_mcp.analysis.turnover import turnover_breakdown as breakdown
from retention_mcp.data.dataset import load_dataset
from retention_mcp.data.disclosure import hidden_groups as suppressed_groups
from retention_mcp.settings import Settings


def wilson_by_formula(k: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927), written out independently of the code under test."""
    p = k / n
    denominator = 1 + z**2 / n
    centre = p + z**2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return ((centre - spread) / denominator, (centre + spread) / denominator)


def turnover_breakdown(ds, min_group_size: int = 5, **kwargs):
    """The analysis with the policy's floor at the group size the test asks for (an operator may set it)."""
    return breakdown(ds, policy=policy(floor=min(min_group_size, 5)), min_group_size=min_group_size, **kwargs)


def rows_by_label(result: dict) -> dict[str, dict]:
    return {row["label"]: row for row in result["rows"]}


# -- IBM (snapshot), the published figures


@pytest.mark.anyio
async def test_ibm_by_department_matches_published_figures(shared_client):
    path = shared_dataset("ibm_hr_attrition.csv")
    raw = pd.read_csv(path, encoding="utf-8-sig")
    result = await shared_client.call_tool("turnover_breakdown", {"path": "ibm_hr_attrition.csv",
                                                                  "by": ["Department"]})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["definition"]["shape"] == "snapshot"
    assert data["overall"]["leavers"] == 237 and data["overall"]["headcount"] == 1470
    assert data["overall"]["rate"] == pytest.approx(237 / 1470) == pytest.approx(0.1612, abs=5e-5)
    rows = rows_by_label(data)
    assert rows["Sales"]["rate"] == pytest.approx(0.2063, abs=5e-5)
    assert rows["Research & Development"]["rate"] == pytest.approx(0.1384, abs=5e-5)
    assert rows["Human Resources"]["rate"] == pytest.approx(0.1905, abs=5e-5)
    hr = rows["Human Resources"]
    low, high = wilson_by_formula(12, 63)
    assert (hr["ci_low"], hr["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert round(hr["ci_low"], 3) == 0.112 and round(hr["ci_high"], 3) == 0.304
    # independent group counts and gaps
    counts = raw.groupby("Department")["Attrition"].agg(lambda s: (s == "Yes").sum())
    for dept, leavers in counts.items():
        assert rows[dept]["leavers"] == leavers
        assert rows[dept]["gap_pp"] == pytest.approx((rows[dept]["rate"] - 237 / 1470) * 100)
    assert rows["Sales"]["significant"] is True  # 17.1%–24.6% excludes 16.1%
    assert rows["Human Resources"]["significant"] is False
    assert [r["rate"] for r in data["rows"]] == sorted([r["rate"] for r in data["rows"]], reverse=True)
    assert "20.6%" in result.content[0].text and "11.2%–30.4%" in result.content[0].text


def test_ibm_cross_breakdown_and_tenure_band(shared_settings: Settings):
    shared_dataset("ibm_hr_attrition.csv")
    raw = pd.read_csv(shared_dataset("ibm_hr_attrition.csv"), encoding="utf-8-sig")
    ds = load_dataset(shared_settings, path="ibm_hr_attrition.csv")
    result = turnover_breakdown(ds, by=["Department", "OverTime"], min_group_size=1)
    expected = raw.groupby(["Department", "OverTime"])["Attrition"].agg(lambda s: (s == "Yes").mean())
    got = {(r.group["Department"], r.group["OverTime"]): r.rate for r in result.rows}
    assert got == pytest.approx(expected.to_dict())
    bands = turnover_breakdown(ds, by=["tenure_band"])
    # YearsAtCompany counts completed years: 0 cannot be split into "<=3 months" and "3-12 months", so the bands
    # keep the month bands' edges at 1, 3 and 5 years at year resolution: completed years 0 | 1-2 | 3-4 | 5+
    # (issue 12 item 2: the old month bands put 0 years into "<=3 months"; issue 22: the same edges everywhere).
    band = pd.cut(raw["YearsAtCompany"], [-1, 0, 2, 4, 1_000], labels=["<1 year", "1-3 years", "3-5 years",
                                                                        ">5 years"])
    expected_band = raw.groupby(band, observed=True)["Attrition"].agg(lambda s: (s == "Yes").mean())
    assert {r.label: r.rate for r in bands.rows} == pytest.approx(expected_band.to_dict())
    assert {r.label: (r.headcount, r.leavers) for r in bands.rows}["<1 year"] == (44, 16)  # 36.4%, not "<=3 months"
    assert not any("month" in r.label for r in bands.rows)
    assert "whole years" in bands.definition.tenure_bands and bands.definition.tenure_column == "YearsAtCompany"


# -- a small event file worked out by hand


EVENTS = """id,dept,hire_date,termination_date,termination_type
1,A,2023-01-01,,
2,A,2023-01-01,2024-03-15,Resigned
3,A,2024-05-01,,
4,A,2022-06-01,2024-11-30,Dismissed
5,B,2020-01-01,,
6,B,2020-01-01,2024-06-30,Voluntary
7,B,2024-02-01,2024-02-20,Resigned
8,B,2021-01-01,,
9,A,2019-01-01,2023-12-31,Resigned
10,B,2025-01-05,,
"""


def hand_headcount(frame: pd.DataFrame, day: str) -> pd.Series:
    d = pd.Timestamp(day)
    on = (frame.hire_date <= d) & (frame.termination_date.isna() | (frame.termination_date >= d))
    return frame[on].groupby("dept").size()


def test_event_denominators_by_hand(settings: Settings, data_dir: Path):
    (data_dir / "events.csv").write_text(EVENTS, encoding="utf-8")
    frame = pd.read_csv(data_dir / "events.csv", parse_dates=["hire_date", "termination_date"])
    ds = load_dataset(settings, path="events.csv")
    period = {"period_start": "2024-01-01", "period_end": "2024-12-31"}
    month_ends = pd.date_range("2024-01-31", "2024-12-31", freq="ME")
    avg = sum(hand_headcount(frame, d).reindex(["A", "B"], fill_value=0) for d in month_ends) / 12
    leavers = {"A": 2, "B": 2}  # ids 2, 4 (A) and 6, 7 (B) leave in 2024; 9 left on 2023-12-31
    result = turnover_breakdown(ds, by=["dept"], min_group_size=1, **period)
    rows = {r.label: r for r in result.rows}
    for dept in ("A", "B"):
        assert rows[dept].headcount == pytest.approx(avg[dept], abs=0.01)
        assert rows[dept].leavers == leavers[dept]
        assert rows[dept].rate == pytest.approx(leavers[dept] / avg[dept], rel=1e-3)
    assert result.definition.headcount_days == [d.date().isoformat() for d in month_ends]
    assert result.definition.months == 12
    start = hand_headcount(frame, "2024-01-01").reindex(["A", "B"], fill_value=0)
    end = hand_headcount(frame, "2024-12-31").reindex(["A", "B"], fill_value=0)
    begin_end = {r.label: r for r in turnover_breakdown(ds, by=["dept"], min_group_size=1,
                                                        denominator="begin_end", **period).rows}
    start_only = {r.label: r for r in turnover_breakdown(ds, by=["dept"], min_group_size=1,
                                                         denominator="start", **period).rows}
    for dept in ("A", "B"):
        assert begin_end[dept].headcount == pytest.approx((start[dept] + end[dept]) / 2)
        assert start_only[dept].headcount == start[dept]
    voluntary = turnover_breakdown(ds, by=["dept"], min_group_size=1, separation_type="voluntary", **period)
    assert {r.label: r.leavers for r in voluntary.rows} == {"A": 1, "B": 2}
    involuntary = turnover_breakdown(ds, separation_type="involuntary", **period)
    assert involuntary.overall.leavers == 1
    half = turnover_breakdown(ds, period_start="2024-01-01", period_end="2024-06-30", denominator="start")
    assert half.definition.months == 6
    assert half.overall.annualised_rate == pytest.approx(half.overall.rate * 12 / 6)
    assert half.overall.leavers == 3  # ids 2, 6, 7


def test_default_period_is_the_year_to_the_latest_date(settings: Settings, data_dir: Path):
    (data_dir / "events.csv").write_text(EVENTS.replace("10,B,2025-01-05,,\n", ""), encoding="utf-8")
    ds = load_dataset(settings, path="events.csv")
    result = turnover_breakdown(ds)
    assert result.definition.period_end == "2024-11-30"  # the latest date in the file
    assert result.definition.period_start == "2023-12-01"
    assert "latest date" in result.definition.period_source
    assert result.overall.leavers == 5  # 9 (2023-12-31), 7, 2, 6, 4


def test_period_helpers():
    import datetime as dt

    assert months_between(dt.date(2024, 1, 1), dt.date(2024, 12, 31)) == 12
    assert months_between(dt.date(2024, 1, 1), dt.date(2024, 3, 31)) == 3
    assert len(headcount_days(dt.date(2023, 11, 11), dt.date(2024, 11, 10))) == 12
    assert headcount_days(dt.date(2024, 1, 1), dt.date(2024, 3, 31)) == [dt.date(2024, 1, 31), dt.date(2024, 2, 29),
                                                                        dt.date(2024, 3, 31)]


def test_wilson_and_suppression_rules():
    assert wilson_interval(12, 63) == pytest.approx(wilson_by_formula(12, 63))
    assert wilson_interval(0, 10)[0] == 0.0
    # one small group: the next-smallest is hidden too
    assert suppressed_groups([100, 3, 20, 50], 5) == [False, True, True, False]
    # two small groups: nothing more to hide
    assert suppressed_groups([100, 3, 2, 50], 5) == [False, True, True, False]
    assert suppressed_groups([100, 50], 5) == [False, False]


def test_suppression_in_a_breakdown(settings: Settings, data_dir: Path):
    rows = ["dept,left"] + ["Big,Yes"] * 5 + ["Big,No"] * 45 + ["Mid,No"] * 8 + ["Mid,Yes"] * 2 + ["Tiny,Yes"] * 2
    (data_dir / "s.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = turnover_breakdown(load_dataset(settings, path="s.csv"), by=["dept"])
    hidden = {r.label for r in result.rows if r.suppressed}
    assert hidden == {"Tiny", "Mid"}
    for row in result.rows:
        if row.suppressed:
            assert row.leavers is None and row.headcount is None and row.rate is None
    assert result.rows[-1].suppressed and result.suppressed_groups == 2


# -- hrdataset_v14: dates, voluntary / involuntary, privacy


def hr_independent(path: Path, start: str, end: str) -> dict[str, dict[str, float]]:
    raw = pd.read_csv(path)
    raw["dept"] = raw["Department"].str.strip()
    hire = pd.to_datetime(raw["DateofHire"], format="%m/%d/%Y")
    term = pd.to_datetime(raw["DateofTermination"], format="%m/%d/%Y")
    month_ends = pd.date_range(pd.Timestamp(start) + pd.offsets.MonthEnd(0), end, freq="ME")
    heads = sum(raw[(hire <= d) & (term.isna() | (term >= d))].groupby("dept").size() for d in month_ends)
    heads = heads.fillna(0) / len(month_ends)
    in_period = term.between(start, end)
    out = {}
    for kind, status in (("all", None), ("voluntary", "Voluntarily Terminated"),
                         ("involuntary", "Terminated for Cause")):
        mask = in_period if status is None else in_period & (raw["EmploymentStatus"] == status)
        out[kind] = {"heads": heads.to_dict(), "leavers": raw[mask].groupby("dept").size().to_dict()}
    return out


@pytest.mark.anyio
async def test_hrdataset_date_based_with_voluntary_split(shared_client):
    path = shared_dataset("hrdataset_v14.csv")
    expected = hr_independent(path, "2015-01-01", "2015-12-31")
    for kind in ("all", "voluntary", "involuntary"):
        result = await shared_client.call_tool("turnover_breakdown", {
            "path": "hrdataset_v14.csv", "by": ["Department"], "period_start": "2015-01-01",
            "period_end": "2015-12-31", "separation_type": kind})
        assert not result.is_error, result.content[0].text
        data = result.structured_content
        assert data["definition"]["shape"] == "event" and data["definition"]["separation_type"] == kind
        assert any(row["suppressed"] for row in data["rows"])  # the one-person departments are hidden
        for row in data["rows"]:
            if row["suppressed"]:
                continue
            dept = row["label"]
            assert row["headcount"] == pytest.approx(expected[kind]["heads"][dept], abs=0.01)
            assert row["leavers"] == expected[kind]["leavers"].get(dept, 0)
    # the split adds up
    totals = {}
    for kind in ("all", "voluntary", "involuntary"):
        r = await shared_client.call_tool("turnover_breakdown", {"path": "hrdataset_v14.csv", "separation_type": kind,
                                                                 "period_start": "2015-01-01",
                                                                 "period_end": "2015-12-31"})
        totals[kind] = r.structured_content["overall"]["leavers"]
    assert totals["all"] == totals["voluntary"] + totals["involuntary"]


@pytest.mark.anyio
async def test_no_name_appears_in_any_output(shared_client):
    path = shared_dataset("hrdataset_v14.csv")
    raw = pd.read_csv(path)
    names = {n.strip() for n in raw["Employee_Name"]} | {n.replace(" ", "") for n in raw["Employee_Name"]}
    ids = {str(i) for i in raw["EmpID"]}
    calls = [
        ("inspect_dataset", {"path": "hrdataset_v14.csv"}),
        ("turnover_breakdown", {"path": "hrdataset_v14.csv", "by": ["Department"]}),
        ("turnover_breakdown", {"path": "hrdataset_v14.csv", "by": ["Department", "tenure_band"], "min_group_size": 1}),
        ("turnover_breakdown", {"path": "hrdataset_v14.csv", "by": ["Employee_Name"]}),  # refused
        ("turnover_breakdown", {"path": "hrdataset_v14.csv", "by": ["Position"], "separation_type": "voluntary"}),
        ("retention_curve", {"path": "hrdataset_v14.csv", "by": ["Department"]}),
        ("retention_curve", {"path": "hrdataset_v14.csv", "by": ["Employee_Name"]}),  # refused
        ("turnover_breakdown", {"path": "hrdataset_v14.csv", "column_map": {"department": "Nope"}}),  # error
    ]
    for tool, arguments in calls:
        result = await shared_client.call_tool(tool, arguments)
        text = " ".join(getattr(block, "text", "") for block in result.content)
        structured = json.dumps(result.structured_content or {}, ensure_ascii=False)
        for name in names:
            assert name not in text and name not in structured, (tool, arguments, name)
        tokens = set(structured.replace('"', " ").replace(",", " ").split()) | set(text.replace("|", " ").split())
        assert not (ids & tokens), (tool, arguments, ids & tokens)
    summary = (await shared_client.call_tool("inspect_dataset", {"path": "hrdataset_v14.csv"})).structured_content
    columns = {c["name"]: c for c in summary["column_info"]}
    assert columns["Employee_Name"]["identifying"] and columns["Employee_Name"]["values"] is None
    assert columns["DOB"]["identifying"] and columns["ManagerName"]["values"] is None
    assert columns["Department"]["values"]  # low-cardinality categories may be listed


@pytest.mark.anyio
async def test_inspect_findings(client, data_dir: Path):
    text = ("id,dept,hire_date,termination_date,left\n1,A,2020-01-01,2019-05-01,Yes\n1,A,2020-02-01,,No\n"
            "2,B,2030-01-01,,No\n3,B,2021-13-45,,maybe\n4,B,2021-01-01,,No\n")
    (data_dir / "q.csv").write_text(text, encoding="utf-8")
    result = await client.call_tool("inspect_dataset", {"path": "q.csv"})
    assert not result.is_error
    findings = {f["check"]: f for f in result.structured_content["findings"]}
    # 1 or 2 rows each: below the minimum group size, so never an exact count, in the figure or in the words
    for check in ("duplicate_ids", "termination_before_hire", "future_dates", "unparseable_dates",
                  "unknown_flag_values"):
        assert findings[check]["count"] is None, check
        assert findings[check]["detail"].startswith("fewer than 5"), findings[check]["detail"]
    assert result.structured_content["shape"] == "event"
    assert "tenure_band" in result.structured_content["suggested_dimensions"]
    # From the minimum group size up, findings count exactly: 6 unparseable dates and 6 rows ending before they start.
    rows = ["id,dept,hire_date,termination_date"] + [f"{i},A,2020-13-4{i}," for i in range(6)] + \
        [f"{i + 6},B,2021-01-01,2020-01-01" for i in range(6)] + [f"{i + 12},B,2021-01-01," for i in range(10)]
    (data_dir / "r.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    many = await client.call_tool("inspect_dataset", {"path": "r.csv"})
    counts = {f["check"]: f["count"] for f in many.structured_content["findings"]}
    assert counts["unparseable_dates"] == 6 and counts["termination_before_hire"] == 6


# -- bad input: a tool error that says what to fix, and the server carries on


@pytest.mark.anyio
async def test_bad_inputs_get_clear_errors_and_the_server_carries_on(client, data_dir: Path, tmp_path: Path):
    (data_dir / "ok.csv").write_text(EVENTS, encoding="utf-8")
    (data_dir / "empty.csv").write_bytes(b"")
    (data_dir / "header.csv").write_text("id,dept,hire_date,termination_date\n", encoding="utf-8")
    (data_dir / "notes.pdf").write_bytes(b"%PDF")
    (data_dir / "noroles.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "outside.csv").write_text(EVENTS, encoding="utf-8")
    cases = [
        ({"path": "missing.csv"}, "not found"),
        ({"path": str(tmp_path / "outside.csv")}, "outside the allowed data folders"),
        ({"path": "notes.pdf"}, "unsupported file type"),
        ({}, "exactly one of path"),
        ({"path": "ok.csv", "csv_text": "a\n1\n"}, "only one of path or csv_text"),
        ({"path": "ok.csv", "by": ["nope"]}, "unknown column 'nope'"),
        ({"path": "ok.csv", "by": ["id"]}, "identifies people"),
        ({"path": "ok.csv", "period_start": "2024-13-45"}, "not a date"),
        ({"path": "ok.csv", "period_start": "2024-06-01", "period_end": "2024-01-01"}, "after period_end"),
        ({"path": "ok.csv", "denominator": "mean"}, "average"),
        ({"path": "ok.csv", "separation_type": "fired"}, "voluntary"),
        ({"path": "ok.csv", "separation_type": "regretted"}, "regretted"),
        ({"path": "empty.csv"}, "empty"),
        ({"path": "header.csv"}, "no data rows"),
        ({"path": "noroles.csv"}, "column_map"),
        ({"path": "ok.csv", "column_map": {"hire_date": "Start"}}, "no column 'Start'"),
        ({"csv_text": "dept,hire_date\nA,2024-01-01\n", "shape": "snapshot"}, "leaver flag"),
        ({"path": "ok.csv", "bins": {"dept": [1, 2]}}, "not in `by`"),
        ({"csv_text": "a,b\n1,2\n", "shape": "event"}, "hire-date"),
    ]
    for arguments, message in cases:
        result = await client.call_tool("turnover_breakdown", arguments)
        assert result.is_error, arguments
        text = result.content[0].text
        assert message in text, (arguments, text)
        assert "Traceback" not in text and "KeyError" not in text
        ok = await client.call_tool("turnover_breakdown", {"path": "ok.csv", "by": ["dept"]})
        assert not ok.is_error, ok.content[0].text


@pytest.mark.anyio
async def test_input_file_is_never_modified(client, data_dir: Path):
    target = data_dir / "ok.csv"
    target.write_text(EVENTS, encoding="utf-8")
    before = (target.read_bytes(), target.stat().st_mtime_ns)
    for tool, arguments in (("inspect_dataset", {"path": "ok.csv"}),
                            ("turnover_breakdown", {"path": "ok.csv", "by": ["dept", "tenure_band"]}),
                            ("retention_curve", {"path": "ok.csv", "by": ["dept"]})):
        assert not (await client.call_tool(tool, arguments)).is_error
    assert (target.read_bytes(), target.stat().st_mtime_ns) == before


@pytest.mark.anyio
async def test_csv_text_truncation_progress_and_metrics(client):
    lines = ["team,left"] + [f"T{i % 60},{'Yes' if i % 7 == 0 else 'No'}" for i in range(1200)]
    progress: list[float] = []

    async def on_progress(value, total, message):
        progress.append(value)

    result = await client.call_tool("turnover_breakdown", {"csv_text": "\n".join(lines), "by": ["team"],
                                                           "max_rows": 10}, progress_callback=on_progress)
    assert not result.is_error
    assert result.structured_content["truncated"] is True and len(result.structured_content["rows"]) == 10
    assert result.structured_content["groups"] == 60
    assert progress and progress[-1] == 100
    metrics = await client.read_resource("retention://metrics")
    data = json.loads(metrics.contents[0].text)
    ids = {m["id"] for m in data["metrics"]}
    assert {"turnover_rate_average", "turnover_rate_begin_end", "turnover_rate_start", "voluntary_turnover_rate",
            "involuntary_turnover_rate", "regretted_turnover_rate", "early_attrition_rate",
            "annualised_turnover_rate"} <= ids
    assert all(m.get("source") for m in data["metrics"])

"""call_log_profile against pandas written out in the test: arrivals per interval by weekday, answer rate,
both service levels, AHT, ASA, CSAT; its hand-off to erlang_staffing and build_kpis; agents never named."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_dataset, shared_dataset
from retention_mcp.analysis.calls import call_log_profile, time_of_day_seconds
from retention_mcp.catalog import bundled_dir, read_yaml
from retention_mcp.sample_data import write_sample_company

CATALOG = read_yaml(bundled_dir("tools") / "grounding.yaml")["call_log"]
PWC = "pwc_call_center.csv"


def expected_profile(raw: pd.DataFrame, interval: int, threshold: float, dayfirst: bool = False) -> dict:
    """The profile by hand, with pandas."""
    date = pd.to_datetime(raw["Date"], dayfirst=dayfirst)
    clock = pd.to_timedelta(raw["Time"].astype(str))
    answered = raw["Answered (Y/N)"] == "Y"
    asa = raw["Speed of answer in seconds"]
    talk = pd.to_timedelta(raw["AvgTalkDuration"]).dt.total_seconds()
    rating = raw["Satisfaction rating"].where(answered & (raw["Satisfaction rating"] >= 1))
    slot = (clock.dt.total_seconds() // (interval * 60)).astype(int)
    per_day = pd.DataFrame({"date": date, "slot": slot}).groupby(["date", "slot"]).size().rename("calls")
    days = pd.Series(date.unique())
    day_counts = days.dt.day_of_week.value_counts()
    grid = per_day.reset_index()
    grid["weekday"] = grid["date"].dt.day_of_week
    totals = grid.groupby(["weekday", "slot"])["calls"].sum()
    means = totals / totals.index.get_level_values("weekday").map(day_counts).to_numpy()
    within = answered & (asa <= threshold)
    return {
        "answer_rate": answered.mean(),
        "service_level_answered": within.sum() / (answered & asa.notna()).sum(),
        "service_level_offered": within.mean(),
        "asa": asa[answered].mean(),
        "aht": talk[answered].mean(),
        "csat_mean": rating.mean(),
        "csat_counts": rating.value_counts().sort_index().to_dict(),
        "means": means,
        "days": len(days),
    }


def check_against(result, expected: dict, interval: int) -> None:
    assert result.answer_rate == pytest.approx(expected["answer_rate"])
    assert result.service_level_answered == pytest.approx(expected["service_level_answered"])
    assert result.service_level_offered == pytest.approx(expected["service_level_offered"])
    assert result.asa_seconds == pytest.approx(expected["asa"])
    assert result.aht_seconds == pytest.approx(expected["aht"])
    assert result.csat_mean == pytest.approx(expected["csat_mean"])
    assert {c.rating: c.count for c in result.csat_distribution} == expected["csat_counts"]
    assert result.days_observed == expected["days"]
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    got = {(names.index(r.weekday), r.start): r.mean_calls for r in result.intervals if r.calls}
    want = {(int(w), f"{s * interval // 60:02d}:{s * interval % 60:02d}"): m for (w, s), m in expected["means"].items()}
    assert got == pytest.approx(want)
    peak = max(want.values())
    assert result.peaks[0].mean_calls == pytest.approx(peak)
    assert result.erlang_inputs.calls == pytest.approx(peak)
    assert result.erlang_inputs.aht_seconds == pytest.approx(expected["aht"])
    assert result.erlang_inputs.interval_minutes == interval


def test_time_of_day_parsing():
    values = pd.Series(["9:12:58", "09:05", "9:12 PM", "2021-01-01 18:30:00", None, "later", "12:00 am"])
    seconds = time_of_day_seconds(values)
    assert seconds[:4].tolist() == [9 * 3600 + 12 * 60 + 58, 9 * 3600 + 300, 21 * 3600 + 720, 18.5 * 3600]
    assert math.isnan(seconds[4]) and math.isnan(seconds[5]) and seconds[6] == 0
    assert time_of_day_seconds(pd.Series([0.5, 1.5])).tolist()[0] == 43200  # an Excel day fraction


@pytest.mark.parametrize("interval", [30, 60])
def test_sample_call_log_by_hand(tmp_path: Path, interval: int):
    files = write_sample_company(tmp_path)
    raw = pd.read_csv(files["calls"])
    result = call_log_profile(make_dataset(raw, kind="calls"), interval_minutes=interval, answer_within_seconds=20,
                              catalog=CATALOG)
    check_against(result, expected_profile(raw, interval, 20), interval)
    assert result.calls_offered == len(raw) and result.calendar_days == 28
    assert result.resolution_rate == pytest.approx(((raw["Resolved"] == "Y") & (raw["Answered (Y/N)"] == "Y")).sum()
                                                   / (raw["Answered (Y/N)"] == "Y").sum())
    baselines = {b.id: b.baseline for b in result.kpi_baselines}
    assert baselines["answer_rate"] == pytest.approx(100 * result.answer_rate, abs=1e-4)
    assert baselines["service_level"] == pytest.approx(100 * result.service_level_offered, abs=1e-4)
    assert baselines["aht"] == pytest.approx(result.aht_seconds, abs=1e-3)


@pytest.mark.anyio
async def test_tool_feeds_erlang_and_build_kpis(client, data_dir: Path):
    write_sample_company(data_dir)
    result = await client.call_tool("call_log_profile", {"path": "sample_calls.csv", "where": {"Topic": "Billing"}})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    raw = pd.read_csv(data_dir / "sample_calls.csv")
    billing = raw[raw["Topic"] == "Billing"]
    assert data["calls_in_scope"] == len(billing)
    assert data["answer_rate"] == pytest.approx((billing["Answered (Y/N)"] == "Y").mean())
    erlang = {k: v for k, v in data["erlang_inputs"].items() if k != "peak"}
    staffing = await client.call_tool("erlang_staffing", {**erlang, "service_level_target": 0.8, "shrinkage": 0.3})
    assert not staffing.is_error, staffing.content[0].text
    assert staffing.structured_content["traffic_erlangs"] == pytest.approx(
        erlang["calls"] * erlang["aht_seconds"] / (30 * 60))
    items = [{"id": b["id"], "baseline": b["baseline"]} for b in data["kpi_baselines"]]
    kpis = await client.call_tool("build_kpis", {"items": items})
    assert not kpis.is_error, kpis.content[0].text
    assert {k["id"] for k in kpis.structured_content["kpis"]} == {b["id"] for b in data["kpi_baselines"]}
    # agents are counted, never named (their ids are people's labels here)
    assert data["agents"] == billing["Agent"].nunique()
    output = result.content[0].text + json.dumps(data)
    assert not [agent for agent in raw["Agent"].unique() if agent in output]


@pytest.mark.anyio
async def test_pwc_call_log(shared_client):
    raw = pd.read_csv(shared_dataset(PWC), encoding="utf-8-sig")
    result = await shared_client.call_tool("call_log_profile", {"path": PWC, "interval_minutes": 60,
                                                                "answer_within_seconds": 30})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    expected = expected_profile(raw, 60, 30, dayfirst=True)  # dates are dd/mm/yyyy (31/03/2021)
    assert data["calls_offered"] == 5000 and data["calls_answered"] == 4054
    assert data["answer_rate"] == pytest.approx(4054 / 5000)
    for name in ("service_level_answered", "service_level_offered"):
        assert data[name] == pytest.approx(expected[name])
    assert data["asa_seconds"] == pytest.approx(expected["asa"])
    assert data["aht_seconds"] == pytest.approx(expected["aht"])
    assert data["csat_mean"] == pytest.approx(expected["csat_mean"])  # 0 on unanswered calls is no rating
    assert data["csat_rated"] == 4054 and sum(c["count"] for c in data["csat_distribution"]) == 4054
    assert (data["first_date"], data["last_date"], data["days_observed"]) == ("2021-01-01", "2021-03-31", 90)
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    got = {(names.index(r["weekday"]), r["start"]): r["mean_calls"] for r in data["intervals"] if r["calls"]}
    want = {(int(w), f"{s:02d}:00"): m for (w, s), m in expected["means"].items()}
    assert got == pytest.approx(want)
    assert data["erlang_inputs"]["calls"] == pytest.approx(max(want.values()))
    output = result.content[0].text + json.dumps(data)
    assert not [agent for agent in raw["Agent"].unique() if agent in output]  # Diane, Becky, Stewart ...
    assert data["agents"] == 8


@pytest.mark.anyio
async def test_missing_columns_and_bad_input(client):
    no_time = "Date,Answered,Speed of answer in seconds,Talk time\n" + "".join(
        f"2024-03-0{1 + i % 5},{'Y' if i % 4 else 'N'},{10 + i % 7},0:0{i % 9}:10\n" for i in range(40))
    result = await client.call_tool("call_log_profile", {"csv_text": no_time})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["erlang_inputs"] is None and data["intervals"] == [] and data["by_weekday"]
    assert any("no time-of-day column" in note for note in data["notes"])
    hr = "employee_id,department\n" + "".join(f"E{i},Sales\n" for i in range(10))
    refused = await client.call_tool("call_log_profile", {"csv_text": hr})
    assert refused.is_error and "does not look like a call log" in refused.content[0].text
    bad = await client.call_tool("call_log_profile", {"csv_text": no_time, "interval_minutes": 45})
    assert bad.is_error

"""Schedule fairness (Gini, consecutive nights), QA calibration (ICC), hiring forecast: functions and tools."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from itertools import product
from pathlib import Path

import pandas as pd
import pytest

from conftest import catalog, make_dataset
from retention_mcp.analysis.fairness import fairness_from_counts, gini, night_runs, top_share
from retention_mcp.analysis.icc import icc, koo_li
from retention_mcp.analysis.workforce import hiring_forecast

SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
# Shrout & Fleiss (1979), Table 4
PUBLISHED_ICC = {"ICC1": 0.166, "ICC2": 0.290, "ICC3": 0.715, "ICC1k": 0.443, "ICC2k": 0.620, "ICC3k": 0.909}


def double_sum_gini(xs):
    """Σᵢ Σⱼ |xᵢ − xⱼ| ÷ (2 n² x̄), literally."""
    n, mean = len(xs), sum(xs) / len(xs)
    return sum(abs(a - b) for a, b in product(xs, xs)) / (2 * n * n * mean)


# -- Gini and friends


def test_gini_known_values():
    assert gini([1, 2, 3, 4, 5]) == pytest.approx(0.2667, abs=5e-5)
    assert gini([1, 2, 3, 4, 5]) == pytest.approx(4 / 15)
    assert gini([7, 7, 7, 7]) == 0
    assert gini([0, 0, 0]) == 0
    assert gini([0, 0, 0, 10]) == pytest.approx(double_sum_gini([0, 0, 0, 10]))  # = 0.75
    xs = [3, 0, 8, 1, 1, 12, 5, 5, 2]
    assert gini(xs) == pytest.approx(double_sum_gini(xs))


def test_top_share_and_runs():
    assert top_share([1, 2, 3, 4, 5]) == pytest.approx(5 / 15)  # top ⌈20% of 5⌉ = 1 agent
    assert top_share([1] * 10) == pytest.approx(0.2)
    d = date(2024, 3, 1)
    days = [d, d + timedelta(1), d + timedelta(2), d + timedelta(3), d + timedelta(6), d + timedelta(7)]
    assert night_runs(days) == [4, 2]


NAMES = ["Zhang Wei", "Li Na", "Wang Fang", "Liu Yang", "Chen Jing", "Zhao Lei"]


def roster_rows():
    """Six agents over two weeks from Mon 2024-03-04: known nights; weekends fall on everyone equally."""
    rows = []
    nights = {"Zhang Wei": range(0, 5), "Li Na": range(0, 3), "Wang Fang": [7, 8]}
    for name in NAMES:
        for offset in range(14):
            day = date(2024, 3, 4) + timedelta(offset)
            night = offset in nights.get(name, ())
            rows.append({"agent": name, "date": day.isoformat(), "shift": "Night" if night else "Day"})
    return rows


def roster_fairness(frame, **kwargs):
    """The analysis on a DataFrame roster, read as the tools read a file."""
    from retention_mcp.analysis.fairness import fairness_from_roster

    return fairness_from_roster(make_dataset(frame, kind="roster"), catalog=catalog("call_center.yaml"), **kwargs)


def expected_counts(rows, holidays=()):
    counts = {}
    for row in rows:
        day = date.fromisoformat(row["date"])
        unfavourable = row["shift"] == "Night" or day.weekday() >= 5 or row["date"] in holidays
        counts[row["agent"]] = counts.get(row["agent"], 0) + int(unfavourable)
    return list(counts.values())


def test_roster_gini_and_violations():
    rows = roster_rows()
    result = roster_fairness(pd.DataFrame(rows))
    counts = expected_counts(rows)
    assert result.agents == 6 and result.shifts == 84
    assert result.gini == pytest.approx(double_sum_gini(counts))
    assert result.unfavourable_shifts == sum(counts)
    # nights: 5 + 3 + 2 = 10; one run over 3 (Zhang Wei's 5) -> 2 nights beyond the limit -> 20%
    assert result.night_shifts == 10 and result.runs_over_limit == 1 and result.longest_night_run == 5
    assert result.violation_rate == pytest.approx(2 / 10)
    assert result.agents_with_violation_share == pytest.approx(1 / 6)
    assert result.meets_violation_target is False
    assert result.sorted_counts == sorted(counts, reverse=True)


def test_no_agent_names_leave_the_tool():
    result = roster_fairness(pd.DataFrame(roster_rows()))
    dumped = result.model_dump_json()
    for name in NAMES:
        assert name not in dumped


def test_chinese_roster_with_holiday_and_start_times():
    rows = roster_rows()
    zh = pd.DataFrame({
        "工号": [r["agent"] for r in rows],
        "日期": [f"{d.year}年{d.month}月{d.day}日" for d in (date.fromisoformat(r["date"]) for r in rows)],
        "开始时间": ["22:00" if r["shift"] == "Night" else "08:30" for r in rows],
    })
    result = roster_fairness(zh, holidays=["2024-03-06"])
    counts = expected_counts(rows, holidays=("2024-03-06",))
    assert result.gini == pytest.approx(double_sum_gini(counts))
    assert result.violation_rate == pytest.approx(0.2)
    holiday = next(c for c in result.categories if c.category == "holiday")
    assert holiday.shifts == 6


@pytest.mark.parametrize("write_date", [
    lambda d: f"{d.month}/{d.day}/{d.year}",                  # US exports
    lambda d: (d - date(1899, 12, 30)).days,                  # Excel serial numbers
])
def test_roster_dates_in_other_export_formats_give_the_same_result(write_date):
    rows = roster_rows()
    reference = roster_fairness(pd.DataFrame(rows))
    other = pd.DataFrame([{**r, "date": write_date(date.fromisoformat(r["date"]))} for r in rows])
    result = roster_fairness(other)
    assert result.gini == pytest.approx(reference.gini)
    assert result.violation_rate == pytest.approx(reference.violation_rate)
    assert [c.model_dump() for c in result.categories] == [c.model_dump() for c in reference.categories]


def test_small_roster_suppresses_distribution_and_counts_input():
    rows = [r for r in roster_rows() if r["agent"] in NAMES[:3]]
    assert roster_fairness(pd.DataFrame(rows)).sorted_counts is None
    from_counts = fairness_from_counts([1, 2, 3, 4, 5], catalog=catalog('call_center.yaml'))
    assert from_counts.gini == pytest.approx(4 / 15) and from_counts.meets_gini_target is False
    assert from_counts.violation_rate is None
    with pytest.raises(ValueError, match="0 or more"):
        fairness_from_counts([1, -2, 3], catalog=catalog('call_center.yaml'))


@pytest.mark.anyio
async def test_schedule_fairness_tool(client, data_dir: Path):
    pd.DataFrame(roster_rows()).to_csv(data_dir / "roster.csv", index=False)
    result = await client.call_tool("schedule_fairness", {"path": "roster.csv"})
    assert not result.is_error
    assert result.structured_content["violation_rate"] == pytest.approx(0.2)
    text = result.content[0].text
    assert "Gini" in text and not any(name in text for name in NAMES)
    assert not any(name in json.dumps(result.structured_content, ensure_ascii=False) for name in NAMES)

    counts = await client.call_tool("schedule_fairness", {"agent_counts": [1, 2, 3, 4, 5]})
    assert counts.structured_content["gini"] == pytest.approx(0.26667, abs=1e-5)

    both = await client.call_tool("schedule_fairness", {"path": "roster.csv", "agent_counts": [1, 2]})
    assert both.is_error and "exactly one" in both.content[0].text
    no_agent = await client.call_tool("schedule_fairness", {"csv_text": "date,shift\n2024-03-01,night\n"})
    assert no_agent.is_error and "agent_column" in no_agent.content[0].text
    again = await client.call_tool("schedule_fairness", {"csv_text": pd.DataFrame(roster_rows()).to_csv(index=False)})
    assert not again.is_error


@pytest.mark.anyio
async def test_schedule_fairness_where_restricts_the_roster_to_a_team(client, data_dir: Path):
    # Two teams: the six agents above (team A) and six more (team B) who share nights evenly.
    rows = [{**row, "team": "A"} for row in roster_rows()]
    for k in range(6):
        for offset in range(14):
            day = date(2024, 3, 4) + timedelta(offset)
            rows.append({"agent": f"B{k}", "date": day.isoformat(), "shift": "Night" if offset == k else "Day",
                         "team": "B"})
    pd.DataFrame(rows).to_csv(data_dir / "two_teams.csv", index=False)
    team_a = [r for r in rows if r["team"] == "A"]
    result = await client.call_tool("schedule_fairness", {"path": "two_teams.csv", "where": {"team": "A"}})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["agents"] == 6 and result.structured_content["shifts"] == 84
    assert result.structured_content["gini"] == pytest.approx(double_sum_gini(expected_counts(team_a)))
    assert "filter: team = A (84 of 168 rows in scope)" in result.content[0].text
    everyone = await client.call_tool("schedule_fairness", {"path": "two_teams.csv"})
    assert everyone.structured_content["gini"] == pytest.approx(double_sum_gini(expected_counts(rows)))
    both = await client.call_tool("schedule_fairness", {"agent_counts": [1, 2], "where": {"team": "A"}})
    assert both.is_error and "agent_counts" in both.content[0].text


# -- ICC


def test_icc_shrout_fleiss_table():
    result = icc(SHROUT_FLEISS)
    values = {form.form: form.value for form in result.forms}
    for name, published in PUBLISHED_ICC.items():
        assert round(values[name], 3) == published, name
    assert result.headline_form == "ICC2" and result.meets_target is False
    assert [koo_li(v) for v in (0.49, 0.6, 0.8, 0.95)] == ["poor", "moderate", "good", "excellent"]


def test_icc_perfect_agreement_and_bad_matrices():
    assert icc([[1, 1], [2, 2], [3, 3]]).headline_value == pytest.approx(1.0)
    with pytest.raises(ValueError, match="ragged"):
        icc([[1, 2, 3], [1, 2]])
    with pytest.raises(ValueError, match="item 2, rater 2 is missing"):
        icc([[1, 2], [3, None], [4, 5]])
    with pytest.raises(ValueError, match="not a finite number"):
        icc([[1, 2], [3, math.nan], [4, 5]])
    with pytest.raises(ValueError, match="2 raters"):
        icc([[1], [2]])
    with pytest.raises(ValueError, match="undefined"):
        icc([[3, 3], [3, 3]])


@pytest.mark.anyio
async def test_qa_calibration_tool(client):
    result = await client.call_tool("qa_calibration", {"ratings": SHROUT_FLEISS})
    assert not result.is_error
    forms = {f["form"]: f["value"] for f in result.structured_content["forms"]}
    assert forms["ICC3k"] == pytest.approx(0.909, abs=5e-4)
    assert "0.75" in result.content[0].text

    ragged = await client.call_tool("qa_calibration", {"ratings": [[1, 2, 3], [4, 5]]})
    assert ragged.is_error and "every rater" in ragged.content[0].text.lower()
    missing = await client.call_tool("qa_calibration", {"ratings": [[1, 2], [3, None], [5, 6]]})
    assert missing.is_error and "drop that item" in missing.content[0].text
    assert not (await client.call_tool("qa_calibration", {"ratings": SHROUT_FLEISS})).is_error


# -- hiring forecast


def test_hiring_forecast_seed_003_store_example():
    # 10 new stores x 5 staff + 100 current staff x 12% turnover, everyone passes probation: 50 + 12 = 62.
    result = hiring_forecast(current_headcount=100, expected_turnover_rate=0.12, new_positions=10 * 5)
    assert result.hires_needed == 62
    assert result.replacement_hires == pytest.approx(12)
    assert not any("seed" in note.lower() for note in result.notes)  # no internal source jargon reaches users
    # with the seed's 95% pass rate: ⌈62 / 0.95⌉ = ⌈65.26⌉ = 66
    assert hiring_forecast(100, 0.12, 50, 0.95).hires_needed == math.ceil(62 / 0.95)
    with pytest.raises(ValueError, match="current_headcount"):
        hiring_forecast(-1, 0.12, 50)
    with pytest.raises(ValueError, match="probation_pass_rate"):
        hiring_forecast(100, 0.12, 50, 0.0)


@pytest.mark.anyio
async def test_hiring_forecast_tool(client):
    result = await client.call_tool("hiring_forecast", {"current_headcount": 100, "expected_turnover_rate": "12%",
                                                        "new_positions": 50, "probation_pass_rate": 1})
    assert not result.is_error and result.structured_content["hires_needed"] == 62
    assert "⌈" in result.content[0].text
    bad = await client.call_tool("hiring_forecast", {"current_headcount": -100, "expected_turnover_rate": "12%"})
    assert bad.is_error and "0 or more" in bad.content[0].text
    bad = await client.call_tool("hiring_forecast", {"current_headcount": 100, "expected_turnover_rate": 12})
    assert bad.is_error and "12%" in bad.content[0].text and "0.12" in bad.content[0].text
    ok = await client.call_tool("hiring_forecast", {"current_headcount": 100, "expected_turnover_rate": 0.12})
    assert not ok.is_error and ok.structured_content["hires_needed"] == 12

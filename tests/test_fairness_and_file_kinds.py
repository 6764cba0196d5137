"""Issue 12 items 4 and 5: the fairness headline fails when any kind of unfavourable shift fails, and every tool
refuses a file of the wrong kind by naming what is missing. Generated rosters and call logs; PwC and IBM files."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import product

import numpy as np
import pandas as pd
import pytest

from conftest import catalog, make_dataset, policy, shared_dataset
from retention_mcp.analysis.fairness import fairness_from_roster, fairness_text
from retention_mcp.errors import InputError

MONDAY = date(2024, 3, 4)
WEEKDAYS = [d for d in range(28) if (MONDAY + timedelta(d)).weekday() < 5]
WEEKENDS = [d for d in range(28) if (MONDAY + timedelta(d)).weekday() >= 5]


def double_sum_gini(xs):
    n, mean = len(xs), sum(xs) / len(xs)
    return sum(abs(a - b) for a, b in product(xs, xs)) / (2 * n * n * mean)


def balanced_overall_roster() -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """Ten agents over four weeks. A0 and A1 work most of the weekday nights and (almost) no weekends; the other
    eight work two nights and every weekend. Everyone carries ~10 unfavourable shifts, so the overall Gini is
    near 0 while nights are concentrated."""
    nights = {"A0": 10, "A1": 9, **{f"A{i}": 2 for i in range(2, 10)}}
    weekends = {"A0": 0, "A1": 1, **{f"A{i}": 8 for i in range(2, 10)}}
    rows, counts = [], {"night": [], "weekend": [], "unfavourable": []}
    for agent in nights:
        night_days = WEEKDAYS[::2][:nights[agent]] if nights[agent] <= 10 else WEEKDAYS[:nights[agent]]
        weekend_days = WEEKENDS[:weekends[agent]]
        for offset in range(28):
            day = MONDAY + timedelta(offset)
            if offset in night_days:
                rows.append({"agent": agent, "date": day.isoformat(), "shift": "Night"})
            elif offset in weekend_days or offset in WEEKDAYS:
                rows.append({"agent": agent, "date": day.isoformat(), "shift": "Day"})
        counts["night"].append(nights[agent])
        counts["weekend"].append(weekends[agent])
        counts["unfavourable"].append(nights[agent] + weekends[agent])
    return pd.DataFrame(rows), counts


def test_headline_fails_when_nights_fail_even_if_the_overall_gini_meets():
    frame, counts = balanced_overall_roster()
    result = fairness_from_roster(make_dataset(frame, kind="roster"), catalog=catalog("call_center.yaml"))
    kinds = {c.category: c for c in result.categories}
    assert result.gini == pytest.approx(double_sum_gini(counts["unfavourable"]))
    assert result.gini <= 0.25  # the overall index alone would say "meets"
    night_gini = double_sum_gini(counts["night"])
    assert kinds["night"].gini == pytest.approx(night_gini) and night_gini > 0.25
    assert kinds["night"].top20_share == pytest.approx(19 / 35)  # A0 + A1 carry 19 of the 35 nights
    assert kinds["night"].meets_target is False
    weekend_gini = double_sum_gini(counts["weekend"])
    assert kinds["weekend"].meets_target is (weekend_gini <= 0.25)
    assert result.meets_gini_target is False
    assert "night" in result.failing_categories and "unfavourable" not in result.failing_categories
    text = fairness_text(result)
    headline = next(line for line in text.splitlines() if line.startswith("| **fairness target**"))
    assert f"worst: night {night_gini:.3f}" in headline and "✗ misses" in headline  # was "Gini 0.000 ✓ meets"
    assert f"night shifts Gini {night_gini:.3f} > 0.25" in text and "54.3%" in text
    assert "The overall Gini hides this" in text


def test_few_holidays_are_judged_against_the_most_even_split():
    rows = []
    for i, agent in enumerate(f"B{k}" for k in range(10)):
        for offset in range(14):
            day = MONDAY + timedelta(offset)
            rows.append({"agent": agent, "date": day.isoformat(),
                         "shift": "Holiday" if (offset == 2 and i < 3) else "Day"})
    result = fairness_from_roster(make_dataset(pd.DataFrame(rows), kind="roster"),
                                  catalog=catalog("call_center.yaml"))
    holiday = next(c for c in result.categories if c.category == "holiday")
    # 3 holiday shifts among 10 agents: the most even split (1,1,1,0,...) already has Gini 0.7
    assert holiday.gini == pytest.approx(double_sum_gini([1, 1, 1] + [0] * 7)) == pytest.approx(0.7)
    assert holiday.min_possible_gini == pytest.approx(0.7) and holiday.meets_target is True


# -- item 5: the wrong kind of file


def call_log_with_start_times() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = []
    for day in range(5):
        for agent in ("Ann", "Bob", "Cid", "Dee", "Eve"):
            for call in range(40):
                rows.append({"agent": agent, "date": (MONDAY + timedelta(day)).isoformat(),
                             "start_time": f"{8 + call // 5}:{(call % 5) * 10:02d}",
                             "answered": "Y", "csat": int(rng.integers(1, 6))})
    return pd.DataFrame(rows)


def test_a_call_log_is_not_a_roster_even_with_start_times():
    with pytest.raises(InputError) as error:
        fairness_from_roster(make_dataset(call_log_with_start_times(), kind="roster"),
                             catalog=catalog("call_center.yaml"))
    message = str(error.value)
    assert "not a shift roster" in message and "40 times on a typical date" in message
    assert "call log" in message and "agent_scorecard" in message


def test_turnover_refuses_a_call_log_by_naming_what_is_missing():
    from retention_mcp.analysis.survival import retention_curve
    from retention_mcp.analysis.turnover import turnover_breakdown

    frame = call_log_with_start_times()
    with pytest.raises(InputError, match=r"needs hire and termination dates .* or a leaver flag"):
        turnover_breakdown(make_dataset(frame), policy=policy())
    with pytest.raises(InputError, match="tenure column plus a leaver flag"):
        retention_curve(make_dataset(frame), policy=policy())


@pytest.mark.anyio
async def test_pwc_call_log_is_refused_by_schedule_fairness(shared_client):
    shared_dataset("pwc_call_center.csv")
    result = await shared_client.call_tool("schedule_fairness", {"path": "pwc_call_center.csv"})
    assert result.is_error
    message = result.content[0].text
    assert "not a shift roster" in message and "shift label" in message and "start time" in message
    assert "call log" in message  # and which tool reads it
    assert "5000 shifts" not in message and "meets" not in message


@pytest.mark.anyio
async def test_hr_file_is_refused_by_agent_scorecard(shared_client):
    shared_dataset("ibm_hr_attrition.csv")
    result = await shared_client.call_tool("agent_scorecard", {"path": "ibm_hr_attrition.csv"})
    assert result.is_error
    message = result.content[0].text
    assert "not a call log" in message and "agent column" in message and "metric column" in message
    assert "HR export" in message and "turnover_breakdown" in message

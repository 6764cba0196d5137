"""Kaplan–Meier, log-rank and retention_curve against published figures, a reference written out
person by person in this file, and hand counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import policy, shared_dataset
from reference import reference_km, reference_logrank
from retention_mcp.analysis.survival import kaplan_meier, logrank_test, median_time, retention_curve, survival_at
from retention_mcp.data.dataset import load_dataset
from retention_mcp.sample_data import write_sample_company
from retention_mcp.settings import Settings

#: Freireich et al. (1963) remission times in weeks, 6-MP vs placebo, as tabulated by
#: Kleinbaum & Klein, Survival Analysis (3rd ed.), ch. 2: KM for 6-MP and log-rank chi-square 16.79.
GEHAN_6MP = [(6, 1), (6, 1), (6, 1), (7, 1), (10, 1), (13, 1), (16, 1), (22, 1), (23, 1), (6, 0), (9, 0), (10, 0),
             (11, 0), (17, 0), (19, 0), (20, 0), (25, 0), (32, 0), (32, 0), (34, 0), (35, 0)]
GEHAN_PLACEBO = [(t, 1) for t in (1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23)]


def test_kaplan_meier_and_logrank_match_published_gehan_figures():
    durations = [t for t, _ in GEHAN_6MP]
    events = [e for _, e in GEHAN_6MP]
    times, surv, _ = kaplan_meier(durations, events)
    # Kleinbaum & Klein, table for the 6-MP group: S(6)=0.857, S(7)=0.807, S(10)=0.753, S(13)=0.690,
    # S(16)=0.627, S(22)=0.538, S(23)=0.448.
    assert survival_at(times, surv, [6, 7, 10, 13, 16, 22, 23]) == pytest.approx(
        [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448], abs=5e-4)
    assert median_time(times, surv) == 23
    both = GEHAN_6MP + GEHAN_PLACEBO
    chi2, df, p = logrank_test([t for t, _ in both], [e for _, e in both], [0] * 21 + [1] * 21)
    assert chi2 == pytest.approx(16.79, abs=0.005) and df == 1
    assert p == pytest.approx(4.17e-5, rel=0.01)


def test_kaplan_meier_equals_reference_on_babushkin_by_traffic(shared_settings: Settings):
    raw = pd.read_csv(shared_dataset("babushkin_turnover.csv"))
    points = [3, 6, 12, 24, 36]
    ds = load_dataset(shared_settings, path="babushkin_turnover.csv")
    result = retention_curve(ds, by=["traffic"], time_points=points, policy=policy(floor=1), min_group_size=1)
    assert result.unit == "months"
    by_label = {g.label: g for g in result.groups}
    assert set(by_label) == set(raw["traffic"].unique())
    for traffic, part in raw.groupby("traffic"):
        expected, expected_median = reference_km(part["stag"], part["event"], points)
        got = [p.retention for p in by_label[traffic].retention]
        assert got == pytest.approx(expected, abs=1e-12), traffic
        if expected_median is not None:
            assert by_label[traffic].median_tenure == pytest.approx(expected_median)
        else:
            assert by_label[traffic].median_tenure is None
    expected, _ = reference_km(raw["stag"], raw["event"], points)
    assert [p.retention for p in result.overall.retention] == pytest.approx(expected, abs=1e-12)


def test_logrank_equals_reference(shared_settings: Settings):
    raw = pd.read_csv(shared_dataset("babushkin_turnover.csv"))
    expected = reference_logrank(raw["stag"].tolist(), raw["event"].tolist(), raw["traffic"].tolist())
    chi2, df, p = logrank_test(raw["stag"], raw["event"], raw["traffic"])
    assert chi2 == pytest.approx(expected[0], rel=1e-9)
    assert df == expected[1]
    assert p == pytest.approx(expected[2], rel=1e-6)


def test_km_with_ties_and_censoring_by_hand():
    durations = [1, 2, 2, 3, 4, 4, 5]
    events = [1, 1, 0, 1, 0, 1, 0]
    times, surv, _ = kaplan_meier(durations, events)
    # at 1: 7 at risk, 1 leaves -> 6/7; at 2: 6 at risk, 1 leaves -> 5/6; at 3: 4 at risk -> 3/4; at 4: 3 at risk -> 2/3
    s1, s2, s3, s4 = 6 / 7, 6 / 7 * 5 / 6, 6 / 7 * 5 / 6 * 3 / 4, 6 / 7 * 5 / 6 * 3 / 4 * 2 / 3
    assert survival_at(times, surv, [0.5, 1, 2, 3, 4, 10]) == pytest.approx([1, s1, s2, s3, s4, s4])
    assert median_time(times, surv) == 4  # s4 = 0.357 is the first value <= 0.5


@pytest.mark.anyio
async def test_retention_curve_tool_on_event_data(client, data_dir: Path):
    paths = write_sample_company(data_dir)
    raw = pd.read_csv(paths["en"], parse_dates=["hire_date", "termination_date"])
    result = await client.call_tool("retention_curve", {"path": "sample_company.csv", "by": ["department"]})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["unit"] == "days" and data["time_points"] == [90, 180, 365, 730]
    as_of = max(raw["hire_date"].max(), raw["termination_date"].max())
    assert data["definition"]["as_of"] == as_of.date().isoformat()
    # independent: the reference estimator on days from hire to termination (or the as-of date)
    end = raw["termination_date"].fillna(as_of)
    days = (end - raw["hire_date"]).dt.days
    left = raw["termination_date"].notna()
    for group in data["groups"]:
        mask = raw["department"] == group["label"]
        expected, _ = reference_km(days[mask], left[mask], [90, 180, 365, 730])
        assert [p["retention"] for p in group["retention"]] == pytest.approx(expected)
        # hires at least 90 days before the as-of date, whether they stayed or left (issue 12 item 7)
        cohort = mask & (raw["hire_date"] <= as_of - pd.Timedelta(days=90))
        early = cohort & left & (days <= 90)
        assert group["early_cohort"] == cohort.sum() and group["early_leavers"] == early.sum()
        assert group["early_attrition"] == pytest.approx(early.sum() / cohort.sum())
    assert data["logrank_p"] < 0.001  # Customer Service leaves faster, by construction
    assert "Log-rank" in result.content[0].text


@pytest.mark.anyio
async def test_retention_curve_needs_dates_or_tenure(client):
    bad = await client.call_tool("retention_curve", {"csv_text": "dept,left\nA,Yes\nB,No\n"})
    assert bad.is_error and "tenure column" in bad.content[0].text
    bad = await client.call_tool("retention_curve", {"csv_text": "dept,tenure_months,left\nA,3,Yes\nB,5,No\n",
                                                     "by": ["tenure_band"]})
    assert bad.is_error and "tenure_band cannot group" in bad.content[0].text
    ok = await client.call_tool("retention_curve", {"csv_text": "dept,tenure_months,left\nA,3,Yes\nB,5,No\n"
                                                    + "A,8,No\nB,2,Yes\nA,12,No\n"})
    assert not ok.is_error and ok.structured_content["unit"] == "months"


def test_curves_stop_where_fewer_than_the_minimum_remain_at_risk(shared_settings: Settings):
    """Past that point each step is one or two people leaving: the curve (chart and view) ends before it."""
    raw = pd.read_csv(shared_dataset("ibm_hr_attrition.csv"))
    ds = load_dataset(shared_settings, path="ibm_hr_attrition.csv")
    result = retention_curve(ds, by=["Department"], policy=policy(floor=5), min_group_size=5, curve_points=200)
    for group in [result.overall, *result.groups]:
        part = raw if not group.group else raw[raw["Department"] == group.group["Department"]]
        last_time = group.curve[-1][0]
        # whole years, a life table: the last step ends interval [t − 1, t), which at least 5 people entered
        assert (part["YearsAtCompany"] >= last_time - 1).sum() >= 5, group.label
        assert (part["YearsAtCompany"] >= last_time).sum() < 5 or last_time == part["YearsAtCompany"].max() + 1
        assert group.curve[-1][1] > 0  # the tail to zero (the last few people leaving) is not drawn

"""Kaplan–Meier, log-rank and retention_curve against lifelines (test-only) and hand counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import shared_dataset
from retention_mcp.analysis.survival import kaplan_meier, logrank_test, median_time, retention_curve, survival_at
from retention_mcp.data.dataset import load_dataset
from retention_mcp.sample_data import write_sample_company
from retention_mcp.settings import Settings

lifelines = pytest.importorskip("lifelines")


def test_kaplan_meier_equals_lifelines_on_babushkin_by_traffic(shared_settings: Settings):
    raw = pd.read_csv(shared_dataset("babushkin_turnover.csv"))
    points = [3, 6, 12, 24, 36]
    ds = load_dataset(shared_settings, path="babushkin_turnover.csv")
    result = retention_curve(ds, by=["traffic"], time_points=points, min_group_size=1)
    assert result.unit == "months"
    by_label = {g.label: g for g in result.groups}
    assert set(by_label) == set(raw["traffic"].unique())
    for traffic, part in raw.groupby("traffic"):
        fitter = lifelines.KaplanMeierFitter().fit(part["stag"], part["event"])
        expected = fitter.survival_function_at_times(points).to_numpy()
        got = [p.retention for p in by_label[traffic].retention]
        assert got == pytest.approx(expected.tolist(), abs=1e-12), traffic
        lifelines_median = fitter.median_survival_time_
        if np.isfinite(lifelines_median):
            assert by_label[traffic].median_tenure == pytest.approx(lifelines_median)
        else:
            assert by_label[traffic].median_tenure is None
    overall = lifelines.KaplanMeierFitter().fit(raw["stag"], raw["event"])
    assert [p.retention for p in result.overall.retention] == pytest.approx(
        overall.survival_function_at_times(points).tolist(), abs=1e-12)


def test_logrank_equals_lifelines(shared_settings: Settings):
    from lifelines.statistics import multivariate_logrank_test

    raw = pd.read_csv(shared_dataset("babushkin_turnover.csv"))
    expected = multivariate_logrank_test(raw["stag"], raw["traffic"], raw["event"])
    chi2, df, p = logrank_test(raw["stag"], raw["event"], raw["traffic"])
    assert chi2 == pytest.approx(expected.test_statistic, rel=1e-9)
    assert df == expected.degrees_of_freedom
    assert p == pytest.approx(expected.p_value, rel=1e-6)


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
    # independent: lifelines on days from hire to termination (or the as-of date)
    end = raw["termination_date"].fillna(as_of)
    days = (end - raw["hire_date"]).dt.days
    left = raw["termination_date"].notna()
    for group in data["groups"]:
        mask = raw["department"] == group["label"]
        fitter = lifelines.KaplanMeierFitter().fit(days[mask], left[mask])
        assert [p["retention"] for p in group["retention"]] == pytest.approx(
            fitter.survival_function_at_times([90, 180, 365, 730]).tolist())
        cohort = mask & ((left & (days <= 90)) | (days >= 90))
        early = mask & left & (days <= 90)
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

"""Issue 12 items 2 and 7: tenure is read at the resolution it was recorded in (no month bands or 90-day attrition
from whole years; curves in the column's unit, a life table for whole units), and early attrition counts only
hires who could have completed 90 days. Generated data, hand counts, and the IBM file."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from conftest import make_dataset, policy, shared_dataset
from reference import reference_km, reference_life_table
from retention_mcp.analysis.survival import curve_markdown, retention_curve
from retention_mcp.analysis.turnover import breakdown_markdown, turnover_breakdown
from retention_mcp.data.dataset import load_dataset
from retention_mcp.settings import Settings


def whole_years(n: int = 600, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = rng.integers(0, 12, n)
    left = rng.random(n) < np.where(years < 2, 0.35, 0.12)
    return pd.DataFrame({"YearsAtCompany": years, "Attrition": np.where(left, "Yes", "No"),
                         "Dept": rng.choice(["A", "B"], n)})


def test_whole_years_get_year_bands_not_month_bands():
    frame = whole_years()
    ds = make_dataset(frame)
    assert ds.tenure_unit == "years" and ds.tenure_resolution_months == 12
    result = turnover_breakdown(ds, by=["tenure_band"], policy=policy())
    got = {r.label: (r.headcount, r.leavers) for r in result.rows}
    y, left = frame["YearsAtCompany"], frame["Attrition"] == "Yes"
    for label, members in (("<1 year", y == 0), ("1-3 years", y.between(1, 2)), ("3-5 years", y.between(3, 4)),
                           (">5 years", y >= 5)):
        assert got[label] == (members.sum(), (members & left).sum()), label
    assert not any("month" in label for label in got)
    text = breakdown_markdown(result)
    assert "recorded in whole years" in text and "completed years" in text


def test_whole_years_curve_is_a_life_table_in_years_without_early_attrition():
    frame = whole_years()
    result = retention_curve(make_dataset(frame), policy=policy())
    assert result.unit == "years" and result.time_points == [1, 2, 3, 5]
    assert result.definition.estimator.startswith("actuarial life table")
    expected = reference_life_table(frame["YearsAtCompany"], frame["Attrition"] == "Yes", [1, 2, 3, 5])
    assert [p.retention for p in result.overall.retention] == pytest.approx(expected, abs=1e-12)
    # retention at 1 year = 1 − leavers with 0 completed years ÷ (everyone − half of the stayers with 0 years)
    zero = frame["YearsAtCompany"] == 0
    leavers0 = int((zero & (frame["Attrition"] == "Yes")).sum())
    stayers0 = int((zero & (frame["Attrition"] == "No")).sum())
    assert result.overall.retention[0].retention == pytest.approx(1 - leavers0 / (len(frame) - stayers0 / 2))
    assert result.overall.early_attrition is None and result.overall.early_leavers is None
    assert result.definition.early_kind == "unavailable"
    text = curve_markdown(result)
    assert "cannot show who left within 90 days" in text
    assert "median tenure (years)" in text and "months" not in text.split("90-day attrition of hires")[0]


def test_whole_months_use_month_bands_and_early_attrition_from_the_life_table():
    rng = np.random.default_rng(8)
    months = rng.integers(0, 40, 500)
    left = rng.random(500) < np.where(months < 3, 0.4, 0.1)
    frame = pd.DataFrame({"tenure_months": months, "left": np.where(left, 1, 0)})
    ds = make_dataset(frame)
    bands = {r.label for r in turnover_breakdown(ds, by=["tenure_band"], policy=policy()).rows}
    assert "<=3 months" in bands and "3-12 months" in bands
    result = retention_curve(ds, policy=policy())
    assert result.unit == "months" and result.definition.early_kind == "curve"
    expected = reference_life_table(months, left, [3, 6, 12, 24])
    assert [p.retention for p in result.overall.retention] == pytest.approx(expected, abs=1e-12)
    assert result.overall.early_attrition == pytest.approx(1 - expected[0])
    assert result.overall.early_leavers == int((left & (months < 3)).sum())


def test_tenure_in_days_is_kaplan_meier_in_days():
    rng = np.random.default_rng(9)
    days = rng.integers(1, 900, 400)
    left = rng.random(400) < 0.3
    frame = pd.DataFrame({"tenure_days": days, "left": np.where(left, "Yes", "No")})
    result = retention_curve(make_dataset(frame), policy=policy())
    assert result.unit == "days" and result.time_points == [90, 180, 365, 730]
    expected, _ = reference_km(days, left, [90, 180, 365, 730])
    assert [p.retention for p in result.overall.retention] == pytest.approx(expected, abs=1e-12)
    assert result.overall.early_attrition == pytest.approx(1 - expected[0])


def test_a_generic_tenure_header_above_60_is_read_as_months():
    frame = pd.DataFrame({"司龄": [3, 15, 27, 40, 75, 130, 8, 200] * 5, "离职": ["是", "否"] * 20})
    ds = make_dataset(frame)
    assert ds.tenure_unit == "months"
    assert any(f.check == "tenure_unit" and "read as months" in f.detail for f in ds.findings)


# -- item 7: the early-attrition cohort


def early_file() -> pd.DataFrame:
    """As-of 2024-12-31. 100 hires in 2023, 10 of them gone within 90 days (one more leaves on the as-of date,
    after a year). 20 hires in November–December 2024 (under 90 days before the as-of date): 5 left within
    20 days, 15 are still there."""
    rows = []
    for i in range(100):
        hire = dt.date(2023, 1, 2) + dt.timedelta(days=3 * i)
        term = hire + dt.timedelta(days=30 + i) if i < 10 else (dt.date(2024, 12, 31) if i == 50 else None)
        rows.append((hire, term))
    for i in range(20):
        hire = dt.date(2024, 11, 1) + dt.timedelta(days=2 * i)
        rows.append((hire, hire + dt.timedelta(days=15) if i < 5 else None))
    return pd.DataFrame({"hire_date": [h.isoformat() for h, _ in rows],
                         "termination_date": [t.isoformat() if t else "" for _, t in rows]})


def test_early_attrition_counts_only_hires_who_could_complete_90_days():
    result = retention_curve(make_dataset(early_file()), policy=policy())
    assert result.definition.as_of == "2024-12-31"
    overall = result.overall
    # the cohort: the 100 hired in 2023; the 20 recent hires are out whether they left or stayed
    assert overall.early_cohort == 100 and overall.early_leavers == 10
    assert overall.early_attrition == pytest.approx(0.10)  # the old cohort rule gave 15 / 105 = 14.3%
    assert "hires at least 90 days before the as-of date" in result.definition.early_attrition


# -- the IBM file


def test_ibm_years_at_company(shared_settings: Settings):
    raw = pd.read_csv(shared_dataset("ibm_hr_attrition.csv"), encoding="utf-8-sig")
    ds = load_dataset(shared_settings, path="ibm_hr_attrition.csv")
    result = retention_curve(ds, by=["Department"], policy=policy())
    assert result.unit == "years"
    assert result.overall.early_attrition is None  # was 1.1%, from data that cannot show 90 days
    left = raw["Attrition"] == "Yes"
    expected = reference_life_table(raw["YearsAtCompany"], left, [1, 2, 3, 5])
    assert [p.retention for p in result.overall.retention] == pytest.approx(expected, abs=1e-12)
    # 16 of the 44 people with 0 completed years left: retention through year 1 = 1 − 16 / (1470 − 28 / 2)
    assert result.overall.retention[0].retention == pytest.approx(1 - 16 / (1470 - 14))
    text = curve_markdown(result)
    assert "480" not in text and "months" not in text.split("90-day attrition of hires")[0]
    assert "recorded in whole years" in text

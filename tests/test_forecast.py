"""forecast_leavers: expected leavers from the data's hazard by tenure, checked against data drawn from known hazards
(calibration of the intervals over many draws), an independent integration of the fitted hazard, pandas counts of
the backtest's actual leavers, and the hand-off to hiring_forecast over MCP."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from conftest import make_dataset, policy, shared_dataset
from retention_mcp.analysis.forecast import BAND_EDGES, leaver_forecast

END = dt.date(2024, 12, 31)
TRUE_HAZARD = np.array([0.60, 0.35, 0.25, 0.18, 0.15, 0.12, 0.10]) / 12  # per month, by tenure band
MULTIPLIER = {"A": 1.0, "B": 1.6, "C": 0.6}


def draw_company(seed: int, per_group: int = 700, years: int = 8) -> pd.DataFrame:
    """Hires spread over `years` before END; each person leaves by the piecewise-constant hazard of its group."""
    rng = np.random.default_rng(seed)
    rows = []
    edges = np.append(np.asarray(BAND_EDGES), np.inf)
    for group, multiplier in MULTIPLIER.items():
        for _ in range(per_group):
            hire = END - dt.timedelta(days=int(rng.integers(0, years * 365)))
            target, spent, leave_month = rng.exponential(), 0.0, None
            for b, rate in enumerate(TRUE_HAZARD * multiplier):
                width = edges[b + 1] - edges[b]
                if spent + rate * width >= target:
                    leave_month = edges[b] + (target - spent) / rate
                    break
                spent += rate * width
            leave = hire + dt.timedelta(days=int(leave_month * 365.25 / 12)) if leave_month is not None else None
            rows.append({"team": group, "hire_date": hire.isoformat(),
                         "termination_date": leave.isoformat() if leave and leave <= END else ""})
    return pd.DataFrame(rows)


def true_expected(frame: pd.DataFrame, at: dt.date, months: int) -> dict[str, float]:
    """Σ P(leave within `months` | on the books at `at`) under the true hazards, by numerical integration."""
    out: dict[str, float] = {}
    for team, part in frame.groupby("team"):
        hire = pd.to_datetime(part["hire_date"]).dt.date
        term = pd.to_datetime(part["termination_date"].replace("", None)).dt.date
        on = (hire <= at) & (term.isna() | (term > at))
        total = 0.0
        for h in hire[on]:
            tenure = (at - h).days / (365.25 / 12)
            grid = np.linspace(tenure, tenure + months, 241)
            band = np.searchsorted(np.asarray(BAND_EDGES[1:]), grid, side="right")
            rates = TRUE_HAZARD[band] * MULTIPLIER[team]
            total += 1 - math.exp(-float(np.trapezoid(rates, grid)))
        out[team] = total
    return out


def test_intervals_cover_what_happens_when_the_model_is_right():
    inside = checks = 0
    ratios = []
    for seed in range(10):
        result = leaver_forecast(make_dataset(draw_company(seed)), by=["team"], policy=policy())
        for row in result.backtest.groups:
            twelve = next(f for f in row.horizons if f.months == 12)
            inside += twelve.inside
            checks += 1
        ratios.append(result.backtest.calibration[-1].ratio)
    assert checks == 30
    assert inside / checks >= 0.85  # nominal 95%, on 30 group-years
    assert 0.93 <= float(np.mean(ratios)) <= 1.07  # actual ÷ predicted, averaged over draws


def test_expected_leavers_track_the_true_hazard():
    covered, errors = 0, []
    for seed in range(5):
        frame = draw_company(100 + seed, per_group=1200)
        result = leaver_forecast(make_dataset(frame), by=["team"], policy=policy(), backtest=False)
        truth = true_expected(frame, END, 12)
        for row in result.groups:
            twelve = next(f for f in row.horizons if f.months == 12)
            covered += twelve.low <= truth[row.label] <= twelve.high
            errors.append(twelve.expected / truth[row.label] - 1)
    assert covered >= 13  # of 15 group forecasts, nominal 95%
    assert abs(float(np.mean(errors))) < 0.06  # unbiased: the fitted year's noise averages out


def test_new_hires_are_expected_to_lose_more_and_the_sum_is_the_fitted_hazard_integrated():
    frame = draw_company(3, per_group=1200)
    result = leaver_forecast(make_dataset(frame), by=["team"], policy=policy(), backtest=False)
    hazard = np.array([h.annual_hazard for h in result.hazard]) / 12
    assert hazard[0] > hazard[-1]  # the fitted early hazard is the higher one, as drawn
    # Independent integration of the fitted model for team B's people on the books at END.
    part = frame[frame.team == "B"]
    hire = pd.to_datetime(part["hire_date"]).dt.date
    on = part["termination_date"] == ""
    ratio = next(r.relative_hazard for r in result.groups if r.label == "B")
    total = 0.0
    for h in hire[on]:
        tenure = (END - h).days / (365.25 / 12)
        grid = np.linspace(tenure, tenure + 12, 481)
        band = np.searchsorted(np.asarray(BAND_EDGES[1:]), grid, side="right")
        total += 1 - math.exp(-ratio * float(np.trapezoid(hazard[band], grid)))
    twelve = next(f for f in next(r for r in result.groups if r.label == "B").horizons if f.months == 12)
    assert twelve.expected == pytest.approx(total, rel=0.01)  # tenure is bucketed to a quarter month
    # Same team, same hazard: people in their first months are forecast to leave at a higher rate.
    recent = frame[(frame.team == "A")].copy()
    recent["cohort"] = np.where(pd.to_datetime(recent.hire_date).dt.date > END - dt.timedelta(days=120), "new", "old")
    split = leaver_forecast(make_dataset(recent), by=["cohort"], policy=policy(), backtest=False)
    rates = {r.label: next(f for f in r.horizons if f.months == 12).rate for r in split.groups}
    assert rates["new"] > rates["old"]


def test_backtest_actuals_are_the_leavers_that_followed(tmp_path):
    from retention_mcp.sample_data import write_sample_company

    frame = pd.read_csv(write_sample_company(tmp_path)["en"])
    result = leaver_forecast(make_dataset(frame), by=["department"], policy=policy())
    cutoff = dt.date.fromisoformat(result.backtest.cutoff)
    hire = pd.to_datetime(frame.hire_date).dt.date
    term = pd.to_datetime(frame.termination_date).dt.date
    on = (hire <= cutoff) & (term.isna() | (term > cutoff))
    left = on & term.notna() & (term <= dt.date(cutoff.year + 1, cutoff.month, cutoff.day))
    for row in result.backtest.groups:
        in_group = frame.department == row.label
        assert row.cohort == int((on & in_group).sum())
        assert next(f for f in row.horizons if f.months == 12).actual == int((left & in_group).sum())
    assert {c.months for c in result.backtest.calibration} == {3, 6, 12}


def test_hrdataset_backtest_and_small_groups_suppressed():
    frame = pd.read_csv(shared_dataset("hrdataset_v14.csv"))
    result = leaver_forecast(make_dataset(frame), by=["Department"], policy=policy())
    labels = {r.label.strip(): r for r in result.groups}
    assert labels["Executive Office"].suppressed and labels["Executive Office"].headcount is None
    assert not labels["Production"].suppressed
    assert result.backtest is not None and result.backtest.overall.cohort > 200
    twelve = next(f for f in result.backtest.overall.horizons if f.months == 12)
    cutoff = dt.date.fromisoformat(result.backtest.cutoff)
    hire = pd.to_datetime(frame.DateofHire, format="%m/%d/%Y").dt.date
    term = pd.to_datetime(frame.DateofTermination, format="%m/%d/%Y").dt.date
    on = (hire <= cutoff) & (term.isna() | (term > cutoff))
    assert twelve.actual == int((on & term.notna() & (term <= dt.date(cutoff.year + 1, cutoff.month,
                                                                      cutoff.day))).sum())


def test_a_snapshot_is_refused_with_the_reason():
    from retention_mcp.errors import InputError

    frame = pd.DataFrame({"dept": ["a"] * 20, "left": [1, 0] * 10})
    with pytest.raises(InputError, match="hire and termination dates"):
        leaver_forecast(make_dataset(frame), by=["dept"], policy=policy())


@pytest.mark.anyio
async def test_forecast_feeds_hiring_forecast_over_mcp(client, data_dir):
    from retention_mcp.sample_data import write_sample_company

    write_sample_company(data_dir)
    forecast = await client.call_tool("forecast_leavers", {"path": "sample_company.csv", "by": ["department"],
                                                           "language": "zh"})
    assert not forecast.is_error, forecast.content[0].text
    data = forecast.structured_content
    assert "回测" in forecast.content[0].text and "预计" in forecast.content[0].text
    hires = await client.call_tool("hiring_forecast", {"forecast_evidence_id": data["evidence_id"],
                                                       "new_positions": 10, "probation_pass_rate": "90%"})
    assert not hires.is_error, hires.content[0].text
    result = hires.structured_content
    twelve = next(f for f in data["overall"]["horizons"] if f["months"] == 12)
    assert result["current_headcount"] == data["overall"]["headcount"]
    assert result["hires_needed"] == math.ceil((10 + twelve["expected"]) / 0.9 - 1e-9)
    assert result["hires_needed_low"] == math.ceil((10 + twelve["low"]) / 0.9 - 1e-9)
    assert result["hires_needed_high"] == math.ceil((10 + twelve["high"]) / 0.9 - 1e-9)
    both = await client.call_tool("hiring_forecast", {"forecast_evidence_id": data["evidence_id"],
                                                      "expected_turnover_rate": "10%", "current_headcount": 100})
    assert both.is_error and "exactly one" in both.content[0].text

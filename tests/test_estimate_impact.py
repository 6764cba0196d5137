"""estimate_impact against independent calculations: exact fractions for the point figures, Levin's formula as
published, the delta-method intervals re-derived by numerical differentiation and checked against a parametric
bootstrap, turnover_breakdown's own figures for event data; and its hand-off to calculate_roi."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_dataset, policy, shared_dataset
from retention_mcp.analysis.impact import estimate_impact
from retention_mcp.data.dimensions import parse_where
from retention_mcp.sample_data import write_sample_company

Z = 1.959963984540054


def levin(p_exposed: float, relative_risk: float) -> float:
    """Levin (1953): PAF = Pe(RR − 1) / (1 + Pe(RR − 1))."""
    excess = p_exposed * (relative_risk - 1)
    return excess / (1 + excess)


def numeric_se(function, rates: list[float], variances: list[float], step: float = 1e-6) -> float:
    """Delta-method standard error with central finite differences (no analytic gradient)."""
    total = 0.0
    for i, (rate, variance) in enumerate(zip(rates, variances, strict=True)):
        up, down = list(rates), list(rates)
        up[i], down[i] = rate + step, rate - step
        total += ((function(*up) - function(*down)) / (2 * step)) ** 2 * variance
    return math.sqrt(total)


def snapshot(n_yes: int, x_yes: int, n_no: int, x_no: int, n_other: int = 0, x_other: int = 0) -> pd.DataFrame:
    rows = []
    for group, n, x in (("Yes", n_yes, x_yes), ("No", n_no, x_no), ("Sometimes", n_other, x_other)):
        rows += [{"overtime": group, "left": int(i < x)} for i in range(n)]
    return pd.DataFrame(rows)


# -- snapshot data, by hand


def test_reference_scenario_exact_figures_and_levin():
    frame = snapshot(120, 36, 280, 28)
    result = estimate_impact(make_dataset(frame), segment={"overtime": "Yes"}, reference={"overtime": "No"},
                             policy=policy())
    n_s, x_s, n_r, x_r = 120, 36, 280, 28
    avoided = Fraction(x_s) - Fraction(n_s * x_r, n_r)  # n_s × (x_s/n_s − x_r/n_r)
    assert result.avoided_leavers == pytest.approx(float(avoided))
    assert result.new_overall_rate == pytest.approx(float((Fraction(x_s + x_r) - avoided) / (n_s + n_r)))
    assert result.current_overall_rate == pytest.approx((x_s + x_r) / (n_s + n_r))
    rr = (x_s / n_s) / (x_r / n_r)
    assert result.relative_risk == pytest.approx(rr)
    assert result.paf == pytest.approx(levin(n_s / (n_s + n_r), rr))
    assert result.paf == pytest.approx(float(avoided / (x_s + x_r)))  # segment + reference = everyone
    assert result.impact_fraction == pytest.approx(result.paf)
    roi = result.calculate_roi_inputs
    assert (roi.headcount, roi.current_turnover_rate, roi.target_turnover_rate) == (
        400, pytest.approx(result.current_overall_rate), pytest.approx(result.new_overall_rate))


def test_intervals_are_the_delta_method_and_agree_with_a_bootstrap():
    n_s, x_s, n_r, x_r, n_o, x_o = 150, 45, 300, 30, 80, 12
    frame = snapshot(n_s, x_s, n_r, x_r, n_o, x_o)
    result = estimate_impact(make_dataset(frame), segment={"overtime": "Yes"}, reference={"overtime": "No"},
                             policy=policy())
    p = [x_s / n_s, x_r / n_r, x_o / n_o]
    v = [p[0] * (1 - p[0]) / n_s, p[1] * (1 - p[1]) / n_r, p[2] * (1 - p[2]) / n_o]  # binomial variances
    total_n = n_s + n_r + n_o

    def avoided(ps: float, pr: float, po: float) -> float:
        return n_s * (ps - pr)

    def new_rate(ps: float, pr: float, po: float) -> float:
        return ((n_s + n_r) * pr + n_o * po) / total_n

    def log_one_minus_paf(ps: float, pr: float, po: float) -> float:
        return math.log(1 - levin(n_s / (n_s + n_r), ps / pr))

    def log_one_minus_impact(ps: float, pr: float, po: float) -> float:
        leavers = n_s * ps + n_r * pr + n_o * po
        return math.log(1 - avoided(ps, pr, po) / leavers)

    se = numeric_se(avoided, p, v)
    assert (result.avoided_ci_low, result.avoided_ci_high) == pytest.approx(
        (result.avoided_leavers - Z * se, result.avoided_leavers + Z * se), rel=1e-6)
    se = numeric_se(new_rate, p, v)
    assert (result.new_overall_ci_low, result.new_overall_ci_high) == pytest.approx(
        (result.new_overall_rate - Z * se, result.new_overall_rate + Z * se), rel=1e-6)
    for value, (low, high), function in ((result.paf, (result.paf_ci_low, result.paf_ci_high), log_one_minus_paf),
                                         (result.impact_fraction, (result.impact_fraction_ci_low,
                                                                   result.impact_fraction_ci_high),
                                          log_one_minus_impact)):
        g, se = math.log(1 - value), numeric_se(function, p, v)
        assert (low, high) == pytest.approx((1 - math.exp(g + Z * se), 1 - math.exp(g - Z * se)), rel=1e-5)
    # Levin's PAF is over segment + reference; the impact fraction over everyone (the third group stays)
    assert result.paf == pytest.approx(levin(n_s / (n_s + n_r), p[0] / p[1]))
    assert result.impact_fraction == pytest.approx(result.avoided_leavers / (x_s + x_r + x_o))
    assert result.rest is not None and result.rest.headcount == n_o
    # a parametric bootstrap (fixed seed) gives the same spread for the avoided leavers
    rng = np.random.default_rng(20240531)
    draws = n_s * (rng.binomial(n_s, p[0], 200_000) / n_s - rng.binomial(n_r, p[1], 200_000) / n_r)
    assert draws.std() == pytest.approx((result.avoided_ci_high - result.avoided_ci_low) / (2 * Z), rel=0.02)


def test_reduction_scenario():
    frame = snapshot(60, 24, 340, 34)
    result = estimate_impact(make_dataset(frame), segment={"overtime": "Yes"}, reduction=0.3, policy=policy())
    assert result.scenario == "reduction" and result.paf is None and result.reference is None
    assert result.avoided_leavers == pytest.approx(0.3 * 24)
    assert result.segment_new_rate == pytest.approx(0.7 * 24 / 60)
    assert result.new_overall_rate == pytest.approx((58 - 7.2) / 400)
    p = 24 / 60
    se = 60 * 0.3 * math.sqrt(p * (1 - p) / 60)
    assert result.avoided_ci_low == pytest.approx(7.2 - Z * se)


def test_where_limits_the_population():
    frame = snapshot(120, 36, 280, 28)
    frame["site"] = np.where(np.arange(len(frame)) % 2 == 0, "North", "South")
    ds = make_dataset(frame)
    scope = parse_where(ds, {"site": "North"}, policy())
    result = estimate_impact(ds, segment={"overtime": "Yes"}, reference={"overtime": "No"}, policy=policy(),
                             scope=scope)
    north = frame[frame["site"] == "North"]
    seg, ref = north[north.overtime == "Yes"], north[north.overtime == "No"]
    assert result.population.headcount == len(north)
    assert result.avoided_leavers == pytest.approx(len(seg) * (seg.left.mean() - ref.left.mean()))


def test_bad_scenarios_are_input_errors():
    ds = make_dataset(snapshot(120, 36, 280, 28))
    common = {"segment": {"overtime": "Yes"}, "policy": policy()}
    for kwargs, needle in (({}, "exactly one of reference"),
                           ({"reference": {"overtime": "No"}, "reduction": 0.2}, "exactly one"),
                           ({"reduction": 1.5}, "at most 1"),
                           ({"reduction": 0.0}, "above 0"),
                           ({"reference": {"overtime": "Yes"}}, "separate groups")):
        with pytest.raises(ValueError, match=needle):
            estimate_impact(ds, **{**common, **kwargs})
    with pytest.raises(ValueError, match="no group 'Maybe'"):
        estimate_impact(ds, segment={"overtime": "Maybe"}, reduction=0.5, policy=policy())
    # 3 people 'Sometimes': hidden, and 'Yes' with them (else 400 − 280 − 'Yes' gives them away)
    small = make_dataset(snapshot(120, 36, 280, 28, 3, 1))
    with pytest.raises(ValueError, match="suppressed"):
        estimate_impact(small, segment={"overtime": "Sometimes"}, reduction=0.5, policy=policy())
    with pytest.raises(ValueError, match="suppressed"):
        estimate_impact(small, segment={"overtime": "Yes"}, reduction=0.5, policy=policy())
    # Segment and reference on different columns are refused for what they say, not for what the data holds:
    # "a" and "d" share nobody, "b" and "d" share 100 people, and the answer is the same (an answer that
    # depended on the data would tell whether a suppressed cell is empty).
    frame = pd.DataFrame({"x": ["a"] * 100 + ["b"] * 103, "y": ["c"] * 100 + ["d"] * 100 + ["c"] * 3,
                          "left": [i % 4 == 0 for i in range(203)]})
    answers = set()
    for segment in ({"x": "a"}, {"x": "b"}):
        with pytest.raises(ValueError, match="separate groups") as refused:
            estimate_impact(make_dataset(frame), segment=segment, reference={"y": "d"}, policy=policy())
        answers.add(str(refused.value))
    assert len(answers) == 1


# -- event data: turnover_breakdown's figures, reused


@pytest.mark.anyio
async def test_event_data_uses_turnover_breakdowns_rates(client, data_dir: Path):
    write_sample_company(data_dir)
    where = {"department": "Customer Service"}
    result = await client.call_tool("estimate_impact", {
        "path": "sample_company.csv", "where": where, "segment": {"shift": ["evening", "night"]},
        "reference": {"shift": "day"}})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    segment = await client.call_tool("turnover_breakdown", {"path": "sample_company.csv",
                                                            "where": {**where, "shift": ["evening", "night"]}})
    reference = await client.call_tool("turnover_breakdown", {"path": "sample_company.csv",
                                                              "where": {**where, "shift": "day"}})
    overall = await client.call_tool("turnover_breakdown", {"path": "sample_company.csv", "where": where})
    s, r, o = (x.structured_content["overall"] for x in (segment, reference, overall))
    assert data["segment"]["headcount"] == pytest.approx(s["headcount"], abs=0.01)
    assert data["segment"]["leavers"] == s["leavers"] and data["reference"]["leavers"] == r["leavers"]
    assert data["segment"]["rate"] == pytest.approx(s["rate"], rel=1e-4)
    assert data["population"]["headcount"] == pytest.approx(o["headcount"], abs=0.01)
    assert data["definition"] == overall.structured_content["definition"]
    avoided = s["headcount"] * (s["rate"] - r["rate"])
    assert data["avoided_leavers"] == pytest.approx(avoided, rel=1e-3)
    assert data["new_overall_rate"] == pytest.approx((o["leavers"] - avoided) / o["headcount"], rel=1e-3)
    # exact Poisson (Garwood) interval for an event rate, as the design asks
    from scipy import stats

    low = stats.chi2.ppf(0.025, 2 * s["leavers"]) / 2 / data["segment"]["headcount"]
    assert data["segment"]["ci_low"] == pytest.approx(low, rel=1e-3)
    assert "not a proven cause" in result.content[0].text and "delta method" in result.content[0].text

    # the ROI hand-off: calculate_roi's avoided leavers are estimate_impact's
    inputs = data["calculate_roi_inputs"]
    roi = await client.call_tool("calculate_roi", {**inputs, "average_annual_cost": 70000,
                                                   "replacement_cost_multiplier": 0.4})
    assert not roi.is_error, roi.content[0].text
    assert roi.structured_content["avoided_leavers_per_year"] == pytest.approx(data["avoided_leavers"], rel=1e-6)


@pytest.mark.anyio
async def test_tenure_cohort_reduction_on_event_data(client, data_dir: Path):
    write_sample_company(data_dir)
    result = await client.call_tool("estimate_impact", {"path": "sample_company.csv",
                                                        "segment": {"tenure_band": "<=3 months"}, "reduction": "30%"})
    assert not result.is_error, result.content[0].text
    bands = await client.call_tool("turnover_breakdown", {"path": "sample_company.csv", "by": ["tenure_band"]})
    cohort = next(r for r in bands.structured_content["rows"] if r["label"] == "<=3 months")
    data = result.structured_content
    assert data["segment"]["leavers"] == cohort["leavers"]
    assert data["avoided_leavers"] == pytest.approx(0.3 * cohort["leavers"])
    overall = bands.structured_content["overall"]
    assert data["new_overall_rate"] == pytest.approx((overall["leavers"] - 0.3 * cohort["leavers"])
                                                     / overall["headcount"], rel=1e-4)
    for bad in (12, "-5%", "lots"):
        refused = await client.call_tool("estimate_impact", {"path": "sample_company.csv", "reduction": bad,
                                                             "segment": {"tenure_band": "<=3 months"}})
        assert refused.is_error and "reduction" in refused.content[0].text, bad


# -- the real files


@pytest.mark.anyio
async def test_ibm_overtime_leavers_at_the_no_overtime_rate(shared_client):
    raw = pd.read_csv(shared_dataset("ibm_hr_attrition.csv"), encoding="utf-8-sig")
    result = await shared_client.call_tool("estimate_impact", {"path": "ibm_hr_attrition.csv",
                                                               "segment": {"OverTime": "Yes"},
                                                               "reference": {"OverTime": "No"}})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    left = raw["Attrition"] == "Yes"
    n_s, x_s = int((raw.OverTime == "Yes").sum()), int((left & (raw.OverTime == "Yes")).sum())
    n_r, x_r = int((raw.OverTime == "No").sum()), int((left & (raw.OverTime == "No")).sum())
    assert (n_s, x_s, n_r, x_r) == (416, 127, 1054, 110)
    avoided = Fraction(x_s) - Fraction(n_s * x_r, n_r)
    assert data["avoided_leavers"] == pytest.approx(float(avoided))  # 83.59
    assert data["new_overall_rate"] == pytest.approx(float((237 - avoided) / 1470))  # 10.4%: the No-overtime rate
    assert data["paf"] == pytest.approx(levin(416 / 1470, (127 / 416) / (110 / 1054)))  # 35.3%
    assert round(data["avoided_leavers"], 1) == 83.6 and round(data["paf"], 3) == 0.353


@pytest.mark.anyio
async def test_hrdataset_production_reduction(shared_client):
    shared_dataset("hrdataset_v14.csv")
    result = await shared_client.call_tool("estimate_impact", {"path": "hrdataset_v14.csv", "reduction": 0.3,
                                                               "segment": {"Department": "Production"},
                                                               "separation_type": "voluntary"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    production = await shared_client.call_tool("turnover_breakdown", {
        "path": "hrdataset_v14.csv", "where": {"Department": "Production"}, "separation_type": "voluntary"})
    overall = await shared_client.call_tool("turnover_breakdown", {"path": "hrdataset_v14.csv",
                                                                   "separation_type": "voluntary"})
    p, o = production.structured_content["overall"], overall.structured_content["overall"]
    assert data["segment"]["leavers"] == p["leavers"]
    assert data["avoided_leavers"] == pytest.approx(0.3 * p["leavers"])
    assert data["current_overall_rate"] == pytest.approx(o["rate"], rel=1e-4)
    assert data["new_overall_rate"] == pytest.approx((o["leavers"] - 0.3 * p["leavers"]) / o["headcount"], rel=1e-4)

"""Issue 12 item 10: ICC with its F-based 95% intervals, read by the interval (Koo & Li), the target met only
when the lower bound clears it. Published values, and the intervals written out here a second way."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from retention_mcp.analysis.icc import calibration_text, icc

SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
# psych::ICC on the Shrout & Fleiss (1979) table (Revelle; printed in dwoll/RExRepos "interRaterICC"):
# lower bounds -0.133, 0.019, 0.342, -0.884, 0.071, 0.676; upper bounds 0.72, 0.76, 0.95, 0.91, 0.93, 0.99
PUBLISHED = {"ICC1": (-0.133, 0.72), "ICC2": (0.019, 0.76), "ICC3": (0.342, 0.95), "ICC1k": (-0.884, 0.91),
             "ICC2k": (0.071, 0.93), "ICC3k": (0.676, 0.99)}


def test_intervals_match_the_published_shrout_fleiss_values():
    result = icc(SHROUT_FLEISS)
    forms = {f.form: f for f in result.forms}
    for name, (low, high) in PUBLISHED.items():
        assert round(forms[name].ci_low, 3) == pytest.approx(low, abs=1.5e-3), name
        assert round(forms[name].ci_high, 2) == pytest.approx(high, abs=1e-9), name
    assert forms["ICC2"].interval_reading == "poor to good"
    assert result.headline_reading == "poor to good"
    assert result.verdict == "inconclusive" and result.meets_target is False
    text = calibration_text(result)
    assert "0.019–0.761" in text and "poor to good" in text and "inconclusive" in text


def satterthwaite_by_hand(matrix: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """ICC(2,1) interval in the form psych::ICC writes it (via F_J = JMS/EMS), not McGraw & Wong's a/b form."""
    n, k = matrix.shape
    grand = matrix.mean()
    bms = k * ((matrix.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    jms = n * ((matrix.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    ems = (((matrix - grand) ** 2).sum() - bms * (n - 1) - jms * (k - 1)) / ((n - 1) * (k - 1))
    rho = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
    fj = jms / ems
    vn = (k - 1) * (n - 1) * (k * rho * fj + n * (1 + (k - 1) * rho) - k * rho) ** 2
    vd = (n - 1) * k ** 2 * rho ** 2 * fj ** 2 + (n * (1 + (k - 1) * rho) - k * rho) ** 2
    v = vn / vd
    f_low = stats.f.ppf(1 - (1 - level) / 2, n - 1, v)
    f_high = stats.f.ppf(1 - (1 - level) / 2, v, n - 1)
    low = n * (bms - f_low * ems) / (f_low * (k * jms + (k * n - k - n) * ems) + n * bms)
    high = n * (f_high * bms - ems) / (k * jms + (k * n - k - n) * ems + n * f_high * bms)
    return low, high


def test_icc21_interval_equals_the_other_written_form_on_random_calibrations():
    rng = np.random.default_rng(2)
    for _ in range(20):
        truth = rng.normal(7, 1.5, 25)
        matrix = np.round(truth[:, None] + rng.normal(0, 0.8, (25, 5)) + rng.normal(0, 0.4, 5), 1)
        result = icc(matrix.tolist())
        form = next(f for f in result.forms if f.form == "ICC2")
        low, high = satterthwaite_by_hand(matrix)
        assert (form.ci_low, form.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
        assert form.ci_low < form.value < form.ci_high


def test_target_met_only_when_the_lower_bound_clears_it():
    rng = np.random.default_rng(3)
    truth = rng.normal(7, 2, 60)
    good = icc((truth[:, None] + rng.normal(0, 0.4, (60, 4))).tolist())
    assert good.headline_ci_low >= 0.75 and good.verdict == "meets" and good.meets_target
    # a point estimate above 0.75 (0.767) on 5 calls: the interval reaches down to 0.27, so it is not "met"
    few = [[9, 7, 8], [4, 6, 5], [6, 7, 5], [3, 2, 4], [7, 8, 6]]
    small = icc(few)
    assert small.headline_value >= 0.75 and small.headline_ci_low < 0.75
    assert small.verdict == "inconclusive" and small.meets_target is False
    poor = icc((truth[:, None] + rng.normal(0, 4, (60, 4))).tolist())
    assert poor.headline_ci_high < 0.75 and poor.verdict == "below"
    assert "even the upper bound falls short" in calibration_text(poor)


def test_perfect_agreement_has_no_interval_but_still_meets():
    result = icc([[1, 1], [2, 2], [3, 3]])
    assert result.headline_value == pytest.approx(1.0)
    assert result.headline_ci_low is None and result.meets_target is True
    assert not any(isinstance(v, float) and not math.isfinite(v) for f in result.forms
                   for v in (f.ci_low, f.ci_high) if v is not None)


@pytest.mark.anyio
async def test_qa_calibration_tool_reports_intervals(client):
    result = await client.call_tool("qa_calibration", {"ratings": SHROUT_FLEISS})
    assert not result.is_error
    data = result.structured_content
    assert data["verdict"] == "inconclusive" and data["meets_target"] is False
    assert round(data["headline_ci_low"], 3) == 0.019 and round(data["headline_ci_high"], 2) == 0.76
    assert "poor to good" in result.content[0].text

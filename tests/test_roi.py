"""ROI: seed 000's customer-service example, a hand-computed case, scenarios, sensitivity, presets, the tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from retention_mcp.analysis.roi import build_inputs, calculate_roi, preset_band
from retention_mcp.catalog import load_catalog
from retention_mcp.settings import Settings


def inputs(**overrides):
    base = dict(headcount=100, current_turnover_rate=0.20, target_turnover_rate=0.15, average_annual_cost=50_000,
                replacement_cost_multiplier=0.5, band=None, program_cost_one_off=60_000, program_cost_annual=40_000,
                productivity_gain_fte=1, other_annual_benefits=0, horizon_months=12, benefit_ramp_months=0,
                discount_rate=0.10)
    base.update(overrides)
    return build_inputs(**base)


def test_seed_000_customer_service_example():
    # 200 staff, 12.6% -> 10%, replacement cost 0.4 x annual cost: "少约5人/年".
    result = calculate_roi(build_inputs(headcount=200, current_turnover_rate="12.6%", target_turnover_rate="10%",
                                        average_annual_cost=1.0, replacement_cost_multiplier=0.4, band=None))
    assert result.avoided_leavers_per_year == pytest.approx(200 * 0.026)  # 5.2
    assert result.avoided_leavers_per_year == pytest.approx(5.2)
    retention = next(b for b in result.benefits if b.component == "retention_savings")
    assert retention.annual == pytest.approx(2.08)  # 5.2 x 0.4 = 2.08 x the average annual cost
    assert "= 2.08 × average annual cost" in result.formula
    assert result.roi is None and result.benefit_cost_ratio is None  # no program cost given


def test_hand_computed_case():
    # By hand: 100 x (20% - 15%) = 5 avoided; 5 x 0.5 x 50,000 = 125,000; + 1 FTE x 50,000 = 175,000 a year.
    # Cost 60,000 + 40,000 = 100,000. roi = 75,000 / 100,000 = 0.75; ratio 1.75.
    # Monthly net 175,000/12 - 40,000/12 = 11,250; 60,000 / 11,250 = 5.33 -> payback in month 6.
    result = calculate_roi(inputs())
    assert result.avoided_leavers_per_year == pytest.approx(5.0)
    assert result.total_benefit == pytest.approx(175_000)
    assert result.total_cost == pytest.approx(100_000)
    assert result.net_benefit == pytest.approx(75_000)
    assert result.roi == pytest.approx(0.75)
    assert result.benefit_cost_ratio == pytest.approx(1.75)
    assert result.payback_month == 6 and result.payback_within_horizon
    # break-even: (100,000 - 50,000) / (100 x 0.5 x 50,000) = 0.02 -> 2.0 pp
    assert result.break_even_reduction == pytest.approx(0.02)
    assert result.break_even_reduction_pp == pytest.approx(2.0)
    assert result.break_even_target_rate == pytest.approx(0.18)
    # NPV: month k discounted by 1.1^(-k/12)
    npv = -60_000 + sum(11_250 * 1.1 ** (-k / 12) for k in range(1, 13))
    assert result.npv == pytest.approx(npv)
    assert "ROI = (benefit − cost) ÷ cost = (175,000 − 100,000) ÷ 100,000 = 0.75 (75.0%)" in result.formula


def test_linear_ramp():
    # 3-month ramp: months 1, 2, 3 earn 1/3, 2/3, 1 -> 11 full-rate months in 12.
    result = calculate_roi(inputs(benefit_ramp_months=3))
    monthly = 175_000 / 12
    assert result.total_benefit == pytest.approx(monthly * 11)
    assert result.roi == pytest.approx((monthly * 11 - 100_000) / 100_000)
    cumulative, payback = -60_000.0, None
    for k in range(1, 13):
        cumulative += monthly * min(1, k / 3) - 40_000 / 12
        if cumulative >= 0:
            payback = k
            break
    assert payback == 7 and result.payback_month == 7


def test_scenarios_use_preset_band_and_reduction_shares():
    band = {"low": 0.16, "base": 0.4, "high": 0.6}
    result = calculate_roi(inputs(replacement_cost_multiplier=None, band=band), band=band)
    low, base, high = result.scenarios
    assert (low.name, base.name, high.name) == ("low", "base", "high")
    # low: 0.16 x (50% of 5 pp) -> 100 x 0.025 x 0.16 x 50,000 = 20,000 + 50,000 productivity
    assert low.total_benefit == pytest.approx(20_000 + 50_000)
    assert low.roi == pytest.approx((70_000 - 100_000) / 100_000)
    # high: 0.6 x 120% of 5 pp = 6 pp -> 100 x 0.06 x 0.6 x 50,000 = 180,000 + 50,000
    assert high.total_benefit == pytest.approx(230_000)
    assert base.roi == pytest.approx(result.roi)
    assert base.replacement_cost_multiplier == 0.4


def test_high_scenario_reduction_is_capped_at_current_rate():
    result = calculate_roi(inputs(target_turnover_rate=0.0, current_turnover_rate=0.05))
    assert result.scenarios[2].turnover_reduction == pytest.approx(0.05)


def test_sensitivity_sorted_for_tornado():
    result = calculate_roi(inputs())
    swings = [row.swing for row in result.sensitivity]
    assert swings == sorted(swings, reverse=True)
    one_off = next(row for row in result.sensitivity if row.input == "program_cost_one_off")
    assert one_off.metric_at_high == pytest.approx((175_000 - 112_000) / 112_000)
    assert one_off.metric_at_low == pytest.approx((175_000 - 88_000) / 88_000)
    assert "other_annual_benefits" not in {row.input for row in result.sensitivity}  # zero inputs are skipped


@pytest.mark.parametrize("overrides, fragments", [
    (dict(current_turnover_rate=12.6), ["12.6%", "0.126"]),
    (dict(current_turnover_rate="12.6"), ["12.6%", "0.126"]),
    (dict(headcount=-5), ["headcount"]),
    (dict(target_turnover_rate=0.25), ["above current_turnover_rate", "swap"]),
    (dict(average_annual_cost=float("nan")), ["average_annual_cost", "finite"]),
    (dict(replacement_cost_multiplier=None), ["replacement_cost_multiplier", "cost_preset"]),
    (dict(replacement_cost_multiplier=40), ["0.4"]),
])
def test_bad_inputs(overrides, fragments):
    with pytest.raises(ValueError) as caught:
        inputs(**overrides)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_bundled_presets_are_complete(settings: Settings):
    presets = load_catalog(settings, "cost_presets.yaml")
    assert set(presets["presets"]) == {"frontline", "professional", "technical", "manager", "executive"}
    for name, entry in presets["presets"].items():
        assert 0 < entry["low"] <= entry["base"] <= entry["high"], name
        assert entry["sources"] and all(s in presets["sources"] for s in entry["sources"]), name
    assert preset_band(presets, "call_center") == ("frontline", {"low": 0.16, "base": 0.40, "high": 0.60})
    assert "21%" in presets["sources"]["cap2012"]["finding"]
    with pytest.raises(ValueError, match="frontline, professional"):
        preset_band(presets, "astronaut")


def test_team_catalog_overrides_presets(tmp_path: Path, data_dir: Path):
    team = tmp_path / "team"
    team.mkdir()
    (team / "cost_presets.yaml").write_text(
        "presets:\n  frontline:\n    aliases: [客服]\n    low: 0.3\n    base: 0.5\n    high: 0.7\n    sources: []\n",
        encoding="utf-8")
    settings = Settings(data_dirs=(data_dir,), output_dir=tmp_path / "out", catalog_dir=team, log_level="WARNING")
    assert preset_band(load_catalog(settings, "cost_presets.yaml"), "客服") == (
        "frontline", {"low": 0.3, "base": 0.5, "high": 0.7})


@pytest.mark.anyio
async def test_tool_through_client(client):
    args = {"headcount": 100, "current_turnover_rate": "20%", "target_turnover_rate": 0.15,
            "average_annual_cost": 50_000, "replacement_cost_multiplier": 0.5, "program_cost_one_off": 60_000,
            "program_cost_annual": 40_000, "productivity_gain_fte": 1, "discount_rate": "10%", "currency": "CNY"}
    result = await client.call_tool("calculate_roi", args)
    assert not result.is_error
    data = result.structured_content
    assert data["roi"] == pytest.approx(0.75) and data["benefit_cost_ratio"] == pytest.approx(1.75)
    assert data["payback_month"] == 6
    assert "ROI 75.0%" in result.content[0].text and "Formula:" in result.content[0].text

    preset = await client.call_tool("calculate_roi", {**args, "replacement_cost_multiplier": None,
                                                      "cost_preset": "frontline"})
    assert not preset.is_error
    assert preset.structured_content["replacement_cost_multiplier"] == pytest.approx(0.4)
    assert preset.structured_content["scenarios"][0]["replacement_cost_multiplier"] == pytest.approx(0.16)

    for bad, fragment in [({"current_turnover_rate": "12.6"}, "12.6%"), ({"headcount": -1}, "headcount"),
                          ({"target_turnover_rate": "25%"}, "above current_turnover_rate"),
                          ({"cost_preset": "pilot"}, "frontline")]:
        failed = await client.call_tool("calculate_roi", {**args, **bad})
        assert failed.is_error and fragment in failed.content[0].text

    again = await client.call_tool("calculate_roi", args)
    assert not again.is_error

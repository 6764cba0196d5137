"""build_kpis and score_kpis: checks on a KPI set, and achievements computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from retention_mcp.analysis.kpi_build import KpiItem, build_kpi_set
from retention_mcp.analysis.kpi_catalog import load_kpi_catalog
from retention_mcp.analysis.kpi_score import score_kpi_set

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def catalog(settings):
    return load_kpi_catalog(settings)


def items(*rows: dict) -> list[KpiItem]:
    return [KpiItem(**r) for r in rows]


def codes(result, severity: str | None = None) -> list[str]:
    return [f.code for f in result.findings if severity is None or f.severity == severity]


# A set worked by hand. Achievement = (actual - baseline) / (target - baseline):
#   fcr         higher  70 -> 80, actual 78   -> 8 / 10            = 0.80 -> yellow
#   aht         lower  300 -> 240, actual 225 -> (-75) / (-60)     = 1.25 -> capped 1.20, green
#   abandonment lower   10 -> 5,  actual 8    -> (-2) / (-5)       = 0.40 -> red
#   csat        higher 3.5 -> 4.0, actual 3.8 -> 0.3 / 0.5         = 0.60 -> orange
# weighted (25 each) = (0.80 + 1.20 + 0.40 + 0.60) / 4 = 0.75 -> orange
HAND_SET = [
    {"id": "fcr", "baseline": 70, "target": 80, "weight": 25},
    {"id": "aht", "baseline": 300, "target": 240, "weight": 25},
    {"id": "abandonment_rate", "baseline": 10, "target": 5, "weight": 25},
    {"id": "csat", "baseline": 3.5, "target": 4.0, "weight": 25},
]
HAND_ACTUALS = {"fcr": 78, "aht": 225, "abandonment_rate": 8, "csat": 3.8}


def test_score_matches_hand_computation(catalog):
    result = score_kpi_set(catalog, items(*HAND_SET), HAND_ACTUALS)
    rows = {r.id: r for r in result.kpis}
    assert rows["fcr"].achievement_raw == pytest.approx(0.8)
    assert rows["fcr"].status == "yellow"
    assert rows["aht"].achievement_raw == pytest.approx(1.25)
    assert rows["aht"].achievement_capped == pytest.approx(1.2)
    assert rows["aht"].status == "green"
    assert rows["abandonment_rate"].achievement_raw == pytest.approx(0.4)
    assert rows["abandonment_rate"].status == "red"
    assert rows["csat"].achievement_raw == pytest.approx(0.6)
    assert rows["csat"].status == "orange"
    assert result.weighted_score == pytest.approx(0.75)
    assert result.overall_status == "orange"
    # seed 004's achievement coefficient is target / baseline, reported alongside
    assert rows["aht"].achievement_coefficient == pytest.approx(240 / 300)
    assert rows["fcr"].achievement_coefficient == pytest.approx(80 / 70, abs=1e-4)
    assert rows["aht"].weighted_points == pytest.approx(0.25 * 1.2)


def test_unequal_weights_cap_and_threshold_overrides(catalog):
    weighted = [dict(r) for r in HAND_SET]
    for row, weight in zip(weighted, (40, 30, 20, 10), strict=True):
        row["weight"] = weight
    result = score_kpi_set(catalog, items(*weighted), HAND_ACTUALS)
    assert result.weighted_score == pytest.approx((40 * 0.8 + 30 * 1.2 + 20 * 0.4 + 10 * 0.6) / 100)  # 0.82
    assert result.overall_status == "yellow"
    loose = score_kpi_set(catalog, items(*weighted), HAND_ACTUALS, cap="150%",
                          thresholds={"green": "120%", "orange": 0.65})
    rows = {r.id: r for r in loose.kpis}
    assert rows["aht"].achievement_capped == pytest.approx(1.25)
    assert rows["aht"].status == "green"
    assert rows["csat"].status == "red"  # 0.60 < 0.65
    assert loose.weighted_score == pytest.approx((40 * 0.8 + 30 * 1.25 + 20 * 0.4 + 10 * 0.6) / 100)


def test_worse_than_baseline_is_floored_at_zero_and_red(catalog):
    result = score_kpi_set(catalog, items({"id": "aht", "baseline": 300, "target": 240, "weight": 100}),
                           {"aht": 330})
    row = result.kpis[0]
    assert row.achievement_raw == pytest.approx(-0.5)  # (330 - 300) / (240 - 300)
    assert row.achievement_capped == 0
    assert row.status == "red"


def test_target_equal_to_baseline_is_explained_not_divided(catalog):
    result = score_kpi_set(catalog, items({"id": "fcr", "baseline": 75, "target": 75, "weight": 50},
                                          {"id": "csat", "baseline": 3.5, "target": 4.0, "weight": 50}),
                           {"fcr": 80, "csat": 4.0})
    fcr = result.kpis[0]
    assert fcr.achievement_raw is None and fcr.status == "undefined"
    assert "target equals baseline" in fcr.message
    assert result.weighted_score == pytest.approx(1.0)  # only csat (achievement 1.0) can be scored
    assert "target_equals_baseline" in codes(result)


def test_no_baseline_uses_ratio_by_direction(catalog):
    result = score_kpi_set(catalog, items({"id": "fcr", "target": 80, "weight": 50},
                                          {"id": "aht", "target": 240, "weight": 50}), {"fcr": 72, "aht": 300})
    rows = {r.id: r for r in result.kpis}
    assert rows["fcr"].achievement_raw == pytest.approx(72 / 80)
    assert rows["aht"].achievement_raw == pytest.approx(240 / 300)


def test_weights_summing_to_95_produce_a_finding_and_are_not_rescaled(catalog):
    rows = [dict(r) for r in HAND_SET]
    rows[0]["weight"] = 20  # 20 + 25 + 25 + 25 = 95
    result = build_kpi_set(catalog, items(*rows), deadline="2026-12-31", today=TODAY)
    finding = next(f for f in result.findings if f.code == "weights_sum")
    assert finding.severity == "error"
    assert "95" in finding.message
    assert [k.weight for k in result.kpis] == [20, 25, 25, 25]
    assert result.weight_total == 95


def test_no_weights_means_equal_weights_said_so(catalog):
    rows = [{k: v for k, v in r.items() if k != "weight"} for r in HAND_SET]
    result = build_kpi_set(catalog, items(*rows), deadline="2026-12-31", today=TODAY)
    assert [k.weight for k in result.kpis] == [25, 25, 25, 25]
    assert result.weights_mode.startswith("equal")
    assert "weights_equal" in codes(result, "info")


def test_build_fills_definitions_and_flags_problems(catalog):
    result = build_kpi_set(catalog, items(
        {"id": "fcr", "baseline": 40, "target": 90, "weight": 20},           # +125%: implausible
        {"id": "fcr", "baseline": 70, "target": 75, "weight": 20},           # duplicate
        {"id": "aht", "baseline": 300, "target": 400, "weight": 20},         # lower is better, target above
        {"id": "service_level", "baseline": 70, "target": 120, "weight": 20},  # percent above 100
        {"id": "csat", "baseline": "high", "target": 4.2, "weight": 20},     # not numeric
    ), today=TODAY)
    fcr = result.kpis[0]
    assert fcr.name_zh == "首次解决率" and fcr.definition and fcr.formula and fcr.bands
    found = set(codes(result))
    assert {"implausible_jump", "duplicate", "direction", "out_of_range", "baseline_not_numeric",
            "smart_time_bound", "bsc_coverage"} <= found
    assert result.counts["error"] >= 3
    assert "| 1 | First contact resolution (FCR) (`fcr`) | 首次解决率 |" in result.markdown_table
    relaxed = build_kpi_set(catalog, items({"id": "fcr", "baseline": 40, "target": 90, "weight": 100}),
                            max_relative_change=1.5, deadline="2026-12-31", today=TODAY)
    assert "implausible_jump" not in codes(relaxed)


def test_balanced_custom_set_is_clean(catalog):
    result = build_kpi_set(catalog, items(
        {"id": "cost_per_contact", "baseline": 30, "target": 27, "weight": 20},
        {"id": "csat", "baseline": 3.8, "target": 4.1, "weight": 30},
        {"id": "fcr", "baseline": 70, "target": 76, "weight": 30},
        {"name": "Coaching hours per agent", "unit": "hours", "direction": "higher", "perspective": "学习与成长",
         "definition": "coaching hours / agents per month", "baseline": 2, "target": 2.5, "weight": 20},
    ), deadline="2026-12-31", today=TODAY)
    assert result.counts["error"] == 0 and result.counts["warning"] == 0, result.findings
    custom = result.kpis[3]
    assert custom.custom and custom.perspective == "learning_growth"
    assert all(custom.smart.values())
    assert result.perspective_weights == {"financial": 20, "customer": 30, "internal_process": 30,
                                          "learning_growth": 20}


def test_okr_structure_and_past_deadline(catalog):
    result = build_kpi_set(catalog, items(
        {"id": "customer_retention_rate", "objective": "Keep customers", "baseline": 80, "target": 84},
        {"id": "complaint_rate", "objective": "Keep customers", "baseline": 2.0, "target": 1.6},
        {"id": "fcr", "baseline": 70, "target": 75},
    ), framework="okr", deadline="2025-01-31", today=TODAY)
    assert "okr_no_objective" in codes(result, "error")
    assert "deadline_past" in codes(result)
    assert "bsc_coverage" not in codes(result)


def test_call_center_profile_checks_seed_001_bands(catalog):
    # Seed 001's own worked example: CSAT 40, resolution 25, AHT 15, compliance 10, empathy 10. With the
    # seed's indicator table (resolution rate is a quality indicator) efficiency is 15% and
    # quality/attitude 45%, outside the seed's bands; the checker says so.
    example = build_kpi_set(catalog, items(
        {"id": "csat", "baseline": 3.8, "target": 4.1, "weight": 40},
        {"id": "fcr", "baseline": 70, "target": 80, "weight": 25},
        {"id": "aht", "baseline": 320, "target": 290, "weight": 15},
        {"id": "script_compliance_rate", "baseline": 90, "target": 95, "weight": 10},
        {"id": "empathy_score", "baseline": 3.9, "target": 4.2, "weight": 10},
    ), profile="call_center_csat_linked", deadline="2026-12-31", today=TODAY)
    assert example.profile_group_weights == {"customer": 40, "efficiency": 15, "quality_attitude": 45}
    band_messages = [f.message for f in example.findings if f.code == "profile_band"]
    assert len(band_messages) == 2
    assert any("efficiency" in m and "30–40%" in m for m in band_messages)
    inside = build_kpi_set(catalog, items(
        {"id": "csat", "baseline": 3.8, "target": 4.1, "weight": 45},
        {"id": "aht", "baseline": 320, "target": 290, "weight": 20},
        {"id": "asa", "baseline": 40, "target": 30, "weight": 15},
        {"id": "fcr", "baseline": 70, "target": 80, "weight": 10},
        {"id": "empathy_score", "baseline": 3.9, "target": 4.2, "weight": 10},
    ), profile="call_center_csat_linked", deadline="2026-12-31", today=TODAY)
    assert "profile_band" not in codes(inside)
    assert codes(inside).count("profile_band_ok") == 3


@pytest.mark.anyio
async def test_build_and_score_through_the_client(client):
    rows = [dict(r) for r in HAND_SET]
    rows[0]["weight"] = 20
    built = await client.call_tool("build_kpis", {"items": rows, "deadline": "2030-12-31"})
    assert not built.is_error
    assert any(f["code"] == "weights_sum" for f in built.structured_content["findings"])
    assert "Weights sum to 95" in built.content[0].text

    unknown = await client.call_tool("build_kpis", {"items": [{"id": "not_a_kpi", "weight": 100}]})
    assert unknown.is_error
    assert "unknown KPI id 'not_a_kpi'" in unknown.content[0].text and "find_kpis" in unknown.content[0].text

    bad_weight = await client.call_tool("build_kpis", {"items": [{"id": "fcr", "weight": "lots"}]})
    assert bad_weight.is_error
    assert "weight must be a number" in bad_weight.content[0].text

    # the completed set from build_kpis goes straight into score_kpis
    kpis = built.structured_content["kpis"]
    for kpi in kpis:
        kpi["weight"] = 25
    scored = await client.call_tool("score_kpis", {"kpis": kpis, "actuals": HAND_ACTUALS})
    assert not scored.is_error
    assert scored.structured_content["weighted_score"] == pytest.approx(0.75)
    assert scored.structured_content["overall_status"] == "orange"
    assert "75.0%" in scored.content[0].text

    bad_actual = await client.call_tool("score_kpis", {"kpis": kpis, "actuals": {"fcr": "n/a"}})
    assert bad_actual.is_error and "actual of fcr must be a number" in bad_actual.content[0].text
    bad_threshold = await client.call_tool("score_kpis", {"kpis": kpis, "actuals": HAND_ACTUALS,
                                                          "thresholds": {"blue": 0.9}})
    assert bad_threshold.is_error and "green, yellow and/or orange" in bad_threshold.content[0].text
    again = await client.call_tool("score_kpis", {"kpis": kpis[:1], "actuals": {"fcr": 80}})
    assert not again.is_error and again.structured_content["kpis"][0]["status"] == "green"

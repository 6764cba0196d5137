"""The catalogs that ground a plan — wages, replacement-cost presets, initiatives, the new KPIs — each entry with its
source (a test fails on one without), and the tools that read them: cost_per_leaver, estimate_impact(initiative=)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from conftest import catalog, make_dataset, policy
from retention_mcp.analysis.initiatives import initiative_used, load_initiatives
from retention_mcp.analysis.kpi_catalog import find_kpis, parse_catalog
from retention_mcp.errors import InputError

NEW_KPIS = ("employee_satisfaction", "manager_effectiveness", "on_call_night_load", "new_hire_attrition_12m",
            "stay_interview_coverage")


def test_every_wage_names_a_source_with_url_year_and_verification():
    wages = catalog("wages.yaml")
    assert len(wages["wages"]) == 60
    for wage in wages["wages"]:
        source = wages["sources"][wage["source"]]  # KeyError: a wage without a known source
        assert source["citation"] and source["url"].startswith("http") and source["verification"]
        assert wage["year"] >= 2022 and wage["value"] > 0 and wage["currency"] in ("CNY", "USD")
        assert ("industry" in wage) != ("occupation" in wage)


def test_every_cost_preset_end_names_its_source():
    presets = catalog("cost_presets.yaml")
    for key, preset in presets["presets"].items():
        assert set(preset["range"]) == {"low", "base", "high"}, key
        for end, origin in preset["range"].items():
            assert origin["source"] == "assumption" or origin["source"] in presets["sources"], (key, end)
            assert origin["says"], (key, end)
        for name in preset["sources"]:
            assert presets["sources"][name]["citation"] and presets["sources"][name]["verification"]


def test_every_initiative_has_sources_and_an_ordered_range():
    raw = catalog("initiatives.yaml")
    table = load_initiatives(raw)
    assert set(table) == {"structured_onboarding", "mentoring", "stay_interviews", "career_paths",
                          "schedule_fairness", "pay_adjustment", "manager_training", "flexible_work"}
    for entry in table.values():
        assert entry.sources and entry.basis
        if entry.effect.kind == "assumption":
            assert "assumption" in entry.basis or entry.strength in ("none", "weak")
    assert table["flexible_work"].strength == "strong" and table["stay_interviews"].sources == ["assumption"]
    broken = {"initiatives": {"x": {**raw["initiatives"]["flexible_work"], "sources": []}}}
    with pytest.raises(InputError, match="initiative x"):
        load_initiatives(broken)
    unsourced = {"initiatives": {"y": {**raw["initiatives"]["flexible_work"], "sources": ["assumption"]}}}
    with pytest.raises(InputError, match="sourced effect needs a source"):
        load_initiatives(unsourced)


def test_new_kpis_are_bilingual_and_every_band_names_a_known_source():
    kpis = parse_catalog(catalog("kpi_catalog.yaml"))
    by_id = kpis.by_id()
    for kpi_id in NEW_KPIS:
        kpi = by_id[kpi_id]
        assert kpi.definition_zh and kpi.formula_zh and kpi.data_source_zh and kpi.name_zh
        assert kpi.bands and all(b.source in kpis.sources for b in kpi.bands)
        assert any(b.target_low is not None or b.target_high is not None or b.relative_change is not None
                   for b in kpi.bands)
    for kpi in kpis.kpis:
        assert all(b.source in kpis.sources for b in kpi.bands), kpi.id


@pytest.mark.parametrize(("query", "expected"), [
    ("员工满意度", "employee_satisfaction"), ("employee satisfaction", "employee_satisfaction"),
    ("工作满意度", "employee_satisfaction"), ("job satisfaction", "employee_satisfaction"),
    ("manager effectiveness", "manager_effectiveness"), ("管理者有效性", "manager_effectiveness"),
    ("夜班负荷", "on_call_night_load"), ("on-call load", "on_call_night_load"),
    ("新员工12个月内离职率", "new_hire_attrition_12m"), ("first year turnover", "new_hire_attrition_12m"),
    ("新员工90天内离职率", "early_attrition_rate"), ("留任面谈", "stay_interview_coverage"),
])
def test_search_finds_the_measure_people_mean_before_a_look_alike(query, expected):
    result = find_kpis(parse_catalog(catalog("kpi_catalog.yaml")), query)
    assert result.matches[0].kpi.id == expected
    assert all(m.score < result.matches[0].score for m in result.matches[1:])


# -- estimate_impact with a catalog initiative


def test_initiative_scenarios_scale_the_base_result_exactly():
    from retention_mcp.analysis.impact import estimate_impact

    rows = ([{"shift": "night", "left": int(i < 30)} for i in range(100)]
            + [{"shift": "day", "left": int(i < 20)} for i in range(200)])
    ds = make_dataset(pd.DataFrame(rows))
    raw = catalog("initiatives.yaml")
    entry = load_initiatives(raw)["flexible_work"]
    base = estimate_impact(ds, segment={"shift": "night"}, reduction=entry.effect.base, policy=policy())
    used = initiative_used(entry, raw, avoided_base=base.avoided_leavers, current_rate=base.current_overall_rate,
                           new_rate_base=base.new_overall_rate)
    for scenario in used.scenarios:
        direct = estimate_impact(ds, segment={"shift": "night"}, reduction=scenario.reduction, policy=policy())
        assert scenario.avoided_leavers == pytest.approx(direct.avoided_leavers)  # 100 × 30% × reduction
        assert scenario.new_overall_rate == pytest.approx(direct.new_overall_rate)
    assert used.scenarios[1].avoided_leavers == pytest.approx(100 * 0.30 * 0.33)


@pytest.mark.anyio
async def test_estimate_impact_takes_an_initiative_and_its_usual_segment(client, data_dir):
    from retention_mcp.sample_data import write_sample_company

    write_sample_company(data_dir)
    result = await client.call_tool("estimate_impact", {"path": "sample_company.csv",
                                                        "initiative": "structured_onboarding"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["scenario"] == "reduction" and "tenure_band" in data["segment"]["label"]
    assert [s["reduction"] for s in data["initiative"]["scenarios"]] == [0.10, 0.20, 0.32]
    assert "Cable" in data["initiative"]["sources"][0] and data["initiative"]["evidence"] == "sourced"
    assumed = await client.call_tool("estimate_impact", {"path": "sample_company.csv", "initiative": "留任面谈",
                                                         "segment": {"department": "Sales"}})
    assert not assumed.is_error, assumed.content[0].text
    assert assumed.structured_content["initiative"]["evidence"] == "assumption"
    assert "assumption" in assumed.content[0].text
    both = await client.call_tool("estimate_impact", {"path": "sample_company.csv", "initiative": "mentoring",
                                                      "reduction": 0.3, "segment": {"department": "Sales"}})
    assert both.is_error and "leave out reduction" in both.content[0].text


# -- cost_per_leaver


@pytest.mark.anyio
async def test_cost_from_the_file_is_its_mean_pay_times_each_sourced_multiplier(client, data_dir):
    from retention_mcp.sample_data import write_sample_company

    paths = write_sample_company(data_dir)
    frame = pd.read_csv(paths["en"])
    mean_pay = frame.loc[frame.department == "R&D", "annual_salary"].mean()
    result = await client.call_tool("cost_per_leaver", {"path": "sample_company.csv", "where": {"department": "R&D"},
                                                        "cost_preset": "technical", "leavers": 10})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["annual_cost"]["origin"] == "file" and data["annual_cost"]["value"] == pytest.approx(mean_pay)
    presets = catalog("cost_presets.yaml")["presets"]["technical"]
    for band in data["bands"]:
        assert band["multiplier"] == presets[band["scenario"]]
        assert band["cost_per_leaver"] == pytest.approx(mean_pay * presets[band["scenario"]])
        assert band["total"] == pytest.approx(10 * mean_pay * presets[band["scenario"]])
        assert band["source"] == presets["range"][band["scenario"]]["source"]
    assert data["calculate_roi_inputs"] == {"average_annual_cost": pytest.approx(mean_pay), "cost_preset": "technical"}


@pytest.mark.anyio
async def test_cost_without_pay_uses_a_sourced_public_wage_marked_external(client):
    result = await client.call_tool("cost_per_leaver", {"industry": "软件", "cost_preset": "研发", "language": "zh"})
    assert not result.is_error, result.content[0].text
    annual = result.structured_content["annual_cost"]
    assert annual["origin"] == "external" and annual["wage_id"] == "cn_nonprivate_2023_information"
    assert annual["value"] == 231810 and annual["year"] == 2023 and annual["url"].startswith("http")
    assert "外部数据" in result.content[0].text and "EXTERNAL" in annual["description"]
    region = await client.call_tool("cost_per_leaver", {"region": "东部", "cost_preset": "frontline",
                                                        "ownership": "private"})
    assert region.structured_content["annual_cost"]["value"] == 72965  # NBS 2022, private units, eastern region
    occupation = await client.call_tool("cost_per_leaver", {"occupation": "经理", "cost_preset": "manager"})
    assert occupation.structured_content["annual_cost"]["value"] == 198285
    nothing = await client.call_tool("cost_per_leaver", {"cost_preset": "manager"})
    assert nothing.is_error and "cost basis" in nothing.content[0].text
    assert math.isclose(catalog("wages.yaml")["wages"][0]["value"], 114029)

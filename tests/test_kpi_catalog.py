"""The KPI catalog: completeness of tools/kpi_catalog.yaml, search in English and Chinese, team override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from retention_mcp.analysis.kpi_catalog import find_kpis, load_kpi_catalog, parse_catalog
from retention_mcp.catalog import bundled_dir
from retention_mcp.settings import Settings

REQUIRED = {"id", "name_en", "name_zh", "synonyms", "definition", "formula", "unit", "direction", "perspective",
            "domain", "data_source", "cadence", "bands"}
#: KPIs the issue names, by the id chosen for each.
ISSUE_IDS = {
    "retention": ["turnover_rate", "voluntary_turnover_rate", "regretted_turnover_rate", "early_attrition_rate",
                  "enps", "engagement_index", "internal_fill_rate", "promotion_satisfaction",
                  "manager_one_on_one_coverage"],
    "call_center": ["csat", "nps", "fcr", "aht", "aht_variance", "asa", "service_level", "occupancy",
                    "abandonment_rate", "transfer_rate", "qa_score", "qa_icc", "schedule_fairness_gini",
                    "consecutive_night_violation_rate", "forecast_mape", "kb_freshness", "complaint_rate",
                    "absence_rate"],
    "rnd": ["change_failure_rate", "mttr", "lead_time_for_changes", "deployment_frequency", "on_time_release_rate",
            "rework_rate", "escaped_defect_rate", "tech_debt_share"],
    "sales": ["quota_attainment_median", "quota_attainment_spread", "speed_to_lead", "mql_to_sql_conversion",
              "commission_dispute_rate", "crm_completeness"],
    "hr_ops": ["time_to_fill", "cost_per_hire", "time_to_productivity"],
}


@pytest.fixture(scope="module")
def raw_catalog() -> dict:
    return yaml.safe_load((bundled_dir("tools") / "kpi_catalog.yaml").read_text(encoding="utf-8"))


def test_catalog_has_every_field_and_at_least_40_kpis(raw_catalog):
    kpis = raw_catalog["kpis"]
    assert len(kpis) >= 40
    ids = [k["id"] for k in kpis]
    assert len(ids) == len(set(ids))
    for kpi in kpis:
        assert set(kpi) >= REQUIRED, (kpi["id"], REQUIRED - set(kpi))
        assert kpi["direction"] in ("higher", "lower")
        assert kpi["perspective"] in ("financial", "customer", "internal_process", "learning_growth")
        assert kpi["unit"] in raw_catalog["units"], kpi["id"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in kpi["name_zh"]), kpi["id"]
        assert kpi["bands"], f"{kpi['id']} has no target band"
        for band in kpi["bands"]:
            assert band["source"] in raw_catalog["sources"], (kpi["id"], band)


def test_issue_kpis_are_all_there_in_their_domains(raw_catalog):
    by_id = {k["id"]: k for k in raw_catalog["kpis"]}
    for domain, ids in ISSUE_IDS.items():
        for kpi_id in ids:
            assert kpi_id in by_id, kpi_id
            assert by_id[kpi_id]["domain"] == domain


def test_seed_bands_are_named_by_source(raw_catalog):
    by_id = {k["id"]: k for k in raw_catalog["kpis"]}
    # seed 004: response time baseline 180 s, target 60 s (achievement coefficient 0.33)
    asa = [b for b in by_id["asa"]["bands"] if b["source"] == "service_efficiency_plan" and b.get("baseline") == 180]
    assert asa and asa[0]["target_high"] == 60
    # seed 000: schedule-fairness Gini <= 0.25, ICC >= 0.75; DORA elite change failure <= 15%
    assert any(b.get("target_high") == 0.25 and b["source"] == "retention_plan_examples"
               for b in by_id["schedule_fairness_gini"]["bands"])
    assert any(b.get("target_low") == 0.75 and b["source"] == "retention_plan_examples"
               for b in by_id["qa_icc"]["bands"])
    assert any(b["source"] == "dora_2021" and b.get("target_high") == 15
               for b in by_id["change_failure_rate"]["bands"])
    assert any(b["source"] == "industry_80_20" for b in by_id["service_level"]["bands"])
    groups = raw_catalog["profiles"]["call_center_csat_linked"]["groups"]
    assert (groups["customer"]["min"], groups["customer"]["max"]) == (40, 50)
    assert (groups["efficiency"]["min"], groups["efficiency"]["max"]) == (30, 40)
    assert (groups["quality_attitude"]["min"], groups["quality_attitude"]["max"]) == (10, 20)


@pytest.mark.parametrize(("query", "expected"), [
    ("离职率", "turnover_rate"),
    ("首次解决", "fcr"),
    ("问题一次性解决率", "fcr"),
    ("FCR", "fcr"),
    ("first contact resolution", "fcr"),
    ("average handle time", "aht"),
    ("平均通话时长", "aht"),
    ("eNPS", "enps"),
    ("基尼系数", "schedule_fairness_gini"),
    ("speed to lead", "speed_to_lead"),
    ("招聘周期", "time_to_fill"),
])
def test_find_kpis_puts_the_right_kpi_first(settings, query, expected):
    result = find_kpis(load_kpi_catalog(settings), query)
    assert result.matches, query
    assert result.matches[0].kpi.id == expected


def test_find_kpis_filters_by_domain_and_perspective(settings):
    catalog = load_kpi_catalog(settings)
    rnd = find_kpis(catalog, "", domain="rnd", limit=100)
    assert {m.kpi.id for m in rnd.matches} == set(ISSUE_IDS["rnd"])
    customer = find_kpis(catalog, "", domain="call_center", perspective="客户", limit=100)
    assert customer.perspective == "customer"
    assert customer.matches and all(m.kpi.perspective == "customer" for m in customer.matches)
    with pytest.raises(ValueError, match="unknown domain"):
        find_kpis(catalog, "x", domain="marketing")


def test_team_catalog_folder_overrides_the_bundled_one(tmp_path: Path, data_dir: Path):
    team = tmp_path / "team"
    team.mkdir()
    (team / "kpi_catalog.yaml").write_text(yaml.safe_dump({"kpis": [{
        "id": "team_metric", "name_en": "Team metric", "name_zh": "团队指标", "definition": "d", "formula": "f",
        "unit": "percent", "direction": "higher", "perspective": "customer", "domain": "call_center",
        "data_source": "x", "cadence": "monthly"}]}, allow_unicode=True), encoding="utf-8")
    settings = Settings(data_dirs=(data_dir,), catalog_dir=team)
    catalog = load_kpi_catalog(settings)
    assert [k.id for k in catalog.kpis] == ["team_metric"]
    assert find_kpis(catalog, "团队").matches[0].kpi.id == "team_metric"


def test_broken_catalog_says_where():
    with pytest.raises(ValueError, match=r"kpis\.0"):
        parse_catalog({"kpis": [{"id": "x"}]})


@pytest.mark.anyio
async def test_find_kpis_tool_and_catalog_resource(client):
    result = await client.call_tool("find_kpis", {"query": "离职率"})
    assert not result.is_error
    assert result.structured_content["matches"][0]["kpi"]["id"] == "turnover_rate"
    assert "员工离职率" in result.content[0].text

    bad = await client.call_tool("find_kpis", {"query": "x", "domain": "marketing"})
    assert bad.is_error
    assert "unknown domain" in bad.content[0].text and "call_center" in bad.content[0].text

    again = await client.call_tool("find_kpis", {"query": "", "domain": "sales"})
    assert not again.is_error
    assert again.structured_content["total"] == len(ISSUE_IDS["sales"])

    resource = await client.read_resource("retention://kpi-catalog")
    catalog = json.loads(resource.contents[0].text)
    assert len(catalog["kpis"]) >= 40
    assert "call_center_appraisal" in catalog["sources"]

"""A typical Chinese retention plan composed through the SDK client from a GBK export: the five sections of
retention_strategy, every number cited — turnover by department with intervals, retention curves, two
initiatives combined, the ROI fed by them, a KPI set with baselines from the data, and a roadmap checked against
the ROI and the KPIs. Used by the export tests and by whoever wants to look at the exported files."""

from __future__ import annotations

from typing import Any

from mcp import Client


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


async def compose_plan(client: Client, path: str) -> dict[str, Any]:
    """Compose the plan on ``path`` (living_company's export); returns the plan id and the evidence ids."""
    source = {"path": path}
    plan = await call(client, "plan_create", {"title": "研发与客服员工保留方案 2025", "group": "研发与客服",
                                              "language": "zh"})
    year = await call(client, "turnover_breakdown", {**source, "by": ["部门"], "period_start": "2024-01-01",
                                                     "period_end": "2024-12-31", "language": "zh"})
    rows = {r["label"]: r for r in year["rows"]}
    shifts = await call(client, "turnover_breakdown", {**source, "by": ["班次"], "where": {"部门": "客服"},
                                                       "period_start": "2024-01-01", "period_end": "2024-12-31",
                                                       "language": "zh"})
    night = next(r for r in shifts["rows"] if r["label"] == "夜班")
    curves = await call(client, "retention_curve", {**source, "by": ["部门"], "language": "zh"})
    groups = {g["label"]: g for g in curves["groups"]}
    one_year = {label: next(p["retention"] for p in g["retention"] if p["time"] == 365) for label, g in groups.items()}
    combined = await call(client, "estimate_combined_impact", {
        **source, "where": {"部门": "客服"}, "period_start": "2024-01-01", "period_end": "2024-12-31", "language": "zh",
        "initiatives": [{"name": "夜班轮换", "segment": {"班次": "夜班"}, "reference": {"班次": "白班"}},
                        {"name": "中班补贴", "segment": {"班次": "中班"}, "reduction": 0.2}]})
    roi = await call(client, "calculate_roi", {"impact_evidence_id": combined["evidence_id"],
                                               "average_annual_cost": 72000, "replacement_cost_multiplier": 0.5,
                                               "program_cost_one_off": 40000, "program_cost_annual": 80000,
                                               "currency": "CNY", "benefit_ramp_months": 3})
    kpis = await call(client, "build_kpis", {"items": [{"id": "turnover_rate", "target": 12, "weight": 60},
                                                       {"id": "early_attrition_rate", "target": 3, "weight": 40}],
                                             "baselines_from": [year["evidence_id"], curves["evidence_id"]],
                                             "deadline": "2025-12-31"})
    baseline = {k["id"]: k["baseline"] for k in kpis["kpis"]}
    middle = round((baseline["turnover_rate"] + 12) / 2, 1)
    early_mid = round((baseline["early_attrition_rate"] + 3) / 2, 1)
    cost = roi["total_cost"]
    phases = [
        {"name": "诊断与试点", "start_month": 1, "end_month": 3, "owner": "HRBP", "budget": round(cost * 0.4),
         "activities": ["离职面谈复盘", "夜班轮换试点"], "kpi_targets": {"turnover_rate": middle + 1}},
        {"name": "推广", "start_month": 4, "end_month": 9, "owner": "客服运营经理", "budget": round(cost * 0.4),
         "activities": ["全员夜班轮换", "中班补贴"], "kpi_targets": {"turnover_rate": middle,
                                                                "early_attrition_rate": early_mid}},
        {"name": "固化与复盘", "start_month": 10, "end_month": 12, "owner": "HR 总监",
         "budget": cost - 2 * round(cost * 0.4), "activities": ["制度化", "年度复盘"],
         "kpi_targets": {"turnover_rate": 12, "early_attrition_rate": 3}},
    ]
    roadmap = await call(client, "build_roadmap", {"phases": phases, "roi_evidence_id": roi["evidence_id"],
                                                   "kpi_evidence_id": kpis["evidence_id"], "currency": "CNY",
                                                   "language": "zh"})
    ev = {name: item["evidence_id"] for name, item in (("year", year), ("shifts", shifts), ("curves", curves),
                                                       ("combined", combined), ("roi", roi), ("kpis", kpis),
                                                       ("roadmap", roadmap))}
    sections = {
        "现状分析": (
            f"2024 年研发与客服合计离职率为 {pct(year['overall']['rate'])}（区间 {pct(year['overall']['ci_low'])}–"
            f"{pct(year['overall']['ci_high'])}）[{ev['year']}]。其中客服 {pct(rows['客服']['rate'])}，研发 "
            f"{pct(rows['研发']['rate'])} [{ev['year']}]。\n\n"
            f"研发员工入职一年后的留存率为 {pct(one_year['研发'])}，客服为 {pct(one_year['客服'])} [{ev['curves']}]。"),
        "根本原因分析": (
            f"客服夜班离职率 {pct(night['rate'])} [{ev['shifts']} 夜班]，明显高于客服整体 "
            f"{pct(shifts['overall']['rate'])} [{ev['shifts']}]。离职面谈显示连续夜班和缺少轮换是主要原因。"),
        "战略建议": (
            f"1. 夜班轮换：夜班降至白班水平；2. 中班补贴：中班离职率下降 20%。两项合计每年可少流失 "
            f"{combined['avoided_leavers']:.1f} 人（区间 {combined['avoided_ci_low']:.1f} 至 "
            f"{combined['avoided_ci_high']:.1f}）[{ev['combined']}]，直接相加会重复计算 "
            f"{combined['double_counted']:.1f} 人 [{ev['combined']}]。"),
        "实施路线图": (
            f"分三个阶段、12 个月推进，预算合计 {roadmap['total_budget']:,.0f} 元，与 ROI 测算的项目成本一致 "
            f"[{ev['roadmap']}]。员工离职率目标按阶段下降至 12% [{ev['kpis']} turnover_rate]。"),
        "预期成果": (
            f"12 个月 ROI 为 {pct(roi['roi'])}，收益成本比 {roi['benefit_cost_ratio']:.2f} 倍，"
            f"第 {roi['payback_month']} 个月回收成本 [{ev['roi']}]。"),
    }
    version = 1
    for heading, markdown in sections.items():
        written = await call(client, "plan_write_section", {"plan_id": plan["id"], "section": heading,
                                                            "markdown": markdown, "base_version": version})
        version = written["version"]
    return {"plan_id": plan["id"], "version": version, "evidence": ev, "sections": sections}

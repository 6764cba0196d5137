"""Results computed from results, recorded as lineage, and the roadmap checked against them, through the SDK client.

- build_kpis fills baselines from a call_log_profile and a turnover_breakdown result (the figures computed here with
  pandas), hiring_forecast takes its rate from a turnover breakdown's group, and evidence_get shows both directions;
- build_roadmap checks phase budgets against the ROI's programme cost, milestones against each KPI's baseline and
  target, the payback month against the horizon — each check failing when the numbers say so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retention_mcp.sample_data import write_sample_company

pytestmark = pytest.mark.anyio


async def call(client: Any, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


def snapshot(path: Path) -> pd.DataFrame:
    """120 people in two departments, 30 leavers."""
    rows = [{"EmployeeNumber": i, "Department": "研发部" if i < 80 else "客服部",
             "Attrition": "Yes" if (i < 80 and i % 5 == 0) or (i >= 80 and i % 3 == 0) else "No"}
            for i in range(120)]
    frame = pd.DataFrame(rows)
    frame.to_csv(path, index=False)
    return frame


async def test_kpi_baselines_and_a_hiring_forecast_come_from_evidence(client, data_dir: Path) -> None:
    files = write_sample_company(data_dir)
    frame = snapshot(data_dir / "hr.csv")
    calls = pd.read_csv(files["calls"])
    profile = await call(client, "call_log_profile", {"path": files["calls"].name})
    turnover = await call(client, "turnover_breakdown", {"path": "hr.csv", "by": ["Department"]})
    kpis = await call(client, "build_kpis", {
        "items": [{"id": "turnover_rate", "target": 15, "weight": 50}, {"id": "answer_rate", "target": 95,
                                                                       "weight": 50}],
        "baselines_from": [profile["evidence_id"], turnover["evidence_id"]]})
    baselines = {k["id"]: k["baseline"] for k in kpis["kpis"]}
    assert baselines["turnover_rate"] == pytest.approx(100 * (frame.Attrition == "Yes").mean())
    answered = calls["Answered (Y/N)"].str.upper() == "Y"
    assert baselines["answer_rate"] == pytest.approx(100 * answered.mean(), abs=1e-4)  # the profile keeps 4 decimals
    assert any(f["code"] == "baseline_from_evidence" and f["kpi"] == "answer_rate" for f in kpis["findings"])

    hires = await call(client, "hiring_forecast", {"turnover_evidence_id": turnover["evidence_id"], "group": "客服部",
                                                   "new_positions": 5})
    service = frame[frame.Department == "客服部"]
    rate = (service.Attrition == "Yes").mean()  # 14 of 40
    assert hires["current_headcount"] == len(service)
    assert hires["expected_turnover_rate"] == pytest.approx(rate)
    assert hires["hires_needed"] == math.ceil(5 + len(service) * rate)

    view = await client.call_tool("evidence_get", {"evidence_id": turnover["evidence_id"]})
    children = {(c["evidence_id"], c["argument"]) for c in view.structured_content["children"]}
    assert children == {(kpis["evidence_id"], "baselines_from"), (hires["evidence_id"], "turnover_evidence_id")}
    assert view.structured_content["period"]["kind"] == "snapshot"
    assert "arguments" in view.structured_content and None not in view.structured_content["arguments"].values()
    unknown = await client.call_tool("hiring_forecast", {"turnover_evidence_id": turnover["evidence_id"],
                                                         "group": "销售部"})
    assert unknown.is_error and "研发部" in unknown.content[0].text


async def roi_and_kpis(client: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    roi = await call(client, "calculate_roi", {
        "headcount": 200, "current_turnover_rate": "18%", "target_turnover_rate": "14%", "average_annual_cost": 120000,
        "replacement_cost_multiplier": 0.5, "program_cost_one_off": 60000, "program_cost_annual": 120000,
        "benefit_ramp_months": 3})
    kpis = await call(client, "build_kpis", {"items": [
        {"id": "turnover_rate", "baseline": 18, "target": 14, "weight": 60},
        {"id": "fcr", "baseline": 65, "target": 75, "weight": 40}]})
    return roi, kpis


PHASES = [
    {"name": "诊断与试点", "start_month": 1, "end_month": 3, "owner": "HRBP", "activities": ["离职面谈"],
     "budget": 90000, "kpi_targets": {"turnover_rate": 17}},
    {"name": "推广", "start_month": 4, "end_month": 9, "owner": "运营经理", "budget": 60000,
     "kpi_targets": {"turnover_rate": 15.5, "fcr": 70}},
    {"name": "固化", "start_month": 10, "end_month": 12, "owner": "HR总监", "budget": 30000,
     "kpi_targets": {"turnover_rate": 14, "fcr": "75%"}},
]


async def test_a_roadmap_is_checked_against_the_roi_and_the_kpis(client, settings) -> None:
    roi, kpis = await roi_and_kpis(client)
    # By hand: the cost over 12 months is 60,000 + 120,000 = 180,000; benefits of 200 × 4% × 0.5 × 120,000 =
    # 480,000 a year ramp up over 3 months, so the cumulative benefit passes the cost in month 4.
    assert roi["total_cost"] == 180000 and roi["payback_month"] == 4
    road = await client.call_tool("build_roadmap", {"phases": PHASES, "roi_evidence_id": roi["evidence_id"],
                                                    "kpi_evidence_id": kpis["evidence_id"], "currency": "CNY",
                                                    "language": "zh", "chart": True})
    assert not road.is_error, road.content[0].text
    data = road.structured_content
    assert {c["check"]: c["status"] for c in data["checks"]} == {"budget": "pass", "payback": "pass",
                                                                  "milestones": "pass"}
    assert data["grounded"] is True and data["total_budget"] == 180000
    assert "员工离职率 15.5" in road.content[0].text and "全部通过" in road.content[0].text
    assert (settings.output_dir / f"build_roadmap-{data['evidence_id']}.png").is_file()

    # Budgets typed apart from the ROI, a milestone past the target, one moving back, a payback after the horizon.
    wrong = [dict(PHASES[0], budget=100000), dict(PHASES[1], kpi_targets={"turnover_rate": 17.5, "fcr": 80}),
             dict(PHASES[2], end_month=3, start_month=2)]
    late = await call(client, "calculate_roi", {
        "headcount": 200, "current_turnover_rate": "18%", "target_turnover_rate": "17.5%",
        "average_annual_cost": 120000, "replacement_cost_multiplier": 0.5, "program_cost_one_off": 60000,
        "program_cost_annual": 120000, "horizon_months": 10})
    assert late["payback_month"] is None or late["payback_month"] > 10
    bad = await call(client, "build_roadmap", {"phases": wrong, "roi_evidence_id": late["evidence_id"],
                                               "kpi_evidence_id": kpis["evidence_id"]})
    status = {c["check"]: c for c in bad["checks"]}
    assert status["budget"]["status"] == "fail" and "190,000" in status["budget"]["detail"]
    assert "160,000" in status["budget"]["detail"]  # 60,000 + 120,000 × 10 ÷ 12
    assert status["milestones"]["status"] == "fail"
    assert "80" in status["milestones"]["detail"] and "moves back" in status["milestones"]["detail"]
    assert status["payback"]["status"] == "fail"
    assert status["horizon"]["status"] == "fail"  # the roadmap ends in month 9, the ROI covers 10
    assert bad["grounded"] is False

    parents = (await client.call_tool("evidence_get", {"evidence_id": data["evidence_id"]})).structured_content
    assert {(p["evidence_id"], p["argument"]) for p in parents["parents"]} == {
        (roi["evidence_id"], "roi_evidence_id"), (kpis["evidence_id"], "kpi_evidence_id")}


async def test_a_roadmap_without_evidence_says_what_it_did_not_check(client) -> None:
    road = await call(client, "build_roadmap", {"phases": PHASES})
    assert {c["check"]: c["status"] for c in road["checks"]} == {"budget": "not checked", "milestones": "not checked"}
    bad = await client.call_tool("build_roadmap", {"phases": [dict(PHASES[0], start_month=4)]})
    assert bad.is_error and "before it starts" in bad.content[0].text

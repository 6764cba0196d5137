"""The living plan on the usual routine, through the SDK client, across two server processes.

An HRBP composes a Chinese retention plan from this quarter's GBK export in one server (in memory): turnover by
department for 2024, retention curves, the impact of moving night shifts to the day shift's rate, the ROI computed
from that impact, and a figure from a small table pasted into the chat. Next quarter's export is copied over the
same file; a second server — a real stdio process on the same database — refreshes the plan without a path:

- every cited result re-runs on the file as it is now, for the period it was computed for (2024 stays 2024, the
  curves stay followed up to the first export's date), and its figures equal pandas on the new file;
- the ROI re-runs through its lineage, on the new impact estimate;
- the sentences whose numbers no longer match are listed; the pasted table is the one thing skipped, with the
  plan's figure from it;
- with roll_forward the period moves to the 12 months ending at the new file's latest date, said per figure.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from living_company import (
    average_headcount,
    follow_up,
    leavers,
    next_quarter,
    this_quarter,
    turnover,
)
from plan_fixture import call, pct
from reference import reference_km
from retention_mcp.server import build_server
from retention_mcp.settings import Settings
from retention_mcp.workspace.engine import dispose_all
from server_process import child_env
from workspace_support import database_url, postgres_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

YEAR = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
PASTED = "工号,部门,是否离职\n" + "\n".join(f"P{i},质检,{'是' if i < 6 else '否'}" for i in range(40))


def stdio(settings: Settings, url: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "retention_mcp", "--data-dir", str(settings.data_dirs[0]), "--output-dir", str(settings.output_dir),
              "--database-url", url, "--language", "zh", "--log-level", "WARNING"],
        env=child_env(), cwd=str(settings.output_dir.parent))


async def test_a_plan_stays_true_when_next_quarters_export_replaces_the_file(tmp_path: Path,
                                                                           database_url: str) -> None:  # noqa: F811
    data = tmp_path / "data"
    data.mkdir()
    first = this_quarter(data / "人员花名册.csv")
    settings = Settings(data_dirs=(data,), output_dir=tmp_path / "out", log_level="WARNING", language="zh",
                        database_url=database_url)
    source = {"path": "人员花名册.csv"}

    # -- server A: compose the plan
    async with Client(build_server(settings), raise_exceptions=True) as client:
        plan = await call(client, "plan_create", {"title": "研发与客服保留方案 2025", "group": "研发与客服"})
        plan_id, version = plan["id"], 1
        year = await call(client, "turnover_breakdown", {**source, "by": ["部门"], "period_start": "2024-01-01",
                                                         "period_end": "2024-12-31"})
        assert year["overall"]["rate"] == pytest.approx(turnover(first, *YEAR))
        rates = {row["label"]: row["rate"] for row in year["rows"]}
        curves = await call(client, "retention_curve", {**source, "by": ["部门"]})
        as_of = curves["definition"]["as_of"]
        rd_year = next(p["retention"] for g in curves["groups"] if g["label"] == "研发" for p in g["retention"]
                       if p["time"] == 365)
        impact = await call(client, "estimate_impact", {**source, "where": {"部门": "客服"},
                                                        "segment": {"班次": "夜班"}, "reference": {"班次": "白班"},
                                                        "period_start": "2024-01-01", "period_end": "2024-12-31"})
        roi = await call(client, "calculate_roi", {"impact_evidence_id": impact["evidence_id"],
                                                   "average_annual_cost": 72000, "replacement_cost_multiplier": 0.5,
                                                   "program_cost_one_off": 30000, "program_cost_annual": 60000})
        pasted = await call(client, "turnover_breakdown", {"csv_text": PASTED})
        ev = {"year": year["evidence_id"], "curves": curves["evidence_id"], "impact": impact["evidence_id"],
              "roi": roi["evidence_id"], "pasted": pasted["evidence_id"]}
        texts = {
            "现状分析": f"2024 年整体离职率 {pct(year['overall']['rate'])} [{ev['year']}]，研发 {pct(rates['研发'])}，"
                        f"客服 {pct(rates['客服'])} [{ev['year']}]。研发员工入职一年后的留存率为 {pct(rd_year)} "
                        f"[{ev['curves']} 研发]。",
            "根本原因分析": f"质检组的离职率为 {pct(pasted['overall']['rate'])} [{ev['pasted']}]（来自粘贴的表格）。",
            "战略建议": f"客服夜班若降至白班水平，每年可少流失 {impact['avoided_leavers']:.1f} 人 [{ev['impact']}]。",
            "预期成果": f"ROI 为 {pct(roi['roi'])}，收益成本比 {roi['benefit_cost_ratio']:.2f} 倍 [{ev['roi']}]。",
        }
        for heading, markdown in texts.items():
            written = await call(client, "plan_write_section", {"plan_id": plan_id, "section": heading,
                                                                "markdown": markdown, "base_version": version})
            version = written["version"]
            assert written["mismatched_numbers"] == [], written["mismatched_numbers"]
        assert written["verified_numbers"] == 2
    dispose_all()

    # -- next quarter's export is copied over the same file
    following = next_quarter(data / "人员花名册.csv")
    assert leavers(following, *YEAR) > leavers(first, *YEAR)  # terminations recorded late, back-dated into 2024

    # -- server B: a new process refreshes without a path
    async with Client(stdio(settings, database_url)) as client:
        report = await call(client, "plan_refresh", {"plan_id": plan_id})
        by_id = {item["evidence_id"]: item for item in report["evidence"]}
        year_after = by_id[ev["year"]]
        assert year_after["status"] == "changed" and year_after["data_changed"] is True
        assert year_after["period_status"] == "held"
        assert (year_after["period_after"]["start"], year_after["period_after"]["end"]) == ("2024-01-01", "2024-12-31")
        changes = {c["figure"]: c for c in year_after["changes"]}
        assert changes["overall_rate"]["new"] == pytest.approx(turnover(following, *YEAR))
        assert changes["overall_rate"]["new_shown"] == pct(turnover(following, *YEAR))
        for group in ("研发", "客服"):
            assert changes[f"rate[{group}]"]["new"] == pytest.approx(
                turnover(following[following.department == group], *YEAR))

        curves_after = by_id[ev["curves"]]
        assert curves_after["period_status"] == "held" and curves_after["period_after"]["end"] == as_of
        durations, events = follow_up(following[following.department == "研发"], dt.date.fromisoformat(as_of))
        (expected_rd,), _ = reference_km(durations, events, [365])
        new_rd = next(c["new"] for c in curves_after["changes"] if c["figure"] == "retention[研发, 365 days]")
        assert new_rd == pytest.approx(expected_rd)

        impact_after, roi_after = by_id[ev["impact"]], by_id[ev["roi"]]
        assert impact_after["status"] == "changed" and roi_after["status"] == "changed"
        assert roi_after["computed_from"] == [ev["impact"]] and roi_after["period_status"] == "held"
        new_impact = (await client.call_tool("evidence_get", {"evidence_id": impact_after["new_evidence_id"]}))
        new_impact = new_impact.structured_content
        service = following[following.department == "客服"]
        night, day = service[service["shift"] == "夜班"], service[service["shift"] == "白班"]
        # avoided = n_night × (night rate − day rate), from the unrounded headcounts turnover_breakdown computes
        heads, day_heads = average_headcount(night, *YEAR), average_headcount(day, *YEAR)
        expected_avoided = heads * (leavers(night, *YEAR) / heads - leavers(day, *YEAR) / day_heads)
        assert new_impact["figures"]["avoided_leavers"] == pytest.approx(expected_avoided)
        new_roi = (await client.call_tool("evidence_get", {"evidence_id": roi_after["new_evidence_id"]}))
        new_roi = new_roi.structured_content
        assert new_roi["parents"][0]["evidence_id"] == impact_after["new_evidence_id"]  # the lineage, re-recorded
        cost = 30000 + 60000
        # calculate_roi: headcount (as the impact states it, at 2 decimals) × (current − new overall rate)
        f = new_impact["figures"]
        roi_avoided = f["headcount"] * (f["current_overall_rate"] - f["new_overall_rate"])
        assert roi_avoided == pytest.approx(expected_avoided, rel=1e-3)
        assert new_roi["figures"]["roi"] == pytest.approx((roi_avoided * 0.5 * 72000 - cost) / cost)

        sections = {s["section"]: s for s in report["sections"]}
        assert sections["预期成果"]["evidence"] == [ev["impact"], ev["roi"]]  # data → impact → ROI
        assert sections["预期成果"]["changed_figures"] > 0
        stale = {s["sentence"]: s for s in report["stale_sentences"]}
        assert any(s.startswith("2024 年整体离职率") for s in stale)
        assert any(s.startswith("ROI 为") and s2["new_ids"] == [roi_after["new_evidence_id"]]
                   for s, s2 in stale.items())
        (skipped,) = report["pasted"]
        assert skipped["evidence_id"] == ev["pasted"] and skipped["figures"] == [pct(pasted["overall"]["rate"])]
        assert by_id[ev["pasted"]]["status"] == "skipped"

        rolled_result = await client.call_tool("plan_refresh", {"plan_id": plan_id, "roll_forward": True})
        rolled = rolled_result.structured_content
        year_rolled = next(item for item in rolled["evidence"] if item["evidence_id"] == ev["year"])
        assert year_rolled["period_status"] == "rolled forward"
        window = (dt.date(2024, 4, 1), dt.date(2025, 3, 31))  # 12 months to the new file's latest date
        assert (year_rolled["period_after"]["start"], year_rolled["period_after"]["end"]) == tuple(
            d.isoformat() for d in window)
        rolled_rate = next(c["new"] for c in year_rolled["changes"] if c["figure"] == "overall_rate")
        assert rolled_rate == pytest.approx(turnover(following, *window))
        curves_rolled = next(item for item in rolled["evidence"] if item["evidence_id"] == ev["curves"])
        assert curves_rolled["period_after"]["end"] == "2025-03-31"
        assert "2024-04-01" in rolled_result.content[0].text  # the text says, per figure, where the period moved

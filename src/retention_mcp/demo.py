"""``retention-mcp demo``: a whole session as an MCP client against our own server over stdio.

It generates the sample company, starts ``python -m retention_mcp`` as a subprocess (exactly as a
desktop client would), and prints what a person would see: the prompt list, a rendered prompt, and
each analysis on the sample data, ending with a Word and an HTML report in the output folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from retention_mcp.settings import Settings

RULE = "─" * 78


def _show(title: str, text: str, max_lines: int = 40) -> None:
    print(f"\n{RULE}\n▶ {title}\n{RULE}")
    lines = text.rstrip().splitlines()
    print("\n".join(lines[:max_lines]))
    if len(lines) > max_lines:
        print(f"… ({len(lines) - max_lines} more lines)")


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


class DemoFailed(RuntimeError):
    pass


#: The plan's own choices (targets, budget, staffing policy): stated here once, not data. Every figure the plan
#: reports about the company comes from a tool's result.
PLAN = {
    "focus_department": "Customer Service",
    "segment": {"shift": ["evening", "night"]},  # the initiative: fair rotation brings evening/night to the day rate
    "reference": {"shift": "day"},
    "cost_preset": "call_center", "program_cost_one_off": 80000, "program_cost_annual": 120000,
    "service_level_target": 0.8, "shrinkage": 0.3,  # 80/20 convention (KPI catalog), a typical shrinkage
    "early_attrition_cut": 0.3, "csat_lift": 0.05,  # the appraisal source: CSAT +5-10% in the short term
    "kpi_weights": {"turnover_rate": 30, "early_attrition_rate": 20, "service_level": 25, "csat": 25},
    "satisfaction_score": "61", "engagement_score": "57",  # survey scores the HR person brings to the prompt
}


async def _session(workdir: Path, output_dir: Path) -> list[str]:
    from mcp import Client, StdioServerParameters
    from mcp.types import PromptReference

    from retention_mcp.sample_data import write_sample_company

    files = write_sample_company(workdir)
    sample = files["en"].name
    sample_zh = files["zh"].name
    calls = files["calls"].name
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "SYSTEMROOT") if key in os.environ}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "retention_mcp", "--data-dir", str(workdir), "--output-dir", str(output_dir),
              "--log-level", "WARNING"],
        env=env,
        cwd=str(workdir),
    )
    failures: list[str] = []
    focus = {"department": PLAN["focus_department"]}

    async with Client(params) as client:
        async def call(title: str, tool: str, arguments: dict[str, Any], max_lines: int = 40) -> dict[str, Any]:
            result = await client.call_tool(tool, arguments)
            _show(f"{title}   [{tool}]", _text(result), max_lines)
            if result.is_error:
                failures.append(f"{tool}: {_text(result)}")
                return {}
            return result.structured_content or {}

        prompts = (await client.list_prompts()).prompts
        tools = (await client.list_tools()).tools
        _show("What the server offers",
              "Prompts:\n" + "\n".join(f"  • {p.name} — {p.title}" for p in prompts)
              + "\n\nTools:\n" + "\n".join(f"  • {t.name} — {t.title or ''}" for t in tools))

        await call("Which files are there? (headers only)", "list_datasets", {}, max_lines=12)
        await call("Inspect the HR export (columns, roles, data quality)", "inspect_dataset", {"path": sample})
        overall = await call("Where are we losing people? Turnover by department", "turnover_breakdown",
                             {"path": sample, "by": ["department"]})
        await call("Customer service by shift, voluntary leavers only", "turnover_breakdown",
                   {"path": sample, "by": ["department", "shift"], "separation_type": "voluntary"})
        await call("Early attrition: turnover by tenure band", "turnover_breakdown",
                   {"path": sample, "by": ["tenure_band"]})
        await call("The same export with Chinese headers, GBK encoded", "turnover_breakdown",
                   {"path": sample_zh, "by": ["部门"]}, max_lines=12)
        curves = await call("Retention curves by department (Kaplan–Meier, log-rank)", "retention_curve",
                            {"path": sample, "by": "department", "where": focus})
        drivers = await call("Why do they leave? Driver analysis", "driver_analysis",
                             {"path": sample, "outcome": "left"})
        profile = await call("Who are the customer-service shifts? Group profile", "describe_groups",
                             {"path": sample, "by": ["shift"], "where": focus}, max_lines=24)
        impact = await call("Expected impact: evening and night shifts leave at the day-shift rate", "estimate_impact",
                            {"path": sample, "where": focus, "segment": PLAN["segment"],
                             "reference": PLAN["reference"]}, max_lines=24)
        log = await call("The call log: arrivals, service level, AHT, CSAT", "call_log_profile",
                         {"path": calls, "interval_minutes": 30}, max_lines=30)

        groups = await client.complete(PromptReference(type="ref/prompt", name="retention_strategy"),
                                       {"name": "employee_group", "value": "cust"})
        _show("Completing the prompt's employee_group from the data", ", ".join(groups.completion.values) or "(none)")
        group = groups.completion.values[0] if groups.completion.values else PLAN["focus_department"]
        current = impact.get("current_overall_rate")
        rate_text = f"{current * 100:.1f}%" if isinstance(current, int | float) else "18%"
        rendered = await client.get_prompt("retention_strategy", {
            "company_info": "Sample Co — 1,500 people, R&D, Sales and a 24/7 customer-service center",
            "employee_group": f"{group}: agents on evening and night shifts",
            "satisfaction_score": PLAN["satisfaction_score"],
            "turnover_rate": rate_text,
            "engagement_score": PLAN["engagement_score"],
            "employee_feedback": "Night shifts are not shared fairly; no clear path to team lead.",
            "language": "en",
        })
        _show("The retention_strategy prompt, rendered with this company's figures",
              rendered.messages[0].content.text, max_lines=30)

        kpis = await call("A KPI set for the plan (balanced scorecard), baselines from the tools", "build_kpis",
                          {"items": _kpi_items(impact, curves, log), "framework": "bsc", "deadline": "2027-06-30"})
        roi_inputs = dict(impact.get("calculate_roi_inputs") or {})
        cost = (profile.get("overall") or {}).get("average_annual_cost")
        roi = await call("What is it worth? ROI, inputs from estimate_impact and describe_groups", "calculate_roi", {
            **roi_inputs, "average_annual_cost": cost, "cost_preset": PLAN["cost_preset"],
            "program_cost_one_off": PLAN["program_cost_one_off"], "program_cost_annual": PLAN["program_cost_annual"],
        })
        erlang_inputs = {k: v for k, v in (log.get("erlang_inputs") or {}).items() if k != "peak"}
        staffing = await call("Staffing the peak interval (Erlang C), inputs from call_log_profile",
                              "erlang_staffing", {**erlang_inputs, "shrinkage": PLAN["shrinkage"],
                                                  "service_level_target": PLAN["service_level_target"]},
                              max_lines=20)

        sections = _report_sections(overall, drivers, kpis, roi, profile=profile, impact=impact, log=log,
                                    staffing=staffing)
        for fmt in ("docx", "html"):
            await call(f"Deliver the plan as {fmt.upper()}", "export_report", {
                "title": "Sample Co — retention plan", "sections": sections, "format": fmt,
                "filename": f"sample-co-retention-plan.{fmt}", "overwrite": True,
            }, max_lines=8)
    return failures


def _kpi_items(impact: dict[str, Any], curves: dict[str, Any], log: dict[str, Any]) -> list[dict[str, Any]]:
    """KPI baselines from the tools' results; targets from the plan (PLAN) and estimate_impact."""
    weights = PLAN["kpi_weights"]
    items = []
    if impact.get("current_overall_rate") is not None:
        items.append({"id": "turnover_rate", "baseline": round(impact["current_overall_rate"] * 100, 1),
                      "target": round(impact["new_overall_rate"] * 100, 1), "weight": weights["turnover_rate"]})
    early = (curves.get("overall") or {}).get("early_attrition")
    if early is not None:
        items.append({"id": "early_attrition_rate", "baseline": round(early * 100, 1),
                      "target": round(early * 100 * (1 - PLAN["early_attrition_cut"]), 1),
                      "weight": weights["early_attrition_rate"]})
    baselines = {b["id"]: b["baseline"] for b in log.get("kpi_baselines") or []}
    if "service_level" in baselines:
        items.append({"id": "service_level", "baseline": round(baselines["service_level"], 1),
                      "target": round(PLAN["service_level_target"] * 100, 1), "weight": weights["service_level"]})
    if "csat" in baselines:
        items.append({"id": "csat", "baseline": round(baselines["csat"], 2),
                      "target": round(baselines["csat"] * (1 + PLAN["csat_lift"]), 2), "weight": weights["csat"]})
    return items


def _report_sections(turnover: dict[str, Any], drivers: dict[str, Any], kpis: dict[str, Any],
                     roi: dict[str, Any], *, profile: dict[str, Any] | None = None,
                     impact: dict[str, Any] | None = None, log: dict[str, Any] | None = None,
                     staffing: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The deliverable, assembled from the tools' structured results (nothing typed in by hand)."""
    profile, impact, log, staffing = profile or {}, impact or {}, log or {}, staffing or {}
    visible = [row for row in turnover.get("rows") or [] if not row.get("suppressed")]
    overall = turnover.get("overall") or {}
    definition = turnover.get("definition") or {}
    table = ["| department | average headcount | leavers | turnover | 95% CI |", "|---|---:|---:|---:|---|"]
    for row in visible:
        table.append(f"| {row['label']} | {row['headcount']:.0f} | {row['leavers']} | {row['rate'] * 100:.1f}% | "
                     f"{row['ci_low'] * 100:.1f}%–{row['ci_high'] * 100:.1f}% |")
    sections: list[dict[str, Any]] = [{
        "heading": "Turnover hot spots",
        "markdown": (f"Overall turnover {overall.get('rate', 0) * 100:.1f}% over "
                     f"{definition.get('period_start', '?')} to {definition.get('period_end', '?')}, "
                     f"leavers ÷ average headcount.\n\n" + "\n".join(table)),
        "chart": {"kind": "turnover_by_group", "data": {
            "labels": [row["label"] for row in visible], "rates": [row["rate"] for row in visible],
            "lows": [row["ci_low"] for row in visible], "highs": [row["ci_high"] for row in visible],
            "overall": overall.get("rate"), "title": "Turnover by department (95% Wilson interval)"}},
    }]
    top = (drivers.get("drivers") or [])[:6]
    if top:
        lines = ["| driver | share of R² | direction | quadrant |", "|---|---:|---|---|"]
        lines += [f"| {d['driver']} | {d['importance_share'] * 100:.1f}% | {d['direction']} | "
                  f"{d.get('quadrant') or ''} |" for d in top]
        sections.append({
            "heading": "Why people leave",
            "markdown": (f"Model R² = {drivers.get('r_squared', 0):.3f} on N = {drivers.get('n', 0):,}. "
                         f"{drivers.get('caveat', '')}\n\n" + "\n".join(lines)),
            "chart": {"kind": "driver_importance", "data": {
                "drivers": [d["driver"] for d in top], "importance": [d["importance_share"] for d in top],
                "quadrants": [d.get("quadrant") for d in top]}},
        })
    shown = [g for g in profile.get("groups") or [] if not g.get("suppressed")]
    if shown:
        lines = ["| shift | people | average annual cost | overtime hours (mean) |", "|---|---:|---:|---:|"]
        for group in shown:
            hours = next((c.get("mean") for c in group.get("columns") or [] if c.get("column") == "overtime_hours"),
                         None)
            cost = group.get("average_annual_cost")
            lines.append(f"| {group['label']} | {group['count']} | {f'{cost:,.0f}' if cost else '—'} | "
                         f"{f'{hours:.1f}' if hours is not None else '—'} |")
        sections.append({"heading": "Who the plan is for", "markdown": (
            f"{profile.get('population', '')}. Group means from describe_groups; pay per person is never shown."
            "\n\n" + "\n".join(lines))})
    if impact.get("avoided_leavers") is not None:
        sections.append({"heading": "Expected impact", "markdown": (
            f"If {impact['scenario_text']}: {impact['avoided_leavers']:.1f} leavers avoided per year (95% CI "
            f"{impact['avoided_ci_low']:.1f} to {impact['avoided_ci_high']:.1f}); turnover "
            f"{impact['current_overall_rate'] * 100:.1f}% → {impact['new_overall_rate'] * 100:.1f}% (95% CI "
            f"{impact['new_overall_ci_low'] * 100:.1f}%–{impact['new_overall_ci_high'] * 100:.1f}%). "
            f"{impact.get('caveat', '')}")})
    if kpis.get("markdown_table"):
        sections.append({"heading": "KPIs", "markdown": kpis["markdown_table"]})
    scenarios = roi.get("scenarios") or []
    if scenarios:
        sections.append({
            "heading": "Return on the program",
            "markdown": (f"ROI {roi['roi'] * 100:.0f}% ((benefit − cost) ÷ cost), benefit/cost ratio "
                         f"{roi['benefit_cost_ratio']:.2f}, payback month {roi.get('payback_month')}. Headcount and "
                         "turnover from estimate_impact, average annual cost from describe_groups."),
            "chart": {"kind": "roi_scenarios", "data": {
                "names": [sc["name"] for sc in scenarios], "roi": [sc["roi"] for sc in scenarios]}},
        })
    erlang = log.get("erlang_inputs") or {}
    if erlang and staffing.get("required_agents") is not None:
        sections.append({"heading": "Staffing the peak", "markdown": (
            f"Peak interval {erlang['peak']}: {erlang['calls']:.1f} calls per {erlang['interval_minutes']} minutes, "
            f"AHT {erlang['aht_seconds']:.0f} s (call_log_profile). Erlang C: {staffing['required_agents']} agents "
            f"on the phones, {staffing['scheduled_headcount']} scheduled; service level today "
            f"{(log.get('service_level_offered') or 0) * 100:.1f}% within {log.get('answer_within_seconds', 0):g} s "
            "of offered calls.")})
    sections.append({"heading": "Strategy outline", "markdown": "\n".join([
        "1. Fair night-shift rotation: Gini of night shifts ≤ 0.25, no run above 3 nights.",
        "2. A visible path to team lead, with quarterly calibration.",
        "3. Manager 1:1 coverage above 90%, and a 90-day onboarding buddy for new agents.",
    ])})
    return sections


def run_demo(settings: Settings, workdir: Path | None = None) -> int:
    """Run the demo session; 0 when every step succeeded."""
    import anyio

    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="retention-mcp-demo-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    output_dir = workdir / "reports"
    print(f"retention-mcp demo — sample data and reports in {workdir}")
    failures = anyio.run(_session, workdir, output_dir)
    print(f"\n{RULE}")
    if failures:
        print(f"{len(failures)} step(s) failed:\n  " + "\n  ".join(f[:300] for f in failures))
        return 1
    print(f"Done. Reports written to {output_dir}:")
    for path in sorted(p for p in output_dir.glob("*") if not p.name.startswith(".")):
        print(f"  {path.name}  ({path.stat().st_size:,} bytes)")
    return 0

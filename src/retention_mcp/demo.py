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


async def _session(workdir: Path, output_dir: Path) -> list[str]:
    from mcp import Client, StdioServerParameters

    from retention_mcp.sample_data import write_sample_company

    files = write_sample_company(workdir)
    sample = files["en"].name
    sample_zh = files["zh"].name
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "SYSTEMROOT") if key in os.environ}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "retention_mcp", "--data-dir", str(workdir), "--output-dir", str(output_dir),
              "--log-level", "WARNING"],
        env=env,
        cwd=str(workdir),
    )
    failures: list[str] = []

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

        await call("Inspect the HR export (columns, roles, data quality)", "inspect_dataset", {"path": sample})
        overall = await call("Where are we losing people? Turnover by department", "turnover_breakdown",
                             {"path": sample, "by": ["department"]})
        await call("Customer service by shift, voluntary leavers only", "turnover_breakdown",
                   {"path": sample, "by": ["department", "shift"], "separation_type": "voluntary"})
        await call("Early attrition: turnover by tenure band", "turnover_breakdown",
                   {"path": sample, "by": ["tenure_band"]})
        await call("The same export with Chinese headers, GBK encoded", "turnover_breakdown",
                   {"path": sample_zh, "by": ["部门"]}, max_lines=12)
        await call("Retention curves by department (Kaplan–Meier, log-rank)", "retention_curve",
                   {"path": sample, "by": "department"})
        drivers = await call("Why do they leave? Driver analysis", "driver_analysis",
                   {"path": sample, "outcome": "left"})

        rate = (overall.get("overall") or {}).get("rate")
        rate_text = f"{rate * 100:.1f}%" if isinstance(rate, int | float) else "18%"
        rendered = await client.get_prompt("retention_strategy", {
            "company_info": "Sample Co — 1,500 people, R&D, Sales and a 24/7 customer-service center",
            "employee_group": "Customer-service agents on evening and night shifts",
            "satisfaction_score": "61",
            "turnover_rate": rate_text,
            "engagement_score": "57",
            "employee_feedback": "Night shifts are not shared fairly; no clear path to team lead.",
            "language": "en",
        })
        _show("The retention_strategy prompt, rendered with this company's figures",
              rendered.messages[0].content.text, max_lines=30)

        kpis = await call("A KPI set for the plan (balanced scorecard)", "build_kpis", {
            "items": [
                # percent KPIs take percentage points (14 = 14%), as managers write them
                {"id": "voluntary_turnover_rate", "baseline": 14, "target": 11, "weight": 30},
                {"id": "early_attrition_rate", "baseline": 8.7, "target": 6, "weight": 20},
                {"id": "csat", "baseline": 4.1, "target": 4.3, "weight": 30},
                {"id": "enps", "baseline": -38, "target": -25, "weight": 20},
            ],
            "framework": "bsc",
            "deadline": "2027-06-30",
        })
        roi = await call("What is it worth? ROI of the program", "calculate_roi", {
            "headcount": 400, "current_turnover_rate": "24%", "target_turnover_rate": "18%",
            "average_annual_cost": 60000, "cost_preset": "call_center",
            "program_cost_one_off": 80000, "program_cost_annual": 120000,
        })
        await call("Staffing the evening peak (Erlang C)", "erlang_staffing", {
            "calls": 100, "interval_minutes": 30, "aht_seconds": 180, "service_level_target": 0.8,
            "answer_within_seconds": 20, "shrinkage": 0.3,
        }, max_lines=20)

        sections = _report_sections(overall, drivers, kpis, roi)
        for fmt in ("docx", "html"):
            await call(f"Deliver the plan as {fmt.upper()}", "export_report", {
                "title": "Sample Co — retention plan", "sections": sections, "format": fmt,
                "filename": f"sample-co-retention-plan.{fmt}", "overwrite": True,
            }, max_lines=8)
    return failures


def _report_sections(turnover: dict[str, Any], drivers: dict[str, Any], kpis: dict[str, Any],
                     roi: dict[str, Any]) -> list[dict[str, Any]]:
    """The deliverable, assembled from the tools' structured results (nothing typed in by hand)."""
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
    if kpis.get("markdown_table"):
        sections.append({"heading": "KPIs", "markdown": kpis["markdown_table"]})
    scenarios = roi.get("scenarios") or []
    if scenarios:
        sections.append({
            "heading": "Return on the program",
            "markdown": (f"ROI {roi['roi'] * 100:.0f}% ((benefit − cost) ÷ cost), benefit/cost ratio "
                         f"{roi['benefit_cost_ratio']:.2f}, payback month {roi.get('payback_month')}."),
            "chart": {"kind": "roi_scenarios", "data": {
                "names": [sc["name"] for sc in scenarios], "roi": [sc["roi"] for sc in scenarios]}},
        })
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
    for path in sorted(output_dir.glob("*")):
        print(f"  {path.name}  ({path.stat().st_size:,} bytes)")
    return 0

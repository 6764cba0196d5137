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
        await call("Why do they leave? Driver analysis", "driver_analysis",
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

        await call("A KPI set for the plan (balanced scorecard)", "build_kpis", {
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
        await call("What is it worth? ROI of the program", "calculate_roi", {
            "headcount": 400, "current_turnover_rate": "24%", "target_turnover_rate": "18%",
            "average_annual_cost": 60000, "cost_preset": "call_center",
            "program_cost_one_off": 80000, "program_cost_annual": 120000,
        })
        await call("Staffing the evening peak (Erlang C)", "erlang_staffing", {
            "calls": 100, "interval_minutes": 30, "aht_seconds": 180, "service_level_target": 0.8,
            "answer_within_seconds": 20, "shrinkage": 0.3,
        }, max_lines=20)

        markdown = _report_markdown(overall)
        for fmt in ("docx", "html"):
            await call(f"Deliver the plan as {fmt.upper()}", "export_report", {
                "title": "Sample Co — retention plan", "markdown": markdown, "format": fmt,
                "filename": f"sample-co-retention-plan.{fmt}", "overwrite": True,
            }, max_lines=8)
    return failures


def _report_markdown(overall: dict[str, Any]) -> str:
    rows = overall.get("rows") or []
    table = ["| department | headcount | leavers | turnover |", "|---|---|---|---|"]
    for row in rows:
        if row.get("suppressed"):
            continue
        group = " / ".join(str(v) for v in (row.get("group") or {}).values()) or str(row.get("label", ""))
        table.append(f"| {group} | {row.get('headcount', 0):.0f} | {row.get('leavers', 0):.0f} | "
                     f"{row.get('rate', 0) * 100:.1f}% |")
    return "\n".join([
        "## Turnover hot spots", "", *table, "",
        "## Strategy outline", "",
        "1. Fair night-shift rotation (Gini of night shifts ≤ 0.25; no run above 3 nights).",
        "2. A visible path to team lead with quarterly calibration.",
        "3. Manager 1:1 coverage above 90%.",
    ])


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

"""``retention-mcp demo``: a whole session as an MCP client against our own server over stdio.

It generates the sample company, starts ``python -m retention_mcp`` as a subprocess (exactly as a
desktop client would), and prints what a person would see: the prompt list, a rendered prompt, and
each analysis on the sample data, ending with a Word and an HTML report in the output folder. In the
server's ``--language``: with ``zh`` the session reads the GBK export with Chinese headers and writes
the report in Chinese. Every step's title says what its call does, and the report's charts take their
words from the results' own definitions.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
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


@dataclass
class Step:
    """One call of the session: the title printed above it, the tool, the arguments, the structured result."""

    title: str
    tool: str
    arguments: dict[str, Any]
    result: dict[str, Any]


@dataclass
class Session:
    """What a session did: its steps by name, the report sections it composed from them, what failed, and the
    workspace its evidence was recorded in."""

    steps: dict[str, Step] = field(default_factory=dict)
    sections: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    database_url: str = ""  # the workspace holding the session's evidence


#: The plan's own choices (targets, budget, staffing policy): stated here once, not data. Every figure the plan
#: reports about the company comes from a tool's result.
PLAN = {
    "cost_preset": "call_center", "program_cost_one_off": 80000, "program_cost_annual": 120000,
    "service_level_target": 0.8, "shrinkage": 0.3,  # 80/20 convention (KPI catalog), a typical shrinkage
    "early_attrition_cut": 0.3, "csat_lift": 0.05,  # the appraisal source: CSAT +5-10% in the short term
    "kpi_weights": {"turnover_rate": 30, "early_attrition_rate": 20, "service_level": 25, "csat": 25},
    "satisfaction_score": "61", "engagement_score": "57",  # survey scores the HR person brings to the prompt
}
#: The sample file the session reads in each language, its column names and the groups the plan is about. The
#: initiative: fair rotation brings evening and night shifts to the day shift's rate in customer service.
FILES = {
    "en": {"file": "en", "twin": "zh", "department": "department", "shift": "shift", "focus": "Customer Service",
           "segment": ["evening", "night"], "reference": "day", "overtime": "overtime_hours"},
    "zh": {"file": "zh", "twin": "en", "department": "部门", "shift": "班次", "focus": "客服",
           "segment": ["中班", "夜班"], "reference": "白班", "overtime": "月加班时长"},
}


async def _session(workdir: Path, output_dir: Path, language: str = "en") -> Session:
    from mcp import Client, StdioServerParameters
    from mcp.types import PromptReference

    from retention_mcp.sample_data import write_sample_company
    from retention_mcp.wording import words

    w = words(language)
    d = "demo.steps"
    c = FILES[language]
    # The session's evidence stays with its sample data, out of the person's own workspace.
    session = Session(database_url=f"sqlite:///{workdir / 'demo-workspace.sqlite'}")
    failures = session.failures
    files = write_sample_company(workdir)
    sample, twin, calls = files[c["file"]].name, files[c["twin"]].name, files["calls"].name
    # PYTHONPATH too: the server is the same package as this process, also when run from a source tree
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "SYSTEMROOT", "PYTHONPATH") if key in os.environ}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "retention_mcp", "--data-dir", str(workdir), "--output-dir", str(output_dir),
              "--log-level", "WARNING", "--language", language, "--database-url", session.database_url],
        env=env,
        cwd=str(workdir),
    )
    department, shift, focus_value = c["department"], c["shift"], c["focus"]
    focus = {department: focus_value}

    async with Client(params) as client:
        async def call(title: str, tool: str, arguments: dict[str, Any], max_lines: int = 40,
                       step: str | None = None) -> dict[str, Any]:
            result = await client.call_tool(tool, arguments)
            _show(f"{title}   [{tool}]", _text(result), max_lines)
            structured = {} if result.is_error else result.structured_content or {}
            if result.is_error:
                failures.append(f"{tool}: {_text(result)}")
            session.steps[step or tool] = Step(title, tool, arguments, structured)
            return structured

        prompts = (await client.list_prompts()).prompts
        tools = (await client.list_tools()).tools
        _show(w("demo.offers"),
              w("demo.prompts") + "\n" + "\n".join(f"  • {p.name} — {p.title}" for p in prompts)
              + "\n\n" + w("demo.tools") + "\n" + "\n".join(f"  • {t.name} — {t.title or ''}" for t in tools))

        await call(w(f"{d}.files"), "list_datasets", {}, max_lines=12)
        await call(w(f"{d}.inspect"), "inspect_dataset", {"path": sample})
        overall = await call(w(f"{d}.by_department"), "turnover_breakdown", {"path": sample, "by": [department]},
                             step="by_department")
        await call(w(f"{d}.focus_by_shift", focus=focus_value), "turnover_breakdown",
                   {"path": sample, "by": [shift], "where": focus, "separation_type": "voluntary"},
                   step="focus_by_shift")
        await call(w(f"{d}.tenure"), "turnover_breakdown", {"path": sample, "by": ["tenure_band"]}, step="tenure")
        await call(w(f"{d}.twin"), "turnover_breakdown", {"path": twin, "by": ["department"]}, max_lines=12,
                   step="twin")
        curves = await call(w(f"{d}.curves", focus=focus_value), "retention_curve",
                            {"path": sample, "by": shift, "where": focus})
        drivers = await call(w(f"{d}.drivers"), "driver_analysis", {"path": sample, "outcome": "left"})
        profile = await call(w(f"{d}.profile", focus=focus_value), "describe_groups",
                             {"path": sample, "by": [shift], "where": focus}, max_lines=24)
        impact = await call(w(f"{d}.impact", focus=focus_value), "estimate_impact",
                            {"path": sample, "where": focus, "segment": {shift: c["segment"]},
                             "reference": {shift: c["reference"]}}, max_lines=24)
        log = await call(w(f"{d}.calls"), "call_log_profile", {"path": calls, "interval_minutes": 30}, max_lines=30)

        groups = await client.complete(PromptReference(type="ref/prompt", name="retention_strategy"),
                                       {"name": "employee_group", "value": focus_value[:2]})
        _show(w(f"{d}.completion"), ", ".join(groups.completion.values) or w(f"{d}.none"))
        group = groups.completion.values[0] if groups.completion.values else focus_value
        # the group the prompt names is the impact's segment (evening and night shifts), so its rate is the segment's
        current = (impact.get("segment") or {}).get("rate")
        rate_text = f"{current * 100:.1f}%" if isinstance(current, int | float) else "18%"
        rendered = await client.get_prompt("retention_strategy", {
            "company_info": w("demo.prompt_arguments.company_info"),
            "employee_group": w("demo.prompt_arguments.group", group=group),
            "satisfaction_score": PLAN["satisfaction_score"],
            "turnover_rate": rate_text,
            "engagement_score": PLAN["engagement_score"],
            "employee_feedback": w("demo.prompt_arguments.feedback"),
            "language": language,
        })
        _show(w(f"{d}.prompt"), rendered.messages[0].content.text, max_lines=30)

        kpis = await call(w(f"{d}.kpis"), "build_kpis",
                          {"items": _kpi_items(impact, curves, log), "framework": "bsc", "deadline": "2027-06-30"})
        roi_inputs = dict(impact.get("calculate_roi_inputs") or {})
        cost = (profile.get("overall") or {}).get("average_annual_cost")
        roi = await call(w(f"{d}.roi"), "calculate_roi", {
            **roi_inputs, "average_annual_cost": cost, "cost_preset": PLAN["cost_preset"],
            "program_cost_one_off": PLAN["program_cost_one_off"], "program_cost_annual": PLAN["program_cost_annual"],
        })
        erlang_inputs = {k: v for k, v in (log.get("erlang_inputs") or {}).items() if k != "peak"}
        staffing = await call(w(f"{d}.erlang"), "erlang_staffing",
                              {**erlang_inputs, "shrinkage": PLAN["shrinkage"],
                               "service_level_target": PLAN["service_level_target"]}, max_lines=20)

        sections = _report_sections(overall, drivers, kpis, roi, profile=profile, impact=impact, log=log,
                                    staffing=staffing, w=w, overtime=c["overtime"])
        session.sections = sections
        for fmt in ("docx", "html"):
            await call(w(f"{d}.export", format=fmt.upper()), "export_report", {
                "title": w("demo.report.title"), "sections": sections, "format": fmt,
                "filename": f"{w('demo.report.filename')}.{fmt}", "overwrite": True,
            }, max_lines=8, step=f"export_{fmt}")
    return session


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


def _cite(result: dict[str, Any]) -> str:
    """The citation of a result's figures in a plan, ``[ev-3f9a2c]`` (nothing when no evidence was recorded)."""
    evidence_id = result.get("evidence_id")
    return f"[{evidence_id}]" if evidence_id else ""


def _g(value: Any) -> str:
    return "—" if value is None else f"{value:g}"


def _report_sections(turnover: dict[str, Any], drivers: dict[str, Any], kpis: dict[str, Any],
                     roi: dict[str, Any], *, profile: dict[str, Any] | None = None,
                     impact: dict[str, Any] | None = None, log: dict[str, Any] | None = None,
                     staffing: dict[str, Any] | None = None, w: Any = None,
                     overtime: str = "overtime_hours") -> list[dict[str, Any]]:
    """The deliverable, assembled from the tools' structured results (nothing typed in by hand); chart words come
    from each result's own definition. Every sentence and table row with a figure cites the evidence id of the call
    it came from, so the plan's citation check can verify each number; the plan's own targets are marked as such."""
    from retention_mcp.wording import words

    w = w or words("en")
    r = "demo.report"
    profile, impact, log, staffing = profile or {}, impact or {}, log or {}, staffing or {}
    visible = [row for row in turnover.get("rows") or [] if not row.get("suppressed")]
    overall = turnover.get("overall") or {}
    definition = turnover.get("definition") or {}
    table = [w(f"{r}.table"), "|---|---:|---:|---:|---|---|"]
    for row in visible:
        table.append(f"| {row['label']} | {row['headcount']:,.1f} | {row['leavers']} | {row['rate'] * 100:.1f}% | "
                     f"{row['ci_low'] * 100:.1f}%–{row['ci_high'] * 100:.1f}% | {_cite(turnover)} |")
    period = w("turnover.period_span", start=definition.get("period_start", "?"), end=definition.get("period_end", "?"))
    sections: list[dict[str, Any]] = [{
        "heading": w(f"{r}.hot_spots"),
        "markdown": (w(f"{r}.hot_spots_text", rate=f"{overall.get('rate', 0) * 100:.1f}%", period=period,
                       formula=definition.get("formula", ""), cite=_cite(turnover)) + "\n\n" + "\n".join(table)),
        "chart": {"kind": "turnover_by_group", "data": {
            "labels": [row["label"] for row in visible], "rates": [row["rate"] for row in visible],
            "lows": [row["ci_low"] for row in visible], "highs": [row["ci_high"] for row in visible],
            "overall": overall.get("rate"), "title": w(f"{r}.chart_turnover"),
            "xlabel": definition.get("interval", "")}},  # the interval the tool computed, in its own words
    }]
    top = (drivers.get("drivers") or [])[:6]
    if top:
        lines = [w(f"{r}.drivers_table"), "|---|---:|---|---|---|"]
        lines += [f"| {d['driver']} | {d['importance_share'] * 100:.1f}% | {d['direction_text']} | "
                  f"{w.option('charts.quadrant', d.get('quadrant')) if d.get('quadrant') else ''} | "
                  f"{_cite(drivers)} |" for d in top]
        sections.append({
            "heading": w(f"{r}.why"),
            "markdown": (w(f"{r}.why_text", r2=f"{drivers.get('r_squared', 0):.3f}", n=f"{drivers.get('n', 0):,}",
                           cite=_cite(drivers))
                         + ("" if w.zh else " ") + f"{drivers.get('caveat', '')}\n\n" + "\n".join(lines)),
            "chart": {"kind": "driver_importance", "data": {
                "drivers": [d["driver"] for d in top], "importance": [d["importance_share"] for d in top],
                "quadrants": [d.get("quadrant") for d in top]}},
        })
    shown = [g for g in profile.get("groups") or [] if not g.get("suppressed")]
    if shown:
        lines = [w(f"{r}.who_table"), "|---|---:|---:|---:|---|"]
        for group in shown:
            hours = next((col.get("mean") for col in group.get("columns") or [] if col.get("column") == overtime),
                         None)
            cost = group.get("average_annual_cost")
            lines.append(f"| {group['label']} | {group['count']} | {f'{cost:,.0f}' if cost else '—'} | "
                         f"{f'{hours:.1f}' if hours is not None else '—'} | {_cite(profile)} |")
        sections.append({"heading": w(f"{r}.who"), "markdown": (
            w(f"{r}.who_text", population=profile.get("population", "").rstrip(".。"), cite=_cite(profile))
            + "\n\n" + "\n".join(lines))})
    if impact.get("avoided_leavers") is not None:
        sections.append({"heading": w(f"{r}.impact"), "markdown": w(
            f"{r}.impact_text", scenario=impact["scenario_text"], avoided=f"{impact['avoided_leavers']:.1f}",
            low=f"{impact['avoided_ci_low']:.1f}", high=f"{impact['avoided_ci_high']:.1f}",
            current=f"{impact['current_overall_rate'] * 100:.1f}%", new=f"{impact['new_overall_rate'] * 100:.1f}%",
            new_low=f"{impact['new_overall_ci_low'] * 100:.1f}%",
            new_high=f"{impact['new_overall_ci_high'] * 100:.1f}%",
            caveat=impact.get("caveat", ""), cite=_cite(impact))})
    shown_kpis = [k for k in kpis.get("kpis") or [] if k.get("baseline") is not None]
    if shown_kpis:
        lines = [w(f"{r}.kpis_table"), "|---|---:|---:|---:|---|---|"]
        lines += [f"| {k.get('name') or k.get('id')} | {_g(k['baseline'])} | {_g(k.get('target'))} | "
                  f"{_g(k.get('weight'))} | {k.get('deadline') or '—'} | {_cite(kpis)} |" for k in shown_kpis]
        sections.append({"heading": w(f"{r}.kpis"), "markdown": "\n".join(lines)})
    scenarios = roi.get("scenarios") or []
    if scenarios:
        sections.append({
            "heading": w(f"{r}.roi"),
            "markdown": w(f"{r}.roi_text", roi=f"{roi['roi'] * 100:.0f}%", bcr=f"{roi['benefit_cost_ratio']:.2f}",
                          payback=roi.get("payback_month"), cite=_cite(roi),
                          sources=" ".join(filter(None, (_cite(impact), _cite(profile))))),
            "chart": {"kind": "roi_scenarios", "data": {
                "names": [w.option("roi.scenario_names", sc["name"]) for sc in scenarios],
                "roi": [sc["roi"] for sc in scenarios], "title": w(f"{r}.chart_roi")}},
        })
    erlang = log.get("erlang_inputs") or {}
    if erlang and staffing.get("required_agents") is not None:
        sections.append({"heading": w(f"{r}.staffing"), "markdown": w(
            f"{r}.staffing_text", peak=erlang["peak"], calls=f"{erlang['calls']:.1f}",
            minutes=erlang["interval_minutes"], aht=f"{erlang['aht_seconds']:.0f}",
            agents=staffing["required_agents"], scheduled=staffing["scheduled_headcount"],
            sl=f"{(log.get('service_level_offered') or 0) * 100:.1f}%",
            within=f"{log.get('answer_within_seconds', 0):g}", cite_log=_cite(log), cite=_cite(staffing))})
    sections.append({"heading": w(f"{r}.outline"), "markdown": "\n".join(
        f"{i}. {w(f'{r}.outline_{i}')}" for i in (1, 2, 3))})
    return sections


def run_demo(settings: Settings, workdir: Path | None = None) -> int:
    """Run the demo session in the server's language; 0 when every step succeeded."""
    import anyio

    from retention_mcp.wording import words

    w = words(settings.language)
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="retention-mcp-demo-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    output_dir = workdir / "reports"
    print(w("demo.intro", workdir=workdir))
    failures = anyio.run(_session, workdir, output_dir, settings.language).failures
    print(f"\n{RULE}")
    if failures:
        print(w("demo.failed", count=len(failures)) + "\n  " + "\n  ".join(f[:300] for f in failures))
        return 1
    print(w("demo.done", folder=output_dir))
    for path in sorted(p for p in output_dir.glob("*") if not p.name.startswith(".")):
        print(w("demo.file_line", name=path.name, size=f"{path.stat().st_size:,}"))
    return 0

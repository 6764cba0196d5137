"""build_roadmap: an implementation roadmap as phases, checked against the plan's ROI and KPI evidence."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from retention_mcp.analysis.roadmap import Phase, RoadmapResult
from retention_mcp.endpoints.turnover import LanguageArg
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job


@tool(title="Build a grounded roadmap", result=RoadmapResult)
def build_roadmap(
    job: Job,
    phases: Annotated[list[Phase], Field(min_length=1, max_length=12)],
    roi_evidence_id: Annotated[str | None, Field(description="calculate_roi evidence_id: checks budgets and "
                                                             "payback")] = None,
    kpi_evidence_id: Annotated[str | None, Field(description="build_kpis evidence_id: checks the KPI values "
                                                             "due")] = None,
    currency: Annotated[str, Field(max_length=12, description="e.g. 'CNY'")] = "",
    chart: Annotated[bool, Field(description="Also return the Gantt chart as a PNG")] = False,
    language: LanguageArg = None,
) -> ToolOutput:
    """The implementation roadmap as phases, checked against the plan's evidence: budgets add up to the ROI's
    programme cost, KPI values due lie between baseline and target, payback falls inside the horizon. plan_export
    draws it as a Gantt chart and a table where cited. Example: {"phases": [{"name": "诊断", "start_month": 1,
    "end_month": 3, "owner": "HRBP", "budget": 30000, "kpi_targets": {"turnover_rate": 16}}], "roi_evidence_id":
    "ev-…", "kpi_evidence_id": "ev-…"}.
    """
    from retention_mcp.analysis.roadmap import build_roadmap as check_roadmap
    from retention_mcp.analysis.roadmap import gantt_spec, roadmap_markdown

    w = job.words(language)  # the one wording: the plan family's entries and every other
    lang = w.language
    roi = kpis = None
    if roi_evidence_id is not None:
        roi = job.evidence_input(roi_evidence_id, argument="roi_evidence_id", tools=("calculate_roi",)).figures
    if kpi_evidence_id is not None:
        kpis = job.evidence_input(kpi_evidence_id, argument="kpi_evidence_id", tools=("build_kpis",)).figures
    names = kpi_names(job, lang)
    result = check_roadmap(phases, roi=roi, kpis=kpis, currency=currency.strip(), words=w, kpi_names=names)
    result.roi_evidence_id = roi_evidence_id and roi_evidence_id.strip().lower()
    result.kpi_evidence_id = kpi_evidence_id and kpi_evidence_id.strip().lower()
    spec = gantt_spec(result, w, names)
    images = []
    if chart:
        from retention_mcp.report.charts import draw_spec

        images = [(draw_spec(spec, lang), "image/png")]
    figures: dict[str, Any] = {"total_budget": result.total_budget, "horizon_months": result.horizon_months,
                               "phases": len(result.phases)}
    units = {"total_budget": "money", "horizon_months": "months", "phases": "count"}
    for phase in result.phases:
        for key, value, unit in (("budget", phase.budget, "money"), ("start_month", phase.start_month, "months"),
                                 ("end_month", phase.end_month, "months")):
            figures[f"{key}[{phase.name}]"], units[f"{key}[{phase.name}]"] = value, unit
        for kpi, value in phase.kpi_targets.items():
            try:
                number = float(str(value).rstrip("%％").replace(",", ""))
            except ValueError:
                continue
            figures[f"milestone[{phase.name}, {kpi}]"], units[f"milestone[{phase.name}, {kpi}]"] = number, "number"
    if roi is not None:
        for key in ("total_cost", "payback_month"):
            if isinstance(roi.get(key), int | float):
                figures[f"roi_{key}"], units[f"roi_{key}"] = roi[key], "money" if key == "total_cost" else "months"
    return job.output(result, roadmap_markdown(result, w, names), figures=figures, units=units, images=images,
                      charts=[spec], definition=w("plan.roadmap.definition"))


def kpi_names(job: Job, language: str) -> dict[str, str]:
    """KPI id -> its catalog name in ``language`` (milestones name KPIs the way the plan's reader knows them)."""
    from retention_mcp.analysis.kpi_catalog import load_kpi_catalog

    return {k.id: k.name_zh if language == "zh" else k.name_en for k in load_kpi_catalog(job.settings).kpis}

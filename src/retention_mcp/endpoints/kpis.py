"""KPI tools: find_kpis, build_kpis, score_kpis, agent_scorecard, and the retention://kpi-catalog resource."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from retention_mcp.analysis.kpi_build import BuildResult, KpiItem
from retention_mcp.analysis.kpi_catalog import KpiCatalog, KpiSearchResult
from retention_mcp.analysis.kpi_score import ScoreResult
from retention_mcp.analysis.scorecard import ScorecardResult
from retention_mcp.endpoints.turnover import (
    CsvTextArg,
    HeaderRowArg,
    LanguageArg,
    PathArg,
    SheetArg,
    WhereArg,
    with_chart,
)
from retention_mcp.runtime import ToolOutput, resource, tool
from retention_mcp.runtime.job import Job
from retention_mcp.settings import Settings
from retention_mcp.wording import Words

#: Most KPIs in one set: a scorecard people can act on has 5-15; more is a request error, not a KPI set.
MAX_KPIS = 100


def catalog(job: Job) -> KpiCatalog:
    from retention_mcp.analysis.kpi_catalog import load_kpi_catalog

    return load_kpi_catalog(job.settings)


@tool(title="Find KPIs", result=KpiSearchResult, evidence=False)
def find_kpis(
    job: Job,
    query: Annotated[str, Field(max_length=200, description="words in English or Chinese names, synonyms and "
                                                            "definitions, e.g. 'first contact resolution', 'FCR', "
                                                            "'离职率'; empty lists everything that passes the filters")]
    = "",
    domain: Annotated[str | None, Field(description="retention, call_center, rnd, sales or hr_ops")] = None,
    perspective: Annotated[str | None, Field(description="BSC perspective: financial, customer, internal_process, "
                                                         "learning_growth")] = None,
    limit: Annotated[int, Field(description="most matches to return", ge=1, le=100)] = 10,
    language: LanguageArg = None,
) -> ToolOutput:
    """Search the KPI catalog (62 KPIs: retention, call center, R&D/DORA, sales, HR operations).

    Each match carries id, English and Chinese names, definition, formula, unit, which direction is better,
    BSC perspective, data source, cadence and target bands with the source of each band. Use the ids in
    build_kpis. Example: find_kpis(query='首次解决') or find_kpis(domain='call_center', perspective='customer').
    """
    from retention_mcp.analysis.kpi_catalog import find_kpis as search
    from retention_mcp.analysis.kpi_catalog import find_kpis_text

    w = job.words(language)
    result = search(catalog(job), query, domain, perspective, limit, w)
    return job.output(result, find_kpis_text(result, w))


@tool(title="Build and check a KPI set", result=BuildResult)
def build_kpis(
    job: Job,
    items: Annotated[list[KpiItem], Field(max_length=MAX_KPIS, description="the KPIs: catalog ids with "
                                         "baseline/target/weight, or custom KPIs with name, unit, direction, "
                                         "baseline, target (and objective for OKR)")],
    framework: Annotated[Literal["bsc", "okr"], Field(description="'bsc' (balanced scorecard: checks the four "
                                                                  "perspectives) or 'okr' (objective -> key "
                                                                  "results)")] = "bsc",
    profile: Annotated[str | None, Field(description="'call_center_csat_linked' checks the CSAT-linked appraisal "
                                                     "weight bands: customer 40-50%, efficiency 30-40%, "
                                                     "quality/attitude 10-20%")] = None,
    deadline: Annotated[str | None, Field(description="due date for every KPI without its own, YYYY-MM-DD")]
    = None,
    max_relative_change: Annotated[float, Field(description="flag targets whose |target - baseline| / |baseline| "
                                                            "exceeds this (0.5 = 50%)", gt=0, le=100)] = 0.5,
    baselines_from: Annotated[list[str] | None, Field(
        max_length=10, description="evidence ids (call_log_profile, turnover_breakdown, retention_curve) that fill "
                                   "empty baselines")] = None,
    language: LanguageArg = None,
) -> ToolOutput:
    """Complete and check a KPI set a manager can adopt.

    Fills definitions, formulas, units, directions, perspectives and target bands from the catalog and returns
    the completed set, findings (info / warning / error) and a markdown KPI table. Checks: weights (none =>
    equal, said so; not summing to 100 => error, never rescaled), duplicates, baseline/target numeric and in the
    unit's range, target on the right side of the baseline, implausible jumps, BSC coverage or OKR structure,
    SMART per KPI. Percent KPIs take points (75 = 75%). Baselines can come from call_log_profile.
    Example: items=[{'id': 'fcr', 'baseline': 65, 'target': 75, 'weight': 25}, {'id': 'csat', 'baseline': 3.8,
    'target': 4.2, 'weight': 45}, ...], framework='bsc', deadline='2026-12-31'. Pass the kpis to score_kpis.
    """
    from retention_mcp.analysis.kpi_build import Finding, build_kpi_set, build_text

    w = job.words(language)
    found: list[Finding] = []
    if baselines_from:
        items, found = baselines_from_evidence(job, items, baselines_from, w)
    result = build_kpi_set(catalog(job), items, framework, profile, deadline, max_relative_change, w=w)
    result.findings = found + result.findings
    result.counts["info"] = result.counts.get("info", 0) + len(found)
    figures: dict[str, Any] = {}
    units: dict[str, str] = {}
    for k in result.kpis[:50]:
        unit = {"percent": "percent", "seconds": "seconds", "days": "days"}.get(k.unit or "", "number")
        for key, value, kind in (("baseline", k.baseline, unit), ("target", k.target, unit),
                                 ("weight", k.weight, "number")):
            if value is not None:
                figures[f"{key}[{k.id or k.name}]"], units[f"{key}[{k.id or k.name}]"] = value, kind
    return job.output(result, build_text(result, w), figures=figures, units=units,
                      definition=w("kpi.build_definition"))


#: KPI baselines a turnover_breakdown gives, by its separation_type: the annual rate in points.
TURNOVER_KPIS = {"all": "turnover_rate", "voluntary": "voluntary_turnover_rate", "regretted": "regretted_turnover_rate"}


def evidence_baselines(record: Any) -> dict[str, float]:
    """KPI id -> baseline in the KPI's unit (percent KPIs in points) from one evidence record."""
    figures = record.figures
    if record.tool == "call_log_profile":
        return {key[len("kpi_baseline["):-1]: float(value) for key, value in figures.items()
                if key.startswith("kpi_baseline[") and isinstance(value, int | float)}
    if record.tool == "turnover_breakdown":
        kpi = TURNOVER_KPIS.get(str(record.arguments.get("separation_type") or "all"))
        rate = figures.get("overall_annualised_rate", figures.get("overall_rate"))
        return {kpi: float(rate) * 100} if kpi and isinstance(rate, int | float) else {}
    rate = figures.get("overall_early_attrition")  # retention_curve
    return {"early_attrition_rate": float(rate) * 100} if isinstance(rate, int | float) else {}


def baselines_from_evidence(job: Job, items: list[KpiItem], evidence_ids: list[str],
                            w: Words) -> tuple[list[KpiItem], list[Any]]:
    """``items`` with empty baselines filled from the evidence (recorded as its parents), and a finding per fill
    (in ``w``'s language)."""
    from retention_mcp.analysis.kpi_build import Finding

    offered: dict[str, tuple[float, str]] = {}
    for evidence_id in evidence_ids:
        record = job.evidence_input(evidence_id, argument="baselines_from",
                                    tools=("call_log_profile", "turnover_breakdown", "retention_curve"))
        for kpi, value in evidence_baselines(record).items():
            offered.setdefault(kpi, (value, record.id))
    filled, findings = [], []
    for item in items:
        if item.id in offered and item.baseline is None:
            value, source = offered[item.id]
            item = item.model_copy(update={"baseline": value})
            findings.append(Finding(severity="info", code="baseline_from_evidence", kpi=item.id,
                                    message=w("kpi.findings.baseline_from_evidence", value=f"{value:g}",
                                              source=source)))
        filled.append(item)
    unused = sorted(set(offered) - {i.id for i in items})
    if unused:
        findings.append(Finding(severity="info", code="baselines_offered", kpi=None,
                                message=w("kpi.findings.baselines_offered", kpis=w.enumeration.join(unused))))
    return filled, findings


@tool(title="Score KPIs against actuals", result=ScoreResult)
def score_kpis(
    job: Job,
    kpis: Annotated[list[KpiItem], Field(max_length=MAX_KPIS, description="the KPI set with baseline, target and "
                                         "weight (e.g. build_kpis' kpis); each may carry its actual")],
    actuals: Annotated[dict[str, float | str] | None, Field(
        description="actual values by KPI id or name, e.g. {'fcr': 72, 'aht': 290}")] = None,
    cap: Annotated[float | str, Field(description="upper limit of the capped achievement: 1.2 or '120%'")] = 1.2,
    thresholds: Annotated[dict[str, float | str] | None, Field(
        description="lower bounds of the colours, default {'green': 1.0, 'yellow': 0.8, 'orange': 0.5}")] = None,
    chart: Annotated[bool, Field(description="Also return a PNG scorecard (capped achievement per KPI)")] = False,
    language: LanguageArg = None,
) -> ToolOutput:
    """Score a KPI set against actuals: achievement, weighted score and four-colour status.

    Achievement = (actual - baseline) / (target - baseline); it works for lower-is-better KPIs too. Reported raw
    and capped to 0..cap (default 120%), as fractions. Weighted score = sum(weight × capped) / sum(weight).
    Status: green >= 100%, yellow >= 80%, orange >= 50%, red below. The achievement coefficient (target ÷
    baseline) is reported alongside. A KPI whose target equals its baseline is not scored and says why.
    Example: kpis=[{'id': 'aht', 'baseline': 320, 'target': 280, 'weight': 100}], actuals={'aht': 300} ->
    achievement 50%, orange.
    """
    from retention_mcp.analysis.kpi_score import score_kpi_set, score_text

    w = job.words(language)
    result = score_kpi_set(catalog(job), kpis, actuals, cap, thresholds, w=w)
    png = None
    scored = [k for k in result.kpis if k.achievement_capped is not None]
    score = f"{result.weighted_score * 100:.1f}%" if result.weighted_score is not None else None
    title = w("charts.kpi_title_score", score=score) if score is not None else w("charts.kpi_title")
    charts = [{"kind": "kpi_scorecard",
               "data": {"names": [k.name for k in scored], "achievement": [k.achievement_capped for k in scored],
                        "status": [k.status for k in scored], "title": title},
               "context": {"score": score}}] if scored else []
    if chart and charts:
        from retention_mcp.report.charts import draw_spec

        png = draw_spec(charts[0], w.language)
    text, images = with_chart(score_text(result, w), png, chart, w("charts.no_kpi_scored"), w)
    figures: dict[str, Any] = {"weighted_score": result.weighted_score,
                               **{f"achievement[{k.id or k.name}]": k.achievement_capped for k in result.kpis[:50]}}
    return job.output(result, text, figures=figures, images=images, charts=charts,
                      definition=w("kpi.score.definition"))


@tool(title="Agent scorecard (CSAT-linked)", result=ScorecardResult)
def agent_scorecard(
    job: Job,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    agent_column: Annotated[str | None, Field(description="column with the agents (detected when omitted, e.g. "
                                                          "'Agent', '坐席')")] = None,
    weights: Annotated[dict[str, float | str] | None, Field(
        description="metric weights, e.g. {'csat': 40, 'resolution_rate': 25, 'aht': 15, 'asa': 10}; keys: csat, "
                    "resolution_rate, aht, asa, compliance, empathy. Default: CSAT 40, resolution 25, AHT 15, "
                    "compliance 10, empathy 10, re-normalised over the metrics present")] = None,
    min_contacts: Annotated[int, Field(description="agents with fewer answered contacts are not scored", ge=1)] = 30,
    input_shape: Annotated[Literal["auto", "contacts", "agents"], Field(
        description="'contacts' (one row per contact), 'agents' (one row per agent) or 'auto'")] = "auto",
    column_map: Annotated[dict[str, str] | None, Field(
        description="role -> column when detection misses: answered, resolved, csat, aht, asa, compliance, "
                    "empathy, contacts")] = None,
    where: WhereArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    language: LanguageArg = None,
) -> ToolOutput:
    """Call-center agent scorecard linked to customer satisfaction.

    Per agent: CSAT mean (1-5), resolution (FCR) rate, AHT (talk seconds; h:mm:ss understood), speed of answer,
    compliance/empathy when present, each with a 95% interval. Unanswered contacts are excluded, and a CSAT of 0
    on an unanswered call is missing, not zero. Per metric, a test of whether the agents differ at all (ANOVA,
    χ², Kruskal–Wallis). Score = z against the rest of the team (standard errors, positive = better), weighted
    into a total z with a Holm-adjusted p. Top 20% / bottom 20% tiers (with the appraisal scheme's actions) only
    for agents whose total is separated from the rest; others are 'not distinguishable' and get no tier
    consequence. CSAT linkage: OLS of CSAT on the other metrics. Agents appear as stable pseudonyms (Agent 01 …);
    the key stays on the server. Example: agent_scorecard(path='calls.csv', min_contacts=30).
    """
    from retention_mcp.analysis.scorecard import build_scorecard, scorecard_text
    from retention_mcp.catalog import load_catalog

    w = job.words(language)
    mapping = dict(column_map or {})
    if agent_column:
        mapping["agent"] = agent_column
    ds, scope_note = job.dataset_in_scope(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                                          column_map=mapping, kind="calls", where=where)
    result = build_scorecard(ds, policy=job.policy, catalog=load_catalog(job.settings, "call_center.yaml")["scorecard"],
                             weights=weights, min_contacts=min_contacts, input_shape=input_shape, w=w)
    if scope_note:
        result.notes.insert(0, scope_note)
    figures: dict[str, Any] = {f"score[{a.agent}]": a.total_score for a in result.agents[:50]}
    figures.update({f"agents_differ_p[{t.metric}]": t.p_value for t in result.metric_tests})
    return job.output(result, scorecard_text(result, w), figures=figures, definition=result.method)


@resource("retention://kpi-catalog", name="kpi_catalog_resource", mime_type="application/json", title="KPI catalog",
          description="Every KPI with en/zh names, definition, formula, unit, direction, BSC perspective, domain, "
                      "data source, cadence and sourced target bands.")
def kpi_catalog_resource(*, settings: Settings, progress: Any) -> str:
    import json

    from retention_mcp.catalog import load_catalog

    return json.dumps(load_catalog(settings, "kpi_catalog.yaml"), ensure_ascii=False, indent=1)

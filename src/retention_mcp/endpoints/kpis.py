"""KPI tools: find_kpis, build_kpis, score_kpis, agent_scorecard, and the retention://kpi-catalog resource."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from retention_mcp.analysis.kpi_build import BuildResult, KpiItem
from retention_mcp.analysis.kpi_catalog import KpiCatalog, KpiSearchResult
from retention_mcp.analysis.kpi_score import ScoreResult
from retention_mcp.analysis.scorecard import ScorecardResult
from retention_mcp.endpoints.turnover import CsvTextArg, HeaderRowArg, PathArg, SheetArg, WhereArg, with_chart
from retention_mcp.runtime import ToolOutput, resource, tool
from retention_mcp.runtime.job import Job
from retention_mcp.settings import Settings

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
) -> ToolOutput:
    """Search the KPI catalog (62 KPIs: retention, call center, R&D/DORA, sales, HR operations).

    Each match carries id, English and Chinese names, definition, formula, unit, which direction is better,
    BSC perspective, data source, cadence and target bands with the source of each band. Use the ids in
    build_kpis. Example: find_kpis(query='首次解决') or find_kpis(domain='call_center', perspective='customer').
    """
    from retention_mcp.analysis.kpi_catalog import find_kpis as search
    from retention_mcp.analysis.kpi_catalog import find_kpis_text

    result = search(catalog(job), query, domain, perspective, limit)
    return job.output(result, find_kpis_text(result))


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
    from retention_mcp.analysis.kpi_build import build_kpi_set, build_text

    result = build_kpi_set(catalog(job), items, framework, profile, deadline, max_relative_change)
    figures = {f"target[{k.id or k.name}]": k.target for k in result.kpis[:50]}
    return job.output(result, build_text(result), figures=figures,
                      definition="KPI definitions and target bands from the KPI catalog")


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

    result = score_kpi_set(catalog(job), kpis, actuals, cap, thresholds)
    png = None
    scored = [k for k in result.kpis if k.achievement_capped is not None]
    if chart and scored:
        from retention_mcp.report.charts import kpi_scorecard_chart

        title = "KPI scorecard" + (f" — weighted score {result.weighted_score * 100:.1f}%"
                                   if result.weighted_score is not None else "")
        png = kpi_scorecard_chart([k.name for k in scored], [k.achievement_capped for k in scored],
                                  [k.status for k in scored], title=title)
    text, images = with_chart(score_text(result), png, chart,
                              "no KPI could be scored (each needs an actual and a target unlike its baseline).")
    figures: dict[str, Any] = {"weighted_score": result.weighted_score,
                               **{f"achievement[{k.id or k.name}]": k.achievement_capped for k in result.kpis[:50]}}
    return job.output(result, text, figures=figures, images=images,
                      definition="achievement = (actual − baseline) ÷ (target − baseline), capped")


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

    mapping = dict(column_map or {})
    if agent_column:
        mapping["agent"] = agent_column
    ds, scope_note = job.dataset_in_scope(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                                          column_map=mapping, kind="calls", where=where)
    result = build_scorecard(ds, policy=job.policy, catalog=load_catalog(job.settings, "call_center.yaml")["scorecard"],
                             weights=weights, min_contacts=min_contacts, input_shape=input_shape)
    if scope_note:
        result.notes.insert(0, scope_note)
    figures: dict[str, Any] = {f"score[{a.agent}]": a.total_score for a in result.agents[:50]}
    figures.update({f"agents_differ_p[{t.metric}]": t.p_value for t in result.metric_tests})
    return job.output(result, scorecard_text(result), figures=figures, definition=result.method)


@resource("retention://kpi-catalog", name="kpi_catalog_resource", mime_type="application/json", title="KPI catalog",
          description="Every KPI with en/zh names, definition, formula, unit, direction, BSC perspective, domain, "
                      "data source, cadence and sourced target bands.")
def kpi_catalog_resource(*, settings: Settings, progress: Any) -> str:
    import json

    from retention_mcp.catalog import load_catalog

    return json.dumps(load_catalog(settings, "kpi_catalog.yaml"), ensure_ascii=False, indent=1)

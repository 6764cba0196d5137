"""Money and call-center workforce tools: calculate_roi, erlang_staffing, schedule_fairness, qa_calibration,
hiring_forecast. Plain functions of a Job; the math lives in ``retention_mcp.analysis``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from retention_mcp.analysis.erlang import StaffingResult
from retention_mcp.analysis.fairness import FairnessResult
from retention_mcp.analysis.icc import CalibrationResult
from retention_mcp.analysis.roi import RoiResult
from retention_mcp.analysis.workforce import HiringForecast
from retention_mcp.endpoints.turnover import (
    CsvTextArg,
    HeaderRowArg,
    LanguageArg,
    PathArg,
    SheetArg,
    WhereArg,
    with_chart,
)
from retention_mcp.errors import InputError
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job
from retention_mcp.views import tool_meta

Rate = float | str
RATE_HINT = "a fraction (0.126) or a percentage string ('12.6%'); a bare 12.6 is refused as ambiguous"


def parse_rate_argument(name: str, value: Rate) -> float:
    """One rule for a rate typed by a person or a model: 0.126 or '12.6%' (see retention_mcp.units)."""
    from retention_mcp.units import parse_rate

    try:
        return parse_rate(value)
    except ValueError as exc:
        example = "" if "%" in str(exc) else " (write e.g. '12.6%' or 0.126)"
        raise InputError(f"{name}: {exc}{example}") from None


def call_center_catalog(job: Job) -> dict[str, Any]:
    from retention_mcp.catalog import load_catalog

    return load_catalog(job.settings, "call_center.yaml")


@tool(title="Retention program ROI", result=RoiResult, meta=tool_meta("calculate_roi"))
def calculate_roi(
    job: Job,
    average_annual_cost: Annotated[float, Field(
        description="average annual cost per employee (salary, or fully loaded), one currency, e.g. 60000 "
                    "(describe_groups' average_annual_cost: a group's mean pay, monthly pay × 12)")],
    impact_evidence_id: Annotated[str | None, Field(
        description="an estimate_impact / estimate_combined_impact evidence_id: sets headcount and both rates; "
                    "low/high from its 95% interval")] = None,
    headcount: Annotated[float | None, Field(description="employees covered, e.g. 200 (or impact_evidence_id)")]
    = None,
    current_turnover_rate: Annotated[Rate | None, Field(description=f"annual turnover now; {RATE_HINT}")] = None,
    target_turnover_rate: Annotated[Rate | None, Field(description="annual turnover aimed for")] = None,
    replacement_cost_multiplier: Annotated[float | None, Field(
        description="cost of replacing one leaver ÷ average annual cost, e.g. 0.4. Omit to use cost_preset's "
                    "base value")] = None,
    cost_preset: Annotated[str | None, Field(
        description="role family for the multiplier band: frontline, professional, technical, manager, "
                    "executive (sets the low/high scenarios)")] = None,
    program_cost_one_off: Annotated[float, Field(description="one-off program cost at the start")] = 0.0,
    program_cost_annual: Annotated[float, Field(description="running program cost per year")] = 0.0,
    productivity_gain_fte: Annotated[float, Field(
        description="capacity freed, in full-time equivalents, valued at the average annual cost")] = 0.0,
    other_annual_benefits: Annotated[float, Field(description="other savings per year")] = 0.0,
    horizon_months: Annotated[int, Field(description="months to total over, 1-120")] = 12,
    benefit_ramp_months: Annotated[float, Field(
        description="months until benefits reach full rate (linear ramp); 0 = from month 1")] = 0.0,
    discount_rate: Annotated[Rate, Field(description=f"annual discount rate for NPV; {RATE_HINT}")] = 0.08,
    currency: Annotated[str, Field(description="currency label for the text, e.g. 'CNY' or 'USD'")] = "",
    chart: Annotated[bool, Field(description="Also return PNGs of the low/base/high scenarios and the ±20% "
                                             "sensitivity")] = False,
    language: LanguageArg = None,
) -> ToolOutput:
    """Put a defensible number on a retention program: ROI, benefit/cost ratio, payback, NPV, scenarios.

    Avoided leavers = headcount × (current − target turnover); retention savings = avoided leavers ×
    replacement_cost_multiplier × average_annual_cost; plus productivity FTEs × average annual cost and other
    annual benefits. Reports `roi` = (benefit − cost) ÷ cost AND `benefit_cost_ratio` = benefit ÷ cost, payback
    month, NPV, break-even reduction, low/base/high scenarios, ±20% sensitivity. Quote the returned `formula`.
    Best fed by impact_evidence_id: low/high are then the ends of the impact's 95% interval.
    Example: impact_evidence_id='ev-3f9a2c', average_annual_cost=60000, replacement_cost_multiplier=0.4,
    program_cost_one_off=80000, program_cost_annual=40000, benefit_ramp_months=3.
    """
    from retention_mcp.analysis import roi
    from retention_mcp.catalog import load_catalog

    w = job.words(language)
    interval = None
    if impact_evidence_id is not None:
        typed = [n for n, v in (("headcount", headcount), ("current_turnover_rate", current_turnover_rate),
                                ("target_turnover_rate", target_turnover_rate)) if v is not None]
        if typed:
            raise InputError(f"impact_evidence_id sets headcount and both turnover rates; leave out {', '.join(typed)}")
        impact = job.evidence_input(impact_evidence_id, argument="impact_evidence_id", tools=IMPACT_TOOLS)
        headcount, current_turnover_rate, target_turnover_rate, interval = impact_inputs(impact)
    missing = [n for n, v in (("headcount", headcount), ("current_turnover_rate", current_turnover_rate),
                              ("target_turnover_rate", target_turnover_rate)) if v is None]
    if missing:
        raise InputError(f"give impact_evidence_id (an estimate_impact result) or {', '.join(missing)}")
    band = None
    source = w("roi.source_given")
    if cost_preset is not None and cost_preset.strip():
        try:
            presets = load_catalog(job.settings, "cost_presets.yaml")
        except FileNotFoundError as exc:
            raise InputError(f"{exc}; pass replacement_cost_multiplier instead (e.g. 0.4)") from None
        key, band = roi.preset_band(presets, cost_preset)
        source = (w("roi.source_preset", key=key) if replacement_cost_multiplier is None
                  else w("roi.source_band", key=key))
    inputs = roi.build_inputs(
        headcount=headcount, current_turnover_rate=current_turnover_rate, target_turnover_rate=target_turnover_rate,
        average_annual_cost=average_annual_cost, replacement_cost_multiplier=replacement_cost_multiplier,
        band=band, program_cost_one_off=program_cost_one_off, program_cost_annual=program_cost_annual,
        productivity_gain_fte=productivity_gain_fte, other_annual_benefits=other_annual_benefits,
        horizon_months=horizon_months, benefit_ramp_months=benefit_ramp_months, discount_rate=discount_rate,
    )
    if interval is not None:  # leavers avoided a year -> turnover reductions of the population
        interval = (interval[0] / inputs.headcount, interval[1] / inputs.headcount)
    result = roi.calculate_roi(inputs, band=band, multiplier_source=source, currency=currency.strip()[:12], w=w,
                               interval=interval, impact_evidence_id=impact_evidence_id and impact_evidence_id.lower())
    charts = roi_chart_specs(result)
    pngs: list[bytes] = []
    if chart:
        from retention_mcp.report.charts import draw_spec

        pngs = [draw_spec(spec, w.language) for spec in charts]
    text, images = with_chart(roi.roi_text(result, w), pngs[0] if pngs else None, chart, w=w)
    images += [(png, "image/png") for png in pngs[1:]]
    figures, units = roi_figures(result)
    return job.output(result, text, figures=figures, units=units, images=images, definition=result.formula,
                      charts=charts)


#: Tools whose results calculate_roi takes as impact_evidence_id.
IMPACT_TOOLS = ("estimate_impact", "estimate_combined_impact")


def impact_inputs(impact: Any) -> tuple[float, float, float, tuple[float, float] | None]:
    """(headcount, current rate, target rate, (low, high) leavers avoided) from an impact estimate's figures."""
    figures = impact.figures
    try:
        headcount, current, target = (float(figures[k]) for k in ("headcount", "current_overall_rate",
                                                                  "new_overall_rate"))
    except (KeyError, TypeError, ValueError):
        raise InputError(f"evidence {impact.id} has no headcount and rates to compute an ROI from; re-run "
                         "estimate_impact and pass its new evidence_id") from None
    low, high = figures.get("avoided_leavers_low"), figures.get("avoided_leavers_high")
    interval = (float(low), float(high)) if isinstance(low, int | float) and isinstance(high, int | float) else None
    return headcount, current, target, interval


ROI_UNITS = {"roi": "fraction", "benefit_cost_ratio": "ratio", "net_benefit": "money", "npv": "money",
             "payback_month": "months", "avoided_leavers_per_year": "count", "total_benefit": "money",
             "total_cost": "money", "cost_one_off": "money", "cost_running": "money",
             "annual_benefit_full_rate": "money", "replacement_cost_per_leaver": "money",
             "break_even_reduction_pp": "pp", "current_turnover_rate": "fraction", "target_turnover_rate": "fraction",
             "turnover_reduction": "fraction", "headcount": "count", "average_annual_cost": "money",
             "horizon_months": "months"}


def roi_figures(result: RoiResult) -> tuple[dict[str, Any], dict[str, str]]:
    """The ROI's headline figures and each scenario's ROI, net benefit and avoided leavers."""
    figures = {name: getattr(result, name) for name in ROI_UNITS if getattr(result, name) is not None}
    units = {name: ROI_UNITS[name] for name in figures}
    for scenario in result.scenarios:
        if scenario.name == "base":
            continue
        for key, unit in (("roi", "fraction"), ("net_benefit", "money"), ("avoided_leavers_per_year", "count"),
                          ("benefit_cost_ratio", "ratio")):
            value = getattr(scenario, key)
            if value is not None:
                figures[f"{key}_{scenario.name}"], units[f"{key}_{scenario.name}"] = value, unit
    return figures, units


def roi_chart_specs(result: RoiResult) -> list[dict[str, Any]]:
    """The low/base/high scenarios (benefit against cost) and the ±20% sensitivity (tornado)."""
    from retention_mcp.units import percent

    specs: list[dict[str, Any]] = [{
        "kind": "roi_scenarios",
        "data": {"names": [s.name for s in result.scenarios], "benefit": [s.total_benefit for s in result.scenarios],
                 "cost": [s.total_cost for s in result.scenarios], "currency": result.currency},
        "context": {"months": result.horizon_months}}]
    rows = [r for r in result.sensitivity if r.metric_at_low is not None and r.metric_at_high is not None]
    base = result.roi if result.sensitivity_metric == "roi" else result.net_benefit
    if rows and base is not None:
        shown = percent(base) if result.sensitivity_metric == "roi" else f"{base:,.0f}"
        specs.append({"kind": "roi_sensitivity",
                      "data": {"inputs": [r.input for r in rows], "at_low": [r.metric_at_low for r in rows],
                               "at_high": [r.metric_at_high for r in rows], "base": base,
                               "metric": result.sensitivity_metric, "currency": result.currency},
                      "context": {"base_shown": shown}})
    return specs


@tool(title="Erlang C staffing", result=StaffingResult)
def erlang_staffing(
    job: Job,
    calls: Annotated[float, Field(description="calls offered in one interval, e.g. 100 (call_log_profile gives "
                                              "the peak interval's calls)")],
    aht_seconds: Annotated[float, Field(description="average handling time (talk + hold + wrap-up), seconds")],
    interval_minutes: Annotated[float, Field(description="length of the interval, minutes")] = 30,
    service_level_target: Annotated[Rate, Field(description=f"share answered within the threshold; "
                                                            f"{RATE_HINT}")] = 0.8,
    answer_within_seconds: Annotated[float, Field(description="the service-level threshold, seconds (the 20 of "
                                                              "'80/20')")] = 20,
    shrinkage: Annotated[Rate, Field(description=f"share of paid time not on the phones; {RATE_HINT}")] = 0.0,
    max_occupancy: Annotated[Rate | None, Field(description="occupancy cap, e.g. '85%'")] = None,
    patience_seconds: Annotated[float | None, Field(description="mean caller patience, s: adds Erlang A")] = None,
    max_abandonment: Annotated[Rate | None, Field(description="Erlang A abandonment cap, e.g. '5%'")] = None,
    language: LanguageArg = None,
) -> ToolOutput:
    """Agents needed for a call-center interval by Erlang C (and Erlang A with patience_seconds), with service
    level, ASA, occupancy, shrinkage.

    Traffic A = calls × AHT ÷ interval; required agents = smallest N > A with SL = 1 − P(wait)·e^(−(N−A)·t/AHT)
    ≥ target (and A ÷ N ≤ max_occupancy if given); ASA = P(wait)·AHT ÷ (N − A); scheduled = ⌈N ÷ (1 −
    shrinkage)⌉. Returns N−2 … N+2 so the trade-off is visible. call_log_profile supplies calls, AHT and patience;
    with patience_seconds the Erlang A answer (abandonment, callers who hang up count as missed) comes beside it.
    Example: calls=100, interval_minutes=30, aht_seconds=180, service_level_target='80%',
    answer_within_seconds=20, shrinkage='30%' → 14 agents (SL 88.8%, ASA 7.8 s, occupancy 71.4%), 20 scheduled.
    """
    from retention_mcp.analysis import erlang

    w = job.words(language)
    result = erlang.erlang_staffing(
        calls=calls, interval_minutes=interval_minutes, aht_seconds=aht_seconds,
        service_level_target=parse_rate_argument("service_level_target", service_level_target),
        answer_within_seconds=answer_within_seconds, shrinkage=parse_rate_argument("shrinkage", shrinkage),
        max_occupancy=None if max_occupancy is None else parse_rate_argument("max_occupancy", max_occupancy), w=w,
    )
    if max_abandonment is not None and patience_seconds is None:
        raise InputError("max_abandonment applies to Erlang A: give patience_seconds too (call_log_profile "
                         "estimates it)")
    if patience_seconds is not None:
        from retention_mcp.analysis.erlang_a import erlang_a_staffing

        result.erlang_a = erlang_a_staffing(
            calls=calls, interval_minutes=interval_minutes, aht_seconds=aht_seconds, patience_seconds=patience_seconds,
            service_level_target=result.service_level_target, answer_within_seconds=answer_within_seconds,
            shrinkage=result.shrinkage, max_occupancy=result.max_occupancy,
            max_abandonment=None if max_abandonment is None else parse_rate_argument("max_abandonment",
                                                                                     max_abandonment),
            erlang_c_agents=result.required_agents, w=w)
    figures = {name: getattr(result, name) for name in ("traffic_erlangs", "required_agents", "scheduled_headcount",
                                                         "service_level", "asa_seconds", "occupancy")}
    if result.erlang_a is not None:
        figures.update({f"erlang_a_{name}": getattr(result.erlang_a, name)
                        for name in ("required_agents", "scheduled_headcount", "service_level", "probability_abandon",
                                     "asa_seconds", "patience_seconds")})
    return job.output(result, erlang.staffing_text(result, w), figures=figures,
                      definition=w("workforce.erlang.definition"))


@tool(title="Schedule fairness (Gini, consecutive nights)", result=FairnessResult)
def schedule_fairness(
    job: Job,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    agent_counts: Annotated[list[float] | dict[str, float] | None, Field(
        description="instead of a roster: unfavourable shifts per agent, as a list or {agent: count}; include "
                    "agents with 0")] = None,
    agent_column: Annotated[str | None, Field(description="agent column (detected: agent, 坐席, 工号 …)")] = None,
    date_column: Annotated[str | None, Field(description="shift date column (detected: date, 日期 …)")] = None,
    shift_column: Annotated[str | None, Field(description="shift label column (detected: shift, 班次 …); labels "
                                                          "with night/夜/通宵 or 'N' are nights")] = None,
    start_column: Annotated[str | None, Field(description="shift start time column (detected: start_time, "
                                                          "开始时间 …), e.g. 22:00")] = None,
    holidays: Annotated[list[str] | None, Field(description="public-holiday dates, e.g. ['2024-10-01']")] = None,
    night_from_hour: Annotated[float, Field(ge=0, le=24, description="a shift starting at or after this hour is a "
                                                                     "night shift")] = 20,
    night_until_hour: Annotated[float, Field(ge=0, le=24, description="… or before this hour")] = 5,
    night_limit: Annotated[int | None, Field(ge=1, le=31, description="most consecutive nights allowed "
                                                                     "(default 3)")] = None,
    where: WhereArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    language: LanguageArg = None,
) -> ToolOutput:
    """How evenly night, weekend and holiday shifts fall across agents (a schedule fairness index).

    Give a roster (path or csv_text: one row per agent per shift, with agent, shift date and a shift label or start
    time; a call log is refused) or agent_counts. Returns the population Gini of unfavourable shifts per agent
    (Σ|xi−xj| ÷ 2n²x̄; 0 = even) overall and for each kind (night, weekend, holiday), the share carried by the top
    20% of agents, runs of consecutive nights over night_limit and the violation rate (nights beyond the limit ÷
    all nights), compared with the targets: Gini ≤ 0.25 for every kind (the headline fails when any kind fails),
    violations < 2%. Agents never appear by name.
    Example: csv_text="agent,date,shift\\nA01,2024-03-01,night\\nA02,2024-03-01,day\\n…".
    """
    from retention_mcp.analysis import fairness

    w = job.words(language)
    given = [name for name, value in (("path", path), ("csv_text", csv_text), ("agent_counts", agent_counts))
             if value is not None]
    if len(given) != 1:
        raise InputError("give exactly one of path (a roster file in the data folder), csv_text (inline CSV "
                         f"roster) or agent_counts (per-agent counts); got {', '.join(given) or 'none'}")
    if where and agent_counts is not None:
        raise InputError("where filters the rows of a roster; with agent_counts, pass only the counts of the agents "
                         "you mean")
    catalog = call_center_catalog(job)
    if agent_counts is not None:
        counts = list(agent_counts.values()) if isinstance(agent_counts, dict) else list(agent_counts)
        result = fairness.fairness_from_counts(counts, catalog=catalog, night_limit=night_limit, w=w)
    else:
        column_map = {role: column for role, column in (("agent", agent_column), ("shift_date", date_column),
                                                         ("shift", shift_column), ("shift_start", start_column))
                      if column}
        ds, scope_note = job.dataset_in_scope(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                                              column_map=column_map, kind="roster", where=where)
        result = fairness.fairness_from_roster(
            ds, catalog=catalog, holidays=holidays or (), night_from_hour=night_from_hour,
            night_until_hour=night_until_hour, night_limit=night_limit, min_group_size=job.policy.floor, w=w,
            cells=job.policy.cells(ds))
        if scope_note:
            result.notes.insert(0, scope_note)
    figures = {"gini": result.gini, "top20_share": result.top20_share, "violation_rate": result.violation_rate,
               "meets_gini_target": str(result.meets_gini_target).lower(),
               **{f"gini[{c.category}]": c.gini for c in result.categories}}
    return job.output(result, fairness.fairness_text(result, w), figures=figures,
                      definition=("" if w.zh else " ").join(result.definitions))


@tool(title="QA calibration (ICC)", result=CalibrationResult)
def qa_calibration(
    job: Job,
    ratings: Annotated[list[list[float | None]], Field(
        description="items × raters: one row per call, one column per QA rater (same order in every row, no "
                    "gaps), e.g. [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8]]", max_length=10_000)],
    language: LanguageArg = None,
) -> ToolOutput:
    """Inter-rater agreement of QA scorers: the six Shrout & Fleiss ICC forms with the Koo & Li reading.

    Use it for QA calibration sessions: every rater scores the same calls. Each form with its F-based 95% interval
    (Shrout & Fleiss 1979, McGraw & Wong 1996). Headline ICC(2,1) (absolute agreement, single rater, raters as a
    sample) against the 0.75 target: met only when the interval's lower bound clears it, below when the upper bound
    does not reach it, otherwise inconclusive. Koo & Li (2016) bands read from the interval (< 0.5 poor, 0.5–0.75
    moderate, 0.75–0.9 good, > 0.9 excellent). Missing ratings are refused (drop that call); each rater's mean
    shows who is harsh or lenient.
    Example: ratings=[[9,2,5,8],[6,1,3,2],[8,4,6,8],[7,1,2,6],[10,5,6,9],[6,2,4,7]] → ICC(2,1) 0.290, 95% CI
    0.019–0.761 (poor to good): inconclusive against 0.75.
    """
    from retention_mcp.analysis import icc

    w = job.words(language)
    result = icc.icc(ratings, target=float(call_center_catalog(job)["targets"]["icc"]), w=w)
    figures: dict[str, Any] = {f.form: f.value for f in result.forms}
    figures.update({"ICC2 95% CI low": result.headline_ci_low, "ICC2 95% CI high": result.headline_ci_high,
                    "verdict": result.verdict})
    return job.output(result, icc.calibration_text(result, w), figures=figures, definition=w("icc.definition"))


@tool(title="Hiring forecast", result=HiringForecast)
def hiring_forecast(
    job: Job,
    current_headcount: Annotated[int | None, Field(description="people in the role now, e.g. 100 (default: the "
                                                               "evidence's headcount)")] = None,
    expected_turnover_rate: Annotated[Rate | None, Field(description=f"expected turnover over the plan period; "
                                                                     f"{RATE_HINT}")] = None,
    expected_leavers: Annotated[float | None, Field(ge=0, description="expected leavers in the period")] = None,
    turnover_evidence_id: Annotated[str | None, Field(description="a turnover_breakdown evidence_id (its annual "
                                                                  "rate)")] = None,
    forecast_evidence_id: Annotated[str | None, Field(description="a forecast_leavers evidence_id")] = None,
    group: Annotated[str | None, Field(description="a group label of that breakdown or forecast")] = None,
    new_positions: Annotated[int, Field(description="positions added by growth")] = 0,
    probation_pass_rate: Annotated[Rate, Field(description=f"share of hires expected to pass probation; "
                                                           f"{RATE_HINT}")] = 1.0,
    language: LanguageArg = None,
) -> ToolOutput:
    """Hires needed for a period: growth plus expected leavers, grossed up for probation failures.

    hires = ⌈(new_positions + expected leavers) ÷ probation_pass_rate⌉; expected leavers from exactly one of
    expected_turnover_rate × current_headcount, expected_leavers, turnover_evidence_id (a breakdown's annual rate)
    or forecast_evidence_id. Example: current_headcount=100, expected_turnover_rate='12%', new_positions=50 → 62.
    """
    from retention_mcp.analysis import workforce

    w = job.words(language)
    given = [name for name, value in (("expected_turnover_rate", expected_turnover_rate),
                                      ("expected_leavers", expected_leavers),
                                      ("turnover_evidence_id", turnover_evidence_id),
                                      ("forecast_evidence_id", forecast_evidence_id)) if value is not None]
    if len(given) != 1:
        raise InputError("give exactly one of expected_turnover_rate (e.g. '12%'), expected_leavers (e.g. 14.5), "
                         "turnover_evidence_id (a turnover_breakdown result) or forecast_evidence_id (a "
                         f"forecast_leavers result); got {', '.join(given) or 'none'}")
    interval = None
    source = w("workforce.hiring.source.rate")
    from retention_mcp.workspace.evidence import scope_warning

    rate: float | None = None
    if turnover_evidence_id is not None:
        record = job.evidence_input(turnover_evidence_id, argument="turnover_evidence_id",
                                    tools=("turnover_breakdown",))
        rate, heads = breakdown_rate(record, group)
        if current_headcount is None:
            current_headcount = round(heads)
        source = w("workforce.hiring.source.breakdown", id=record.id,
                   group=(group or "").strip() or w("workforce.hiring.source.everyone"))
        if (partial := scope_warning(record, w.language, job.settings)) is not None:
            source += w.paren(partial)
    elif forecast_evidence_id is not None:
        record = job.evidence_input(forecast_evidence_id, argument="forecast_evidence_id", tools=("forecast_leavers",))
        figures = record.figures
        label = (group or "Overall").strip()
        expected_leavers = figures.get(f"expected leavers 12 mo: {label}")
        heads = figures.get(f"headcount: {label}", figures.get("headcount now") if label == "Overall" else None)
        if expected_leavers is None or heads is None:
            known = sorted(key.split(": ", 1)[1] for key in figures if key.startswith("expected leavers 12 mo: "))
            raise InputError(f"forecast {record.id} has no 12-month figure for {label!r}; groups: {', '.join(known)}")
        if label == "Overall" and figures.get("expected leavers 12 mo low") is not None:
            interval = (float(figures["expected leavers 12 mo low"]), float(figures["expected leavers 12 mo high"]))
        if current_headcount is None:
            current_headcount = int(heads)
        source = w("workforce.hiring.source.forecast", id=record.id, group=label)
        if (partial := scope_warning(record, w.language, job.settings)) is not None:
            source += w.paren(partial)
    elif expected_leavers is not None:
        source = w("workforce.hiring.source.leavers")
    if current_headcount is None:
        raise InputError("current_headcount is needed (people in the role now, e.g. 100)")
    if expected_turnover_rate is not None:
        rate = parse_rate_argument("expected_turnover_rate", expected_turnover_rate)
    elif rate is None:
        if current_headcount <= 0:
            raise InputError("current_headcount must be above 0 to turn expected leavers into a rate")
        rate = float(expected_leavers) / current_headcount  # type: ignore[arg-type]
    result = workforce.hiring_forecast(
        current_headcount=current_headcount, expected_turnover_rate=rate, new_positions=new_positions,
        probation_pass_rate=parse_rate_argument("probation_pass_rate", probation_pass_rate),
        leavers_interval=interval, source=source, w=w,
    )
    named = {"hires_needed": (result.hires_needed, "count"), "hires_needed_low": (result.hires_needed_low, "count"),
             "hires_needed_high": (result.hires_needed_high, "count"),
             "replacement_hires": (result.replacement_hires, "count"),
             "expected_turnover_rate": (result.expected_turnover_rate, "fraction"),
             "current_headcount": (current_headcount, "count")}
    figures = {name: value for name, (value, _) in named.items() if value is not None}
    units = {name: unit for name, (value, unit) in named.items() if value is not None}
    return job.output(result, workforce.hiring_text(result, w), figures=figures, units=units,
                      definition=w("workforce.hiring.definition"))


def breakdown_rate(record: Any, group: str | None) -> tuple[float, float]:
    """(annual rate, headcount) of the overall population or of ``group`` in a turnover_breakdown's figures: the
    annualised rate when the period was not 12 months."""
    figures = record.figures
    if group is None or not group.strip():
        rate = figures.get("overall_annualised_rate", figures.get("overall_rate"))
        heads = figures.get("overall_headcount")
    else:
        label = group.strip()
        rate = figures.get(f"annualised_rate[{label}]", figures.get(f"rate[{label}]"))
        heads = figures.get(f"headcount[{label}]")
        if rate is None:
            known = [k[5:-1] for k in figures if k.startswith("rate[")]
            raise InputError(f"evidence {record.id} has no group {label!r}; its groups: {', '.join(known) or 'none'}")
    if not isinstance(rate, int | float) or not isinstance(heads, int | float):
        raise InputError(f"evidence {record.id} has no rate and headcount to forecast from; re-run turnover_breakdown "
                         "and pass its new evidence_id")
    return float(rate), float(heads)

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
    headcount: Annotated[float, Field(description="employees in the group the program covers, e.g. 200 "
                                                  "(estimate_impact's headcount)")],
    current_turnover_rate: Annotated[Rate, Field(description=f"annual turnover now (estimate_impact's "
                                                             f"current_overall_rate); {RATE_HINT}")],
    target_turnover_rate: Annotated[Rate, Field(description=f"annual turnover the program aims for, e.g. "
                                                            f"estimate_impact's new_overall_rate; {RATE_HINT}")],
    average_annual_cost: Annotated[float, Field(
        description="average annual cost per employee (salary, or fully loaded), one currency, e.g. 60000 "
                    "(describe_groups' average_annual_cost: a group's mean pay, monthly pay × 12)")],
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
    chart: Annotated[bool, Field(description="Also return a PNG of the low/base/high scenarios")] = False,
    language: LanguageArg = None,
) -> ToolOutput:
    """Put a defensible number on a retention program: ROI, benefit/cost ratio, payback, NPV, scenarios.

    Use it for the ROI part of a retention plan. Avoided leavers = headcount × (current − target turnover);
    retention savings = avoided leavers × replacement_cost_multiplier × average_annual_cost; plus productivity
    FTEs × average annual cost and other annual benefits. Reports `roi` = (benefit − cost) ÷ cost AND
    `benefit_cost_ratio` = benefit ÷ cost (a "3× return" usually means the latter), payback month, NPV,
    break-even reduction, low/base/high scenarios and a ±20% sensitivity table. Quote the returned `formula`.
    From estimate_impact: headcount, current_turnover_rate = its current_overall_rate, target_turnover_rate = its
    new_overall_rate (its calculate_roi_inputs); average_annual_cost from describe_groups (annualised mean pay).
    Example: headcount=200, current_turnover_rate='12.6%', target_turnover_rate='10%', average_annual_cost=60000,
    cost_preset='frontline', program_cost_one_off=80000, program_cost_annual=40000, benefit_ramp_months=3.
    """
    from retention_mcp.analysis import roi
    from retention_mcp.catalog import load_catalog

    w = job.words(language)
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
    result = roi.calculate_roi(inputs, band=band, multiplier_source=source, currency=currency.strip()[:12], w=w)
    png = None
    if chart:
        from retention_mcp.report.charts import roi_scenarios_chart

        png = roi_scenarios_chart([w.option("roi.scenario_names", s.name) for s in result.scenarios],
                                  benefit=[s.total_benefit for s in result.scenarios],
                                  cost=[s.total_cost for s in result.scenarios],
                                  title=w("charts.roi_title_horizon", months=result.horizon_months),
                                  currency=result.currency, language=w.language)
    text, images = with_chart(roi.roi_text(result, w), png, chart, w=w)
    figures = {name: getattr(result, name) for name in ("roi", "benefit_cost_ratio", "net_benefit", "npv",
                                                         "payback_month", "avoided_leavers_per_year",
                                                         "total_benefit", "total_cost")}
    return job.output(result, text, figures=figures, images=images, definition=result.formula)


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
            night_until_hour=night_until_hour, night_limit=night_limit, min_group_size=job.policy.floor, w=w)
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
    current_headcount: Annotated[int | None, Field(description="people in the role now, e.g. 100")] = None,
    expected_turnover_rate: Annotated[Rate | None, Field(description=f"expected turnover over the plan period; "
                                                                     f"{RATE_HINT}")] = None,
    expected_leavers: Annotated[float | None, Field(ge=0, description="expected leavers in the period")] = None,
    forecast_evidence_id: Annotated[str | None, Field(description="a forecast_leavers evidence_id")] = None,
    group: Annotated[str | None, Field(description="a group label of that forecast")] = None,
    new_positions: Annotated[int, Field(description="positions added by growth")] = 0,
    probation_pass_rate: Annotated[Rate, Field(description=f"share of hires expected to pass probation; "
                                                           f"{RATE_HINT}")] = 1.0,
    language: LanguageArg = None,
) -> ToolOutput:
    """Hires needed for a period: growth plus expected leavers, grossed up for probation failures.

    hires = ⌈(new_positions + expected leavers) ÷ probation_pass_rate⌉; expected leavers = current_headcount ×
    expected_turnover_rate, or expected_leavers, or forecast_evidence_id (forecast_leavers' 12 months, with its
    interval). Exactly one of the three. Example: current_headcount=100, expected_turnover_rate='12%',
    new_positions=50 → 62 hires.
    """
    from retention_mcp.analysis import workforce

    w = job.words(language)
    given = [name for name, value in (("expected_turnover_rate", expected_turnover_rate),
                                      ("expected_leavers", expected_leavers),
                                      ("forecast_evidence_id", forecast_evidence_id)) if value is not None]
    if len(given) != 1:
        raise InputError("give exactly one of expected_turnover_rate (e.g. '12%'), expected_leavers (e.g. 14.5) or "
                         f"forecast_evidence_id (a forecast_leavers result); got {', '.join(given) or 'none'}")
    interval = None
    source = w("workforce.hiring.source.rate")
    if forecast_evidence_id is not None:
        from retention_mcp.workspace.evidence import cited_figures, scope_warning

        figures, record = cited_figures(job.settings, forecast_evidence_id, ("forecast_leavers",), caller=job.caller)
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
    else:
        if current_headcount <= 0:
            raise InputError("current_headcount must be above 0 to turn expected leavers into a rate")
        rate = float(expected_leavers) / current_headcount  # type: ignore[arg-type]
    result = workforce.hiring_forecast(
        current_headcount=current_headcount, expected_turnover_rate=rate, new_positions=new_positions,
        probation_pass_rate=parse_rate_argument("probation_pass_rate", probation_pass_rate),
        leavers_interval=interval, source=source, w=w,
    )
    figures_out = {"hires_needed": result.hires_needed, "hires_needed_low": result.hires_needed_low,
                   "hires_needed_high": result.hires_needed_high}
    return job.output(result, workforce.hiring_text(result, w), figures=figures_out,
                      definition=w("workforce.hiring.definition"))

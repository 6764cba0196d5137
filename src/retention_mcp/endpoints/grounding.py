"""Grounding tools: describe_groups, estimate_impact, call_log_profile, list_datasets; prompt-argument completions
from the data. Plain functions of a Job; the analysis lives in ``retention_mcp.analysis`` and ``retention_mcp.data``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from retention_mcp.analysis.calls import CallProfile
from retention_mcp.analysis.impact import ImpactResult
from retention_mcp.analysis.profile import ProfileResult
from retention_mcp.data.listing import DatasetList
from retention_mcp.endpoints.turnover import (
    BinsArg,
    ColumnMapArg,
    CsvTextArg,
    HeaderRowArg,
    MinGroupArg,
    PathArg,
    ShapeArg,
    SheetArg,
    WhereArg,
    by_list,
)
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job
from retention_mcp.settings import Settings

GroupSpec = dict[str, str | float | list[str | float]]


def grounding_catalog(job: Job | None, settings: Settings | None = None) -> dict[str, Any]:
    from retention_mcp.catalog import load_catalog

    return load_catalog(job.settings if job is not None else settings, "grounding.yaml") or {}  # type: ignore[arg-type]


@tool(title="Describe groups (profile)", result=ProfileResult)
def describe_groups(
    job: Job,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    by: Annotated[list[str] | str | None, Field(
        description="Groups: column names or roles (department, job_role, shift, tenure_band); several = "
                    "a cross. Empty: the whole population")] = None,
    where: WhereArg = None,
    columns: Annotated[list[str] | None, Field(
        description="Columns to profile (numbers, Likert items, categories). Default: pay, tenure, satisfaction, "
                    "overtime, performance and survey items")] = None,
    pay_period: Annotated[Literal["auto", "monthly", "annual"], Field(
        description="Is the pay column monthly or annual? auto reads the header (MonthlyIncome = monthly)")] = "auto",
    min_group_size: MinGroupArg = None,
    bins: BinsArg = None,
    column_map: ColumnMapArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
) -> ToolOutput:
    """Profile each group: people, mean / median / SD / IQR of numbers (pay, tenure, overtime, scores) with 95%
    intervals, top-box favourability of Likert items, shares of categories — each against the rest of the
    population (Welch / Newcombe intervals). Small groups suppressed; identifying columns never shown; pay per
    person never shown, group means of pay are: this is calculate_roi's average_annual_cost (monthly pay ×12,
    said so). Shares are fractions; means in the column's unit. Example: {"path": "hr.csv", "by": ["JobRole"],
    "where": {"Department": "R&D"}}.
    """
    from retention_mcp.analysis.profile import describe_groups as profile
    from retention_mcp.analysis.profile import profile_markdown

    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, where=where)
    job.progress(0.9, "profiling groups")
    result = profile(ds, by=by_list(by), columns=columns, policy=job.policy, min_group_size=min_group_size,
                     scope=scope, bins=bins, pay_period=pay_period,
                     catalog=grounding_catalog(job).get("describe_groups") or {})
    figures: dict[str, Any] = {"people in scope": result.overall.count}
    for profile_row in [result.overall, *result.groups[:20]]:
        if profile_row.average_annual_cost is not None:
            figures[f"average annual cost: {profile_row.label}"] = profile_row.average_annual_cost
        for summary in profile_row.columns[:6]:
            if summary.mean is not None and summary.kind == "numeric":
                figures[f"mean {summary.column}: {profile_row.label}"] = summary.mean
            if summary.favourable is not None:
                figures[f"favourable {summary.column}: {profile_row.label}"] = summary.favourable
    definition = "; ".join(f"{name}: {text}" for name, text in result.definitions.items())
    return job.output(result, profile_markdown(result), figures=figures, definition=definition)


@tool(title="Estimate an initiative's impact", result=ImpactResult)
def estimate_impact(
    job: Job,
    segment: Annotated[GroupSpec | None, Field(
        description="The group the initiative targets: {column or role: value or [values]}, e.g. "
                    "{\"OverTime\": \"Yes\"}, {\"shift\": \"night\"}, {\"tenure_band\": \"<=3 months\"} (default: "
                    "the initiative's usual group)")] = None,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    reference: Annotated[GroupSpec | None, Field(
        description="Scenario 1: the segment leaves at this group's rate, e.g. {\"OverTime\": \"No\"}")] = None,
    reduction: Annotated[float | str | None, Field(
        description="Scenario 2: the segment's rate falls by this fraction: 0.3 or '30%'")] = None,
    initiative: Annotated[str | None, Field(
        description="Scenario 3: a catalog initiative, e.g. flexible_work, structured_onboarding, stay_interviews "
                    "(its sourced or assumed reduction)")] = None,
    where: WhereArg = None,
    period_start: Annotated[str | None, Field(description="Event data: first day of the period (default: 12 "
                                              "months before period_end)")] = None,
    period_end: Annotated[str | None, Field(description="Event data: last day (default: latest date)")] = None,
    denominator: Annotated[Literal["average", "begin_end", "start"], Field(
        description="Event data headcount, as turnover_breakdown")] = "average",
    separation_type: Annotated[Literal["all", "voluntary", "involuntary", "regretted"], Field(
        description="Which leavers count")] = "all",
    min_group_size: MinGroupArg = None,
    column_map: ColumnMapArg = None,
    shape: ShapeArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
) -> ToolOutput:
    """Expected effect of an initiative stated as a change in the data: the segment's turnover moves to a
    reference group's rate, or falls by a fraction. Returns leavers avoided per year, the new overall rate and
    Levin's attributable fraction, each with a 95% interval (both rates' uncertainty propagated), using
    turnover_breakdown's definitions; rates are annual fractions. initiative= takes the reduction, its sources and
    low/base/high from the initiative catalog. Feeds calculate_roi: headcount,
    current_overall_rate → current_turnover_rate, new_overall_rate → target_turnover_rate. An association, not a
    proven cause.
    Example: {"path": "hr.csv", "segment": {"OverTime": "Yes"}, "reference": {"OverTime": "No"}}.
    """
    from retention_mcp.analysis.impact import estimate_impact as impact
    from retention_mcp.analysis.impact import impact_markdown

    entry = raw = None
    if initiative is not None:
        from retention_mcp.analysis.initiatives import find_initiative, load_initiatives
        from retention_mcp.catalog import load_catalog
        from retention_mcp.errors import InputError

        if reduction is not None or reference is not None:
            raise InputError("initiative sets the reduction from the catalog: leave out reduction and reference")
        raw = load_catalog(job.settings, "initiatives.yaml")
        entry = find_initiative(load_initiatives(raw), initiative)
        reduction = entry.effect.base
        segment = segment or entry.default_segment
    if segment is None:
        from retention_mcp.errors import InputError

        raise InputError("segment is needed: the group the initiative targets, e.g. {\"shift\": \"night\"}")
    if reduction is not None and entry is None:
        from retention_mcp.endpoints.workforce import parse_rate_argument

        reduction = parse_rate_argument("reduction", reduction)
    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, shape=shape,
                            where=where)
    job.progress(0.9, "estimating impact")
    result = impact(ds, segment=segment, reference=reference, reduction=reduction, policy=job.policy, scope=scope,
                    min_group_size=min_group_size, period_start=period_start, period_end=period_end,
                    denominator=denominator, separation_type=separation_type)
    if entry is not None:
        from retention_mcp.analysis.initiatives import initiative_used

        result.initiative = initiative_used(entry, raw or {}, avoided_base=result.avoided_leavers,
                                            current_rate=result.current_overall_rate,
                                            new_rate_base=result.new_overall_rate)
    figures = {"avoided leavers per year": result.avoided_leavers, "current overall rate": result.current_overall_rate,
               "new overall rate": result.new_overall_rate, "headcount": result.calculate_roi_inputs.headcount,
               "segment rate": result.segment.rate, "impact fraction": result.impact_fraction, "PAF": result.paf}
    if result.reference is not None:
        figures["reference rate"] = result.reference.rate
    if result.initiative is not None:
        for scenario in result.initiative.scenarios:
            figures[f"avoided leavers per year ({scenario.scenario})"] = scenario.avoided_leavers
            figures[f"new overall rate ({scenario.scenario})"] = scenario.new_overall_rate
    return job.output(result, impact_markdown(result), figures=figures,
                      definition=f"{result.definition.formula}; {result.method}")


@tool(title="Call-log profile (staffing and KPI baselines)", result=CallProfile)
def call_log_profile(
    job: Job,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    where: WhereArg = None,
    interval_minutes: Annotated[Literal[15, 30, 60], Field(description="Arrival interval length, minutes")] = 30,
    answer_within_seconds: Annotated[float, Field(gt=0, le=3600, description="Service-level threshold, seconds "
                                                  "(the 20 of 80/20)")] = 20,
    column_map: ColumnMapArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
) -> ToolOutput:
    """Profile a call log (one row per call): arrivals per interval by weekday and time of day (mean calls over
    the days observed), the peak intervals, answer rate, service level within answer_within_seconds (of answered
    calls, and of all offered calls), AHT and ASA in seconds, CSAT distribution, resolution. Returns
    erlang_staffing's inputs (calls at the peak, aht_seconds) and build_kpis baselines by KPI id. Agents are never
    named. Example: {"path": "calls.csv", "interval_minutes": 30, "answer_within_seconds": 20}.
    """
    from retention_mcp.analysis.calls import call_log_profile as profile
    from retention_mcp.analysis.calls import call_profile_markdown

    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, kind="calls",
                            where=where)
    job.progress(0.9, "profiling calls")
    result = profile(ds, scope=scope, interval_minutes=interval_minutes, answer_within_seconds=answer_within_seconds,
                     catalog=grounding_catalog(job).get("call_log") or {})
    figures: dict[str, Any] = {"calls": result.calls_offered, "answer rate": result.answer_rate,
                               "service level (answered)": result.service_level_answered,
                               "service level (offered)": result.service_level_offered,
                               "AHT seconds": result.aht_seconds, "ASA seconds": result.asa_seconds,
                               "CSAT mean": result.csat_mean}
    if result.erlang_inputs is not None:
        figures["peak calls per interval"] = result.erlang_inputs.calls
    return job.output(result, call_profile_markdown(result), figures=figures, definition=" ".join(result.definitions))


@tool(title="List data files", result=DatasetList, evidence=False)
def list_datasets(
    job: Job,
    folder: Annotated[str | None, Field(description="Only this subfolder of the data folders, e.g. 'exports/2025'")]
    = None,
) -> ToolOutput:
    """The files in the server's data folders: name (the `path` other tools take), size, modified time, and
    the shape detected from the header row alone — hr_event (hire/termination dates), hr_snapshot (a leaver flag),
    call_log, roster or unknown — with the tool to read it next. No file contents or values are read or shown.
    Call it first when you do not know the file names. Example: {} or {"folder": "2025"}.
    """
    from retention_mcp.data.listing import list_data_files, listing_markdown

    result = list_data_files(job.settings, folder=folder, catalog=grounding_catalog(job).get("list_datasets") or {})
    return job.output(result, listing_markdown(result))


# -- completions from the data


def group_completions(*, settings: Settings, progress: Any, argument: str, prefix: str) -> list[str]:
    """Worker entry point: values for a prompt argument from the most recently read HR file (see
    :mod:`retention_mcp.data.recent`), or file names for a file argument."""
    from retention_mcp.data.completions import complete_from_data

    return complete_from_data(settings, argument, prefix,
                              grounding_catalog(None, settings).get("completions") or {},
                              grounding_catalog(None, settings).get("list_datasets") or {})


def register(wiring: Any) -> None:
    """A completer for prompt arguments that name a group (employee_group ...) or a file (agent_data)."""
    settings = wiring.settings
    from mcp.types import Completion, PromptReference

    def known_arguments() -> set[str]:
        try:
            completions = grounding_catalog(None, settings).get("completions") or {}
        except (OSError, ValueError):
            return set()
        return set(completions.get("group_arguments") or {}) | set(completions.get("file_arguments") or {})

    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if not isinstance(ref, PromptReference) or argument.name not in known_arguments():
            return None
        try:
            values = await wiring.runtime.run("retention_mcp.endpoints.grounding:group_completions",
                                       {"argument": argument.name, "prefix": argument.value or ""})
        except Exception:  # a completion is a convenience: never an error for the client
            import logging

            logging.getLogger(__name__).debug("completion from the data failed", exc_info=True)
            return None
        values = list(values or [])
        return Completion(values=values[:100], total=len(values), has_more=len(values) > 100)

    wiring.completers.append(complete)

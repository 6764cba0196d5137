"""Grounding tools: describe_groups, estimate_impact, call_log_profile, list_datasets; prompt-argument completions
from the data. Plain functions of a Job; the analysis lives in ``retention_mcp.analysis`` and ``retention_mcp.data``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from retention_mcp.analysis.calls import CallProfile
from retention_mcp.analysis.combined_impact import CombinedImpactResult
from retention_mcp.analysis.impact import ImpactResult
from retention_mcp.analysis.profile import ProfileResult
from retention_mcp.data.listing import DatasetList
from retention_mcp.endpoints.turnover import (
    BinsArg,
    ColumnMapArg,
    CsvTextArg,
    HeaderRowArg,
    LanguageArg,
    MinGroupArg,
    PathArg,
    SeparationArg,
    ShapeArg,
    SheetArg,
    WhereArg,
    by_list,
    definition_period,
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
    language: LanguageArg = None,
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

    w = job.words(language)
    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, where=where)
    job.progress(0.9, "profiling groups")
    result = profile(ds, by=by_list(by), columns=columns, policy=job.policy, min_group_size=min_group_size,
                     scope=scope, bins=bins, pay_period=pay_period,
                     catalog=grounding_catalog(job).get("describe_groups") or {}, w=w)
    figures: dict[str, Any] = {"people": result.overall.count}
    units = {"people": "count"}
    for profile_row in [result.overall, *result.groups[:20]]:
        label = profile_row.label
        named = [(f"people[{label}]", profile_row.count, "count"),
                 (f"average_annual_cost[{label}]", profile_row.average_annual_cost, "money")]
        for summary in profile_row.columns[:6]:
            if summary.kind == "numeric":
                named.append((f"mean[{summary.column}, {label}]", summary.mean, "number"))
            named.append((f"favourable[{summary.column}, {label}]", summary.favourable, "fraction"))
        for name, value, unit in named:
            if value is not None:
                figures[name], units[name] = value, unit
    definition = w.semicolon.join(f"{name}{w.colon}{text}" for name, text in result.definitions.items())
    return job.output(result, profile_markdown(result, w=w), figures=figures, units=units, definition=definition)


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
    separation_type: SeparationArg = "all",
    min_group_size: MinGroupArg = None,
    column_map: ColumnMapArg = None,
    shape: ShapeArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    language: LanguageArg = None,
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
    w = job.words(language)
    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, shape=shape,
                            where=where)
    job.progress(0.9, "estimating impact")
    result = impact(ds, segment=segment, reference=reference, reduction=reduction, policy=job.policy, scope=scope,
                    min_group_size=min_group_size, period_start=period_start, period_end=period_end,
                    denominator=denominator, separation_type=separation_type, w=w)
    if entry is not None:
        from retention_mcp.analysis.initiatives import initiative_used

        result.initiative = initiative_used(entry, raw or {}, avoided_base=result.avoided_leavers,
                                            current_rate=result.current_overall_rate,
                                            new_rate_base=result.new_overall_rate, language=w.language)
    figures, units = impact_figures(result)
    if result.initiative is not None:
        for scenario in result.initiative.scenarios:
            for key, value, unit in (("initiative_avoided_leavers", scenario.avoided_leavers, "count"),
                                     ("initiative_new_overall_rate", scenario.new_overall_rate, "fraction")):
                figures[f"{key}[{scenario.scenario}]"], units[f"{key}[{scenario.scenario}]"] = value, unit
    return job.output(result, impact_markdown(result, w=w), figures=figures, units=units,
                      definition=f"{result.definition.formula}{w.semicolon}{result.method}",
                      period=definition_period(result.definition, job))


@tool(title="Estimate several initiatives together", result=CombinedImpactResult)
def estimate_combined_impact(
    job: Job,
    initiatives: Annotated[list[dict[str, Any]], Field(min_length=2, max_length=6, description=(
        "{name, segment, and reduction, reference or a catalog initiative} each, as estimate_impact takes them"))],
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    overlap: Annotated[Literal["multiply", "largest"], Field(
        description="someone in several segments: 'multiply' (30% and 20% make 44%) or 'largest'")] = "multiply",
    where: WhereArg = None,
    period_start: Annotated[str | None, Field(description="as estimate_impact")] = None,
    period_end: Annotated[str | None, Field(description="as estimate_impact")] = None,
    denominator: Literal["average", "begin_end", "start"] = "average",
    separation_type: Literal["all", "voluntary", "involuntary", "regretted"] = "all",
    min_group_size: MinGroupArg = None,
    column_map: ColumnMapArg = None,
    shape: ShapeArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    language: LanguageArg = None,
) -> ToolOutput:
    """Several initiatives on one population, each person counted once: leavers avoided a year with one 95%
    interval, what adding them up would double count, the new overall rate; feeds calculate_roi. Example:
    {"path": "hr.csv", "initiatives": [{"segment": {"shift": "night"}, "reduction": 0.3}, {"initiative":
    "mentoring"}]}.
    """
    from retention_mcp.analysis.combined_impact import combined_markdown, estimate_combined

    w = job.words(language)
    lang = w.language
    initiatives, from_catalog = catalog_initiatives(job, initiatives, lang)
    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, shape=shape, where=where)
    job.progress(0.9, "combining initiatives")
    result, definition = estimate_combined(ds, initiatives=initiatives, policy=job.policy, overlap=overlap,
                                           scope=scope, min_group_size=min_group_size, period_start=period_start,
                                           period_end=period_end, denominator=denominator,
                                           separation_type=separation_type, language=lang)
    result.notes += from_catalog
    figures, units = impact_figures(result)
    for item in result.initiatives:
        figures[f"avoided_alone[{item.name}]"], units[f"avoided_alone[{item.name}]"] = item.avoided_alone, "count"
        figures[f"segment_rate[{item.name}]"], units[f"segment_rate[{item.name}]"] = item.segment_rate, "fraction"
        figures[f"reduction[{item.name}]"], units[f"reduction[{item.name}]"] = item.reduction, "fraction"
    for name, unit in (("sum_of_single", "count"), ("double_counted", "count"), ("headcount_in_several", "count")):
        figures[name], units[name] = getattr(result, name), unit
    return job.output(result, combined_markdown(result, lang), figures=figures, units=units,
                      definition=w.semicolon.join((definition.formula, w(f"plan.combined.rule.{overlap}"),
                                                 result.method)),
                      period=definition_period(definition, job))


def catalog_initiatives(job: Job, items: list[dict[str, Any]], language: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Items naming a catalog initiative (``{"initiative": "structured_onboarding"}``) with its base reduction and,
    unless given, its usual segment and name; and a note per initiative saying where its effect comes from."""
    from retention_mcp.errors import InputError

    if not any(isinstance(item, dict) and item.get("initiative") for item in items):
        return items, []
    from retention_mcp.analysis.initiatives import find_initiative, load_initiatives
    from retention_mcp.catalog import load_catalog
    from retention_mcp.wording import words

    w = words(language, job.settings)
    catalog_raw = load_catalog(job.settings, "initiatives.yaml")
    catalog = load_initiatives(catalog_raw)
    out, notes = [], []
    for item in items:
        if not isinstance(item, dict) or not item.get("initiative"):
            out.append(item)
            continue
        if item.get("reduction") is not None or item.get("reference") is not None:
            raise InputError("an initiative from the catalog sets its own reduction: leave out reduction and reference")
        entry = find_initiative(catalog, str(item["initiative"]))
        segment = item.get("segment") or entry.default_segment
        if not segment:
            raise InputError(f"initiative {entry.id} has no usual segment: give segment, e.g. {{\"shift\": \"night\"}}")
        name = item.get("name") or (entry.name_zh if language == "zh" else entry.name_en)
        out.append({"name": name, "segment": segment, "reduction": entry.effect.base})
        strength = ((catalog_raw.get("strength_levels") or {}).get(entry.strength) or {}).get(language)
        notes.append(w(f"plan.combined.catalog_note.{entry.effect.kind}" if
                       f"plan.combined.catalog_note.{entry.effect.kind}" in w else "plan.combined.catalog_note.other",
                       name=name, id=entry.id, kind=entry.effect.kind, base=f"{entry.effect.base:.0%}",
                       low=f"{entry.effect.low:.0%}", high=f"{entry.effect.high:.0%}",
                       strength=strength or entry.strength))
    return out, notes


#: An impact estimate's figures: name -> (attribute path on the result, unit). calculate_roi reads the interval.
IMPACT_FIGURES = {
    "avoided_leavers": ("avoided_leavers", "count"), "avoided_leavers_low": ("avoided_ci_low", "count"),
    "avoided_leavers_high": ("avoided_ci_high", "count"), "current_overall_rate": ("current_overall_rate", "fraction"),
    "new_overall_rate": ("new_overall_rate", "fraction"), "new_overall_rate_low": ("new_overall_ci_low", "fraction"),
    "new_overall_rate_high": ("new_overall_ci_high", "fraction"), "reduction_pp": ("reduction_pp", "pp"),
    "headcount": ("calculate_roi_inputs.headcount", "count"), "segment_rate": ("segment.rate", "fraction"),
    "segment_headcount": ("segment.headcount", "count"), "segment_leavers": ("segment.leavers", "count"),
    "segment_new_rate": ("segment_new_rate", "fraction"), "reference_rate": ("reference.rate", "fraction"),
    "impact_fraction": ("impact_fraction", "fraction"), "impact_fraction_low": ("impact_fraction_ci_low", "fraction"),
    "impact_fraction_high": ("impact_fraction_ci_high", "fraction"), "paf": ("paf", "fraction"),
    "relative_risk": ("relative_risk", "ratio"),
}


def impact_figures(result: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The figures of an impact estimate (one initiative or several combined) with their units."""
    figures, units = {}, {}
    for name, (path, unit) in IMPACT_FIGURES.items():
        value: Any = result
        for part in path.split("."):
            value = getattr(value, part, None)
        if value is not None:
            figures[name], units[name] = value, unit
    figures["significant"], units["significant"] = str(result.significant).lower(), "text"
    return figures, units


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
    language: LanguageArg = None,
) -> ToolOutput:
    """Profile a call log (one row per call): arrivals per interval by weekday and time of day (mean calls over
    the days observed), the peak intervals, answer rate, service level within answer_within_seconds (of answered
    calls, and of all offered calls), AHT and ASA in seconds, CSAT distribution, resolution. Returns
    erlang_staffing's inputs (calls at the peak, aht_seconds) and build_kpis baselines by KPI id. Agents are never
    named. Example: {"path": "calls.csv", "interval_minutes": 30, "answer_within_seconds": 20}.
    """
    from retention_mcp.analysis.calls import call_log_profile as profile
    from retention_mcp.analysis.calls import call_profile_markdown

    w = job.words(language)
    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, kind="calls",
                            where=where)
    job.progress(0.9, "profiling calls")
    result = profile(ds, scope=scope, interval_minutes=interval_minutes, answer_within_seconds=answer_within_seconds,
                     catalog=grounding_catalog(job).get("call_log") or {}, w=w, policy=job.policy)
    named = {"calls": (result.calls_offered, "count"), "answer_rate": (result.answer_rate, "fraction"),
             "service_level_answered": (result.service_level_answered, "fraction"),
             "service_level_offered": (result.service_level_offered, "fraction"),
             "aht_seconds": (result.aht_seconds, "seconds"), "asa_seconds": (result.asa_seconds, "seconds"),
             "csat_mean": (result.csat_mean, "number"), "resolution_rate": (result.resolution_rate, "fraction"),
             "peak_calls_per_interval": (result.erlang_inputs.calls if result.erlang_inputs else None, "number"),
             # the definitions of the figures above (service level within N seconds, calls per N-minute interval)
             "answer_within_seconds": (result.answer_within_seconds, "seconds"),
             "interval_minutes": (result.interval_minutes, "number")}
    figures = {name: value for name, (value, _) in named.items() if value is not None}
    units = {name: unit for name, (value, unit) in named.items() if value is not None}
    for baseline in result.kpi_baselines:  # build_kpis(baselines_from=[this evidence id]) reads these
        key = f"kpi_baseline[{baseline.id}]"
        figures[key], units[key] = baseline.baseline, KPI_BASELINE_UNITS.get(baseline.source, "number")
    return job.output(result, call_profile_markdown(result, w=w), figures=figures, units=units,
                      definition=("" if w.zh else " ").join(result.definitions))


#: The unit of a KPI baseline by the call-log figure it comes from (fractions become points of a percent KPI).
KPI_BASELINE_UNITS = {"answer_rate": "percent", "unanswered_rate": "percent", "service_level_offered": "percent",
                      "service_level_answered": "percent", "resolution_rate": "percent", "asa_seconds": "seconds",
                      "aht_seconds": "seconds", "csat_mean": "number"}


@tool(title="List data files", result=DatasetList, evidence=False)
def list_datasets(
    job: Job,
    folder: Annotated[str | None, Field(description="Only this subfolder of the data folders, e.g. 'exports/2025'")]
    = None,
    language: LanguageArg = None,
) -> ToolOutput:
    """The files in the server's data folders: name (the `path` other tools take), size, modified time, and
    the shape detected from the header row alone — hr_event (hire/termination dates), hr_snapshot (a leaver flag),
    call_log, roster or unknown — with the tool to read it next — and the linked datasets saved with dataset_link
    (their name is a `path` too). No file contents or values are read or shown. Call it first when you do not know
    the file names. Example: {} or {"folder": "2025"}.
    """
    from retention_mcp.data.listing import LinkedEntry, list_data_files, listing_markdown
    from retention_mcp.workspace.engine import workspace_exists

    w = job.words(language)
    result = list_data_files(job.settings, folder=folder, catalog=grounding_catalog(job).get("list_datasets") or {},
                             w=w)
    saved = job.workspace().list_datasets() if workspace_exists(job.settings) else []  # creates no database
    result.linked = [LinkedEntry(name=d.name, version=d.version, files=[f["path"] for f in d.definition["files"]],
                                 saved_by=d.author, saved_at=d.created_at.isoformat()) for d in saved]
    return job.output(result, listing_markdown(result, w=w))


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

"""Outside figures: compare_benchmarks (a rate beside published turnover figures) and cost_per_leaver (pay from the
file or sourced public wages, times the sourced replacement-cost bands). Catalogs in ``tools/``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from retention_mcp.analysis.benchmarks import BenchmarkResult
from retention_mcp.analysis.leaver_cost import LeaverCostResult
from retention_mcp.endpoints.turnover import (
    ColumnMapArg,
    CsvTextArg,
    HeaderRowArg,
    LanguageArg,
    PathArg,
    SheetArg,
    WhereArg,
)
from retention_mcp.endpoints.workforce import RATE_HINT, Rate, parse_rate_argument
from retention_mcp.errors import InputError
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job


def _company_rate(job: Job, evidence_id: str, group: str | None, language: str) -> tuple[float, str, int | None,
                                                                                         list[str], str]:
    """(annual rate, measure, year, warnings, source) from a turnover_breakdown result."""
    from retention_mcp.analysis.benchmarks import parse_benchmarks
    from retention_mcp.catalog import load_catalog
    from retention_mcp.wording import words as words_of
    from retention_mcp.workspace.evidence import scope_warning

    record = job.evidence_input(evidence_id, argument="evidence_id", tools=("turnover_breakdown",))
    figures = dict(record.figures or {})
    w = words_of(language, job.settings)
    words = parse_benchmarks(load_catalog(job.settings, "benchmarks.yaml")).warnings
    lang = w.language
    separation = str((record.arguments or {}).get("separation_type") or "all")
    if separation == "regretted":
        raise InputError("regretted-leaver rates have no published benchmark; compare the all or voluntary rate")
    period = record.period or {}  # the period it was computed for, stored resolved with the evidence
    months = period.get("months") if period.get("kind") == "period" else None
    warnings: list[str] = []
    if (partial := scope_warning(record, lang, job.settings)) is not None:
        warnings.append(partial)  # a department's rate is not the company's: whoever compares it is told
    if group:
        key = f"rate[{group}]"
        if figures.get(key) is None:
            known = sorted(k[5:-1] for k in figures if k.startswith("rate["))
            raise InputError(f"evidence {record.id} has no rate for {group!r}; groups: {', '.join(known)}")
        rate = float(figures[key])
        label = w("benchmarks.group_of", id=record.id, group=group)
        if months and float(months) != 12:
            rate = rate * 12 / float(months)
    else:
        rate = float(figures.get("overall_annualised_rate") or figures["overall_rate"])
        label = w("benchmarks.overall_of", id=record.id)
    if months and float(months) != 12:
        warnings.append(words["sub_year"][lang].format(months=f"{float(months):g}"))
    end = period.get("end") if period.get("kind") == "period" else None
    if end is None:
        warnings.append(words["snapshot"][lang])
    year = int(str(end)[:4]) if end else None
    return rate, separation, year, warnings, label


@tool(title="Compare a turnover rate with published benchmarks", result=BenchmarkResult)
def compare_benchmarks(
    job: Job,
    rate: Annotated[Rate | None, Field(description=f"your annual turnover rate; {RATE_HINT}")] = None,
    evidence_id: Annotated[str | None, Field(description="or a turnover_breakdown evidence_id")] = None,
    group: Annotated[str | None, Field(description="a group label of that breakdown")] = None,
    measure: Annotated[Literal["all", "voluntary", "involuntary", "early"] | None, Field(
        description="which leavers (default: all, or the breakdown's)")] = None,
    region: Annotated[str | None, Field(description="e.g. 'China', '中国', 'US'")] = None,
    industry: Annotated[str | None, Field(description="e.g. 'software', '制造业', '客服'")] = None,
    year: Annotated[int | None, Field(ge=1990, le=2100, description="year of your rate")] = None,
    limit: Annotated[int, Field(ge=1, le=12, description="most figures shown")] = 6,
    language: LanguageArg = None,
) -> ToolOutput:
    """Is our turnover high? Your annual rate (or a turnover_breakdown evidence_id) beside the closest comparable
    published figures — same measure, region, industry, nearest year — on an annual basis (JOLTS × 12, shown), with
    source, year, verification and warnings where definitions differ. Context, not targets.
    Example: {"rate": "29.7%", "region": "China", "industry": "software", "year": 2025}.
    """
    from retention_mcp.analysis.benchmarks import benchmark_markdown, compare, parse_benchmarks
    from retention_mcp.catalog import load_catalog

    w = job.words(language)
    language = w.language
    if (rate is None) == (evidence_id is None):
        raise InputError("give exactly one of rate (e.g. '29.7%') or evidence_id (a turnover_breakdown result)")
    warnings: list[str] = []
    if evidence_id is not None:
        value, separation, found_year, warnings, source = _company_rate(job, evidence_id, group, language)
        measure = measure or separation
        year = year or found_year
    else:
        if group:
            raise InputError("group picks a group of a breakdown: give it with evidence_id")
        value, source = parse_rate_argument("rate", rate), "given"  # type: ignore[arg-type]
    catalog = parse_benchmarks(load_catalog(job.settings, "benchmarks.yaml"))
    result = compare(catalog, rate=value, measure=measure or "all", region=region, industry=industry, year=year,
                     limit=limit, language=language, source=source, company_warnings=warnings)
    figures: dict[str, Any] = {"company rate": result.company.rate}
    for item in result.comparisons:
        figures[f"benchmark {item.id}"] = item.annual_value
    return job.output(result, benchmark_markdown(result, language), figures=figures,
                      definition=w("benchmarks.definition"))


@tool(title="Cost of a leaver", result=LeaverCostResult)
def cost_per_leaver(
    job: Job,
    cost_preset: Annotated[str, Field(description="role family: frontline, professional, technical, manager, "
                                                  "executive (or 客服, 研发 …)")],
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    where: WhereArg = None,
    pay_period: Annotated[Literal["auto", "monthly", "annual"], Field(description="file pay period")] = "auto",
    average_annual_cost: Annotated[float | None, Field(gt=0, description="instead of a file")] = None,
    industry: Annotated[str | None, Field(description="public wage of an industry, e.g. '软件'")] = None,
    occupation: Annotated[str | None, Field(description="…or an occupation, e.g. managers, clerical")] = None,
    region: Annotated[str | None, Field(description="'中国' (default), '东部', 'US'")] = None,
    ownership: Annotated[Literal["non_private", "private"], Field(description="China: unit type")] = "non_private",
    leavers: Annotated[float | None, Field(ge=0, description="leavers to cost, e.g. forecast_leavers'")] = None,
    currency: Annotated[str, Field(description="e.g. 'CNY'")] = "",
    column_map: ColumnMapArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    language: LanguageArg = None,
) -> ToolOutput:
    """Cost of one leaver: annual pay (the file's mean pay, else a sourced public wage by industry or occupation,
    marked EXTERNAL) × the role family's sourced multipliers, low/base/high; with leavers, their yearly cost. Feeds
    calculate_roi. Example: {"industry": "软件", "cost_preset": "technical", "leavers": 16.6}.
    """
    from retention_mcp.analysis.leaver_cost import AnnualCost, external_wage, leaver_cost, leaver_cost_markdown
    from retention_mcp.catalog import load_catalog

    given = [name for name, value in (("path", path), ("csv_text", csv_text),
                                      ("average_annual_cost", average_annual_cost)) if value is not None]
    if len(given) > 1:
        raise InputError(f"give one cost basis: a file (path or csv_text), average_annual_cost, or industry/occupation "
                         f"for a public wage; got {', '.join(given)}")
    if (industry or occupation or region) and given:
        raise InputError("industry/occupation/region pick a public wage when there is no pay of your own: leave them "
                         "out when you give a file or average_annual_cost")
    w = job.words(language)
    notes: list[str] = []
    annual: AnnualCost | None = None
    if path is not None or csv_text is not None:
        from retention_mcp.analysis.profile import describe_groups
        from retention_mcp.endpoints.grounding import grounding_catalog

        ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                                column_map=column_map, where=where)
        pay_column = ds.roles.get("pay")
        if pay_column is None:
            raise InputError("the file has no pay column (name one with column_map, e.g. {\"pay\": \"Salary\"}); or "
                             "drop the file and give industry/occupation for a public average wage, or "
                             "average_annual_cost")
        profile = describe_groups(ds, by=[], columns=[pay_column], policy=job.policy, scope=scope,
                                  pay_period=pay_period, catalog=grounding_catalog(job).get("describe_groups") or {},
                                  w=w)
        overall = profile.overall
        if overall.suppressed or overall.average_annual_cost is None:
            raise InputError(f"no annual pay from {pay_column!r}: " + (profile.pay.note if profile.pay else
                             "the group is suppressed") + " (say pay_period='monthly' or 'annual')")
        annual = AnnualCost(value=overall.average_annual_cost, currency=currency.strip()[:12], origin="file",
                            description=w("leaver_cost.file_mean", column=pay_column,
                                          factor=f"{profile.pay.annual_factor:g}",
                                          period=w.option("leaver_cost.period", profile.pay.period),
                                          source=profile.pay.period_source)
                                        + (f"{w.semicolon}{profile.scope}" if profile.scope else ""),
                            ci_low=overall.average_annual_cost_ci_low, ci_high=overall.average_annual_cost_ci_high,
                            people=overall.count)
    elif average_annual_cost is not None:
        annual = AnnualCost(value=average_annual_cost, currency=currency.strip()[:12], origin="given",
                            description=w("leaver_cost.given_basis"))
    elif industry or occupation or region:
        annual = external_wage(load_catalog(job.settings, "wages.yaml"), region=region, industry=industry,
                               occupation=occupation, ownership=ownership, w=w)
    else:
        raise InputError("give a cost basis: a file with pay (path), average_annual_cost, or industry/occupation for "
                         "a public average wage")
    result = leaver_cost(annual, load_catalog(job.settings, "cost_presets.yaml"), cost_preset, leavers, w=w)
    result.notes = notes + result.notes
    figures: dict[str, Any] = {"average annual cost": annual.value}
    for band in result.bands:
        figures[f"cost per leaver ({band.scenario})"] = band.cost_per_leaver
        if band.total is not None:
            figures[f"cost of leavers ({band.scenario})"] = band.total
    return job.output(result, leaver_cost_markdown(result, w.language), figures=figures,
                      definition=w("leaver_cost.definition"))

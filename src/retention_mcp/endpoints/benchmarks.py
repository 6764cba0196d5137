"""Outside figures: compare_benchmarks (a rate beside published turnover figures) and cost_per_leaver (pay from the
file or sourced public wages, times the sourced replacement-cost bands). Catalogs in ``tools/``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from retention_mcp.analysis.benchmarks import BenchmarkResult
from retention_mcp.endpoints.turnover import LanguageArg
from retention_mcp.endpoints.workforce import RATE_HINT, Rate, parse_rate_argument
from retention_mcp.errors import InputError
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job


def _company_rate(job: Job, evidence_id: str, group: str | None, language: str) -> tuple[float, str, int | None,
                                                                                         list[str], str]:
    """(annual rate, measure, year, warnings, source) from a turnover_breakdown result."""
    from retention_mcp.analysis.benchmarks import parse_benchmarks
    from retention_mcp.catalog import load_catalog
    from retention_mcp.workspace.evidence import cited_figures

    figures, record = cited_figures(job.settings, evidence_id, ("turnover_breakdown",))
    words = parse_benchmarks(load_catalog(job.settings, "benchmarks.yaml")).warnings
    lang = "zh" if language == "zh" else "en"
    separation = str((record.arguments or {}).get("separation_type") or "all")
    if separation == "regretted":
        raise InputError("regretted-leaver rates have no published benchmark; compare the all or voluntary rate")
    months = figures.get("period_months")
    warnings: list[str] = []
    if group:
        key = f"rate[{group}]"
        if figures.get(key) is None:
            known = sorted(k[5:-1] for k in figures if k.startswith("rate["))
            raise InputError(f"evidence {record.id} has no rate for {group!r}; groups: {', '.join(known)}")
        rate = float(figures[key])
        label = f"{record.id}, {group}"
        if months and float(months) != 12:
            rate = rate * 12 / float(months)
    else:
        rate = float(figures.get("overall_annualised_rate") or figures["overall_rate"])
        label = f"{record.id}, overall"
    if months and float(months) != 12:
        warnings.append(words["sub_year"][lang].format(months=f"{float(months):g}"))
    if figures.get("period_end") is None:
        warnings.append(words["snapshot"][lang])
    year = int(str(figures["period_end"])[:4]) if figures.get("period_end") else None
    return rate, separation, year, warnings, label


@tool(title="Compare a turnover rate with published benchmarks", result=BenchmarkResult)
def compare_benchmarks(
    job: Job,
    rate: Annotated[Rate | None, Field(description=f"your annual turnover rate; {RATE_HINT}")] = None,
    evidence_id: Annotated[str | None, Field(description="instead of rate: a turnover_breakdown result's "
                                                         "evidence_id (its measure and period are used)")] = None,
    group: Annotated[str | None, Field(description="with evidence_id: a group label of that breakdown "
                                                   "(default: overall)")] = None,
    measure: Annotated[Literal["all", "voluntary", "involuntary", "early"] | None, Field(
        description="which leavers your rate counts (default: all, or the breakdown's separation_type)")] = None,
    region: Annotated[str | None, Field(description="e.g. 'China', '中国', 'US'")] = None,
    industry: Annotated[str | None, Field(description="e.g. 'software', '制造业', 'contact centre', '客服'")] = None,
    year: Annotated[int | None, Field(ge=1990, le=2100, description="year of your rate (default: the breakdown's "
                                                                    "period end)")] = None,
    limit: Annotated[int, Field(ge=1, le=12, description="most figures shown")] = 6,
    language: LanguageArg = None,
) -> ToolOutput:
    """Is our turnover high? Sets your annual rate (a number, or a turnover_breakdown evidence_id) beside the
    closest comparable published figures — same measure (all/voluntary), region, industry, nearest year — each
    converted to an annual basis (US JOLTS monthly-equivalent × 12, shown), with source, URL, year, how firmly it
    was verified, and warnings where definitions differ. Conflicting figures are never shown. Context, not
    targets. Example: {"rate": "29.7%", "region": "China", "industry": "software", "year": 2025}.
    """
    from retention_mcp.analysis.benchmarks import benchmark_markdown, compare, parse_benchmarks
    from retention_mcp.catalog import load_catalog

    language = language or job.settings.language
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
                      definition="annual leavers ÷ average headcount; JOLTS monthly-equivalent rates × 12")

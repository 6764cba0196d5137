"""Turnover tools: inspect_dataset, turnover_breakdown, retention_curve; the retention://metrics resource.

Each tool is a plain function of a :class:`~retention_mcp.runtime.job.Job` and its arguments; the runtime
runs it in a worker process. The arithmetic is in :mod:`retention_mcp.analysis`, imported inside.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from retention_mcp.analysis.survival import CurveResult
from retention_mcp.analysis.turnover import BreakdownResult
from retention_mcp.data.inspect import DatasetSummary
from retention_mcp.runtime import ToolOutput, resource, tool
from retention_mcp.runtime.job import Job
from retention_mcp.settings import Settings

PathArg = Annotated[str | None, Field(description="CSV/XLSX/Parquet file in the data folder (list_datasets), or "
                                      "csv_text")]
CsvTextArg = Annotated[str | None, Field(description="Small table pasted as CSV text (header first), instead of "
                                         "path")]
SheetArg = Annotated[str | None, Field(description="XLSX sheet (default: the first with data)")]
HeaderRowArg = Annotated[int | None, Field(ge=1, le=50, description="1-based row of the column names (default: "
                                           "detected)")]
ColumnMapArg = Annotated[dict[str, str] | None, Field(
    description="{role: column} when detection misses, e.g. {\"hire_date\": \"Start\", \"leaver_flag\": \"Left\"}")]
ShapeArg = Annotated[Literal["event", "snapshot"] | None, Field(
    description="Force 'event' (hire/termination dates) or 'snapshot' (a leaver flag)")]
WhereArg = Annotated[dict[str, Any] | None, Field(
    description="Subgroup filter {column: value or [values]}, e.g. {\"department\": [\"R&D\", \"QA\"]}")]
ByArg = Annotated[list[str] | str | None, Field(
    description="Dimensions: column names or roles, plus the derived 'tenure_band'; several = a cross "
                "breakdown, e.g. [\"department\", \"shift\"]. Empty: overall only")]
BinsArg = Annotated[dict[str, list[float] | int] | None, Field(
    description="Bands for numeric `by` columns: {column: [edges]} or {column: n equal groups} (default 5)")]
MinGroupArg = Annotated[int | None, Field(ge=1, le=1000, description="Suppress groups smaller than this "
                                          "(at least the server's minimum, 5 by default)")]
LanguageArg = Annotated[Literal["en", "zh"] | None, Field(
    description="Language of the text table and definitions: 'en' or 'zh' (中文). Default: the server's language")]

#: Most groups drawn in a turnover chart (the highest rates: rows come sorted by rate).
CHART_MAX_GROUPS = 25
#: Most group curves drawn in a retention chart besides the overall curve (the lowest 12-month retention first).
CHART_MAX_CURVES = 12


def by_list(by: list[str] | str | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [part.strip() for part in by.split(",") if part.strip()]
    return [str(b) for b in by]


def turnover_chart(result: BreakdownResult) -> bytes | None:
    """The rates by group with their intervals and the overall line; None when nothing can be drawn.

    Suppressed groups are never drawn (their rates are hidden)."""
    from retention_mcp.report.charts import turnover_by_group_chart

    shown = [r for r in result.rows if not r.suppressed and r.rate is not None][:CHART_MAX_GROUPS]
    if not shown and not result.overall.suppressed and result.overall.rate is not None:
        shown = [result.overall]  # no `by`: one bar for everyone
    if not shown:
        return None
    months = result.definition.months
    xlabel = (f"Turnover rate over {months:g} months (95% interval)" if months else "Turnover rate (95% interval)")
    title = "Turnover by " + " × ".join(result.by) if result.by else "Turnover"
    if len(shown) < sum(1 for r in result.rows if not r.suppressed):
        title += f" (top {len(shown)})"
    return turnover_by_group_chart([r.label for r in shown], [r.rate for r in shown], [r.ci_low for r in shown],
                                   [r.ci_high for r in shown], overall=result.overall.rate, title=title,
                                   xlabel=xlabel)


def retention_chart(result: CurveResult) -> bytes | None:
    """The Kaplan–Meier curves (overall + groups not suppressed); None when nothing can be drawn."""
    from retention_mcp.report.charts import retention_curves_chart

    series: dict[str, list[tuple[float, float]]] = {}
    for group in [result.overall, *[g for g in result.groups if not g.suppressed][:CHART_MAX_CURVES]]:
        if not group.suppressed and group.curve:
            series[group.label] = group.curve
    if not series:
        return None
    time_label = {"days": "Days since hire", "months": "Months since hire", "years": "Years since hire"}[result.unit]
    title = "Retention (Kaplan–Meier)" + (" by " + " × ".join(result.by) if result.by else "")
    return retention_curves_chart(series, title=title, time_label=time_label)


def with_chart(text: str, png: bytes | None, asked: bool, why_not: str = "") -> tuple[str, list[tuple[bytes, str]]]:
    """The text and image list of a result that may carry a chart (with a note when Chinese labels would
    show as boxes because no CJK font is installed)."""
    if png is not None:
        from retention_mcp.report.charts import cjk_font_status

        if note := cjk_font_status(text):
            text += f"\n\n{note}"
        return text, [(png, "image/png")]
    if asked:
        text += f"\n\nNo chart: {why_not}"
    return text, []


@tool(title="Inspect an HR dataset", result=DatasetSummary)
def inspect_dataset(
    job: Job,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    column_map: ColumnMapArg = None,
    shape: ShapeArg = None,
) -> ToolOutput:
    """Look at an HR file before analysing it: rows and columns, each column's type, detected role (hire date,
    department, leaver flag...), missing values, event data (hire/termination dates) or snapshot (a leaver
    flag), data-quality findings with counts, and suggested `by` dimensions. Values of identifying or free-text
    columns are never shown.

    Call this first on a new file. Example: {"path": "hr_export.xlsx"}; if a role is missed:
    {"path": "hr.csv", "column_map": {"hire_date": "Start"}}.
    """
    from retention_mcp.data.inspect import inspect_dataset as summarise
    from retention_mcp.data.inspect import summary_markdown

    ds, _ = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                        column_map=column_map, shape=shape)
    summary = summarise(ds, job.policy)
    return job.output(summary, summary_markdown(summary),
                      figures={"rows": summary.rows, "columns": summary.columns, "leavers": summary.leavers},
                      definition=f"shape: {summary.shape} ({summary.shape_source})")


@tool(title="Turnover breakdown", result=BreakdownResult)
def turnover_breakdown(
    job: Job,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    by: ByArg = None,
    where: WhereArg = None,
    period_start: Annotated[str | None, Field(description="Event data: first day of the period, e.g. "
                                              "'2024-01-01'. Default: 12 months before period_end")] = None,
    period_end: Annotated[str | None, Field(description="Event data: last day of the period. Default: the "
                                            "latest date in the file")] = None,
    denominator: Annotated[Literal["average", "begin_end", "start"], Field(
        description="Event data headcount: 'average' = mean of month-end headcounts (SHRM, default), "
                    "'begin_end' = (first day + last day) ÷ 2, 'start' = first day")] = "average",
    separation_type: Annotated[Literal["all", "voluntary", "involuntary", "regretted"], Field(
        description="Which leavers count (voluntary/involuntary need a termination-type column)")] = "all",
    min_group_size: MinGroupArg = None,
    bins: BinsArg = None,
    column_map: ColumnMapArg = None,
    shape: ShapeArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    max_rows: Annotated[int, Field(ge=1, le=500, description="Most groups to return")] = 50,
    chart: Annotated[bool, Field(description="Also return a PNG chart of the rates by group")] = False,
    language: LanguageArg = None,
) -> ToolOutput:
    """Turnover rate overall and by group (department, job role, shift, tenure_band, any column; several = a
    cross breakdown), with the definition used. Per group: headcount, leavers, rate, 95% interval, gap to the
    overall rate and to the rest of the population, and whether the group differs from the rest (a test of the
    group against everyone else, Holm-adjusted across the groups); small groups are suppressed.

    Event data (hire + termination dates): separations in the period ÷ headcount (average month-end headcount
    by default; default period: the 12 months ending at the latest date in the file; other lengths are also
    annualised), exact Poisson interval. Snapshot data (a leaver flag): leavers ÷ employees, Wilson interval.
    tenure_band uses year bands when tenure is only recorded in whole years. Rates are fractions (0.138 = 13.8%).

    Example: {"path": "hr.csv", "by": ["department"], "where": {"location": "Shanghai"},
    "period_start": "2024-01-01", "period_end": "2024-12-31", "separation_type": "voluntary"}.
    """
    from retention_mcp.analysis.turnover import breakdown_markdown
    from retention_mcp.analysis.turnover import turnover_breakdown as breakdown

    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, shape=shape,
                            where=where)
    job.progress(0.9, "computing turnover")
    result = breakdown(ds, by=by_list(by), period_start=period_start, period_end=period_end,
                       denominator=denominator, separation_type=separation_type, policy=job.policy,
                       min_group_size=min_group_size, scope=scope, bins=bins, max_rows=max_rows)
    text, images = with_chart(breakdown_markdown(result, language=language or job.settings.language,
                                                 settings=job.settings),
                              turnover_chart(result) if chart else None, chart,
                              "every group is suppressed, so there is no rate to draw.")
    figures: dict[str, Any] = {"overall_rate": result.overall.rate, "overall_leavers": result.overall.leavers,
                               "overall_headcount": result.overall.headcount}
    if result.overall.annualised_rate is not None and result.definition.months != 12:
        figures["overall_annualised_rate"] = result.overall.annualised_rate
    if result.definition.period_end is not None:  # compare_benchmarks reads the period from the evidence
        figures["period_end"] = result.definition.period_end
        figures["period_months"] = result.definition.months
    for row in result.rows[:50]:
        if not row.suppressed:
            figures[f"rate[{row.label}]"] = row.rate
    d = result.definition
    definition = f"{d.formula}; {d.denominator_definition}; interval: {d.interval}; significant: {d.significance}"
    if d.separation_classes:
        definition += f"; leaver types: {d.separation_classes}"
    return job.output(result, text, figures=figures, images=images, definition=definition)


@tool(title="Retention curve (Kaplan–Meier)", result=CurveResult)
def retention_curve(
    job: Job,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    by: Annotated[list[str] | str | None, Field(
        description="Group the curves by these columns (or roles), e.g. [\"department\"]")] = None,
    where: WhereArg = None,
    min_group_size: MinGroupArg = None,
    bins: BinsArg = None,
    time_points: Annotated[list[float] | None, Field(
        description="Times since hire to report retention at, in the data's unit: days for date data (default "
                    "90, 180, 365, 730), months for tenure in months (default 3, 6, 12, 24), years for tenure in "
                    "years (default 1, 2, 3, 5)")] = None,
    column_map: ColumnMapArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    chart: Annotated[bool, Field(description="Also return a PNG of the curves (overall and up to 12 groups); "
                                             "each group then carries its `curve` step points")] = False,
    language: LanguageArg = None,
) -> ToolOutput:
    """How long people stay: Kaplan–Meier retention (share still employed) at 90/180/365/730 days after hire
    (in the tenure column's unit for tenure data; an actuarial life table when tenure is recorded in whole years
    or months), median tenure where reached, early attrition (left within 90 days ÷ hires at least 90 days before
    the as-of date; not reported from tenure recorded in whole years, which cannot show it), and a log-rank test
    of whether the groups' curves differ. People still employed are censored at the latest date in the file.
    Fractions (0.85 = 85%).

    Example: {"path": "hr.csv", "by": ["department"], "where": {"location": "Shanghai"}}.
    """
    from retention_mcp.analysis.survival import MAX_CURVE_POINTS, curve_markdown
    from retention_mcp.analysis.survival import retention_curve as curves

    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, where=where)
    job.progress(0.9, "computing retention curves")
    result = curves(ds, by=by_list(by), policy=job.policy, min_group_size=min_group_size, scope=scope, bins=bins,
                    time_points=time_points, curve_points=MAX_CURVE_POINTS if chart else 0)
    text, images = with_chart(curve_markdown(result, language=language or job.settings.language,
                                             settings=job.settings),
                              retention_chart(result) if chart else None, chart,
                              "every group is suppressed, so there is no curve to draw.")
    figures: dict[str, Any] = {"overall_early_attrition": result.overall.early_attrition,
                               "overall_median_tenure": result.overall.median_tenure, "time_unit": result.unit,
                               "logrank_p": result.logrank_p}
    for point in result.overall.retention:
        figures[f"retention[{point.time:g} {result.unit}]"] = point.retention
    return job.output(result, text, figures=figures, images=images,
                      definition=f"{result.definition.estimator}; {result.definition.source}; "
                                 f"{result.definition.censoring}; early attrition: {result.definition.early_attrition}")


@resource("retention://metrics", name="metrics", title="Metric dictionary",
          description="How every turnover and retention number is defined, with sources", mime_type="application/json")
def metrics(*, settings: Settings, progress: Any) -> str:
    import json

    from retention_mcp.catalog import load_catalog

    return json.dumps(load_catalog(settings, "metrics.yaml"), ensure_ascii=False, indent=1)

"""Turnover tools: inspect_dataset, turnover_breakdown, retention_curve; the retention://metrics resource.

Each tool is a plain function of a :class:`~retention_mcp.runtime.job.Job` and its arguments; the runtime
runs it in a worker process. The arithmetic is in :mod:`retention_mcp.analysis`, imported inside.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from retention_mcp.analysis.survival import CurveResult
from retention_mcp.analysis.turnover import BreakdownResult, Definition
from retention_mcp.data.inspect import DatasetSummary
from retention_mcp.runtime import ToolOutput, resource, tool
from retention_mcp.runtime.job import Job
from retention_mcp.settings import Settings
from retention_mcp.views import tool_meta
from retention_mcp.wording import Words

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
    description="Bands of numeric `by` columns: {column: n} (2-10, default 5); edges come from the data, not lists")]
MinGroupArg = Annotated[int | None, Field(ge=1, le=1000, description="Suppress groups smaller than this "
                                          "(at least the server's minimum, 5 by default)")]
#: The language of every text a tool writes; None = the server's --language (a plan's own, for plan tools). No
#: description and no null in the schema: the name and its two values say it, and 30 tools carry it in every
#: client's tools/list (leaving it out is how a caller gets the default).
LanguageArg = Annotated[Literal["en", "zh"] | None, WithJsonSchema({"type": "string", "enum": ["en", "zh"]})]
def _separation_code(value: object) -> object:
    """A separation kind named in either language (主动离职 …) as its code; anything else as given, for the
    schema's check to refuse with the valid values."""
    from retention_mcp.data.vocabulary import separation_kind

    kind = separation_kind(value) if isinstance(value, str) else None
    return kind if kind not in (None, "other") else value


#: Which leavers count. The schema lists the codes; the Chinese words a tool prints (全部离职, 主动离职, 被动离职,
#: 惋惜离职) are accepted too, without growing every client's tools/list.
SeparationArg = Annotated[Literal["all", "voluntary", "involuntary", "regretted"], BeforeValidator(_separation_code),
                          Field(description="Which leavers count")]

#: Most groups drawn in a turnover chart (the highest rates: rows come sorted by rate).
CHART_MAX_GROUPS = 25
#: Most group curves drawn in a retention chart besides the overall curve (the lowest 12-month retention first).
CHART_MAX_CURVES = 12
#: Most groups whose figures an evidence record keeps (a plan cites the groups it discusses).
MAX_GROUP_FIGURES = 25


def by_list(by: list[str] | str | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [part.strip() for part in by.split(",") if part.strip()]
    return [str(b) for b in by]


def turnover_chart_spec(result: BreakdownResult) -> dict[str, Any] | None:
    """The rates by group with their intervals and the overall line, as a chart spec; None when nothing can be
    drawn. Suppressed groups are never drawn (their rates are hidden)."""
    shown = [r for r in result.rows if not r.suppressed and r.rate is not None][:CHART_MAX_GROUPS]
    if not shown and not result.overall.suppressed and result.overall.rate is not None:
        shown = [result.overall]  # no `by`: one bar for everyone
    if not shown:
        return None
    visible = sum(1 for r in result.rows if not r.suppressed)
    return {"kind": "turnover_by_group",
            "data": {"labels": [r.label for r in shown], "rates": [r.rate for r in shown],
                     "lows": [r.ci_low for r in shown], "highs": [r.ci_high for r in shown],
                     "overall": result.overall.rate},
            "context": {"by": list(result.by), "months": result.definition.months, "shape": result.definition.shape,
                        "top": len(shown) if len(shown) < visible else None}}


def retention_chart_spec(result: CurveResult) -> dict[str, Any] | None:
    """The Kaplan–Meier curves (overall + groups not suppressed) as a chart spec; None when nothing can be drawn."""
    series: dict[str, list[tuple[float, float]]] = {}
    for group in [result.overall, *[g for g in result.groups if not g.suppressed][:CHART_MAX_CURVES]]:
        if not group.suppressed and group.curve:
            series[group.label] = group.curve
    if not series:
        return None
    estimator = result.definition.estimator_name or result.definition.estimator
    return {"kind": "retention_curves", "data": {"series": series},
            "context": {"by": list(result.by), "unit": result.unit, "estimator": estimator}}


def drawn(specs: list[dict[str, Any] | None], asked: bool, language: str) -> tuple[list[dict[str, Any]], bytes | None]:
    """The specs that exist, and the first drawn in ``language`` when a chart was asked for."""
    from retention_mcp.report.charts import draw_spec

    kept = [spec for spec in specs if spec is not None]
    return kept, draw_spec(kept[0], language) if asked and kept else None


def with_chart(text: str, png: bytes | None, asked: bool, why_not: str = "",
               w: Words | None = None) -> tuple[str, list[tuple[bytes, str]]]:
    """The text and image list of a result that may carry a chart (with a note when Chinese labels would
    show as boxes because no CJK font is installed)."""
    if png is not None:
        from retention_mcp.report.charts import cjk_font_status

        if note := cjk_font_status(text):
            text += f"\n\n{note}"
        return text, [(png, "image/png")]
    if asked:
        text += "\n\n" + (w("charts.no_chart", why=why_not) if w is not None else f"No chart: {why_not}")
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
    language: LanguageArg = None,
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

    w = job.words(language)
    ds, _ = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                        column_map=column_map, shape=shape)
    summary = summarise(ds, job.policy, w)
    return job.output(summary, summary_markdown(summary, w=w),
                      figures={"rows": summary.rows, "columns": summary.columns, "leavers": summary.leavers},
                      definition=f"{w('dataset.inspect.shapes.' + summary.shape)}{w.paren(summary.shape_source)}")


@tool(title="Turnover breakdown", result=BreakdownResult, meta=tool_meta("turnover_breakdown"))
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
    separation_type: SeparationArg = "all",
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

    w = job.words(language)
    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, shape=shape,
                            where=where)
    job.progress(0.9, "computing turnover")
    result = breakdown(ds, by=by_list(by), period_start=period_start, period_end=period_end,
                       denominator=denominator, separation_type=separation_type, policy=job.policy,
                       min_group_size=min_group_size, scope=scope, bins=bins, max_rows=max_rows, w=w)
    charts, png = drawn([turnover_chart_spec(result)], chart, w.language)
    text, images = with_chart(breakdown_markdown(result, w=w), png, chart, w("charts.no_chart_suppressed"), w)
    figures, units = breakdown_figures(result)
    d = result.definition
    definition = w.semicolon.join([d.formula, d.denominator_definition,
                                   w("turnover.definition_interval", interval=d.interval),
                                   w("turnover.definition_significant", significance=d.significance)])
    if d.separation_classes:
        definition += w.semicolon + w("turnover.classification", definition=d.separation_classes)
    return job.output(result, text, figures=figures, units=units, images=images, definition=definition,
                      period=definition_period(result.definition, job), charts=charts)


def breakdown_figures(result: BreakdownResult) -> tuple[dict[str, Any], dict[str, str]]:
    """The figures a plan may cite from a breakdown: overall and per shown group, the rate, its 95% interval, the
    annualised rate when the period is not 12 months (what the text table shows), leavers and headcount."""
    figures: dict[str, Any] = {}
    units: dict[str, str] = {}
    annualise = result.definition.months is not None and result.definition.months != 12

    def add(label: str | None, row: Any) -> None:
        name = (lambda key: f"overall_{key}") if label is None else (lambda key: f"{key}[{label}]")
        values = {"rate": (row.rate, "fraction"), "ci_low": (row.ci_low, "fraction"),
                  "ci_high": (row.ci_high, "fraction"), "leavers": (row.leavers, "count"),
                  "headcount": (row.headcount, "count")}
        if annualise:
            values.update(annualised_rate=(row.annualised_rate, "fraction"),
                          annualised_ci_low=(row.annualised_ci_low, "fraction"),
                          annualised_ci_high=(row.annualised_ci_high, "fraction"))
        for key, (value, unit) in values.items():
            if value is not None:
                figures[name(key)], units[name(key)] = value, unit

    add(None, result.overall)
    for row in [r for r in result.rows if not r.suppressed][:MAX_GROUP_FIGURES]:
        add(row.label, row)
    return figures, units


def definition_period(d: Definition, job: Job) -> dict[str, Any]:
    """The period a breakdown (or an impact estimate on its definitions) was computed for, resolved."""
    from retention_mcp.workspace.periods import event_period, snapshot_period

    if d.shape == "event":
        return event_period(d.period_start, d.period_end, d.months, d.period_source)
    return snapshot_period(job.sources())


@tool(title="Retention curve (Kaplan–Meier)", result=CurveResult, meta=tool_meta("retention_curve"))
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
    as_of: Annotated[str | None, Field(description="Date data: follow people up to this date (default: the latest "
                                       "date in the file), e.g. '2025-12-31'")] = None,
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

    w = job.words(language)
    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, where=where)
    job.progress(0.9, "computing retention curves")
    # The curve's points are kept for the evidence's chart spec (plan_export draws it where the result is cited)
    # and the view (sent to clients that render views, in _meta); the structured content carries them only when a
    # chart was asked for.
    result = curves(ds, by=by_list(by), policy=job.policy, min_group_size=min_group_size, scope=scope, bins=bins,
                    time_points=time_points, curve_points=MAX_CURVE_POINTS, w=w, as_of=as_of)
    charts, png = drawn([retention_chart_spec(result)], chart, w.language)
    shown = [result.overall, *[g for g in result.groups if not g.suppressed][:CHART_MAX_CURVES]]
    view = {"curves": {g.label: g.curve for g in shown if not g.suppressed and g.curve}}
    if not chart:
        for group in [result.overall, *result.groups]:
            group.curve = None
    text, images = with_chart(curve_markdown(result, w=w), png, chart, w("charts.no_curve_suppressed"), w)
    figures, units = curve_figures(result)
    from retention_mcp.workspace.periods import as_of_period, snapshot_period

    period = (as_of_period(result.definition.as_of, "given" if as_of else "the latest date in the file")
              if result.definition.as_of else snapshot_period(job.sources()))
    d = result.definition
    output = job.output(result, text, figures=figures, units=units, images=images, period=period, charts=charts,
                        definition=w.semicolon.join([d.estimator, d.source, d.censoring,
                                                     w("retention.early_definition", definition=d.early_attrition)]))
    output.view = view
    return output


def curve_figures(result: CurveResult) -> tuple[dict[str, Any], dict[str, str]]:
    """Overall and per shown group: retention at each time point, median tenure, early attrition; the log-rank p."""
    figures: dict[str, Any] = {"time_unit": result.unit}
    units: dict[str, str] = {"time_unit": "text", "logrank_p": "number"}
    if result.logrank_p is not None:
        figures["logrank_p"] = result.logrank_p
    tenure_unit = result.unit if result.unit in ("days", "months") else "number"
    for group in [result.overall, *[g for g in result.groups if not g.suppressed][:MAX_GROUP_FIGURES]]:
        overall = group is result.overall
        where = "" if overall else f"{group.label}, "
        for point in group.retention:
            if point.retention is not None:
                key = f"retention[{where}{point.time:g} {result.unit}]"
                figures[key], units[key] = point.retention, "fraction"
        for key, value, unit in (("median_tenure", group.median_tenure, tenure_unit),
                                 ("early_attrition", group.early_attrition, "fraction"),
                                 ("people", group.people, "count")):
            if value is not None:
                name = f"overall_{key}" if overall else f"{key}[{group.label}]"
                figures[name], units[name] = value, unit
    return figures, units


@resource("retention://metrics", name="metrics", title="Metric dictionary",
          description="How every turnover and retention number is defined, with sources", mime_type="application/json")
def metrics(*, settings: Settings, progress: Any) -> str:
    import json

    from retention_mcp.catalog import load_catalog

    return json.dumps(load_catalog(settings, "metrics.yaml"), ensure_ascii=False, indent=1)

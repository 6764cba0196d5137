"""``driver_analysis``: which factors go with leaving (or with an engagement score)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from retention_mcp.analysis.drivers import DriverResult
from retention_mcp.endpoints.turnover import (
    ColumnMapArg,
    CsvTextArg,
    HeaderRowArg,
    LanguageArg,
    MinGroupArg,
    PathArg,
    SheetArg,
    WhereArg,
    with_chart,
)
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job


@tool(title="Driver analysis", result=DriverResult)
def driver_analysis(
    job: Job,
    outcome: Annotated[str, Field(description="Outcome: a leaver flag column (1/0, Yes/No, 是/否), 'left' for "
                                              "event data, 'left_within_90_days' (early attrition, event data), or a "
                                              "numeric engagement / satisfaction score")],
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    drivers: Annotated[list[str] | None, Field(
        description="Driver columns (Likert items, hours, counts, categories). Omit to use every usable column "
                    "except the outcome, identifying columns and dates")] = None,
    by: Annotated[str | None, Field(description="Repeat the analysis per group of this column, e.g. "
                                                "'Department'")] = None,
    where: WhereArg = None,
    method: Annotated[Literal["pearson", "spearman"], Field(
        description="pearson: r / point-biserial on raw values; spearman: rank correlation, model on ranks")]
    = "pearson",
    min_group_size: MinGroupArg = None,
    importance_method: Annotated[Literal["auto", "shapley", "relative_weights"], Field(
        description="auto = exact Shapley decomposition of R² up to 12 drivers, Johnson's relative weights "
                    "beyond")] = "auto",
    favourable_cutoff: Annotated[float, Field(gt=0, lt=1, description="Top-box share at or above which a Likert "
                                              "item counts as favourable")] = 0.65,
    column_map: ColumnMapArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    chart: Annotated[bool, Field(description="Also return a PNG chart of the importances")] = False,
    language: LanguageArg = None,
) -> ToolOutput:
    """Which factors go with leaving (or with an engagement score), and which to fix first.

    Per driver: N, effect size (point-biserial / Pearson r, Spearman rho; eta with the rate per level for a
    category), share of the model R² (exact Shapley decomposition: shares sum to R²), direction, favourability of
    Likert items (top-box share) and a priority quadrant (high importance + low favourability = fix first). Also
    model R² with the rows it used out of the rows in scope (a warning when under 80% or uneven across a group;
    automatic selection leaves out drivers too empty to keep 80%), eNPS when a 0-10 'recommend' item exists, and
    an optional per-group breakdown. Associations, not causes. Rates are fractions.
    Example: {"path": "hr.csv", "outcome": "left"} or
    {"path": "survey.csv", "outcome": "engagement", "drivers": ["Q1_manager", "Q2_pay"], "by": "部门"}.
    """
    from retention_mcp.analysis.drivers import analyse_drivers, drivers_markdown

    w = job.words(language)
    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, where=where)
    result = analyse_drivers(ds, outcome, policy=job.policy, scope=scope, drivers=drivers, by=by, method=method,
                             min_group_size=min_group_size, importance_method=importance_method,
                             favourable_cutoff=favourable_cutoff, settings=job.settings, w=w)
    top = result.drivers[:20]
    r2 = f"{result.r_squared:.3f}"
    charts = [{"kind": "driver_importance",
               "data": {"drivers": [d.driver for d in top], "importance": [d.importance_share for d in top],
                        "quadrants": [d.quadrant for d in top],
                        "title": w("charts.drivers_title_outcome", outcome=result.outcome, r2=r2)},
               "context": {"outcome": result.outcome, "r2": r2}}] if top else []
    png = None
    if chart and charts:
        from retention_mcp.report.charts import draw_spec

        png = draw_spec(charts[0], w.language)
    text = drivers_markdown(result, w=w)
    if result.outcome_definition:
        text = f"_{result.outcome_definition}_\n\n{text}"
    text, images = with_chart(text, png, chart, w=w)
    figures = {"r_squared": result.r_squared, "model_rows": result.n, "rows_in_scope": result.rows_in_scope,
               "coverage": result.coverage,
               **{f"importance_share[{d.driver}]": d.importance_share for d in result.drivers[:20]}}
    if result.enps is not None:
        figures["enps"] = result.enps.enps
    return job.output(result, text, figures=figures, images=images, charts=charts,
                      definition=w("drivers.definition", threshold=f"{result.coverage_threshold:.0%}",
                                   rule=result.quadrant_rule))

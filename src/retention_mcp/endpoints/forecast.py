"""The do-nothing forecast tool: forecast_leavers. The model is in :mod:`retention_mcp.analysis.forecast`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from retention_mcp.analysis.forecast import ForecastResult
from retention_mcp.endpoints.turnover import (
    ColumnMapArg,
    CsvTextArg,
    HeaderRowArg,
    LanguageArg,
    MinGroupArg,
    PathArg,
    SheetArg,
    WhereArg,
    by_list,
)
from retention_mcp.runtime import ToolOutput, tool
from retention_mcp.runtime.job import Job


@tool(title="Forecast leavers if nothing changes", result=ForecastResult)
def forecast_leavers(
    job: Job,
    path: PathArg = None,
    csv_text: CsvTextArg = None,
    by: Annotated[list[str] | str | None, Field(description="Groups, e.g. [\"department\"]; empty: everyone")] = None,
    where: WhereArg = None,
    fit_months: Annotated[int, Field(ge=3, le=60, description="Months of history fitted")] = 12,
    forecast_date: Annotated[str | None, Field(description="Default: the file's latest date")] = None,
    separation_type: Annotated[Literal["all", "voluntary", "involuntary", "regretted"], Field(
        description="Which leavers count")] = "all",
    backtest: Annotated[bool, Field(description="Also test on the year before")] = True,
    min_group_size: MinGroupArg = None,
    column_map: ColumnMapArg = None,
    sheet: SheetArg = None,
    header_row: HeaderRowArg = None,
    language: LanguageArg = None,
) -> ToolOutput:
    """If nothing changes: today's people expected to leave in 3/6/12 months per group, 95% intervals, from the
    file's hazard by tenure; backtest on the year before. Needs hire/termination dates. Feeds hiring_forecast
    (evidence_id) and a plan's baseline. Example: {"path": "hr.csv", "by": ["department"]}.
    """
    from retention_mcp.analysis.forecast import HORIZONS, forecast_markdown, leaver_forecast

    ds, scope = job.dataset(path=path, csv_text=csv_text, sheet=sheet, header_row=header_row,
                            column_map=column_map, shape="event", where=where)
    job.progress(0.8, "fitting the hazard and simulating")
    result = leaver_forecast(ds, by=by_list(by), policy=job.policy, scope=scope, min_group_size=min_group_size,
                             horizons=HORIZONS, fit_months=fit_months, forecast_date=forecast_date,
                             separation_type=separation_type, backtest=backtest)
    figures: dict[str, Any] = {"headcount now": result.overall.headcount}
    for row in [result.overall, *result.groups[:20]]:
        if row.headcount is not None:
            figures[f"headcount: {row.label}"] = row.headcount
        for figure in row.horizons:
            figures[f"expected leavers {figure.months} mo: {row.label}"] = figure.expected
            if row is result.overall:
                figures[f"expected leavers {figure.months} mo low"] = figure.low
                figures[f"expected leavers {figure.months} mo high"] = figure.high
    if result.backtest is not None:
        for check in result.backtest.calibration:
            figures[f"backtest {check.months} mo actual ÷ predicted"] = check.ratio
            figures[f"backtest {check.months} mo calibration p"] = check.p_value
    text = forecast_markdown(result, language=language or job.settings.language, settings=job.settings)
    return job.output(result, text, figures=figures, definition=result.method)

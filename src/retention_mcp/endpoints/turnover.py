"""Turnover tools: inspect_dataset, turnover_breakdown, retention_curve; the retention://metrics resource.

Registration only: the work is in ``retention_mcp.data`` and ``retention_mcp.analysis`` (imported
lazily, so the server starts without pandas). Tools are async so they can report progress while a
big file is read; the reading and the arithmetic run in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from retention_mcp.analysis.survival import CurveResult
from retention_mcp.analysis.turnover import BreakdownResult
from retention_mcp.data.inspect import DatasetSummary
from retention_mcp.endpoints._common import READ_ONLY, WRITES_OUTPUT, result_with_chart, tool_result
from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)

PathArg = Annotated[str | None, Field(description="CSV, XLSX or Parquet file inside an allowed data folder "
                                      "(relative paths start from the first folder), e.g. 'hr_export.csv'. "
                                      "Give this or csv_text, not both.")]
CsvTextArg = Annotated[str | None, Field(description="The data itself as CSV text (header row first), "
                                         "for small tables pasted into the chat. Give this or path.")]
SheetArg = Annotated[str | None, Field(description="XLSX only: sheet name (default: the first sheet with data)")]
ColumnMapArg = Annotated[dict[str, str] | None, Field(
    description="Override column detection: {role: column}, e.g. {\"hire_date\": \"Start\", "
                "\"termination_date\": \"Exit\", \"department\": \"Team\", \"leaver_flag\": \"Left\"}. Roles: "
                "employee_id, name, hire_date, termination_date, leaver_flag, termination_type, "
                "termination_reason, regretted, department, job_role, shift, location, manager, tenure_years, "
                "tenure_months, tenure_days, performance, satisfaction, survey_item")]
ShapeArg = Annotated[Literal["event", "snapshot"] | None, Field(
    description="Force the data shape: 'event' (hire/termination dates) or 'snapshot' (a leaver flag). "
                "Default: detected")]
ByArg = Annotated[list[str] | str | None, Field(
    description="Dimensions to break down by: column names (or roles like 'department'), plus the derived "
                "'tenure_band'. Several = a cross breakdown, e.g. [\"department\", \"shift\"]. Empty: overall only")]
BinsArg = Annotated[dict[str, list[float] | int] | None, Field(
    description="Banding for numeric `by` columns: {column: [edges]} (e.g. {\"Age\": [25, 35, 45]}) or "
                "{column: number_of_equal_groups}. Numeric columns with many values get 5 quantile bands")]
MinGroupArg = Annotated[int, Field(ge=1, le=1000, description="Groups with fewer people are suppressed "
                                   "(no counts, no rate); default 5")]

#: Most groups drawn in a turnover chart (the highest rates: rows come sorted by rate).
CHART_MAX_GROUPS = 25
#: Most group curves drawn in a retention chart besides the overall curve (the lowest 12-month retention first).
CHART_MAX_CURVES = 12


def _turnover_chart(settings: Settings, result: Any) -> tuple[bytes, str] | None:
    """Draw and save the turnover-by-group chart; (png, path) or None when nothing can be drawn.

    Suppressed groups are never drawn (their rates are hidden for privacy)."""
    from retention_mcp.report.charts import save_chart, turnover_by_group_chart

    shown = [r for r in result.rows if not r.suppressed and r.rate is not None][:CHART_MAX_GROUPS]
    if not shown and not result.overall.suppressed and result.overall.rate is not None:
        shown = [result.overall]  # no `by`: one bar for everyone
    if not shown:
        return None
    months = result.definition.months
    xlabel = (f"Turnover rate over {months:g} months (Wilson 95% interval)" if months
              else "Turnover rate (Wilson 95% interval)")
    title = "Turnover by " + " × ".join(result.by) if result.by else "Turnover"
    if len(shown) < sum(1 for r in result.rows if not r.suppressed):
        title += f" (top {len(shown)})"
    png = turnover_by_group_chart([r.label for r in shown], [r.rate for r in shown], [r.ci_low for r in shown],
                                  [r.ci_high for r in shown], overall=result.overall.rate, title=title,
                                  xlabel=xlabel)
    stem = "turnover-" + ("-".join(result.by) if result.by else "overall")
    return png, str(save_chart(settings, png, stem))


def _retention_chart(settings: Settings, result: Any) -> tuple[bytes, str] | None:
    """Draw and save the Kaplan–Meier curves (overall + groups not suppressed); None when nothing to draw."""
    from retention_mcp.report.charts import retention_curves_chart, save_chart

    series: dict[str, list[tuple[float, float]]] = {}
    for group in [result.overall, *[g for g in result.groups if not g.suppressed][:CHART_MAX_CURVES]]:
        if not group.suppressed and group.curve:
            series[group.label] = group.curve
    if not series:
        return None
    time_label = "Days since hire" if result.unit == "days" else "Months since hire"
    title = "Retention (Kaplan–Meier)" + (" by " + " × ".join(result.by) if result.by else "")
    png = retention_curves_chart(series, title=title, time_label=time_label)
    stem = "retention-" + ("-".join(result.by) if result.by else "overall")
    return png, str(save_chart(settings, png, stem))


def _loader(settings: Settings, progress: Callable[[float, str], None], **kwargs: Any) -> Any:
    from retention_mcp.data.dataset import load_dataset

    return load_dataset(settings, progress=progress, **kwargs)


async def _run(ctx: Context | None, work: Callable[[Callable[[float, str], None]], Any]) -> Any:
    """Run ``work(progress)`` in a worker thread; ``progress(fraction, message)`` reaches the client."""
    import anyio
    import anyio.from_thread

    def progress(fraction: float, message: str) -> None:
        if ctx is None:
            return
        try:
            anyio.from_thread.run(ctx.report_progress, round(fraction * 100, 1), 100.0, message)
        except Exception:  # progress is best effort: a client without a progress token, a closed stream
            logger.debug("progress notification not sent", exc_info=True)

    def guarded() -> Any:
        try:
            return work(progress)
        except ValueError:
            raise
        except MemoryError:
            raise ValueError("the file is too large to analyse in memory here; filter it to fewer rows or "
                             "columns first") from None
        except Exception as exc:  # never leak a traceback or a bare KeyError as the message
            logger.exception("turnover tool failed")
            raise ValueError(f"the data could not be analysed ({type(exc).__name__}); check the file is a "
                             "table with one header row, or call inspect_dataset to see how it was read") from None

    result = await anyio.to_thread.run_sync(guarded)
    if ctx is not None:
        try:
            await ctx.report_progress(100.0, 100.0, "done")
        except Exception:
            logger.debug("progress notification not sent", exc_info=True)
    return result


def _by_list(by: list[str] | str | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [part.strip() for part in by.split(",") if part.strip()]
    return [str(b) for b in by]


def register(server: Any, settings: Settings) -> None:
    async def inspect_dataset(
        ctx: Context,
        path: PathArg = None,
        csv_text: CsvTextArg = None,
        sheet: SheetArg = None,
        column_map: ColumnMapArg = None,
        shape: ShapeArg = None,
    ) -> Annotated[CallToolResult, DatasetSummary]:
        """Look at an HR file before analysing it: row and column counts, each column's type, detected role
        (hire date, department, leaver flag...) and missing count, whether it is event data (hire and
        termination dates) or a snapshot (a leaver flag), data-quality findings with counts (duplicate IDs,
        termination before hire, future or unparseable dates, unknown flag values) and suggested `by`
        dimensions for turnover_breakdown. Values of identifying or free-text columns are never shown.

        Call this first on a new file. Example: {"path": "hr_export.xlsx"}. If a role is missed, pass
        column_map, e.g. {"path": "hr.csv", "column_map": {"hire_date": "Start"}}.
        """
        from retention_mcp.data.inspect import inspect_dataset as summarise
        from retention_mcp.data.inspect import summary_markdown

        def work(progress: Callable[[float, str], None]) -> DatasetSummary:
            ds = _loader(settings, progress, path=path, csv_text=csv_text, sheet=sheet, column_map=column_map,
                         shape=shape)
            return summarise(ds)

        summary = await _run(ctx, work)
        return tool_result(summary, summary_markdown(summary))

    async def turnover_breakdown(
        ctx: Context,
        path: PathArg = None,
        csv_text: CsvTextArg = None,
        by: ByArg = None,
        period_start: Annotated[str | None, Field(description="Event data: first day of the period, e.g. "
                                                  "'2024-01-01'. Default: 12 months before period_end")] = None,
        period_end: Annotated[str | None, Field(description="Event data: last day of the period, e.g. "
                                                "'2024-12-31'. Default: the latest date in the file")] = None,
        denominator: Annotated[Literal["average", "begin_end", "start"], Field(
            description="Event data headcount: 'average' = mean of month-end headcounts (SHRM, default), "
                        "'begin_end' = (first day + last day) ÷ 2, 'start' = first day")] = "average",
        separation_type: Annotated[Literal["all", "voluntary", "involuntary", "regretted"], Field(
            description="Which leavers count: all (default), voluntary (resigned, 主动离职), involuntary "
                        "(dismissed, 被动离职) or regretted; needs a termination-type / regretted column")] = "all",
        min_group_size: MinGroupArg = 5,
        bins: BinsArg = None,
        column_map: ColumnMapArg = None,
        shape: ShapeArg = None,
        sheet: SheetArg = None,
        max_rows: Annotated[int, Field(ge=1, le=500, description="Most groups to return (default 50)")] = 50,
        chart: Annotated[bool, Field(description="Also draw the rates by group with their intervals and the "
                                                 "overall line (first 25 groups, suppressed groups never drawn): "
                                                 "PNG written to the output folder and returned as an image")]
        = False,
    ) -> Annotated[CallToolResult, BreakdownResult]:
        """Turnover rate overall and by group (department, job role, shift, tenure_band, or any column;
        several = a cross breakdown), with the definition used stated in the answer. Per group: headcount,
        leavers, rate, Wilson 95% interval, gap to the overall rate (percentage points and relative), whether
        the gap is significant (interval excludes the overall rate); groups under min_group_size are suppressed.

        Event data (hire + termination dates): separations in the period ÷ headcount (denominator: average
        month-end headcount by default); the default period is the 12 months ending at the latest date in the
        file; sub-year rates are also annualised (× 12 ÷ months). Snapshot data (a leaver flag such as
        Attrition Yes/No): leavers ÷ employees. Rates are fractions (0.138 = 13.8%).

        Example: {"path": "hr.csv", "by": ["department"], "period_start": "2024-01-01",
        "period_end": "2024-12-31", "separation_type": "voluntary"}. Add "chart": true for a PNG chart.
        """
        from retention_mcp.analysis.turnover import breakdown_markdown
        from retention_mcp.analysis.turnover import turnover_breakdown as breakdown

        def work(progress: Callable[[float, str], None]) -> tuple[BreakdownResult, bytes | None]:
            ds = _loader(settings, progress, path=path, csv_text=csv_text, sheet=sheet, column_map=column_map,
                         shape=shape)
            progress(0.9, "computing turnover")
            result = breakdown(ds, by=_by_list(by), period_start=period_start, period_end=period_end,
                               denominator=denominator, separation_type=separation_type,
                               min_group_size=min_group_size, bins=bins, max_rows=max_rows)
            drawn = _turnover_chart(settings, result) if chart else None
            if drawn:
                result.chart_path = drawn[1]
            return result, drawn[0] if drawn else None

        result, png = await _run(ctx, work)
        return result_with_chart(result, breakdown_markdown(result), png, asked=chart,
                                 no_chart="every group is suppressed, so there is no rate to draw.")

    async def retention_curve(
        ctx: Context,
        path: PathArg = None,
        csv_text: CsvTextArg = None,
        by: Annotated[list[str] | str | None, Field(
            description="Group the curves by these columns (or roles), e.g. [\"department\"]")] = None,
        min_group_size: MinGroupArg = 5,
        bins: BinsArg = None,
        time_points: Annotated[list[float] | None, Field(
            description="Times since hire to report retention at: days for date data (default 90, 180, 365, "
                        "730), months for tenure data (default 3, 6, 12, 24)")] = None,
        column_map: ColumnMapArg = None,
        sheet: SheetArg = None,
        chart: Annotated[bool, Field(description="Also draw the Kaplan–Meier curves (overall and up to 12 groups "
                                                 "that are not suppressed): PNG written to the output folder and "
                                                 "returned as an image; each group then carries its `curve` "
                                                 "step points")] = False,
    ) -> Annotated[CallToolResult, CurveResult]:
        """How long people stay: Kaplan–Meier retention (share still employed) at 90/180/365/730 days after
        hire (3/6/12/24 months for data with a tenure column and a leaver flag), median tenure where reached,
        early attrition (left within 90 days ÷ hires who could have completed 90 days), and a log-rank test
        of whether the groups' curves differ (p < 0.05: they do). People still employed are censored at the
        latest date in the file. Retention values are fractions (0.85 = 85%).

        Example: {"path": "hr.csv", "by": ["department"]}; add "chart": true for a PNG of the curves.
        """
        from retention_mcp.analysis.survival import MAX_CURVE_POINTS, curve_markdown
        from retention_mcp.analysis.survival import retention_curve as curves

        def work(progress: Callable[[float, str], None]) -> tuple[CurveResult, bytes | None]:
            ds = _loader(settings, progress, path=path, csv_text=csv_text, sheet=sheet, column_map=column_map,
                         shape=None)
            progress(0.9, "computing retention curves")
            result = curves(ds, by=_by_list(by), min_group_size=min_group_size, bins=bins, time_points=time_points,
                            curve_points=MAX_CURVE_POINTS if chart else 0)
            drawn = _retention_chart(settings, result) if chart else None
            if drawn:
                result.chart_path = drawn[1]
            return result, drawn[0] if drawn else None

        result, png = await _run(ctx, work)
        return result_with_chart(result, curve_markdown(result), png, asked=chart,
                                 no_chart="every group is suppressed, so there is no curve to draw.")

    server.add_tool(inspect_dataset, title="Inspect an HR dataset", annotations=READ_ONLY)
    # Not read-only: with chart=true they write a new PNG into the output folder (never overwriting).
    server.add_tool(turnover_breakdown, title="Turnover breakdown", annotations=WRITES_OUTPUT)
    server.add_tool(retention_curve, title="Retention curve (Kaplan–Meier)", annotations=WRITES_OUTPUT)

    @server.resource("retention://metrics", name="metrics", title="Metric dictionary",
                     description="How every turnover and retention number is defined, with sources",
                     mime_type="application/json")
    def metrics() -> str:
        import json

        from retention_mcp.catalog import load_catalog

        return json.dumps(load_catalog(settings, "metrics.yaml"), ensure_ascii=False, indent=1)

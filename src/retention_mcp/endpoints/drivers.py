"""Tool registration: ``driver_analysis`` (which factors move turnover or engagement)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import Field

# The output schema needs the result model; the module imports only pydantic at top (pandas lazily).
from retention_mcp.analysis.drivers import DriverResult
from retention_mcp.endpoints._common import WRITES_OUTPUT, result_with_chart
from retention_mcp.settings import Settings

#: Outcome names that mean "did this person leave?" when the file has no such column.
LEAVER_OUTCOMES = {"left", "leaver", "leavers", "attrition", "turnover", "离职"}


def derive_leaver_flag(settings: Settings, df: Any, outcome: str) -> str | None:
    """Event data has termination dates, not a flag: derive ``outcome`` (1 = has a termination date).

    Returns a note for the reader when it did, so the definition is stated.
    """
    if outcome in df.columns or outcome.strip().lower() not in LEAVER_OUTCOMES:
        return None
    from retention_mcp.data.roles import detect_roles, load_roles

    roles = detect_roles(df.columns, load_roles(settings))
    termination = roles.get("termination_date")
    if termination is None:
        return None
    df[outcome] = df[termination].notna() & (df[termination].astype(str).str.strip() != "")
    df[outcome] = df[outcome].astype(int)
    return (f"'{outcome}' derived from {termination!r}: 1 = has a termination date (left at any time in the "
            "file), 0 = still employed")


def register(server: Any, settings: Settings) -> None:
    def driver_analysis(
        outcome: Annotated[str, Field(description="Outcome column: a leaver flag (1/0, Yes/No, 是/否) or a numeric "
                                                  "engagement / satisfaction score, e.g. 'left' or 'Attrition'")],
        path: Annotated[str | None, Field(description="CSV/XLSX file inside an allowed data folder")] = None,
        csv_text: Annotated[str | None, Field(description="Inline CSV instead of path (header row first)")] = None,
        drivers: Annotated[list[str] | None, Field(
            description="Driver columns (numeric Likert items, hours, counts, or categorical). Omit to use every "
                        "numeric / low-cardinality column except the outcome and identifier-like columns")] = None,
        by: Annotated[str | None, Field(description="Optional column to repeat the analysis per group, "
                                                    "e.g. 'Department'")] = None,
        method: Annotated[Literal["pearson", "spearman"], Field(
            description="pearson: r / point-biserial on raw values; spearman: rank correlation, model on ranks")]
        = "pearson",
        min_group_size: Annotated[int, Field(ge=1, description="Groups and levels smaller than this are "
                                                               "suppressed")] = 5,
        importance_method: Annotated[Literal["auto", "shapley", "relative_weights"], Field(
            description="auto = exact Shapley decomposition of R² up to 12 drivers, Johnson's relative weights "
                        "beyond")] = "auto",
        favourable_cutoff: Annotated[float, Field(gt=0, lt=1, description="Favourability (top-box share) at or "
                                                  "above which a Likert item counts as favourable")] = 0.65,
        chart: Annotated[bool, Field(description="Also draw the importance chart: PNG written to the output "
                                                 "folder and returned as an image")] = False,
    ) -> Annotated[CallToolResult, DriverResult]:
        """Which factors go with leaving (or with an engagement score), and which to fix first.

        Per driver: N, effect size (point-biserial / Pearson r, Spearman rho; eta for a categorical
        driver, with the leaver rate per level), relative importance = its share of the model R²
        (exact Shapley decomposition; the shares sum to R²), direction, favourability (top-box share of
        Likert items: 3-4 of 4, 4-5 of 5) and a priority quadrant (high importance + low favourability =
        fix first). Also model R² and N, eNPS when a 0-10 'recommend' item exists, and an optional `by`
        breakdown with small groups suppressed. Associations, not causes. Rates are fractions.
        Example: {"path": "hr.csv", "outcome": "left"} or
        {"path": "survey.csv", "outcome": "engagement", "drivers": ["Q1_manager", "Q2_pay"], "by": "部门"}.
        """
        from numpy.linalg import LinAlgError

        from retention_mcp.analysis.drivers import analyse_drivers, drivers_markdown
        from retention_mcp.data import reader

        df = reader.read_table(settings, path=path, csv_text=csv_text)
        derived_note = derive_leaver_flag(settings, df, outcome)
        try:
            result = analyse_drivers(df, outcome, drivers=drivers, by=by, method=method,
                                     min_group_size=min_group_size, importance_method=importance_method,
                                     favourable_cutoff=favourable_cutoff)
        except (KeyError, TypeError, ArithmeticError, LinAlgError) as exc:
            raise ValueError(f"driver analysis failed on this data ({type(exc).__name__}); check that the outcome "
                             "and drivers are the columns you mean") from None
        png = None
        if chart:
            from retention_mcp.report.charts import driver_importance_chart, save_chart

            top = result.drivers[:20]
            png = driver_importance_chart([d.driver for d in top], [d.importance_share for d in top],
                                          [d.quadrant for d in top],
                                          title=f"Drivers of {result.outcome} (share of R² = {result.r_squared:.3f})")
            result.chart_path = str(save_chart(settings, png, f"drivers-{result.outcome}"))
        text = drivers_markdown(result)
        if derived_note:
            result.outcome_definition = derived_note
            text = f"_{derived_note}_\n\n{text}"
        return result_with_chart(result, text, png, asked=chart)

    # Not read-only: with chart=true it writes a new PNG into the output folder (never overwriting).
    server.add_tool(driver_analysis, title="Driver analysis", annotations=WRITES_OUTPUT)

"""KPI tools: find_kpis, build_kpis, score_kpis, agent_scorecard, and the retention://kpi-catalog resource."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from retention_mcp.analysis import kpi as kpi_analysis
from retention_mcp.analysis import scorecard as scorecard_analysis
from retention_mcp.analysis.kpi import BuildResult, KpiItem, KpiSearchResult, ScoreResult
from retention_mcp.analysis.scorecard import ScorecardResult
from retention_mcp.endpoints._common import READ_ONLY, WRITES_OUTPUT, result_with_chart, tool_result
from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _as_tool_error(work: Callable[[], T]) -> T:
    """Run ``work``; a ValueError (bad input) becomes a ToolError whose message reaches the caller.

    The SDK hides the text of any other exception, so anticipated problems must travel as ToolError.
    """
    try:
        return work()
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    except FileNotFoundError as exc:
        raise ToolError(str(exc)) from None


def _read_contacts(settings: Settings, path: str | None, csv_text: str | None) -> Any:
    import pandas as pd

    from retention_mcp.data.reader import read_table

    if (path is None or not path.strip()) and (csv_text is None or not csv_text.strip()):
        if csv_text is not None:
            raise ValueError("csv_text is empty; paste the CSV with a header row (e.g. Agent,Answered,Resolved,...)")
        raise ValueError("give exactly one of path (a file in the data folder) or csv_text (inline CSV)")
    try:
        return read_table(settings, path=path or None, csv_text=csv_text or None)
    except pd.errors.EmptyDataError:
        raise ValueError("the CSV is empty (no header, no rows); give one row per contact or per agent "
                         "with a header row") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"the CSV could not be parsed ({str(exc).splitlines()[0]}); check the delimiter and "
                         "quoting") from None
    except UnicodeDecodeError:
        raise ValueError("the file is not in a text encoding the reader understands; save it as UTF-8 CSV") from None


def register(server: Any, settings: Settings) -> None:
    def catalog() -> kpi_analysis.KpiCatalog:
        return kpi_analysis.load_kpi_catalog(settings)

    def find_kpis(
        query: Annotated[str, Field(description="words to look for in English or Chinese names, synonyms and "
                                                "definitions, e.g. 'first contact resolution', 'FCR', '离职率'; "
                                                "empty lists everything that passes the filters")] = "",
        domain: Annotated[str | None, Field(description="retention, call_center, rnd, sales or hr_ops")] = None,
        perspective: Annotated[str | None, Field(description="BSC perspective: financial, customer, "
                                                            "internal_process, learning_growth")] = None,
        limit: Annotated[int, Field(description="most matches to return", ge=1, le=100)] = 10,
    ) -> Annotated[CallToolResult, KpiSearchResult]:
        """Search the KPI catalog (57 KPIs: retention, call center, R&D/DORA, sales, HR operations).

        Each match carries id, English and Chinese names, definition, formula, unit, which direction is
        better, BSC perspective, data source, cadence and target bands with the source of each band
        (seeds 000-004 or named industry sources). Use the ids in build_kpis.
        Example: find_kpis(query='首次解决') or find_kpis(domain='call_center', perspective='customer').
        """
        result = _as_tool_error(lambda: kpi_analysis.find_kpis(catalog(), query, domain, perspective, limit))
        return tool_result(result, kpi_analysis.find_kpis_text(result))

    def build_kpis(
        items: Annotated[list[KpiItem], Field(description="the KPIs: catalog ids with baseline/target/weight, "
                                                          "or custom KPIs with name, unit, direction, baseline, "
                                                          "target (and objective for OKR)")],
        framework: Annotated[Literal["bsc", "okr"], Field(description="'bsc' (balanced scorecard: checks the four "
                                                                      "perspectives) or 'okr' (checks objective -> "
                                                                      "key results)")] = "bsc",
        profile: Annotated[str | None, Field(description="'call_center_csat_linked' checks seed 001's weight bands: "
                                                        "customer 40-50%, efficiency 30-40%, quality/attitude "
                                                        "10-20%")] = None,
        deadline: Annotated[str | None, Field(description="due date for every KPI without its own, "
                                                         "YYYY-MM-DD")] = None,
        max_relative_change: Annotated[float, Field(description="flag targets whose |target - baseline| / "
                                                                "|baseline| exceeds this (0.5 = 50%)", gt=0)] = 0.5,
    ) -> Annotated[CallToolResult, BuildResult]:
        """Complete and check a KPI set a manager can adopt.

        Fills definitions, formulas, units, directions, perspectives and target bands from the catalog
        and returns the completed set, findings (severity info / warning / error) and a markdown KPI table.
        Checks: weights (none => equal, said so; given but not summing to 100 => error, never rescaled),
        duplicates, baseline/target numeric and inside the unit's range, target on the right side of the
        baseline, implausible jumps, BSC coverage or OKR structure, SMART per KPI, and with
        profile='call_center_csat_linked' seed 001's weight bands. Percent KPIs take points (75 = 75%).
        Example: items=[{'id': 'fcr', 'baseline': 65, 'target': 75, 'weight': 25}, {'id': 'csat', 'baseline':
        3.8, 'target': 4.2, 'weight': 45}, ...], framework='bsc', deadline='2026-12-31'.
        Pass the returned kpis, with actuals, to score_kpis.
        """
        result = _as_tool_error(lambda: kpi_analysis.build_kpi_set(
            catalog(), items, framework, profile, deadline, max_relative_change))
        return tool_result(result, kpi_analysis.build_text(result))

    def score_kpis(
        kpis: Annotated[list[KpiItem], Field(description="the KPI set with baseline, target and weight (e.g. "
                                                         "build_kpis' kpis); each may carry its actual")],
        actuals: Annotated[dict[str, float | str] | None, Field(
            description="actual values by KPI id or name, e.g. {'fcr': 72, 'aht': 290}")] = None,
        cap: Annotated[float | str, Field(description="upper limit of the capped achievement: 1.2 or '120%'")] = 1.2,
        thresholds: Annotated[dict[str, float | str] | None, Field(
            description="lower bounds of the colours as fractions or percentages, default "
                        "{'green': 1.0, 'yellow': 0.8, 'orange': 0.5}; below orange is red")] = None,
        chart: Annotated[bool, Field(description="Also draw the scorecard (capped achievement per KPI coloured by "
                                                 "status): PNG written to the output folder and returned as an "
                                                 "image")] = False,
    ) -> Annotated[CallToolResult, ScoreResult]:
        """Score a KPI set against actuals: achievement, weighted score and four-colour status.

        Achievement = (actual - baseline) / (target - baseline); it works for lower-is-better KPIs too
        (target below baseline). Reported raw and capped to 0..cap (default 120%), as fractions. The
        weighted score is sum(weight x capped) / sum(weight). Status: green >= 100%, yellow >= 80%,
        orange >= 50%, red below (seed 004's four-colour warning). Seed 004's achievement coefficient
        (target / baseline) is reported alongside under that name. A KPI whose target equals its baseline
        is not scored and says why. Example: kpis=[{'id': 'aht', 'baseline': 320, 'target': 280,
        'weight': 100}], actuals={'aht': 300} -> achievement 50%, orange. Add chart=true for a PNG scorecard.
        """
        result = _as_tool_error(lambda: kpi_analysis.score_kpi_set(catalog(), kpis, actuals, cap, thresholds))
        png = None
        if chart:
            scored = [k for k in result.kpis if k.achievement_capped is not None]
            if scored:
                from retention_mcp.report.charts import kpi_scorecard_chart, save_chart

                title = "KPI scorecard" + (f" — weighted score {result.weighted_score * 100:.1f}%"
                                           if result.weighted_score is not None else "")
                png = kpi_scorecard_chart([k.name for k in scored], [k.achievement_capped for k in scored],
                                          [k.status for k in scored], title=title)
                result.chart_path = str(save_chart(settings, png, "kpi-scorecard"))
        return result_with_chart(result, kpi_analysis.score_text(result), png, asked=chart,
                                 no_chart="no KPI could be scored (each needs an actual and a target unlike its "
                                          "baseline).")

    def agent_scorecard(
        path: Annotated[str | None, Field(description="CSV/XLSX in an allowed data folder: one row per contact "
                                                     "(or per agent)")] = None,
        csv_text: Annotated[str | None, Field(description="inline CSV instead of path")] = None,
        agent_column: Annotated[str | None, Field(description="column with agent names (detected when "
                                                             "omitted, e.g. 'Agent', '坐席')")] = None,
        weights: Annotated[dict[str, float | str] | None, Field(
            description="metric weights, e.g. {'csat': 40, 'resolution_rate': 25, 'aht': 15, 'asa': 10}; keys: "
                        "csat, resolution_rate, aht, asa, compliance, empathy. Default: seed 001's example, "
                        "re-normalised over the metrics present")] = None,
        min_contacts: Annotated[int, Field(description="agents with fewer answered contacts are listed as not "
                                                       "scored", ge=1)] = 30,
        input_shape: Annotated[Literal["auto", "contacts", "agents"], Field(
            description="'contacts' (one row per contact), 'agents' (one row per agent) or 'auto'")] = "auto",
        columns: Annotated[dict[str, str] | None, Field(
            description="role -> column when detection misses: answered, resolved, csat, aht, asa, compliance, "
                        "empathy, contacts")] = None,
    ) -> Annotated[CallToolResult, ScorecardResult]:
        """Call-center agent scorecard linked to customer satisfaction (seed 001).

        Per agent: CSAT mean (1-5), resolution (FCR) rate, AHT (talk seconds; h:mm:ss understood), speed
        of answer, compliance/empathy when present. Unanswered contacts are excluded, and a CSAT of 0 on
        an unanswered call is missing, not zero. Metric scores are min-max normalised 0-100 across agents
        (direction-aware); the weighted total ranks agents into top 20% / middle 60% / bottom 20% with
        seed 001's actions per tier. CSAT linkage: OLS of CSAT on the other metrics (per contact when
        the data is per contact) with standardised coefficients, R², N, p-values and a plain sentence
        per significant metric. Agent names appear (they are the grouping key); no other identifier does.
        Example: agent_scorecard(path='calls.csv', agent_column='Agent', min_contacts=30).
        """
        def work() -> ScorecardResult:
            frame = _read_contacts(settings, path, csv_text)
            return scorecard_analysis.build_scorecard(frame, agent_column, weights, min_contacts, input_shape,
                                                      columns)

        result = _as_tool_error(work)
        return tool_result(result, scorecard_analysis.scorecard_text(result))

    server.add_tool(find_kpis, title="Find KPIs", annotations=READ_ONLY)
    server.add_tool(build_kpis, title="Build and check a KPI set", annotations=READ_ONLY)
    # Not read-only: with chart=true it writes a new PNG into the output folder (never overwriting).
    server.add_tool(score_kpis, title="Score KPIs against actuals", annotations=WRITES_OUTPUT)
    server.add_tool(agent_scorecard, title="Agent scorecard (CSAT-linked)", annotations=READ_ONLY)

    @server.resource("retention://kpi-catalog", mime_type="application/json", title="KPI catalog",
                     description="Every KPI with en/zh names, definition, formula, unit, direction, BSC "
                                 "perspective, domain, data source, cadence and sourced target bands.")
    def kpi_catalog_resource() -> str:
        import json

        from retention_mcp.catalog import load_catalog

        return json.dumps(load_catalog(settings, "kpi_catalog.yaml"), ensure_ascii=False, indent=1)

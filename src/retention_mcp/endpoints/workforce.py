"""Money and call-center workforce tools: calculate_roi, erlang_staffing, schedule_fairness, qa_calibration,
hiring_forecast. Registration only; the math lives in ``retention_mcp.analysis`` (imported lazily)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

# The result models give the tools their output schemas, so they are imported here. These analysis
# modules import only pydantic and the standard library at top (pandas is imported inside functions).
from retention_mcp.analysis.erlang import StaffingResult
from retention_mcp.analysis.fairness import FairnessResult
from retention_mcp.analysis.icc import CalibrationResult
from retention_mcp.analysis.roi import RoiResult
from retention_mcp.analysis.workforce import HiringForecast
from retention_mcp.endpoints._common import READ_ONLY, WRITES_OUTPUT, result_with_chart, tool_result
from retention_mcp.settings import Settings

logger = logging.getLogger(__name__)

Rate = float | str
RATE_HINT = "a fraction (0.126) or a percentage string ('12.6%'); a bare 12.6 is refused as ambiguous"


def _rate(name: str, value: Rate) -> float:
    from retention_mcp.units import parse_rate

    try:
        return parse_rate(value)
    except ValueError as exc:
        example = "" if "%" in str(exc) else " (write e.g. '12.6%' or 0.126)"
        raise ValueError(f"{name}: {exc}{example}") from None


def register(server: Any, settings: Settings) -> None:
    def calculate_roi(
        headcount: Annotated[float, Field(description="employees in the group the program covers, e.g. 200")],
        current_turnover_rate: Annotated[Rate, Field(description=f"annual turnover now; {RATE_HINT}")],
        target_turnover_rate: Annotated[Rate, Field(description=f"annual turnover the program aims for; {RATE_HINT}")],
        average_annual_cost: Annotated[float, Field(
            description="average annual cost per employee (salary, or fully loaded), in one currency, e.g. 60000")],
        replacement_cost_multiplier: Annotated[float | None, Field(
            description="cost of replacing one leaver ÷ average annual cost, e.g. 0.4 (seed 000 customer "
                        "service). Omit to use cost_preset's base value")] = None,
        cost_preset: Annotated[str | None, Field(
            description="role family for the multiplier band: frontline (call center), professional, technical, "
                        "manager, executive. Sets the low/high scenarios; base multiplier unless "
                        "replacement_cost_multiplier is given")] = None,
        program_cost_one_off: Annotated[float, Field(description="one-off program cost at the start "
                                                                 "(systems, design), currency")] = 0.0,
        program_cost_annual: Annotated[float, Field(description="running program cost per year, currency")] = 0.0,
        productivity_gain_fte: Annotated[float, Field(
            description="capacity freed, in full-time equivalents (e.g. 4 for 2% of 200), valued at the average "
                        "annual cost")] = 0.0,
        other_annual_benefits: Annotated[float, Field(
            description="other savings per year, currency (fewer complaints, less rework)")] = 0.0,
        horizon_months: Annotated[int, Field(description="months to total over, 1-120")] = 12,
        benefit_ramp_months: Annotated[float, Field(
            description="months until benefits reach full rate (linear ramp); 0 = full rate from month 1")] = 0.0,
        discount_rate: Annotated[Rate, Field(description=f"annual discount rate for NPV; {RATE_HINT}")] = 0.08,
        currency: Annotated[str, Field(description="currency label for the text, e.g. 'CNY' or 'USD'")] = "",
        chart: Annotated[bool, Field(description="Also draw the low/base/high scenarios (benefit vs cost with "
                                                 "ROI): PNG written to the output folder and returned as an "
                                                 "image")] = False,
    ) -> Annotated[CallToolResult, RoiResult]:
        """Put a defensible number on a retention program: ROI, benefit/cost ratio, payback, NPV, scenarios.

        Use it for the ROI part of a retention plan (the 预期成果 / ROI section of retention_strategy).
        Avoided leavers = headcount × (current − target turnover); retention savings = avoided leavers ×
        replacement_cost_multiplier × average_annual_cost; plus productivity FTEs × average annual cost and
        other annual benefits. Reports `roi` = (benefit − cost) ÷ cost AND `benefit_cost_ratio` = benefit ÷ cost
        (a "3× return" usually means the latter), payback month, NPV, the break-even reduction in percentage
        points, low/base/high scenarios (preset multiplier band × 50/100/120% of the reduction achieved), and a
        ±20% one-at-a-time sensitivity table sorted for a tornado chart. Quote the returned `formula` text.
        Rates: 0.126 or '12.6%'. Money: one currency throughout.
        Example (seed 000, customer service): headcount=200, current_turnover_rate='12.6%',
        target_turnover_rate='10%', average_annual_cost=60000, cost_preset='frontline', program_cost_one_off=80000,
        program_cost_annual=40000, productivity_gain_fte=4, benefit_ramp_months=3 (chart=true adds a PNG).
        """
        from retention_mcp.analysis import roi
        from retention_mcp.catalog import load_catalog

        band = None
        source = "given"
        if cost_preset is not None and cost_preset.strip():
            try:
                presets = load_catalog(settings, "cost_presets.yaml")
            except FileNotFoundError as exc:
                raise ValueError(f"{exc}; pass replacement_cost_multiplier instead (e.g. 0.4)") from None
            key, band = roi.preset_band(presets, cost_preset)
            source = f"preset {key}" if replacement_cost_multiplier is None else f"given (scenario band: preset {key})"
        inputs = roi.build_inputs(
            headcount=headcount, current_turnover_rate=current_turnover_rate, target_turnover_rate=target_turnover_rate,
            average_annual_cost=average_annual_cost, replacement_cost_multiplier=replacement_cost_multiplier,
            band=band, program_cost_one_off=program_cost_one_off, program_cost_annual=program_cost_annual,
            productivity_gain_fte=productivity_gain_fte, other_annual_benefits=other_annual_benefits,
            horizon_months=horizon_months, benefit_ramp_months=benefit_ramp_months, discount_rate=discount_rate,
        )
        result = roi.calculate_roi(inputs, band=band, multiplier_source=source, currency=currency.strip()[:12])
        png = None
        if chart:
            from retention_mcp.report.charts import roi_scenarios_chart, save_chart

            names = [s.name for s in result.scenarios]
            png = roi_scenarios_chart(names, benefit=[s.total_benefit for s in result.scenarios],
                                      cost=[s.total_cost for s in result.scenarios],
                                      title=f"ROI scenarios over {result.horizon_months} months",
                                      currency=result.currency)
            result.chart_path = str(save_chart(settings, png, "roi-scenarios"))
        return result_with_chart(result, roi.roi_text(result), png, asked=chart)

    def erlang_staffing(
        calls: Annotated[float, Field(description="calls offered in one interval, e.g. 100")],
        aht_seconds: Annotated[float, Field(description="average handling time (talk + hold + wrap-up), seconds")],
        interval_minutes: Annotated[float, Field(description="length of the interval the calls arrive in, "
                                                             "minutes")] = 30,
        service_level_target: Annotated[Rate, Field(description=f"share answered within the threshold; "
                                                                f"{RATE_HINT}")] = 0.8,
        answer_within_seconds: Annotated[float, Field(description="the service-level threshold, seconds "
                                                                  "(the 20 of '80/20')")] = 20,
        shrinkage: Annotated[Rate, Field(description="share of paid time not on the phones (breaks, training, "
                                                     f"absence), below 100%; {RATE_HINT}")] = 0.0,
        max_occupancy: Annotated[Rate | None, Field(description="occupancy cap, e.g. '85%'; more agents are added "
                                                                "until A ÷ N is at or below it")] = None,
    ) -> Annotated[CallToolResult, StaffingResult]:
        """Agents needed for a call-center interval by Erlang C, with service level, ASA, occupancy, shrinkage.

        Use it when a plan touches staffing, occupancy or schedules (seed 000's customer-service plan; seed
        004's service-efficiency targets). Traffic A = calls × AHT ÷ interval; required agents = smallest N > A
        with SL = 1 − P(wait)·e^(−(N−A)·t/AHT) ≥ target (and A ÷ N ≤ max_occupancy if given); ASA =
        P(wait)·AHT ÷ (N − A); scheduled headcount = ⌈N ÷ (1 − shrinkage)⌉. Returns a table for N−2 … N+2 so the
        trade-off is visible. Stable for very large traffic (thousands of Erlangs).
        Example: calls=100, interval_minutes=30, aht_seconds=180, service_level_target='80%',
        answer_within_seconds=20, shrinkage='30%' → 14 agents (SL 88.8%, ASA 7.8 s, occupancy 71.4%), 20 scheduled.
        """
        from retention_mcp.analysis import erlang

        result = erlang.erlang_staffing(
            calls=calls, interval_minutes=interval_minutes, aht_seconds=aht_seconds,
            service_level_target=_rate("service_level_target", service_level_target),
            answer_within_seconds=answer_within_seconds, shrinkage=_rate("shrinkage", shrinkage),
            max_occupancy=None if max_occupancy is None else _rate("max_occupancy", max_occupancy),
        )
        return tool_result(result, erlang.staffing_text(result))

    def schedule_fairness(
        path: Annotated[str | None, Field(description="roster file inside an allowed data folder: one row per "
                                                      "shift with agent, date and shift label or start time")] = None,
        csv_text: Annotated[str | None, Field(description="the same roster as inline CSV")] = None,
        agent_counts: Annotated[list[float] | dict[str, float] | None, Field(
            description="instead of a roster: unfavourable shifts per agent, as a list or {agent: count}; "
                        "include agents with 0")] = None,
        agent_column: Annotated[str | None, Field(description="agent column (auto: agent, employee_id, 工号, "
                                                              "坐席, 姓名 …)")] = None,
        date_column: Annotated[str | None, Field(description="shift date column (auto: date, 日期, "
                                                             "排班日期 …)")] = None,
        shift_column: Annotated[str | None, Field(description="shift label column (auto: shift, 班次 …); labels "
                                                              "with night/夜/通宵 or 'N' are nights")] = None,
        start_column: Annotated[str | None, Field(description="shift start time column (auto: start_time, "
                                                              "开始时间 …), e.g. 22:00")] = None,
        holidays: Annotated[list[str] | None, Field(description="public-holiday dates, e.g. ['2024-10-01']")] = None,
        night_from_hour: Annotated[float, Field(description="a shift starting at or after this hour is a night "
                                                            "shift")] = 20,
        night_until_hour: Annotated[float, Field(description="… or before this hour")] = 5,
        night_limit: Annotated[int, Field(description="most consecutive nights allowed (seed 000: 3)")] = 3,
    ) -> Annotated[CallToolResult, FairnessResult]:
        """How evenly night, weekend and holiday shifts fall across agents (seed 000's 排班公平指数).

        Give a roster (path or csv_text: one row per shift) or agent_counts. Returns the population Gini of
        unfavourable shifts per agent (Σ|xi−xj| ÷ 2n²x̄; 0 = perfectly even), the share carried by the top 20%
        of agents, runs of consecutive nights over night_limit and the violation rate (nights beyond the limit ÷
        all nights), each compared with seed 000's targets: Gini ≤ 0.25, violations < 2%. A shift counts as
        unfavourable once even if it is both a night and a weekend. Agent names never appear in the output:
        the per-agent distribution comes back as anonymous sorted counts.
        Example: csv_text="agent,date,shift\\nA01,2024-03-01,night\\nA02,2024-03-01,day\\n…".
        """
        from retention_mcp.analysis import fairness

        given = [name for name, value in (("path", path), ("csv_text", csv_text), ("agent_counts", agent_counts))
                 if value is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of path (a roster file in the data folder), csv_text (inline CSV "
                             f"roster) or agent_counts (per-agent counts); got {', '.join(given) or 'none'}")
        if agent_counts is not None:
            counts = list(agent_counts.values()) if isinstance(agent_counts, dict) else list(agent_counts)
            result = fairness.fairness_from_counts(counts, night_limit=night_limit)
        else:
            from retention_mcp.data import read_table

            try:
                frame = read_table(settings, path=path, csv_text=csv_text)
            except ValueError:
                raise
            except Exception as exc:  # pandas parser errors and the like: rephrase, no traceback
                logger.info("roster could not be read: %r", exc)
                raise ValueError(f"the roster could not be read as a table ({type(exc).__name__}); save it as "
                                 "CSV (UTF-8) or XLSX with one header row") from None
            try:
                result = fairness.fairness_from_roster(
                    frame, agent_column=agent_column, date_column=date_column, shift_column=shift_column,
                    start_column=start_column, holidays=holidays or (), night_from_hour=night_from_hour,
                    night_until_hour=night_until_hour, night_limit=night_limit)
            except ValueError:
                raise
            except Exception as exc:
                logger.info("roster could not be classified: %r", exc)
                raise ValueError(f"the roster's shifts could not be classified ({type(exc).__name__}); check that "
                                 "dates look like 2024-03-05 and start times like 22:00, or name the columns with "
                                 "agent_column / date_column / shift_column / start_column") from None
        return tool_result(result, fairness.fairness_text(result))

    def qa_calibration(
        ratings: Annotated[list[list[float | None]], Field(
            description="items × raters: one row per call/ticket, one column per QA rater, same rater order in "
                        "every row, no gaps, e.g. [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8]]")],
    ) -> Annotated[CallToolResult, CalibrationResult]:
        """Inter-rater agreement of QA scorers: the six Shrout & Fleiss ICC forms, Koo & Li reading, seed target.

        Use it for QA calibration sessions (seed 000: "每两周跨班组校准 … ICC ≥ 0.75"): every rater scores the
        same set of calls. Returns ICC(1,1), ICC(2,1), ICC(3,1) and the k-rater forms ICC(1,k), ICC(2,k),
        ICC(3,k); the headline is ICC(2,1) (absolute agreement of a single rater, raters as a sample), compared
        with the 0.75 target. Koo & Li (2016): < 0.5 poor, 0.5–0.75 moderate, 0.75–0.9 good, > 0.9 excellent.
        Missing ratings are rejected (drop that call or have the rater score it); each rater's mean score shows
        who is harsh or lenient.
        Example: ratings=[[9,2,5,8],[6,1,3,2],[8,4,6,8],[7,1,2,6],[10,5,6,9],[6,2,4,7]] → ICC(2,1) 0.290.
        """
        from retention_mcp.analysis import icc

        result = icc.icc(ratings)
        return tool_result(result, icc.calibration_text(result))

    def hiring_forecast(
        current_headcount: Annotated[int, Field(description="people in the role now, e.g. 100")],
        expected_turnover_rate: Annotated[Rate, Field(description=f"expected turnover over the plan period; "
                                                                  f"{RATE_HINT}")],
        new_positions: Annotated[int, Field(description="positions added by growth, e.g. 10 stores × 5 = 50")] = 0,
        probation_pass_rate: Annotated[Rate, Field(description=f"share of hires expected to pass probation; "
                                                               f"{RATE_HINT}")] = 1.0,
    ) -> Annotated[CallToolResult, HiringForecast]:
        """Hires needed for a period: growth plus expected leavers, grossed up for probation failures.

        hires = ⌈(new_positions + current_headcount × expected_turnover_rate) ÷ probation_pass_rate⌉, with the
        formula shown (seed 003's hiring-forecast pain point). Use the turnover rate for the same period as the
        plan (annual for a one-year plan).
        Example (seed 003's retailer): current_headcount=100, expected_turnover_rate='12%', new_positions=50
        (10 new stores × 5 staff), probation_pass_rate=1 → 62 hires. The seed's text says 60, but
        50 + 100 × 12% = 62: an arithmetic slip in the seed (its company did hire 62).
        """
        from retention_mcp.analysis import workforce

        result = workforce.hiring_forecast(
            current_headcount=current_headcount,
            expected_turnover_rate=_rate("expected_turnover_rate", expected_turnover_rate),
            new_positions=new_positions, probation_pass_rate=_rate("probation_pass_rate", probation_pass_rate),
        )
        return tool_result(result, workforce.hiring_text(result))

    # Not read-only: with chart=true it writes a new PNG into the output folder (never overwriting).
    server.add_tool(calculate_roi, title="Retention program ROI", annotations=WRITES_OUTPUT)
    server.add_tool(erlang_staffing, title="Erlang C staffing", annotations=READ_ONLY)
    server.add_tool(schedule_fairness, title="Schedule fairness (Gini, consecutive nights)", annotations=READ_ONLY)
    server.add_tool(qa_calibration, title="QA calibration (ICC)", annotations=READ_ONLY)
    server.add_tool(hiring_forecast, title="Hiring forecast", annotations=READ_ONLY)
